"""Check the integrity of a store, and repair its index (no JAX).

Checks that every published artifact has its files, that their content is what was
published (the sha256 of each file against the artifact's ``checksums.sha256``), that
they are readable (JSON parses, ``.npz`` loads without pickle, ``trace.nc`` opens), that
the spec recorded in ``meta.json`` / ``analysis.json`` hashes to the folder's ID, that
the manifests match the folders, and that no stale temp folder or stale failure record
is left. Repairing rebuilds manifests from the folders, removes stale temp folders and
failure records of artifacts that exist, and gives artifacts published before checksums
existed their checksum file (when their files load); it never deletes or changes a
published file. Quarantining moves broken artifacts (a broken target with its runs) to
``<root>/_quarantine/<time>/`` so the next ``lambda-hat run`` rebuilds them.
``lambda-hat verify`` (commands/verify.py) prints the ``Report``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lambda_hat.store import checksums, housekeeping
from lambda_hat.store.ids import run_dirname, target_id
from lambda_hat.store.layout import (
    ANALYSIS,
    DATA,
    DIAGNOSTICS,
    FAILURES,
    META,
    PARAMS,
    TRACE,
    Layout,
    lock_path,
)
from lambda_hat.store.locks import Timeout, lock_for, soft_locks
from lambda_hat.store.npz import opened
from lambda_hat.store.quarantine import quarantine, quarantine_dir
from lambda_hat.store.run_names import RUN_GLOB

TARGET_FILES = (META, DATA, PARAMS)
RUN_FILES = (ANALYSIS, TRACE)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)  # need a human (broken artifacts)
    fixable: list[str] = field(default_factory=list)  # what --repair fixes
    checked: dict = field(default_factory=lambda: {"targets": 0, "runs": 0})
    broken: list[Path] = field(default_factory=list)  # folders with problems
    unchecksummed: list[Path] = field(default_factory=list)  # published before checksums
    quarantined: list[tuple[Path, Path]] = field(default_factory=list)  # (from, to)
    added: list[Path] = field(default_factory=list)  # files a run was not published with


def _json(path: Path, problems: list[str]) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        problems.append(f"{path}: missing")
        return None
    except (OSError, json.JSONDecodeError) as exc:
        problems.append(f"{path}: unreadable JSON ({exc})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path}: not a JSON object")
        return None
    return data


def _npz(path: Path, problems: list[str]) -> None:

    try:
        with opened(path) as data:
            for name in data.files:
                data[name]
    except FileNotFoundError:
        problems.append(f"{path}: missing")
    except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
        problems.append(f"{path}: unreadable npz ({type(exc).__name__}: {exc})")


def _netcdf(path: Path, problems: list[str]) -> None:
    """trace.nc opens as NetCDF-4 (HDF5) and holds a readable (chain, draw) posterior ``llc``."""
    if not path.is_file():
        problems.append(f"{path}: missing")
        return
    try:
        import h5py

        if not h5py.is_hdf5(path):
            problems.append(f"{path}: unreadable trace (not a NetCDF-4 / HDF5 file)")
            return
        with h5py.File(path, "r") as fh:
            group = fh.get("posterior")
            if group is None or "llc" not in group:
                problems.append(f"{path}: has no posterior 'llc' variable")
            elif group["llc"][...].ndim != 2:
                problems.append(f"{path}: posterior 'llc' is not a (chain, draw) array")
    except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
        problems.append(f"{path}: unreadable trace ({type(exc).__name__}: {exc})")


def check_target(folder: Path, problems: list[str]) -> None:

    meta = _json(folder / META, problems)
    _npz(folder / DATA, problems)
    _npz(folder / PARAMS, problems)
    if meta is None:
        return
    if meta.get("target_id") != folder.name:
        problems.append(f"{folder}/meta.json: target_id is {meta.get('target_id')!r}")
    spec = meta.get("spec")
    if not isinstance(spec, dict):
        problems.append(f"{folder}/meta.json: no 'spec' to check the ID against")
    elif target_id(spec) != folder.name:
        problems.append(f"{folder}: its spec hashes to {target_id(spec)}, not to its name")


def check_run(folder: Path, problems: list[str]) -> None:

    analysis = _json(folder / ANALYSIS, problems)
    _netcdf(folder / TRACE, problems)
    if analysis is None:
        return
    for name in analysis.get("diagnostics") or []:
        if not (folder / DIAGNOSTICS / name).is_file():
            problems.append(f"{folder}/diagnostics/{name}: missing")
    spec = analysis.get("spec")
    if not isinstance(spec, dict):
        problems.append(f"{folder}/analysis.json: no 'spec' to check the ID against")
        return
    if spec.get("target_id") != folder.parent.name:
        problems.append(f"{folder}: its spec names target {spec.get('target_id')!r}")
    if run_dirname(spec) != folder.name:
        problems.append(f"{folder}: its spec hashes to {run_dirname(spec)}, not to its name")


def stale_failures(root: Path) -> list[Path]:
    """Failure records of artifacts that are published (left by a crash in between)."""

    layout = Layout(root)
    out = [
        f for f in layout.failures_dir().glob("tgt_*.json") if layout.target_dir(f.stem).is_dir()
    ]
    for f in layout.targets.glob(f"tgt_*/{FAILURES}/{RUN_GLOB}.json"):
        if (f.parent.parent / f.stem).is_dir():
            out.append(f)
    return sorted(out)


def verify(
    root: Path, repair: bool = False, break_soft_locks: bool = False, quarantine: bool = False
) -> Report:

    layout = Layout(root)
    report = Report()
    if soft_locks():
        for lock in housekeeping.soft_lock_files(root):
            if break_soft_locks:
                lock.unlink(missing_ok=True)
                report.fixable.append(f"removed soft lock {lock}")
            else:
                report.problems.append(
                    f"{lock}: soft lock held, or left by a killed process; if nothing runs "
                    "on this store, remove it with `lambda-hat verify --break-soft-locks`"
                )
    if repair:
        for tmp in housekeeping.clean_stale_temps(root):
            report.fixable.append(f"removed stale temp folder {tmp}")
        for f in stale_failures(root):
            f.unlink(missing_ok=True)
            report.fixable.append(f"removed stale failure record {f}")
        for check in housekeeping.reconcile(root, fix=True):
            report.fixable += [f"rebuilt: {p}" for p in check.problems()]
    else:
        report.fixable += [f"{t}: stale temp folder" for t in housekeeping.stale_temp_folders(root)]
        report.fixable += [
            f"{f}: failure record of a published artifact" for f in stale_failures(root)
        ]
        for check in housekeeping.reconcile(root, fix=False):
            report.fixable += check.problems()
    if not layout.targets.is_dir():
        return report
    first_artifact_problem = len(report.problems)  # those before are not about artifacts
    for tdir in sorted(p for p in layout.targets.glob("tgt_*") if p.is_dir()):
        report.checked["targets"] += 1
        before = len(report.problems)
        check_target(tdir, report.problems)
        _check_sums(tdir, report, repair, before, [f for f in TARGET_FILES if (tdir / f).is_file()])
        target_broken = len(report.problems) > before
        if target_broken:
            report.broken.append(tdir)
        for rdir in sorted(p for p in tdir.glob(RUN_GLOB) if p.is_dir()):
            report.checked["runs"] += 1
            before = len(report.problems)
            check_run(rdir, report.problems)
            _check_sums(rdir, report, repair, before, None)
            if len(report.problems) > before and not target_broken:
                report.broken.append(rdir)
    if quarantine and report.broken:
        _quarantine_broken(root, report)
        del report.problems[first_artifact_problem:]  # moved out: no longer in the store
    return report


def _check_sums(folder: Path, report: Report, repair: bool, before: int, names) -> None:
    """Compare ``folder``'s files with its checksums; note (or, repairing, add) missing ones.

    Checksums are added only to an artifact whose files all passed the other checks
    (``before``: the problem count before this artifact), so a broken file is never
    blessed; ``names`` are the files to cover (None: every file in the folder).
    """

    if checksums.check(folder, report.problems) is not None:
        if names is None:  # a run: every file it has was published with it
            report.added += checksums.added(folder)
        return
    if not repair or len(report.problems) > before:
        report.unchecksummed.append(folder)
        return
    try:
        with lock_for(lock_path(folder)).acquire(timeout=10):
            added = checksums.add(folder, names or checksums.files_of(folder))
    except Timeout:
        report.unchecksummed.append(folder)
        return
    if added:
        report.fixable.append(f"added checksums to {folder}")


def _quarantine_broken(root: Path, report: Report) -> None:
    """Move every broken folder out of the store, then make the manifests match."""

    into = quarantine_dir(root)
    for folder in report.broken:
        report.quarantined.append((folder, quarantine(folder, root, into)))
    housekeeping.reconcile(root, fix=True)
