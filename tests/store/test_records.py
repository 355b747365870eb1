"""Typed records: a round trip loses nothing, older schemas read as today's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambda_hat.store.catalog import Catalog
from lambda_hat.store.records import FailureRecord, RunAnalysis, TargetMeta
from lambda_hat.store.trust import CONVERGED, STEP_BIASED

FIXTURE_STORE = Path(__file__).parents[1] / "fixtures" / "store"
CONVERGED_SUMMARY = {"rhat": 1.002, "ess": 900.0, "drift_z": 0.3}


def _files(pattern: str) -> list[Path]:
    found = sorted(FIXTURE_STORE.glob(pattern))
    assert found, pattern
    return found


@pytest.mark.parametrize("path", _files("targets/tgt_*/meta.json"), ids=lambda p: p.parent.name)
def test_a_stored_meta_json_round_trips(path):
    d = json.loads(path.read_text())
    meta = TargetMeta.from_json(d, path.parent.name)
    assert meta.to_json() == d
    assert meta.target_id == path.parent.name == d["target_id"]
    assert (meta.dims.n, meta.dims.p) == (d["dims"]["n"], d["dims"]["p"])
    assert meta.metrics.L0 == d["metrics"]["L0"]
    assert meta.extra["jax_enable_x64"] == d["jax_enable_x64"]  # a key it does not name


@pytest.mark.parametrize(
    "path", _files("targets/tgt_*/run_*/analysis.json"), ids=lambda p: p.parent.name
)
def test_a_stored_analysis_json_round_trips_but_for_the_verdict_it_predates(path):
    d = json.loads(path.read_text())
    assert "trust" not in d  # the fixture store was written before verdicts
    record = RunAnalysis.from_json(d, path.parent.name)
    assert record.trust is not None and record.to_json() == {**d, "trust": record.trust.to_json()}
    assert record.to_json()["trust"]["verdict"] == record.verdict
    assert (record.llc_mean, record.ess, record.sampler) == (d["llc_mean"], d["ess"], d["sampler"])
    assert record.extra["llc_draw_std"] == d["llc_draw_std"]


def test_what_a_run_stored_today_reads_back_unchanged():
    """A current analysis.json's keys: the typed ones, nested ones, optional ones."""
    d = {
        "run_id": "0123abcd",
        "sampler": "sgld",
        "llc_mean": 11.8,
        "trust": {"verdict": "converged", "reasons": []},
        "budget": {
            "draws": "auto",
            "max_draws": 12800,
            "verdict": "converged",
            "draws_done": 200,
            "criteria": {"rhat_max": 1.01},
            "checks": [{"draws": 200, "llc_mean": 11.8, "passed": True, "rhat": 1.0}],
        },
        "sgld_step": {"step_size": 3e-5, "bias": {"biased": False}},
        "sampler_config": {"params": {"step_size": "auto"}},
        "timings_sec": {"load": 0.2},
        "warnings": [],
        "schema_version": 1,
    }
    record = RunAnalysis.from_json(d)
    assert record.to_json() == d
    assert record.budget.checks[0].passed and record.budget.checks[0].draws == 200
    assert record.trust.converged and record.chosen_step_size == 3e-5
    assert record.prepared == d["sgld_step"]


def test_an_old_analysis_is_completed_from_its_folder_and_judged_on_read():
    biased = {"bias": {"biased": True, "bias_bound": 0.2, "threshold": 0.05}}
    d = {**CONVERGED_SUMMARY, "llc_mean": 6.0, "true_llc": 5.0, "sgld_step": biased}
    record = RunAnalysis.from_json(d, "run_sgld_0123abcd")
    assert (record.sampler, record.run_id) == ("sgld", "0123abcd")
    assert record.relative_error == pytest.approx(0.2)
    assert record.verdict == STEP_BIASED  # the step's own bias bound counts too
    plain = RunAnalysis.from_json({**CONVERGED_SUMMARY, "warnings": None}, "run_hmc_00ff00ff")
    assert plain.verdict == CONVERGED and plain.warnings == []  # null read as empty


def test_a_failure_record_keeps_what_it_does_not_name_and_not_its_path(tmp_path):
    d = {
        "error_type": "WorkerCrashed",
        "message": "killed by SIGKILL",
        "traceback": "",
        "spec": {"sampler": "sgld"},
        "time": 12.5,
        "target_id": "tgt_x",
        "run": "run_sgld_0123abcd",
        "retryable": True,
        "peak_rss_mb": 812.0,
        "signal": 9,
    }
    record = FailureRecord.from_json({**d, "path": "ignored"}, tmp_path / "f.json")
    assert record.to_json() == d and record.extra == {"signal": 9}
    assert record.path == tmp_path / "f.json" and record.retryable
    assert record.text == "WorkerCrashed: killed by SIGKILL"


def test_the_catalog_reads_records_and_reports_an_unreadable_file(tmp_path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, store)
    targets = Catalog(store).targets()
    assert all(isinstance(t.meta, TargetMeta) for t in targets)
    runs = [r for t in targets for r in t.runs()]
    assert runs and all(isinstance(r.analysis, RunAnalysis) for r in runs)
    failures = Catalog(store).failures()
    assert failures and all(isinstance(f, FailureRecord) and f.path.is_file() for f in failures)
    (runs[0].path / "analysis.json").write_text("[1, 2]")
    broken = next(r for t in Catalog(store).targets() for r in t.runs() if r.path == runs[0].path)
    assert broken.analysis is None and broken.error == "analysis.json unreadable: not a JSON object"


def test_a_recorded_failure_says_so_across_processes(tmp_path):
    """The executor records what the runner did not: the exception a worker raises
    carries where its failure was recorded through the pool's pickling."""
    import pickle

    from lambda_hat.errors import SamplerDivergedError
    from lambda_hat.store import failures

    exc = SamplerDivergedError("diverged at step 4")
    assert failures.recorded(exc) is None
    path = tmp_path / "_failures" / "run_sgld_0123abcd.json"
    assert failures.record(path, exc, {"sampler": "sgld"}, run="run_sgld_0123abcd")
    back = pickle.loads(pickle.dumps(exc))
    assert failures.recorded(back) == str(path) and str(back) == "diverged at step 4"
    record = FailureRecord.from_json(json.loads(path.read_text()), path)
    assert (record.error_type, record.run) == ("SamplerDivergedError", "run_sgld_0123abcd")
