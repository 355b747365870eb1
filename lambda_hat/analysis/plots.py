"""Diagnostic plots of a run (PNG, Agg backend): trace, rank, running LLC, sampler stats."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _title(meta: dict) -> str:
    return (
        f"{meta.get('sampler', '')} on {meta.get('target_id', '')}  (run {meta.get('run_id', '')})"
    )


def plot_trace(path: Path, llc: np.ndarray, meta: dict) -> None:
    """Per-chain llc traces (left) and their histograms (right)."""
    plt = _pyplot()
    fig, (ax_t, ax_h) = plt.subplots(1, 2, figsize=(11, 3.8), width_ratios=[3, 1])
    for c, chain in enumerate(llc):
        ax_t.plot(chain, lw=0.6, alpha=0.8, label=f"chain {c}")
        ax_h.hist(chain, bins=40, alpha=0.45, orientation="horizontal")
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_rank(path: Path, llc: np.ndarray, meta: dict) -> None:
    """Rank histograms per chain (uniform when chains mix)."""
    plt = _pyplot()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

        fig, ax = plt.subplots(figsize=(7, 3.8))
        az.plot_rank({"llc": llc}, var_names=["llc"], ax=ax)
    ax.set_title("Rank plot of llc (uniform bars = chains agree)")
    ax.set_xlabel("rank of draw among all chains")
    ax.set_ylabel("chain")
    fig.suptitle(_title(meta), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_running(path: Path, llc: np.ndarray, meta: dict, mcse: float | None) -> None:
    """Running mean of llc per chain and pooled, with the final ±2 MCSE band."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    steps = np.arange(1, llc.shape[1] + 1)
    for c, chain in enumerate(llc):
        ax.plot(steps, np.cumsum(chain) / steps, lw=0.8, alpha=0.7, label=f"chain {c}")
    pooled = np.cumsum(llc.mean(axis=0)) / steps
    ax.plot(steps, pooled, color="k", lw=1.6, label="all chains")
    final = float(llc.mean())
    if mcse:
        ax.axhspan(final - 2 * mcse, final + 2 * mcse, color="gray", alpha=0.2, label="±2 MCSE")
    true = meta.get("true_llc")
    if true is not None:
        ax.axhline(true, color="tab:red", ls="--", lw=1.2, label=f"true λ = {true:g}")
    ax.set_xlabel("kept draw")
    ax.set_ylabel("running mean of λ̂")
    ax.set_title(f"Running LLC estimate (final λ̂ = {final:.3g})")
    ax.legend(fontsize=7, loc="best")
    fig.suptitle(_title(meta), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_stats(path: Path, sample_stats: dict, meta: dict) -> bool:
    """Sampler statistics per draw (acceptance, energy, ...); False when there are none."""
    names = [k for k, v in sample_stats.items() if np.asarray(v).ndim == 2]
    if not names:
        return False
    plt = _pyplot()
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.4 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        for c, chain in enumerate(np.asarray(sample_stats[name], dtype=float)):
            ax.plot(chain, lw=0.6, alpha=0.8, label=f"chain {c}")
        ax.set_ylabel(name)
    axes[-1, 0].set_xlabel("kept draw")
    fig.suptitle(_title(meta), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
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
