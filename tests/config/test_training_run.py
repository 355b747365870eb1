"""``training_run``: the key that ties a training run's checkpoint targets together."""

from __future__ import annotations

import dataclasses

from lambda_hat.config import load
from lambda_hat.config.specs import to_dict, training_run
from tests.config.helpers import ONE_SAMPLER


def _checkpoints(write_toml, training: str):
    text = ONE_SAMPLER.replace('data = "d"\n', 'data = "d"\ntraining = "t"\n', 1)
    path = write_toml(f"{text}\n[training.t]\nsteps = 20\n{training}\n")
    return [t.spec for t in load(path).targets]


def test_checkpoints_of_one_training_share_a_key_and_sweep_points_do_not(write_toml):
    specs = _checkpoints(
        write_toml, "checkpoints = [0, 10]\nlearning_rate = { sweep = [0.1, 0.2] }"
    )
    assert sorted((s.training.learning_rate, s.training.at_step) for s in specs) == [
        (0.1, 0),
        (0.1, 10),
        (0.2, 0),
        (0.2, 10),
    ]
    keys = {s.training.learning_rate: set() for s in specs}
    for s in specs:
        keys[s.training.learning_rate].add(training_run(s))
    assert all(len(k) == 1 for k in keys.values()) and keys[0.1] != keys[0.2]
    # the stored form (meta.json's spec) gives the same key, and a new checkpoint keeps it
    grown = dataclasses.replace(specs[0].training, checkpoints=(0, 5, 10))
    assert training_run(to_dict(specs[0])) == training_run(specs[0])
    assert training_run(dataclasses.replace(specs[0], training=grown)) == training_run(specs[0])


def test_a_target_without_checkpoints_is_no_training_run(write_toml):
    (spec,) = _checkpoints(write_toml, "")
    assert training_run(spec) is None and training_run(None) is None
