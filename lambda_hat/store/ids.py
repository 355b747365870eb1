"""Canonical JSON and content-addressed IDs.

``target_id = "tgt_" + sha256(canonical target spec)[:12]`` and
``run_id = sha1(canonical run spec incl. target_id)[:8]``. Canonical JSON has sorted keys,
no whitespace, and floats written by ``repr`` (so a resolved ``1`` and ``1.0`` of a float
field hash alike: resolution has already made both ``1.0``).

Run-spec fields added after schema 1 (``OPTIONAL_RUN_FIELDS``) are hashed only when they
differ from their default, so adding an option never changes the ID of an existing run.
"""

from __future__ import annotations

import hashlib
import json
import math

from lambda_hat.config.specs import RunSpec, TargetSpec, to_dict

SCHEMA_VERSION = 1
# name -> default that is left out of the hash (the behaviour before the field existed)
OPTIONAL_RUN_FIELDS = {"trace_params": False, "llc_trace": "full"}


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


def _as_dict(spec: TargetSpec | RunSpec | dict) -> dict:
    return spec if isinstance(spec, dict) else to_dict(spec)


def target_id(spec: TargetSpec | dict) -> str:
    """``tgt_`` + 12 hex of sha256 over the canonical Stage A spec."""
    digest = hashlib.sha256(canonical_json(_as_dict(spec)).encode()).hexdigest()
    return "tgt_" + digest[:12]


def run_id(spec: RunSpec | dict) -> str:
    """8 hex of sha1 over the canonical Stage B spec (which includes target_id)."""
    hashed = {
        k: v
        for k, v in _as_dict(spec).items()
        if not (k in OPTIONAL_RUN_FIELDS and v == OPTIONAL_RUN_FIELDS[k])
    }
    return hashlib.sha1(canonical_json(hashed).encode()).hexdigest()[:8]


def run_dirname(spec: RunSpec | dict) -> str:
    sampler = spec["sampler"] if isinstance(spec, dict) else spec.sampler
    return f"run_{sampler}_{run_id(spec)}"
