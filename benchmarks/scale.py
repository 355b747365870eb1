"""Cost against size: SGLD on deep linear networks from 1k to 1M parameters.

For each DLN (w* = the teacher, n = 10,000, rank about a tenth of the width) one
``lambda-hat run`` of SGLD at a fixed budget: 4 chains × (1,000 burn-in + 1,000 draws)
of one step each (``thin = 1``; the default ``"auto"`` thin and draws would make the
budget depend on the target, and this measures cost per step), batch 256, γ = 1,
nβ = n / log n, the minibatch trace, and the step 3e-5 (the default before
``step_size = "auto"``; ``--step auto`` or a number to change it). Reported per size:
wall time of the run (picked up → published), the worker's peak memory, FGEs, λ̂ ± MCSE
against the closed-form λ, and the cost per parameter-step (wall / (p × chains ×
steps)), which is flat when the cost is linear in p × steps. Writes a log–log PNG of
wall time against p when ``--plot`` is given.

    uv run python benchmarks/scale.py [--sizes 1k 10k 100k 1m] [--plot benchmarks/scale.png]
    uv run python benchmarks/scale.py --sizes 100k 1m --step auto     # the curvature rule
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {  # name: (in, widths, out, rank)
    "1k": (16, [32], 16, 2),
    "10k": (50, [100], 50, 5),
    "100k": (160, [300], 160, 16),
    "1m": (500, [1000], 500, 50),
}
N = 10_000

EXPERIMENTS = """
[models.dln]
kind = "dln"
in_dim = {i}
widths = {w}
out_dim = {o}
rank = {r}
[data.d]
n_data = {n}
[training.teacher]
init = "teacher"
steps = 0
[[targets]]
model = "dln"
data = "d"
training = "teacher"
seed = 0
[[samplers]]
name = "sgld"
draws = 1000
burnin = 1000
thin = 1
{extra}"""


def _step(text: str):
    return text if text == "auto" else float(text)


def measure(name: str, folder: Path, step: float | None = None) -> dict:
    i, w, o, r = SIZES[name]
    path = folder / f"scale-{name}.toml"
    extra = f"step_size = {step!r}\n" if step else "step_size = 3e-5\n"
    path.write_text(EXPERIMENTS.format(i=i, w=w, o=o, r=r, n=N, extra=extra))
    root = folder / f"runs-{name}"
    events = folder / f"events-{name}.jsonl"
    cmd = [sys.executable, "-m", "lambda_hat.cli", "run", str(path), "--root", str(root)]
    subprocess.run([*cmd, "--only-targets", "--quiet"], check=True)
    start = time.perf_counter()
    subprocess.run([*cmd, "--quiet", "--events", str(events)], check=True)
    whole = time.perf_counter() - start
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    started = {e["key"]: e["time"] for e in lines if e["event"] == "started"}
    (done,) = [e for e in lines if e["event"] == "finished" and e["kind"] == "run"]
    a = json.loads(next(root.glob("targets/*/run_*/analysis.json")).read_text())
    steps = a["burnin"] + a["draws"] * a["thin"]
    run = done["time"] - started[done["key"]]
    return {
        "name": name,
        "p": a["p"],
        "run": run,
        "whole": whole,
        "rss": a["peak_rss_mb"],
        "fges": a["total_fges"],
        "llc": a["llc_mean"],
        "mcse": a["llc_mcse"],
        "true": a["true_llc"],
        "ns": 1e9 * a["timings_sec"]["sample"] / (a["p"] * a["chains"] * steps),
        "warnings": len(a["warnings"]),
    }


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = [r["p"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(p, [r["run"] for r in rows], "o-", label="run: picked up → published")
    ref = rows[-1]["run"] / rows[-1]["p"]
    ax.loglog(p, [ref * v for v in p], "k--", lw=0.8, label="linear in p")
    ax.set_xlabel("parameters p")
    ax.set_ylabel("seconds")
    ax.set_title(f"SGLD on DLNs, n = {N}, 4 chains × 2,000 steps")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--step", type=_step, help="SGLD step size or 'auto' (default 3e-5)")
    args = ap.parse_args()
    rows = []
    print("| DLN | p | run s | peak RSS MB | FGEs | λ̂ ± MCSE | true λ | rel. err | ns/param-step |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sizes:
            r = measure(name, Path(tmp), args.step)
            rows.append(r)
            i, w, o, rank = SIZES[name]
            err = (r["llc"] - r["true"]) / r["true"]
            print(
                f"| {[i, *w, o]} r={rank} | {r['p']:,} | {r['run']:.1f} | {r['rss']:.0f} | "
                f"{r['fges']:.0f} | {r['llc']:.1f} ± {r['mcse']:.1f} | {r['true']:g} | "
                f"{err:+.1%} | {r['ns']:.2f} |",
                flush=True,
            )
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
