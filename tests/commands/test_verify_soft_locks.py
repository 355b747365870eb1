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


def test_quarantine_keeps_other_problems_and_never_waits_forever(tmp_path, monkeypatch, capsys):
    from lambda_hat.store import quarantine

    monkeypatch.setenv("LAMBDA_HAT_SOFT_LOCKS", "1")
    targets = tmp_path / "targets"
    (targets / "tgt_0123456789ab").mkdir(parents=True)  # broken: no meta, data or params
    stale = targets / ".tgt_fedcba987654.lock"
    stale.write_text("")
    assert main(["verify", "--root", str(tmp_path), "--quarantine"]) == 1
    out = capsys.readouterr().out
    assert f"quarantined: {targets / 'tgt_0123456789ab'} -> " in out
    assert f"{stale}: soft lock held" in out  # not about an artifact: still reported
    assert not (targets / "tgt_0123456789ab").exists()

    (targets / "tgt_00000000000a").mkdir()
    (targets / ".tgt_00000000000a.lock").write_text("")  # left by a killed builder
    real = quarantine.quarantine
    monkeypatch.setattr(quarantine, "quarantine", lambda *a, **k: real(*a, **{**k, "timeout": 0.1}))
    assert main(["verify", "--root", str(tmp_path), "--quarantine"]) == 2
    err = capsys.readouterr().err
    assert "tgt_00000000000a is locked by a running lambda-hat" in err
    assert (targets / "tgt_00000000000a").is_dir()
