"""Store reading and formatting helpers of the TUI (no Textual needed)."""

from __future__ import annotations

import shutil

from lambda_hat.store.catalog import Catalog
from lambda_hat.store.records import FailureRecord, RunAnalysis
from lambda_hat.tui.data import (
    RunRow,
    compare_table,
    describe_model,
    fmt_estimate,
    fmt_relative,
    fmt_time,
    run_rows,
    running_llc,
    store_signature,
    target_row,
)
from lambda_hat.tui.widgets.line_plot import braille_canvas
from tests.store.faults import computing

from .conftest import DLN, FIXTURE_STORE


def test_formatting():
    assert fmt_estimate(12.1585, 0.35498) == "12.16 ± 0.35"
    assert fmt_relative(0.0132) == "+1.3%"
    assert fmt_time(0) == "1970-01-01 00:00"
    assert (
        describe_model({"kind": "dln", "in_dim": 3, "widths": [4], "out_dim": 3, "rank": 1})
        == "dln 3→4→3 r=1"
    )
    one_layer = {"kind": "dln", "in_dim": 10, "widths": [], "out_dim": 10, "rank": 10}
    assert describe_model(one_layer) == "dln 10→10 r=10"


def test_rows_of_the_fixture_store():
    catalog = Catalog(FIXTURE_STORE)
    row = target_row(catalog.target(DLN))
    assert (row.num_runs, row.num_failed, row.true_llc) == (2, 1, 4.5)
    runs = run_rows(catalog, DLN)
    assert [r.status for r in runs] == ["ok", "ok", "failed"]
    assert runs[2].failure.path.name == f"{runs[2].dirname}.json"
    table = compare_table(catalog, [target_row(t) for t in catalog.targets()])
    assert table.samplers == ["hmc", "sgld"] and len(table.rows()) == 4
    assert table.to_csv().splitlines()[0].startswith("target_id,model,n,p,sampler,run,llc_mean")


def test_runs_being_computed_are_listed_as_running(tmp_path):
    """A new run a live process computes, and a failed one being retried: running (the
    retry's failure an earlier attempt's), counted apart from the failed runs; once the
    process is gone, neither is."""
    shutil.copytree(FIXTURE_STORE, tmp_path / "s")
    catalog = Catalog(tmp_path / "s")
    folder = tmp_path / "s" / "targets" / DLN
    (failed,) = [r.dirname for r in run_rows(catalog, DLN) if r.status == "failed"]
    with computing(folder / "run_sgld_0123abcd"), computing(folder / failed):
        row = target_row(catalog.target(DLN))
        assert (row.num_runs, row.num_running, row.num_failed) == (2, 2, 0)
        runs = run_rows(catalog, DLN)
        assert [r.status for r in runs] == ["ok", "ok", "running", "running"]
        new, retry = sorted(runs[2:], key=lambda r: r.dirname != "run_sgld_0123abcd")
        assert new.message == "" and new.failure is None and new.varies == ""
        assert runs[1].varies == "burnin=50 draws=200 step_size=0.0001"  # against the retry
        assert retry.message.startswith("an earlier attempt failed: SamplerDivergedError")
    row = target_row(catalog.target(DLN))
    assert (row.num_running, row.num_failed) == (0, 1)
    assert [r.status for r in run_rows(catalog, DLN)] == ["ok", "ok", "failed"]


def test_running_llc_ends_at_the_estimate():
    run = next(r for r in run_rows(Catalog(FIXTURE_STORE), DLN) if r.status == "ok")
    steps, values = running_llc(run.path / "trace.nc")
    assert steps[0] == 1 and steps[-1] == run.analysis.draws
    assert abs(values[-1] - run.analysis.llc_mean) < 1e-9


def test_store_signature_sees_new_runs_and_failures(tmp_path):
    shutil.copytree(FIXTURE_STORE, tmp_path / "s")
    catalog = Catalog(tmp_path / "s")
    before = store_signature(catalog)
    assert store_signature(catalog) == before
    target = tmp_path / "s" / "targets" / DLN
    (target / "run_sgld_deadbeef").mkdir()
    after_run = store_signature(catalog)
    assert after_run != before
    (target / "_failures" / "run_sgld_cafe.json").write_text("{}")
    assert store_signature(catalog) != after_run


def test_braille_plot_draws_line_and_reference():
    lines, ref = braille_canvas([0, 1, 2, 3], [0.0, 1.0, 2.0, 3.0], 4, 2, (0.0, 3.0), 3.0)
    assert len(lines) == 2 and all(len(line) == 4 for line in lines)
    assert lines[1][0] != "\u2800" and lines[0][-1] != "\u2800"  # rises bottom-left to top-right
    assert ref[1] == set()  # reference line on the top row only


def test_settings_of_an_auto_sgld_run_show_what_it_chose():
    auto = {"params": {"step_size": "auto", "batch_size": 256}, "chains": 4}
    row = RunRow(
        "t",
        "run_sgld_0123abcd",
        "done",
        analysis=RunAnalysis.from_json(
            {
                "sampler": "sgld",
                "sampler_config": {**auto, "draws": "auto", "thin": "auto"},
                "sgld_step": {"step_size": 7.083e-5},
                "draws": 6400,
                "thin": 141,
            }
        ),
    )
    assert row.hyperparams() == "ε(auto)=7.08e-05 batch=256 4×6400(auto) thin=141(auto)"
    failed = RunRow(
        "t",
        "run_sgld_0123abcd",
        "failed",
        failure=FailureRecord(spec={**auto, "draws": 1000, "thin": "auto"}),
    )
    assert failed.hyperparams() == "ε(auto)=auto batch=256 4×1000 thin=auto"


def test_settings_of_an_auto_sghmc_run_show_its_step_friction_and_batch():
    auto = {"step_size": "auto", "friction": "auto", "batch_size": "auto"}
    row = RunRow(
        "t",
        "run_sghmc_0123abcd",
        "done",
        analysis=RunAnalysis.from_json(
            {
                "sampler": "sghmc",
                "sampler_config": {"params": auto, "chains": 4, "draws": "auto", "thin": 57},
                "sghmc_step": {"step_size": 2.5e-3, "friction": 8.0, "batch_size": 601},
                "draws": 200,
            }
        ),
    )
    assert row.hyperparams() == "ε(auto)=0.0025 ξ(auto)=8 batch(auto)=601 4×200(auto) thin=57"
