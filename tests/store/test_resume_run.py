"""A run stopped while sampling keeps its progress in the store and resumes from it.

In-process, through ``runner.run_sampler`` as a worker calls it: the stop is a
KeyboardInterrupt from the progress callback (what Ctrl-C or a SLURM SIGTERM raise).
The resumed run must publish the same trace, value for value, as a run never stopped,
say in analysis.json that it resumed, and leave no saved progress behind.
"""

import json

import jax
import pytest

from lambda_hat import runner
from lambda_hat.analysis.inference_data import read_trace
from lambda_hat.config.specs import (
    DataSpec,
    ModelSpec,
    RunSpec,
    SGLDParams,
    TargetSpec,
    TrainingSpec,
)
from lambda_hat.store.ids import run_dirname
from lambda_hat.store.layout import Layout
from lambda_hat.store.snapshots import saved_point

MODEL = ModelSpec(
    kind="dln", in_dim=3, widths=(3,), out_dim=3, rank=1, activation="identity", bias=False
)
TARGET = TargetSpec(MODEL, DataSpec(n_data=80), TrainingSpec(init="teacher", steps=0), 0, "float32")


@pytest.fixture(autouse=True)
def _keep_precision():
    """The runner sets this process's precision per run; put it back for other tests."""
    old = bool(jax.config.jax_enable_x64)
    yield
    jax.config.update("jax_enable_x64", old)


def _spec(tid: str) -> RunSpec:
    return RunSpec(
        target_id=tid,
        sampler="sgld",
        params=SGLDParams(step_size=1e-3, batch_size=20, precond="rmsprop"),
        chains=2,
        draws="auto",
        max_draws=400,
        burnin=20,
        thin=3,
        seed=0,
        inverse_temperature=1.0,
        localization=1.0,
        precision="float32",
    )


def _stop_after(draws: int):
    def progress(done, total):
        if done >= draws:
            raise KeyboardInterrupt

    return progress


def test_a_stopped_run_resumes_and_publishes_what_an_unstopped_one_does(tmp_path):
    whole_root, root = tmp_path / "whole", tmp_path / "stopped"
    tid = runner.build_target(TARGET, whole_root)
    assert runner.build_target(TARGET, root) == tid
    spec, name = _spec(tid), run_dirname(_spec(tid))
    runner.run_sampler(spec, whole_root)
    layout = Layout(root)
    saved = layout.run_resume(tid, name)
    with pytest.raises(KeyboardInterrupt):
        runner.run_sampler(spec, root, progress=_stop_after(250))
    point = saved_point(saved)
    assert point["where"]["draws_done"] >= 250
    assert point["where"]["phase"] == 1  # among the kept draws: after checks at 200
    assert not layout.run_dir(tid, name).exists()
    assert not layout.run_failure(tid, name).exists()  # a stop is not a failure
    stages = []
    runner.run_sampler(spec, root, stage=stages.append)
    assert not saved.parent.exists()  # the _resume folder goes with its last file
    done = point["where"]["draws_done"]
    assert f"resuming at draw {done:,} of 420 (progress saved by an earlier attempt)" in stages
    ours, theirs = (Layout(r).run_dir(tid, name) for r in (root, whole_root))
    traces = [read_trace(d / "trace.nc") for d in (ours, theirs)]
    for group in traces[0].groups():  # every array, exactly (attributes hold the time)
        assert getattr(traces[0], group).equals(getattr(traces[1], group)), group
    a, b = (json.loads((d / "analysis.json").read_text()) for d in (ours, theirs))
    for key in ("llc_mean", "llc_mcse", "rhat", "ess", "total_fges", "budget", "draws"):
        assert a[key] == b[key], key
    assert a["resumed"]["draws_done"] == done and a["resumed"]["attempts"] == 2
    assert "resumed" not in b


def test_a_failed_run_leaves_no_saved_progress(tmp_path):
    tid = runner.build_target(TARGET, tmp_path)
    spec = _spec(tid)
    layout = Layout(tmp_path)
    saved = layout.run_resume(tid, run_dirname(spec))
    with pytest.raises(KeyboardInterrupt):
        runner.run_sampler(spec, tmp_path, progress=_stop_after(30))
    assert saved.is_file()

    def fail(done, total):
        raise RuntimeError("a bug in a progress display")

    with pytest.raises(RuntimeError):
        runner.run_sampler(spec, tmp_path, progress=fail)
    assert layout.run_failure(tid, run_dirname(spec)).is_file()
    assert not saved.exists()  # --retry-failed starts afresh
