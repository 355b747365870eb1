"""Atomic publish under locks: exactly one builder, no partial artifacts, never overwrite."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from lambda_hat.store import manifest
from lambda_hat.store.publish import is_locked, publish, temp_siblings


def _slow_build(final: str, log: str, delay: float) -> None:
    def build(tmp: Path) -> None:
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(delay)
        (tmp / "data.txt").write_text(f"built by {os.getpid()}")

    publish(Path(final), build)


def test_publish_builds_once_and_skips_existing(tmp_path):
    final = tmp_path / "art"
    assert publish(final, lambda tmp: (tmp / "x").write_text("1")) is True
    assert publish(final, lambda tmp: (tmp / "x").write_text("2")) is False
    assert (final / "x").read_text() == "1"
    assert temp_siblings(final) == []


def test_two_processes_racing_produce_exactly_one(tmp_path):
    final, log = tmp_path / "art", tmp_path / "builders.log"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_slow_build, args=(str(final), str(log), 1.0)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(log.read_text().split()) == 1  # only one process ever built
    assert (final / "data.txt").read_text().startswith("built by")
    assert temp_siblings(final) == []


def test_killed_writer_leaves_no_final_folder_and_stale_temp_is_cleaned(tmp_path):
    final, log = tmp_path / "art", tmp_path / "builders.log"
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_slow_build, args=(str(final), str(log), 30.0))
    proc.start()
    deadline = time.time() + 20
    while not log.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert is_locked(final)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert not final.exists()
    assert len(temp_siblings(final)) == 1  # the killed build's temp folder
    assert not is_locked(final)  # flock released by the OS
    assert publish(final, lambda tmp: (tmp / "data.txt").write_text("rebuilt")) is True
    assert (final / "data.txt").read_text() == "rebuilt"
    assert temp_siblings(final) == []


def test_exception_in_build_leaves_nothing(tmp_path):
    final = tmp_path / "art"

    def boom(tmp: Path) -> None:
        (tmp / "half").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        publish(final, boom)
    assert not final.exists() and temp_siblings(final) == []


def test_manifest_skips_torn_line_and_drops_duplicates(tmp_path):
    path = tmp_path / "_runs.jsonl"
    alive = {"a", "b"}
    manifest.record(path, {"id": "a", "v": 1}, "id", lambda e: e["id"] in alive)
    with open(path, "a") as fh:
        fh.write('{"id": "b", "v"')  # torn write by a killed process
    assert [e["id"] for e in manifest.read(path)] == ["a"]
    manifest.record(path, {"id": "b", "v": 2}, "id", lambda e: e["id"] in alive)
    assert manifest.read(path) == [{"id": "a", "v": 1}, {"id": "b", "v": 2}]
    manifest.record(path, {"id": "a", "v": 3}, "id", lambda e: e["id"] in alive)  # rebuilt
    assert manifest.read(path) == [{"id": "b", "v": 2}, {"id": "a", "v": 3}]
    alive.discard("b")  # folder deleted by hand
    manifest.record(
        path, {"id": "c", "v": 4}, "id", lambda e: True if e["id"] == "c" else e["id"] in alive
    )
    assert [e["id"] for e in manifest.read(path)] == ["a", "c"]
    assert path.read_text().endswith("\n")
