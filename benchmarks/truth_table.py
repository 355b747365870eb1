"""The ground-truth tables of a store as Markdown: λ̂ against closed-form λ, and every
sampler against a long NUTS reference of the same finite-n estimand.

    uv run lambda-hat run experiments/truth.toml --root /tmp/truth-store
    uv run python benchmarks/truth_table.py /tmp/truth-store [--write docs/truth.md]

One row per target with a closed-form λ (deep linear networks), ordered by p. The first
table: layer sizes, rank, p, n, true λ, then for each sampler λ̂ ± MCSE, relative error,
total FGEs and wall time (the run's walltime_sec, JIT compilation included). The second:
each sampler against the reference, λ̂ estimates nβ(E_π[L_n] − L_n(w*)) at finite nβ
and γ, so this separates the sampler's error from the estimand's gap to λ: the
difference in combined MCSE and in percent. The reference is the target's NUTS run
with the most kept draws, at least REFERENCE_DRAWS; the ``nuts`` column is its newest
other NUTS run. SGLD runs are labelled by preconditioner, by scheme (``-euler``; the
default Leimkuhler–Matthews has no suffix) and by whether they ran at the defaults
(``-default``: no step, draws or thin written). ``--write`` puts the tables in
a Markdown file (between its markers; docs/truth.md), ``--summary`` the two summaries
alone (between ``dln-summary`` markers; no page has them now: docs/truth.md shows them
with the tables, and the README links there).
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from lambda_hat.store.catalog import Catalog

SAMPLERS = (
    "sgld",
    "sgld-rmsprop",
    "sgld-default",
    "sgld-rmsprop-default",
    "sgld-euler-default",
    "sgld-rmsprop-euler-default",
    "sghmc",
    "hmc",
    "nuts",
    "mclmc",
)
REFERENCE = "nuts-ref"
REFERENCE_DRAWS = 1000  # a NUTS run is the reference only with at least this many draws
BEGIN, END = "<!-- dln:begin -->", "<!-- dln:end -->"
SUMMARY_BEGIN, SUMMARY_END = "<!-- dln-summary:begin -->", "<!-- dln-summary:end -->"


def label(analysis: dict) -> str:
    """Sampler name; for SGLD with its preconditioner, ``-euler`` for the Euler scheme
    (every run stored before the scheme existed) and ``-default`` when it ran with the
    default step, draws and thin (``sgld-rmsprop-euler-default``)."""
    spec = analysis.get("spec", {})
    name = analysis["sampler"]
    if name != "sgld":
        return name
    precond = spec.get("params", {}).get("precond", "none")
    out = name if precond == "none" else f"{name}-{precond}"
    if spec.get("params", {}).get("scheme", "euler") == "euler":
        out = f"{out}-euler"
    auto = (spec.get("params", {}).get("step_size"), spec.get("draws"), spec.get("thin"))
    return f"{out}-default" if auto == ("auto", "auto", "auto") else out


def _fmt_fges(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.1f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def rows(root: Path) -> list[dict]:
    """One dict per truth target: its description, {label: analysis} and the reference."""
    out = []
    for target in Catalog(root).targets():
        meta = target.meta or {}
        if meta.get("true_llc") is None:
            continue
        runs: dict[str, dict] = {}
        nuts = []
        for run in target.runs():
            a = run.analysis
            if a is None:
                continue
            key = label(a)
            if key == "nuts":
                nuts.append(a)
            elif key not in runs or a["created_at"] > runs[key]["created_at"]:
                runs[key] = a
        long = [a for a in nuts if a["draws"] >= REFERENCE_DRAWS]
        ref = max(long, key=lambda a: (a["draws"] * a["chains"], a["created_at"])) if long else None
        if ref is not None:
            runs[REFERENCE] = ref
        others = [a for a in nuts if a is not ref]
        if others:
            runs["nuts"] = max(others, key=lambda a: a["created_at"])
        model = meta["model_cfg"]
        sizes = [model["in_dim"], *model["widths"], model["out_dim"]]
        out.append(
            {
                "name": "[" + ",".join(map(str, sizes)) + f"] r={model.get('rank')}",
                "p": meta["dims"]["p"],
                "n": meta["dims"]["n"],
                "truth": meta["true_llc"],
                "runs": runs,
                "exact": None if model["widths"] else exact_estimand(root, target.target_id, ref),
            }
        )
    return sorted(out, key=lambda r: (r["p"], r["name"]))


def exact_estimand(root: Path, tid: str, ref: dict | None) -> float | None:
    """nβ·E_π[K] in closed form for a one-layer DLN (L_n is quadratic, π Gaussian) at the
    reference run's nβ and γ; None without a reference."""
    if ref is None:
        return None
    import jax
    import jax.numpy as jnp

    from lambda_hat import runner
    from lambda_hat.numerics.loss import make_loss
    from lambda_hat.numerics.quadrature import gaussian_llc
    from lambda_hat.targets.build import flat_apply

    jax.config.update("jax_enable_x64", True)
    meta, data, params = runner.load_target(root, tid)
    spec = runner.target_spec(meta, Catalog(root).layout.target_dir(tid))
    apply_flat, _, _ = flat_apply(spec.model, jnp.float64)
    batch = (jnp.asarray(data["X"], jnp.float64), jnp.asarray(data["Y"], jnp.float64))
    w = jnp.asarray(params["w_star"], jnp.float64)
    loss = make_loss(apply_flat, spec.model.loss)  # the runs' own L_n

    g, h = jax.grad(loss)(w, batch), jax.hessian(loss)(w, batch)
    return gaussian_llc(g, h, ref["n_beta"], ref["localization"])


def _fmt_mcse(x: float) -> str:
    return f"{x:.1f}" if x >= 0.1 else f"{x:.2f}"  # a converged default's is often < 0.05


def _mcse(a: dict) -> float:
    return a.get("llc_mcse") or float("nan")


def against_truth(table: list[dict], samplers) -> str:
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
            covered = abs(a["llc_mean"] - row["truth"]) <= 2 * _mcse(a)
            rel = a.get("relative_error")
            cells += [
                f"{a['llc_mean']:.1f} ± {_fmt_mcse(_mcse(a))}{'' if covered else ' ✗'}",
                f"{rel:+.1%}" if rel is not None else "—",
                _fmt_fges(a["total_fges"]),
                f"{a['walltime_sec']:.0f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "✗: the truth lies outside λ̂ ± 2 MCSE."]
    return "\n".join(lines)


def truth_summary(table: list[dict], samplers) -> str:
    lines = [
        "| sampler | runs | median abs. rel. error | truth within ±2 MCSE | total wall s |",
        "|---|---|---|---|---|",
    ]
    for s in samplers:
        got = [(row["truth"], row["runs"][s]) for row in table if s in row["runs"]]
        if not got:
            continue
        med = statistics.median(abs(a["relative_error"]) for _, a in got)
        cover = sum(abs(a["llc_mean"] - t) <= 2 * _mcse(a) for t, a in got)
        wall = sum(a["walltime_sec"] for _, a in got)
        lines.append(f"| {s} | {len(got)} | {med:.1%} | {cover}/{len(got)} | {wall:.0f} |")
    return "\n".join(lines)


def _vs_reference(row: dict, s: str):
    """(z, relative difference) of sampler ``s`` against the row's reference, or None."""
    a, ref = row["runs"].get(s), row["runs"].get(REFERENCE)
    if a is None or ref is None:
        return None
    z = (a["llc_mean"] - ref["llc_mean"]) / math.hypot(_mcse(a), _mcse(ref))
    return z, a["llc_mean"] / ref["llc_mean"] - 1


def against_reference(table: list[dict], samplers) -> str:
    """Each sampler against the long NUTS run: (λ̂ − ref) in combined MCSE and in %."""
    head = ["target", "p", f"{REFERENCE} λ̂ ± MCSE", "draws", "vs λ", "exact: value, ref z"]
    head += [f"{s}: z, rel." for s in samplers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table:
        ref = row["runs"].get(REFERENCE)
        if ref is None:
            continue
        cells = [
            row["name"],
            str(row["p"]),
            f"{ref['llc_mean']:.2f} ± {_mcse(ref):.2f}",
            f"{ref['chains']}×{ref['draws']}",
            f"{ref['relative_error']:+.1%}",
            "—"
            if row["exact"] is None
            else f"{row['exact']:.2f}, {(ref['llc_mean'] - row['exact']) / _mcse(ref):+.1f}",
        ]
        for s in samplers:
            got = _vs_reference(row, s)
            cells.append(
                "—"
                if got is None
                else f"{got[0]:+.1f}{'' if abs(got[0]) <= 2 else ' ✗'}, {got[1]:+.1%}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "z: (λ̂ − reference) / √(MCSE² + MCSE_ref²); ✗: |z| > 2. exact: nβ·E_π[L_n − L_n(w*)] "
        "in closed form where L_n is quadratic (the one-layer model: π is Gaussian), and "
        "the reference's (λ̂ − exact)/MCSE.",
    ]
    return "\n".join(lines)


def reference_summary(table: list[dict], samplers) -> str:
    lines = [
        "| sampler | runs | reference within ±2 combined MCSE | within 5% | median abs. rel. |",
        "|---|---|---|---|---|",
    ]
    for s in samplers:
        got = [g for g in (_vs_reference(row, s) for row in table) if g is not None]
        if got:
            cover = sum(abs(z) <= 2 for z, _ in got)
            close = sum(abs(r) <= 0.05 for _, r in got)
            med = statistics.median(abs(r) for _, r in got)
            lines.append(
                f"| {s} | {len(got)} | {cover}/{len(got)} | {close}/{len(got)} | {med:.1%} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="store root")
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--write", type=Path, help="put the tables in this Markdown file")
    parser.add_argument("--summary", type=Path, help="put the two summaries in this one")
    args = parser.parse_args(argv)
    table = rows(args.root)
    ran = {s for row in table for s in row["runs"]}
    samplers = tuple(s for s in args.samplers.split(",") if s in ran)  # columns with runs
    with_ref = (*samplers, REFERENCE)
    summaries = [
        "Against the closed-form λ:",
        truth_summary(table, with_ref),
        "Against the long NUTS reference (the same finite-nβ estimand):",
        reference_summary(table, samplers),
    ]
    source = "Generated by `benchmarks/truth_table.py` from the store of `experiments/truth.toml`."
    full = "\n\n".join(
        [
            BEGIN,
            "### Against the closed-form λ",
            against_truth(table, with_ref),
            truth_summary(table, with_ref),
            "### Against the long NUTS reference (the same finite-nβ estimand)",
            against_reference(table, samplers),
            reference_summary(table, samplers),
            source,
            END,
        ]
    )
    print(full)
    from doc_block import write_block

    if args.write:
        write_block(args.write, BEGIN, END, full)
    if args.summary:
        write_block(
            args.summary,
            SUMMARY_BEGIN,
            SUMMARY_END,
            "\n\n".join([SUMMARY_BEGIN, *summaries, source, SUMMARY_END]),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
