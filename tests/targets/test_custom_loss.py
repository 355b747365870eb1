"""A loss of your own: ``loss = "module:function"`` in a python model's table and
``lh.estimate(loss=function)``, through training, sampling, observed losses and the store."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.errors import ConfigError

MODEL = """
[models.lin]
kind = "python"
factory = "user_models:linear"
loss = "{loss}"
[data.reg]
kind = "python"
factory = "user_models:regression"
[training.given]
init = "given"
steps = 0
[[targets]]
model = "lin"
data = "reg"
training = "given"
[[samplers]]
name = "hmc"
warmup = 300
draws = 1000
observe = ["reg"]
"""


def test_a_custom_loss_of_a_regular_model_gives_half_its_dimension(project):
    """Linear regression (3 weights) with a log-cosh loss of the factory's module: a
    smooth loss with a positive-definite Hessian is regular, so λ = 3/2; the run says
    which loss it used, and its observed losses are that loss's rows."""
    import lambda_hat as lh

    path = project.write(MODEL.replace("{loss}", "user_models:log_cosh"))
    assert main(["run", str(path), "--workers", "1", "--quiet"]) == 0
    (analysis,) = (project.root / "runs").rglob("analysis.json")
    run = json.loads(analysis.read_text())
    assert run["loss_name"] == "user_models:log_cosh"
    assert "user_models:log_cosh(f_w(x_i), y_i)" in run["loss"]
    assert abs(run["llc_mean"] - 1.5) < 4 * run["llc_mcse"] + 0.03, run["llc_mean"]
    stored = lh.load_run(analysis.parent)
    np.testing.assert_allclose(stored.observed["reg"].mean(-1), stored.L, rtol=1e-10)
    target = lh.load_target(analysis.parent.parent)
    assert callable(target.loss) and target.loss.__name__ == "log_cosh"


def test_a_custom_loss_from_python_is_the_built_in_one_when_it_computes_the_same():
    """A hand-written ½‖y − f‖² is "mse": the same L_n at w*, and λ̂ within MCSE."""
    import jax.numpy as jnp

    import lambda_hat as lh
    from tests.targets import user_models

    apply, params = user_models.linear()
    data = user_models.regression()
    kw = dict(sampler="hmc", warmup=200, draws=500, progress=False)
    built_in = lh.estimate(apply, params, data, loss="mse", **kw)
    own = lh.estimate(
        apply, params, data, loss=lambda f, y: 0.5 * jnp.sum((y - f) ** 2, axis=-1), **kw
    )
    assert own.L0 == pytest.approx(built_in.L0, rel=1e-12)
    assert abs(own.llc_mean - built_in.llc_mean) < 4 * np.hypot(own.llc_mcse, built_in.llc_mcse)


@pytest.mark.parametrize(
    "loss, match",
    [
        (
            "other_module:log_cosh",
            r"models.lin.loss: 'other_module:log_cosh' is not in the factory's module "
            r"'user_models'",
        ),
        ("user_models:no_such_loss", r"no_such_loss"),
        (
            "user_models:scalar_loss",
            r"must give each row's loss, \(rows,\), or each position's, \(rows, T\); for 2 "
            r"rows it returned shape \(\)",
        ),
    ],
)
def test_a_custom_loss_that_is_not_one_is_refused_before_any_work(project, loss, match):
    from lambda_hat.scheduler.plan import make_plan
    from lambda_hat.targets.probe import check_python_models

    path = project.write(MODEL.replace("{loss}", loss))
    with pytest.raises(ConfigError, match=match):
        check_python_models(make_plan(load(path)).targets, str(path))
