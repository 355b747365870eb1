"""A run stopped while sampling keeps its progress in the store and resumes from it.

In-process, through ``runner.run_sampler`` as a worker calls it: the stop is a
KeyboardInterrupt from the progress callback (what Ctrl-C or a SLURM SIGTERM raise).
The resumed run must publish the same trace, value for value, as a run never stopped,
say in analysis.json that it resumed, and leave no saved progress behind.
"""

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from lambda_hat import runner
from lambda_hat.analysis.inference_data import read_trace
from lambda_hat.config.specs import (
    DataSpec,
    HMCParams,
    ModelSpec,
    RunSpec,
    SGLDParams,
    TargetSpec,
    TrainingSpec,
)
from lambda_hat.store.ids import run_dirname
from lambda_hat.store.layout import Layout
from lambda_hat.store.records import FailureRecord
from lambda_hat.store.snapshots import (
    Snapshots,
    describe,
    progress_rank,
    saved_point,
    saved_progress,
)

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


def _twin_stores(tmp_path) -> tuple[Path, Path, str]:
    """Two stores holding the same target: one for a run never stopped, one for the run
    under test; (its root, the tested root, the target ID)."""
    whole_root, root = tmp_path / "whole", tmp_path / "tested"
    tid = runner.build_target(TARGET, whole_root).key
    assert runner.build_target(TARGET, root).key == tid
    return whole_root, root, tid


def _analyses(tid: str, name: str, *roots: Path) -> list[dict]:
    """The run's analysis.json in each store."""
    return [json.loads((Layout(r).run_dir(tid, name) / "analysis.json").read_text()) for r in roots]


def test_a_stopped_run_resumes_and_publishes_what_an_unstopped_one_does(tmp_path):
    whole_root, root, tid = _twin_stores(tmp_path)
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
    assert a["resumed"]["earlier_attempts"] == [{"compute": a["compute"]}]
    assert "resumed" not in b


def test_a_stopped_hmc_run_keeps_its_adaptation_and_says_so(tmp_path, monkeypatch):
    """Stopped in its burn-in, an HMC run's next attempt takes up the adapted chains
    (no window adaptation again) with its draws, and publishes what an unstopped run
    does; analysis.json ``resumed`` names both."""
    import blackjax

    whole_root, root, tid = _twin_stores(tmp_path)
    spec = dataclasses.replace(
        _spec(tid),
        sampler="hmc",
        params=HMCParams(warmup=30, num_integration_steps=4),
        draws=40,
        max_draws=None,
        burnin=10,
        thin=1,
        precision="float64",
    )
    runner.run_sampler(spec, whole_root)
    with pytest.raises(KeyboardInterrupt):
        runner.run_sampler(spec, root, progress=_stop_after(5))
    warm = Layout(root).run_resume(tid, run_dirname(spec)).with_suffix(".warmup.npz")
    assert saved_point(warm)["where"]["phase"] == "warmup"

    def again(*args, **kwargs):
        raise AssertionError("window adaptation ran again")

    monkeypatch.setattr(blackjax, "window_adaptation", again)
    runner.run_sampler(spec, root)
    assert not warm.parent.exists()
    a, b = _analyses(tid, run_dirname(spec), root, whole_root)
    for key in ("llc_mean", "llc_mcse", "rhat", "ess", "total_fges", "stats"):
        assert a[key] == b[key], key
    earlier = [{"compute": a["compute"]}]  # the layout the stopped attempt ran on
    assert a["resumed"]["warmup"] == {"done": True, "attempts": 2, "earlier_attempts": earlier}
    assert a["resumed"]["draws_done"] >= 5 and a["resumed"]["attempts"] == 2


def test_a_failed_run_leaves_no_saved_progress(tmp_path):
    tid = runner.build_target(TARGET, tmp_path).key
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


def test_a_run_that_fails_at_its_writing_keeps_its_sampling_for_the_next_attempt(
    tmp_path, monkeypatch
):
    """Sampling ended and writing failed (a bug in a plot, a NaN in a record, a full
    quota): the failure says the sampling is kept, and ``--retry-failed`` publishes what
    an uninterrupted run does without sampling again."""
    from lambda_hat.analysis import plots

    whole_root, root, tid = _twin_stores(tmp_path)
    spec, name = _spec(tid), run_dirname(_spec(tid))
    runner.run_sampler(spec, whole_root)
    layout = Layout(root)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in a plot")

    told = []
    with monkeypatch.context() as patch:
        patch.setattr(plots, "write_all", broken)
        with pytest.raises(RuntimeError, match="a bug in a plot"):
            runner.run_sampler(spec, root, stage=told.append)
    assert told[-1] == "failed after sampling: the draws are kept, and a retry only writes"
    failure = FailureRecord.from_json(json.loads(layout.run_failure(tid, name).read_text()))
    assert failure.text == (
        "RuntimeError: a bug in a plot (its sampling is kept: a retry only writes the run)"
    )
    point = saved_point(layout.run_resume(tid, name))
    assert point["where"]["phase"] == 1

    def sampled(done, total):
        raise AssertionError("the retry sampled again")

    stages = []
    runner.run_sampler(spec, root, progress=sampled, stage=stages.append)
    done = point["where"]["draws_done"]
    assert any(s.startswith(f"resuming at draw {done:,} of ") for s in stages), stages
    assert not layout.run_resume(tid, name).parent.exists()
    assert not layout.run_failure(tid, name).exists()
    a, b = _analyses(tid, name, root, whole_root)
    for key in ("llc_mean", "llc_mcse", "rhat", "ess", "total_fges", "budget", "draws"):
        assert a[key] == b[key], key
    assert a["resumed"]["draws_done"] == done and a["resumed"]["attempts"] == 2


def test_a_run_stopped_in_its_step_pilot_takes_up_the_rounds_it_finished(tmp_path, monkeypatch):
    """A stop as round 2 of ``step_size = "auto"``'s pilot starts: the next attempt does
    not run round 1 again, says so, and publishes what a run never stopped does."""
    from lambda_hat.numerics import step_size as rule

    monkeypatch.setattr(rule, "SHRINK_STOP", 10.0)  # all three rounds (else one settles it)
    whole_root, root, tid = _twin_stores(tmp_path)
    spec = dataclasses.replace(
        _spec(tid), params=SGLDParams(step_size="auto", batch_size=20), max_draws=200
    )
    name = run_dirname(spec)
    runner.run_sampler(spec, whole_root)

    def stop_at_round_2(text):
        if text.startswith("step size: pilot round 2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run_sampler(spec, root, stage=stop_at_round_2)
    saved = Layout(root).run_resume(tid, name)
    where = saved_progress(saved)["where"]
    assert (where["phase"], where["round"], where["steps_done"]) == ("pilot", 1, 0)
    assert not saved.exists()  # nothing sampled yet: only the pilot's part
    stages = []
    runner.run_sampler(spec, root, stage=stages.append)
    assert not saved.parent.exists()  # the pilot's part goes with the run's progress
    assert f"resuming at {describe(where)} (progress saved by an earlier attempt)" in stages
    assert not any(s.startswith("step size: pilot round 1") for s in stages)
    a, b = _analyses(tid, name, root, whole_root)
    for key in ("llc_mean", "llc_mcse", "total_fges", "sgld_step", "budget", "draws"):
        assert a[key] == b[key], key
    pilot = {"rounds_done": 1, "steps_done": 0, "attempts": 2}
    assert a["resumed"] == {"pilot": {**pilot, "earlier_attempts": [{"compute": a["compute"]}]}}
    assert len(a["sgld_step"]["auto"]["typical"]["rounds"]) == 3


def test_an_sghmc_run_stopped_in_its_pilot_takes_up_the_round_it_ran(tmp_path, monkeypatch):
    """Stopped as its first pilot round's chains are measured, an SGHMC run's next
    attempt takes the round up where it ended (no step of it again) and publishes what
    a run never stopped does."""
    from lambda_hat.numerics.samplers import sghmc, sgld
    from lambda_hat.samplers.sghmc import SGHMCParams

    whole_root, root, tid = _twin_stores(tmp_path)
    spec = dataclasses.replace(
        _spec(tid), sampler="sghmc", params=SGHMCParams(), draws=40, max_draws=None, thin="auto"
    )
    name = run_dirname(spec)
    runner.run_sampler(spec, whole_root)

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(sghmc, "bounds_at", stop)
        with pytest.raises(KeyboardInterrupt):
            runner.run_sampler(spec, root)
    where = saved_progress(Layout(root).run_resume(tid, name))["where"]
    assert (where["phase"], where["round"]) == ("pilot", 0)
    assert where["steps_done"] == where["steps_total"] > 0
    ran = []

    def counted(kernel, key, states, span, *args, **kwargs):
        ran.append(tuple(span))
        return sgld.run_steps(kernel, key, states, span, *args, **kwargs)

    monkeypatch.setattr(sghmc, "run_steps", counted)
    stages = []
    runner.run_sampler(spec, root, stage=stages.append)
    assert f"resuming at {describe(where)} (progress saved by an earlier attempt)" in stages
    assert ran[0] == (where["steps_done"], where["steps_total"])  # nothing of round 1 again
    a, b = _analyses(tid, name, root, whole_root)
    for key in ("llc_mean", "llc_mcse", "total_fges", "sghmc_step", "rhat", "draws"):
        assert a[key] == b[key], key
    assert a["resumed"]["pilot"]["rounds_done"] == 0
    assert a["resumed"]["pilot"]["steps_done"] == where["steps_done"]


def test_progress_is_ordered_and_cleared_with_its_parts(tmp_path):
    """A SLURM task requeues itself when its attempt moved its run forward: any pilot
    step, then a finished round, the finished pilot, then sampling's draws."""
    pilot = {"phase": "pilot", "steps_total": 90, "step_size": 1e-5}
    order = [
        None,
        {**pilot, "round": 0, "rounds": [], "steps_done": 5},
        {**pilot, "round": 0, "rounds": [], "steps_done": 60},
        {**pilot, "round": 1, "rounds": [{}], "steps_done": 0},
        {**pilot, "round": 1, "rounds": [{}], "steps_done": 1},
        {**pilot, "done": True, "rounds": [{}, {}], "steps_done": 0},
        {"phase": 0, "offset": 1, "draws_done": 1, "draws_total": 9},
        {"phase": 1, "offset": 2, "draws_done": 8, "draws_total": 9},
    ]
    ranks = [progress_rank(w) for w in order]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert describe(order[5]) == "the end of the step-size pilot (2 rounds, ε = 1e-05)"
    assert describe(order[3]) == "the start of step-size pilot round 2 (ε = 1e-05)"
    run = tmp_path / "_resume" / "run_sgld_0a1b2c3d.npz"
    Snapshots(run, {}).save({}, {"loss": np.zeros(2)}, order[6])
    Snapshots(run, {}).part("pilot").save({}, {}, order[5])
    (run.parent / f".{run.name}.4242.tmp").write_bytes(b"half a save")  # a killed save's
    other = run.with_name("run_sgld_99999999.npz")
    Snapshots(other, {}).save({}, {}, order[7])
    Snapshots(run, {}).clear()
    assert sorted(p.name for p in run.parent.iterdir()) == [other.name]


def test_saved_progress_is_keyed_on_the_packages_source_not_its_commit(tmp_path):
    """The code a snapshot must match: any .py edit, committed or not, changes it; files
    that are not code (a document beside the modules) do not."""
    import shutil

    import lambda_hat
    from lambda_hat.provenance import code_digest, source_digest

    installed = Path(lambda_hat.__file__).parent
    copy = tmp_path / "lambda_hat"
    shutil.copytree(installed, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert source_digest(copy) == code_digest()
    (copy / "NOTES.md").write_text("not code")
    assert source_digest(copy) == code_digest()
    step = copy / "numerics" / "step_size.py"
    step.write_text(step.read_text() + "\n# an edit\n")
    edited = source_digest(copy)
    assert edited != code_digest()
    (copy / "numerics" / "extra.py").write_text("")
    assert source_digest(copy) not in (edited, code_digest())
