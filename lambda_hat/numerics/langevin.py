"""SGLD's Langevin-time bookkeeping, without JAX: how many steps a kept draw of
``thin = "auto"`` spans, so it can be read before a run (the plan) as well as by the
step rule (step_size.py)."""

from __future__ import annotations

DRAW_TIME = 0.01  # Langevin time per kept draw, in units of 1/γ
THIN_MAX = 10_000  # the most steps a draw of thin = "auto" takes
BURNIN_TIME = 1.0  # the default burn-in of thin = "auto": 1/γ, AUTO_THIN_BURNIN draws
# the smallest γ the automatic rules take their time scale 1/γ from: at γ = 0 nothing
# holds the directions the data do not constrain, and 1/γ has no end
GAMMA_FLOOR = 0.01


def steps_per_draw(time_per_step: float, localization: float) -> int:
    """Steps for a draw to span DRAW_TIME/γ of Langevin time (before the cap), where a
    step spans ``time_per_step`` (ε, times the preconditioner's median with one)."""
    gamma = max(float(localization), GAMMA_FLOOR)
    return max(1, round(DRAW_TIME / gamma / time_per_step))
