"""Print the ground-truth table of a store as Markdown.

    uv run python benchmarks/truth_table.py /tmp/truth-store [--samplers sgld,hmc,nuts,mclmc]

One row per target with a closed-form λ (deep linear networks), ordered by p: the layer
sizes, rank, p, n, true λ, then for each sampler λ̂ ± MCSE, relative error, total FGEs and
wall time (the run's walltime_sec, which includes JIT compilation). Below the table: the
median absolute relative error per sampler and how often ±2 MCSE covers the truth. When a
target has several runs of one sampler (SGLD counted per preconditioner), the newest is
shown.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from lambda_hat.store.catalog import Catalog

DEFAULT_SAMPLERS = ("sgld", "sgld-rmsprop", "hmc", "nuts", "mclmc")


def label(analysis: dict) -> str:
    """Sampler name, with SGLD's preconditioner when it has one (``sgld-rmsprop``)."""
    name = analysis["sampler"]
    precond = analysis.get("spec", {}).get("params", {}).get("precond", "none")
    return f"{name}-{precond}" if name == "sgld" and precond != "none" else name


def _fmt_fges(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.1f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def rows(root: Path, samplers) -> list[dict]:
    """One dict per truth target: its description and {sampler: analysis}."""
    out = []
    for target in Catalog(root).targets():
        meta = target.meta or {}
        if meta.get("true_llc") is None:
            continue
        runs: dict[str, dict] = {}
        for run in target.runs():
            a = run.analysis
            if a is None or label(a) not in samplers:
                continue
            key = label(a)
            if key not in runs or a["created_at"] > runs[key]["created_at"]:
                runs[key] = a
        model = meta["model_cfg"]
        sizes = [model["in_dim"], *model["widths"], model["out_dim"]]
        out.append(
            {
                "name": "[" + ",".join(map(str, sizes)) + f"] r={model.get('rank')}",
                "p": meta["dims"]["p"],
                "n": meta["dims"]["n"],
                "truth": meta["true_llc"],
                "runs": runs,
            }
        )
    return sorted(out, key=lambda r: (r["p"], r["name"]))


def markdown(table: list[dict], samplers) -> str:
    head = ["target (layer sizes, rank)", "p", "n", "true λ"]
    for s in samplers:
        head += [f"{s} λ̂ ± MCSE", "rel. err", "FGEs", "wall s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table:
        cells = [row["name"], str(row["p"]), str(row["n"]), f"{row['truth']:g}"]
        for s in samplers:
            a = row["runs"].get(s)
            if a is None:
                cells += ["—"] * 4
                continue
            mcse = a.get("llc_mcse") or float("nan")
            rel = a.get("relative_error")
            covered = abs(a["llc_mean"] - row["truth"]) <= 2 * mcse
            mark = "" if covered else " ✗"
            cells += [
                f"{a['llc_mean']:.1f} ± {mcse:.1f}{mark}",
                f"{rel:+.1%}" if rel is not None else "—",
                _fmt_fges(a["total_fges"]),
                f"{a['walltime_sec']:.0f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("✗: the truth lies outside λ̂ ± 2 MCSE.")
    lines.append("")
    lines.append(
        "| sampler | runs | median abs. rel. error | truth within ±2 MCSE | total wall s |"
    )
    lines.append("|---|---|---|---|---|")
    for s in samplers:
        got = [(row["truth"], row["runs"][s]) for row in table if s in row["runs"]]
        if not got:
            continue
        med = statistics.median(abs(a["relative_error"]) for _, a in got)
        cover = sum(abs(a["llc_mean"] - t) <= 2 * (a.get("llc_mcse") or 0) for t, a in got)
        wall = sum(a["walltime_sec"] for _, a in got)
        lines.append(f"| {s} | {len(got)} | {med:.1%} | {cover}/{len(got)} | {wall:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="store root")
    parser.add_argument("--samplers", default=",".join(DEFAULT_SAMPLERS))
    args = parser.parse_args(argv)
    samplers = tuple(s for s in args.samplers.split(",") if s)
    print(markdown(rows(args.root, samplers), samplers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
