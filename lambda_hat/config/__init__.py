"""Experiments files and the typed specs they resolve to (no JAX here).

Names are loaded on first use, so that ``lambda_hat.config.fields`` (which the target
kinds build on) imports without the experiments parser, which imports the kinds.
"""

import importlib

_EXPORTS = {
    "Experiment": "experiment",
    "TargetEntry": "experiment",
    "load": "experiment",
    "RunSpec": "specs",
    "SamplerSpec": "specs",
    "TargetSpec": "specs",
    "resolve_run": "specs",
    "to_dict": "specs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lambda_hat.config' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lambda_hat.config.{_EXPORTS[name]}"), name)
