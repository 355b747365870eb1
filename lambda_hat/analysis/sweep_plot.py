"""λ̂ against swept keys: one PNG per target family of an experiments file (no JAX).

A family is the targets of one ``[[targets]]`` preset triple (model/data/training); its
runs are the rows of ``lambda_hat.results`` with their swept keys. One panel per swept
key with two or more values: λ̂ ± 2 MCSE against the key, one line per value of the
other swept keys (with two keys, ε × γ: the picture drawn by hand today). The true λ is
a horizontal line where the family shares one; the runs of an exact sampler (HMC, NUTS)
that no sweep varies are a reference band, mean ± 2 MCSE.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from lambda_hat.analysis.plots import DPI, PNG, _pyplot
from lambda_hat.config.sweeps import label, short

MAX_LINES = 10  # beyond this the legend names the first ones only


def _key(value) -> str:
    return json.dumps(value, sort_keys=True)


def _numeric(values: list) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _exact(name: str) -> bool:
    """Whether sampler ``name`` is asymptotically exact: a sweep's reference."""
    from lambda_hat.samplers.registry import SAMPLERS

    return name in SAMPLERS and SAMPLERS[name].exact


def split_reference(rows: list[dict], keys: list[str]) -> tuple[list[dict], list[dict]]:
    """(swept rows, reference rows): references are exact-sampler runs no sweep varies,
    on a family of one target (across targets, they are lines like the others)."""
    if len({r["target_id"] for r in rows}) > 1:
        return rows, []
    swept, reference = [], []
    for r in rows:
        varied = any(r.get(k) is not None for k in keys if k.startswith("samplers."))
        (reference if _exact(r["sampler"]) and not varied else swept).append(r)
    return swept, reference


def panels(rows: list[dict], keys: list[str]) -> dict[str, dict[str, list[dict]]]:
    """{swept key: {line label: rows sorted along the key}} for keys with ≥ 2 values."""
    out = {}
    for key in keys:
        values = {_key(r.get(key)) for r in rows if key in r}
        if len(values) < 2:
            continue
        lines: dict[tuple, list[dict]] = defaultdict(list)
        for r in rows:
            if key not in r:
                continue
            others = {k: r[k] for k in keys if k != key and k in r}
            order = tuple(
                (not _numeric([v]), v if _numeric([v]) else str(v)) for v in others.values()
            )
            lines[(r["sampler"], order, f"{r['sampler']} {label(others)}".strip())].append(r)
        # lines in the order of their values (1e-05 before 0.0001), named by them
        out[key] = {name: items for (_, _, name), items in sorted(lines.items())}
    return out


def write_sweep(path: Path, rows: list[dict], keys: list[str], title: str) -> Path | None:
    """The family's PNG, or None when no swept key takes two values in ``rows``."""
    swept, reference = split_reference(rows, keys)
    figure = panels(swept, keys)
    if not figure:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(
        1, len(figure), figsize=(6.2 * len(figure), 4.4), squeeze=False, sharey=True
    )
    truths = {r.get("true_llc") for r in rows}
    for ax, (key, lines) in zip(axes[0], figure.items(), strict=True):
        values = list({_key(r[key]): r[key] for r in swept if key in r}.values())
        numeric = _numeric(values)
        order = sorted(values) if numeric else values
        where = {_key(v): (v if numeric else i) for i, v in enumerate(order)}
        for i, (name, items) in enumerate(lines.items()):
            items = sorted(items, key=lambda r: where[_key(r[key])])
            ax.errorbar(
                [where[_key(r[key])] for r in items],
                [r["llc_mean"] for r in items],
                yerr=[2 * (r.get("llc_mcse") or 0.0) for r in items],
                marker="o",
                capsize=3,
                label=name if i < MAX_LINES else None,
            )
        if numeric and min(order) > 0 and max(order) >= 10 * min(order):
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(order)), [str(v) for v in order])
        if len(truths) == 1 and None not in truths:
            ax.axhline(next(iter(truths)), color="k", ls="--", lw=1, label="true λ")
        for ref in reference:
            mean, mcse = ref["llc_mean"], ref.get("llc_mcse") or 0.0
            ax.axhspan(mean - 2 * mcse, mean + 2 * mcse, color="grey", alpha=0.25)
            ax.axhline(mean, color="grey", lw=1, label=f"{ref['sampler']} reference ± 2 MCSE")
        ax.set_xlabel(short(key))
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=7)
    axes[0][0].set_ylabel("λ̂ ± 2 MCSE")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=DPI, pil_kwargs=PNG)
    finally:
        plt.close(fig)
    return path
