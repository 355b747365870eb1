"""Peak resident memory of a run vs parameters and draws, and the size of trace.nc.

Each configuration runs `lambda-hat run` on a fresh temporary store with one worker;
the peak RSS is the largest of the worker processes (``RUSAGE_CHILDREN``), measured in a
separate driver process per configuration so maxima do not carry over.

    uv run python benchmarks/memory.py [--sampler sgld]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

DRIVER = textwrap.dedent(
    """
    import resource, sys
    from lambda_hat.cli import main
    rc = main(["run", sys.argv[1], "--root", sys.argv[2], "--workers", "1", "--quiet"])
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    sys.exit(rc)
    """
)

TOML = """
[models.m]
kind = "dln"
in_dim = {h}
widths = [{h}]
out_dim = {h}
rank = 1

[data.d]
n_data = {n}

[training.t]
init = "teacher"
steps = 0

[[targets]]
model = "m"
data = "d"
training = "t"

[[samplers]]
name = "{sampler}"
chains = 4
draws = {draws}
{extra}
"""


def measure(h: int, n: int, draws: int, sampler: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        toml = Path(tmp) / "m.toml"
        extra = "step_size = 1e-6" if sampler == "sgld" else ""
        toml.write_text(TOML.format(h=h, n=n, draws=draws, sampler=sampler, extra=extra))
        root = Path(tmp) / "runs"
        out = subprocess.run(
            [sys.executable, "-c", DRIVER, str(toml), str(root)], capture_output=True, text=True
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        trace = next(root.glob("targets/tgt_*/run_*/trace.nc"))
        analysis = json.loads((trace.parent / "analysis.json").read_text())
        return {
            "p": analysis["p"],
            "draws": draws,
            "rss_mb": int(out.stdout.split()[-1]) / 1024,
            "trace_kb": trace.stat().st_size / 1024,
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sampler", default="sgld")
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()
    print(f"sampler {args.sampler}, n = {args.n}, 4 chains")
    print("| p | draws | peak RSS (MB) | trace.nc (KB) |")
    print("|---|---|---|---|")
    for h, draws in ((10, 1000), (30, 1000), (100, 1000), (100, 10000), (300, 1000)):
        row = measure(h, args.n, draws, args.sampler)
        print(
            f"| {row['p']} | {row['draws']} | {row['rss_mb']:.0f} | {row['trace_kb']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
