"""Experiments files and the typed specs they resolve to (no JAX here).

Names are loaded on first use: ``lambda_hat.config.specs`` and the experiments parser
are imported only by what needs them.
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
