"""verify checks content: every published file against the artifact's checksums.sha256.

Corruptions that parse fine (a flipped byte inside an array, a hand-edited number in
analysis.json, a trace truncated and padded back to its size) are found, named, and
quarantined; artifacts published before checksums existed are counted once and given
checksums by ``--repair`` without any ID changing.
"""

from __future__ import annotations

import hashlib
import json
import subprocess

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store import checksums
from lambda_hat.store.layout import Layout
from tests.scheduler.helpers import base_store


def _setup(tmp_path):
    exp, root, _ = base_store(tmp_path)
    plan = make_plan(load(exp, root))
    layout = Layout(root)
    tid = plan.targets[0].target_id
    runs = [layout.run_dir(tid, r.dirname) for r in plan.runs]
    return root, layout.target_dir(tid), [r for r in runs if r.is_dir()]


def _verify(capsys, *args) -> tuple[int, str]:
    rc = main(["verify", *map(str, args)])
    return rc, capsys.readouterr().out


def test_every_published_file_is_checksummed(tmp_path):
    _, target, runs = _setup(tmp_path)
    recorded = checksums.read(target)
    assert sorted(recorded) == ["data.npz", "meta.json", "params.npz"]
    run = runs[0]
    listed = checksums.read(run)
    assert "analysis.json" in listed and "trace.nc" in listed
    assert "diagnostics/trace.png" in listed and "diagnostics/rank.png" in listed
    for name, hexdigest in listed.items():
        assert hashlib.sha256((run / name).read_bytes()).hexdigest() == hexdigest
    # the format is sha256sum's: the file checks without lambda-hat
    proc = subprocess.run(["sha256sum", "-c", checksums.NAME], cwd=run, capture_output=True)
    assert proc.returncode == 0, proc.stdout


def test_silent_corruption_is_found_named_and_quarantined(tmp_path, capsys):
    root, target, runs = _setup(tmp_path)
    rc, out = _verify(capsys, "--root", root)
    assert rc == 0 and "ok: the store is consistent" in out and "note:" not in out

    # a hand-edited number: still valid JSON with the right spec
    analysis = runs[0] / "analysis.json"
    doc = json.loads(analysis.read_text())
    doc["llc_mean"] += 1.0
    analysis.write_text(json.dumps(doc))
    # a trace truncated then padded back to its size
    trace = runs[1] / "trace.nc"
    size = trace.stat().st_size
    trace.write_bytes(trace.read_bytes()[: size // 2] + b"\0" * (size - size // 2))
    rc, out = _verify(capsys, "--root", root)
    assert rc == 1
    assert f"{analysis}: content changed since publication" in out
    assert f"{trace}: content changed since publication" in out

    rc, out = _verify(capsys, "--root", root, "--quarantine")
    assert rc == 0, out
    assert not runs[0].exists() and not runs[1].exists()
    assert len(list((root / "_quarantine").glob(f"*/targets/*/{runs[0].name}"))) == 1


def test_a_file_written_into_a_run_after_publication_is_named(tmp_path, capsys):
    """Its published files are intact, so the run is not broken (nothing is quarantined),
    but the file that is not its own is named."""
    root, _, runs = _setup(tmp_path)
    extra = runs[0] / "diagnostics" / "mine.png"
    extra.write_bytes(b"not the run's")
    rc, out = _verify(capsys, "--root", root, "--quarantine")
    assert rc == 0 and "ok: the store is consistent" in out
    assert f"note: {extra}: not published with its run (written there later)" in out
    assert extra.is_file() and runs[0].is_dir()


def test_a_flipped_byte_inside_an_array_of_the_target(tmp_path, capsys):
    root, target, _ = _setup(tmp_path)
    data = target / "data.npz"
    raw = bytearray(data.read_bytes())
    raw[-200] ^= 0x01  # inside the last array's values
    data.write_bytes(bytes(raw))
    rc, out = _verify(capsys, "--root", root)
    assert rc == 1 and f"{data}: content changed since publication" in out


def test_artifacts_without_checksums_are_counted_then_repaired(tmp_path, capsys):
    root, target, runs = _setup(tmp_path)
    before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    for folder in (target, *runs):
        (folder / checksums.NAME).unlink()
    rc, out = _verify(capsys, "--root", root)
    assert rc == 0, out  # a note, not a failure: the store is as consistent as before
    assert f"note: {1 + len(runs)} artifact(s) have no checksums" in out

    rc, out = _verify(capsys, "--root", root, "--repair")
    assert rc == 0 and out.count("repaired: added checksums to") == 1 + len(runs), out
    assert sorted(checksums.read(target)) == ["data.npz", "meta.json", "params.npz"]
    rc, out = _verify(capsys, "--root", root)
    assert rc == 0 and "note:" not in out and "ok: the store is consistent" in out
    for path, content in before.items():  # nothing published was changed, IDs included
        if path.name != checksums.NAME and "_runs.jsonl" not in str(path):
            assert path.read_bytes() == content, path


def test_repair_does_not_bless_a_broken_file(tmp_path, capsys):
    root, target, _ = _setup(tmp_path)
    (target / checksums.NAME).unlink()
    (target / "params.npz").write_bytes(b"not a zip")
    rc, out = _verify(capsys, "--root", root, "--repair")
    assert rc == 1 and "params.npz: unreadable npz" in out
    assert not (target / checksums.NAME).exists()
