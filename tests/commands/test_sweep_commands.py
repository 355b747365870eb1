"""A sweep through the commands: status and --dry-run show the points, results gives
the swept keys as columns, plot draws λ̂ against each swept key."""

from __future__ import annotations

import csv
import io
import statistics

import pytest

from lambda_hat.analysis.sweep_plot import panels, split_reference
from lambda_hat.cli import main

SWEEP = """
[store]
root = "{root}"
[models.dln]
kind = "dln"
in_dim = 2
widths = [3]
out_dim = 2
rank = 1
[data.d]
n_data = 200
[training.teacher]
init = "teacher"
steps = 0
[[targets]]
model = "dln"
data = "d"
training = "teacher"
[[samplers]]
name = "sgld"
thin = 1
step_size = {{ sweep = [1e-5, 1e-4] }}
seed = {{ sweep = [0, 1] }}
chains = 2
draws = 60
burnin = 10
[[samplers]]
name = "hmc"
inverse_temperature = {{ ladder = [0.1, 1.0, 10.0] }}
chains = 2
draws = 60
warmup = 60
"""


@pytest.mark.slow
def test_a_sweep_runs_shows_its_columns_and_plots(tmp_path, capsys):
    exp = tmp_path / "sweep.toml"
    exp.write_text(SWEEP.format(root=tmp_path / "store"))
    assert main(["run", str(exp), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("step_size=1e-05 seed=0") == 1 and out.count("step_size=0.0001") == 2
    assert out.count("inverse_temperature=") == 3
    assert main(["plot", str(exp), "--out", str(tmp_path / "plots")]) == 1  # nothing to draw
    assert "no swept runs yet; run it first" in capsys.readouterr().out
    assert main(["run", str(exp), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["status", str(exp)]) == 0
    assert "sgld step_size=0.0001 seed=1" in capsys.readouterr().out
    assert main(["results", "--experiment", str(exp), "--format", "csv"]) == 0
    rows = [
        r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["sampler"] == "sgld"
    ]
    assert len(rows) == 4
    points = sorted((r["samplers.step_size"], r["samplers.seed"]) for r in rows)
    assert points == [("0.0001", "0"), ("0.0001", "1"), ("1e-05", "0"), ("1e-05", "1")]
    # the spread between the two seeds of each step size, next to each run's MCSE
    for eps in ("1e-05", "0.0001"):
        pair = [r for r in rows if r["samplers.step_size"] == eps]
        means = [float(r["llc_mean"]) for r in pair]
        assert {r["seeds"] for r in pair} == {"2"}
        assert float(pair[0]["seed_spread"]) == pytest.approx(statistics.stdev(means))
    assert {r["trust"] for r in rows} <= {"converged", "not converged"}
    assert main(["results", "--experiment", str(exp)]) == 0
    table = capsys.readouterr().out
    assert "β ladder" in table and "20 200 2e+03" in table  # nβ = n·β for n = 200
    assert main(["plot", str(exp), "--out", str(tmp_path / "plots")]) == 0
    (png,) = (tmp_path / "plots").glob("sweep_dln_d_teacher.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _row(sampler, mean, **swept):
    return {"sampler": sampler, "target_id": "tgt_a", "llc_mean": mean, "llc_mcse": 0.1, **swept}


def test_panels_draw_one_line_per_value_of_the_other_key_in_value_order():
    keys = ["samplers.step_size", "samplers.localization"]
    rows = [
        _row("sgld", m, **{"samplers.step_size": eps, "samplers.localization": gamma})
        for m, (eps, gamma) in enumerate([(1e-4, 1.0), (1e-5, 1.0), (1e-4, 100.0), (1e-5, 100.0)])
    ]
    rows.append(_row("nuts", 5.0))
    swept, reference = split_reference(rows, keys)
    assert [r["sampler"] for r in reference] == ["nuts"] and len(swept) == 4
    figure = panels(swept, keys)
    assert list(figure) == keys
    assert list(figure["samplers.step_size"]) == [
        "sgld localization=1.0",
        "sgld localization=100.0",
    ]
    assert list(figure["samplers.localization"]) == [
        "sgld step_size=1e-05",
        "sgld step_size=0.0001",
    ]
    # a key with one value makes no panel
    assert list(panels(swept[:2], keys)) == ["samplers.step_size"]
