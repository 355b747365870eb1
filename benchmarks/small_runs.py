"""Fixed cost per run: a sweep of tiny runs, where bookkeeping, not sampling, is the cost.

One tiny target (a 3×3 one-layer DLN, n = 1,000) and ``--runs`` SGLD entries that differ
only in their seed (2 chains × 100 steps each), run by one ``lambda-hat run`` with
``--workers`` workers. From the event stream: each run's time from the worker picking it
up to its publication, the first run of each worker (which also compiles into an empty
cache) listed apart; from analysis.json, where a run's time goes (``timings_sec``).
Then the runs are deleted and redone with the compilation cache warm.

    uv run python benchmarks/small_runs.py [--runs 16] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = """
[models.m]
kind = "dln"
in_dim = 3
widths = []
out_dim = 3
rank = 3
[data.d]
n_data = 1000
[training.t]
init = "teacher"
steps = 0
[[targets]]
model = "m"
data = "d"
training = "t"
seed = 1
"""
SAMPLER = '[[samplers]]\nname = "sgld"\nchains = 2\nburnin = 0\ndraws = 100\nseed = {seed}\n'


def sweep(path: Path, root: Path, workers: int) -> dict:
    events = root.parent / f"events-{time.time_ns()}.jsonl"
    cmd = [sys.executable, "-m", "lambda_hat.cli", "run", str(path), "--root", str(root)]
    start = time.perf_counter()
    cmd += ["--quiet", "--workers", str(workers), "--events", str(events)]
    subprocess.run(cmd, check=True, capture_output=True)
    whole = time.perf_counter() - start
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    started = {e["key"]: (e["time"], e["pid"]) for e in lines if e["event"] == "started"}
    runs, first_of_worker, seen = [], [], set()
    for e in sorted((e for e in lines if e["event"] == "finished"), key=lambda e: e["time"]):
        if e["kind"] != "run":
            continue
        t0, pid = started[e["key"]]
        (first_of_worker if pid not in seen else runs).append(e["time"] - t0)
        seen.add(pid)
    laps: dict[str, list[float]] = {}
    for a in root.glob("targets/*/run_*/analysis.json"):
        for k, v in json.loads(a.read_text())["timings_sec"].items():
            laps.setdefault(k, []).append(v)
    return {
        "whole": whole,
        "runs": runs,
        "first": first_of_worker,
        "laps": {k: statistics.median(v) for k, v in laps.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep.toml"
        path.write_text(TARGET + "".join(SAMPLER.format(seed=s) for s in range(args.runs)))
        root = Path(tmp) / "runs"
        subprocess.run(
            [sys.executable, "-m", "lambda_hat.cli", "run", str(path), "--root", str(root)]
            + ["--only-targets", "--quiet"],
            check=True,
        )
        cold = sweep(path, root, args.workers)
        for folder in root.glob("targets/*/run_*"):
            shutil.rmtree(folder)
        warm = sweep(path, root, args.workers)
    print(f"{args.runs} tiny SGLD runs (2 chains × 100 steps), {args.workers} worker(s)")
    print("| compilation cache | whole command | per run, median (range) | first run per worker |")
    print("|---|---|---|---|")
    for name, r in (("empty", cold), ("warm", warm)):
        per = r["runs"]
        spread = f"{statistics.median(per):.2f} s ({min(per):.2f}–{max(per):.2f})" if per else "-"
        first = ", ".join(f"{v:.2f} s" for v in r["first"])
        print(f"| {name} | {r['whole']:.1f} s | {spread} | {first} |")
    laps = ", ".join(f"{k} {v:.3f} s" for k, v in warm["laps"].items())
    print(f"median timings_sec of a run (warm cache): {laps}")


if __name__ == "__main__":
    main()
