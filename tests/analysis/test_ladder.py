"""The β ladder: λ and m from λ̂ at several nβ, and its bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lambda_hat.analysis.ladder import fit
from lambda_hat.config import load
from lambda_hat.errors import ConfigError
from lambda_hat.numerics.quadrature import finite_temperature_llc
from tests.config.helpers import ONE_SAMPLER as BASE


def test_the_fit_recovers_lambda_and_m_from_the_model_itself():
    n_beta = [50.0, 500.0, 5000.0, 50000.0]
    llc = [0.75 - 1.5 / math.log(nb) for nb in n_beta]  # λ = 3/4, m = 2.5
    result = fit(n_beta, llc, [0.01] * 4)
    assert result["llc"] == pytest.approx(0.75, abs=1e-12)
    assert result["multiplicity"] == pytest.approx(2.5, abs=1e-12)
    assert max(abs(r) for r in result["residuals"]) < 1e-12


def test_on_exact_values_of_a_normal_crossing_it_closes_most_of_the_gap():
    """w1²w2² (λ = 1/2, m = 2): the ladder over nβ = 1e2..1e4 is within 10% of λ
    where the single values are 18% to 29% low."""
    K = lambda w: w[..., 0] ** 2 * w[..., 1] ** 2  # noqa: E731
    n_beta = [100.0, 1000.0, 10000.0]
    exact = [finite_temperature_llc(K, 2, nb, 1.0) for nb in n_beta]
    assert exact[0] < 0.5 * 0.75 and exact[-1] < 0.5 * 0.85
    result = fit(n_beta, exact, [1e-3] * 3)
    assert abs(result["llc"] - 0.5) < 0.05
    assert 1.0 < result["multiplicity"] < 2.5


def test_a_ladder_needs_three_temperatures():
    with pytest.raises(ValueError, match="at least 3 distinct"):
        fit([10.0, 100.0], [0.3, 0.4], [0.01, 0.01])
    with pytest.raises(ValueError, match="at least 3 distinct"):
        fit([10.0, 10.0, 100.0], [0.3, 0.3, 0.4], [0.01] * 3)


@pytest.mark.parametrize(
    "extra, match",
    [
        ("inverse_temperature = { ladder = [0.1, 1.0] }\n", r"ladder: 2 temperature\(s\)"),
        ("localization = { ladder = [1.0, 2.0, 3.0] }\n", r"only inverse_temperature takes"),
        ("inverse_temperature = { ladder = [0.1, 1.0, -1.0] }\n", r"ladder\[2\]: must be"),
    ],
)
def test_bad_ladders_in_a_file_are_named(write_toml, extra, match):
    with pytest.raises(ConfigError, match=match):
        load(write_toml(BASE + extra))


def test_a_ladder_is_a_sweep_of_the_temperature(write_toml):
    exp = load(write_toml(BASE + "inverse_temperature = { ladder = [0.1, 1.0, 10.0] }\n"))
    assert [s.inverse_temperature for s in exp.samplers] == [0.1, 1.0, 10.0]
    assert exp.swept_keys == ["samplers.inverse_temperature"]
    assert np.isclose(exp.sampler_swept[2]["samplers.inverse_temperature"], 10.0)


def test_rows_at_n_beta_of_one_or_less_are_left_out_of_the_fit():
    """A β = 0 control (or nβ ≤ 1) in a ladder has no place on the 1/log nβ axis: the fit
    uses the other temperatures, and is not made when fewer than three are left."""
    from lambda_hat.results import BETA, ladders

    def row(beta, llc):
        return {"target_id": "tgt_a", "sampler": "hmc", "n_data": 100, BETA: beta,
                "llc_mean": llc, "llc_mcse": 0.01}  # fmt: skip

    llc = {b: 0.75 - 1.5 / math.log(100 * b) for b in (0.5, 5.0, 50.0)}
    rows = [row(0.0, 0.0), row(0.005, 0.1)] + [row(b, v) for b, v in llc.items()]
    (result,) = ladders(rows)
    assert result["n_beta"] == pytest.approx([50.0, 500.0, 5000.0])
    assert result["llc"] == pytest.approx(0.75, abs=1e-9)
    assert ladders(rows[:4]) == []  # two temperatures above nβ = 1: no fit
