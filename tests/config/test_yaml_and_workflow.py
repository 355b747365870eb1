"""The seed document's way in: YAML experiments files and `lambda-hat workflow llc`."""

from __future__ import annotations

import pytest

from lambda_hat.cli import main
from lambda_hat.commands.workflow import translate
from lambda_hat.config import load
from lambda_hat.errors import ConfigError
from lambda_hat.scheduler.plan import make_plan

TOML = """
[store]
root = "runs"
[models.dln]
kind = "dln"
in_dim = 2
widths = [3]
out_dim = 2
rank = 1
[data.d]
n_data = 200
[[targets]]
model = "dln"
data = "d"
seed = 3
[[samplers]]
name = "sgld"
thin = 1
step_size = 1e-4
localization = { sweep = [1.0, 10.0] }
"""
YAML = """
store: {root: runs}
models:
  dln: {kind: dln, in_dim: 2, widths: [3], out_dim: 2, rank: 1}
data:
  d:
    n_data: 200
targets:
  - {model: dln, data: d, seed: 3}
samplers:
  - name: sgld
    thin: 1
    step_size: 1e-4          # YAML 1.1 would read this as a string
    localization: {sweep: [1.0, 10.0]}
"""


def _ids(path):
    plan = make_plan(load(path))
    return [t.target_id for t in plan.targets], [r.dirname for r in plan.runs]


def test_a_yaml_file_is_the_same_experiment_as_its_toml(tmp_path):
    toml, yaml = tmp_path / "e.toml", tmp_path / "e.yaml"
    toml.write_text(TOML)
    yaml.write_text(YAML)
    assert _ids(yaml) == _ids(toml)
    assert load(yaml).samplers[0].params.step_size == 1e-4


@pytest.mark.parametrize(
    "text, match",
    [
        ("targets: [", r"e\.yaml: not valid YAML"),
        ("- 1\n- 2\n", r"e\.yaml: expected a mapping at the top"),
        (
            "samplers:\n  - name: sgld\n    draws:\n",
            r"e\.yaml: samplers\[0\]\.draws: empty \(null\)",
        ),
        (YAML.replace("n_data: 200", "n_data: many"), r"data\.d\.n_data: expected an integer"),
        (YAML.replace("seed: 3", "seeds: 3"), r"targets\[0\]: unknown key 'seeds'"),
        # YAML 1.1's base-60, hexadecimal and octal numbers are text here
        (YAML.replace("thin: 1", "thin: 1:30"), r"samplers\[0\]\.thin: .*'1:30'"),
        (YAML.replace("n_data: 200", "n_data: 0x10"), r"data\.d\.n_data: expected an integer"),
        (YAML.replace("n_data: 200", "n_data: 010"), r"data\.d\.n_data: expected an integer"),
    ],
)
def test_bad_yaml_gets_the_same_strict_messages(tmp_path, text, match):
    path = tmp_path / "e.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load(path)


def test_a_file_is_utf8_text_with_or_without_a_byte_order_mark(tmp_path):
    plain, bom, utf16 = (tmp_path / f"{name}.toml" for name in ("plain", "bom", "utf16"))
    plain.write_text(TOML)
    bom.write_bytes(b"\xef\xbb\xbf" + TOML.encode())
    assert _ids(bom) == _ids(plain)
    utf16.write_text(TOML, encoding="utf-16")
    with pytest.raises(ConfigError, match=r"utf16\.toml: not UTF-8 text \(byte 0xff at offset 0"):
        load(utf16)


def test_the_seed_shape_runs_with_the_built_in_base_presets(tmp_path):
    path = tmp_path / "experiments.yaml"
    path.write_text(
        "targets:\n  - { model: base, data: base, seed: 42 }\nsamplers:\n  - { name: hmc }\n"
    )
    (target,) = load(path).targets
    assert (target.model, target.data) == ("base", "base")
    assert target.spec.model.widths == (8, 8) and target.spec.data.n_data == 5000


def test_workflow_llc_is_run_or_slurm_on_its_config(tmp_path, capsys, monkeypatch):
    assert translate(["--local"]) == ["run", "config/experiments.yaml"]
    assert translate(["--slurm", "--config", "x.yaml", "--time", "1:00:00"]) == [
        "slurm",
        "x.yaml",
        "--time",
        "1:00:00",
    ]
    assert translate(["--config", "x.toml", "--workers", "2"]) == [
        "run",
        "x.toml",
        "--workers",
        "2",
    ]
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "experiments.yaml").write_text(YAML)
    monkeypatch.chdir(tmp_path)
    assert main(["workflow", "llc", "--local", "--dry-run"]) == 0
    assert capsys.readouterr().out.count("run_sgld_") == 2
    assert main(["workflow", "llc", "--local", "--slurm"]) == 2
    assert "give one of --local or --slurm" in capsys.readouterr().err
