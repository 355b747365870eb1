"""λ̂ over training: one PNG per training run kept at checkpoints (no JAX).

λ̂ ± 2 MCSE against the training step, one line per sampler, next to the training loss
L_n(w_t) and, where the data have a held-out split, the test loss. Filled markers are
converged runs, hollow ones are not (a hollow diamond: step-size biased). The λ̂ axis
spans the bulk of the points (``y_range``): one wild estimate (λ̂ = −94 at step 0 of a
5.5 → 8.7 rise) would otherwise flatten the curve, so it is drawn as a triangle at the
edge, labelled with its value, and the plot notes how many points are off-scale.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from lambda_hat.analysis.plots import DPI, PNG, _pyplot
from lambda_hat.errors import ConfigError

GAP = 3.0  # an extreme value this many bulk spans from the next one is off-scale
PAD = 0.08  # margin around the bulk, as a fraction of its span
# trust verdict -> marker, hollow or not (``results.py``: converged / not converged /
# step-size biased)
MARKERS = {
    "converged": ("o", False),
    "not converged": ("o", True),
    "step-size biased": ("D", True),
}


class YRange(NamedTuple):
    """The λ̂ axis limits, and the indices of the points outside them."""

    low: float
    high: float
    off: list[int]


def y_range(means: list[float], errors: list[float] | None = None) -> YRange:
    """Limits that show the bulk of ``means`` (with their error bars, each at most as
    long as the bulk's span) and leave out the isolated extremes.

    An extreme value is off-scale when its gap to the next value is more than ``GAP``
    times the span of the values left (a lone −94 below 5.5 … 8.7). Extremes are taken
    off one at a time, from either end, while more than half the points stay, so a
    steady rise over decades, or a jump that several checkpoints share, is kept. A low
    one must also be negative: λ ≥ 0, so a negative λ̂ is a failed estimate, while a
    small positive one (an early checkpoint's 0.3 below a later 3.4 … 3.8) is the
    curve itself.
    """
    errors = errors or [0.0] * len(means)
    order = sorted(range(len(means)), key=lambda i: means[i])
    first, last = 0, len(order) - 1
    while last - first + 1 > len(means) / 2 + 1:
        low_gap = means[order[first + 1]] - means[order[first]]
        high_gap = means[order[last]] - means[order[last - 1]]
        if high_gap >= low_gap and high_gap > GAP * _span(means, order[first:last]):
            last -= 1
        elif low_gap > GAP * _span(means, order[first + 1 : last + 1]) and (
            means[order[first]] < 0
        ):
            first += 1
        else:
            break
    kept = order[first : last + 1]
    span = _span(means, kept) or abs(means[kept[0]]) * 0.1 or 1.0
    low = min(means[i] - min(errors[i], span) for i in kept)
    high = max(means[i] + min(errors[i], span) for i in kept)
    pad = PAD * (high - low)
    return YRange(low - pad, high + pad, sorted(order[:first] + order[last + 1 :]))


def _span(means: list[float], indices: list[int]) -> float:
    values = [means[i] for i in indices]
    return max(values) - min(values) if values else 0.0


def keep_steps(rows: list[dict], skip=(), min_step: int | None = None) -> list[dict]:
    """The rows whose checkpoint step is not in ``skip`` nor below ``min_step``."""
    return [
        r
        for r in rows
        if r["step"] not in set(skip) and (min_step is None or r["step"] >= min_step)
    ]


def draw_curve(rows: list[dict], title: str, log_x: bool = False, log_y: bool = False):
    """The figure of ``rows`` (result rows of one training's checkpoints: ``step``,
    ``llc_mean``, ``llc_mcse``, ``trust``, ``L0``, ``test_loss``). ``log_x``: a log step
    axis (symlog when step 0 is drawn); by default it is one when the steps span
    decades. ``log_y``: a log λ̂ axis, for positive λ̂ only."""
    if log_y and any(r["llc_mean"] <= 0 for r in rows):
        worst = min(rows, key=lambda r: r["llc_mean"])
        raise ConfigError(
            f"--log-y needs λ̂ > 0 at every step drawn, but λ̂ = {worst['llc_mean']:.3g} at "
            f"step {worst['step']}; leave that step out (--skip-steps {worst['step']} or "
            "--min-step) or drop --log-y"
        )
    plt = _pyplot()
    fig, (ax_llc, ax_loss) = plt.subplots(
        2, 1, figsize=(7, 6), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    _draw_llc(ax_llc, rows, log_y)
    ax_llc.set_title(title, fontsize=9)
    _draw_loss(ax_loss, rows)
    steps = sorted({r["step"] for r in rows})
    positive = [s for s in steps if s > 0]
    spread = bool(positive) and positive[-1] > 10 * positive[0]
    if positive and (log_x or spread):
        if steps[0] == 0:
            ax_loss.set_xscale("symlog", linthresh=positive[0])
        else:
            ax_loss.set_xscale("log")
    fig.subplots_adjust(left=0.11, right=0.97, top=0.93, bottom=0.09, hspace=0.08)
    return fig


def write_curve(
    path: Path, rows: list[dict], title: str, log_x: bool = False, log_y: bool = False
) -> Path:
    """``draw_curve`` saved as a PNG at ``path``."""
    fig = draw_curve(rows, title, log_x, log_y)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, pil_kwargs=PNG)
    _pyplot().close(fig)
    return path


def _draw_llc(ax, rows: list[dict], log_y: bool) -> None:
    """λ̂ ± 2 MCSE per sampler (and per part of the model or data a restricted or
    refined run sampled), markers by trust, off-scale points at the edges."""
    by_sampler = defaultdict(list)
    for r in rows:
        part = r.get("part")
        by_sampler[r["sampler"] + (f" {part}" if part else "")].append(r)
    shown = [r for items in by_sampler.values() for r in items]
    limits = _limits(shown, log_y)
    off = {id(shown[i]) for i in limits.off}
    verdicts = set()
    for n, (sampler, items) in enumerate(sorted(by_sampler.items())):
        color = f"C{n}"
        items.sort(key=lambda r: r["step"])
        ax.errorbar(  # through the points on scale: the others are marked at the edge
            [r["step"] for r in items],
            [math.nan if id(r) in off else r["llc_mean"] for r in items],
            yerr=[2 * (r["llc_mcse"] or 0.0) for r in items],
            color=color,
            capsize=3,
            label=f"{sampler} λ̂ ± 2 MCSE",
        )
        for r in items:
            if id(r) in off:
                _mark_off_scale(ax, r, limits, color)
                continue
            verdict = r.get("trust") or "converged"
            marker, hollow = MARKERS.get(verdict, ("o", True))
            verdicts.add(verdict)
            face = "white" if hollow else color
            ax.plot(r["step"], r["llc_mean"], marker, color=color, mfc=face, ms=6, zorder=3)
    if log_y:
        from matplotlib.ticker import FormatStrFormatter

        ax.set_yscale("log")
        for axis_formatter in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
            axis_formatter(FormatStrFormatter("%g"))  # 6, 7, 8 rather than 6×10⁰
    ax.set_ylim(limits.low, limits.high)
    if limits.off:
        count = len(limits.off)
        note = f"{count} point{'s' if count > 1 else ''} off-scale (▲/▼ at the edge)"
        ax.text(0.99, 0.02, note, transform=ax.transAxes, ha="right", fontsize=8, color="0.3")
    _trust_legend(ax, verdicts)
    ax.set_ylabel("λ̂")
    ax.grid(alpha=0.3)


def _limits(rows: list[dict], log_y: bool) -> YRange:
    """``y_range`` of the rows' λ̂ ± 2 MCSE; of log λ̂ on a log axis."""
    means = [r["llc_mean"] for r in rows]
    errors = [2 * (r["llc_mcse"] or 0.0) for r in rows]
    if log_y:  # the bar's upper half, in log units
        logs = [math.log(m) for m in means]
        bars = [math.log1p(e / m) for m, e in zip(means, errors, strict=True)]
        low, high, off = y_range(logs, bars)
        return YRange(math.exp(low), math.exp(high), off)
    return y_range(means, errors)


def _mark_off_scale(ax, r: dict, limits: YRange, color: str) -> None:
    """A triangle at the edge the point lies beyond, labelled with its λ̂."""
    above = r["llc_mean"] > limits.high
    edge = limits.high if above else limits.low
    ax.plot(r["step"], edge, "^" if above else "v", color=color, ms=9, clip_on=False, zorder=4)
    ax.annotate(
        f"λ̂ = {r['llc_mean']:.3g}",
        (r["step"], edge),
        xytext=(6, -10 if above else 4),
        textcoords="offset points",
        fontsize=8,
        color=color,
    )


def _trust_legend(ax, verdicts: set[str]) -> None:
    """The samplers' lines, then one entry per marker style drawn (by trust verdict)."""
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    if verdicts - {"converged"}:
        for verdict in [v for v in MARKERS if v in verdicts]:
            marker, hollow = MARKERS[verdict]
            face = "white" if hollow else "0.3"
            handles.append(Line2D([], [], ls="", marker=marker, color="0.3", mfc=face))
            labels.append(verdict)
    ax.legend(handles, labels, loc="best", fontsize=8)


def _draw_loss(ax, rows: list[dict]) -> None:
    """The training loss at each checkpoint, and the test loss where there is one."""
    targets = sorted({r["step"]: r for r in rows}.values(), key=lambda r: r["step"])
    ax.plot([r["step"] for r in targets], [r["L0"] for r in targets], "o-", label="train loss")
    tested = [r for r in targets if r.get("test_loss") is not None]
    if tested:
        ax.plot(
            [r["step"] for r in tested], [r["test_loss"] for r in tested], "s--", label="test loss"
        )
    ax.set_xlabel("training step")
    ax.set_ylabel("loss at checkpoint")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
