"""A sampler whose loss becomes NaN/inf is a failed run: recorded, never published."""

import json

import pytest

from lambda_hat import runner
from lambda_hat.config.specs import (
    DataSpec,
    ModelSpec,
    RunSpec,
    SGLDParams,
    TargetSpec,
    TrainingSpec,
)
from lambda_hat.errors import SamplerDivergedError
from lambda_hat.store.ids import run_dirname
from lambda_hat.store.layout import Layout


def test_diverging_sgld_is_recorded_as_failure(tmp_path, x32):
    model = ModelSpec(
        kind="dln", in_dim=3, widths=(3,), out_dim=3, rank=1, activation="identity", bias=False
    )
    target = TargetSpec(
        model, DataSpec(n_data=50), TrainingSpec(init="teacher", steps=0), 0, "float32"
    )
    tid = runner.build_target(target, tmp_path).key
    spec = RunSpec(
        target_id=tid,
        sampler="sgld",
        params=SGLDParams(step_size=10.0, batch_size=50),
        chains=2,
        draws=20,
        burnin=0,
        thin=1,
        seed=0,
        inverse_temperature=1.0,
        localization=1.0,
        precision="float32",
    )
    with pytest.raises(SamplerDivergedError) as info:
        runner.run_sampler(spec, tmp_path)
    message = str(info.value)
    assert "'sgld'" in message and "at step" in message and "step_size" in message
    layout = Layout(tmp_path)
    name = run_dirname(spec)
    assert not layout.run_dir(tid, name).exists()
    assert not list(layout.target_dir(tid).glob("run_*"))
    failure = layout.run_failure(tid, name)
    assert failure.is_file()
    assert failure.parent.name == "_failures"
    assert "NaN/inf" in json.dumps(json.loads(failure.read_text()))
