"""draws = "auto" in an experiments file: its cap, its IDs and its bad inputs."""

from __future__ import annotations

import pytest

from lambda_hat.config import load
from lambda_hat.config.specs import AUTO_MAX_DRAWS, resolve_run
from lambda_hat.errors import ConfigError
from lambda_hat.store.ids import run_dirname
from tests.config.helpers import ONE_SAMPLER as BASE


def _run(write_toml, extra):
    (sampler,) = load(write_toml(BASE + extra)).samplers
    return resolve_run(sampler, "tgt_0123456789ab", 100)


def test_auto_draws_resolve_their_cap_into_the_run_id(write_toml):
    auto = _run(write_toml, 'draws = "auto"\n')
    assert auto.draws == "auto" and auto.max_draws == AUTO_MAX_DRAWS
    capped = _run(write_toml, 'draws = "auto"\nmax_draws = 800\n')
    assert capped.max_draws == 800 and run_dirname(capped) != run_dirname(auto)
    # a fixed length keeps the ID it had before budgets existed
    fixed = _run(write_toml, "draws = 1000\n")
    assert fixed.max_draws is None and run_dirname(fixed) == run_dirname(_run(write_toml, ""))


@pytest.mark.parametrize(
    "extra, match",
    [
        ('draws = "many"\n', r"samplers\[0\]\.draws: expected an integer or 'auto', got 'many'"),
        ("max_draws = 800\n", r"samplers\[0\]\.max_draws: the cap of draws = 'auto'"),
        ('draws = "auto"\nmax_draws = 100\n', r"cannot finish the first convergence check"),
        ("draws = 0\n", r"samplers\[0\]\.draws: must be at least 1"),
        ("chains = 100000000000000000000\n", r"samplers\[0\]\.chains: must be at most 65536"),
        (
            "draws = 1000000\nthin = 10000\n",
            r"samplers\[0\]: \(burnin \+ draws\) × thin = 10,000,000,000 steps per chain",
        ),
        (
            'draws = "auto"\nmax_draws = 300000000\nthin = 10\n',
            r"3,000,000,000 steps per chain, over the 2,147,483,647",
        ),
    ],
)
def test_bad_budgets_are_named(write_toml, extra, match):
    with pytest.raises(ConfigError, match=match):
        load(write_toml(BASE + extra))
