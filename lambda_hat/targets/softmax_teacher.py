"""``kind = "softmax_teacher"``: classification labels sampled from a teacher network.

The teacher has the student's architecture (a random network); each label is drawn
from softmax(logit_scale · teacher(x)), so the student can represent the truth exactly
(a realizable model: with no hidden layer its λ is (K − 1)(d + 1)/2). ``n_test`` more
rows from the same teacher form a held-out split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambda_hat.fields import build as build_spec
from lambda_hat.fields import check
from lambda_hat.targets.kind import DataKind, Dataset, ParseContext
from lambda_hat.targets.teacher import INPUTS


@dataclass(frozen=True)
class SoftmaxTeacherSpec:
    """Inputs x; labels y ~ Categorical(softmax(logit_scale · teacher(x)))."""

    n_data: int = field(metadata=check(ge=2, help="number of training rows n"))
    inputs: str = field(default="gaussian", metadata=check(choices=INPUTS, help="x distribution"))
    logit_scale: float = field(
        default=1.0, metadata=check(gt=0.0, help="sharper (larger) or softer class probabilities")
    )
    n_test: int = field(default=0, metadata=check(ge=0, help="held-out rows"))
    kind: str = field(default="softmax_teacher", metadata=check(choices=("softmax_teacher",)))


def parse(table: dict, where: str, ctx: ParseContext) -> SoftmaxTeacherSpec:
    return build_spec(SoftmaxTeacherSpec, table, where)


def build(spec: SoftmaxTeacherSpec, model, teacher, rng_key, dtype) -> Dataset:
    import jax

    from lambda_hat.numerics.data import sample_inputs

    k_x, k_y = jax.random.split(rng_key)
    rows = spec.n_data + spec.n_test
    in_dim = teacher[0][0].shape[1]
    x = sample_inputs(k_x, rows, in_dim, spec.inputs, dtype)
    labels = jax.random.categorical(k_y, spec.logit_scale * model.apply(teacher, x), axis=-1)
    labels = labels.astype("int32")
    n = spec.n_data
    if spec.n_test:
        return Dataset(x[:n], labels[:n], x[n:], labels[n:])
    return Dataset(x, labels)


def describe(cfg: dict) -> str:
    return f"softmax teacher n={cfg.get('n_data')} {cfg.get('inputs', 'gaussian')}"


KIND = DataKind(
    name="softmax_teacher",
    spec=SoftmaxTeacherSpec,
    help="labels sampled from a softmax teacher network: n_data, inputs, logit_scale, n_test",
    parse=parse,
    build=build,
    describe=describe,
    labels=lambda spec: "classes",
    needs_teacher=True,
)
