"""``kind = "modular"``: modular arithmetic, the grokking task (Power et al., 2022).

Every pair (a, b) with 0 <= a, b < p is one row: x = one-hot(a) ⊕ one-hot(b) (2p
inputs), label (a ∘ b) mod p (p classes). ``train_fraction`` of the p² rows, drawn with
the target's seed, are the training data; the rest are held out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lambda_hat.fields import build as build_spec
from lambda_hat.fields import check
from lambda_hat.targets.kind import DataKind, Dataset, ParseContext

OPERATIONS = {
    "add": lambda a, b, p: (a + b) % p,
    "sub": lambda a, b, p: (a - b) % p,
    "mul": lambda a, b, p: (a * b) % p,
}


@dataclass(frozen=True)
class ModularSpec:
    """All pairs (a, b) mod p, labelled a + b (or a − b, a · b) mod p."""

    modulus: int = field(default=53, metadata=check(ge=2, le=1000, help="p"))
    operation: str = field(default="add", metadata=check(choices=tuple(OPERATIONS)))
    train_fraction: float = field(
        default=0.5, metadata=check(gt=0.0, le=1.0, help="share of the p² pairs trained on")
    )
    kind: str = field(default="modular", metadata=check(choices=("modular",)))

    @property
    def n_data(self) -> int:
        return max(2, round(self.train_fraction * self.modulus**2))


def parse(table: dict, where: str, ctx: ParseContext) -> ModularSpec:
    return build_spec(ModularSpec, table, where)


def build(spec: ModularSpec, model, teacher, rng_key, dtype) -> Dataset:
    import jax

    p = spec.modulus
    a, b = (v.ravel() for v in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
    eye = np.eye(p, dtype=np.dtype(dtype))
    x = np.concatenate([eye[a], eye[b]], axis=1)
    y = OPERATIONS[spec.operation](a, b, p).astype(np.int32)
    order = np.asarray(jax.random.permutation(rng_key, p * p))
    train, test = order[: spec.n_data], order[spec.n_data :]
    if test.size:
        return Dataset(x[train], y[train], x[test], y[test])
    return Dataset(x[train], y[train])


def describe(cfg: dict) -> str:
    op = {"add": "+", "sub": "−", "mul": "·"}.get(cfg.get("operation"), "?")
    return f"a {op} b mod {cfg.get('modulus')} ({cfg.get('train_fraction')} train)"


KIND = DataKind(
    name="modular",
    spec=ModularSpec,
    help="(a + b) mod p over all pairs: modulus, operation, train_fraction",
    parse=parse,
    build=build,
    describe=describe,
    labels=lambda spec: "classes",
    shape=lambda spec: (2 * spec.modulus, spec.modulus),
)
