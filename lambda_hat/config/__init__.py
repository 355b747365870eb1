"""Experiments files and the typed specs they resolve to (no JAX here)."""

from lambda_hat.config.experiment import Experiment, TargetEntry, load
from lambda_hat.config.specs import RunSpec, SamplerSpec, TargetSpec, resolve_run, to_dict

__all__ = [
    "Experiment",
    "RunSpec",
    "SamplerSpec",
    "TargetEntry",
    "TargetSpec",
    "load",
    "resolve_run",
    "to_dict",
]
