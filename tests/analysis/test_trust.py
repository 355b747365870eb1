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
