"""Paths of the store (see ``shared/seed/output-layout.md``); pure path arithmetic (one
environment variable moves the compilation cache out of it)."""

from __future__ import annotations

import os
from pathlib import Path

TARGETS = "targets"
CATALOG = "_catalog.jsonl"
RUNS_MANIFEST = "_runs.jsonl"
FAILURES = "_failures"
RESUME = "_resume"
TMP_PREFIX = ".tmp-"
# a target's files
META = "meta.json"
DATA = "data.npz"
PARAMS = "params.npz"
# a run's files
ANALYSIS = "analysis.json"
TRACE = "trace.nc"
DIAGNOSTICS = "diagnostics"  # its plots


class Layout:
    """Where everything lives under a store root."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def targets(self) -> Path:
        return self.root / TARGETS

    @property
    def catalog(self) -> Path:
        return self.targets / CATALOG

    def target_dir(self, target_id: str) -> Path:
        return self.targets / target_id

    def run_dir(self, target_id: str, run_dirname: str) -> Path:
        return self.target_dir(target_id) / run_dirname

    def runs_manifest(self, target_id: str) -> Path:
        return self.target_dir(target_id) / RUNS_MANIFEST

    def target_failure(self, target_id: str) -> Path:
        """A target that failed to build: ``targets/_failures/tgt_x.json``."""
        return self.targets / FAILURES / f"{target_id}.json"

    def run_resume(self, target_id: str, run_dirname: str) -> Path:
        """A stopped run's saved progress: ``targets/tgt_x/_resume/run_<sampler>_<id>.npz``
        (``store/snapshots.py``)."""
        return self.target_dir(target_id) / RESUME / f"{run_dirname}.npz"

    def failures_dir(self) -> Path:
        return self.targets / FAILURES

    def run_failure(self, target_id: str, run_dirname: str) -> Path:
        """A run that failed: ``targets/tgt_x/_failures/run_<sampler>_<id>.json``."""
        return self.target_dir(target_id) / FAILURES / f"{run_dirname}.json"

    @property
    def cache_dir(self) -> Path:
        """JAX's compilation cache: ``.jax-cache`` in the store, or the folder that
        ``$LAMBDA_HAT_JAX_CACHE`` names (one cache for many stores: a test session's, or
        a cluster's scratch shared by its users)."""
        shared = os.environ.get("LAMBDA_HAT_JAX_CACHE", "")
        return Path(shared) if shared else self.root / ".jax-cache"

    @property
    def slurm_dir(self) -> Path:
        return self.root / "slurm"


def lock_path(artifact: Path) -> Path:
    """The lock file of an artifact: a hidden sibling, never inside it."""
    return artifact.parent / f".{artifact.name}.lock"
