"""The trust verdict of a run: the one rule, its thresholds, and the verdict's record.

A run's λ̂ is ``converged`` when its whole trace passes three tests:

* rank-normalized split R-hat ≤ ``RHAT_MAX`` (chains agree);
* bulk ESS ≥ ``ESS_MIN`` (the MCSE itself is estimated well);
* no drift: the first and last quarters' means within ``DRIFT_Z_MAX`` combined MCSE;

and the sampler's own checks hold: HMC/NUTS had at most ``DIVERGENT_MAX`` of its
sampling transitions divergent (a divergence marks a region the integrator cannot
follow, so the chains under-sample it and λ̂ is biased however long they run:
Betancourt 2017), and SGLD's step is within its bias bound (numerics/step_size.py;
else the verdict is ``step-size biased``). ``draws = "auto"`` stops at the first check
that passes the three tests (analysis/budget.py).

Pure Python: the store reads old runs' verdicts with it, without numpy or JAX.
"""

from __future__ import annotations

from dataclasses import dataclass

RHAT_MAX = 1.01
ESS_MIN = 400.0
DRIFT_Z_MAX = 2.0
DIVERGENT_MAX = 0.001  # of the sampling transitions: 4 of 4 chains × 1000 draws
CONVERGED, NOT_CONVERGED, STEP_BIASED = "converged", "not converged", "step-size biased"


@dataclass(frozen=True)
class Trust:
    """A verdict and the reasons for it (analysis.json ``trust``)."""

    verdict: str
    reasons: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        return self.verdict == CONVERGED

    def text(self) -> str:
        """``converged``, or the verdict with its reasons, for log and ``done`` lines."""
        return f"{self.verdict} ({'; '.join(self.reasons)})" if self.reasons else self.verdict

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "reasons": list(self.reasons)}

    @classmethod
    def from_json(cls, d: dict) -> Trust:
        return cls(d["verdict"], tuple(d.get("reasons") or ()))


def judge(
    summary: dict,
    bias: dict | None = None,
    divergences: int | None = None,
    transitions: int | None = None,
    cut: tuple[str, ...] = (),
) -> Trust:
    """The verdict of a run from its ``summary`` (``rhat``, ``ess``, ``drift_z``), its
    step's ``bias`` record (SGLD: ``biased``, ``bias_bound``, ``threshold``), its
    ``divergences`` among ``transitions`` sampling steps (HMC/NUTS), and what a time
    budget ``cut`` short in words (a preparation or burn-in it ended: never converged)."""
    reasons = _convergence_reasons(summary) + list(cut)
    if divergences and transitions and divergences > DIVERGENT_MAX * transitions:
        reasons.append(
            f"{divergences:,} divergent transitions ({divergences / transitions:.1%} > "
            f"{DIVERGENT_MAX:.1%}; raise target_acceptance)"
        )
    verdict = NOT_CONVERGED if reasons else CONVERGED
    if bias and bias["biased"]:
        reasons.append(
            f"step bias bound {bias['bias_bound']:.0%} > {bias['threshold']:.0%} "
            f"({bias.get('what', 'stiffest direction')})"
        )
        verdict = verdict if verdict != CONVERGED else STEP_BIASED
    return Trust(verdict, tuple(reasons))


def _convergence_reasons(summary: dict) -> list[str]:
    """Which of the convergence tests ``summary`` fails, in words: R-hat, ESS, drift,
    and a λ̂ below 0 by more than DRIFT_Z_MAX MCSE (w* is not a minimum: an early
    checkpoint, or another dataset's loss; an LLC is not negative)."""
    reasons = []
    rhat, ess, z = summary.get("rhat"), summary.get("ess"), summary.get("drift_z")
    if rhat is None or rhat > RHAT_MAX:
        reasons.append(f"R-hat {rhat:.3f} > {RHAT_MAX}" if rhat is not None else "no R-hat")
    if ess is None or ess < ESS_MIN:
        reasons.append(f"ESS {ess:.0f} < {ESS_MIN:.0f}" if ess is not None else "no ESS")
    if z is not None and abs(z) > DRIFT_Z_MAX:
        reasons.append(f"drift {z:+.1f} MCSE (> {DRIFT_Z_MAX:g})")
    mean, mcse = summary.get("llc_mean"), summary.get("llc_mcse")
    if mean is not None and mcse is not None and mean + DRIFT_Z_MAX * mcse < 0:
        reasons.append("λ̂ < 0: the chains found lower loss than at w*, not a minimum of it")
    return reasons


def verdict_text(verdict: dict | None) -> str:
    """A stored verdict (analysis.json ``trust``) in words; empty for none."""
    return Trust.from_json(verdict).text() if verdict else ""
