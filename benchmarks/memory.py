"""Peak resident memory of a run vs parameters and draws, and the size of trace.nc.

Each configuration runs `lambda-hat run` on a fresh temporary store with one worker.
The peak RSS is the sampling worker's own (``peak_rss_mb`` in analysis.json): the run is
the first task of that worker (targets are built in float64, SGLD runs in float32, so in
another process), so its maximum is the run's.

    uv run python benchmarks/memory.py [--sampler sgld] [--trace-params]

``--trace-params`` also keeps every kept draw's parameter vector (``trace_params = true``),
so trace.nc grows as chains x draws x p; the largest model then keeps only 100 draws.
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
    import sys
    from lambda_hat.cli import main
    sys.exit(main(["run", sys.argv[1], "--root", sys.argv[2], "--workers", "1", "--quiet"]))
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


def measure(h: int, n: int, draws: int, sampler: str, trace_params: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        toml = Path(tmp) / "m.toml"
        extra = "step_size = 1e-6" if sampler == "sgld" else ""
        if trace_params:
            extra += "\ntrace_params = true"
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
            "rss_mb": analysis["peak_rss_mb"],
            "trace_kb": trace.stat().st_size / 1024,
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sampler", default="sgld")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--trace-params", action="store_true", help="keep parameter traces")
    args = ap.parse_args()
    kept = ", parameter traces kept" if args.trace_params else ""
    print(f"sampler {args.sampler}, n = {args.n}, 4 chains{kept}")
    print("| p | draws | peak RSS (MB) | trace.nc (KB) |")
    print("|---|---|---|---|")
    sizes = ((10, 1000), (30, 1000), (100, 1000), (100, 10000), (300, 1000))
    if args.trace_params:
        sizes = ((10, 1000), (30, 1000), (100, 1000), (300, 100))
    for h, draws in sizes:
        row = measure(h, args.n, draws, args.sampler, args.trace_params)
        print(
            f"| {row['p']} | {row['draws']} | {row['rss_mb']:.0f} | {row['trace_kb']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
