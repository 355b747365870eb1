"""Soft-lock mode: a lock file left by a killed process is reported, and can be broken."""

from __future__ import annotations

from lambda_hat.cli import main


def test_stale_soft_lock_is_reported_then_broken(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAMBDA_HAT_SOFT_LOCKS", "1")
    targets = tmp_path / "targets"
    targets.mkdir()
    stale = targets / ".tgt_0123456789ab.lock"
    stale.write_text("")
    assert main(["verify", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{stale}: soft lock held, or left by a killed process" in out
    assert main(["verify", "--root", str(tmp_path), "--break-soft-locks"]) == 0
    assert f"repaired: removed soft lock {stale}" in capsys.readouterr().out
    assert not stale.exists()
    assert main(["verify", "--root", str(tmp_path)]) == 0


def test_flock_mode_ignores_lock_files(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LAMBDA_HAT_SOFT_LOCKS", raising=False)
    targets = tmp_path / "targets"
    targets.mkdir()
    (targets / ".tgt_0123456789ab.lock").write_text("")  # flock files persist harmlessly
    assert main(["verify", "--root", str(tmp_path)]) == 0
    assert "ok: the store is consistent" in capsys.readouterr().out
