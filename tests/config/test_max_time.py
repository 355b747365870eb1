"""``max_time`` in an experiments file: the duration forms, the run ID, bad inputs."""

from __future__ import annotations

import pytest

from lambda_hat.config import load
from lambda_hat.config.specs import resolve_run
from lambda_hat.errors import ConfigError
from lambda_hat.fields import duration_seconds, duration_text
from lambda_hat.store.ids import run_dirname
from tests.config.helpers import ONE_SAMPLER as BASE


def _run(write_toml, extra):
    (sampler,) = load(write_toml(BASE + extra)).samplers
    return resolve_run(sampler, "tgt_0123456789ab", 100)


@pytest.mark.parametrize(
    "value, seconds",
    [
        (600, 600.0),
        (2.5, 2.5),
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("2H", 7200.0),
        ("1d", 86400.0),
        (" 1.5m ", 90.0),
        ("1h 5s", 3605.0),
    ],
)
def test_durations_read_as_seconds(value, seconds):
    assert duration_seconds(value, "x") == seconds


@pytest.mark.parametrize(
    "seconds, text", [(600, "10m"), (5400, "1h30m"), (90, "1m30s"), (2.5, "2.5s")]
)
def test_durations_are_written_back_short(seconds, text):
    assert duration_text(seconds) == text


def test_a_budget_is_part_of_the_run_id_in_seconds(write_toml):
    written = _run(write_toml, 'max_time = "10m"\n')
    assert written.max_time == 600.0
    assert run_dirname(written) == run_dirname(_run(write_toml, "max_time = 600\n"))
    assert run_dirname(written) != run_dirname(_run(write_toml, 'max_time = "11m"\n'))
    unbounded = _run(write_toml, "")
    assert unbounded.max_time is None
    assert run_dirname(unbounded) == run_dirname(_run(write_toml, "draws = 1000\n"))


@pytest.mark.parametrize(
    "value, match",
    [
        (
            '"ten minutes"',
            r"samplers\[0\]\.max_time: 'ten minutes' is not a duration; give seconds",
        ),
        ('"10"', r"samplers\[0\]\.max_time: '10' is not a duration"),
        ('"10M"', r"samplers\[0\]\.max_time: '10M': write minutes as 'm'"),
        ('"30s1h"', r"'30s1h' is not a duration; .* units d, h, m, s in that order, each once"),
        ('"10m10m"', r"'10m10m' is not a duration"),
        ("0", r"samplers\[0\]\.max_time: a time budget must be more than 0 seconds"),
        ('"0s"', r"more than 0 seconds"),
        ("-5", r"more than 0 seconds"),
        ("true", r"samplers\[0\]\.max_time: expected a number or a string, got True"),
        ("00:10:00", r"max_time: expected a number or a string, got the TOML date/time 00:10:00"),
    ],
)
def test_bad_budgets_are_named(write_toml, value, match):
    with pytest.raises(ConfigError, match=match):
        load(write_toml(BASE + f"max_time = {value}\n"))


def test_a_run_with_a_budget_stores_what_it_cut(write_toml, tmp_path, capsys):
    """Through the store: ``lambda-hat run`` publishes the run the budget ended, its
    analysis.json says what was cut, and the run's line warns of it."""
    import json

    from lambda_hat.cli import main
    from lambda_hat.store.records import RunAnalysis

    text = BASE.replace('name = "hmc"', 'name = "sgld"') + (
        "step_size = 1e-4\nthin = 20\ndraws = 10000000\nburnin = 100000\nmax_time = 4\n"
    )
    path = write_toml(f'[store]\nroot = "{tmp_path / "store"}"\n' + text)
    assert main(["run", str(path), "--workers", "1"]) == 0
    (analysis,) = (tmp_path / "store").rglob("analysis.json")
    data = json.loads(analysis.read_text())
    done, planned = data["time_budget"]["draws"]
    assert data["time_budget"]["max_time"] == 4.0 and planned == 10_000_000
    assert data["draws"] == done < planned and data["sampler_config"]["max_time"] == 4.0
    burned, asked = data["time_budget"]["burnin"]  # 100,000 draws do not fit in 2 s
    assert data["burnin"] == burned < asked == 100_000
    assert data["trust"]["verdict"] == "not converged"
    assert f"max_time = 4s ended burn-in at {burned:,} of 100,000 draws" in data["trust"]["reasons"]
    assert RunAnalysis.from_json(data).to_json() == data
    assert (
        f"max_time = 4s ended sampling at {done:,} of 10,000,000 draws" in capsys.readouterr().err
    )
