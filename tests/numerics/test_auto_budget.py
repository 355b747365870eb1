"""draws = "auto": checks at fixed draw counts, a verdict with its numbers, and results
that do not depend on how the run was cut into chunks."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from lambda_hat.analysis.budget import Budget, assess, check_points
from lambda_hat.config.specs import HMCParams, SGLDParams
from lambda_hat.numerics.estimator import llc_trace
from lambda_hat.numerics.samplers import driver, get
from lambda_hat.numerics.samplers.driver import Schedule
from tests.numerics.helpers import dln_problem


def test_check_points_double_up_to_the_cap():
    assert check_points(200, 12800) == (200, 400, 800, 1600, 3200, 6400, 12800)
    assert check_points(200, 1000) == (200, 400, 800, 1000)
    assert check_points(200, 200) == (200,)


def test_assess_passes_iid_draws_and_fails_drifting_ones():
    rng = np.random.default_rng(0)
    iid = rng.normal(5.0, 1.0, size=(4, 400))
    ok = assess(iid)
    assert ok["passed"] and ok["rhat"] < 1.01 and ok["ess"] > 400
    drifting = iid + np.linspace(0.0, 2.0, 400)  # the mean still moves
    bad = assess(drifting)
    assert not bad["passed"] and bad["drift_z"] > 2
    apart = iid + np.arange(4)[:, None]  # chains disagree
    assert not assess(apart)["passed"] and assess(apart)["rhat"] > 1.01


def _auto(posterior, L0, name, params, cap, chunk_seconds, monkeypatch):
    real = driver.run_chains

    def run_chains(*args, **kwargs):
        return real(*args, **{**kwargs, "chunk_seconds": chunk_seconds})

    monkeypatch.setattr(driver, "run_chains", run_chains)
    module = __import__(f"lambda_hat.numerics.samplers.{name}", fromlist=["run_chains"])
    monkeypatch.setattr(module, "run_chains", run_chains)
    budget = Budget(200, cap, L0, posterior.n_beta)
    trace = "minibatch" if name == "sgld" else "full"
    schedule = Schedule(2, 50, cap, 2, llc_trace=trace, checks=budget.points, stop=budget)
    result = get(name).sample(jax.random.PRNGKey(3), posterior, params, schedule)
    monkeypatch.undo()
    return result, budget.record()


@pytest.mark.parametrize(
    "name, params", [("sgld", SGLDParams(step_size=1e-4, batch_size=50)), ("hmc", HMCParams())]
)
def test_where_an_auto_run_stops_does_not_depend_on_its_chunks(x64, monkeypatch, name, params):
    posterior, L0, _ = dln_problem([3, 4, 3], 1, 300)
    tiny, budget_a = _auto(posterior, L0, name, params, 1600, 1e-6, monkeypatch)
    large, budget_b = _auto(posterior, L0, name, params, 1600, 60.0, monkeypatch)
    assert budget_a == budget_b
    assert np.array_equal(tiny.loss, large.loss)
    stop = budget_a["draws_done"]
    assert tiny.loss.shape == (2, stop) and stop in check_points(200, 1600)
    assert [c["draws"] for c in budget_a["checks"]] == list(
        check_points(200, 1600)[: len(budget_a["checks"])]
    )
    # the verdict follows the last check, and only the last check may pass
    assert budget_a["verdict"] == (
        "converged" if budget_a["checks"][-1]["passed"] else "budget exhausted"
    )
    assert not any(c["passed"] for c in budget_a["checks"][:-1])
    # the checks saw the run's own λ̂ (SGLD's minibatch increments shifted back to losses)
    final = llc_trace(tiny.loss, L0, posterior.n_beta)
    assert budget_a["checks"][-1]["llc_mean"] == pytest.approx(float(final.mean()), rel=1e-9)


def test_progress_counts_toward_the_next_check(x64):
    """An auto run's progress total is the next check (not the cap, which a converging
    run never reaches), and the last report is complete."""
    posterior, L0, _ = dln_problem([3, 4, 3], 1, 300)
    calls = []
    budget = Budget(200, 1600, L0, posterior.n_beta)
    schedule = Schedule(
        2,
        50,
        1600,
        2,
        progress=lambda d, t: calls.append((d, t)),
        llc_trace="minibatch",
        checks=budget.points,
        stop=budget,
    )
    get("sgld").sample(
        jax.random.PRNGKey(3), posterior, SGLDParams(step_size=1e-4, batch_size=50), schedule
    )
    done = 50 + budget.record()["draws_done"]
    assert calls[-1] == (done, done)
    for d, t in calls[:-1]:
        assert t == 50 + min(c for c in budget.points if c > max(d - 50, 0))


def test_the_trust_verdict_names_each_failed_criterion():
    from lambda_hat.store.trust import judge

    assert judge({"rhat": 1.005, "ess": 900.0, "drift_z": 0.5}).to_json() == {
        "verdict": "converged",
        "reasons": [],
    }
    bad = judge({"rhat": 1.2, "ess": 50.0, "drift_z": -3.0})
    assert bad.verdict == "not converged"
    assert bad.reasons == ("R-hat 1.200 > 1.01", "ESS 50 < 400", "drift -3.0 MCSE (> 2)")
