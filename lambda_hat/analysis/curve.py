"""λ̂ over training: one PNG per training run kept at checkpoints (no JAX).

λ̂ ± 2 MCSE against the training step, one line per sampler, next to the training loss
L_n(w_t) and, where the data have a held-out split, the test loss.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from lambda_hat.analysis.plots import DPI, PNG, _pyplot


def write_curve(path: Path, rows: list[dict], title: str) -> Path:
    """``rows``: result rows of one training's checkpoints (``step``, ``llc_mean``, ...)."""
    plt = _pyplot()
    fig, (ax_llc, ax_loss) = plt.subplots(
        2, 1, figsize=(7, 6), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    by_sampler = defaultdict(list)
    for r in rows:
        by_sampler[r["sampler"]].append(r)
    for sampler, items in sorted(by_sampler.items()):
        items.sort(key=lambda r: r["step"])
        steps = [r["step"] for r in items]
        mean = [r["llc_mean"] for r in items]
        err = [2 * (r["llc_mcse"] or 0.0) for r in items]
        ax_llc.errorbar(steps, mean, yerr=err, marker="o", capsize=3, label=f"{sampler} λ̂ ± 2 MCSE")
    ax_llc.set_ylabel("λ̂")
    ax_llc.legend(loc="best", fontsize=8)
    ax_llc.set_title(title, fontsize=9)
    ax_llc.grid(alpha=0.3)
    targets = sorted({r["step"]: r for r in rows}.values(), key=lambda r: r["step"])
    ax_loss.plot([r["step"] for r in targets], [r["L0"] for r in targets], "o-", label="train loss")
    if any(r.get("test_loss") is not None for r in targets):
        tested = [r for r in targets if r.get("test_loss") is not None]
        ax_loss.plot(
            [r["step"] for r in tested], [r["test_loss"] for r in tested], "s--", label="test loss"
        )
    ax_loss.set_xlabel("training step")
    ax_loss.set_ylabel("loss at checkpoint")
    ax_loss.legend(loc="best", fontsize=8)
    ax_loss.grid(alpha=0.3)
    positive = sorted(r["step"] for r in targets if r["step"] > 0)
    if positive and positive[-1] > 10 * positive[0]:  # steps spread over decades
        ax_loss.set_xscale("symlog", linthresh=positive[0])
    fig.subplots_adjust(left=0.11, right=0.97, top=0.93, bottom=0.09, hspace=0.08)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, pil_kwargs=PNG)
    plt.close(fig)
    return path
