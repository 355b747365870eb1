"""How fast ``lambda-hat tui`` opens on a store of 1,000 runs.

Synthesises a store by hard-linking the committed fixture store's target and run folders
under new IDs (``--targets`` × ``--runs-per-target`` runs, 100 × 10 by default), then, in
a fresh ``python`` process each time (headless, as ``App.run_test`` runs it):

* ``ready``: interpreter start → the targets table filled (imports, app start, reading
  every target's meta.json and counting its runs);
* ``target``: Enter on a target → its runs table filled;
* ``compare``: ``c`` → the compare table filled (reads every analysis.json).

    uv run python benchmarks/tui_startup.py [--repeat 3] [--keep /tmp/store1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "store"

CHILD = r"""
import asyncio, json, sys, time
t0 = time.perf_counter()
from lambda_hat.tui.app import LambdaHatApp
from lambda_hat.tui.widgets.record_table import RecordTable
t_import = time.perf_counter()

async def main():
    app = LambdaHatApp(sys.argv[1], images="none", store_poll_sec=3600)
    out = {"import_s": t_import - t0}
    async with app.run_test(size=(160, 50)) as pilot:
        async def until(pred):
            while not pred():
                await pilot.pause(0.005)
        def filled():
            tables = app.screen.query(RecordTable)
            return bool(tables) and bool(tables.first().records)
        await until(filled)
        out["ready_s"] = time.perf_counter() - t0
        out["targets"] = len(app.screen.query_one(RecordTable).records)
        t1 = time.perf_counter()
        await pilot.press("enter")
        await until(lambda: type(app.screen).__name__ == "TargetScreen"
                    and app.screen.query_one(RecordTable).records)
        out["target_s"] = time.perf_counter() - t1
        await pilot.press("escape")
        t2 = time.perf_counter()
        await pilot.press("c")
        await until(lambda: type(app.screen).__name__ == "CompareScreen"
                    and app.screen.table is not None and app.screen.query(RecordTable))
        out["compare_s"] = time.perf_counter() - t2
        out["runs"] = len(app.screen.table.rows())
    print(json.dumps(out))

asyncio.run(main())
"""


def synthesise(root: Path, targets: int, runs_per_target: int) -> int:
    """A store of ``targets`` targets with ``runs_per_target`` runs each (hard links)."""
    sources = sorted(p for p in (FIXTURE / "targets").glob("tgt_*") if p.is_dir())
    run_sources = [r for t in sources for r in sorted(t.glob("run_*")) if r.is_dir()]
    out = root / "targets"
    out.mkdir(parents=True)
    count = 0
    for i in range(targets):
        src = sources[i % len(sources)]
        dst = out / f"tgt_{i:012x}"
        dst.mkdir()
        for name in ("meta.json", "data.npz", "params.npz"):
            os.link(src / name, dst / name)
        for j in range(runs_per_target):
            run = run_sources[(i + j) % len(run_sources)]
            sampler = run.name.split("_")[1]
            shutil.copytree(run, dst / f"run_{sampler}_{i * 1000 + j:08x}", copy_function=os.link)
            count += 1
    return count


def measure(root: Path) -> dict:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True, check=True
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start  # includes interpreter start and exit
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--runs-per-target", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="build the store here and keep it")
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tui-bench-")) / "s"
    if root.exists():
        shutil.rmtree(root)
    runs = synthesise(root, args.targets, args.runs_per_target)
    print(f"store: {args.targets} targets, {runs} runs at {root}")
    results = [measure(root) for _ in range(args.repeat)]
    for key, label in (
        ("import_s", "import the app (Textual + lambda_hat.tui)"),
        ("ready_s", "interpreter start → targets table filled"),
        ("target_s", "open a target (its runs table)"),
        ("compare_s", f"open compare (reads all {runs} analysis.json)"),
    ):
        values = [r[key] for r in results]
        print(
            f"{label:<52} median {statistics.median(values):.3f} s  "
            f"(min {min(values):.3f}, max {max(values):.3f})"
        )
    if not args.keep:
        shutil.rmtree(root.parent)


if __name__ == "__main__":
    main()
