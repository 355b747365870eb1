"""Stale temp folders and manifest reconciliation (no JAX, no workers)."""

from __future__ import annotations

import json
import time

from lambda_hat.store import housekeeping, manifest
from lambda_hat.store.layout import Layout, lock_path
from lambda_hat.store.records import RunAnalysis
from tests.store.faults import held_elsewhere

TID = "tgt_0123456789ab"


def _target(root, tid=TID, created=1.0):
    layout = Layout(root)
    folder = layout.target_dir(tid)
    folder.mkdir(parents=True)
    meta = {
        "target_id": tid,
        "created_at": created,
        "seed": 3,
        "names": {"model": "m", "data": "d", "training": "t"},
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def _run(root, run_id, created, tid=TID):
    folder = Layout(root).run_dir(tid, f"run_sgld_{run_id}")
    folder.mkdir(parents=True)
    analysis = {
        "target_id": tid,
        "run_id": run_id,
        "sampler": "sgld",
        "created_at": created,
        "walltime_sec": 1.5,
        "spec": {"params": {"step_size": 0.1}},
    }
    (folder / "analysis.json").write_text(json.dumps(analysis))
    return folder


def test_temp_artifact_parses_the_final_name(tmp_path):
    tmp = tmp_path / ".tmp-run_sgld_abcd1234-4242-a1b2c3d4"
    assert housekeeping.temp_artifact(tmp) == tmp_path / "run_sgld_abcd1234"
    assert housekeeping.temp_artifact(tmp_path / ".tmp-x") is None


def test_stale_temp_removed_live_one_kept(tmp_path):
    root = tmp_path / "store"
    _target(root)
    tdir = Layout(root).target_dir(TID)
    stale = tdir / ".tmp-run_sgld_aaaaaaaa-999-00ff00ff"
    live = tdir / ".tmp-run_sgld_bbbbbbbb-998-00ff00ff"
    stale.mkdir()
    (stale / "partial.bin").write_bytes(b"x")
    live.mkdir()
    # Another process holds the live one's lock, as a builder would.
    with held_elsewhere(lock_path(tdir / "run_sgld_bbbbbbbb")):
        assert housekeeping.stale_temp_folders(root) == [stale]
        assert housekeeping.in_progress(tdir) == [tdir / "run_sgld_bbbbbbbb"]
        assert housekeeping.clean_stale_temps(root) == [stale]
        assert not stale.exists() and live.exists()
    assert housekeeping.in_progress(tdir) == []  # its builder is gone
    assert housekeeping.clean_stale_temps(root) == [live]


def test_reconcile_fixes_duplicate_dangling_torn_and_missing_lines(tmp_path):
    root = tmp_path / "store"
    _target(root)
    a = _run(root, "aaaaaaaa", created=10.0)
    _run(root, "bbbbbbbb", created=20.0)
    layout = Layout(root)
    path = layout.runs_manifest(TID)
    analysis_a = RunAnalysis.from_json(json.loads((a / "analysis.json").read_text()))
    entry_a = manifest.run_entry(analysis_a, a)
    gone = dict(entry_a, run_id="cccccccc")
    path.write_text(
        json.dumps(entry_a)
        + "\n"
        + json.dumps(entry_a)
        + "\n"
        + json.dumps(gone)
        + "\n"
        + '{"target_id": "tgt_'  # a torn last line
    )
    check = housekeeping.reconcile_runs(root, TID, fix=False)
    assert check.torn == 1 and check.duplicates == ["aaaaaaaa"]
    assert check.dangling == ["cccccccc"] and check.missing == ["bbbbbbbb"]
    assert len(check.problems()) == 4

    housekeeping.reconcile_runs(root, TID, fix=True)
    lines = path.read_text().splitlines()
    assert [json.loads(x)["run_id"] for x in lines] == ["aaaaaaaa", "bbbbbbbb"]
    assert json.loads(lines[1])["artifact_path"] == str(layout.run_dir(TID, "run_sgld_bbbbbbbb"))
    assert housekeeping.reconcile_runs(root, TID, fix=False).ok

    cat = housekeeping.reconcile_catalog(root, fix=True)
    assert cat.missing == [TID]
    assert manifest.read(layout.catalog) == [
        {"target_id": TID, "created_at": 1.0, "model": "m", "data": "d", "training": "t", "seed": 3}
    ]
    assert all(c.ok for c in housekeeping.reconcile(root, fix=False))


def test_reconcile_leaves_a_consistent_manifest_untouched(tmp_path):
    root = tmp_path / "store"
    _target(root)
    _run(root, "aaaaaaaa", created=10.0)
    housekeeping.reconcile(root)
    path = Layout(root).runs_manifest(TID)
    before = path.stat().st_mtime_ns
    time.sleep(0.01)
    assert all(c.ok for c in housekeeping.reconcile(root))
    assert path.stat().st_mtime_ns == before
