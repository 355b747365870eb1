"""Append-only JSON-lines manifests (``_catalog.jsonl``, ``_runs.jsonl``).

Folders are the source of truth; manifests are an index. Readers skip a torn last line.
Writers append under the manifest's lock; when an entry for the same key exists already
(an artifact deleted by hand and rebuilt) or an entry points at a folder that no longer
exists, the manifest is rewritten atomically without them, so it never shows duplicate
or dangling lines. A full disk cuts an append back to the last complete line (and
removes a rewrite's temporary file) before it raises ``StoreFullError``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from lambda_hat.store import space
from lambda_hat.store.atomic import replacing
from lambda_hat.store.layout import lock_path
from lambda_hat.store.locks import lock_for
from lambda_hat.store.records import RunAnalysis, TargetMeta


def catalog_entry(meta: TargetMeta) -> dict:
    """The ``_catalog.jsonl`` line of a target (``step``: a training's checkpoint)."""
    entry = {"target_id": meta.target_id, "created_at": meta.created_at}
    entry.update({k: meta.names.get(k) for k in ("model", "data", "training")})
    entry["seed"] = meta.seed
    if meta.step is not None:
        entry["step"] = meta.step
    return entry


def run_entry(analysis: RunAnalysis, folder: Path) -> dict:
    """The ``_runs.jsonl`` line of a run published at ``folder``."""
    return {
        "target_id": analysis.target_id,
        "run_id": analysis.run_id,
        "sampler": analysis.sampler,
        "hyperparams": analysis.sampler_config.get("params", {}),
        "walltime_sec": analysis.walltime_sec,
        "artifact_path": str(folder),
        "created_at": analysis.created_at,
    }


def read(path: Path) -> list[dict]:
    """All complete entries; torn or garbled lines are skipped."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


def _dump(entry: dict) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"


def _rewrite(path: Path, entries: list[dict]) -> None:
    with replacing(path) as tmp, open(tmp, "w") as fh:
        fh.writelines(_dump(e) for e in entries)


def _append(path: Path, line: str) -> None:
    """Append one line, or leave the file as it was: a failed write (a full disk, a
    signal) is cut back to the old size, so no torn line is left behind."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            rest = memoryview(line.encode())
            while rest:  # unbuffered: nothing is left to be flushed after the cut
                rest = rest[os.write(fd, rest) :]
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def record(path: Path, entry: dict, key: str, exists: Callable[[dict], bool]) -> None:
    """Add ``entry`` (identified by ``entry[key]``), dropping stale lines if there are any."""
    with space.guard(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with lock_for(lock_path(path)):
            _record(path, entry, key, exists)


def _record(path: Path, entry: dict, key: str, exists: Callable[[dict], bool]) -> None:
    raw = path.read_text() if path.exists() else ""
    lines = raw.splitlines()
    current = read(path)
    keep = [e for e in current if e.get(key) != entry[key] and exists(e)]
    clean = len(keep) == len(current) == len(lines) and (not raw or raw.endswith("\n"))
    if clean:
        _append(path, _dump(entry))
    else:
        _rewrite(path, [*keep, entry])


def rebuild(path: Path, entries: list[dict]) -> None:
    """Replace a manifest wholesale (``verify --repair``)."""
    with space.guard(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with lock_for(lock_path(path)):
            _rewrite(path, entries)
