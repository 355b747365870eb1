"""λ̂ over the user's own training: a factory with a ``step`` argument, its steps
declared as checkpoints, gives checkpoint targets like lambda-hat's own training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.errors import ConfigError
from lambda_hat.results import load as load_rows
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout

STEPS = (0, 10, 60)
OWN = """
[models.mine]
kind = "python"
factory = "user_models:logistic_at_step"
args = { folder = "FOLDER" }
loss = "cross_entropy"
[data.blobs]
kind = "python"
factory = "user_models:blobs"
args = { n = 120 }
[training.mine]
init = "given"
checkpoints = [0, 10, 60]
[[targets]]
model = "mine"
data = "blobs"
training = "mine"
[[samplers]]
name = "hmc"
draws = 40
warmup = 60
chains = 2
"""


def _train_and_save(folder, steps=STEPS) -> dict:
    """The user's own optax training of logistic regression, saved at ``steps``."""
    import jax
    import jax.numpy as jnp
    import optax

    from tests.targets.user_models import blobs

    x, y = blobs(n=120)
    params = {"W": jnp.zeros((4, 3)), "b": jnp.zeros(3)}

    def loss(p):
        logits = x @ p["W"] + p["b"]
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(len(y)), y])

    opt = optax.adam(0.1)
    state = opt.init(params)
    folder.mkdir(exist_ok=True)
    saved = {}
    for step in range(max(steps) + 1):
        if step in steps:
            saved[step] = {k: np.asarray(v) for k, v in params.items()}
            np.savez(folder / f"ck_{step}.npz", **saved[step])
        updates, state = opt.update(jax.grad(loss)(params), state)
        params = optax.apply_updates(params, updates)
    return saved


def _setup(project):
    saved = _train_and_save(project.root / "ckpts")
    return project.write(OWN.replace("FOLDER", str(project.root / "ckpts"))), saved


def test_own_checkpoints_are_targets_with_a_curve(project, tmp_path):
    path, saved = _setup(project)
    targets = make_plan(load(path)).targets
    assert [t.spec.training.at_step for t in targets] == list(STEPS)
    assert len({t.target_id for t in targets}) == 3
    assert main(["run", str(path), "--workers", "1", "--quiet"]) == 0
    layout = Layout(project.root / "runs")
    losses = []
    for t in targets:
        folder = layout.target_dir(t.target_id)
        w_star = np.load(folder / "params.npz")["w_star"]
        step = t.spec.training.at_step
        expected = np.concatenate([saved[step]["W"].ravel(), saved[step]["b"]])  # ravel order
        assert np.allclose(w_star, expected)
        losses.append(json.loads((folder / "meta.json").read_text())["metrics"]["L0"])
    assert losses[0] == pytest.approx(np.log(3)) and losses[0] > losses[1] > losses[2]
    rows = load_rows(project.root / "runs", path)
    assert sorted(r["step"] for r in rows) == list(STEPS)
    # the TUI's target screen draws the same curve from any one of the checkpoints
    from lambda_hat.store.catalog import Catalog
    from lambda_hat.tui.data import training_curve

    meta = Catalog(project.root / "runs").target(targets[1].target_id).meta
    curve = training_curve(Catalog(project.root / "runs"), meta)
    by_step = {r["step"]: r["llc_mean"] for r in rows}
    assert curve == {"hmc": sorted(by_step.items())}
    out = tmp_path / "plots"
    assert main(["plot", str(path), "--out", str(out)]) == 0
    (png,) = out.glob("llc_over_training_*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_overwriting_one_checkpoint_moves_only_its_target(project):
    path, _ = _setup(project)
    before = {t.spec.training.at_step: t.target_id for t in make_plan(load(path)).targets}
    _train_and_save(project.root / "ckpts", steps=(11,))
    (project.root / "ckpts" / "ck_11.npz").replace(project.root / "ckpts" / "ck_10.npz")
    after = {t.spec.training.at_step: t.target_id for t in make_plan(load(path)).targets}
    assert after[0] == before[0] and after[60] == before[60] and after[10] != before[10]


def test_a_factory_without_a_step_argument_is_named(project):
    path = project.write(
        OWN.replace("logistic_at_step", "logistic").replace(
            '{ folder = "FOLDER" }', "{ in_dim = 4, classes = 3 }"
        )
    )
    with pytest.raises(ConfigError, match=r"user_models:logistic takes no step argument"):
        load(path)


def test_checkpoints_of_a_teacher_target_are_still_refused(project):
    text = OWN.replace('init = "given"', 'init = "teacher"')
    with pytest.raises(ConfigError, match=r"checkpoints: need training"):
        load(project.write(text.replace("FOLDER", "x")))
