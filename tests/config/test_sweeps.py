"""Sweeps: ``key = { sweep = [...] }`` expands to ordinary targets and runs, strictly."""

from __future__ import annotations

import pytest

from lambda_hat.config import load
from lambda_hat.errors import ConfigError
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.ids import target_id

BASE = """
[models.m]
kind = "mlp"
in_dim = 2
widths = [3]
out_dim = 1
[data.d]
n_data = {n_data}
[[targets]]
model = "m"
data = "d"
seed = {seed}
[[samplers]]
name = "sgld"
step_size = {step}
localization = {loc}
draws = 100
"""


def _file(write_toml, n_data="100", seed="0", step="1e-4", loc="10.0"):
    return write_toml(BASE.format(n_data=n_data, seed=seed, step=step, loc=loc))


def test_two_swept_sampler_keys_are_their_product_in_file_order(write_toml):
    exp = load(_file(write_toml, step="{ sweep = [1e-5, 1e-4] }", loc="{ sweep = [1.0, 100.0] }"))
    points = [(s.params.step_size, s.localization) for s in exp.samplers]
    assert points == [(1e-5, 1.0), (1e-5, 100.0), (1e-4, 1.0), (1e-4, 100.0)]
    assert exp.sampler_swept[1] == {"samplers.step_size": 1e-5, "samplers.localization": 100.0}
    assert exp.swept_keys == ["samplers.step_size", "samplers.localization"]


def test_each_point_is_the_run_the_same_file_without_a_sweep_asks_for(write_toml):
    swept = make_plan(load(_file(write_toml, step="{ sweep = [1e-5, 1e-4] }")))
    plain = make_plan(load(_file(write_toml, step="1e-4")))
    assert [r.dirname for r in plain.runs] == [swept.runs[1].dirname]
    assert swept.runs[0].dirname != swept.runs[1].dirname
    assert swept.runs[1].swept == {"samplers.step_size": 1e-4}


def test_target_sweeps_multiply_preset_variants_and_the_entry_own(write_toml):
    exp = load(_file(write_toml, n_data="{ sweep = [100, 200] }", seed="{ sweep = [0, 1, 2] }"))
    assert len(exp.targets) == 6
    # the entry's own points outermost, then its presets' variants
    assert [(t.spec.data.n_data, t.spec.seed) for t in exp.targets[:3]] == [
        (100, 0),
        (200, 0),
        (100, 1),
    ]
    assert exp.targets[3].swept == {"data.n_data": 200, "targets.seed": 1}
    assert len({target_id(t.spec) for t in exp.targets}) == 6
    plain = load(_file(write_toml, n_data="200", seed="1"))
    assert target_id(plain.targets[0].spec) == target_id(exp.targets[3].spec)
    plan = make_plan(exp)
    assert len(plan.runs) == 6 and plan.runs[3].swept == exp.targets[3].swept


def test_a_preset_name_can_be_swept(write_toml):
    text = BASE.format(n_data=100, seed=0, step="1e-4", loc="10.0").replace(
        'model = "m"', 'model = { sweep = ["m", "wide"] }'
    )
    text += '[models.wide]\nkind = "mlp"\nin_dim = 2\nwidths = [8]\nout_dim = 1\n'
    exp = load(write_toml(text))
    assert [t.model for t in exp.targets] == ["m", "wide"]
    assert exp.targets[1].swept == {"targets.model": "wide"}


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"step": "{ sweep = [] }"}, r"samplers\[0\]\.step_size\.sweep: empty; give at least one"),
        (
            {"step": "{ sweep = [1e-5, 'big'] }"},
            r"samplers\[0\]\.step_size\.sweep\[1\]: expected a number",
        ),
        ({"step": "{ sweep = 1e-5 }"}, r"step_size\.sweep: expected a list of values"),
        ({"step": "{ sweep = [1e-5, 1e-5] }"}, r"step_size\.sweep\[1\]: repeats sweep\[0\]"),
        (
            {"loc": "{ sweep = [1.0, 1] }"},
            r"samplers\[0\]: the sweep points \(localization = 1\.0\) and \(localization = 1\) "
            "are one value once read",
        ),
        (
            {"loc": "1.0\nmax_time = { sweep = ['10m', 600] }"},
            r"\(max_time = '10m'\) and \(max_time = 600\)",
        ),
        ({"step": "{ sweep = [1e-5], also = 1 }"}, r"step_size: a sweep is .* remove 'also'"),
        ({"n_data": "{ sweep = [100, 1] }"}, r"data\.d\.n_data\.sweep\[1\]: must be at least 2"),
        ({"seed": "{ sweep = [0, -1] }"}, r"targets\[0\]\.seed\.sweep\[1\]: expected a non-neg"),
    ],
)
def test_bad_sweeps_name_the_element(write_toml, changes, match):
    with pytest.raises(ConfigError, match=match):
        load(_file(write_toml, **changes))


def test_unknown_swept_keys_and_unsweepable_ones_are_named(write_toml):
    text = BASE.format(n_data=100, seed=0, step="1e-4", loc="10.0")
    with pytest.raises(ConfigError, match=r"samplers\[0\]: unknown key 'stepsize'"):
        load(write_toml(text + "stepsize = { sweep = [1, 2] }\n"))
    with pytest.raises(ConfigError, match=r"samplers\[0\]\.name: cannot be swept"):
        load(write_toml(text.replace('name = "sgld"', 'name = { sweep = ["sgld", "hmc"] }')))
    with pytest.raises(ConfigError, match=r"models\.m\.widths\[0\]: only a top-level key"):
        load(write_toml(text.replace("widths = [3]", "widths = [{ sweep = [3, 4] }]")))
