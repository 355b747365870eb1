"""Speed-up of `lambda-hat run --workers 2` over `--workers 1` on the quickstart grid.

Each mode builds experiments/quickstart.toml (2 targets, 2 runs) into a fresh store (so
both start with a cold JAX compilation cache) and the wall time of the whole command is
compared. On a machine shared with other work the figures are noisy; use --repeats.

    uv run python benchmarks/workers_speedup.py [--experiments FILE] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_once(experiments: Path, workers: int) -> float:
    work = Path(tempfile.mkdtemp(prefix=f"lh-w{workers}-"))
    try:
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "lambda_hat.cli",
                "run",
                str(experiments),
                "--root",
                str(work / "store"),
                "--workers",
                str(workers),
                "--quiet",
            ],
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"--workers {workers} failed:\n{proc.stderr}")
        return elapsed
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", type=Path, default=HERE.parent / "experiments/quickstart.toml")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.repeats):
        for workers in (1, 2):  # interleaved, so drifting load hits both alike
            times[workers].append(run_once(args.experiments, workers))
            print(f"--workers {workers}: {times[workers][-1]:.1f}s", flush=True)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"{args.experiments.name} on {cpus} usable CPU(s), {args.repeats} repeat(s):")
    print(f"  --workers 1: {one:.1f}s   --workers 2: {two:.1f}s   speed-up x{one / two:.2f}")


if __name__ == "__main__":
    main()
