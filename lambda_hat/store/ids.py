"""Canonical JSON and content-addressed IDs.

``target_id = "tgt_" + sha256(canonical target spec)[:12]`` and
``run_id = sha1(canonical run spec incl. target_id)[:8]``. Canonical JSON has sorted keys,
no whitespace, and floats written by ``repr`` (so a resolved ``1`` and ``1.0`` of a float
field hash alike: resolution has already made both ``1.0``).

What is hashed is a spec's ``hash_view``: fields marked ``hashed=False`` (where a file lies)
are left out, and fields added after schema 1 (``omit_default=True``) are hashed only
when they differ from their default, so adding an option never changes an existing ID.
A dict (a stored ``to_dict``) is first rebuilt into its spec, so both hash alike.
"""

from __future__ import annotations

import hashlib
import json
import math

from lambda_hat.config.specs import RunSpec, TargetSpec, run_from_dict, target_from_dict
from lambda_hat.fields import hash_view
from lambda_hat.store.run_names import run_folder

SCHEMA_VERSION = 1


def canonical_json(obj) -> str:
    """Deterministic JSON text for hashing."""
    return json.dumps(_check(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _check(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"cannot hash a non-finite float {obj!r}")
    if isinstance(obj, dict):
        return {str(k): _check(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_check(v) for v in obj]
    return obj


def target_id(spec: TargetSpec | dict) -> str:
    """``tgt_`` + 12 hex of sha256 over the canonical Stage A spec."""
    if isinstance(spec, dict):
        spec = target_from_dict(spec)
    digest = hashlib.sha256(canonical_json(hash_view(spec)).encode()).hexdigest()
    return "tgt_" + digest[:12]


def run_id(spec: RunSpec | dict) -> str:
    """8 hex of sha1 over the canonical Stage B spec (which includes target_id)."""
    if isinstance(spec, dict):
        spec = run_from_dict(spec)
    return hashlib.sha1(canonical_json(hash_view(spec)).encode()).hexdigest()[:8]


def run_dirname(spec: RunSpec | dict) -> str:
    """The run's folder name, ``run_<sampler>_<run_id>``."""
    sampler = spec["sampler"] if isinstance(spec, dict) else spec.sampler
    return run_folder(sampler, run_id(spec))
