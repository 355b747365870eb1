"""status / results / promote / verify on a real small store (built once per session)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from lambda_hat.cli import main, promote_main
from lambda_hat.config import load
from lambda_hat.results import COLUMNS, dataframe
from lambda_hat.results import load as load_rows
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout, lock_path
from lambda_hat.store.snapshots import Snapshots
from tests.scheduler.helpers import base_store, write_experiments
from tests.store.faults import computing, held_elsewhere


@pytest.fixture
def store(tmp_path):
    exp, root, _ = base_store(tmp_path)
    plan = make_plan(load(exp, root))
    return exp, root, plan


def _out(capsys, argv) -> tuple[int, str]:
    rc = main(argv)
    return rc, capsys.readouterr().out


def test_status_per_target_and_run(store, capsys):
    exp, root, plan = store
    rc, out = _out(capsys, ["status", str(exp), "--root", str(root), "--format", "json"])
    assert rc == 0
    rows = json.loads(out)["rows"]
    states = [(r["kind"], r["run"], r["state"]) for r in rows]
    good, second, bad = plan.runs
    assert states == [
        ("target", None, "done"),
        ("run", good.dirname, "done"),
        ("run", second.dirname, "done"),
        ("run", bad.dirname, "failed"),
    ]
    assert "diverged" in rows[-1]["message"] and rows[-1]["retryable"] is False

    # A missing run whose lock a live process holds is shown as running.
    layout = Layout(root)
    shutil.rmtree(layout.run_dir(good.target_id, good.dirname))
    with held_elsewhere(lock_path(layout.run_dir(good.target_id, good.dirname))):
        _, out = _out(capsys, ["status", str(exp), "--root", str(root), "--format", "json"])
        assert json.loads(out)["rows"][1]["state"] == "running"
    _, out = _out(capsys, ["status", str(exp), "--root", str(root)])
    assert "missing" in out and "failed" in out and "diverged" in out

    _, out = _out(capsys, ["status", "--root", str(root), "--format", "json"])
    rows = json.loads(out)["rows"]
    assert [r["state"] for r in rows].count("failed") == 1
    assert {r["run"] for r in rows if r["state"] == "done"} == {None, second.dirname}


def test_status_prints_a_failure_message_as_written(store, capsys):
    """Brackets in a recorded message (``[[samplers]]``, ``[store]``) are text, not the
    console's markup."""
    exp, root, plan = store
    bad = plan.runs[-1]
    path = Layout(root).run_failure(bad.target_id, bad.dirname)
    doc = json.loads(path.read_text())
    doc["message"] = "give its [[samplers]] entry max_time; [store] root = 'runs'"
    path.write_text(json.dumps(doc))
    _, out = _out(capsys, ["status", "--root", str(root)])
    assert "give its [[samplers]] entry max_time; [store] root" in " ".join(out.split())


def test_status_shows_a_failed_run_being_retried_as_running(store, capsys):
    """With or without the experiments file: its recorded failure is an earlier
    attempt's."""
    exp, root, plan = store
    bad = plan.runs[-1]
    with held_elsewhere(lock_path(Layout(root).run_dir(bad.target_id, bad.dirname))):
        for argv in (["status", "--root", str(root)], ["status", str(exp), "--root", str(root)]):
            _, out = _out(capsys, [*argv, "--format", "json"])
            (row,) = [r for r in json.loads(out)["rows"] if r["run"] == bad.dirname]
            assert row["state"] == "running" and "diverged" in row["message"]
            _, out = _out(capsys, argv)
            assert "an earlier attempt failed: SamplerDivergedError: " in out
            assert "3 runs (2 done, 1 running)" in out


def test_status_of_the_store_shows_the_runs_being_computed(store, capsys):
    """Without the experiments file too: a run a live process computes is running, with
    its saved progress; once that process is gone it is a stopped run, not running."""
    _, root, plan = store
    good = plan.runs[0]
    layout = Layout(root)
    where = {"phase": 1, "offset": 15, "draws_done": 25, "draws_total": 60}
    with computing(layout.run_dir(good.target_id, good.dirname)):
        saved = Snapshots(layout.run_resume(good.target_id, good.dirname), {})
        saved.save({}, {"loss": np.zeros((15, 2))}, where)
        _, out = _out(capsys, ["status", "--root", str(root), "--format", "json"])
        rows = [r for r in json.loads(out)["rows"] if r["run"] == good.dirname]
        assert rows == [
            {
                "kind": "run",
                "target_id": good.target_id,
                "run": good.dirname,
                "what": "sgld",
                "state": "running",
                "saved": where,
            }
        ]
        _, out = _out(capsys, ["status", "--root", str(root)])
        assert "progress saved at draw 25 of 60" in out and "the next attempt" not in out
    _, out = _out(capsys, ["status", "--root", str(root), "--format", "json"])
    (row,) = [r for r in json.loads(out)["rows"] if r["run"] == good.dirname]
    assert (row["state"], row["saved"]) == ("missing", where)  # stopped: its progress stays


def test_status_says_where_a_stopped_run_resumes(store, capsys):
    exp, root, plan = store
    good = plan.runs[0]
    layout = Layout(root)
    shutil.rmtree(layout.run_dir(good.target_id, good.dirname))  # missing again, as if stopped
    where = {"phase": 1, "offset": 15, "draws_done": 25, "draws_total": 60}
    saved = Snapshots(layout.run_resume(good.target_id, good.dirname), {})
    saved.save({}, {"loss": np.zeros((15, 2))}, where)
    _, out = _out(capsys, ["status", str(exp), "--root", str(root), "--format", "json"])
    row = json.loads(out)["rows"][1]
    assert (row["run"], row["state"], row["saved"]) == (good.dirname, "missing", where)
    _, out = _out(capsys, ["status", str(exp), "--root", str(root)])
    assert "progress saved at draw 25 of 60: the next attempt resumes" in out
    saved.clear()  # only the step-size pilot's progress, in round 2 of SGLD's auto step
    pilot = {"phase": "pilot", "round": 1, "steps_total": 9000, "step_size": 2.5e-6}
    pilot.update(rounds=[{"step_size": 1e-5}], steps_done=1200)
    saved.part("pilot").save({}, {"state_0": np.zeros(3)}, pilot)
    _, out = _out(capsys, ["status", str(exp), "--root", str(root), "--format", "json"])
    assert json.loads(out)["rows"][1]["saved"] == pilot
    _, out = _out(capsys, ["status", str(exp), "--root", str(root)])
    assert "progress saved at step-size pilot round 2, step 1,200 of 9,000: the next" in out


def test_status_of_the_store_shows_the_stopped_runs(store, capsys):
    """Without the experiments file: a stopped run with saved progress is listed, and a
    failed run's row says where its next attempt resumes; a published run's leftover
    progress file is not a stopped run."""
    _, root, plan = store
    good, second, bad = plan.runs
    layout = Layout(root)
    shutil.rmtree(layout.run_dir(good.target_id, good.dirname))
    where = {"phase": 1, "offset": 15, "draws_done": 25, "draws_total": 60}
    for run in (good, second, bad):
        saved = Snapshots(layout.run_resume(run.target_id, run.dirname), {})
        saved.save({}, {"loss": np.zeros((15, 2))}, where)
    _, out = _out(capsys, ["status", "--root", str(root), "--format", "json"])
    rows = {r["run"]: r for r in json.loads(out)["rows"] if r["run"]}
    assert rows[good.dirname] == {
        "kind": "run",
        "target_id": good.target_id,
        "run": good.dirname,
        "what": "sgld",
        "state": "missing",
        "saved": where,
    }
    assert rows[bad.dirname]["state"] == "failed" and rows[bad.dirname]["saved"] == where
    assert rows[second.dirname] == {
        "kind": "run",
        "target_id": second.target_id,
        "run": second.dirname,
        "what": second.spec.sampler,
        "state": "done",
    }
    _, out = _out(capsys, ["status", "--root", str(root)])
    assert "progress saved at draw 25 of 60: the next attempt resumes" in out
    assert "3 runs (1 done, 1 missing, 1 failed)" in out


def test_status_lists_slurm_submissions(store, capsys):
    _, root, _ = store
    sub = root / "slurm" / "20250101-120000-abcd"
    sub.mkdir(parents=True)
    (sub / "submission.json").write_text(
        json.dumps({"submission_id": "20250101-120000-abcd", "n_tasks": 3, "artifacts": []})
    )
    _, out = _out(capsys, ["status", "--root", str(root)])
    assert "slurm 20250101-120000-abcd (not submitted, 3 task(s))" in out
    # with an experiments file, only that file's submissions
    exp, mine = store[0], root / "slurm" / "20250101-130000-ef01"
    mine.mkdir()
    doc = {"submission_id": mine.name, "n_tasks": 1, "experiments": str(exp.resolve())}
    (mine / "submission.json").write_text(json.dumps(doc))
    _, out = _out(capsys, ["status", str(exp), "--root", str(root)])
    assert "slurm 20250101-130000-ef01" in out and "20250101-120000-abcd" not in out


def test_results_rows_formats_and_experiment_filter(store, capsys, tmp_path):
    exp, root, plan = store
    rows = load_rows(root)
    assert len(rows) == 2
    layout = Layout(root)
    meta = json.loads((layout.target_dir(plan.targets[0].target_id) / "meta.json").read_text())
    for row, task in zip(rows, sorted(plan.runs[:2], key=lambda r: r.dirname), strict=True):
        analysis = json.loads(
            (layout.run_dir(task.target_id, task.dirname) / "analysis.json").read_text()
        )
        assert row["run"] == task.dirname and row["sampler"] == "sgld"
        assert row["llc_mean"] == analysis["llc_mean"] and row["ess"] == analysis["ess"]
        assert row["target_params"] == meta["dims"]["p"] == 12
        assert row["n_data"] == 200 and row["model"] == "dln" and row["seed"] == 1
        assert row["true_llc"] == 2.0  # DLN [2,3,2], rank 1
        assert row["relative_error"] == pytest.approx((row["llc_mean"] - 2.0) / 2.0)
    assert set(COLUMNS) == set(rows[0])

    rc, out = _out(capsys, ["results", "--root", str(root), "--format", "json"])
    assert rc == 0 and json.loads(out) == rows
    _, out = _out(capsys, ["results", "--root", str(root), "--format", "csv"])
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert [r["run"] for r in parsed] == [r["run"] for r in rows]
    assert list(parsed[0]) == list(COLUMNS)
    _, out = _out(capsys, ["results", "--root", str(root)])
    assert rows[0]["run_id"] in out and "2 run(s)" in out

    only = write_experiments(tmp_path / "only.toml", samplers=[{"seed": 1}])
    _, out = _out(
        capsys, ["results", "--experiment", str(only), "--root", str(root), "--format", "json"]
    )
    assert [r["run"] for r in json.loads(out)] == [plan.runs[1].dirname]

    df = dataframe(root)
    assert list(df.columns) == list(COLUMNS) and len(df) == 2
    assert df["llc_mean"].tolist() == [r["llc_mean"] for r in rows]


def test_promote_copies_plots_to_stable_paths_with_an_index(store, capsys, tmp_path):
    _, root, plan = store
    dest = tmp_path / "promoted"
    assert promote_main(["--root", str(root), "--to", str(dest)]) == 0
    index = (dest / "index.md").read_text()
    rows = load_rows(root)
    for row in rows:
        assert row["run_id"] in index
        folder = dest / f"dln_n200_seed1_{row['target_id'][4:12]}" / f"sgld_{row['run_id']}"
        assert (folder / "running_llc.png").read_bytes() == (
            (
                root / "targets" / row["target_id"] / row["run"] / "diagnostics" / "running_llc.png"
            ).read_bytes()
        )
    links = [
        line.split("](")[1].rstrip(")") for line in index.splitlines() if line.startswith("![")
    ]
    assert len(links) >= 3 * len(rows) and all((dest / link).is_file() for link in links)
    assert len(list(csv.DictReader((dest / "results.csv").read_text().splitlines()))) == len(rows)
    assert main(["promote", "--root", str(root), "--to", str(dest)]) == 0  # idempotent
    assert (dest / "index.md").read_text() == index
    inside = root / "targets" / plan.runs[0].target_id / "promoted"
    assert main(["promote", "--root", str(root), "--to", str(inside)]) == 2
    assert "inside the store's" in capsys.readouterr().err and not inside.exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    for to, said in [(root, "that is the store's root"), (afile, "a file; give a folder")]:
        assert main(["promote", "--root", str(root), "--to", str(to)]) == 2
        assert said in capsys.readouterr().err
    assert main(["promote", "--root", str(tmp_path / "nope"), "--to", str(dest)]) == 2
    assert "no store at" in capsys.readouterr().err
    (empty := tmp_path / "empty" / "targets").mkdir(parents=True)
    assert main(["promote", "--root", str(empty.parent), "--to", str(dest)]) == 2
    assert "nothing to promote" in capsys.readouterr().err
    assert (dest / "index.md").read_text() == index  # the index there is kept


def _listing(root):
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size)
        for p in root.rglob("*")
        if p.is_file() and ".jax-cache" not in p.parts
    )


def test_verify_finds_and_repairs_index_problems_without_touching_artifacts(store, capsys):
    _, root, plan = store
    rc, out = _out(capsys, ["verify", "--root", str(root)])
    assert rc == 0 and "ok" in out, out
    layout = Layout(root)
    tid = plan.targets[0].target_id
    good = plan.runs[0]
    manifest = layout.runs_manifest(tid)
    entries = [json.loads(line) for line in manifest.read_text().splitlines()]
    dup = next(e for e in entries if e["run_id"] == good.dirname[-8:])
    gone = dict(dup, run_id="deadbeef")
    manifest.write_text(  # a duplicate, a dangling line, a missing one and a torn one
        "".join(json.dumps(e) + "\n" for e in (dup, dup, gone)) + '{"torn'
    )
    stale_tmp = layout.target_dir(tid) / f".tmp-{good.dirname}-99999-abcdef12"
    stale_tmp.mkdir()
    stale_failure = layout.run_failure(tid, good.dirname)
    stale_failure.write_text("{}")
    artifacts = {
        p
        for p in _listing(root)
        if ("/run_" in p[0] and "_failures" not in p[0]) or p[0].endswith(("meta.json", ".npz"))
    }

    rc, out = _out(capsys, ["verify", "--root", str(root)])
    assert rc == 1
    for needle in (
        "duplicate",
        "folder is gone",
        "no line for published",
        "unreadable",
        "stale temp folder",
        "failure record of a published artifact",
    ):
        assert needle in out, (needle, out)

    rc, out = _out(capsys, ["verify", "--root", str(root), "--repair"])
    assert rc == 0, out
    assert not stale_tmp.exists() and not stale_failure.exists()
    assert artifacts <= set(_listing(root))  # every artifact file still there, same size
    assert len(manifest.read_text().splitlines()) == 2
    rc, out = _out(capsys, ["verify", "--root", str(root)])
    assert rc == 0 and "ok" in out


def test_verify_reports_broken_artifacts_and_repair_keeps_them(store, capsys):
    _, root, plan = store
    layout = Layout(root)
    tid = plan.targets[0].target_id
    first, second, _ = plan.runs
    (layout.target_dir(tid) / "params.npz").write_bytes(b"not a zip")
    (layout.run_dir(tid, first.dirname) / "trace.nc").write_bytes(b"garbage")
    path = layout.run_dir(tid, second.dirname) / "analysis.json"
    analysis = json.loads(path.read_text())
    analysis["spec"]["seed"] = 99  # no longer hashes to the folder name
    path.write_text(json.dumps(analysis))

    rc, out = _out(capsys, ["verify", "--root", str(root), "--repair"])
    assert rc == 1
    assert "params.npz: unreadable npz" in out and "trace.nc: unreadable trace" in out
    assert "spec hashes to run_sgld_" in out and second.dirname in out
    assert layout.run_dir(tid, first.dirname).is_dir()  # never deletes an artifact


def test_read_commands_do_not_import_jax(store):
    exp, root, _ = store
    code = (
        "import sys, io, contextlib\n"
        "from lambda_hat.cli import main\n"
        f"root, exp = {str(root)!r}, {str(exp)!r}\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['status', exp, '--root', root]) == 0\n"
        "    assert main(['status', '--root', root]) == 0\n"
        "    assert main(['results', '--root', root, '--format', 'csv']) == 0\n"
        "    assert main(['results', '--root', root, '--experiment', exp]) == 0\n"
        "    assert main(['verify', '--root', root]) == 0\n"
        "    assert main(['promote', '--root', root, '--to', root + '-promoted']) == 0\n"
        "bad = sorted(m for m in sys.modules if m == 'jax' or m.startswith('jax.'))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _published(root, plan):
    return [r for r in plan.runs if Layout(root).run_dir(r.target_id, r.dirname).is_dir()]


def test_results_says_what_it_left_out(store, capsys):
    _, root, plan = store
    published = _published(root, plan)
    run = published[0]
    folder = Layout(root).run_dir(run.target_id, run.dirname)
    (folder / "analysis.json").write_text('{"torn')
    rc = main(["results", "--root", str(root), "--format", "csv"])
    captured = capsys.readouterr()
    assert rc == 0
    assert len(captured.out.strip().splitlines()) == 1 + len(published) - 1
    assert f"left out (unreadable): {folder}: analysis.json unreadable" in captured.err
    problems: list[str] = []
    assert len(load_rows(root, problems=problems)) == len(published) - 1
    assert len(problems) == 1 and "analysis.json unreadable" in problems[0]


def test_verify_quarantine_moves_broken_artifacts_out_and_keeps_them(store, capsys):
    _, root, plan = store
    layout = Layout(root)
    tid = plan.targets[0].target_id
    broken, kept = _published(root, plan)
    broken_run = layout.run_dir(tid, broken.dirname)
    (broken_run / "trace.nc").write_bytes(b"garbage")

    rc, out = _out(capsys, ["verify", "--root", str(root), "--quarantine"])
    assert rc == 0, out
    moved = list((root / "_quarantine").glob(f"*/targets/{tid}/{broken.dirname}"))
    assert len(moved) == 1 and (moved[0] / "trace.nc").read_bytes() == b"garbage"
    assert not broken_run.exists()
    assert f"quarantined: {broken_run} -> {moved[0]}" in out
    runs_manifest = layout.runs_manifest(tid).read_text()
    assert broken.dirname.split("_")[-1] not in runs_manifest  # no dangling manifest line
    assert kept.dirname.split("_")[-1] in runs_manifest
    assert [r["run"] for r in load_rows(root)] == [kept.dirname]
    rc, out = _out(capsys, ["verify", "--root", str(root)])
    assert rc == 0 and "ok: the store is consistent" in out

    # A broken target goes out with its runs: they were computed from it.
    (layout.target_dir(tid) / "params.npz").write_bytes(b"not a zip")
    rc, out = _out(capsys, ["verify", "--root", str(root), "--quarantine"])
    assert rc == 0, out
    assert not layout.target_dir(tid).exists()
    assert (root / "_quarantine").glob(f"*/targets/{tid}/{kept.dirname}/analysis.json")
    assert len(list((root / "_quarantine").glob(f"*/targets/{tid}/params.npz"))) == 1
    assert tid not in layout.catalog.read_text()


def test_results_points_an_experiments_file_to_experiment(store, capsys):
    exp, root, _ = store
    assert main(["results", "--root", str(root), str(exp)]) == 2
    assert f"{exp}: an experiments file; give it as --experiment {exp}" in capsys.readouterr().err
