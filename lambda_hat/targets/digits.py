"""``kind = "digits"``: scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes).

The images ship inside the scikit-learn wheel (no download); install them with the
``digits`` extra (``uv sync --extra digits``). x is the 64 pixels scaled to [0, 1];
``test_fraction`` of the rows, drawn with the target's seed, are held out.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

import numpy as np

from lambda_hat.errors import ConfigError
from lambda_hat.fields import build as build_spec
from lambda_hat.fields import check
from lambda_hat.targets.kind import DataKind, Dataset, ParseContext

ROWS = 1797


@dataclass(frozen=True)
class DigitsSpec:
    """The 8×8 digits, pixels in [0, 1], integer labels 0–9."""

    test_fraction: float = field(
        default=0.2, metadata=check(ge=0.0, lt=1.0, help="share of the rows held out")
    )
    kind: str = field(default="digits", metadata=check(choices=("digits",)))

    @property
    def n_data(self) -> int:
        return ROWS - round(self.test_fraction * ROWS)


def parse(table: dict, where: str, ctx: ParseContext) -> DigitsSpec:
    if importlib.util.find_spec("sklearn") is None:
        raise ConfigError(
            f"{where}: kind = 'digits' needs scikit-learn, which ships the images: "
            "`uv sync --extra digits` (or pip install 'lambda-hat[digits]')"
        )
    return build_spec(DigitsSpec, table, where)


def build(spec: DigitsSpec, model, teacher, rng_key, dtype) -> Dataset:
    import jax
    from sklearn.datasets import load_digits

    images = load_digits()
    x = (np.asarray(images.data) / 16.0).astype(np.dtype(dtype))
    y = np.asarray(images.target, np.int32)
    order = np.asarray(jax.random.permutation(rng_key, x.shape[0]))
    train, test = order[: spec.n_data], order[spec.n_data :]
    if test.size:
        return Dataset(x[train], y[train], x[test], y[test])
    return Dataset(x[train], y[train])


def describe(cfg: dict) -> str:
    return f"digits 8×8 ({cfg.get('test_fraction')} held out)"


KIND = DataKind(
    name="digits",
    spec=DigitsSpec,
    help="scikit-learn's 8x8 digits (needs the 'digits' extra): test_fraction",
    parse=parse,
    build=build,
    describe=describe,
    labels=lambda spec: "classes",
    shape=lambda spec: (64, 10),
)
