"""``max_time``: the step pilot, burn-in and sampling end when the time budget says, the
verdict says what it cut, and a budget that is not reached changes no number."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import lambda_hat as lh
from lambda_hat import sampling
from lambda_hat.config.specs import SGLDParams
from lambda_hat.numerics import step_size as rule
from lambda_hat.numerics.samplers.driver import MIN_KEPT, TimeBudget
from lambda_hat.samplers import time_budget
from tests.numerics.helpers import dln_problem

PARAMS = SGLDParams(step_size="auto", batch_size=16)


def _regression(n=200):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n)
    return (lambda p, xb: (xb @ p["w"])[:, None]), {"w": jnp.array([1.0, -2.0, 0.5])}, (x, y)


class Script:
    """A time budget's clock: ``full`` seconds left for its first ``calls`` readings,
    then none (a budget that runs out at a known point of the run)."""

    def __init__(self, calls: int, full: float = 1000.0):
        self.calls, self.full, self.read = calls, full, 0

    def __call__(self) -> float:
        self.read += 1
        return self.full if self.read <= self.calls else -1.0


def test_burn_in_gets_half_the_time_and_sampling_keeps_a_few_draws():
    clock = iter([120.0, 100.0, 49.0, 10.0, -5.0])
    budget = TimeBudget(lambda: next(clock))
    assert budget.allowed(False, 0, 7) == 7  # no pace yet: the chunk as sized
    budget.measured(7, 19.0)  # it compiled: its pace is not taken; 100 s left, burn-in's
    # half ends when 50 are
    budget.measured(7, 3.5)  # 0.5 s a draw
    assert budget.allowed(False, 7, 100) == 0  # 49 s left: burn-in's half is spent
    assert budget.allowed(True, 0, 100) == 20  # 10 s left: 20 draws
    assert budget.allowed(True, 2, 100) == MIN_KEPT - 2  # out of time: the last of 4
    budget.end(True, 4, 1000)
    assert budget.cut == {"draws": [4, 1000]}


def test_a_pilot_round_ended_by_time_is_measured_and_is_the_last(x32, monkeypatch):
    monkeypatch.setattr(rule, "TYPICAL_MARGIN", 0.05)  # three rounds when not stopped
    monkeypatch.setattr(rule, "SHRINK_STOP", 10.0)
    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    curvature = rule.examine(posterior, PARAMS)
    step = rule.auto_step(curvature)
    seen = []
    stops = iter([False, True])
    chosen, record, ends = rule.typical_step(
        posterior,
        PARAMS,
        step,
        curvature,
        3,
        progress=lambda t, total: seen.append((t, total)),
        stop=lambda: next(stops),
    )
    (cut,) = record["rounds"]
    assert cut["cut_by_time"] and cut["steps"] == seen[-1][0] < cut["steps_planned"] == seen[-1][1]
    assert len(seen) == 2 and ends.shape == (3, posterior.num_params)
    assert chosen == cut["next_step"] == min(step, 4 * 0.05 / cut["h_max"])
    assert record["fges"] == pytest.approx(3 * (cut["steps"] * 16 / 64 + 2 * rule.ITERATIONS))


def test_sghmc_warns_of_a_pilot_the_budget_cut(monkeypatch):
    """As SGLD does: its warnings say the step and friction were not checked."""
    monkeypatch.setattr(sampling, "_clock", lambda max_time: Script(calls=2))
    apply, params, data = _regression()
    r = lh.estimate(apply, params, data, sampler="sghmc", max_time="1h", progress=False)
    last = r.prepared["auto"]["pilot"][-1]
    assert last["cut_by_time"]
    said = f"max_time ended the step pilot after {last['steps']:,} of its "
    assert any(w.startswith(said) and "friction were not checked" in w for w in r.warnings)


def test_what_the_budget_cut_is_in_the_verdict(monkeypatch):
    """The pilot's share runs out after its first chunk, and the clock then reads
    nothing left: burn-in is cut at once and sampling keeps its last few draws."""
    monkeypatch.setattr(sampling, "_clock", lambda max_time: Script(calls=2))
    apply, params, data = _regression()
    r = lh.estimate(apply, params, data, sampler="sgld", max_time="1h", progress=False)
    rounds = r.prepared["auto"]["typical"]["rounds"]
    assert len(rounds) == 1 and rounds[0]["cut_by_time"]
    done, planned = rounds[0]["steps"], rounds[0]["steps_planned"]
    assert r.llc.shape[1] == MIN_KEPT
    assert r.time_budget == {
        "max_time": 3600.0,
        "preparation": f"the step pilot at {done:,} of {planned:,} steps",
        "burnin": [0, r.spec.burnin],
        "draws": [MIN_KEPT, r.spec.max_draws],
    }
    assert r.budget["verdict"] == "out of time" and r.budget["draws_done"] == MIN_KEPT
    assert not any("reached its cap" in w for w in r.warnings)
    assert r.trust["verdict"] == "not converged"
    assert (
        f"max_time = 1h ended the step pilot at {done:,} of {planned:,} steps" in r.trust["reasons"]
    )
    assert f"max_time = 1h ended burn-in at 0 of {r.spec.burnin:,} draws" in r.trust["reasons"]
    assert any(w.startswith("max_time ended the step pilot after") for w in r.warnings)
    assert any(
        w.startswith(f"max_time = 1h ended sampling at 4 of up to {r.spec.max_draws:,} draws")
        for w in r.warnings
    )


def test_a_budget_not_reached_changes_no_number():
    apply, params, data = _regression()
    common = dict(sampler="sgld", step_size=1e-4, thin=5, draws=300, burnin=50, progress=False)
    free = lh.estimate(apply, params, data, **common)
    bounded = lh.estimate(apply, params, data, max_time="1h", **common)
    np.testing.assert_array_equal(free.llc, bounded.llc)
    assert bounded.time_budget == {"max_time": 3600.0} and free.time_budget is None
    assert bounded.trust == free.trust


def test_a_budget_on_the_real_clock_ends_a_long_run():
    apply, params, data = _regression()
    r = lh.estimate(
        apply,
        params,
        data,
        sampler="sgld",
        step_size=1e-4,
        thin=20,
        draws=10**7,
        burnin=100,
        max_time=6,  # compilation under a loaded machine can take 2 s: room for the burn-in
        progress=False,
    )
    done, planned = r.time_budget["draws"]
    assert planned == 10**7 and MIN_KEPT <= done == r.llc.shape[1] < planned
    assert "burnin" not in r.time_budget  # 100 draws fit in half of it


def test_an_automatic_thin_is_shortened_to_fit_the_time_left():
    assert time_budget.thin_within(1000, 0.01, None) is None  # no budget
    assert time_budget.thin_within(1000, None, lambda: 160.0) is None  # no pace measured
    assert time_budget.thin_within(1000, 0.01, lambda: 160.0) is None  # 16 draws fit
    cut = time_budget.thin_within(1000, 0.02, lambda: 160.0)
    assert cut["thin"] == 500 and cut["thin_auto"] == 1000 and cut["time_left"] == 160.0
    assert time_budget.thin_within(1000, 0.02, lambda: -3.0)["thin"] == 1  # out of time


def test_a_pilot_round_that_ran_no_step_has_no_pace():
    """Resumed at its last step, a round measured only its setting up: no pace, so a
    budget leaves the thin as it is (SGHMC's pace is scaled to the sampling batch)."""
    from lambda_hat.numerics.samplers.common import pace
    from lambda_hat.samplers.sghmc import _take_pace

    assert pace(2.0, 0) is None and pace(2.0, 4) == 0.5

    def rounds(last):
        return [
            {"seconds_per_step": 0.5, "batch_size": 64},
            {"seconds_per_step": last, "batch_size": 64},
        ]

    resumed = rounds(None)
    assert _take_pace({"auto": {"pilot": resumed}}, 128) is None
    assert all("seconds_per_step" not in r for r in resumed)  # the clock leaves the record
    assert _take_pace({"auto": {"pilot": rounds(0.01)}}, 128) == pytest.approx(0.02)


@pytest.mark.parametrize("name", ["sgld", "sghmc"])
def test_a_budget_shortens_the_thin_from_the_pilots_pace(name, monkeypatch):
    """With room for one step per draw only, both minibatch samplers sample at thin 1,
    say so, and record the pace their pilot measured."""
    monkeypatch.setattr(time_budget, "BUDGET_DRAWS", 1e12)
    apply, params, data = _regression()
    r = lh.estimate(apply, params, data, sampler=name, max_time="1h", progress=False)
    thin = r.prepared["thin_auto"]  # the preparation's record, whichever the sampler
    assert r.sgld_step is r.prepared  # its former name
    cut = thin["budget"]
    assert r.spec.thin == cut["thin"] == 1 < cut["thin_auto"] == thin["thin"]
    assert 0 < cut["seconds_per_step"] < 1 and 0 < cut["time_left"] <= 3600
    assert any(w.startswith("max_time: each draw is 1 step rather than") for w in r.warnings)


def test_a_divergence_says_whether_the_step_was_written_or_automatic_and_what_was_cut():
    """A written step: lower it. An automatic one: it was too large where the chains
    went; after a pilot the time budget cut, give it more time (or write a step)."""
    import dataclasses
    from types import SimpleNamespace

    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.errors import SamplerDivergedError
    from lambda_hat.samplers.registry import SAMPLERS

    entry = SamplerSpec("sghmc", SAMPLERS["sghmc"].params())
    spec = resolve_run(entry, "tgt_x", 2000)
    ran = dataclasses.replace(spec, params=dataclasses.replace(spec.params, step_size=1.2e-3))
    gone = SimpleNamespace(first_nonfinite_step=7, loss=np.zeros((2, 0)))
    cut = "the step pilot at 900 of 81,000 steps"
    said = {}
    for case, kwargs in {
        "written": {},
        "auto": {"written": False},
        "auto, cut": {"written": False, "cut": cut},
    }.items():
        with pytest.raises(SamplerDivergedError) as caught:
            sampling.check_finite(ran, gone, **kwargs)
        said[case] = str(caught.value).split("Suggestion: ")[1]
    assert said == {
        "written": "lower step_size (now 0.0012), e.g. to 0.00012.",
        "auto": "the automatic step 0.0012 was too large where the chains went: write "
        "step_size = 0.00012, or check the target.",
        "auto, cut": "the automatic step 0.0012 was too large where the chains went, and the "
        f"time budget cut {cut}, which checks it there: give max_time more time, or write "
        "step_size = 0.00012.",
    }
    assert not sampling._written_step(spec) and sampling._written_step(ran)
