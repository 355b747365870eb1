"""A written SGLD step with the default thin = "auto" says its cost before the run."""

from __future__ import annotations

from lambda_hat.cli import main
from lambda_hat.config.specs import SamplerSpec
from lambda_hat.fields import build
from lambda_hat.samplers.sgld import SGLDParams, notes

FILE = """
[store]
root = "ROOT"
[models.dln]
kind = "dln"
in_dim = 4
widths = [5]
out_dim = 4
rank = 2
[data.d]
n_data = 500
[training.t]
init = "teacher"
[[targets]]
model = "dln"
data = "d"
training = "t"
[[samplers]]
name = "sgld"
step_size = 1.5e-6
draws = 2000
[[samplers]]
name = "sgld"
"""


def _entry(**keys) -> SamplerSpec:
    own = {k: keys.pop(k) for k in list(keys) if k in ("step_size", "precond")}
    return build(SamplerSpec, keys, "t", name="sgld", params=build(SGLDParams, own, "t"))


def test_a_written_step_says_how_many_steps_a_draw_of_auto_thin_takes():
    """devinterp's ε = 3e-5 on a 40-output network is 1.5e-6 here: 6,667 steps a draw."""
    (text,) = notes(_entry(step_size=1.5e-6, draws=2000))
    assert "makes each kept draw 6,667 steps" in text
    assert "so 2,000 draws are 13,334,000 steps per chain; give thin = 1" in text
    (capped,) = notes(_entry(step_size=1e-9))  # draws = "auto": up to its cap
    assert "each kept draw 10,000 steps" in capped and "up to 12,800 draws" in capped
    assert notes(_entry(step_size=1.5e-6, thin=1)) == []  # a thin written: no surprise
    assert notes(_entry()) == []  # step_size = "auto" chooses the thinning with the step
    assert notes(_entry(step_size=1e-2)) == []  # a draw of a few steps: nothing to say
    (rms,) = notes(_entry(step_size=1e-4, precond="rmsprop"))
    assert "up to 10,000 steps (set when the run starts" in rms


def test_run_and_its_dry_run_print_the_note_with_the_entry(tmp_path, capsys):
    """To a pipe or a log, the note is one line: a long path is not folded."""
    (tmp_path / ("deep" * 25)).mkdir()
    path = tmp_path / ("deep" * 25) / "exp.toml"
    path.write_text(FILE.replace("ROOT", str(tmp_path / "runs")))
    assert main(["run", str(path), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert f"note {path}: samplers[0] (sgld): step_size = 1.5e-06 with thin = 'auto'" in err
    err = " ".join(err.split())
    assert "samplers[1]" not in err


def test_a_localization_of_zero_says_the_automatic_rules_take_the_floor(tmp_path, capsys):
    """γ = 0 with SGLD's or SGHMC's automatic rules: they span times of 1/γ, so they take
    γ = GAMMA_FLOOR, which the file does not say; written rules, or HMC, need no note."""
    (text,) = notes(_entry(localization=0.0))
    assert text.startswith("localization = 0: the automatic step, thin and burn-in span")
    assert "so they take γ = 0.01" in text
    assert notes(_entry(localization=0.01)) == []
    assert notes(_entry(localization=0.0, step_size=1e-3, thin=1)) == []
    file = FILE.replace("ROOT", str(tmp_path / "runs")).split("[[samplers]]")[0]
    entries = [f'name = "{n}"\nlocalization = 0.0\n' for n in ("sgld", "sghmc", "hmc")]
    path = tmp_path / "exp.toml"
    path.write_text(file + "".join(f"[[samplers]]\n{e}" for e in entries))
    assert main(["run", str(path), "--dry-run"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "samplers[0] (sgld): localization = 0: the automatic" in err
    assert "samplers[1] (sghmc): localization = 0: the automatic" in err
    assert "samplers[2]" not in err
