"""``draws = "auto"``: sample until the estimate is converged, or until the cap.

Convergence is checked after ``AUTO_FIRST_DRAWS`` kept draws per chain and at every
doubling after it (200, 400, 800, ...), and at the cap ``max_draws``. At a check the
whole trace so far must pass the three convergence tests of the trust verdict (R-hat,
ESS and drift: lambda_hat/store/trust.py, whose ``judge`` applies them to any finished
run together with the sampler's own checks).

The run ends at the first check that passes (verdict ``converged``) or at the cap
(``budget exhausted``), and every check is recorded with its numbers. The checks sit at
fixed draw counts, so the decision, like the trace, does not depend on how sampling was
cut into chunks: the same spec always stops at the same draw.
"""

from __future__ import annotations

import numpy as np

from lambda_hat.analysis.summary import convergence, drift
from lambda_hat.numerics.estimator import llc_trace
from lambda_hat.store.trust import CONVERGED, DRIFT_Z_MAX, ESS_MIN, RHAT_MAX, judge

EXHAUSTED = "budget exhausted"
OUT_OF_TIME = "out of time"  # max_time ended sampling before a check passed


def check_points(first: int, cap: int) -> tuple[int, ...]:
    """Kept-draw counts at which convergence is checked: first, 2·first, ..., and cap."""
    points, k = [], first
    while k < cap:
        points.append(k)
        k *= 2
    return (*points, cap)


def assess(llc: np.ndarray) -> dict:
    """One check of a (chains, draws) llc trace: its numbers and whether it passes."""
    conv, dr = convergence(llc), drift(llc)
    check = {
        "draws": int(llc.shape[1]),
        "llc_mean": float(llc.mean()),
        "llc_mcse": conv["llc_mcse"],
        "rhat": conv["rhat"],
        "ess": conv["ess"],
        "drift_z": dr["drift_z"],
    }
    return {**check, "passed": judge(check).converged}


class Budget:
    """The ``stop`` of a schedule with ``draws = "auto"``; keeps every check it made."""

    def __init__(self, first: int, cap: int, L0: float, n_beta: float):
        self.points = check_points(first, cap)
        self.cap, self.L0, self.n_beta = cap, L0, n_beta
        self.checks: list[dict] = []

    def __call__(self, loss: np.ndarray) -> bool:
        self.checks.append(assess(llc_trace(loss, self.L0, self.n_beta)))
        return self.checks[-1]["passed"]

    def record(self, kept: int | None = None) -> dict:
        """The ``budget`` block of analysis.json; ``kept``: the draws kept when a time
        budget ended sampling between two checks."""
        done = bool(self.checks) and self.checks[-1]["passed"]
        last = self.checks[-1]["draws"] if self.checks else 0
        timed_out = kept is not None and kept > last
        return {
            "draws": "auto",
            "max_draws": self.cap,
            "verdict": CONVERGED
            if done and not timed_out
            else OUT_OF_TIME
            if timed_out
            else EXHAUSTED,
            "draws_done": kept if timed_out else last,
            "criteria": {"rhat_max": RHAT_MAX, "ess_min": ESS_MIN, "drift_z_max": DRIFT_Z_MAX},
            "checks": self.checks,
        }
