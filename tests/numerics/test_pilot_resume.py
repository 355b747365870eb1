"""SGLD's step-size pilot, stopped and started again, chooses the step one never stopped does.

The pilot rounds of ``step_size = "auto"`` run the run's chains for 1/γ of Langevin time
each: at the plain step of a stiff network, an hour a round. They run in chunks, so a
stop lands between two, and they keep their progress (finished rounds, the running
round's chains) beside the run's, so the next attempt goes on from there. The chosen
step and the rounds' record must be identical, bit for bit, wherever the stop fell.
"""

import contextlib

import jax
import numpy as np
import pytest

from lambda_hat.config.specs import SGLDParams
from lambda_hat.numerics import step_size as rule
from lambda_hat.numerics.samplers import sgld
from lambda_hat.store.snapshots import Snapshots, describe, saved_point
from tests.numerics.helpers import dln_problem

PARAMS = SGLDParams(step_size="auto", batch_size=16)


class StopClock:
    """A clock for Snapshots that raises KeyboardInterrupt on its ``at``-th reading (a
    stop landing between two chunks, where the pilot asks whether a save is due)."""

    def __init__(self, at: int | None):
        self.at, self.calls = at, 0

    def __call__(self) -> float:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return float(self.calls)


@pytest.fixture
def problem(x32, monkeypatch):
    """A tiny DLN whose pilot takes all three rounds (it would settle in one at the
    rule's margin): 858, 1,286 and 704 steps, each in chunks (858, 321 and 256 where
    each round goes on from the last one's chains)."""
    monkeypatch.setattr(rule, "TYPICAL_MARGIN", 0.05)
    monkeypatch.setattr(rule, "SHRINK_STOP", 10.0)
    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    curvature = rule.examine(posterior, PARAMS)
    return posterior, curvature, rule.auto_step(curvature)


def _pilot(problem, snapshots=None, report=None, continued=False):
    """The pilot; a stop first saves its last point, as the runner has it do."""
    posterior, curvature, step = problem
    with snapshots.kept_on_stop() if snapshots is not None else contextlib.nullcontext():
        return rule.typical_step(
            posterior,
            PARAMS,
            step,
            curvature,
            3,
            seed=0,
            report=report,
            saved=snapshots,
            continued=continued,
        )


def _same(got, want):
    """The same step, record and chain ends, bit for bit (but the pilot's pace: a time
    budget's reading of this machine's clock)."""
    assert got.step_size == want.step_size and _numbers(got.record) == _numbers(want.record)
    np.testing.assert_array_equal(got.ends, want.ends)


def _numbers(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "seconds_per_step"}


def test_a_pilot_cut_into_chunks_ends_where_one_chunk_does(x32):
    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    key, params = jax.random.PRNGKey(5), SGLDParams(step_size=1e-3, batch_size=16)
    whole = sgld.final_states(key, posterior, params, 1e-3, 300, 3, chunk_seconds=1e9)
    seen = []
    cut = sgld.final_states(
        key,
        posterior,
        params,
        1e-3,
        300,
        3,
        chunk_seconds=0.0,
        on_chunk=lambda t, s: seen.append(t),
    )
    assert seen[:4] == [1, 2, 3, 4] and seen[-1] == 300  # chunks of one step at chunk_seconds=0
    for a, b in zip(jax.tree_util.tree_leaves(whole), jax.tree_util.tree_leaves(cut), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# stopped early in round 1, in the save after it (so round 1 is taken up from its last
# chunk), at round 2's first chunk, in round 3
@pytest.mark.parametrize("stop_at", [3, 13, 15, 30])
def test_a_stopped_pilot_resumes_to_the_same_step(problem, tmp_path, stop_at):
    whole = _pilot(problem)
    assert len(whole.record["rounds"]) == 3 and not whole.record["settled"]
    path = tmp_path / "_resume" / "run_sgld_x.pilot.npz"
    told = []
    first = Snapshots(path, {"run_id": "x"}, told.append, every_sec=0.0, clock=StopClock(stop_at))
    with pytest.raises(KeyboardInterrupt):
        _pilot(problem, first)
    where = saved_point(path)["where"]
    assert where["phase"] == "pilot" and not where.get("done")
    assert where["steps_done"] > 0 or where["round"] > 0
    again = Snapshots(path, {"run_id": "x"}, told.append, every_sec=0.0)
    reports = []
    _same(_pilot(problem, again, reports.append), whole)
    assert told == [f"resuming at {describe(where)} (progress saved by an earlier attempt)"]
    assert again.resumed["rounds_done"] == len(where["rounds"]) == where["round"]
    assert again.resumed["steps_done"] == where["steps_done"]
    assert len(reports) == 3 - where["round"]  # the rounds finished before are not run again
    # the finished pilot is kept, so a stop during sampling does not repeat it
    done = Snapshots(path, {"run_id": "x"}, told.append, every_sec=0.0)
    _same(_pilot(problem, done, reports.append), whole)  # the chains' ends too
    assert len(reports) == 3 - where["round"]
    assert told[-1].startswith("resuming at the end of the step-size pilot (3 rounds, ε = ")


def test_a_pilot_resumed_at_its_last_step_measures_no_pace(problem, tmp_path):
    """Stopped in the save of round 3's last step, the next attempt runs no step: its
    pace is unknown (None), not its seconds of setting up as if they were one step's."""
    whole = _pilot(problem)
    counting = StopClock(10**9)
    _pilot(problem, Snapshots(tmp_path / "n.npz", {"run_id": "x"}, every_sec=0.0, clock=counting))
    path = tmp_path / "run_sgld_x.pilot.npz"
    first = Snapshots(path, {"run_id": "x"}, every_sec=0.0, clock=StopClock(counting.calls))
    with pytest.raises(KeyboardInterrupt):
        _pilot(problem, first)
    where = saved_point(path)["where"]
    assert where["round"] == 2 and where["steps_done"] == where["steps_total"]
    again = _pilot(problem, Snapshots(path, {"run_id": "x"}, every_sec=0.0))
    _same(again, whole)
    assert again.record["seconds_per_step"] is None and whole.record["seconds_per_step"] > 0


def test_a_pilot_of_another_start_is_not_used(problem, tmp_path):
    posterior, curvature, step = problem
    path = tmp_path / "run_sgld_x.pilot.npz"
    _pilot(problem, Snapshots(path, {"run_id": "x"}, every_sec=0.0))
    told = []
    other = Snapshots(path, {"run_id": "x"}, told.append, every_sec=0.0)
    chosen, _, _ = rule.typical_step(posterior, PARAMS, step / 2, curvature, 3, saved=other)
    assert told[0] == (
        f"saved progress at {path} not used: it was written by other code, settings or "
        "starting states; starting over"
    )
    assert chosen != _pilot(problem)[0]


def test_continued_rounds_go_on_from_the_last_rounds_chains(problem):
    """start = "pilot": rounds 2 and 3 run CONTINUED_TIME/γ from where the last one's
    chains are, so they are 4× shorter in Langevin time, and further from w* than
    rounds from w* get."""
    posterior, curvature, _ = problem
    fresh, going = _pilot(problem), _pilot(problem, continued=True)
    assert going.record["rule"] == rule.CONTINUED_RULE != fresh.record["rule"]
    first, *later = going.record["rounds"]
    assert first == fresh.record["rounds"][0] and first["from"] == "w_star"
    for r in later:
        assert r["from"] == "last round"
        assert r["steps"] == round(rule.CONTINUED_TIME / (r["step_size"] * 1.0))
    assert [r["steps"] for r in going.record["rounds"]] == [858, 321, 256]
    assert going.record["fges"] < fresh.record["fges"] / 1.5


def test_a_continued_pilot_taken_up_at_any_round_start_or_first_chunk_ends_the_same(
    problem, tmp_path
):
    """Each saved point a continued pilot leaves (a round's start with the last round's
    chains, a round's first chunk, the finished pilot) resumes to the same step, record
    and chain ends as a pilot never stopped: a kill can leave any of them."""
    continued = True
    whole = _pilot(problem, continued=continued)
    path = tmp_path / "run_sgld_x.pilot.npz"
    copies, real = {}, Snapshots.save

    def keep_a_copy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        where = saved_point(path)["where"]
        if where.get("done") or where["steps_done"] <= 1:
            point = (where.get("round"), where["steps_done"], where.get("done", False))
            copies.setdefault(point, path.read_bytes())

    Snapshots.save = keep_a_copy
    try:
        _pilot(problem, Snapshots(path, {"run_id": "x"}, every_sec=0.0), continued=continued)
    finally:
        Snapshots.save = real
    assert {(r, t) for r, t, done in copies if not done} == {(0, 1), (1, 0), (1, 1), (2, 0), (2, 1)}
    for blob in copies.values():
        path.write_bytes(blob)
        taken_up = _pilot(
            problem, Snapshots(path, {"run_id": "x"}, every_sec=0.0), continued=continued
        )
        _same(taken_up, whole)
