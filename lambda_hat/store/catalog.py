"""Read-only views of a store: targets, runs and failures, from the folders (no locks).

Folders are the source of truth; a folder under its final name is complete. Readers
tolerate unreadable files by reporting them rather than crashing. What is read comes as
typed records (``store/records.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lambda_hat.errors import AmbiguousIdError
from lambda_hat.store.housekeeping import in_progress
from lambda_hat.store.layout import ANALYSIS, FAILURES, META, RESUME, Layout
from lambda_hat.store.records import FailureRecord, RunAnalysis, TargetMeta
from lambda_hat.store.run_names import RUN_GLOB, parse_run_folder


@dataclass
class RunRecord:
    target_id: str
    dirname: str
    path: Path
    analysis: RunAnalysis | None
    error: str | None = None

    @property
    def sampler(self) -> str:
        """The sampler named by the folder (``?`` for a folder not named as a run)."""
        run = parse_run_folder(self.dirname)
        return run.sampler if run else "?"

    @property
    def run_id(self) -> str:
        """The run ID named by the folder (``?`` for a folder not named as a run)."""
        run = parse_run_folder(self.dirname)
        return run.run_id if run else "?"


@dataclass
class TargetRecord:
    target_id: str
    path: Path
    meta: TargetMeta | None
    error: str | None = None
    _runs: list[RunRecord] | None = field(default=None, repr=False)

    def runs(self) -> list[RunRecord]:
        if self._runs is None:
            self._runs = [
                _read_run(self.target_id, p) for p in sorted(self.path.glob(RUN_GLOB)) if p.is_dir()
            ]
        return self._runs

    def computing(self) -> list[str]:
        """Run folders a live process is computing now (``housekeeping.in_progress``)."""
        found = in_progress(self.path)
        return [p.name for p in found if parse_run_folder(p.name) is not None]

    def run_dirnames(self) -> list[str]:
        return sorted(p.name for p in self.path.glob(RUN_GLOB) if p.is_dir())

    def stopped(self) -> list[str]:
        """Runs stopped with their progress saved (``_resume/``), neither published nor
        being computed: the next attempt resumes them (``store/snapshots.py``)."""
        saved = {p.name.split(".")[0] for p in (self.path / RESUME).glob(f"{RUN_GLOB}.npz")}
        taken = set(self.run_dirnames()) | set(self.computing())
        return sorted(n for n in saved - taken if parse_run_folder(n) is not None)


def _load(path: Path) -> tuple[dict | None, str | None]:
    """A JSON object from ``path``, or None and why not."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None, f"{path.name} missing"
    except (OSError, json.JSONDecodeError) as exc:
        return None, f"{path.name} unreadable: {exc}"
    if not isinstance(data, dict):
        return None, f"{path.name} unreadable: not a JSON object"
    return data, None


def _failure(path: Path) -> FailureRecord | None:
    data, _ = _load(path)
    return FailureRecord.from_json(data, path) if data is not None else None


def _hex_id(name: str) -> str:
    """The hex ID in a target ID or a run folder name (what a bare prefix is matched to)."""
    run = parse_run_folder(name)
    return run.run_id if run else name.removeprefix("tgt_")


def _read_run(target_id: str, path: Path) -> RunRecord:
    analysis, err = _load(path / ANALYSIS)
    record = RunAnalysis.from_json(analysis, path.name) if analysis is not None else None
    return RunRecord(target_id, path.name, path, record, err)


class Catalog:
    """Browse a store under ``root``."""

    def __init__(self, root: str | Path):
        self.layout = Layout(root)

    def target_ids(self) -> list[str]:
        if not self.layout.targets.is_dir():
            return []
        return sorted(
            p.name
            for p in self.layout.targets.iterdir()
            if p.name.startswith("tgt_") and p.is_dir()
        )

    def target(self, target_id: str) -> TargetRecord:
        path = self.layout.target_dir(target_id)
        meta, err = _load(path / META)
        return TargetRecord(
            target_id, path, TargetMeta.from_json(meta, target_id) if meta else None, err
        )

    def targets(self) -> list[TargetRecord]:
        return [self.target(t) for t in self.target_ids()]

    def has_target(self, target_id: str) -> bool:
        return self.layout.target_dir(target_id).is_dir()

    def run(self, target_id: str, dirname: str) -> RunRecord:
        """One run's record, read from its folder alone."""
        return _read_run(target_id, self.layout.run_dir(target_id, dirname))

    def has_run(self, target_id: str, dirname: str) -> bool:
        return self.layout.run_dir(target_id, dirname).is_dir()

    def failures(self) -> list[FailureRecord]:
        """All recorded failures (targets and runs), newest first."""
        files = list(self.layout.failures_dir().glob("*.json"))
        if self.layout.targets.is_dir():
            files += list(self.layout.targets.glob(f"tgt_*/{FAILURES}/*.json"))
        out = [_failure(f) or FailureRecord(message=_load(f)[1] or "", path=f) for f in files]
        return sorted(out, key=lambda r: r.time or 0.0, reverse=True)

    def computing(self) -> list[str]:
        """Targets a live process is building now (their runs: ``TargetRecord``'s)."""
        return [p.name for p in in_progress(self.layout.targets) if p.name.startswith("tgt_")]

    def failure_for(self, target_id: str, dirname: str | None = None) -> FailureRecord | None:
        path = (
            self.layout.target_failure(target_id)
            if dirname is None
            else self.layout.run_failure(target_id, dirname)
        )
        return _failure(path)

    def resolve_prefix(self, prefix: str) -> str:
        """A full target ID or run folder name from any unique prefix of it.

        Accepts ``tgt_10bf``, ``10bf`` (a target's hex ID), ``run_sgld_64bc`` or ``64bc``
        (a run's hex ID).
        """
        names = list(self.target_ids())
        for t in self.target_ids():
            names += [p.name for p in self.layout.target_dir(t).glob(RUN_GLOB) if p.is_dir()]
        hits = sorted(n for n in names if n.startswith(prefix) or _hex_id(n).startswith(prefix))
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise AmbiguousIdError(f"no target or run in {self.layout.root} matches {prefix!r}")
        raise AmbiguousIdError(
            f"{prefix!r} matches {len(hits)} artifacts ({', '.join(hits[:5])}); "
            "type more characters"
        )
