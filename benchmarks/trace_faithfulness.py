"""Is the minibatch llc trace a faithful estimate? The same chains, both traces, side by side.

Runs, through ``lambda-hat run``, every SGLD entry of ``experiments/truth.toml`` (plain
and RMSProp) on the truth suite's DLNs, and the quickstart's SGLD entry on its MLP and
DLN, each twice: with the default ``llc_trace = "minibatch"`` (L_B(w) − L_B(w*) + L_n(w*)
from the step's own minibatch) and with ``llc_trace = "full"`` (L_n over all n points at
each draw, the design before). The seed is the same, so both runs follow the same chain
and the difference is the trace alone. Prints one row per target and SGLD entry:
λ̂ ± MCSE for both, their difference in units of the combined MCSE
√(MCSE₁² + MCSE₂²), the true λ where known, and each run's wall time.

    uv run python benchmarks/trace_faithfulness.py [--root DIR] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import tomli_w

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def suite_file(name: str, folder: Path) -> Path:
    """``experiments/<name>.toml`` with only its SGLD entries, each in both trace modes."""
    src = tomllib.loads((EXPERIMENTS / f"{name}.toml").read_text())
    doc = {key: src[key] for key in ("models", "data", "training", "targets") if key in src}
    doc["samplers"] = [
        dict(s, llc_trace=mode)
        for s in src["samplers"]
        if s["name"] == "sgld"
        for mode in ("minibatch", "full")
    ]
    path = folder / f"faithfulness-{name}.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


def table(root: Path) -> list[dict]:
    runs = {}
    for path in root.glob("targets/tgt_*/run_sgld_*/analysis.json"):
        a = json.loads(path.read_text())
        meta = json.loads((path.parents[1] / "meta.json").read_text())
        params = a["spec"]["params"]
        key = (meta["target_id"], params["precond"], params["step_size"], a["thin"])
        runs.setdefault(key, {})[a.get("llc_trace", "full")] = (a, meta)
    rows = []
    for key, pair in sorted(runs.items(), key=lambda kv: kv[1]["full"][1]["dims"]["p"]):
        (mini, meta), (full, _) = pair["minibatch"], pair["full"]
        combined = math.hypot(mini["llc_mcse"], full["llc_mcse"])
        sizes = [meta["model_cfg"]["in_dim"], *meta["model_cfg"]["widths"]]
        sizes.append(meta["model_cfg"]["out_dim"])
        rows.append(
            {
                "target": f"{meta['model_cfg']['kind']} {sizes}",
                "p": meta["dims"]["p"],
                "sgld": "sgld" if key[1] == "none" else f"sgld-{key[1]}",
                "true": meta.get("true_llc"),
                "mini": (mini["llc_mean"], mini["llc_mcse"], mini["walltime_sec"]),
                "full": (full["llc_mean"], full["llc_mcse"], full["walltime_sec"]),
                "z": (mini["llc_mean"] - full["llc_mean"]) / combined,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--root", help="store to use (default: a temporary one)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.root or Path(tmp) / "runs")
        for path in (suite_file("truth", Path(tmp)), suite_file("quickstart", Path(tmp))):
            cmd = [sys.executable, "-m", "lambda_hat.cli", "run", str(path), "--root", str(root)]
            subprocess.run([*cmd, "--quiet", "--workers", str(args.workers)], check=True)
        rows = table(root)
    head = "| target | p | sampler | true λ | minibatch λ̂ ± MCSE | full λ̂ ± MCSE | Δ / MCSE |"
    print(head + " wall s (mini / full) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        true = "" if r["true"] is None else f"{r['true']:g}"
        m, f = r["mini"], r["full"]
        print(
            f"| {r['target']} | {r['p']} | {r['sgld']} | {true} | {m[0]:.2f} ± {m[1]:.2f} | "
            f"{f[0]:.2f} ± {f[1]:.2f} | {r['z']:+.2f} | {m[2]:.1f} / {f[2]:.1f} |"
        )
    worst = max(abs(r["z"]) for r in rows)
    print(f"largest |Δ| / combined MCSE: {worst:.2f} over {len(rows)} pairs")


if __name__ == "__main__":
    main()
