"""Diagnostic plots of a run (PNG, Agg backend): trace, rank, running LLC, sampler stats.

Written for every run, so they are made cheap (about 0.1 s a plot rather than 0.5 s):
long traces are drawn as their per-pixel-column min/max envelope (the same picture as
every point, at a few hundred vertices), histograms as one step outline per chain,
margins fixed instead of computed by ``tight_layout``, and PNGs compressed at zlib
level 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DPI = 110
MAX_COLUMNS = 800  # envelope buckets: about one per pixel column of the widest axes
PNG = {"compress_level": 1}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def envelope(values: np.ndarray, columns: int = MAX_COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) tracing the min and max of ``values`` in each of ``columns`` buckets.

    Short series come back unchanged (x = 0, 1, ...); a longer one as 2 points per bucket,
    min then max (or max then min, in the order they occur), at the bucket's centre.
    """
    n = values.size
    if n <= 2 * columns:
        return np.arange(n), values
    edges = np.linspace(0, n, columns + 1).astype(int)
    lo = np.minimum.reduceat(values, edges[:-1])
    hi = np.maximum.reduceat(values, edges[:-1])
    centre = (edges[:-1] + edges[1:] - 1) / 2.0
    return np.repeat(centre, 2), np.stack([lo, hi], axis=1).ravel()


def _save(fig, path: Path, plt) -> None:
    """Write and close the figure (closed also when the write fails: a worker lives on)."""
    try:
        fig.savefig(path, dpi=DPI, pil_kwargs=PNG)
    finally:
        plt.close(fig)


def _title(meta: dict) -> str:
    return (
        f"{meta.get('sampler', '')} on {meta.get('target_id', '')}  (run {meta.get('run_id', '')})"
    )


def plot_trace(path: Path, llc: np.ndarray, meta: dict) -> None:
    """Per-chain llc traces (left) and their histograms (right)."""
    plt = _pyplot()
    fig, (ax_t, ax_h) = plt.subplots(1, 2, figsize=(11, 3.8), width_ratios=[3, 1])
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.14, top=0.84, wspace=0.18)
    edges = np.histogram_bin_edges(llc[np.isfinite(llc)], bins=40)
    for c, chain in enumerate(llc):
        ax_t.plot(*envelope(chain), lw=0.6, alpha=0.8, label=f"chain {c}")
        counts, _ = np.histogram(chain, bins=edges)
        ax_h.stairs(counts, edges, orientation="horizontal", fill=True, alpha=0.45)
    true = meta.get("true_llc")
    for ax in (ax_t, ax_h):
        if true is not None:
            ax.axhline(true, color="k", ls="--", lw=1, label=f"true λ = {true:g}")
    ax_t.set_xlabel("kept draw")
    ax_t.set_ylabel("nβ (L_n(w) − L_n(w*))")
    ax_t.set_title("LLC trace per chain")
    ax_h.set_xlabel("count")
    ax_h.set_title("distribution")
    if len(llc) <= 8:
        ax_t.legend(fontsize=7, ncols=min(len(llc) + 1, 5), loc="upper right")
    fig.suptitle(_title(meta), fontsize=9)
    _save(fig, path, plt)


def plot_rank(path: Path, llc: np.ndarray, meta: dict) -> None:
    """Rank histograms per chain (uniform when chains mix), as in ArviZ's rank plot:
    each chain's draws ranked among all chains', binned, one row of bars per chain."""
    from lambda_hat.analysis.mcmc_stats import average_ranks

    plt = _pyplot()
    chains, draws = llc.shape
    ranks = average_ranks(llc)
    bins = int(max(2, min(50, draws // 10)))
    edges = np.linspace(0.5, llc.size + 0.5, bins + 1)
    counts = np.stack([np.histogram(r, bins=edges)[0] for r in ranks])
    height = 0.9 / max(counts.max(), 1)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.14, top=0.84)
    for c in range(chains):
        ax.stairs(counts[c] * height + c, edges, baseline=c, fill=True, alpha=0.8)
        ax.axhline(c + draws / bins * height, color="k", ls="--", lw=0.7)  # uniform level
    ax.set_yticks(np.arange(chains) + 0.45, [str(c) for c in range(chains)])
    ax.set_title("Rank plot of llc (uniform bars = chains agree)")
    ax.set_xlabel("rank of draw among all chains")
    ax.set_ylabel("chain")
    fig.suptitle(_title(meta), fontsize=9)
    _save(fig, path, plt)


def plot_running(path: Path, llc: np.ndarray, meta: dict, mcse: float | None) -> None:
    """Running mean of llc per chain and pooled, with the final ±2 MCSE band."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.12, top=0.85)
    steps = np.arange(1, llc.shape[1] + 1)
    keep = np.unique(np.linspace(0, steps.size - 1, 2 * MAX_COLUMNS).astype(int))  # smooth
    for c, chain in enumerate(llc):
        running = np.cumsum(chain) / steps
        ax.plot(steps[keep], running[keep], lw=0.8, alpha=0.7, label=f"chain {c}")
    pooled = np.cumsum(llc.mean(axis=0)) / steps
    ax.plot(steps[keep], pooled[keep], color="k", lw=1.6, label="all chains")
    final = float(llc.mean())
    if mcse:
        ax.axhspan(final - 2 * mcse, final + 2 * mcse, color="gray", alpha=0.2, label="±2 MCSE")
    true = meta.get("true_llc")
    if true is not None:
        ax.axhline(true, color="tab:red", ls="--", lw=1.2, label=f"true λ = {true:g}")
    ax.set_xlabel("kept draw")
    ax.set_ylabel("running mean of λ̂")
    ax.set_title(f"Running LLC estimate (final λ̂ = {final:.3g})")
    ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(_title(meta), fontsize=9)
    _save(fig, path, plt)


def plot_stats(path: Path, sample_stats: dict, meta: dict) -> bool:
    """Sampler statistics per draw (acceptance, energy, ...); False when there are none."""
    names = [k for k, v in sample_stats.items() if np.asarray(v).ndim == 2]
    if not names:
        return False
    plt = _pyplot()
    height = 2.4 * len(names)
    fig, axes = plt.subplots(len(names), 1, figsize=(8, height), squeeze=False)
    fig.subplots_adjust(left=0.12, right=0.98, bottom=0.5 / height, top=1 - 0.45 / height)
    for ax, name in zip(axes[:, 0], names, strict=True):
        for c, chain in enumerate(np.asarray(sample_stats[name], dtype=float)):
            ax.plot(*envelope(chain), lw=0.6, alpha=0.8, label=f"chain {c}")
        ax.set_ylabel(name)
    axes[-1, 0].set_xlabel("kept draw")
    fig.suptitle(_title(meta), fontsize=9)
    _save(fig, path, plt)
    return True


def write_all(folder: Path, llc, sample_stats: dict, meta: dict, mcse) -> list[str]:
    """All diagnostic PNGs into ``folder``; returns the file names written."""
    folder.mkdir(parents=True, exist_ok=True)
    plot_trace(folder / "trace.png", llc, meta)
    plot_rank(folder / "rank.png", llc, meta)
    plot_running(folder / "running_llc.png", llc, meta, mcse)
    names = ["trace.png", "rank.png", "running_llc.png"]
    if plot_stats(folder / "sampler_stats.png", sample_stats, meta):
        names.append("sampler_stats.png")
    return names
