"""The target kinds by name: ``kind = "..."`` under ``[models.*]`` and ``[data.*]``."""

from __future__ import annotations

from lambda_hat.errors import ConfigError
from lambda_hat.targets import (
    digits,
    dln,
    file_data,
    mlp,
    mlp_teacher,
    modular,
    python_data,
    python_model,
    softmax_teacher,
    teacher,
)
from lambda_hat.targets.kind import DataKind, ModelKind

MODEL_KINDS: dict[str, ModelKind] = {k.name: k for k in (mlp.KIND, dln.KIND, python_model.KIND)}
DATA_KINDS: dict[str, DataKind] = {
    k.name: k
    for k in (
        teacher.KIND,
        softmax_teacher.KIND,
        mlp_teacher.KIND,
        modular.KIND,
        digits.KIND,
        file_data.KIND,
        python_data.KIND,
    )
}
DEFAULT_DATA_KIND = "teacher"


def model_kind(name, where: str = "model") -> ModelKind:
    if name not in MODEL_KINDS:
        raise ConfigError(
            f"{where}.kind: unknown model kind {name!r}; choose one of {', '.join(MODEL_KINDS)}"
        )
    return MODEL_KINDS[name]


def data_kind(name, where: str = "data") -> DataKind:
    if name not in DATA_KINDS:
        raise ConfigError(
            f"{where}.kind: unknown data kind {name!r}; choose one of {', '.join(DATA_KINDS)}"
        )
    return DATA_KINDS[name]


def model_of(spec) -> ModelKind:
    return MODEL_KINDS[spec.kind]


def data_of(spec) -> DataKind:
    return DATA_KINDS[spec.kind]


def describe_model(cfg: dict | None) -> str:
    """One line for a stored model dict (no user code is imported)."""
    if not cfg:
        return "?"
    kind = MODEL_KINDS.get(cfg.get("kind"))
    return kind.describe(cfg) if kind else str(cfg.get("kind", "?"))


def describe_data(cfg: dict | None) -> str:
    if not cfg:
        return "?"
    kind = DATA_KINDS.get(cfg.get("kind", DEFAULT_DATA_KIND))
    return kind.describe(cfg) if kind else str(cfg.get("kind", "?"))
