"""Overhead of a no-op `lambda-hat run` on a store with 100 completed runs.

Builds one real run (a tiny DLN with SGLD), then synthesises 99 more by copying its
folder under the names of 100 sampler entries (seeds 0..99) of a generated experiments
file, with each copy's analysis.json rewritten to its own spec so the store verifies
clean. The plan must then find all 101 artifacts done; the figure is the wall time of
`lambda-hat run` (a fresh process, as a user would start it) that has nothing to do,
next to the bare interpreter + CLI import time.

    uv run python benchmarks/noop_rerun.py [--runs 100] [--repeats 5] [--keep DIR]
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
[store]
root = "store"

[models.dln]
kind = "dln"
in_dim = 2
widths = [3]
out_dim = 2
rank = 1

[data.d]
n_data = 200
noise_scale = 0.1

[training.teacher]
init = "teacher"
steps = 0

[[targets]]
model = "dln"
data = "d"
training = "teacher"
seed = 1
"""

SAMPLER = '\n[[samplers]]\nname = "sgld"\nstep_size = 1e-4\nchains = 2\ndraws = 50\nseed = {seed}\n'


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "lambda_hat.cli", *map(str, args)]


def synthesise(work: Path, runs: int) -> tuple[Path, Path]:
    """(experiments file with ``runs`` sampler entries, store where all are done)."""
    from lambda_hat.config import load, to_dict
    from lambda_hat.scheduler.plan import make_plan
    from lambda_hat.store import housekeeping
    from lambda_hat.store.ids import run_id
    from lambda_hat.store.layout import Layout

    root = work / "store"
    one = work / "one.toml"
    one.write_text(TARGET + SAMPLER.format(seed=0))
    subprocess.run(cli("run", one, "--root", root, "--quiet"), check=True)
    many = work / "many.toml"
    many.write_text(TARGET + "".join(SAMPLER.format(seed=s) for s in range(runs)))
    plan = make_plan(load(many, root))
    layout = Layout(root)
    source = layout.run_dir(plan.runs[0].target_id, plan.runs[0].dirname)
    for task in plan.runs[1:]:
        dest = layout.run_dir(task.target_id, task.dirname)
        shutil.copytree(source, dest)
        analysis = json.loads((dest / "analysis.json").read_text())
        analysis.update(
            spec=to_dict(task.spec),
            sampler_config=to_dict(task.spec),
            run_id=run_id(task.spec),
            seed=task.spec.seed,
        )
        (dest / "analysis.json").write_text(json.dumps(analysis, indent=2))
    housekeeping.reconcile(root)  # manifest lines for the copies
    check = make_plan(load(many, root)).counts()
    assert check["runs"]["done"] == runs and check["targets"]["done"] == 1, check
    return many, root


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="lh-noop-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        many, root = synthesise(work, args.runs)
        base = [timed([sys.executable, "-c", "import lambda_hat.cli"]) for _ in range(args.repeats)]
        noop = [timed(cli("run", many, "--root", root, "--quiet")) for _ in range(args.repeats)]
        noop1 = [
            timed(cli("run", work / "one.toml", "--root", root, "--quiet"))
            for _ in range(args.repeats)
        ]
        status = [timed(cli("status", many, "--root", root)) for _ in range(args.repeats)]
        from lambda_hat.config import load
        from lambda_hat.scheduler.plan import make_plan

        start = time.perf_counter()
        make_plan(load(many, root))
        plan_ms = 1000 * (time.perf_counter() - start)
        print(f"store: 1 target, {args.runs} runs ({root})")
        print(f"python + import lambda_hat.cli: median {statistics.median(base):.3f}s")
        print(
            f"no-op `lambda-hat run` (plan + sweep + exit): median "
            f"{statistics.median(noop):.3f}s, min {min(noop):.3f}s over {args.repeats}"
        )
        print(f"`lambda-hat status FILE`: median {statistics.median(status):.3f}s")
        print(f"make_plan in-process: {plan_ms:.1f} ms")
        print(
            f"no-op `lambda-hat run` of a 1-run file, same store: median "
            f"{statistics.median(noop1):.3f}s"
        )
        per_run = 1000 * (statistics.median(noop) - statistics.median(noop1)) / (args.runs - 1)
        print(f"marginal cost per done run: {per_run:.2f} ms")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
