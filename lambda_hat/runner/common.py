"""What building a target and running a sampler share: the published result, the
process's precision, which errors are a task's own, and a training run's lock."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lambda_hat.config.specs import TargetSpec
from lambda_hat.errors import StoreFullError
from lambda_hat.store.ids import target_id
from lambda_hat.store.layout import Layout
from lambda_hat.store.locks import lock_for
from lambda_hat.store.records import RunAnalysis, TargetMeta

Progress = Callable[[int, int], None]
Stage = Callable[[str], None]


@dataclass(frozen=True)
class Published:
    """What one task did. ``key``: the target ID or the run's folder name; ``path``: its
    folder; ``built``: False when it was in the store already (published by an earlier
    attempt, or by another process while this one waited for its lock); ``record``: the
    meta.json or analysis.json it wrote (None when not built here); ``siblings``: the
    other checkpoint targets its training published with it."""

    key: str
    path: Path
    built: bool
    record: TargetMeta | RunAnalysis | None = None
    siblings: tuple[str, ...] = ()


def set_precision(precision: str) -> None:
    """Make this process all-float64 or all-float32 (before any array is created)."""
    import jax

    want = precision == "float64"
    if bool(jax.config.jax_enable_x64) != want:
        jax.config.update("jax_enable_x64", want)


def recordable(exc: BaseException) -> bool:
    """A task's own error is recorded as its failure; a stop (a signal) or a full disk
    is not: it says nothing about the task, and its next attempt should simply run."""
    return isinstance(exc, Exception) and not isinstance(exc, StoreFullError)


def training_lock(spec, root: Path):
    """The lock of a checkpointed training run, shared by all its checkpoint targets (a
    no-op context for other specs). Take it *before* a checkpoint target's own lock:
    its holder publishes the siblings, taking their locks."""
    if not isinstance(spec, TargetSpec) or spec.training.at_step is None:
        return contextlib.nullcontext()
    training = dataclasses.replace(spec.training, at_step=None)
    whole = dataclasses.replace(spec, training=training, params_sha256="")
    return lock_for(Layout(root).targets / f".training-{target_id(whole)}.lock")
