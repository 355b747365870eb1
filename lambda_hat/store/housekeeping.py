"""Keep a store consistent after crashes: stale temp folders and manifest lines.

Folders are the source of truth. A ``.tmp-<name>-<pid>-<rand>`` folder whose artifact
lock is free belongs to a builder that died (``kill -9``, power loss): it is removed. A
manifest is reconciled with the folders beside it: torn, duplicate and dangling lines
go, published artifacts without a line get one. ``lambda-hat run`` does this for the
targets it touches; ``lambda-hat verify --repair`` for the whole store. No JAX here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lambda_hat.store import manifest
from lambda_hat.store.jsonio import read_json
from lambda_hat.store.layout import ANALYSIS, META, TMP_PREFIX, Layout, lock_path
from lambda_hat.store.locks import Timeout, lock_for
from lambda_hat.store.publish import clean_stale, held, is_locked
from lambda_hat.store.records import RunAnalysis, TargetMeta
from lambda_hat.store.run_names import RUN_GLOB, parse_run_folder


def temp_artifact(tmp: Path) -> Path | None:
    """The final path a temp build folder ``.tmp-<name>-<pid>-<rand>`` was meant for."""
    name = tmp.name
    if not name.startswith(TMP_PREFIX):
        return None
    parts = name[len(TMP_PREFIX) :].rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return tmp.parent / parts[0]


def in_progress(folder: Path) -> list[Path]:
    """The artifacts in ``folder`` that a live process is building now: a temp folder
    of theirs exists and their lock is held (a dead builder's temp folder has no live
    holder; a published artifact is no longer in progress)."""
    finals = {temp_artifact(tmp) for tmp in folder.glob(f"{TMP_PREFIX}*") if tmp.is_dir()}
    return sorted(f for f in finals - {None} if not f.is_dir() and held(f))


def temp_folders(root: str | Path, target_ids: list[str] | None = None) -> list[Path]:
    """Every temp build folder of targets (and of runs of ``target_ids``, default all)."""
    layout = Layout(root)
    if not layout.targets.is_dir():
        return []
    found = [p for p in layout.targets.glob(f"{TMP_PREFIX}*") if p.is_dir()]
    parents = (
        [layout.target_dir(t) for t in target_ids]
        if target_ids is not None
        else [p for p in layout.targets.glob("tgt_*") if p.is_dir()]
    )
    for parent in parents:
        found += [p for p in parent.glob(f"{TMP_PREFIX}*") if p.is_dir()]
    return sorted(found)


def stale_temp_folders(root: str | Path, target_ids: list[str] | None = None) -> list[Path]:
    """Temp folders whose builder is gone (their artifact's lock is free)."""
    out = []
    for tmp in temp_folders(root, target_ids):
        final = temp_artifact(tmp)
        if final is None or not is_locked(final):
            out.append(tmp)
    return out


def clean_stale_temps(root: str | Path, target_ids: list[str] | None = None) -> list[Path]:
    """Remove stale temp folders, each under its artifact's lock; returns what went."""
    removed = []
    finals = set()
    for tmp in temp_folders(root, target_ids):
        final = temp_artifact(tmp)
        if final is None:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
        else:
            finals.add(final)
    for final in sorted(finals):
        lock = lock_for(lock_path(final))
        if lock.is_locked:
            continue  # this process is building it
        try:
            with lock.acquire(timeout=0):
                removed += clean_stale(final)
        except Timeout:
            continue  # a live builder owns it
    return sorted(removed)


# -- manifests -----------------------------------------------------------------------


@dataclass
class ManifestCheck:
    """What is wrong with one manifest, compared with the folders it indexes."""

    path: Path
    torn: int = 0
    duplicates: list[str] = field(default_factory=list)
    dangling: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.torn or self.duplicates or self.dangling or self.missing)

    def problems(self) -> list[str]:
        out = []
        if self.torn:
            out.append(f"{self.path}: {self.torn} unreadable line(s)")
        out += [f"{self.path}: duplicate lines for {k}" for k in self.duplicates]
        out += [f"{self.path}: line for {k}, whose folder is gone" for k in self.dangling]
        out += [f"{self.path}: no line for published {k}" for k in self.missing]
        return out


def _check(path: Path, key: str, folders: dict[str, Path], entry_of) -> tuple:
    raw = path.read_text() if path.exists() else ""
    lines = [ln for ln in raw.splitlines() if ln.strip()]
    entries = manifest.read(path)
    check = ManifestCheck(path, torn=len(lines) - len(entries))
    if raw and not raw.endswith("\n"):
        check.torn = max(check.torn, 1)
    seen: dict[str, dict] = {}
    for e in entries:
        k = e.get(key)
        if k in seen and k not in check.duplicates:
            check.duplicates.append(k)
        seen[k] = e
    check.dangling = [k for k in seen if k not in folders]
    check.missing = [k for k in folders if k not in seen]
    if check.ok:
        return check, None
    fixed = []
    for k, folder in folders.items():
        entry = seen.get(k)
        if entry is None:
            try:
                entry = entry_of(folder)
            except (OSError, ValueError, KeyError):
                continue  # an unreadable artifact: verify reports it, nothing to index
        fixed.append(entry)
    fixed.sort(key=lambda e: (e.get("created_at") or 0, str(e.get(key))))
    return check, fixed


def reconcile_catalog(root: str | Path, fix: bool = True) -> ManifestCheck:
    """Compare (and with ``fix``, rewrite) ``targets/_catalog.jsonl`` with the folders."""
    layout = Layout(root)
    path = layout.catalog
    with lock_for(lock_path(path)):
        folders = {}
        if layout.targets.is_dir():
            folders = {p.name: p for p in sorted(layout.targets.glob("tgt_*")) if p.is_dir()}
        check, fixed = _check(
            path, "target_id", folders, lambda f: manifest.catalog_entry(_meta(f))
        )
        if fix and fixed is not None and (folders or path.exists()):
            manifest.rebuild(path, fixed)
    return check


def _meta(folder: Path) -> TargetMeta:
    return TargetMeta.from_json(read_json(folder / META), folder.name)


def _analysis(folder: Path) -> RunAnalysis:
    return RunAnalysis.from_json(read_json(folder / ANALYSIS), folder.name)


def _run_key(name: str) -> str:
    """A run folder's ``_runs.jsonl`` key: its run ID (its whole name if not named as a run)."""
    run = parse_run_folder(name)
    return run.run_id if run else name


def reconcile_runs(root: str | Path, tid: str, fix: bool = True) -> ManifestCheck:
    """Compare (and with ``fix``, rewrite) a target's ``_runs.jsonl`` with its run folders."""
    layout = Layout(root)
    path = layout.runs_manifest(tid)
    target = layout.target_dir(tid)
    with lock_for(lock_path(path)):
        folders = {_run_key(p.name): p for p in sorted(target.glob(RUN_GLOB)) if p.is_dir()}
        check, fixed = _check(
            path,
            "run_id",
            folders,
            lambda f: manifest.run_entry(_analysis(f), layout.run_dir(tid, f.name)),
        )
        if fix and fixed is not None and target.is_dir():
            manifest.rebuild(path, fixed)
    return check


def reconcile(root: str | Path, target_ids: list[str] | None = None, fix: bool = True):
    """Reconcile the catalog and the runs manifests of ``target_ids`` (default all)."""
    layout = Layout(root)
    if target_ids is None:
        target_ids = (
            sorted(p.name for p in layout.targets.glob("tgt_*") if p.is_dir())
            if layout.targets.is_dir()
            else []
        )
    checks = [reconcile_catalog(root, fix)]
    checks += [reconcile_runs(root, t, fix) for t in target_ids if layout.target_dir(t).is_dir()]
    return checks


def soft_lock_files(root: str | Path) -> list[Path]:
    """Lock files present under the store: with soft locks, each is held or stale."""
    targets = Layout(root).targets
    if not targets.is_dir():
        return []
    return sorted(
        p for p in [*targets.glob(".*.lock"), *targets.glob("tgt_*/.*.lock")] if p.is_file()
    )
