"""End to end: wall time of `lambda-hat run experiments/quickstart.toml`.

* cold: empty store, empty compilation cache;
* no-op rerun: everything exists (no JAX import);
* runs again with a warm compilation cache: the run folders deleted, targets and the
  store's compilation cache kept.

    uv run python benchmarks/quickstart.py [--workers N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[1] / "experiments" / "quickstart.toml"


def run(root: Path, workers: int | None) -> float:
    args = [
        sys.executable,
        "-m",
        "lambda_hat.cli",
        "run",
        str(QUICKSTART),
        "--root",
        str(root),
        "--quiet",
    ]
    if workers:
        args += ["--workers", str(workers)]
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        cold = run(root, args.workers)
        noop = run(root, args.workers)
        for folder in root.glob("targets/tgt_*/run_*"):
            shutil.rmtree(folder)
        warm = run(root, args.workers)
    print("| quickstart | seconds |")
    print("|---|---|")
    print(f"| cold (empty store and compile cache) | {cold:.1f} |")
    print(f"| no-op rerun | {noop:.2f} |")
    print(f"| runs redone, warm compile cache | {warm:.1f} |")


if __name__ == "__main__":
    main()
