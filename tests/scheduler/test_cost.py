"""A run's wall time before it runs: the cost model, its calibration on a store's runs,
and what ``--dry-run`` and ``run`` say with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lambda_hat.cli import main
from lambda_hat.samplers.kind import Work
from lambda_hat.scheduler import cost
from tests.config.helpers import ONE_SAMPLER

FIXTURE_STORE = Path(__file__).parents[1] / "fixtures" / "store"


def test_the_model_adds_a_fixed_part_steps_and_gradient_work():
    # the 9k benchmark: 4 chains × 3,000 steps of batch 500 of 100,000 rows = 15 FGEs
    expected = 5.0 + 4 * (3000 * 2e-5 + 15 * 100_000 * 9_000 * 3e-10)
    assert cost.seconds(4, 3000, 15, 100_000, 9_000) == pytest.approx(expected, rel=1e-12)
    span = cost.estimate(Work((3000, 6000), (15.0, 30.0)), 4, 100_000, 9_000, scale=2.0)
    assert span == pytest.approx((2 * expected, 2 * cost.seconds(4, 6000, 30, 100_000, 9_000)))


@pytest.mark.parametrize(
    "work, p",
    [
        (Work(why="set when it runs"), 100),
        (Work((10, 10), None), 100),
        (Work((1, 1), (1, 1)), None),
    ],
)
def test_no_estimate_without_the_work_or_the_size(work, p):
    assert cost.estimate(work, 4, 1000, p) is None


@pytest.mark.parametrize(
    "span, text",
    [
        ((3.0, 3.0), "about 3 s"),
        ((0.2, 0.4), "about 1 s"),
        ((40.0, 50.0), "about 40–50 s"),
        ((50.0, 180.0), "about 50 s–3 min"),
        ((100.0, 540.0), "about 1.7–9 min"),
        ((36_000.0, 108_000.0), "about 10 h–1.2 d"),
        ((200 * 86400.0, 300 * 86400.0), "about 200–300 d"),
    ],
)
def test_times_read_in_their_unit(span, text):
    assert cost.text(span) == text


def _store(tmp_path: Path, factor: dict | None = None) -> Path:
    """The fixture store, each run's sampling time set to ``factor[sampler]`` × the
    model's figure for its work (unchanged where ``factor`` is None)."""
    root = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, root)
    for path in root.glob("targets/*/run_*/analysis.json"):
        d = json.loads(path.read_text())
        if factor is not None:
            steps = (d["burnin"] + d["draws"]) * d["thin"]
            fges = sum(d["fges_per_chain"]) / len(d["fges_per_chain"])
            model = cost.seconds(d["chains"], steps, fges, d["n"], d["p"])
            d["sampling_walltime_sec"] = factor[d["sampler"]] * model
        path.write_text(json.dumps(d))
    return root


def test_a_store_scales_the_model_by_its_runs_per_sampler(tmp_path):
    calibration = cost.calibrate(_store(tmp_path, {"hmc": 3.0, "sgld": 0.5}))
    assert calibration.runs == 4
    assert calibration.scale("hmc") == pytest.approx(3.0, rel=1e-9)
    assert calibration.scale("sgld") == pytest.approx(0.5, rel=1e-9)
    assert calibration.scale("mclmc") == pytest.approx(1.75, rel=1e-9)  # the median of all four


def test_the_fixture_stores_own_times_give_their_own_ratio(tmp_path):
    root = _store(tmp_path)
    ratios = []
    for path in root.glob("targets/*/run_hmc_*/analysis.json"):
        d = json.loads(path.read_text())
        ratios.append(d["sampling_walltime_sec"] / cost.seconds(2, 100, 1601.0, 200, d["p"]))
    assert cost.calibrate(root).scale("hmc") == pytest.approx(sum(ratios) / 2, rel=1e-9)


def test_an_empty_store_leaves_the_model_as_it_is(tmp_path):
    calibration = cost.calibrate(tmp_path / "nothing")
    assert (calibration.runs, calibration.scale("hmc")) == (0, 1.0)


def _dry_run(write_toml, tmp_path, capsys, text: str) -> tuple[str, str]:
    path = write_toml(f'[store]\nroot = "{tmp_path / "store"}"\n' + text)
    assert main(["run", str(path), "--dry-run"]) == 0
    out = capsys.readouterr()
    return out.out, out.err


def test_the_dry_run_shows_each_runs_time(write_toml, tmp_path, capsys):
    out, err = _dry_run(write_toml, tmp_path, capsys, ONE_SAMPLER)
    row = next(line for line in out.splitlines() if "run_hmc_" in line)
    p = 2 * 3 + 3 + 3 * 1 + 1  # 2→3→1 with biases
    expected = cost.text(cost.estimate(Work((1500, 1500), (24000.0, 24000.0)), 4, 100, p))
    assert f"1,500 steps · 24,000 FGEs · {expected}" in row
    assert f"runs to do: {expected} in all by the cost model\n" in out
    assert "a 2-core CPU's figures (no run in this store" in out
    assert "will take" not in err


def test_a_run_of_hours_is_flagged_before_it_starts(write_toml, tmp_path, capsys):
    big = ONE_SAMPLER.replace("n_data = 100", "n_data = 3000000").replace("[3]", "[3000]")
    out, err = _dry_run(write_toml, tmp_path, capsys, big)
    assert "will take about" in err and 'max_time = "30m"' in err and "p = 12,001" in err
    bounded, err = _dry_run(write_toml, tmp_path, capsys, big + 'max_time = "20m"\n')
    assert "will take" not in err


def test_a_python_model_not_yet_built_has_no_time(write_toml, tmp_path, capsys):
    shutil.copy(Path(__file__).parents[1] / "targets" / "user_models.py", tmp_path)
    text = """
[models.lin]
kind = "python"
factory = "user_models:linear"
[data.reg]
kind = "python"
factory = "user_models:regression"
[training.given]
init = "given"
steps = 0
[[targets]]
model = "lin"
data = "reg"
training = "given"
[[samplers]]
name = "hmc"
"""
    out, _ = _dry_run(write_toml, tmp_path, capsys, text)
    row = next(line for line in out.splitlines() if "run_hmc_" in line)
    assert "1,500 steps · 24,000 FGEs" in row and "about" not in row


def test_slurm_names_a_run_past_its_time_limit(write_toml, tmp_path, capsys):
    big = ONE_SAMPLER.replace("n_data = 100", "n_data = 3000000").replace("[3]", "[3000]")
    path = write_toml(big)
    root = str(tmp_path / "store")
    assert main(["slurm", str(path), "--root", root, "--time", "2:00:00"]) == 0
    out = capsys.readouterr().out
    assert "will take about" in out and "over --time 2:00:00: give a longer --time" in out
    assert main(["slurm", str(path), "--root", root, "--time", "30-00:00:00"]) == 0
    assert "will take" not in capsys.readouterr().out


def test_slurm_measure_times_an_automatic_step_against_the_limit(write_toml, tmp_path, capsys):
    text = ONE_SAMPLER.replace('name = "hmc"', 'name = "sghmc"')
    path = write_toml(f'[store]\nroot = "{tmp_path / "store"}"\n' + text)
    assert main(["run", str(path), "--only-targets", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["slurm", str(path), "--time", "0:00:03", "--grace", "1"]) == 0
    assert "will take" not in capsys.readouterr().out  # set when it runs: not known
    assert main(["slurm", str(path), "--time", "0:00:03", "--grace", "1", "--measure"]) == 0
    out = capsys.readouterr()
    assert "measured the curvature at w* for 1 run(s)" in out.err
    assert "run_sghmc_" in out.out and "over --time 0:00:03: give a longer --time" in out.out


def test_the_plans_total_counts_the_runs_it_cannot_time(write_toml, tmp_path, capsys):
    two = ONE_SAMPLER + '[[samplers]]\nname = "sgld"\n'  # an automatic step: its pilot decides
    out, _ = _dry_run(write_toml, tmp_path, capsys, two)
    assert "runs to do: about " in out and " + 1 whose work is set when they run" in out
    assert "(--measure estimates an automatic step's once its target is built)" in out


def test_only_the_newest_runs_calibrate(tmp_path, monkeypatch):
    import os

    root = _store(tmp_path, {"hmc": 3.0, "sgld": 0.5})
    paths = sorted(root.glob("targets/*/run_*/analysis.json"))
    for age, path in enumerate(paths):  # the first listed is the newest
        os.utime(path, (1e9 - age, 1e9 - age))
    monkeypatch.setattr(cost, "CALIBRATION_RUNS", 1)
    newest = json.loads(paths[0].read_text())["sampler"]
    calibration = cost.calibrate(root)
    assert calibration.runs == 1 and list(calibration.scales) == [newest, "*"]


def test_sglds_measured_work_follows_the_curvature_rule():
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.fields import build
    from lambda_hat.samplers.registry import SAMPLERS
    from tests.samplers.test_work import _work  # noqa: F401  (the same spec builder)

    sgld = SAMPLERS["sgld"]
    entry = build(SamplerSpec, {}, "t", name="sgld", params=build(sgld.params, {}, "t"))
    spec = resolve_run(entry, "tgt_x", 1000)
    work = sgld.measured_work(spec, 1000, {"h_max": 1000.0})  # ε = 4·0.02/1000 = 8e-5
    # pilot 1/γ = 12,500 steps; thin 0.01/ε = 125; burn-in 100 draws; 200 to 12,800 kept
    assert work.steps == (12_500 + 300 * 125, 12_500 + 12_900 * 125)
    assert work.fges == tuple(s * 256 / 1000 for s in work.steps)
    assert work.note == "at least: ε = 8e-05 at w*; its pilot may lower it"


def test_measure_gives_an_automatic_step_its_work_and_time(write_toml, tmp_path, capsys):
    text = ONE_SAMPLER.replace('name = "hmc"', 'name = "sgld"\ndraws = 200')
    path = write_toml(f'[store]\nroot = "{tmp_path / "store"}"\n' + text)
    assert main(["run", str(path), "--dry-run", "--measure"]) == 0
    assert "1 run(s) still have no estimate: their target is not built" in capsys.readouterr().err
    assert main(["run", str(path), "--only-targets", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", str(path), "--dry-run", "--measure"]) == 0
    out = capsys.readouterr()
    assert "measured the curvature at w* for 1 run(s)" in out.err
    row = next(line for line in out.out.splitlines() if "run_sgld_" in line)
    measured = row.split("ε = ")[1].split(" ")[0]
    assert " · about " in row and "steps" in row
    # the run's own step, chosen when it runs, is the one measured (n < 4,096: all rows)
    assert main(["run", str(path), "--quiet"]) == 0
    (analysis,) = (tmp_path / "store").glob("targets/*/run_sgld_*/analysis.json")
    auto = json.loads(analysis.read_text())["sgld_step"]["auto"]["step_size"]
    assert f"{auto:.2g}" == measured


def test_sghmcs_measured_work_follows_its_rules():
    """w*'s settings (underdamped.choose), the pilot's first round (two relaxation times)
    and the burn-in and draws at the automatic thin."""
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.fields import build
    from lambda_hat.numerics import underdamped
    from lambda_hat.samplers.registry import SAMPLERS

    sghmc = SAMPLERS["sghmc"]
    entry = build(SamplerSpec, {}, "t", name="sghmc", params=build(sghmc.params, {}, "t"))
    spec = resolve_run(entry, "tgt_x", 10_000)
    assert sghmc.work(spec, 10_000).steps is None
    figures = {"h_max": 1e4, "noise": 50.0}
    work = sghmc.measured_work(spec, 10_000, figures)
    step, friction, batch = underdamped.choose(1e4, 50.0, 10_000, 1.0)
    # 0.25/√h_max, and the batch whose heating there is 0.5% (σ² measured at 256 rows)
    assert (step, friction, batch) == (0.0025, 8.0, 395)
    tau = underdamped.relaxation_time(8.0, 1.0)  # 7.87
    pilot, thin = round(2.0 * tau / step), round(0.02 * tau / step)
    assert (pilot, thin) == (6_298, 63)
    assert work.steps == (pilot + 300 * thin, pilot + 12_900 * thin)
    assert work.fges == tuple(s * 395 / 10_000 for s in work.steps)
    assert work.note == "at least: ε = 0.0025, batch 395 at w*; its pilot may lower it"


def test_measure_gives_sghmc_its_work_from_the_settings_its_run_starts_from(
    write_toml, tmp_path, capsys
):
    text = ONE_SAMPLER.replace('name = "hmc"', 'name = "sghmc"\ndraws = 100')
    path = write_toml(f'[store]\nroot = "{tmp_path / "store"}"\n' + text)
    assert main(["run", str(path), "--only-targets", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", str(path), "--dry-run"]) == 0
    assert "set when it runs" in capsys.readouterr().out
    assert main(["run", str(path), "--dry-run", "--measure"]) == 0
    out = capsys.readouterr()
    assert "measured the curvature at w* for 1 run(s)" in out.err
    row = next(line for line in out.out.splitlines() if "run_sghmc_" in line)
    assert " · about " in row and "steps" in row
    measured = row.split("at least: ε = ")[1].split(",")[0]
    batch = int(row.split(", batch ")[1].split(" ")[0].replace(",", ""))
    # the run starts its pilot from the settings measured (n = 100 < 4,096: all rows)
    assert main(["run", str(path), "--quiet"]) == 0
    (analysis,) = (tmp_path / "store").glob("targets/*/run_sghmc_*/analysis.json")
    step, _, at_batch = json.loads(analysis.read_text())["sghmc_step"]["auto"]["at_w_star"]
    assert (f"{step:.2g}", at_batch) == (measured, batch)
