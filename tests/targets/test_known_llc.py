"""Classifiers with a known λ, and the Python API against the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout

LOGISTIC = """
[models.lr]
kind = "mlp"
in_dim = {d}
widths = []
out_dim = {k}
loss = "cross_entropy"
[data.cls]
kind = "softmax_teacher"
n_data = {n}
logit_scale = 2.0
[training.fit]
steps = 3000
learning_rate = 0.05
[[targets]]
model = "lr"
data = "cls"
training = "fit"
[[samplers]]
name = "hmc"
draws = {draws}
warmup = 300
"""


def _analysis(path):
    (target,) = make_plan(load(path)).targets
    folder = Layout(load(path).store_root).target_dir(target.target_id)
    (run,) = folder.glob("run_hmc_*")
    return target, json.loads((run / "analysis.json").read_text())


def test_logistic_regression_truth_is_recorded(project):
    """(K − 1)(d + 1)/2: one class's weights are free under softmax."""
    path = project.write(LOGISTIC.format(d=4, k=3, n=500, draws=50))
    (target,) = make_plan(load(path)).targets
    from lambda_hat.runner import true_llc

    assert true_llc(target.spec) == 5


@pytest.mark.slow
def test_hmc_recovers_the_logistic_regression_llc(project):
    path = project.write(LOGISTIC.format(d=4, k=3, n=5000, draws=1000))
    assert main(["run", str(path), "--workers", "1", "--quiet"]) == 0
    _, analysis = _analysis(path)
    assert analysis["true_llc"] == 5.0
    # 4 MCSE, plus 3% for the localization and finite-n bias of a regular model
    tolerance = 4 * analysis["llc_mcse"] + 0.03 * 5.0
    assert abs(analysis["llc_mean"] - 5.0) < tolerance, analysis["llc_mean"]


def test_lh_estimate_gives_the_cli_estimate(project, x64):
    """The same w*, data, sampler and seed: ``lh.estimate`` and ``lambda-hat run`` agree."""
    import lambda_hat as lh
    from lambda_hat.numerics.models import Network

    path = project.write(LOGISTIC.format(d=3, k=2, n=300, draws=100))
    assert main(["run", str(path), "--workers", "1", "--quiet"]) == 0
    target, analysis = _analysis(path)
    folder = Layout(load(path).store_root).target_dir(target.target_id)
    data, params = np.load(folder / "data.npz"), np.load(folder / "params.npz")
    net = Network((3, 2), "identity", True)
    w = [(params["w_star"][:6].reshape(2, 3), params["w_star"][6:])]
    r = lh.estimate(
        net.apply,
        w,
        (data["X"], data["Y"]),
        loss="cross_entropy",
        sampler="hmc",
        draws=100,
        warmup=300,
    )
    assert r.llc_mean == pytest.approx(analysis["llc_mean"], rel=1e-9)
    assert r.llc_mcse == pytest.approx(analysis["llc_mcse"], rel=1e-6)
    assert r.spec.inverse_temperature == analysis["inverse_temperature"]
    idata = r.inference_data()
    assert idata.posterior["llc"].shape == (4, 100)
