"""``kind = "dln"``: a deep linear network, whose λ is known in closed form (Aoyagi)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from lambda_hat.errors import ConfigError
from lambda_hat.fields import build as build_spec
from lambda_hat.targets import network
from lambda_hat.targets.kind import ModelKind, ParseContext


def parse(table: dict, where: str, ctx: ParseContext) -> network.NetworkSpec:
    spec = build_spec(network.NetworkSpec, table, where)
    for key in ("activation", "bias"):
        if key in table:
            raise ConfigError(f"{where}.{key}: not used by kind = 'dln'; remove it")
    if spec.loss != "mse":
        raise ConfigError(f"{where}.loss: kind = 'dln' is a regression model; use loss = 'mse'")
    if spec.rank is None:
        raise ConfigError(f"{where}: kind = 'dln' needs 'rank' (the teacher's rank)")
    if spec.rank > min(spec.layer_sizes):
        raise ConfigError(
            f"{where}.rank: {spec.rank} exceeds the narrowest layer "
            f"({min(spec.layer_sizes)}); use a rank <= {min(spec.layer_sizes)}"
        )
    return dataclasses.replace(spec, activation="identity", bias=False)


def true_llc(model: network.NetworkSpec, data) -> Fraction | None:
    """Aoyagi's λ for a DLN fitted to data from its own rank-r teacher."""
    from lambda_hat.numerics.truth import dln_llc

    if getattr(data, "kind", None) != "teacher":
        return None
    return dln_llc(model.layer_sizes, model.rank)


def part_llc(model: network.NetworkSpec, data, leaves: tuple) -> Fraction | None:
    """λ when only one layer's W moves (``restrict = ["layer2/W"]``), at the teacher."""
    from lambda_hat.numerics.truth import dln_layer_llc

    if getattr(data, "kind", None) != "teacher" or len(leaves) != 1:
        return None
    layer = leaves[0].removeprefix("layer").removesuffix("/W")
    if not layer.isdigit():
        return None
    return dln_layer_llc(model.layer_sizes, model.rank, int(layer))


KIND = ModelKind(
    name="dln",
    spec=network.NetworkSpec,
    help="deep linear network: in_dim, widths, out_dim, rank (the teacher's)",
    parse=parse,
    build=network.build,
    describe=network.describe,
    true_llc=true_llc,
    leaves=network.leaves,
    part_llc=part_llc,
)
