"""λ̂ over training: a wild point does not flatten the curve; trust shows; options."""

from __future__ import annotations

import argparse

import pytest

from lambda_hat.analysis.curve import draw_curve, keep_steps, y_range
from lambda_hat.commands.plot import add_arguments
from lambda_hat.errors import ConfigError

# The curve: λ̂ = −94 at step 0 (an unconverged run), then a rise 5.5 → 8.7.
STEPS = [0, 100, 200, 300, 400, 500]
MEANS = [-94.0, 5.5, 6.4, 7.3, 8.1, 8.7]
TRUST = ["not converged", "converged", "not converged", "converged", "converged", "converged"]


def _rows(steps=STEPS, means=MEANS, trust=TRUST) -> list[dict]:
    return [
        {
            "step": s,
            "sampler": "sgld",
            "llc_mean": m,
            "llc_mcse": 0.1,
            "trust": t,
            "L0": 1 / (s + 1),
        }
        for s, m, t in zip(steps, means, trust, strict=True)
    ]


def test_the_y_range_leaves_out_a_lone_wild_point_and_keeps_the_rise():
    low, high, off = y_range(MEANS, [0.2] * len(MEANS))
    assert off == [0]
    assert -94 < low <= 5.5 - 0.2 and 8.7 + 0.2 <= high < 12
    # a steady rise over decades, or a jump several checkpoints share, is all kept
    assert y_range([1, 2, 4, 8, 16, 32, 64]).off == []
    assert y_range([5.0, 5.1, 5.2, 20.0, 20.1, 20.2]).off == []
    assert y_range([5.0, 90.0]).off == []  # two points: neither is an outlier
    # an early checkpoint's small positive λ̂ is the curve, not an outlier; a negative
    # one is a failed estimate
    assert y_range([-16.5, 0.27, 3.39, 3.62, 3.76]).off == [0]
    assert y_range([3.39, 3.62, 3.76, 40.0]).off == [3]  # a lone spike above stays off


def test_the_curve_marks_the_off_scale_point_and_the_unconverged_ones(tmp_path):
    fig = draw_curve(_rows(), "net on add")
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert -94 < low <= 5.5 and 8.7 <= high < 12
    assert any(t.get_text() == "1 point off-scale (▲/▼ at the edge)" for t in ax.texts)
    assert any(t.get_text() == "λ̂ = -94" for t in ax.texts)  # the edge marker's label
    hollow = sorted(
        line.get_xdata()[0]
        for line in ax.lines
        if line.get_marker() == "o" and line.get_markerfacecolor() == "white"
    )
    assert hollow == [200]  # step 0 is unconverged too, but drawn as the edge's ▼
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["sgld λ̂ ± 2 MCSE", "converged", "not converged"]
    fig.savefig(tmp_path / "curve.png")


def test_steps_can_be_left_out_and_the_axes_taken_log():
    assert ax_scales(draw_curve(_rows(), "t")) == ("linear", "linear")
    assert ax_scales(draw_curve(_rows(), "t", log_x=True)) == ("symlog", "linear")
    with pytest.raises(ConfigError, match=r"λ̂ = -94 at step 0.*--skip-steps 0"):
        draw_curve(_rows(), "t", log_y=True)
    kept = keep_steps(_rows(), skip=(0,))
    assert [r["step"] for r in kept] == STEPS[1:]
    fig = draw_curve(kept, "t", log_x=True, log_y=True)
    assert ax_scales(fig) == ("log", "log")
    low, high = fig.axes[0].get_ylim()
    assert 0 < low <= 5.5 and 8.7 <= high < 12
    assert [r["step"] for r in keep_steps(_rows(), min_step=250)] == [300, 400, 500]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["x.toml", "--skip-steps", "0,10", "--min-step", "5", "--log-x"])
    assert (args.skip_steps, args.min_step, args.log_x, args.log_y) == ((0, 10), 5, True, False)


def ax_scales(fig) -> tuple[str, str]:
    """(x scale, y scale) of the λ̂ panel."""
    return fig.axes[0].get_xscale(), fig.axes[0].get_yscale()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
