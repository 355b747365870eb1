"""The trust verdict: convergence, SGLD's step bias, and HMC/NUTS's divergences."""

from __future__ import annotations

from lambda_hat.store.trust import DIVERGENT_MAX, Trust, judge

GOOD = {"rhat": 1.002, "ess": 900.0, "drift_z": 0.4}


def test_divergent_transitions_beyond_the_tolerance_are_not_converged():
    """NUTS at its defaults on a normal crossing: converged by R-hat, ESS and drift,
    with 192 divergent transitions in 4 × 1000, and 3.8 MCSE from the exact value."""
    verdict = judge(GOOD, None, 192, 4000)
    assert verdict.verdict == "not converged"
    assert verdict.reasons == ("192 divergent transitions (4.8% > 0.1%; raise target_acceptance)",)
    assert verdict.text().startswith("not converged (192 divergent transitions")
    assert Trust.from_json(verdict.to_json()) == verdict


def test_a_few_divergences_within_the_tolerance_and_none_are_converged():
    assert judge(GOOD, None, 4, 4000).verdict == "converged"
    assert DIVERGENT_MAX * 4000 == 4.0
    assert judge(GOOD, None, 0, 4000).to_json() == {"verdict": "converged", "reasons": []}
    assert judge(GOOD).converged  # a stored run without its stats


def test_a_negative_estimate_is_not_converged():
    """λ̂ below 0 by more than 2 MCSE: the chains went downhill from w* (an early
    checkpoint, another dataset's loss), which no LLC does; within 2 MCSE of 0 it may
    be a flat model's."""
    low = judge({**GOOD, "llc_mean": -31.2, "llc_mcse": 0.56})
    assert low.verdict == "not converged"
    assert low.reasons == ("λ̂ < 0: the chains found lower loss than at w*, not a minimum of it",)
    assert judge({**GOOD, "llc_mean": -0.01, "llc_mcse": 0.02}).converged
