"""λ̂ over training: one training, a target per checkpoint, the curve's PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.errors import ConfigError
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout

MODULAR = """
[models.net]
kind = "mlp"
in_dim = 14
widths = [8]
out_dim = 7
activation = "relu"
loss = "cross_entropy"
[data.add]
kind = "modular"
modulus = 7
train_fraction = 0.6
[training.grok]
optimizer = "adamw"
learning_rate = 0.01
weight_decay = 0.5
steps = 200
checkpoints = [0, 50, 200]
[[targets]]
model = "net"
data = "add"
training = "grok"
[[samplers]]
name = "hmc"
draws = 40
warmup = 60
chains = 2
"""


def test_one_training_makes_a_target_per_checkpoint_and_a_curve(project, tmp_path, x64, capsys):
    path = project.write(MODULAR)
    # two workers: the checkpoints' builders meet on the training's lock
    assert main(["run", str(path), "--workers", "2", "--quiet"]) == 0
    targets = make_plan(load(path)).targets
    assert [t.spec.training.at_step for t in targets] == [0, 50, 200]
    layout = Layout(project.root / "runs")
    metas = [
        json.loads((layout.target_dir(t.target_id) / "meta.json").read_text()) for t in targets
    ]
    # one training: each checkpoint's loss history is the start of the last one's
    last = np.load(layout.target_dir(targets[-1].target_id) / "params.npz")["train_loss"]
    mid = np.load(layout.target_dir(targets[1].target_id) / "params.npz")["train_loss"]
    assert last.shape == (200,) and np.array_equal(mid, last[:50])
    assert [m["dims"]["n_test"] for m in metas] == [20, 20, 20]  # 49 pairs, 29 trained on
    assert metas[0]["metrics"]["L0"] > metas[-1]["metrics"]["L0"]
    out = tmp_path / "plots"
    assert main(["plot", str(path), "--out", str(out), "--skip-steps", "7"]) == 0
    assert "--skip-steps 7: no run at that step" in capsys.readouterr().out
    (png,) = out.glob("*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the λ̂ at the last checkpoint is that of a direct estimate at its w*
    import jax
    from jax.flatten_util import ravel_pytree

    import lambda_hat as lh
    from lambda_hat.numerics.models import Network

    folder = layout.target_dir(targets[-1].target_id)
    (run,) = folder.glob("run_hmc_*")
    analysis = json.loads((run / "analysis.json").read_text())
    data, params = np.load(folder / "data.npz"), np.load(folder / "params.npz")
    net = Network((14, 8, 7), "relu", True)
    _, unravel = ravel_pytree(net.init(jax.random.PRNGKey(0), np.float64))
    w = unravel(jax.numpy.asarray(params["w_star"]))
    r = lh.estimate(
        net.apply,
        w,
        (data["X"], data["Y"]),
        loss="cross_entropy",
        sampler="hmc",
        draws=40,
        warmup=60,
        chains=2,
    )
    assert r.llc_mean == pytest.approx(analysis["llc_mean"], rel=1e-9)


def test_adding_a_checkpoint_keeps_the_others(project):
    before = {
        t.spec.training.at_step: t.target_id
        for t in make_plan(load(project.write(MODULAR))).targets
    }
    more = MODULAR.replace("[0, 50, 200]", "[0, 50, 100, 200]")
    after = {
        t.spec.training.at_step: t.target_id for t in make_plan(load(project.write(more))).targets
    }
    assert {k: after[k] for k in before} == before and 100 in after


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("[0, 50, 200]", "[0, 50, 300]", r"checkpoints: 300 is beyond the training's steps = 200"),
        ("[0, 50, 200]", "[50, 0, 200]", r"checkpoints: must be increasing"),
        (
            "checkpoints = [0, 50, 200]",
            "checkpoint_every = 0",
            r"checkpoint_every: expected a positive",
        ),
        ("checkpoints = [0, 50, 200]", "at_step = 5", r"at_step: set by lambda-hat"),
    ],
)
def test_bad_checkpoints_are_named(project, old, new, match):
    with pytest.raises(ConfigError, match=match):
        load(project.write(MODULAR.replace(old, new)))


def test_checkpoint_every_keeps_the_last_step(project):
    path = project.write(MODULAR.replace("checkpoints = [0, 50, 200]", "checkpoint_every = 80"))
    assert [t.spec.training.at_step for t in make_plan(load(path)).targets] == [0, 80, 160, 200]


def test_a_swept_training_plots_one_curve_per_training_run(project, capsys):
    """Two learning rates are two training runs: plot keeps their checkpoints apart
    (it used to key a curve by the preset names alone and draw both as one)."""
    path = project.write(
        MODULAR.replace("learning_rate = 0.01", "learning_rate = { sweep = [0.01, 0.02] }")
    )
    assert main(["plot", str(path), "--out", str(project.root / "plots")]) == 1  # nothing drawn yet
    said = capsys.readouterr().out
    assert said.count("no runs yet") == 2
    assert "learning_rate = 0.01" in said and "learning_rate = 0.02" in said
