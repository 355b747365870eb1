"""The experiments file: strict validation with messages naming file, path and expectation."""

from __future__ import annotations

import re

import pytest

from lambda_hat.config import load
from lambda_hat.config.specs import SGLDParams
from lambda_hat.errors import ConfigError

BASE = """
[models.m]
kind = "mlp"
in_dim = 2
widths = [3]
out_dim = 1

[data.d]
n_data = 100

[[targets]]
model = "m"
data = "d"
seed = 0
"""


def test_loads_tiny_file_with_defaults_filled(tiny_toml):
    exp = load(tiny_toml)
    assert len(exp.targets) == 2 and len(exp.samplers) == 1
    dln = exp.targets[0].spec
    assert dln.model.activation == "identity" and dln.model.bias is False
    assert dln.training.init == "teacher"
    mlp = exp.targets[1].spec
    assert mlp.model.activation == "tanh" and mlp.training.optimizer == "adam"
    sampler = exp.samplers[0]
    assert sampler.params == SGLDParams(
        step_size=1e-4,
        batch_size=50,
        precond=SGLDParams().precond,
        precond_decay=SGLDParams().precond_decay,
        momentum_decay=SGLDParams().momentum_decay,
        precond_eps=SGLDParams().precond_eps,
    )
    assert exp.store_root.name == "runs"


def test_root_override(tiny_toml, tmp_path):
    assert load(tiny_toml, tmp_path / "elsewhere").store_root == tmp_path / "elsewhere"


def test_int_and_float_resolve_alike(write_toml):
    a = load(write_toml(BASE + "\n[[samplers]]\nname='sgld'\nstep_size=1\n", "a.toml"))
    b = load(write_toml(BASE + "\n[[samplers]]\nname='sgld'\nstep_size=1.0\n", "b.toml"))
    assert a.samplers[0] == b.samplers[0]
    assert isinstance(a.samplers[0].params.step_size, float)


BAD = [
    # (appended TOML or replacement, expected message fragment)
    ("\n[[samplers]]\nname='sgld'\nstep_sise=1e-4\n", r"samplers\[0\]: unknown key 'step_sise'"),
    (
        "\n[[samplers]]\nname='sgld'\nstep_size='big'\n",
        r"samplers\[0\]\.step_size: expected a number",
    ),
    (
        "\n[[samplers]]\nname='sgld'\nstep_size=-1e-4\n",
        r"samplers\[0\]\.step_size: must be greater than 0",
    ),
    ("\n[[samplers]]\nname='sgld'\nchains=0\n", r"samplers\[0\]\.chains: must be at least 1"),
    ("\n[[samplers]]\nname='langevin'\n", r"samplers\[0\]\.name: unknown sampler 'langevin'"),
    ("\n[[samplers]]\nstep_size=1e-4\n", r"samplers\[0\]: missing required key 'name'"),
    (
        "\n[[samplers]]\nnam='hmc'\n",
        r"samplers\[0\]: missing required key 'name' \(.*\); unknown key 'nam'",
    ),
    (
        "\n[[targets]]\nmodel='nope'\ndata='d'\n",
        r"targets\[1\]\.model: no preset 'nope' in \[models\]",
    ),
    (
        "\n[models.x]\nkind='mlp'\nin_dim=2\nwidths=[3, 'a']\nout_dim=1\n",
        r"models\.x\.widths\[1\]: expected an integer",
    ),
    (
        "\n[models.x]\nkind='mlp'\nin_dim=2\nwidths=3\nout_dim=1\n",
        r"models\.x\.widths: expected a list of integers, got 3",
    ),
    (
        "\n[models.x]\nkind='dln'\nin_dim=2\nwidths=[3]\nout_dim=2\n",
        r"models\.x: kind = 'dln' needs 'rank'",
    ),
    (
        "\n[models.x]\nkind='dln'\nin_dim=2\nwidths=[3]\nout_dim=2\nrank=5\n",
        r"models\.x\.rank: 5 exceeds the narrowest layer",
    ),
    ("\n[data.y]\nn_data=100\ninputs='cauchy'\n", r"data\.y\.inputs: 'cauchy' is not one of"),
    ("\n[[samplers]]\nname='hmc'\nbatch_size=10\n", r"unknown key 'batch_size' for sampler 'hmc'"),
    (
        "\n[[samplers]]\nname='sgld'\nstep_size=nan\n",
        r"samplers\[0\]\.step_size: expected a finite number",
    ),
    ("\n[extras]\nx=1\n", r"unknown top-level table 'extras'"),
    (
        "\n[[samplers]]\nname='sgld'\ntrace_params='yes'\n",
        r"samplers\[0\]\.trace_params: expected true/false, got 'yes'",
    ),
    (
        "\n[[samplers]]\nname='mclmc'\ntune=false\n",
        r"mclmc with tune = false needs both 'L' and 'step_size'",
    ),
    (
        "\n[[samplers]]\nname='sgld'\nllc_trace='cheap'\n",
        r"samplers\[0\]\.llc_trace: 'cheap' is not one of 'minibatch', 'full'",
    ),
    (
        "\n[[samplers]]\nname='hmc'\nllc_trace='minibatch'\n",
        r"samplers\[0\]\.llc_trace: 'minibatch' is for the minibatch samplers \(sgld, "
        r"sghmc\) only; hmc records the exact",
    ),
    (
        "\n[[samplers]]\nname='sgld'\nstep_size=1e-5\nstart='pilot'\n",
        r"samplers\[0\]\.start: 'pilot' starts the chains where the step-size pilot's chains "
        r"end, and only step_size = 'auto' with scheme = 'leimkuhler-matthews' runs",
    ),
    (
        "\n[[samplers]]\nname='sgld'\nscheme='euler'\nstart='pilot'\n",
        r"samplers\[0\]\.start: 'pilot' .* remove start or set it to 'w_star'",
    ),
    (
        "\n[[samplers]]\nname='sgld'\nstart='dispersed'\n",
        r"samplers\[0\]\.start: 'dispersed' is not one of 'auto', 'pilot', 'w_star'",
    ),
    (
        "\n[[samplers]]\nname='hmc'\nstep_size='auto'\n",
        r"samplers\[0\]\.step_size: 'auto' is not available for this key; "
        r"expected a number \(the initial step size; window adaptation tunes it\)",
    ),
    (
        "\n[[samplers]]\nname='mclmc'\nthin='auto'\n",
        r"samplers\[0\]\.thin: 'auto' spans a fixed Langevin time per draw, which mclmc "
        r"does not have",
    ),
]


@pytest.mark.parametrize("extra,message", BAD)
def test_bad_inputs_are_rejected_with_clear_messages(write_toml, extra, message):
    path = write_toml(BASE + extra)
    with pytest.raises(ConfigError) as info:
        load(path)
    text = str(info.value)
    assert text.startswith(str(path)), text
    assert re.search(message, text), text


def test_malformed_toml_names_file_and_position(write_toml):
    path = write_toml(BASE + "\n[[samplers]\nname='sgld'\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line"):
        load(path)


def test_missing_file():
    with pytest.raises(ConfigError, match="no such experiments file"):
        load("/nonexistent/exp.toml")


def test_no_targets(write_toml):
    with pytest.raises(ConfigError, match=r"no \[\[targets\]\]"):
        load(write_toml("[[samplers]]\nname='sgld'\n"))


def test_training_batch_larger_than_data(write_toml):
    text = BASE + "\n[training.t]\nbatch_size=500\n[[targets]]\nmodel='m'\ndata='d'\ntraining='t'\n"
    with pytest.raises(ConfigError, match=r"batch_size = 500 exceeds the 100 rows of data\.d"):
        load(write_toml(text))


def test_sgld_steps_are_auto_unless_given_with_any_preconditioner(write_toml):
    text = BASE + "".join(
        f"\n[[samplers]]\nname='sgld'\nprecond='{p}'\n" for p in ("none", "rmsprop", "adam")
    )
    text += "\n[[samplers]]\nname='sgld'\nprecond='rmsprop'\nstep_size=1e-5\n"
    steps = [s.params.step_size for s in load(write_toml(text)).samplers]
    assert steps == ["auto", "auto", "auto", 1e-5]


def test_sgld_starts_where_its_step_pilot_ends_when_it_has_one(write_toml):
    """start = "auto" resolves to 'pilot' where step_size = 'auto' runs the pilot (the
    leimkuhler-matthews scheme), to 'w_star' otherwise."""
    entries = ["", "precond='rmsprop'", "step_size=1e-5", "scheme='euler'", "start='w_star'"]
    text = BASE + "".join(f"\n[[samplers]]\nname='sgld'\n{e}\n" for e in entries)
    starts = [s.params.start for s in load(write_toml(text)).samplers]
    assert starts == ["pilot", "pilot", "w_star", "w_star", "w_star"]


def test_llc_trace_defaults_per_sampler(write_toml):
    from lambda_hat.config.specs import resolve_run

    text = BASE + "".join(f"\n[[samplers]]\nname='{n}'\n" for n in ("sgld", "hmc", "mclmc"))
    text += "\n[[samplers]]\nname='sgld'\nllc_trace='full'\n"
    runs = [resolve_run(s, "tgt_x", 100) for s in load(write_toml(text)).samplers]
    assert [r.llc_trace for r in runs] == ["minibatch", "full", "full", "full"]


SGLD = '\n[[samplers]]\nname = "sgld"\nstep_size = 1e-4\n'


def test_a_written_batch_size_over_n_is_refused_naming_the_file_and_table(write_toml, capsys):
    """batch_size = 100000 on n = 100 ran silently as a full batch; now it is refused."""
    from lambda_hat.cli import main
    from lambda_hat.scheduler.plan import make_plan

    path = write_toml(BASE + SGLD + SGLD + "batch_size = 100000\n")
    message = (
        f"{path}: samplers[1].batch_size: 100000 is more than target m/d's n_data = 100; "
        "give batch_size <= 100 (100 is the full batch it ran with until now) or leave it out"
    )
    with pytest.raises(ConfigError) as refused:
        make_plan(load(path), path.parent / "store")
    assert str(refused.value) == message
    assert main(["run", str(path), "--dry-run"]) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_the_default_batch_size_is_cut_to_a_small_n_and_keeps_its_run_id(write_toml):
    """The default (256) on n = 100 runs at 100, with the ID it always had: the same as a
    written batch_size = 100 (the file's two entries are one run)."""
    from lambda_hat.scheduler.plan import make_plan

    path = write_toml(BASE + SGLD + SGLD + "batch_size = 100\n")
    (run,) = make_plan(load(path), path.parent / "store").runs
    assert run.spec.params.batch_size == 100
    assert run.dirname == "run_sgld_242aa067"  # pinned before the refusal existed
