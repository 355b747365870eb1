"""An array task's worker, run here without SLURM: a stop signal leaves no partial artifact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambda_hat.cli import main
from lambda_hat.store.layout import Layout
from lambda_hat.store.snapshots import saved_point

LONG = """
[models.tiny]
kind = "dln"
in_dim = 2
widths = [3]
out_dim = 2
rank = 1

[data.tiny]
n_data = 200

[training.teacher]
init = "teacher"
steps = 0

[[targets]]
model = "tiny"
data = "tiny"
training = "teacher"
seed = 1
precision = "float32"  # one worker process for the whole slice

[[samplers]]
name = "sgld"
thin = 1
step_size = 1e-4
batch_size = 50
chains = 1
draws = 3000000  # chunks of 1000 draws: a stop is seen at once, long before the run ends
"""


def _prepare(tmp_path: Path, capsys) -> tuple[Path, Path]:
    toml = tmp_path / "long.toml"
    toml.write_text(LONG)
    root = tmp_path / "store"
    assert main(["slurm", str(toml), "--root", str(root), "--time", "10"]) == 0
    out = capsys.readouterr().out
    assert "2 artifact(s) missing" in out and "-> 1 array task(s)" in out
    [plan] = sorted(Layout(root).slurm_dir.glob("*/plan.json"))
    return root, plan


def test_each_slurm_call_gets_its_own_submission_folder(tmp_path, capsys, monkeypatch):
    """Two calls in one second for one plan (with other options) never share a folder."""
    monkeypatch.setattr("time.strftime", lambda fmt, *a: "20261205-120000")
    toml = tmp_path / "long.toml"
    toml.write_text(LONG)
    root = tmp_path / "store"
    for partition in ("a", "b"):
        assert main(["slurm", str(toml), "--root", str(root), "--partition", partition]) == 0
    capsys.readouterr()
    scripts = sorted(Layout(root).slurm_dir.glob("*/sbatch.sh"))
    assert [p.parent.name.count("-") for p in scripts] == [2, 3]  # ..., ...-1
    assert ["--partition=a" in p.read_text() for p in scripts] == [True, False]
    assert "--partition=b" in scripts[1].read_text()


def _worker_building_the_run(plan: Path, target: Path, run: str, **env):
    """Start the array task's worker on slice 0; return it once the run is being built."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambda_hat.cli", "worker", "--plan", str(plan)],
        env={**os.environ, "SLURM_ARRAY_TASK_ID": "0", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + 180
    while not list(target.glob(f".tmp-{run}-*")):  # the run is being built
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise AssertionError(f"the run never started: {proc.stdout.read()}")
        time.sleep(0.2)
    return proc


def test_sigterm_stops_the_task_keeps_its_progress_and_no_partial_artifact(tmp_path, capsys):
    root, plan = _prepare(tmp_path, capsys)
    tasks = json.loads(plan.read_text())["tasks"]
    tid, run = tasks[0][0]["target_id"], tasks[0][1]["run"]
    target = Layout(root).target_dir(tid)
    saved = Layout(root).run_resume(tid, run)
    proc = _worker_building_the_run(plan, target, run, LAMBDA_HAT_SAVE_EVERY_SEC="0")
    try:
        head = []  # the task's log up to the stage that samples: the stop lands mid-chain
        while not (line := proc.stdout.readline()) or ": sampling: " not in line:
            assert line, "".join(head)  # ended before sampling
            head.append(line)
        deadline = time.time() + 120
        while not saved.is_file() and time.time() < deadline:  # a first chunk sampled
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stopped = time.time()
        out, _ = proc.communicate(timeout=60)
        out = "".join(head) + line + out
        stop_seconds = time.time() - stopped
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out
    assert stop_seconds < 25, f"took {stop_seconds:.1f}s to stop"
    assert "signal 15: stopping" in out
    assert f"{tasks[0][1]['key']}: its progress is saved at draw " in out
    key = tasks[0][1]["key"]  # the task's log says what the run was doing
    assert f"{key}: step size: curvature at w*" in out
    assert f"{key}: sampling: ε = 0.0001, thin = 1, burn-in" in out
    assert (target / "meta.json").is_file()
    assert not (target / run).exists()
    assert list(target.glob(".tmp-*")) == []
    assert not Layout(root).run_failure(tid, run).exists()  # a stop is not a failure
    point = saved_point(saved)  # its progress, saved on the stop, for the next attempt
    assert 0 < point["where"]["draws_done"] < point["where"]["draws_total"]


def test_rerun_after_a_stop_plans_only_the_missing_run(tmp_path, capsys):
    root, _ = _prepare(tmp_path, capsys)
    tasks = json.loads(next(Layout(root).slurm_dir.glob("*/plan.json")).read_text())["tasks"]
    Layout(root).target_dir(tasks[0][0]["target_id"]).mkdir(parents=True)  # "built"
    toml = tmp_path / "long.toml"
    assert main(["slurm", str(toml), "--root", str(root)]) == 0
    assert "1 artifact(s) missing" in capsys.readouterr().out


def test_worker_outside_an_array_says_what_to_do(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID", raising=False)
    assert main(["worker", "--plan", str(tmp_path / "plan.json")]) == 2
    assert "SLURM_ARRAY_TASK_ID" in capsys.readouterr().err


def test_wait_needs_submit(tmp_path, capsys):
    assert main(["slurm", str(tmp_path / "x.toml"), "--wait"]) == 2
    assert "--wait needs --submit" in capsys.readouterr().err
    for extra in (["--wait-timeout", "60"], ["--submit", "--wait", "--wait-timeout", "-5"]):
        assert main(["slurm", str(tmp_path / "x.toml"), *extra]) == 2
        assert "--wait-timeout takes seconds above 0" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--time", "1"], ["--mem", "lots"]])
def test_bad_sbatch_options_are_refused_before_anything_is_written(tmp_path, capsys, flag):
    toml = tmp_path / "long.toml"
    toml.write_text(LONG)
    assert main(["slurm", str(toml), "--root", str(tmp_path / "store"), *flag]) == 2
    assert not (tmp_path / "store").exists()


FAILING = (
    LONG.replace("draws = 3000000", "draws = 20  #")
    + """
[[samplers]]
name = "sgld"
thin = 1
step_size = 1e4
batch_size = 50
chains = 1
draws = 20
"""
)


@pytest.mark.slow  # ~30 s on a busy 2-core machine (two compilations)
def test_a_failing_run_is_recorded_and_the_slice_goes_on(tmp_path, capsys):
    toml = tmp_path / "failing.toml"
    toml.write_text(FAILING)
    root = tmp_path / "store"
    assert main(["slurm", str(toml), "--root", str(root)]) == 0
    capsys.readouterr()
    [plan] = Layout(root).slurm_dir.glob("*/plan.json")
    items = json.loads(plan.read_text())["tasks"][0]
    assert [i["kind"] for i in items] == ["target", "run", "run"]
    diverging, fine = sorted(items[1:], key=lambda i: -i["spec"]["params"]["step_size"])
    out = subprocess.run(
        [sys.executable, "-m", "lambda_hat.cli", "worker", "--plan", str(plan), "--task", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"FAILED {diverging['key']}: SamplerDivergedError" in out.stdout
    assert "finished slice 0: 2 built, 1 failed" in out.stdout
    layout = Layout(root)
    assert (layout.run_dir(fine["target_id"], fine["run"]) / "analysis.json").is_file()
    assert layout.run_failure(diverging["target_id"], diverging["run"]).is_file()
    assert not layout.run_dir(diverging["target_id"], diverging["run"]).exists()


def _pool_child(pid: int) -> int:
    """The pool worker among ``pid``'s children (not multiprocessing's resource tracker)."""
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", "spawn_main"], capture_output=True)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 1, pids
    return pids[0]


def test_a_killed_child_is_recorded_with_its_signal_and_memory(tmp_path, capsys):
    """The out-of-memory killer's SIGKILL, simulated: the item gets a retryable failure
    record (shown by status), and resubmitting says which --mem would have fit."""
    root, plan = _prepare(tmp_path, capsys)
    tasks = json.loads(plan.read_text())["tasks"]
    tid, run = tasks[0][0]["target_id"], tasks[0][1]["run"]
    target = Layout(root).target_dir(tid)
    proc = _worker_building_the_run(plan, target, run, SLURM_MEM_PER_NODE="1024")
    try:
        os.kill(_pool_child(proc.pid), signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    assert f"FAILED {tasks[0][1]['key']}: WorkerCrashed" in out
    record = json.loads(Layout(root).run_failure(tid, run).read_text())
    assert record["error_type"] == "WorkerCrashed" and record["retryable"] is True
    assert "was killed by SIGKILL" in record["message"]
    assert record["peak_rss_mb"] > 100 and record["mem_limit_mb"] == 1024
    assert not (target / run).exists()  # nothing published; its temp folder (a SIGKILL
    assert len(list(target.glob(f".tmp-{run}-*"))) == 1  # cannot clean up) goes next build

    assert main(["status", "--root", str(root)]) == 0
    assert "killed by SIGKILL" in capsys.readouterr().out
    assert main(["slurm", str(tmp_path / "long.toml"), "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "1 artifact(s) missing" in out
    assert "1 task(s) died last time (killed, or out of memory) at up to 1024 MB" in out
    assert "--mem 1536M" in out
