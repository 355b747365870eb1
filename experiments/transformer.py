"""A one-layer transformer and a token task, for ``experiments/transformer.toml``.

``model`` is plain JAX (no framework): token and position embeddings, one block of
causal attention heads and a ReLU MLP (both residual), and an unembedding to logits
(batch, T, vocabulary). Its parameters are a nested dict whose '/'-joined paths name
the parts a weight-restricted run can pick: ``layer1/head1/*``, ``layer1/mlp/*``, ...

``sequences`` is the task: three random tokens, then the sequence repeats them with
period 3, and each position's label is the next token. A model that attends two
positions back predicts every label from position 2 on; the labels at positions 0 and
1 are random, so no model can.
"""

import jax
import jax.numpy as jnp
import numpy as np


def model(
    vocab: int = 12, length: int = 8, width: int = 16, heads: int = 2, mlp: int = 32, seed: int = 0
):
    """(apply, params): apply(params, tokens (batch, T) int) -> logits (batch, T, vocab)."""
    keys = iter(jax.random.split(jax.random.PRNGKey(seed), 8 + 4 * heads))
    size = width // heads

    def dense(rows, cols):
        return jax.random.normal(next(keys), (rows, cols)) / np.sqrt(rows)

    block = {
        f"head{h + 1}": {
            "q": dense(width, size),
            "k": dense(width, size),
            "v": dense(width, size),
            "o": dense(size, width),
        }
        for h in range(heads)
    }
    block["mlp"] = {
        "w1": dense(width, mlp),
        "b1": jnp.zeros(mlp),
        "w2": dense(mlp, width),
        "b2": jnp.zeros(width),
    }
    params = {
        "embed": dense(vocab, width) * np.sqrt(vocab),
        "pos": 0.3 * jax.random.normal(next(keys), (length, width)),
        "layer1": block,
        "unembed": dense(width, vocab),
    }
    return apply, params


def apply(params, tokens):
    x = params["embed"][tokens] + params["pos"][: tokens.shape[1]]
    x = x + _attention(params["layer1"], x)
    mlp = params["layer1"]["mlp"]
    x = x + jax.nn.relu(x @ mlp["w1"] + mlp["b1"]) @ mlp["w2"] + mlp["b2"]
    return x @ params["unembed"]


def _attention(block, x):
    """The sum of the causal attention heads' outputs."""
    length = x.shape[1]
    causal = jnp.tril(jnp.ones((length, length), bool))
    out = 0.0
    for name, head in block.items():
        if not name.startswith("head"):
            continue
        q, k, v = x @ head["q"], x @ head["k"], x @ head["v"]
        scores = jnp.einsum("bti,bsi->bts", q, k) / np.sqrt(q.shape[-1])
        weights = jax.nn.softmax(jnp.where(causal, scores, -1e9), axis=-1)
        out = out + jnp.einsum("bts,bsi->bti", weights, v) @ head["o"]
    return out


def sequences(n: int = 2000, vocab: int = 12, length: int = 8, seed: int = 0):
    """(X, Y): n sequences of ``length`` tokens repeating three random ones, and each
    position's next token as its label (int arrays (n, length))."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, vocab, (n, 3))
    whole = np.tile(start, (1, length // 3 + 2))[:, : length + 1]
    return whole[:, :-1], whole[:, 1:]
