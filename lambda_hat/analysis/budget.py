"""``draws = "auto"``: sample until the estimate is converged, or until the cap.

Convergence is checked after ``AUTO_FIRST_DRAWS`` kept draws per chain and at every
doubling after it (200, 400, 800, ...), and at the cap ``max_draws``. At a check the
whole trace so far must pass all three tests:

* rank-normalized split R-hat ≤ 1.01 (chains agree);
* bulk ESS ≥ 400 (the MCSE itself is estimated well);
* no drift: the first and last quarters' means within 2 combined MCSE.

``trust`` applies the same tests to any finished run (its analysis.json ``trust``), and
adds two of the sampler's own: SGLD's step-size bias bound (numerics/step_size.py), and
HMC/NUTS's divergent transitions, at most ``DIVERGENT_MAX`` of its sampling
transitions (a divergence marks a region the integrator cannot follow, so the chains
under-sample it and λ̂ is biased however long they run: Betancourt 2017).

The run ends at the first check that passes (verdict ``converged``) or at the cap
(``budget exhausted``), and every check is recorded with its numbers. The checks sit at
fixed draw counts, so the decision, like the trace, does not depend on how sampling was
cut into chunks: the same spec always stops at the same draw.
"""

from __future__ import annotations

import numpy as np

from lambda_hat.analysis.summary import convergence, drift
from lambda_hat.numerics.estimator import llc_trace

RHAT_MAX = 1.01
ESS_MIN = 400.0
DRIFT_Z_MAX = 2.0
CONVERGED, EXHAUSTED = "converged", "budget exhausted"
STEP_BIASED = "step-size biased"
DIVERGENT_MAX = 0.001  # of the sampling transitions: 4 of 4 chains × 1000 draws


def trust(
    summary: dict,
    sgld_step: dict | None = None,
    stats: dict | None = None,
    transitions: int | None = None,
) -> dict:
    """The trust verdict of any run, from its summary, by the criteria above:
    ``converged``, ``not converged`` (with HMC/NUTS's ``stats["divergences"]`` over
    ``DIVERGENT_MAX`` of its ``transitions`` among the reasons) or ``step-size
    biased`` (an SGLD step whose bias bound, analysis.json ``sgld_step.bias``, is over
    its threshold), with the reasons."""
    reasons = []
    rhat, ess, z = summary.get("rhat"), summary.get("ess"), summary.get("drift_z")
    if rhat is None or rhat > RHAT_MAX:
        reasons.append(f"R-hat {rhat:.3f} > {RHAT_MAX}" if rhat is not None else "no R-hat")
    if ess is None or ess < ESS_MIN:
        reasons.append(f"ESS {ess:.0f} < {ESS_MIN:.0f}" if ess is not None else "no ESS")
    if z is not None and abs(z) > DRIFT_Z_MAX:
        reasons.append(f"drift {z:+.1f} MCSE (> {DRIFT_Z_MAX:g})")
    divergent = (stats or {}).get("divergences")
    if divergent and transitions and divergent > DIVERGENT_MAX * transitions:
        reasons.append(
            f"{divergent:,} divergent transitions ({divergent / transitions:.1%} > "
            f"{DIVERGENT_MAX:.1%}; raise target_acceptance)"
        )
    verdict = "not converged" if reasons else CONVERGED
    bias = (sgld_step or {}).get("bias")
    if bias and bias["biased"]:
        reasons.append(
            f"step bias bound {bias['bias_bound']:.0%} > {bias['threshold']:.0%} "
            "(stiffest direction)"
        )
        verdict = verdict if verdict != CONVERGED else STEP_BIASED
    return {"verdict": verdict, "reasons": reasons}


def verdict_text(verdict: dict | None) -> str:
    """A ``trust`` verdict in words, for log and ``done`` lines: ``converged``, or the
    verdict with its reasons; empty for a run stored before the verdict existed."""
    if not verdict:
        return ""
    reasons = verdict.get("reasons")
    return f"{verdict['verdict']} ({'; '.join(reasons)})" if reasons else verdict["verdict"]


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
    return {**check, "passed": trust(check)["verdict"] == CONVERGED}


class Budget:
    """The ``stop`` of a schedule with ``draws = "auto"``; keeps every check it made."""

    def __init__(self, first: int, cap: int, L0: float, n_beta: float):
        self.points = check_points(first, cap)
        self.cap, self.L0, self.n_beta = cap, L0, n_beta
        self.checks: list[dict] = []

    def __call__(self, loss: np.ndarray) -> bool:
        self.checks.append(assess(llc_trace(loss, self.L0, self.n_beta)))
        return self.checks[-1]["passed"]

    def record(self) -> dict:
        """The ``budget`` block of analysis.json."""
        done = bool(self.checks) and self.checks[-1]["passed"]
        return {
            "draws": "auto",
            "max_draws": self.cap,
            "verdict": CONVERGED if done else EXHAUSTED,
            "draws_done": self.checks[-1]["draws"] if self.checks else 0,
            "criteria": {"rhat_max": RHAT_MAX, "ess_min": ESS_MIN, "drift_z_max": DRIFT_Z_MAX},
            "checks": self.checks,
        }
