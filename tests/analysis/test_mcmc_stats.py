"""Our numpy ESS / R-hat / MCSE equal ArviZ's on the same draws (ArviZ is the reference)."""

import warnings

import numpy as np
import pytest

from lambda_hat.analysis import mcmc_stats

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import arviz as az


def _ar1(chains, draws, phi, seed, offsets=0.0):
    rng = np.random.default_rng(seed)
    out = np.zeros((chains, draws))
    noise = rng.normal(size=(chains, draws))
    for t in range(1, draws):
        out[:, t] = phi * out[:, t - 1] + noise[:, t]
    return out + offsets


CASES = [
    _ar1(4, 1000, 0.9, 0),
    _ar1(4, 1000, 0.0, 1),
    _ar1(2, 37, 0.5, 2),  # odd length: split drops the middle draw
    _ar1(4, 500, 0.99, 3, offsets=np.array([[0.0], [0.0], [3.0], [0.0]])),  # one chain off
    np.round(_ar1(3, 400, 0.7, 4), 1),  # many ties
    _ar1(1, 200, 0.3, 5),  # a single chain: R-hat undefined
    np.exp(_ar1(4, 300, 0.8, 6)),  # skewed
]


@pytest.mark.parametrize("draws", CASES, ids=range(len(CASES)))
def test_matches_arviz(draws):
    data = az.convert_to_dataset({"x": draws})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = {
            "ess": float(az.ess(data)["x"]),
            "rhat": float(az.rhat(data)["x"]),
            "mcse": float(az.mcse(data)["x"]),
        }
    got = {
        "ess": mcmc_stats.ess_bulk(draws),
        "rhat": mcmc_stats.rhat(draws),
        "mcse": mcmc_stats.mcse_mean(draws),
    }
    for key in want:
        if np.isnan(want[key]):
            assert np.isnan(got[key]), key
        else:
            assert got[key] == pytest.approx(want[key], rel=1e-9), key


def test_normal_quantile_to_double_precision():
    from statistics import NormalDist

    p = np.concatenate([np.linspace(1e-9, 1 - 1e-9, 2001), [1e-300, 0.02425, 0.97575]])
    want = np.array([NormalDist().inv_cdf(v) for v in p])
    np.testing.assert_allclose(mcmc_stats.normal_quantile(p), want, rtol=1e-13, atol=1e-13)


def test_average_ranks_of_ties():
    ranks = mcmc_stats.average_ranks(np.array([[3.0, 1.0, 3.0], [2.0, 3.0, 0.0]]))
    np.testing.assert_array_equal(ranks, [[5.0, 2.0, 5.0], [3.0, 5.0, 1.0]])


def test_nan_and_short_inputs_give_nan():
    assert np.isnan(mcmc_stats.ess_bulk(np.full((2, 10), np.nan)))
    assert np.isnan(mcmc_stats.rhat(np.ones((2, 3))))
    assert np.isnan(mcmc_stats.mcse_mean(np.ones((2, 3))))
