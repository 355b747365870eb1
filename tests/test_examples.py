"""The shipped experiments files: each one reads and plans; the transformer example
runs end to end at a small size, through restrict, observe and ``lambda-hat influence``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from lambda_hat.config import load
from lambda_hat.scheduler.plan import make_plan

EXPERIMENTS = Path(__file__).parent.parent / "experiments"


@pytest.mark.parametrize("name", sorted(p.name for p in EXPERIMENTS.glob("*.toml")))
def test_a_shipped_experiments_file_reads_and_plans(name, tmp_path):
    plan = make_plan(load(EXPERIMENTS / name, tmp_path / "store"))
    assert plan.targets and plan.runs


def test_the_transformer_examples_parts(tmp_path):
    """Its plan: 7 checkpoints × (the whole model, two heads, the MLP); its parameters
    named for restrict."""
    from lambda_hat.targets.build import param_leaves

    experiment = load(EXPERIMENTS / "transformer.toml", tmp_path)
    plan = make_plan(experiment, tmp_path)
    assert len(plan.targets) == 7 and len(plan.runs) == 28
    parts = sorted({r.spec.restrict for r in plan.runs})
    assert parts == [(), ("layer1/head1/*",), ("layer1/head2/*",), ("layer1/mlp/*",)]
    names = dict(param_leaves(experiment.targets[0].spec.model))
    assert names["layer1/head1/q"] == 16 * 8 and sum(names.values()) == 2608


def test_the_transformer_example_runs_small(tmp_path, capsys):
    """One checkpoint, the whole model and head 1, a few draws: per-token losses of the
    probe (16 sequences × 8 positions), and head 1's per-component susceptibility."""
    from lambda_hat.cli import main

    shutil.copy(EXPERIMENTS / "transformer.py", tmp_path)
    text = (EXPERIMENTS / "transformer.toml").read_text()
    for old, new in [
        ("steps = 400", "steps = 30"),
        ("checkpoints = [0, 10, 25, 50, 100, 200, 400]", "checkpoints = [30]"),
        ("thin = 20", "thin = 4"),
        ("burnin = 50", "burnin = 5"),
        ("draws = 150", "draws = 16"),
        (', ["layer1/head2/*"], ["layer1/mlp/*"]]', "]"),
        ('root = "runs"', f'root = "{tmp_path / "runs"}"'),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    (tmp_path / "small.toml").write_text(text)
    assert main(["run", str(tmp_path / "small.toml"), "--workers", "1", "--quiet"]) == 0
    runs = sorted((tmp_path / "runs" / "targets").glob("tgt_*/run_sgld_*"))
    assert len(runs) == 2
    import lambda_hat as lh

    results = [lh.load_run(r) for r in runs]
    (head,) = [r for r in results if r.spec.restrict]
    (whole,) = [r for r in results if not r.spec.restrict]
    assert head.observed["probe"].shape == (4, 16, 16, 8)
    capsys.readouterr()
    args = ["influence", str(runs[results.index(head)]), "probe", "--full"]
    assert main([*args, str(runs[results.index(whole)]), "--top", "3"]) == 0
    printed = capsys.readouterr().out
    assert "probe: 16 × 8 entries observed at 4 × 16 draws of sgld restricted to" in printed
    (line,) = [x for x in printed.splitlines() if x.startswith("mean χ per position:")]
    assert len(re.findall(r"\d: [-+]", line)) == 8
    chi = lh.susceptibility(head, "probe", full=whole)
    assert chi.value.shape == (128,) and np.all(np.isfinite(chi.mcse))
    from lambda_hat.store.catalog import Catalog
    from lambda_hat.tui.data import training_curve

    catalog = Catalog(tmp_path / "runs")
    (target,) = catalog.targets()
    curve = training_curve(catalog, target.meta)  # the TUI's: each part a curve of its own
    assert sorted(curve) == ["sgld", "sgld layer1/head1/*"]
    assert curve["sgld layer1/head1/*"] == [(30, head.llc_mean)]
