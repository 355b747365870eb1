"""A run stopped mid-way and started again gives the numbers of one never stopped.

Each sampler runs once through, and once stopped (a KeyboardInterrupt from its progress
callback, as Ctrl-C or SIGTERM would land) then started again on the same snapshot
file; losses, per-draw statistics, FGEs, positions and ``draws = "auto"``'s checks must
be identical, bit for bit. A snapshot that does not match the run, or cannot be read, is
set aside with a message, and the run starts over.
"""

import jax
import numpy as np
import pytest

from lambda_hat.analysis.budget import Budget
from lambda_hat.config.specs import HMCParams, MCLMCParams, NUTSParams, SGLDParams
from lambda_hat.numerics.samplers import get
from lambda_hat.numerics.samplers.driver import Schedule
from lambda_hat.store.snapshots import Snapshots
from tests.numerics.helpers import dln_problem

SLOW = pytest.mark.slow
CASES = [  # (sampler, params, precision, draws done when stopped: 3 in burn-in, 12 kept)
    ("sgld", SGLDParams(step_size=1e-4, batch_size=16, precond="rmsprop"), "x32", 3),
    ("sgld", SGLDParams(step_size=1e-4, batch_size=16, precond="rmsprop"), "x32", 12),
    ("hmc", HMCParams(warmup=20, num_integration_steps=4), "x64", 12),
    pytest.param("sgld", SGLDParams(step_size=1e-4, batch_size=16), "x32", 12, marks=SLOW),
    pytest.param("nuts", NUTSParams(warmup=20, max_num_doublings=4), "x64", 3, marks=SLOW),
    pytest.param("mclmc", MCLMCParams(tune_steps=40), "x64", 12, marks=SLOW),
]


def _sample(name, params, schedule, snapshots=None, stop_at=None):
    """The sampler's result; with ``stop_at``, a KeyboardInterrupt once that many draws
    (burn-in included) are done."""

    def progress(done, total):
        if stop_at is not None and done >= stop_at:
            raise KeyboardInterrupt

    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    schedule = schedule._replace(progress=progress, snapshots=snapshots)
    return get(name).sample(jax.random.PRNGKey(3), posterior, params, schedule)


def _same(a, b):
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.fges_per_chain, b.fges_per_chain)
    assert a.sample_stats.keys() == b.sample_stats.keys()
    for k in a.sample_stats:
        np.testing.assert_array_equal(a.sample_stats[k], b.sample_stats[k])
    assert a.stats == b.stats
    if a.positions is not None or b.positions is not None:
        np.testing.assert_array_equal(a.positions, b.positions)


@pytest.mark.parametrize(("name", "params", "precision", "stop_at"), CASES)
def test_a_stopped_run_resumes_to_the_same_numbers(
    request, tmp_path, name, params, precision, stop_at
):
    request.getfixturevalue(precision)
    schedule = Schedule(2, 7, 30, 2, keep_positions=True)
    whole = _sample(name, params, schedule)
    told = []
    snaps = Snapshots(tmp_path / "run.npz", {"run": 1}, told.append, every_sec=0.0)
    with pytest.raises(KeyboardInterrupt):
        _sample(name, params, schedule, snaps, stop_at=stop_at)
    assert (tmp_path / "run.npz").is_file()
    again = Snapshots(tmp_path / "run.npz", {"run": 1}, told.append, every_sec=0.0)
    resumed = _sample(name, params, schedule, again)
    _same(resumed, whole)
    assert again.resumed["draws_done"] >= stop_at
    assert again.resumed["attempts"] == 2
    assert told[-1].startswith(f"resuming at draw {again.resumed['draws_done']:,} of 37")


def test_a_budget_keeps_the_checks_made_before_the_stop(x32, tmp_path):
    params = SGLDParams(step_size=1e-4, batch_size=16)
    posterior, L0, _ = dln_problem([2, 3, 2], 1, 64)

    def run(snapshots=None, stop_at=None):
        budget = Budget(4, 64, L0, posterior.n_beta)
        schedule = Schedule(2, 5, 64, 1, checks=budget.points, stop=budget)
        result = _sample("sgld", params, schedule, snapshots, stop_at)
        return result, budget.record()

    whole, record = run()
    assert len(record["checks"]) >= 3  # the stop below falls after two checks
    path = tmp_path / "run.npz"
    with pytest.raises(KeyboardInterrupt):
        run(Snapshots(path, {}, every_sec=0.0), stop_at=5 + 9)
    resumed, again = run(Snapshots(path, {}, every_sec=0.0))
    _same(resumed, whole)
    assert again == record


def test_a_snapshot_of_other_settings_or_code_is_not_used(x32, tmp_path):
    params = SGLDParams(step_size=1e-4, batch_size=16)
    path = tmp_path / "run.npz"
    schedule = Schedule(2, 4, 20, 1)
    whole = _sample("sgld", params, schedule)
    for context, other in (({"code": "a"}, schedule._replace(thin=2)), ({"code": "b"}, schedule)):
        with pytest.raises(KeyboardInterrupt):
            _sample("sgld", params, other, Snapshots(path, context, every_sec=0.0), stop_at=8)
        told = []
        snaps = Snapshots(path, {"code": "a"}, told.append, every_sec=0.0)
        _same(_sample("sgld", params, schedule, snaps), whole)
        assert snaps.resumed is None
        assert told == [
            f"saved progress at {path} not used: it was written by other code, settings or "
            "starting states; starting over"
        ]


def test_an_unreadable_snapshot_is_set_aside(x32, tmp_path):
    params = SGLDParams(step_size=1e-4, batch_size=16)
    path = tmp_path / "run.npz"
    schedule = Schedule(2, 4, 20, 1)
    whole = _sample("sgld", params, schedule)
    with pytest.raises(KeyboardInterrupt):
        _sample("sgld", params, schedule, Snapshots(path, {}, every_sec=0.0), stop_at=8)
    path.write_bytes(path.read_bytes()[:-100])  # cut short, as a dying disk might
    told = []
    snaps = Snapshots(path, {}, told.append, every_sec=0.0)
    _same(_sample("sgld", params, schedule, snaps), whole)
    assert told[0].startswith(f"saved progress at {path} not used: it cannot be read (")
    assert snaps.resumed is None


def test_a_failed_save_is_said_once_and_sampling_goes_on(x32, tmp_path):
    params = SGLDParams(step_size=1e-4, batch_size=16)
    schedule = Schedule(2, 4, 20, 1)
    whole = _sample("sgld", params, schedule)
    (tmp_path / "blocked").write_text("a file where the snapshot's folder would be")
    told = []
    snaps = Snapshots(tmp_path / "blocked" / "run.npz", {}, told.append, every_sec=0.0)
    _same(_sample("sgld", params, schedule, snaps), whole)
    assert len(told) == 1
    assert told[0].startswith(f"could not save progress to {tmp_path / 'blocked' / 'run.npz'} (")
    assert told[0].endswith("); sampling goes on")
