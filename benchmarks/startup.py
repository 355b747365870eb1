"""Startup and compile costs: CLI import, and time to first step in a fresh worker.

Measures, each in a fresh ``python`` process:
* importing the CLI and building its parser (what `lambda-hat --help` pays);
* a fresh worker's time to finish a tiny SGLD run: JAX import, compile, first steps —
  with an empty persistent compilation cache, then again with the cache warm.

    uv run python benchmarks/startup.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CLI_IMPORT = "from lambda_hat.cli import build_parser; build_parser()"

FIRST_STEP = textwrap.dedent(
    """
    import sys, time
    t0 = time.perf_counter()
    from lambda_hat.scheduler.worker import init_worker
    init_worker("float32", sys.argv[1], None)
    import jax, math
    t_import = time.perf_counter() - t0
    from lambda_hat.config.specs import *
    from lambda_hat.targets.build import build_target, flat_apply
    from lambda_hat.numerics.loss import make_loss
    from lambda_hat.numerics.posterior import make_posterior
    from lambda_hat.numerics.samplers import sgld
    from lambda_hat.numerics.samplers.driver import Schedule
    m = ModelSpec(kind="dln", in_dim=5, widths=(6,), out_dim=5, activation="identity",
                  bias=False, rank=2)
    spec = TargetSpec(m, DataSpec(n_data=5000), TrainingSpec(init="teacher", steps=0), 42,
                      "float32")
    arrays = build_target(spec)
    apply_flat, _, _ = flat_apply(m, arrays.x.dtype)
    post = make_posterior(make_loss(apply_flat), (arrays.x, arrays.y), arrays.w_star,
                          1 / math.log(5000), 1.0)
    sgld.sample(jax.random.PRNGKey(0), post, SGLDParams(), Schedule(4, 1, 10, 1))
    print(t_import, time.perf_counter() - t0)
    """
)


def timed(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    py = sys.executable
    rows = []
    cli = [timed([py, "-c", CLI_IMPORT])[0] for _ in range(args.repeat)]
    bare = [timed([py, "-c", "pass"])[0] for _ in range(args.repeat)]
    rows.append(("python -c pass (interpreter alone)", statistics.median(bare)))
    rows.append(("import CLI + build parser", statistics.median(cli)))
    with tempfile.TemporaryDirectory() as tmp:
        cold, warm = [], []
        for i in range(args.repeat):
            root = Path(tmp) / f"cold{i}"
            cold.append(timed([py, "-c", FIRST_STEP, str(root)]))
            warm.append(timed([py, "-c", FIRST_STEP, str(root)]))
    imp = statistics.median(float(o.split()[0]) for _, o in cold)
    rows.append(("worker: import jax + init", imp))
    rows.append(
        (
            "worker: first SGLD run done, empty compile cache",
            statistics.median(float(o.split()[1]) for _, o in cold),
        )
    )
    rows.append(
        (
            "worker: first SGLD run done, warm compile cache",
            statistics.median(float(o.split()[1]) for _, o in warm),
        )
    )
    print(f"| what (median of {args.repeat}) | seconds |")
    print("|---|---|")
    for name, sec in rows:
        print(f"| {name} | {sec:.2f} |")


if __name__ == "__main__":
    main()
