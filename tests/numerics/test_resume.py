"""A run stopped mid-way and started again gives the numbers of one never stopped.

Each sampler runs once through, and once stopped (a KeyboardInterrupt from its progress
callback, as Ctrl-C or SIGTERM would land) then started again on the same snapshot
file; losses, per-draw statistics, FGEs, positions and ``draws = "auto"``'s checks must
be identical, bit for bit. A snapshot that does not match the run, or cannot be read, is
set aside with a message, and the run starts over.
"""

import contextlib

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
    rows = jax.tree_util.tree_map(lambda a: a[:5], posterior.data)  # observed, kept too
    schedule = schedule._replace(progress=progress, snapshots=snapshots, observe=(("rows", rows),))
    with snapshots.kept_on_stop() if snapshots is not None else contextlib.nullcontext():
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
    assert a.observed["rows"].shape == (*a.loss.shape, 5)
    np.testing.assert_array_equal(a.observed["rows"], b.observed["rows"])


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


WARMUPS = [  # (sampler, params, the BlackJAX routine its warm-up calls)
    ("hmc", HMCParams(warmup=20, num_integration_steps=4), "window_adaptation"),
    pytest.param("mclmc", MCLMCParams(tune_steps=40), "mclmc_find_L_and_step_size", marks=SLOW),
    pytest.param(
        "nuts", NUTSParams(warmup=20, max_num_doublings=4), "window_adaptation", marks=SLOW
    ),
]


@pytest.mark.parametrize("draws_saved", [True, False], ids=["draws-saved", "warmup-only"])
@pytest.mark.parametrize(("name", "params", "routine"), WARMUPS)
def test_a_resumed_run_does_not_warm_up_again(
    x64, tmp_path, monkeypatch, name, params, routine, draws_saved
):
    """Stopped in its burn-in, the run keeps its finished adaptation or tuning beside its
    draws; the next attempt takes it up without calling the warm-up routine, even when
    the draws were never saved (a kill before the first save), and ends bit for bit as a
    run never stopped."""
    import blackjax

    schedule = Schedule(2, 7, 30, 2, keep_positions=True)
    whole = _sample(name, params, schedule)
    path, warm = tmp_path / "run.npz", tmp_path / "run.warmup.npz"
    with pytest.raises(KeyboardInterrupt):
        _sample(name, params, schedule, Snapshots(path, {"run": 1}, every_sec=0.0), stop_at=3)
    assert path.is_file() and warm.is_file()
    if not draws_saved:
        path.unlink()

    def no_warmup(*args, **kwargs):
        raise AssertionError(f"{routine} called again on resume")

    monkeypatch.setattr(blackjax, routine, no_warmup)
    told = []
    again = Snapshots(path, {"run": 1}, told.append, every_sec=0.0)
    _same(_sample(name, params, schedule, again), whole)
    assert told[0] == (
        "resuming at the end of the sampler's warm-up (adaptation or tuning) "
        "(progress saved by an earlier attempt)"
    )
    record = again.record()
    assert record.pop("warmup") == {"done": True, "attempts": 2}
    if draws_saved:  # the stop came at a chunk's end at or after draw 3, in the burn-in
        assert 3 <= record.pop("draws_done") <= 7
        assert record.pop("attempts") == 2
        record.pop("earlier_sampling_sec")
    assert record == {}
    again.clear()
    assert not warm.exists() and not tmp_path.exists()
