"""lambda-hat tune: a NUTS reference, SGLD candidates, a block that works, and reruns
that cost nothing (slow: it samples for real)."""

from __future__ import annotations

import pytest

from lambda_hat.cli import main
from lambda_hat.commands import tune
from lambda_hat.config import load

TARGET = """
[store]
root = "{root}"
[models.dln]
kind = "dln"
in_dim = 3
widths = [4]
out_dim = 3
rank = 1
[data.d]
n_data = 300
[training.teacher]
init = "teacher"
steps = 0
[[targets]]
model = "dln"
data = "d"
training = "teacher"
"""


@pytest.mark.slow
def test_tune_writes_a_working_block_and_reruns_for_free(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tune, "THINS", (10,))  # one fixed thin of three: the same code
    exp = tmp_path / "e.toml"
    exp.write_text(TARGET.format(root=tmp_path / "store") + '[[samplers]]\nname = "hmc"\n')
    assert main(["tune", str(exp), "--workers", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "NUTS" in out and "5 task(s) to run" in out
    for row in ("sghmc │ auto", "sgld │ auto", "sgld rmsprop │ auto", "sgld │ 10"):
        assert row in out
    # every candidate agrees and converged here: SGHMC's defaults are the cheapest
    block = (tmp_path / "e.tuned.toml").read_text()
    assert block.count("[[samplers]]") == 1 and 'name = "sghmc"' in block
    # the block is valid in an experiments file, as written
    tuned = tmp_path / "tuned.toml"
    tuned.write_text(TARGET.format(root=tmp_path / "store") + block)
    (sampler,) = load(tuned).samplers
    assert sampler.name == "sghmc" and sampler.draws == "auto"
    # every run was an ordinary cached run: tuning again runs nothing
    assert main(["tune", str(exp), "--workers", "1"]) == 0
    assert "task(s) to run" not in capsys.readouterr().out
    # a target too large for a reference is named and skipped, not tried
    assert main(["tune", str(exp), "--max-params", "10"]) == 1
    assert "p = 24 exceeds --max-params 10" in " ".join(capsys.readouterr().out.split())


def test_tune_never_writes_over_a_file_of_yours(tmp_path, capsys):
    """``--out`` is checked before any work: not the experiments file, not a folder or a
    missing one, not a file tune did not write; ``--workers`` at least 1."""
    exp = tmp_path / "e.toml"
    exp.write_text(TARGET.format(root=tmp_path / "store") + '[[samplers]]\nname = "hmc"\n')
    mine = tmp_path / "notes.md"
    mine.write_text("my notes")
    for extra, said in [
        (["--out", str(exp)], "that is the experiments file"),
        (["--out", str(tmp_path)], "give a file in a folder that exists"),
        (["--out", str(tmp_path / "no" / "x.toml")], "give a file in a folder that exists"),
        (["--out", str(mine)], "exists and tune did not write it"),
        (["--workers", "0"], "--workers must be at least 1"),
    ]:
        assert main(["tune", str(exp), *extra]) == 2
        assert said in capsys.readouterr().err
    assert mine.read_text() == "my notes" and not (tmp_path / "store").exists()
