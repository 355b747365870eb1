"""What a user's factory returns is part of its target's identity: weights and data it
loads from files, and the target's seed, which reaches a factory that takes one."""

from __future__ import annotations

import json
from importlib import metadata

import numpy as np
import pytest

from lambda_hat import runner
from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.errors import ConfigError
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout
from lambda_hat.targets.factories import FactoryError

HEAD = """
[data.blobs]
kind = "python"
factory = "user_models:blobs"
args = { n = 120 }
[training.given]
init = "given"
"""
FROM_FILE = """
[models.saved]
kind = "python"
factory = "user_models:logistic_from_file"
args = { path = "WEIGHTS" }
loss = "cross_entropy"
[[targets]]
model = "saved"
data = "blobs"
training = "given"
"""


def _save_weights(path, scale: float) -> None:
    rng = np.random.default_rng(0)
    np.savez(path, W=scale * rng.normal(size=(4, 3)), b=np.zeros(3))


def _ids(path) -> list[str]:
    return [t.target_id for t in make_plan(load(path)).targets]


def _meta(project, tid: str) -> dict:
    folder = Layout(project.root / "runs").target_dir(tid)
    return json.loads((folder / "meta.json").read_text())


def _w_star(project, tid: str) -> np.ndarray:
    folder = Layout(project.root / "runs").target_dir(tid)
    return np.load(folder / "params.npz")["w_star"]


def test_weights_a_factory_loads_from_a_file_are_part_of_the_target(project, x64):
    weights = project.root / "ck.npz"
    _save_weights(weights, 1.0)
    path = project.write(HEAD + FROM_FILE.replace("WEIGHTS", str(weights)))
    exp = load(path)
    (old,) = _ids(path)
    runner.build_target(exp.targets[0].spec, exp.store_root)
    # the user overwrites the checkpoint under the same args: a new target, not the stale one
    _save_weights(weights, 2.0)
    exp = load(path)
    (new,) = _ids(path)
    assert new != old
    plan = make_plan(exp)
    assert [t.status for t in plan.targets] == ["todo"]
    runner.build_target(exp.targets[0].spec, exp.store_root)
    assert np.allclose(_w_star(project, new), 2.0 * _w_star(project, old))
    # the same file content again: the same target as before
    _save_weights(weights, 1.0)
    assert _ids(path) == [old]


def test_data_a_factory_loads_from_a_file_are_part_of_the_target(project):
    data = project.root / "blobs.npz"
    rng = np.random.default_rng(1)
    np.savez(data, X=rng.normal(size=(50, 4)), Y=rng.integers(0, 3, 50))
    text = HEAD.replace('"user_models:blobs"', '"user_models:blobs_from_file"').replace(
        "{ n = 120 }", f'{{ path = "{data}" }}'
    )
    model = FROM_FILE.replace("logistic_from_file", "logistic").replace(
        '{ path = "WEIGHTS" }', "{ in_dim = 4, classes = 3 }"
    )
    path = project.write(text + model)
    (old,) = _ids(path)
    np.savez(data, X=rng.normal(size=(50, 4)), Y=rng.integers(0, 3, 50))
    assert _ids(path) != [old]


def test_a_factory_that_returns_other_weights_when_built_is_refused(project, monkeypatch, x64):
    """Between reading the file and building, what the factory returns changed (an
    environment variable here): the build refuses, naming the factory."""
    model = FROM_FILE.replace("logistic_from_file", "logistic_env").replace(
        '{ path = "WEIGHTS" }', "{ in_dim = 4, classes = 3 }"
    )
    monkeypatch.setenv("LH_TEST_SCALE", "1")
    exp = load(project.write(HEAD + model))
    monkeypatch.setenv("LH_TEST_SCALE", "3")
    with pytest.raises(FactoryError, match="user_models:logistic_env returned other parameters"):
        runner.build_target(exp.targets[0].spec, exp.store_root)
    assert not any(Layout(exp.store_root).targets.glob("tgt_*"))


SWEEP = """
[models.m]
kind = "python"
factory = "user_models:FACTORY"
args = { in_dim = 4, classes = 3 }
loss = "cross_entropy"
[[targets]]
model = "m"
data = "blobs"
training = "given"
seed = { sweep = [1, 2] }
"""


@pytest.mark.parametrize("factory", ["logistic", "logistic_keyed"])
def test_the_target_seed_reaches_a_factory_that_takes_one(project, factory, x64):
    path = project.write(HEAD + SWEEP.replace("FACTORY", factory))
    exp = load(path)
    ids = _ids(path)
    assert len(set(ids)) == 2
    for entry in exp.targets:
        runner.build_target(entry.spec, exp.store_root)
    first, second = (_w_star(project, tid) for tid in ids)
    assert not np.allclose(first, second)
    name = "seed" if factory == "logistic" else "key"
    expected = [[f"user_models:{factory}({name}=<seed {s}>)"] for s in (1, 2)]
    assert [_meta(project, tid)["seed_uses"] for tid in ids] == expected


def test_a_seed_sweep_that_changes_nothing_is_refused(project):
    path = project.write(HEAD + SWEEP.replace("FACTORY", "logistic_no_seed"))
    with pytest.raises(ConfigError, match="seeds 1, 2 would compute the same") as info:
        load(path)
    assert "give the model's factory a seed (int) or key" in str(info.value)


def test_a_seed_that_only_orders_minibatches_is_a_real_sweep(project):
    """Training with minibatches draws from the seed, so the sweep is kept."""
    text = HEAD.replace('init = "given"', "steps = 5\nbatch_size = 32")
    exp = load(project.write(text + SWEEP.replace("FACTORY", "logistic_no_seed")))
    assert [t.spec.seed for t in exp.targets] == [1, 2]


def test_meta_records_the_versions_of_what_the_users_module_imports(project):
    path = project.write(HEAD + SWEEP.replace("FACTORY", "logistic").replace("[1, 2]", "[1]"))
    assert main(["run", str(path), "--workers", "1", "--quiet", "--only-targets"]) == 0
    (tid,) = _ids(path)
    versions = _meta(project, tid)["pkg_versions"]
    # user_models.py imports equinox inside a function, and jax and numpy at the top
    assert versions["equinox"] == metadata.version("equinox")
    assert versions["numpy"] == metadata.version("numpy")
