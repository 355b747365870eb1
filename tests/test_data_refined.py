"""The data-refined LLC (``data = "table"`` on a sampler entry): the posterior of
another dataset around the target's w*, against its exact value on a regular model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lambda_hat.config import load
from lambda_hat.config.specs import resolve_run
from lambda_hat.errors import ConfigError
from lambda_hat.store.ids import run_dirname
from tests.test_restricted import exact_llc

EXPERIMENT = """
[store]
root = "{root}"
[models.linear]
kind = "dln"
in_dim = 4
widths = []
out_dim = 3
rank = 3
[data.train]
n_data = 2000
[data.flat]
n_data = 1000
input_rank = 2
[training.teacher]
init = "teacher"
steps = 0
[[targets]]
model = "linear"
data = "train"
training = "teacher"
seed = 1
[[samplers]]
name = "hmc"
warmup = 300
num_integration_steps = 8
draws = 2000
"""


def _write(write_toml, tmp_path, extra: str):
    return write_toml(EXPERIMENT.replace("{root}", str(tmp_path / "store")) + extra)


def test_a_regular_models_lambda_on_inputs_in_a_subspace(write_toml, tmp_path):
    """Linear regression 4 → 3 (λ = 6) sampled on a dataset whose inputs span 2 of the
    4 dimensions: λ is half the rank of that dataset's Hessian, 3·2/2 = 3, and HMC
    covers the exact finite-n value within 4 MCSE, with that dataset's n and L0."""
    from lambda_hat.cli import main
    from lambda_hat.config.specs import run_from_dict, target_from_dict
    from lambda_hat.store import npz
    from lambda_hat.store.jsonio import read_json
    from lambda_hat.targets.build import table_rows

    assert (
        main(["run", str(_write(write_toml, tmp_path, 'data = "flat"\n')), "--workers", "1"]) == 0
    )
    (target,) = (tmp_path / "store" / "targets").glob("tgt_*")
    (path,) = target.glob("run_*/analysis.json")
    run = json.loads(path.read_text())
    spec = target_from_dict(read_json(target / "meta.json")["spec"])
    data, w = npz.load(target / "data.npz"), npz.load(target / "params.npz")["w_star"]
    table = run_from_dict(run["sampler_config"]).data["flat"]
    x, y = table_rows(spec, table, data["X"], data["Y"])
    assert x.shape == (1000, 4) and np.linalg.matrix_rank(x) == 2
    w = w.reshape(3, 4)
    exact = exact_llc(x, y, w, run["n_beta"], run["localization"])
    assert abs(exact - 3) < 0.1
    assert abs(run["llc_mean"] - exact) < 4 * run["llc_mcse"], (run["llc_mean"], exact)
    assert run["n"] == 1000 and run["n_beta"] == pytest.approx(1000 / np.log(1000))
    assert run["L0"] == pytest.approx(0.5 * np.sum((y - x @ w.T) ** 2) / 1000, rel=1e-9)
    assert run["refined"] == {"data": "flat", "n": 1000} and run["true_llc"] is None


def test_the_sampled_table_is_part_of_the_run_id_and_sets_n(write_toml, tmp_path):
    def spec(extra):
        experiment = load(_write(write_toml, tmp_path, extra))
        (sampler,) = experiment.samplers
        return resolve_run(sampler, "tgt_0123456789ab", 2000, tables=experiment.tables)

    whole, refined = spec(""), spec('data = "flat"\n')
    assert whole.data == {} and set(refined.data) == {"flat"}
    assert run_dirname(whole) != run_dirname(refined)
    assert refined.inverse_temperature == pytest.approx(1 / np.log(1000))


@pytest.mark.parametrize(
    "extra, match",
    [
        (
            'data = "probe"\n',
            r"samplers\[0\]\.data: no table 'probe' in \[data\] \(known: base, flat, train\)",
        ),
        ("data = 3\n", r"samplers\[0\]\.data: expected a string, got 3"),
    ],
)
def test_a_sampled_table_that_is_not_one_is_refused(write_toml, tmp_path, extra, match):
    with pytest.raises(ConfigError, match=match):
        load(_write(write_toml, tmp_path, extra))
