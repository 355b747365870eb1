"""Where a result came from: code revision, package versions and the compute it ran on.

No JAX import at module level: ``compute`` imports it when a worker, which has JAX
loaded already, records a result.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("lambda-hat", "jax", "jaxlib", "blackjax", "optax", "arviz", "numpy")


@functools.cache
def code_sha() -> str:
    """Short git revision of the lambda-hat checkout ("+dirty" if modified), or 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", str(here)],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "") if sha else "unknown"


@functools.cache
def code_digest() -> str:
    """A digest of this installation's own source (every ``.py`` file of the package):
    what saved progress must match to be taken up. Unlike the git revision, it changes
    with every edit to the code, committed or not, and with an upgraded install, and
    not with a commit that touches only tests or documents."""
    return source_digest(Path(__file__).resolve().parent)


def source_digest(package: Path) -> str:
    """A digest of the names and contents of every ``.py`` file under ``package``."""
    out = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        out.update(path.relative_to(package).as_posix().encode() + b"\0")
        out.update(path.read_bytes() + b"\0")
    return out.hexdigest()[:16]


@functools.cache
def pkg_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@functools.cache
def _distributions() -> dict[str, list[str]]:
    """Top-level module → distributions, once per process (it reads every installed
    distribution's file list: ~0.4 s)."""
    return metadata.packages_distributions()


def imported_versions(*files) -> dict[str, str]:
    """Versions of the installed distributions that the Python ``files`` import at top
    level (a user's model module: flax, equinox, ...), read without importing them."""
    import ast

    names = set()
    for file in files:
        try:
            tree = ast.parse(Path(file).read_text())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    if not names:  # a built-in model: no file to read, and no scan of site-packages
        return {}
    dists = _distributions()
    out = {}
    for dist in sorted({d for n in names for d in dists.get(n, ())}):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def compute() -> dict:
    """The backend, its devices and the CPU threads XLA may use in this process.

    Recorded with every target and run because a value depends on them beyond the
    config: XLA's CPU thread pool is sized from the affinity mask, and its dot products
    split their sums by thread count, so the same run ID computed under ``--workers 1``
    (2 threads here) and ``--workers 2`` (1 each) differs in the last bits, which
    training or a long chain can carry into the third digit of λ̂.
    """
    import jax

    devices = jax.devices()
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "backend": jax.default_backend(),
        "devices": sorted({d.device_kind for d in devices}),
        "device_count": len(devices),
        "cpu_threads": threads,
    }
