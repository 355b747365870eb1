"""What ``--dry-run`` says a run will do per chain, from its spec alone."""

from __future__ import annotations

import pytest

from lambda_hat.cli import main
from lambda_hat.config.specs import SamplerSpec, resolve_run
from lambda_hat.fields import build
from lambda_hat.samplers.registry import SAMPLERS


def _work(name: str, n: int = 1000, **keys):
    params = SAMPLERS[name].params
    own = {k: keys.pop(k) for k in list(keys) if k in {f for f in params.__dataclass_fields__}}
    entry = build(SamplerSpec, keys, "t", name=name, params=build(params, own, "t"))
    return SAMPLERS[name].work(resolve_run(entry, "tgt_x", n), n)


@pytest.mark.parametrize(
    "name, keys, text",
    [
        # 500 warm-up + (no burn-in + 1000 draws), 16 gradients each
        ("hmc", {}, "1,500 steps · 24,000 FGEs"),
        (
            "hmc",
            {"draws": "auto", "burnin": 0, "warmup": 300},
            "500–13,100 steps · 8,000–209,600 FGEs",
        ),
        ("nuts", {"max_num_doublings": 4}, "1,500 steps · up to 24,000 FGEs"),
        ("mclmc", {"draws": 2000, "burnin": 0}, "3,000 steps · 3,000 FGEs"),
        (
            "mclmc",
            {"tune": False, "L": 1.0, "step_size": 0.1, "draws": 50, "burnin": 0},
            "50 steps · 50 FGEs",
        ),
        # batch 250 of 1000 rows: a step is a quarter of a full gradient
        (
            "sgld",
            {"step_size": 1e-5, "thin": 2, "draws": 1000, "burnin": 500, "batch_size": 250},
            "3,000 steps · 750 FGEs",
        ),
        # thin = "auto" at a written step: 0.01/(γ·ε) = 1,000 steps a draw, 100 burn-in
        # draws; the default batch of 256 rows
        ("sgld", {"step_size": 1e-5, "draws": 1000}, "1.1M steps · 281,600 FGEs"),
        ("sgld", {}, "set when it runs, by its step pilot (≥ 1/γ of Langevin time)"),
        (
            "sgld",
            {"step_size": 1e-5, "precond": "rmsprop"},
            "set when it runs, from its preconditioner (thin = 'auto')",
        ),
    ],
)
def test_each_sampler_counts_its_steps_and_gradients(name, keys, text):
    assert _work(name, **keys).text() == text


def test_the_dry_run_shows_each_runs_work_and_budget(write_toml, tmp_path, capsys):
    from tests.config.helpers import ONE_SAMPLER

    extra = 'max_time = "1h30m"\n'
    path = write_toml(f'[store]\nroot = "{tmp_path / "store"}"\n' + ONE_SAMPLER + extra)
    assert main(["run", str(path), "--dry-run"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "run_hmc_" in line)
    assert "1,500 steps · 24,000 FGEs · about " in row and row.endswith("(max_time 1h30m) │")
