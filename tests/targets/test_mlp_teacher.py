"""The unrealizable case: data from a teacher MLP that the student cannot represent."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.errors import ConfigError
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout
from lambda_hat.targets.mlp_teacher import MlpTeacherSpec, build
from lambda_hat.targets.registry import describe_data

DATA = """
[data.tanh]
kind = "mlp_teacher"
n_data = {n}
in_dim = 3
widths = [8]
out_dim = 2
noise_scale = 0.0
n_test = 40
"""
DLN_STUDENT = """
[models.linear]
kind = "dln"
in_dim = {in_dim}
widths = [4]
out_dim = 2
rank = 2
[training.short]
steps = 300
learning_rate = 0.02
init = "{init}"
[[targets]]
model = "linear"
data = "tanh"
training = "short"
[[samplers]]
name = "sgld"
thin = 1
step_size = 1e-4
draws = 100
burnin = 50
chains = 2
"""


def _toml(n=200, in_dim=3, init="random") -> str:
    return DATA.format(n=n) + DLN_STUDENT.format(in_dim=in_dim, init=init)


def _lstsq_residual(x, y) -> float:
    """Mean squared residual of the best affine fit of y on x."""
    a = np.hstack([x, np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return float(np.mean((a @ coef - y) ** 2))


def test_a_tanh_teacher_is_beyond_a_linear_student_and_a_linear_one_is_not(x64):
    key = jax.random.PRNGKey(3)
    tanh = MlpTeacherSpec(n_data=500, in_dim=3, widths=(8,), out_dim=2, noise_scale=0.0)
    data = build(tanh, None, None, key, np.float64)
    assert data.x.shape == (500, 3) and data.y.shape == (500, 2) and data.x_test is None
    assert _lstsq_residual(np.asarray(data.x), np.asarray(data.y)) > 1e-3
    linear = MlpTeacherSpec(
        n_data=500, in_dim=3, widths=(), out_dim=2, activation="identity", noise_scale=0.0
    )
    data = build(linear, None, None, key, np.float64)
    assert _lstsq_residual(np.asarray(data.x), np.asarray(data.y)) < 1e-20


def test_a_dln_student_of_a_tanh_teacher_runs_through_the_store(project):
    path = project.write(_toml())
    assert main(["run", str(path), "--workers", "1", "--quiet"]) == 0
    (target,) = make_plan(load(path)).targets
    folder = Layout(project.root / "runs").target_dir(target.target_id)
    meta = json.loads((folder / "meta.json").read_text())
    # no closed-form λ: the DLN's truth holds only for its own teacher's data
    assert meta["true_llc"] is None
    assert meta["dims"] == {"n": 200, "d": 3, "p": 20, "n_test": 40}
    # a linear student cannot reach the teacher: its held-out loss stays well above zero
    assert meta["metrics"]["test_loss"] > 1e-3
    assert describe_data(meta["spec"]["data"]) == "mlp teacher 3→8→2 tanh n=200 σ=0.0"
    (run,) = [p for p in folder.glob("run_*") if p.is_dir()]
    assert np.isfinite(json.loads((run / "analysis.json").read_text())["llc_mean"])


def test_the_teacher_shape_is_checked_against_the_student(project):
    with pytest.raises(ConfigError, match=r"in_dim = 4, but the data have 3 input features"):
        load(project.write(_toml(in_dim=4)))
    with pytest.raises(ConfigError, match=r"init = 'teacher' needs data a teacher generated"):
        load(project.write(_toml(init="teacher")))
    with pytest.raises(ConfigError, match=r"data\.tanh\.n_data"):
        load(project.write(_toml(n=1)))
