"""Helpers for scheduler and command tests: tiny experiments files, real `lambda-hat`
processes, and one small real store built once per test session (copied per test)."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINY_TARGET = """
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

[[targets]]
model = "dln"
data = "d"
training = "teacher"
seed = {seed}
"""


def sampler_toml(seed: int = 0, step_size: float = 1e-4, draws: int = 50, thin: int = 1) -> str:
    return (
        f'\n[[samplers]]\nname = "sgld"\nstep_size = {step_size!r}\nchains = 2\n'
        f"draws = {draws}\nburnin = 10\nthin = {thin}\nseed = {seed}\n"
    )


def write_experiments(path: Path, target_seed: int = 1, samplers: list[dict] | None = None):
    """A DLN [2,3,2] target (teacher, no training) and SGLD entries (default: one)."""
    text = TINY_TARGET.format(seed=target_seed)
    for s in samplers or [{}]:
        text += sampler_toml(**s)
    path.write_text(text)
    return path


def cli_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "lambda_hat.cli", *map(str, args)]


def run_cli(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cli_cmd(*args), capture_output=True, text=True, timeout=timeout)


def start_cli(*args, log: Path) -> subprocess.Popen:
    """Start `lambda-hat` in its own session (so the test can kill its process group).

    The child first restores Python's Ctrl-C handler: a test suite started in the
    background by a non-interactive shell (``./.ci/run &``) inherits SIGINT ignored, and
    Python then installs no KeyboardInterrupt handler, so a test's Ctrl-C would never
    arrive. (Done in the child, not with ``preexec_fn``, which would fork this process
    that runs JAX threads.)
    """
    with open(log, "w") as fh:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-c", WITH_CTRL_C, *map(str, args)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


WITH_CTRL_C = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from lambda_hat.cli import main; sys.exit(main(sys.argv[1:]))"
)


def events(path: Path) -> list[dict]:
    from lambda_hat.scheduler.events import read_events

    return read_events(path)


def wait_for_event(path: Path, pred, timeout: float = 180, proc=None) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in events(path):
            if pred(e):
                return e
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before the event")
        time.sleep(0.05)
    raise AssertionError("timed out waiting for an event")


def temp_folders(root: Path) -> list[Path]:
    targets = root / "targets"
    return sorted(targets.glob(".tmp-*")) + sorted(targets.glob("tgt_*/.tmp-*"))


def assert_consistent(root: Path) -> None:
    """No temp folders, manifests match folders, every published artifact complete."""
    from lambda_hat.store.verify import verify

    assert temp_folders(root) == []
    report = verify(root)
    assert report.problems == [] and report.fixable == [], report


def manifest_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


# A good run (seed 0), another good run (seed 1), one that diverges (a recorded failure).
BASE_SAMPLERS = [{"seed": 0}, {"seed": 1}, {"step_size": 1e4}]
_BASE: dict = {}


def base_store(dest: Path) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """Copy of a real store (1 target, 2 runs, 1 failed run) into ``dest``.

    Built once per session by `lambda-hat run`; returns (experiments file, root, the
    build's completed process).
    """
    if not _BASE:
        build = Path(tempfile.mkdtemp(prefix="lh-base-"))
        atexit.register(shutil.rmtree, build, True)
        exp = write_experiments(build / "base.toml", samplers=BASE_SAMPLERS)
        proc = run_cli(
            "run", exp, "--root", build / "store", "--quiet", "--events", build / "events.jsonl"
        )
        _BASE.update(dir=build, proc=proc)
    build = _BASE["dir"]
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(build / "store", dest / "store")  # with its warm JAX cache
    shutil.copy(build / "base.toml", dest / "base.toml")
    shutil.copy(build / "events.jsonl", dest / "events.jsonl")
    return dest / "base.toml", dest / "store", _BASE["proc"]
