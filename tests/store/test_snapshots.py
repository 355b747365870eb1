"""Saved progress: a point reached is saved when due, and the last one on a stop."""

from __future__ import annotations

import numpy as np
import pytest

from lambda_hat.store.snapshots import Snapshots, saved_point


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _point(i: int):
    where = {"phase": 1, "offset": i, "draws_done": i, "draws_total": 10}
    return lambda: ({"x": np.full(3, float(i))}, where)


def test_a_point_reached_is_saved_when_due_and_the_last_one_on_a_stop(tmp_path):
    clock = Clock()
    snaps = Snapshots(tmp_path / "run.npz", {"run": 1}, every_sec=60.0, clock=clock)
    snaps.reached({"f": 1}, _point(1))
    assert saved_point(snaps.path) is None  # not due yet: kept in memory only
    clock.now = 61.0
    snaps.reached({"f": 1}, _point(2))  # due: written
    assert saved_point(snaps.path)["where"]["draws_done"] == 2
    snaps.reached({"f": 1}, _point(3))
    assert saved_point(snaps.path)["where"]["draws_done"] == 2
    with pytest.raises(KeyboardInterrupt), snaps.kept_on_stop():
        raise KeyboardInterrupt
    assert saved_point(snaps.path)["where"]["draws_done"] == 3
    taken = Snapshots(tmp_path / "run.npz", {"run": 1}).load({"f": 1})
    np.testing.assert_array_equal(taken["arrays"]["x"], np.full(3, 3.0))


def test_a_point_saved_explicitly_is_not_overwritten_by_an_older_one_on_a_stop(tmp_path):
    """A stage's own save (a pilot round's end) replaces the point it reached before."""
    snaps = Snapshots(tmp_path / "run.npz", {}, every_sec=60.0, clock=Clock())
    pilot = snaps.part("pilot")
    pilot.reached({"f": 1}, _point(4))
    pilot.save({"f": 1}, {"x": np.zeros(1)}, {"phase": "pilot", "round": 1})
    with pytest.raises(SystemExit), snaps.kept_on_stop():  # the run's own, not the part's
        raise SystemExit(143)
    assert saved_point(pilot.path)["where"] == {"phase": "pilot", "round": 1}
    assert saved_point(snaps.path) is None  # nothing of the sampling was reached
