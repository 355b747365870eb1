"""The weight-restricted LLC (``restrict``): one layer of a deep linear network at its
teacher against its exact value, the names it matches, and what it refuses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lambda_hat.config import load
from lambda_hat.config.specs import resolve_run
from lambda_hat.errors import ConfigError
from lambda_hat.numerics.truth import dln_layer_llc
from lambda_hat.store.ids import run_dirname

EXPERIMENT = """
[store]
root = "{root}"
[models.dln]
kind = "dln"
in_dim = 4
widths = [3]
out_dim = 3
rank = 2
[data.train]
n_data = 2000
[training.teacher]
init = "teacher"
steps = 0
[[targets]]
model = "dln"
data = "train"
training = "teacher"
seed = 1
"""

HMC = """
[[samplers]]
name = "hmc"
warmup = 300
num_integration_steps = 8
draws = 1000
restrict = ["layer2/W"]
"""


def _write(write_toml, tmp_path, samplers: str):
    return write_toml(EXPERIMENT.replace("{root}", str(tmp_path / "store")) + samplers)


def test_one_layers_lambda_is_half_the_rank_of_its_jacobian():
    """``dln_layer_llc`` against the rank of the model's Jacobian in each layer's W at
    a built teacher (the model is linear in one layer, so λ is that rank over 2)."""
    import jax
    import jax.numpy as jnp

    from lambda_hat.numerics.models import Network, dln_teacher

    sizes, rank = (5, 4, 6, 3), 2
    net = Network(sizes, "identity", False)
    with jax.enable_x64(True):
        teacher = dln_teacher(net, rank, jax.random.PRNGKey(0), jnp.float64)
        x = jax.random.normal(jax.random.PRNGKey(1), (50, sizes[0]), jnp.float64)
        _ranks_match(net, teacher, x, sizes, rank)
    assert [dln_layer_llc(sizes, rank, k) for k in (1, 2, 3)] == [7.5, 3, 3]
    assert dln_layer_llc((5, 6, 5), 2, 1) == 12.5 and dln_layer_llc((5, 6, 5), 2, 2) == 5


def _ranks_match(net, teacher, x, sizes, rank):
    import jax

    for layer in (1, 2, 3):

        def f(w, layer=layer):
            params = list(teacher)
            params[layer - 1] = (w, params[layer - 1][1])
            return net.apply(params, x).ravel()

        jac = jax.jacfwd(f)(teacher[layer - 1][0]).reshape(50 * sizes[-1], -1)
        assert np.linalg.matrix_rank(np.asarray(jac)) / 2 == dln_layer_llc(sizes, rank, layer)


def exact_llc(h, y, w, n_beta, gamma) -> float:
    """E[nβ (L(W) − L(W*))] under the localized posterior of a model linear in W,
    f(x) = W h(x), with features ``h`` (n, d), targets ``y`` (n, out) and W* = ``w``
    (out, d): the posterior is Gaussian, per output row of precision nβS + γI (S the
    features' second moment) around a mix of the least-squares fit and W*."""
    n, d = h.shape
    s = h.T @ h / n
    fit = np.linalg.lstsq(h, y, rcond=None)[0].T  # (out, d): the least-squares W
    cov = np.linalg.inv(n_beta * s + gamma * np.eye(d))
    total = 0.0
    for j in range(y.shape[1]):
        mean = cov @ (n_beta * s @ fit[j] + gamma * w[j])
        total += 0.5 * np.trace(s @ cov) + 0.5 * (mean - fit[j]) @ s @ (mean - fit[j])

    def loss(v):
        return 0.5 * np.sum((y - h @ v.T) ** 2) / n

    return float(n_beta * (loss(fit) - loss(w) + total))


def test_hmc_and_sgld_find_one_layers_exact_lambda(write_toml, tmp_path):
    """Through the store: HMC restricted to the last layer of a DLN covers the exact
    finite-n value within 4 MCSE, SGLD at its defaults comes within 5%; the run
    records the part it moved and its closed-form λ (3)."""
    from lambda_hat.cli import main
    from lambda_hat.store import npz

    sgld = '[[samplers]]\nname = "sgld"\nrestrict = ["layer2/W"]\n'
    path = _write(write_toml, tmp_path, HMC + sgld)
    assert main(["run", str(path), "--workers", "1"]) == 0
    (target,) = (tmp_path / "store" / "targets").glob("tgt_*")
    data, w = npz.load(target / "data.npz"), npz.load(target / "params.npz")["w_star"]
    w1, w2 = w[:12].reshape(3, 4), w[12:].reshape(3, 3)  # layer1/W, layer2/W (no biases)
    runs = {}
    for analysis in target.glob("run_*/analysis.json"):
        runs[analysis.parent.name.split("_")[1]] = json.loads(analysis.read_text())
    hmc, sgld = runs["hmc"], runs["sgld"]
    h = data["X"] @ w1.T  # what layer 2 sees
    exact = exact_llc(h, data["Y"], w2, hmc["n_beta"], hmc["localization"])
    assert abs(exact - 3) < 0.1  # the asymptotic value, rank(I₃)·rank(W1)/2
    assert abs(hmc["llc_mean"] - exact) < 4 * hmc["llc_mcse"], (hmc["llc_mean"], exact)
    assert abs(sgld["llc_mean"] - exact) < 0.05 * exact, (sgld["llc_mean"], exact)
    assert hmc["restricted"] == {
        "restrict": ["layer2/W"],
        "leaves": ["layer2/W"],
        "params": 9,
        "of": 21,
    }
    assert hmc["true_llc"] == 3.0 and hmc["p"] == 21


def test_the_other_weights_stay_exactly_at_w_star():
    import jax

    import lambda_hat as lh

    x = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (200, 3)))
    params = {"a": np.ones((3, 2)) * 0.5, "b": np.full((2,), 0.1)}
    y = np.tanh(x @ params["a"]) + params["b"]

    def apply(p, xb):
        return jax.numpy.tanh(xb @ p["a"]) + p["b"]

    r = lh.estimate(
        apply,
        params,
        (x, y),
        sampler="hmc",
        warmup=50,
        draws=30,
        trace_params=True,
        restrict=["b"],
        progress=False,
    )
    a, b = r.params_draws["a"], r.params_draws["b"]
    assert a.shape == (4, 30, 3, 2) and np.all(a == params["a"])
    assert np.std(b, axis=(0, 1)).min() > 0
    with pytest.raises(
        ConfigError,
        match=r"restrict\[0\]: 'c\*' matches no parameter of the model; its parameters "
        r"are a \(6\), b \(2\)",
    ):
        lh.estimate(apply, params, (x, y), sampler="hmc", restrict=["c*"], progress=False)


@pytest.mark.parametrize(
    "restrict, match",
    [
        (
            '["layer3/*"]',
            r"exp.toml: samplers\[0\] \(on model dln\)\.restrict\[0\]: 'layer3/\*' matches no "
            r"parameter of the model; its parameters are layer1/W \(12\), layer2/W \(9\)",
        ),
        ('["layer1/b"]', r"'layer1/b' matches no parameter"),  # a DLN's biases are empty
        (
            '["layer*"]',
            r"\.restrict: selects every parameter \(21 of 21\), which is the whole model's LLC",
        ),
        ('"layer1/W"', r"samplers\[0\]\.restrict: expected a list of strings"),
    ],
)
def test_a_restriction_of_nothing_or_everything_is_refused_on_reading(
    write_toml, tmp_path, restrict, match
):
    text = HMC.replace('["layer2/W"]', restrict)
    with pytest.raises(ConfigError, match=match):
        load(_write(write_toml, tmp_path, text))


def test_the_restriction_is_part_of_the_run_id(write_toml, tmp_path):
    def run(text):
        (sampler,) = load(_write(write_toml, tmp_path, text)).samplers
        return run_dirname(resolve_run(sampler, "tgt_0123456789ab", 2000))

    whole = run(HMC.replace('restrict = ["layer2/W"]\n', ""))
    assert whole == run(HMC.replace('restrict = ["layer2/W"]\n', "restrict = []\n"))
    assert len({whole, run(HMC), run(HMC.replace("layer2/W", "layer1/W"))}) == 3


def test_the_built_in_names_follow_the_flat_vector():
    """``layerK/W`` and ``layerK/b`` sizes, in order, tile the flat vector of both
    built-in kinds (with and without biases)."""
    import jax.numpy as jnp

    from lambda_hat.targets.build import flat_apply, param_leaves
    from lambda_hat.targets.network import NetworkSpec

    for spec in (
        NetworkSpec("mlp", 4, (8, 8), 2),
        NetworkSpec("mlp", 4, (5,), 3, bias=False),
        NetworkSpec("dln", 5, (6,), 5, activation="identity", bias=False, rank=2),
    ):
        leaves = param_leaves(spec)
        assert sum(size for _, size in leaves) == flat_apply(spec, jnp.float32)[2]
        assert [n for n, _ in leaves][:2] == ["layer1/W", "layer1/b"]


def test_a_swept_restriction_that_matches_nothing_names_its_sweep_point(write_toml, tmp_path):
    text = HMC.replace('["layer2/W"]', '{ sweep = [["layer2/W"], ["layer9/*"]] }')
    with pytest.raises(
        ConfigError,
        match=r"samplers \(hmc at restrict=\['layer9/\*'\]\) \(on model dln\)\.restrict\[0\]: "
        r"'layer9/\*' matches no parameter",
    ):
        load(_write(write_toml, tmp_path, text))
