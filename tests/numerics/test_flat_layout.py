"""flat_apply reads the parameter layout from shapes alone; it must be ravel_pytree's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from lambda_hat.config.specs import ModelSpec
from lambda_hat.numerics.models import network
from lambda_hat.targets.build import flat_apply

MODELS = [
    ModelSpec(kind="mlp", in_dim=4, widths=(8, 8), out_dim=2),
    ModelSpec(kind="mlp", in_dim=3, widths=(5,), out_dim=1, bias=False, activation="relu"),
    ModelSpec(
        kind="dln", in_dim=3, widths=(), out_dim=3, rank=1, activation="identity", bias=False
    ),
    ModelSpec(
        kind="dln", in_dim=2, widths=(3, 4), out_dim=2, rank=1, activation="identity", bias=False
    ),
]


@pytest.mark.parametrize("model", MODELS, ids=range(len(MODELS)))
def test_layout_is_ravel_pytrees(x32, model):
    net = network(model)
    tree = net.init(jax.random.PRNGKey(3), jnp.float32)
    flat, unravel_ref = ravel_pytree(tree)
    apply_flat, unravel, p = flat_apply(model, jnp.float32)
    assert p == flat.shape[0]
    for got, want in zip(jax.tree.leaves(unravel(flat)), jax.tree.leaves(tree), strict=True):
        np.testing.assert_array_equal(got, want)
    x = jax.random.normal(jax.random.PRNGKey(1), (5, model.in_dim))
    np.testing.assert_array_equal(apply_flat(flat, x), net.apply(tree, x))
