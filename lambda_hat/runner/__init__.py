"""The one bridge from specs and a store to numerics and published artifacts.

Called inside worker processes: ``build_target`` (runner/target.py) and
``run_sampler`` (runner/run.py) each publish one artifact atomically under its lock,
append its manifest line, record a failure (never a partial result) when anything goes
wrong, and return what they did (``Published``).
"""

from lambda_hat.runner.common import Published, set_precision, training_lock
from lambda_hat.runner.run import run_sampler
from lambda_hat.runner.target import build_target, load_target, target_spec, true_llc

__all__ = [
    "Published",
    "build_target",
    "load_target",
    "run_sampler",
    "set_precision",
    "target_spec",
    "training_lock",
    "true_llc",
]
