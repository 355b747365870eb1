"""step_size = "auto": the curvature it rests on is exact where it is known, one training
run's checkpoints share one step, and (slow) the step is accurate on the truth targets."""

from __future__ import annotations

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.errors import ConfigError
from lambda_hat.numerics.loss import make_loss
from lambda_hat.numerics.posterior import make_posterior
from lambda_hat.numerics.step_size import TOLERANCE, choose, top_curvature
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout
from tests.numerics.helpers import dln_problem


def test_power_iteration_finds_the_top_curvature_of_linear_regression(x64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4)) * np.array([3.0, 1.0, 0.5, 0.1])
    y = rng.normal(size=(500, 1))
    loss = make_loss(lambda w, xb: xb @ w[:, None], "mse")
    n_beta, gamma = 500 / math.log(500), 2.0
    posterior = make_posterior(
        loss, (jnp.asarray(x), jnp.asarray(y)), jnp.zeros(4), 1 / math.log(500), gamma
    )
    # L_n = mean ½(y − xw)²: its Hessian is XᵀX / n
    exact = float(np.linalg.eigvalsh(x.T @ x / 500)[-1])
    top, h_max = top_curvature(posterior)
    assert top == pytest.approx(exact, rel=1e-8)
    assert h_max == pytest.approx(n_beta * exact + gamma, rel=1e-8)
    choice = choose(posterior)
    assert choice["step_size"] == pytest.approx(4 * TOLERANCE / h_max)
    assert choice["stability_limit"] == pytest.approx(50 * choice["step_size"])


CHECKPOINTS = """
[store]
root = "{root}"
[models.m]
kind = "mlp"
in_dim = 2
widths = [4]
out_dim = 1
[data.d]
n_data = 300
[training.t]
steps = 200
learning_rate = 0.02
checkpoints = [50, 200]
[[targets]]
model = "m"
data = "d"
training = "t"
[[samplers]]
name = "sgld"
step_size = "auto"
chains = 2
draws = 50
burnin = 20
"""


@pytest.mark.slow
def test_the_checkpoints_of_one_training_share_the_step_of_the_last(tmp_path):
    exp = tmp_path / "e.toml"
    exp.write_text(CHECKPOINTS.format(root=tmp_path / "store"))
    assert main(["run", str(exp), "--workers", "1", "--quiet"]) == 0
    plan = make_plan(load(exp))
    layout = Layout(tmp_path / "store")
    chosen = []
    for run in plan.runs:
        analysis = json.loads(
            (layout.run_dir(run.target_id, run.dirname) / "analysis.json").read_text()
        )
        chosen.append(analysis["step_size_auto"]["step_size"])
        assert analysis["stats"]["step_size"] == chosen[-1]
        assert analysis["spec"]["params"]["step_size"] == "auto"
    assert len(chosen) == 2 and chosen[0] == chosen[1]


def test_auto_needs_plain_sgld(write_toml):
    text = CHECKPOINTS.format(root="runs") + 'precond = "rmsprop"\n'
    with pytest.raises(
        ConfigError, match=r"samplers\[0\]\.step_size: 'auto' sets a plain SGLD step"
    ):
        load(write_toml(text))


@pytest.mark.slow
def test_the_auto_step_is_accurate_on_a_truth_dln(x32):
    """The quickstart's DLN (λ = 12): within 5% at the auto step, given Langevin time."""
    from lambda_hat.config.specs import SamplerSpec, SGLDParams, resolve_run
    from lambda_hat.sampling import sample_llc

    posterior, _, truth = dln_problem([5, 6, 5], 2, 5000)
    spec = resolve_run(
        SamplerSpec(
            name="sgld",
            params=SGLDParams(step_size="auto"),
            chains=4,
            draws=600,
            burnin=100,
            thin=100,
        ),
        "t",
        5000,
    )
    est = sample_llc(posterior, spec)
    assert abs(est.summary["llc_mean"] - truth) <= 0.05 * truth, est.summary["llc_mean"]
    assert est.step_size_auto["step_size"] == pytest.approx(
        4 * TOLERANCE / est.step_size_auto["h_max"]
    )
