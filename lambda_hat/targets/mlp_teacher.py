"""``kind = "mlp_teacher"``: regression on a teacher MLP of its own architecture.

Unlike ``teacher``, whose teacher has the student's shape, this teacher is described in
the data table (``in_dim``, ``widths``, ``out_dim``, ``activation``), so a student that
cannot represent it gives the unrealizable case: a deep linear student of a tanh
teacher, or a narrow MLP of a wide one. Any model kind can learn it, a ``python`` model
included. y = teacher(x) + noise_scale · N(0, I); ``n_test`` more rows form a held-out
split. The teacher's weights are Gaussian with variance ``teacher_scale`` / fan_in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambda_hat.fields import build as build_spec
from lambda_hat.fields import check
from lambda_hat.targets.kind import DataKind, Dataset, ParseContext
from lambda_hat.targets.teacher import INPUTS

ACTIVATIONS = ("tanh", "relu", "gelu", "identity")


@dataclass(frozen=True)
class MlpTeacherSpec:
    """Inputs x; y = mlp(x) + noise, the MLP given here and not the student."""

    n_data: int = field(metadata=check(ge=2, help="number of training rows n"))
    in_dim: int = field(metadata=check(ge=1, help="input features (the student's in_dim)"))
    widths: tuple[int, ...] = field(metadata=check(ge=1, help="the teacher's hidden widths"))
    out_dim: int = field(metadata=check(ge=1, help="outputs (the student's out_dim)"))
    activation: str = field(default="tanh", metadata=check(choices=ACTIVATIONS))
    bias: bool = field(default=True, metadata=check(help="the teacher's layers have biases"))
    teacher_scale: float = field(
        default=1.0, metadata=check(gt=0.0, help="weight variance × fan_in of the teacher")
    )
    noise_scale: float = field(default=0.1, metadata=check(ge=0.0, help="std of output noise"))
    inputs: str = field(default="gaussian", metadata=check(choices=INPUTS, help="x distribution"))
    n_test: int = field(default=0, metadata=check(ge=0, help="held-out rows"))
    kind: str = field(default="mlp_teacher", metadata=check(choices=("mlp_teacher",)))


def parse(table: dict, where: str, ctx: ParseContext) -> MlpTeacherSpec:
    return build_spec(MlpTeacherSpec, table, where)


def build(spec: MlpTeacherSpec, model, teacher, rng_key, dtype) -> Dataset:
    import jax

    from lambda_hat.numerics.data import sample_inputs
    from lambda_hat.numerics.models import Network

    k_teacher, k_x, k_noise = jax.random.split(rng_key, 3)
    net = Network((spec.in_dim, *spec.widths, spec.out_dim), spec.activation, spec.bias)
    params = net.init(k_teacher, dtype, scale=spec.teacher_scale)
    rows = spec.n_data + spec.n_test
    x = sample_inputs(k_x, rows, spec.in_dim, spec.inputs, dtype)
    y = net.apply(params, x)
    y = y + spec.noise_scale * jax.random.normal(k_noise, y.shape, dtype)
    n = spec.n_data
    if spec.n_test:
        return Dataset(x[:n], y[:n], x[n:], y[n:])
    return Dataset(x, y)


def describe(cfg: dict) -> str:
    hidden = "×".join(str(w) for w in cfg.get("widths", []))
    sizes = "→".join(s for s in (str(cfg.get("in_dim")), hidden, str(cfg.get("out_dim"))) if s)
    return (
        f"mlp teacher {sizes} {cfg.get('activation', 'tanh')} n={cfg.get('n_data')} "
        f"σ={cfg.get('noise_scale', 0.1)}"
    )


KIND = DataKind(
    name="mlp_teacher",
    spec=MlpTeacherSpec,
    help=(
        "y = mlp(x) + noise, a teacher MLP of its own shape (the unrealizable case): n_data, "
        "in_dim, widths, out_dim, activation, bias, teacher_scale, noise_scale, inputs, n_test"
    ),
    parse=parse,
    build=build,
    describe=describe,
    shape=lambda spec: (spec.in_dim, spec.out_dim),
)
