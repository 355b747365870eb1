"""Commands refuse a store root they cannot use, with a message saying what to do."""

from lambda_hat.cli import main
from tests.scheduler.helpers import write_experiments


def test_run_and_slurm_refuse_an_unwritable_root(tmp_path, capsys):
    exp = write_experiments(tmp_path / "e.toml")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for command in ("run", "slurm"):
        assert main([command, str(exp), "--root", str(blocker / "store")]) == 2
        err = capsys.readouterr().err
        assert f"cannot write to the store at {blocker / 'store'}" in err, err
        assert "pass --root DIR" in err
    assert blocker.read_text() == ""


def test_read_commands_refuse_a_missing_root(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    for command in ("results", "status", "verify"):
        assert main([command, "--root", str(missing)]) == 2
        assert f"no store at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_read_commands_refuse_a_folder_that_is_not_a_store_and_write_nothing(tmp_path, capsys):
    """A folder without targets/ (a home folder given by mistake) is not a store: verify
    --repair used to report it consistent and leave a lock file in it."""
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    for argv in (["verify", "--repair"], ["results"], ["status"]):
        assert main([*argv, "--root", str(home)]) == 2
        assert f"no store at {home} (it has no targets/ folder)" in capsys.readouterr().err
    assert sorted(p.name for p in home.rglob("*")) == ["Documents"]
