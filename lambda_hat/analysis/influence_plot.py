"""A picture of a run's observed losses: the loss-kernel correlations between probe
entries (the strongest pairs marked) and each entry's susceptibility, drawn per
position for sequences (rows × T) so a token's response reads off its place."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lambda_hat.analysis.plots import DPI, PNG, _pyplot

MAX_ENTRIES = 200  # entries drawn in the correlation panel (the first ones)


def top_pairs(value: np.ndarray, k: int, symmetric: bool) -> list[tuple[int, int]]:
    """The ``k`` (i, j) of largest |value|, each unordered pair once and no diagonal
    when ``symmetric``; strongest first."""
    magnitude = np.abs(value).astype(float)
    if symmetric:
        magnitude = np.where(np.triu(np.ones_like(magnitude, bool), 1), magnitude, -np.inf)
    order = np.argsort(magnitude, axis=None)[::-1][:k]
    pairs = [tuple(int(v) for v in np.unravel_index(o, value.shape)) for o in order]
    return [p for p in pairs if np.isfinite(magnitude[p])]


def write_influence(
    path: Path,
    corr: np.ndarray,
    chi: np.ndarray | None,
    shape: tuple,
    title: str,
    pairs: list[tuple[int, int]] = (),
    chi_label: str = "χ = −Cov(L, ℓ − L)",
) -> None:
    """PNG: Corr(ℓ_i, ℓ_j) over the first MAX_ENTRIES entries with ``pairs`` (the
    strongest influences) circled, and ``chi`` (one per entry) as bars, or as a rows ×
    positions image for a sequence dataset (``shape`` = (rows, T))."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    panels = 2 if chi is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.4), dpi=DPI, squeeze=False)
    ax = axes[0][0]
    m = min(corr.shape[0], MAX_ENTRIES)
    image = ax.imshow(corr[:m, :m], cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    for i, j in (p for p in pairs if max(p) < m):
        ax.scatter([j, i], [i, j], s=40, facecolors="none", edgecolors="k", linewidths=0.8)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="correlation")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))
    more = f" (first {m} of {corr.shape[0]})" if m < corr.shape[0] else ""
    ax.set_title(f"loss-kernel correlation{more}; ○ strongest BIF", fontsize=9)
    ax.set_xlabel("entry j")
    ax.set_ylabel("entry i")
    if chi is not None:
        _draw_chi(fig, axes[0][1], chi, shape, chi_label)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.95, bottom=0.12, top=0.86, wspace=0.45)
    fig.savefig(path, pil_kwargs=PNG)
    plt.close(fig)


def _draw_chi(fig, ax, chi: np.ndarray, shape: tuple, label: str) -> None:
    if len(shape) == 2:  # a sequence dataset: rows × positions
        grid = chi.reshape(shape)
        bound = float(np.max(np.abs(grid))) or 1.0
        image = ax.imshow(grid, cmap="PuOr_r", vmin=-bound, vmax=bound, aspect="auto")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="χ")
        ax.set_xlabel("position")
        ax.set_ylabel("row")
        ax.set_title(f"per-token susceptibility {label}", fontsize=9)
        return
    from matplotlib.ticker import MaxNLocator

    ax.bar(np.arange(chi.size), chi, color=np.where(chi >= 0, "tab:orange", "tab:purple"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.axhline(0, color="k", linewidth=0.6)
    ax.set_xlabel("row")
    ax.set_ylabel("χ")
    ax.set_title(f"susceptibility per row, {label}", fontsize=9)
