"""Content checksums of an artifact: ``checksums.sha256`` beside its files.

Written by ``publish`` into the temporary folder after the artifact's files and before
the rename, so every published artifact carries the sha256 of each file it was
published with, in ``sha256sum`` format (``cd`` into the folder and ``sha256sum -c
checksums.sha256`` checks it without lambda-hat). ``lambda-hat verify`` recomputes
them: a changed, truncated or missing file is a problem naming the file. Only the files
present at publication are listed: what is added to a target folder later (its runs,
``_runs.jsonl``, ``_failures/``, lock files) is not part of the target.

Artifacts published before checksums existed have no such file; ``add`` writes one for
them (``verify --repair``, for artifacts whose files still load), atomically and never
replacing an existing one. IDs are not affected: they hash specs, not files.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from lambda_hat.fileio import sha256_file as digest

NAME = "checksums.sha256"


def files_of(folder: Path) -> list[str]:
    """Relative paths (POSIX) of every file below ``folder`` but the checksum file."""
    out = []
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            rel = Path(dirpath, name).relative_to(folder).as_posix()
            if rel != NAME:
                out.append(rel)
    return sorted(out)


def _text(folder: Path, names: list[str]) -> str:
    return "".join(f"{digest(folder / name)}  {name}\n" for name in names)


def write(folder: Path) -> None:
    """Record the checksum of every file now in ``folder`` (a temp folder being built)."""
    (folder / NAME).write_text(_text(folder, files_of(folder)))


def read(folder: Path) -> dict[str, str] | None:
    """{relative path: sha256} recorded for ``folder``; None when it has no checksums."""
    try:
        text = (folder / NAME).read_text()
    except FileNotFoundError:
        return None
    recorded = {}
    for line in text.splitlines():
        hexdigest, sep, name = line.partition("  ")
        if not sep or len(hexdigest) != 64:
            raise ValueError(f"malformed line {line!r}")
        recorded[name] = hexdigest
    return recorded


def check(folder: Path, problems: list[str]) -> bool | None:
    """Append a problem for each file whose content differs from its checksum.

    Returns None when ``folder`` has no checksum file, else whether all matched.
    """
    try:
        recorded = read(folder)
    except (OSError, ValueError) as exc:
        problems.append(f"{folder / NAME}: unreadable ({exc})")
        return False
    if recorded is None:
        return None
    ok = True
    for name, expected in recorded.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing (listed in {NAME})")
            ok = False
        elif digest(path) != expected:
            problems.append(
                f"{path}: content changed since publication (sha256 differs from {NAME})"
            )
            ok = False
    return ok


def added(folder: Path) -> list[Path]:
    """Files below ``folder`` that its checksum file does not list (written into it
    after publication: the artifact is otherwise whole)."""
    recorded = read(folder) or {}
    return [folder / name for name in files_of(folder) if name not in recorded]


def add(folder: Path, names: list[str]) -> bool:
    """Give an artifact published without checksums a checksum file for ``names``.

    Written to a temporary name and linked into place, so it is never torn and never
    replaces a checksum file that exists (returns False then). Call under the
    artifact's lock.
    """
    final = folder / NAME
    if final.exists():
        return False
    tmp = folder / f".{NAME}.{os.getpid()}-{secrets.token_hex(4)}"
    try:
        tmp.write_text(_text(folder, names))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.link(tmp, final)  # fails if another process added one meanwhile
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True
