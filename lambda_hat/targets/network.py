"""The built-in networks (``mlp``, ``dln``): one spec, shared by both kinds."""

from __future__ import annotations

from dataclasses import dataclass, field

from lambda_hat.fields import check
from lambda_hat.targets.kind import LOSSES, Model


@dataclass(frozen=True)
class NetworkSpec:
    """Network architecture. ``mlp``: a multilayer perceptron; ``dln``: a deep linear net."""

    kind: str = field(metadata=check(choices=("mlp", "dln"), help="mlp | dln"))
    in_dim: int = field(metadata=check(ge=1, help="input dimension"))
    widths: tuple[int, ...] = field(metadata=check(ge=1, help="hidden layer widths"))
    out_dim: int = field(metadata=check(ge=1, help="output dimension (classes)"))
    activation: str = field(
        default="tanh",
        metadata=check(choices=("tanh", "relu", "gelu", "identity"), help="mlp only"),
    )
    bias: bool = field(default=True, metadata=check(help="mlp only: layers have biases"))
    rank: int | None = field(default=None, metadata=check(ge=0, help="dln only: teacher rank"))
    loss: str = field(
        default="mse",
        metadata=check(choices=LOSSES, omit_default=True, help="mse | cross_entropy"),
    )

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.in_dim, *self.widths, self.out_dim)


def build(spec: NetworkSpec, dtype, origin=None) -> Model:
    """The spec's network as pure functions of its ``[(W, b), ...]`` parameter list
    (``origin`` is for kinds built from user code; a network needs only its spec)."""
    from lambda_hat.numerics.models import dln_teacher, network

    net = network(spec)

    def teacher(rng_key):
        if spec.kind == "dln":
            return dln_teacher(net, spec.rank, rng_key, dtype)
        return net.init(rng_key, dtype)

    return Model(net.apply, lambda rng_key: net.init(rng_key, dtype), teacher)


def leaves(spec: NetworkSpec) -> tuple[tuple[str, int], ...]:
    """``layer1/W``, ``layer1/b``, ... (1-based, from the input) with their sizes, in
    the flat vector's order; a DLN's biases are empty."""
    sizes = spec.layer_sizes
    out = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), 1):
        out += [(f"layer{i}/W", fan_out * fan_in), (f"layer{i}/b", fan_out if spec.bias else 0)]
    return tuple(out)


def describe(cfg: dict) -> str:
    """``mlp 4→8×8→2 tanh`` from a stored model dict."""
    hidden = "×".join(str(w) for w in cfg.get("widths", []))
    sizes = [str(cfg.get("in_dim", "?")), hidden, str(cfg.get("out_dim", "?"))]
    text = f"{cfg.get('kind', '?')} " + "→".join(x for x in sizes if x)
    if cfg.get("kind") == "mlp" and cfg.get("activation"):
        text += f" {cfg['activation']}"
    if cfg.get("rank") is not None:
        text += f" r={cfg['rank']}"
    if cfg.get("loss", "mse") != "mse":
        text += f" {cfg['loss']}"
    return text
