"""How a run's time budget (``max_time``) shapes a sampler's preparation: its pilot may
use PILOT_SHARE of the time, and an automatic thin is shortened so that each draw fits
the time left. The driver (numerics/samplers/driver.py) ends the phases themselves."""

from __future__ import annotations

from collections.abc import Callable

PILOT_SHARE = 0.5  # of a run's time budget, the most a pilot may use
# with a budget, a draw takes at most 1/BUDGET_DRAWS of the time left when sampling
# starts: burn-in gets about half of them and the kept draws the rest, always more than
# the driver's MIN_KEPT (a draw of thin = "auto" at its cap can be minutes on its own)
BUDGET_DRAWS = 16


def pilot_stop(time_left: Callable[[], float] | None) -> Callable[[], bool] | None:
    """When a pilot must end: once it has used PILOT_SHARE of the time left now, or
    never (no time budget)."""
    if time_left is None:
        return None
    floor = time_left() * (1.0 - PILOT_SHARE)
    return lambda: time_left() <= floor


def thin_within(
    thin: int, seconds_per_step: float | None, time_left: Callable[[], float] | None
) -> dict | None:
    """An automatic ``thin`` shortened so a draw takes at most 1/BUDGET_DRAWS of the
    time left, at ``seconds_per_step`` (a pilot's pace); the record of it, or None when
    there is no budget, no pace, or ``thin`` already fits."""
    if time_left is None or not seconds_per_step:
        return None
    left = max(time_left(), 0.0)
    most = max(1, int(left / (BUDGET_DRAWS * seconds_per_step)))
    if most >= thin:
        return None
    return {
        "thin": most,
        "thin_auto": thin,
        "seconds_per_step": seconds_per_step,
        "time_left": left,
        "rule": f"a draw takes at most 1/{BUDGET_DRAWS} of the time left when sampling starts",
    }


def thin_warnings(record: dict) -> list[str]:
    """What the user should know of a thin the budget shortened (a preparation record's
    ``thin_auto.budget``), if it did."""
    cut = (record.get("thin_auto") or {}).get("budget")
    if not cut:
        return []
    steps = f"{cut['thin']:,} step{'s' if cut['thin'] != 1 else ''}"
    left = f"{cut['time_left']:.3g}" if cut["time_left"] < 10 else f"{cut['time_left']:.0f}"
    return [
        f"max_time: each draw is {steps} rather than thin = 'auto''s "
        f"{cut['thin_auto']:,}, so that draws fit the {left} s left "
        f"({cut['seconds_per_step'] * 1e3:.3g} ms a step); each kept draw spans less "
        "Langevin time, which the ESS and R-hat account for."
    ]
