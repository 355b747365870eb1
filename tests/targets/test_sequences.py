"""Sequence models: integer token inputs stay integers, labels per position, and the
cross-entropy of a sequence is the mean over its positions (n counts sequences)."""

from __future__ import annotations

import numpy as np
import pytest

import lambda_hat as lh
from lambda_hat.errors import ConfigError
from lambda_hat.targets.arrays import cast, check_xy

VOCAB, T, N = 5, 4, 64


def _tokens(n=N, seed=0):
    """Tokens x and labels y = (x + 1) mod VOCAB with some noise, both (n, T) integers."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, VOCAB, size=(n, T))
    y = np.where(rng.random((n, T)) < 0.8, (x + 1) % VOCAB, rng.integers(0, VOCAB, (n, T)))
    return x, y


def _lookup(params, x):
    """Per-position logits from a table indexed by the token: (rows, T, VOCAB)."""
    return params["table"][x]


def _table(x, y):
    """The table at the maximum of the likelihood: log frequencies of the next token."""
    counts = np.ones((VOCAB, VOCAB))
    np.add.at(counts, (x.ravel(), y.ravel()), 1.0)
    return {"table": np.log(counts / counts.sum(axis=1, keepdims=True))}


def test_integer_inputs_and_sequence_labels_are_kept_as_integers():
    x, y = _tokens()
    info = check_xy(x, y, "data")
    assert (info.n_data, info.labels, info.out_dim) == (N, "classes", VOCAB)
    cx, cy = cast(x, y, "float32")
    assert cx.dtype == np.int32 and cy.dtype == np.int32 and cy.shape == (N, T)
    fx, _ = cast(x.astype(np.float64), y, "float32")
    assert fx.dtype == np.float32  # real inputs are the target's floats, as before


def test_a_sequences_loss_is_the_mean_over_its_positions():
    import jax.numpy as jnp

    from lambda_hat.numerics.loss import make_loss

    x, y = _tokens()
    table = _table(x, y)["table"]
    loss = make_loss(lambda w, xb: jnp.asarray(w).reshape(VOCAB, VOCAB)[xb], "cross_entropy")
    logits = table[x]
    logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    per_token = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    value = float(loss(jnp.asarray(table.ravel()), (jnp.asarray(x), jnp.asarray(y))))
    assert value == pytest.approx(per_token.mean(axis=1).mean(), rel=1e-6)  # float32


def test_one_position_per_sequence_is_the_single_label_model():
    """Labels (n, 1) with logits (n, 1, V) give the same posterior, hence the same λ̂,
    as labels (n,) with logits (n, V)."""
    x, y = _tokens(seed=1)
    x1, y1 = x[:, :1], y[:, :1]
    params = _table(x1, y1)
    kw = dict(loss="cross_entropy", sampler="sgld", step_size=1e-3, draws=40, chains=2, seed=3)
    kw.update(burnin=10, thin=1, precision="float64")
    seq = lh.estimate(_lookup, params, (x1, y1), **kw)
    flat = lh.estimate(lambda p, xb: p["table"][xb[:, 0]], params, (x1, y1[:, 0]), **kw)
    assert seq.n_beta == flat.n_beta == pytest.approx(N * seq.spec.inverse_temperature)
    assert seq.llc_mean == pytest.approx(flat.llc_mean, rel=1e-9)
    assert np.isfinite(seq.llc_mean)


def _sgld(x, y, **extra):
    """A short SGLD run of the lookup model at its maximum-likelihood table."""
    kw = dict(loss="cross_entropy", sampler="sgld", step_size=1e-3, chains=2, thin=1)
    kw.update({"draws": 40, "burnin": 10, "progress": False, **extra})
    return lh.estimate(_lookup, _table(x, y), (x, y), **kw)


def test_a_token_model_samples_with_its_integer_inputs():
    x, y = _tokens(seed=2)
    r = _sgld(x, y)
    assert r.n_beta == pytest.approx(N * r.spec.inverse_temperature)  # n counts sequences
    assert np.isfinite(r.llc_mean) and r.llc.shape == (2, 40)


@pytest.mark.parametrize(
    "apply, labels, said",
    [
        (lambda p, x: p["table"][x][:, 0], None, "logits of shape (rows, positions, classes)"),
        (_lookup, lambda y: y + VOCAB, "outside the model's 5 classes"),
        (_lookup, lambda y: y[:, :2], "logits of shape (rows, positions, classes)"),
    ],
    ids=["one-logit-row-per-sequence", "labels-out-of-range", "positions-differ"],
)
def test_a_sequence_model_that_does_not_fit_its_labels_is_refused(apply, labels, said):
    x, y = _tokens()
    y = labels(y) if labels else y
    with pytest.raises(ConfigError, match=said.replace("(", r"\(").replace(")", r"\)")):
        lh.estimate(apply, _table(*_tokens()), (x, y), loss="cross_entropy", draws=10)


SEQUENCE_FILE = """
[store]
root = "runs"
[models.tok]
kind = "python"
factory = "seqmod:model"
loss = "cross_entropy"
[data.tok]
kind = "python"
factory = "seqmod:tokens"
[training.fit]
steps = 100
learning_rate = 0.05
[[targets]]
model = "tok"
data = "tok"
training = "fit"
[[samplers]]
name = "sgld"
step_size = 1e-4
draws = 50
thin = 1
"""

SEQUENCE_MODULE = """
import numpy as np

V, T = 6, 5


def tokens(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, V, size=(n, T))
    y = np.where(rng.random((n, T)) < 0.8, (x + 1) % V, rng.integers(0, V, (n, T)))
    return x, y


def model(dim=4):
    rng = np.random.default_rng(1)
    params = {"emb": rng.normal(size=(V, dim)) * 0.1, "out": rng.normal(size=(dim, V)) * 0.1}

    def apply(p, x):
        return p["emb"][x] @ p["out"]  # an embedding indexed by the tokens: (rows, T, V)

    return apply, params
"""


def test_a_token_model_runs_through_the_store(tmp_path, monkeypatch):
    """Integer tokens reach the user's model as integers in every process: the target's
    training, the probe, the run's sampler; n counts the 200 sequences."""
    import json

    from lambda_hat.cli import main
    from lambda_hat.store.catalog import Catalog

    (tmp_path / "seqmod.py").write_text(SEQUENCE_MODULE)
    (tmp_path / "seq.toml").write_text(SEQUENCE_FILE)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "seq.toml", "--quiet"]) == 0
    [target] = Catalog(tmp_path / "runs").targets()
    [run] = target.runs()
    with np.load(target.path / "data.npz") as data:
        assert (data["X"].dtype, data["X"].shape, data["Y"].shape) == (np.int32, (200, 5), (200, 5))
    assert target.meta.dims.n == 200 and run.analysis.n_beta == pytest.approx(
        200 * run.analysis.inverse_temperature
    )
    assert np.isfinite(run.analysis.llc_mean)
    assert "mean_t" in json.loads((target.path / "meta.json").read_text())["loss"]


def test_observed_sequences_record_each_tokens_loss():
    """observe= on a token model: (chains, draws, rows, T), each token's loss at each
    kept draw; lh.bif's entries are the tokens, row-major."""
    x, y = _tokens(seed=4)
    xp, yp = _tokens(n=3, seed=5)
    r = _sgld(x, y, draws=20, trace_params=True, observe={"probe": (xp, yp)})
    tokens = r.observed["probe"]
    assert tokens.shape == (2, 20, 3, T)
    table = r.params_draws["table"]  # (chains, draws, VOCAB, VOCAB)
    logits = table[:, :, xp]  # (chains, draws, 3, T, VOCAB)
    logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    expected = -np.take_along_axis(logp, yp[None, None, ..., None], axis=-1)[..., 0]
    assert np.allclose(tokens, expected, rtol=1e-4, atol=1e-5)
    assert lh.bif(r, "probe").value.shape == (3 * T, 3 * T)


def _masked(seed=2, keep=3):
    """Tokens with the labels of all but ``keep`` positions of each row ignored (-100),
    the kept ones at different places in different rows."""
    x, y = _tokens(seed=seed)
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((N, T)), axis=1)
    ignored = order >= keep  # each row: ``keep`` positions kept
    return x, np.where(ignored, -100, y), ~ignored


def test_ignored_positions_leave_the_posterior_of_the_tokens_kept():
    """Labels -100 mark positions to ignore. With 3 of 4 positions kept in every row,
    the sequence model's loss is the flat model's on the 3·N kept tokens, so at equal nβ
    the two posteriors are one: the same L at any w (to 1e-12), and HMC's λ̂ agree
    within their MCSE."""
    import jax.numpy as jnp

    from lambda_hat.numerics.loss import make_loss, make_row_loss

    x, y, kept = _masked()
    flat_x, flat_y = x[kept][:, None], y[kept]  # (3N, 1) tokens and (3N,) labels

    def lookup(w, xb):
        table = jnp.asarray(w).reshape(VOCAB, VOCAB)
        return table[xb] if xb.ndim == 2 and xb.shape[1] == T else table[xb[:, 0]]

    masked = make_loss(lookup, "cross_entropy", masked=True)
    plain = make_loss(lookup, "cross_entropy")
    with __import__("jax").enable_x64(True):
        for seed in range(3):
            w = jnp.asarray(np.random.default_rng(seed).normal(size=VOCAB * VOCAB))
            a = float(masked(w, (jnp.asarray(x), jnp.asarray(y))))
            b = float(plain(w, (jnp.asarray(flat_x), jnp.asarray(flat_y))))
            assert a == pytest.approx(b, rel=1e-12)
        rows = make_row_loss(lookup, "cross_entropy")(w, (jnp.asarray(x), jnp.asarray(y)))
        assert np.all(np.asarray(rows)[~kept] == 0) and np.all(np.asarray(rows)[kept] > 0)
    params = _table(flat_x[:, 0], flat_y)
    kw = dict(loss="cross_entropy", sampler="hmc", warmup=200, draws=400, seed=5, progress=False)
    beta = 1 / np.log(N)
    seq = lh.estimate(_lookup, params, (x, y), inverse_temperature=beta, **kw)
    flat = lh.estimate(
        lambda p, xb: p["table"][xb[:, 0]],
        params,
        (flat_x, flat_y),
        inverse_temperature=beta / 3,
        **kw,
    )
    assert seq.n_beta == pytest.approx(flat.n_beta, rel=1e-12)
    assert seq.L0 == pytest.approx(flat.L0, rel=1e-12)
    # one posterior; HMC's trajectories part in the last bits of the sums' order
    assert abs(seq.llc_mean - flat.llc_mean) < 3 * np.hypot(seq.llc_mcse, flat.llc_mcse)


def test_ignored_labels_are_refused_where_they_mean_nothing():
    x, y = _tokens()
    with pytest.raises(ConfigError, match=r"found -1 \(a negative label marks a position to"):
        check_xy(x, np.where(y[:, 0] == 0, -1, y[:, 0]), "data")
    with pytest.raises(ConfigError, match="every label of Y is negative"):
        check_xy(x, np.full_like(y, -100), "data")
    assert check_xy(x, _masked()[1], "data").out_dim == VOCAB
