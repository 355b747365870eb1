"""``kind = "teacher"`` (the default): regression on a teacher network plus Gaussian noise.

The teacher has the student's architecture: a random network for ``mlp``, a rank-r one
for ``dln``; y = teacher(x) + noise_scale · N(0, I).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambda_hat.fields import build as build_spec
from lambda_hat.fields import check
from lambda_hat.targets.kind import DataKind, Dataset, ParseContext

INPUTS = ("gaussian", "uniform")


@dataclass(frozen=True)
class TeacherDataSpec:
    """Synthetic regression data: inputs x, teacher outputs plus Gaussian noise."""

    n_data: int = field(metadata=check(ge=2, help="number of data points n"))
    noise_scale: float = field(default=0.1, metadata=check(ge=0.0, help="std of output noise"))
    inputs: str = field(default="gaussian", metadata=check(choices=INPUTS, help="x distribution"))
    input_rank: int | None = field(
        default=None,
        metadata=check(
            ge=1,
            omit_default=True,
            help="inputs in a random subspace of this dimension (a data-refined LLC's probe)",
        ),
    )
    # hashed only when not the default, so targets from before data kinds keep their IDs
    kind: str = field(default="teacher", metadata=check(choices=("teacher",), omit_default=True))


def parse(table: dict, where: str, ctx: ParseContext) -> TeacherDataSpec:
    return build_spec(TeacherDataSpec, table, where)


def build(spec: TeacherDataSpec, model, teacher, rng_key, dtype) -> Dataset:
    import jax

    from lambda_hat.numerics.data import sample_inputs

    k_x, k_noise = jax.random.split(rng_key)
    in_dim = teacher[0][0].shape[1]  # a built-in network's first W is (out, in)
    x = sample_inputs(k_x, spec.n_data, in_dim, spec.inputs, dtype)
    if spec.input_rank is not None and spec.input_rank < in_dim:
        basis = jax.random.normal(jax.random.fold_in(k_x, 1), (in_dim, spec.input_rank), dtype)
        q, _ = jax.numpy.linalg.qr(basis)  # an orthonormal basis of the subspace
        x = x @ q @ q.T
    y = model.apply(teacher, x)
    y = y + spec.noise_scale * jax.random.normal(k_noise, y.shape, dtype)
    return Dataset(x, y)


def describe(cfg: dict) -> str:
    rank = f" rank {cfg['input_rank']}" if cfg.get("input_rank") else ""
    inputs = cfg.get("inputs", "gaussian")
    return f"teacher n={cfg.get('n_data')} {inputs}{rank} σ={cfg.get('noise_scale')}"


KIND = DataKind(
    name="teacher",
    spec=TeacherDataSpec,
    help="y = teacher(x) + noise: n_data, noise_scale, inputs",
    parse=parse,
    build=build,
    describe=describe,
    needs_teacher=True,
)
