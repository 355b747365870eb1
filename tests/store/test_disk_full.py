"""A full disk (ENOSPC, or EDQUOT) at a write of the publish path, injected: the write's
partial work is undone and one StoreFullError names the store and what to do."""

from __future__ import annotations

import errno
import os

import pytest

from lambda_hat.errors import StoreFullError
from lambda_hat.store import failures, manifest, space
from lambda_hat.store.layout import Layout
from lambda_hat.store.publish import publish


def _full(code=errno.ENOSPC):
    return OSError(code, os.strerror(code))


def test_a_full_disk_while_building_leaves_nothing_and_names_the_store(tmp_path):
    final = Layout(tmp_path / "store").target_dir("tgt_0123456789ab")

    def build(tmp):
        (tmp / "data.npz").write_bytes(b"x" * 100)
        raise _full()

    with pytest.raises(StoreFullError) as err:
        publish(final, build)
    message = str(err.value)
    assert f"no space is left on the device of store {tmp_path / 'store'}" in message
    assert "--root" in message and "what is stored is intact" in message
    assert not final.exists()
    assert [p.name for p in final.parent.iterdir()] == [f".{final.name}.lock"]


def test_hdf5_and_quota_errors_count_as_full_and_others_do_not(tmp_path):
    hdf5 = OSError("Can't write data (file write failed: errno = 28, error message = ...)")
    assert space.is_full(hdf5) and space.is_full(_full(errno.EDQUOT))
    assert not space.is_full(_full(errno.EACCES)) and not space.is_full(ValueError("x"))
    assert "quota is exhausted" in str(space.full_error(tmp_path, _full(errno.EDQUOT)))
    final = Layout(tmp_path).target_dir("tgt_0123456789ab")

    def denied(tmp):
        raise _full(errno.EACCES)

    with pytest.raises(PermissionError):
        publish(final, denied)


def _entry(i: int) -> dict:
    return {"run_id": f"{i:08x}", "n": i}


def test_a_full_disk_mid_append_leaves_the_manifest_as_it_was(tmp_path, monkeypatch):
    path = Layout(tmp_path).runs_manifest("tgt_0123456789ab")
    manifest.record(path, _entry(1), "run_id", lambda e: True)
    old = path.read_bytes()
    real = os.write

    def half_then_full(fd, data):
        real(fd, bytes(data[: len(data) // 2]))
        raise _full()

    monkeypatch.setattr(manifest.os, "write", half_then_full)
    with pytest.raises(StoreFullError, match="no space is left"):
        manifest.record(path, _entry(2), "run_id", lambda e: True)
    monkeypatch.undo()
    assert path.read_bytes() == old  # the half line was cut off again
    manifest.record(path, _entry(2), "run_id", lambda e: True)
    assert manifest.read(path) == [_entry(1), _entry(2)]


def test_a_full_disk_while_rewriting_a_manifest_keeps_the_old_one(tmp_path, monkeypatch):
    path = Layout(tmp_path).runs_manifest("tgt_0123456789ab")
    path.parent.mkdir(parents=True)
    path.write_text('{"run_id": "00000001"}\n{"torn')  # a torn line makes record rewrite
    old = path.read_bytes()
    monkeypatch.setattr(manifest.os, "fsync", lambda fd: (_ for _ in ()).throw(_full()))
    with pytest.raises(StoreFullError):
        manifest.record(path, _entry(2), "run_id", lambda e: True)
    assert path.read_bytes() == old
    assert sorted(p.name for p in path.parent.iterdir()) == ["._runs.jsonl.lock", "_runs.jsonl"]


def test_a_failure_that_cannot_be_recorded_for_lack_of_space_is_skipped(tmp_path, monkeypatch):
    path = Layout(tmp_path).target_failure("tgt_0123456789ab")
    from lambda_hat.store import jsonio

    monkeypatch.setattr(jsonio.os, "fsync", lambda fd: (_ for _ in ()).throw(_full()))
    assert failures.record(path, ValueError("boom"), {}) is False
    assert list(path.parent.iterdir()) == []  # no temp file left
    monkeypatch.undo()
    assert failures.record(path, ValueError("boom"), {}) is True and path.is_file()
