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
        ("0", r"samplers\[0\]\.max_time: a time budget must be more than 0 seconds"),
        ('"0s"', r"more than 0 seconds"),
        ("-5", r"more than 0 seconds"),
        ("true", r"samplers\[0\]\.max_time: expected a number or a string, got True"),
    ],
)
def test_bad_budgets_are_named(write_toml, value, match):
    with pytest.raises(ConfigError, match=match):
        load(write_toml(BASE + f"max_time = {value}\n"))
