"""Faults at each point of the publish path, for the fault-matrix tests.

Run as ``python -m tests.store.faults ROOT EXPERIMENTS KIND POINT``: builds the first
missing target (``KIND = target``) or run (``run``) of the experiments file in this
process, with ``POINT`` patched to SIGKILL the process there, as a power cut or the OOM
killer would. The points, in publish order:

- ``writing``: half-way through writing a file of the temporary folder;
- ``before_rename``: every file written, checksummed and flushed, not yet renamed;
- ``after_rename``: published under the final name, no manifest line yet;
- ``mid_append``: half of the manifest line written and flushed.

Also the helpers the tests share: a tmpfs mount, filling it to leave some bytes free,
and a digest of every stored file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

KILL_POINTS = ("writing", "before_rename", "after_rename", "mid_append")

PRE = """
[store]
root = "store"
[models.dln]
kind = "dln"
in_dim = 2
widths = [3]
out_dim = 2
rank = 1
[data.d]
n_data = 200
noise_scale = 0.1
[training.teacher]
init = "teacher"
steps = 0
{targets}
{samplers}
"""
TARGET = '[[targets]]\nmodel = "dln"\ndata = "d"\ntraining = "teacher"\nseed = {seed}\n'
SAMPLER = (
    'name = "sgld"\nthin = 1\nstep_size = 1e-4\nchains = 2\ndraws = 50\nburnin = 10\n'
    "seed = {seed}\n"
)


def experiments(path: Path, target_seeds=(1,), sampler_seeds=(0,)) -> Path:
    """DLN targets (teacher, no training) and SGLD runs: a small store quickly."""
    targets = "".join(TARGET.format(seed=s) for s in target_seeds)
    samplers = "".join("[[samplers]]\n" + SAMPLER.format(seed=s) for s in sampler_seeds)
    path.write_text(PRE.format(targets=targets, samplers=samplers))
    return path


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(point: str) -> None:
    from lambda_hat.store import jsonio, manifest, publish

    if point == "writing":

        def write_json(path, obj, indent=2):
            with open(path, "w") as fh:
                fh.write('{"partial": ')
                fh.flush()
                os.fsync(fh.fileno())
            _die()

        jsonio.write_json = write_json
        for writer in ("lambda_hat.runner.target", "lambda_hat.runner.run"):
            sys.modules[writer].write_json = write_json
    elif point == "before_rename":
        real = publish._fsync_tree

        def fsync_tree(folder):
            real(folder)
            _die()

        publish._fsync_tree = fsync_tree
    elif point == "after_rename":
        manifest.record = lambda *args, **kwargs: _die()
    elif point == "mid_append":

        def append(path, line):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, line.encode()[: len(line) // 2])
            os.fsync(fd)
            _die()

        manifest._append = append
    else:
        raise SystemExit(f"unknown point {point!r}; choose one of {', '.join(KILL_POINTS)}")


def main(root: str, exp: str, kind: str, point: str) -> None:
    from lambda_hat import runner
    from lambda_hat.config import load
    from lambda_hat.scheduler.plan import make_plan

    plan = make_plan(load(exp, root))
    _arm(point)
    if kind == "target":
        task = next(t for t in plan.targets if t.status != "done")
        runner.build_target(task.spec, Path(root), task.names)
    else:
        task = next(r for r in plan.runs if r.status != "done")
        runner.run_sampler(task.spec, Path(root))
    raise SystemExit(f"point {point!r} was never reached")


def run_killed(root: Path, exp: Path, kind: str, point: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tests.store.faults", str(root), str(exp), kind, point]
    cwd = Path(__file__).parents[2]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


# -- shared helpers ------------------------------------------------------------------


def stored_files(root: Path) -> dict[str, str]:
    """{path below targets/: sha256} of every artifact file (not locks, temp folders,
    manifests or failure records, which are not part of any artifact)."""
    out = {}
    base = Path(root) / "targets"
    for dirpath, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "_failures"]
        for name in files:
            if name.startswith(".") or name.endswith(".jsonl"):
                continue
            path = Path(dirpath, name)
            out[path.relative_to(base).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@contextlib.contextmanager
def held_elsewhere(lock: Path):
    """``lock`` held by another live process (a builder, as far as readers can tell)
    for the block's duration."""
    code = (
        f"import time; from filelock import FileLock; l = FileLock({str(lock)!r}); "
        "l.acquire(); print('held', flush=True); time.sleep(600)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def computing(final: Path):
    """The artifact ``final`` as a live process builds it, for the block's duration: not
    published, a temporary build folder of it, its lock held."""
    from lambda_hat.store.layout import lock_path

    shutil.rmtree(final, ignore_errors=True)
    (final.parent / f".tmp-{final.name}-4242-00ff").mkdir()
    return held_elsewhere(lock_path(final))


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """A tmpfs of ``size`` mounted at ``path``; raises OSError where mounting fails."""
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise OSError(proc.stderr.strip() or f"mount exited {proc.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def leave_free(mount: Path, nbytes: int) -> Path:
    """Fill ``mount`` with one file until only ``nbytes`` are free; returns the file."""
    filler = mount / "filler"
    filler.unlink(missing_ok=True)
    size = free_bytes(mount) - nbytes
    if size > 0:
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)
    return filler


if __name__ == "__main__":
    main(*sys.argv[1:])
