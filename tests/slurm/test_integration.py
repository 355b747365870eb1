"""Against a real one-node SLURM (Debian's slurmctld/slurmd/munge, started by
``scripts/slurm-up.sh``): submit arrays, wait, check the store, resubmit, stop a task.

Skips, saying why, where SLURM is not installed or cannot be started (not root).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambda_hat.slurm.queue import query_tasks, submissions
from lambda_hat.store import manifest
from lambda_hat.store.layout import Layout
from lambda_hat.store.snapshots import saved_point

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[2]
SLURM_UP = REPO / "scripts" / "slurm-up.sh"


def _controller_up() -> bool:
    try:
        out = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "is UP" in out.stdout


@pytest.fixture(scope="module")
def slurm():
    """A SLURM controller that answers, started here if need be."""
    if _controller_up():
        return
    if shutil.which("slurmctld") is None or shutil.which("sbatch") is None:
        pytest.skip(
            "SLURM is not installed: apt-get install slurmctld slurmd slurm-client munge, "
            "then run scripts/slurm-up.sh as root (.ci/run does both)"
        )
    if os.geteuid() != 0:
        pytest.skip("no SLURM controller answers and starting one needs root (scripts/slurm-up.sh)")
    proc = subprocess.run(["bash", str(SLURM_UP)], capture_output=True, text=True, timeout=180)
    if proc.returncode != 0 or not _controller_up():
        pytest.skip(f"scripts/slurm-up.sh could not start SLURM: {proc.stderr.strip()[-500:]}")


def lh(cwd: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``lambda-hat ARGS`` in a fresh process, as a user would type it."""
    return subprocess.run(
        [sys.executable, "-m", "lambda_hat.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _snapshot(root: Path) -> dict[str, float]:
    """Every file of the store except submissions, locks and the JAX cache, with mtime."""
    return {
        str(p.relative_to(root)): p.stat().st_mtime
        for p in root.rglob("*")
        if p.is_file()
        and not {"slurm", ".jax-cache"} & set(p.relative_to(root).parts)
        and not p.name.endswith(".lock")
    }


def _check_store_once(root: Path, plan_items: list[dict]) -> None:
    layout = Layout(root)
    targets = {i["target_id"] for i in plan_items}
    runs = {(i["target_id"], i["run"]) for i in plan_items if i["kind"] == "run"}
    catalog = [e["target_id"] for e in manifest.read(layout.catalog)]
    assert sorted(catalog) == sorted(targets), "each target once in _catalog.jsonl"
    for tid in targets:
        assert (layout.target_dir(tid) / "meta.json").is_file()
        lines = manifest.read(layout.runs_manifest(tid))
        names = [f"run_{e['sampler']}_{e['run_id']}" for e in lines]
        assert sorted(names) == sorted(r for t, r in runs if t == tid), "each run once"
        for name in names:
            assert (layout.run_dir(tid, name) / "analysis.json").is_file()
            assert (layout.run_dir(tid, name) / "trace.nc").is_file()
        assert list(layout.target_dir(tid).glob(".tmp-*")) == []
    assert list(layout.targets.glob(".tmp-*")) == []


def _submit_and_wait(cwd: Path, toml: Path, root: Path, *flags: str):
    start = time.time()
    out = lh(
        cwd,
        "slurm",
        str(toml),
        "--root",
        str(root),
        "--max-parallel",
        "2",
        "--time",
        "00:15:00",
        *flags,
        "--submit",
        "--wait",
        "--wait-timeout",
        "840",
    )
    elapsed = time.time() - start
    [folder] = Layout(root).slurm_dir.iterdir()
    logs = {p.name: p.read_text() for p in sorted((folder / "logs").glob("*.out"))}
    assert out.returncode == 0, out.stdout + out.stderr + "\n".join(logs.values())
    plan = json.loads((folder / "plan.json").read_text())
    return out, elapsed, folder, logs, plan


@pytest.mark.slow  # the quickstart's targets and samplers at their defaults, on 500 rows
def test_quickstart_array_builds_everything_once_and_a_resubmission_computes_nothing(
    slurm, tmp_path
):
    toml = tmp_path / "quickstart.toml"
    text = (REPO / "experiments" / "quickstart.toml").read_text()
    assert "n_data = 5000" in text  # a tenth of its data: its array, in a third of the time
    toml.write_text(text.replace("n_data = 5000", "n_data = 500"))
    root = tmp_path / "store"
    out, elapsed, folder, logs, plan = _submit_and_wait(tmp_path, toml, root)
    print(f"real SLURM, quickstart as a 2-task array: {elapsed:.1f}s")
    assert "-> 2 array task(s), one per target" in out.stdout
    assert "2/2 task(s) completed; 8/8 artifact(s) published, 0 failed" in out.stdout
    assert sorted(logs) == ["task-0.out", "task-1.out"]
    assert all("finished slice" in text for text in logs.values())
    items = [item for s in plan["tasks"] for item in s]
    # 2 targets x (target + 3 sampler runs: sgld, hmc, mclmc)
    assert [[i["kind"] for i in s] for s in plan["tasks"]] == [["target", "run", "run", "run"]] * 2
    _check_store_once(root, items)

    verify = lh(tmp_path, "verify", "--root", str(root))
    assert verify.returncode == 0, verify.stdout + verify.stderr

    [sub] = submissions(root)
    assert sub["artifacts"] == {"total": 8, "done": 8, "failed": 0, "missing": 0}
    assert sub["job_id"] == json.loads((folder / "submission.json").read_text())["job_id"]
    if sub["tasks"] is not None:  # scontrol still knows the job (MinJobAge)
        assert sub["tasks"] == {"COMPLETED": 2} and not sub["active"]

    before = _snapshot(root)
    again = lh(tmp_path, "slurm", str(toml), "--root", str(root), "--submit", "--wait")
    assert again.returncode == 0, again.stderr
    assert "nothing to submit" in again.stdout
    assert "submitted" not in again.stdout
    assert [p.name for p in Layout(root).slurm_dir.iterdir()] == [folder.name]
    assert _snapshot(root) == before, "a resubmission changed the store"


ONE_TARGET_TWO_SAMPLERS = """
[models.dln]
kind = "dln"
in_dim = 2
widths = [3]
out_dim = 2
rank = 1

[data.small]
n_data = 200

[training.teacher]
init = "teacher"
steps = 0

[[targets]]
model = "dln"
data = "small"
training = "teacher"
seed = 1
precision = "float32"  # one worker process per task

[[samplers]]
name = "sgld"
thin = 1
step_size = 1e-4
batch_size = 50
chains = 2
draws = 50

[[samplers]]
name = "sgld"
thin = 1
step_size = 2e-4
batch_size = 50
chains = 2
draws = 50
"""


def test_tasks_racing_for_one_target_build_it_once(slurm, tmp_path):
    """``--per run``: two tasks at once both start with the same missing target."""
    toml = tmp_path / "race.toml"
    toml.write_text(ONE_TARGET_TWO_SAMPLERS)
    root = tmp_path / "store"
    out, elapsed, folder, logs, plan = _submit_and_wait(tmp_path, toml, root, "--per", "run")
    print(f"real SLURM, one target raced by 2 tasks: {elapsed:.1f}s")
    assert "2/2 task(s) completed; 3/3 artifact(s) published, 0 failed" in out.stdout
    assert [[i["kind"] for i in s] for s in plan["tasks"]] == [["target", "run"]] * 2
    _check_store_once(root, [item for s in plan["tasks"] for item in s])
    verify = lh(tmp_path, "verify", "--root", str(root))
    assert verify.returncode == 0, verify.stdout + verify.stderr


LONG_RUN = """
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
precision = "float32"

[[samplers]]
name = "sgld"
thin = 1
step_size = 1e-4
batch_size = 50
chains = 1
draws = 3000000
"""


def _start_now(task: str) -> None:
    """SLURM holds a requeued job about two minutes (pending, reason ``BeginTime``);
    make it eligible sooner, so the test waits for lambda-hat, not for that policy. Not
    at once: a start while the stopped instance is still completing fails ("Job
    credential revoked"), so only once no instance of it completes, and two seconds on
    (a later begin time would wait for the scheduler's next periodic pass)."""
    _wait_for(lambda: "Reason=BeginTime" in _show(task), 60, f"{task} pending after requeue")
    _wait_for(lambda: not _completing(task), 120, f"{task}'s stopped instance to end")
    time.sleep(2.0)
    subprocess.run(["scontrol", "update", f"JobId={task}", "StartTime=now"], timeout=30)


def _completing(task: str) -> bool:
    proc = subprocess.run(
        ["squeue", "-h", "-t", "CG", "-j", task.split("_")[0]], capture_output=True, text=True
    )
    return bool(proc.stdout.strip())


def _show(task: str) -> str:
    proc = subprocess.run(["scontrol", "show", "job", task], capture_output=True, text=True)
    return proc.stdout


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_stop_signal_discards_the_build_in_progress_and_requeues(slurm, tmp_path):
    """The signal SLURM sends ``--grace`` seconds before the time limit (here sent at
    once with ``scancel --signal=TERM --batch``, its exact equivalent) stops the task;
    having built its target, it requeues itself; no partial run remains."""
    toml = tmp_path / "long.toml"
    toml.write_text(LONG_RUN)
    root = tmp_path / "store"
    out = lh(
        tmp_path,
        "slurm",
        str(toml),
        "--root",
        str(root),
        "--time",
        "00:10:00",
        "--requeue",
        "--submit",
    )
    assert out.returncode == 0, out.stderr
    job = out.stdout.split("submitted array job ")[1].split()[0]
    [folder] = Layout(root).slurm_dir.iterdir()
    plan = json.loads((folder / "plan.json").read_text())
    tid, run = plan["tasks"][0][0]["target_id"], plan["tasks"][0][1]["run"]
    target = Layout(root).target_dir(tid)
    log = folder / "logs" / "task-0.out"
    try:
        _wait_for(lambda: list(target.glob(f".tmp-{run}-*")), 300, "the run to start")
        time.sleep(1.0)
        subprocess.run(["scancel", "--signal=TERM", "--batch", job], check=True, timeout=30)
        states = _wait_for(
            lambda: (s := query_tasks(job) or {}).get(0, {}).get("restarts", 0) >= 1 and s,
            120,
            "the task to requeue itself",
        )
        # requeued, not ended: COMPLETING is the stopped instance still winding down
        live = {"PENDING", "REQUEUED", "RUNNING", "CONFIGURING", "COMPLETING"}
        assert states[0]["state"] in live
    finally:
        subprocess.run(["scancel", job], timeout=30, check=False)
    _wait_for(lambda: not list(target.glob(".tmp-*")), 60, "the temp folder to go")
    text = log.read_text()
    assert "signal 15: stopping" in text and f"requeueing {job}_0" in text
    assert (target / "meta.json").is_file()
    assert not (target / run).exists()
    assert not Layout(root).run_failure(tid, run).exists()
    again = lh(tmp_path, "slurm", str(toml), "--root", str(root))
    assert "1 artifact(s) missing" in again.stdout  # only the run is left to do


RESUMABLE_RUN = LONG_RUN.replace("draws = 3000000", "draws = 1000000")


@pytest.mark.slow
def test_a_run_stopped_twice_finishes_over_three_attempts(slurm, tmp_path, monkeypatch):
    """The loop a run longer than its time limit goes through: stopped while sampling
    (``scancel --signal=TERM --batch``, what the limit sends), the task keeps the run's
    progress and requeues itself, the next attempt resumes it; the second stop finds a
    task that built nothing, and it requeues because its run moved on; the third attempt
    publishes the run, which records its three attempts."""
    monkeypatch.setenv("LAMBDA_HAT_SAVE_EVERY_SEC", "0")  # sbatch passes it on to the task
    toml = tmp_path / "resumable.toml"
    toml.write_text(RESUMABLE_RUN)
    root = tmp_path / "store"
    out = lh(tmp_path, "slurm", str(toml), "--root", str(root), "--requeue", "--submit")
    assert out.returncode == 0, out.stderr
    job = out.stdout.split("submitted array job ")[1].split()[0]
    [folder] = Layout(root).slurm_dir.iterdir()
    plan = json.loads((folder / "plan.json").read_text())
    tid, run = plan["tasks"][0][0]["target_id"], plan["tasks"][0][1]["run"]
    layout, log = Layout(root), folder / "logs" / "task-0.out"
    saved = layout.run_resume(tid, run)

    def draws_saved() -> int:
        point = saved_point(saved)
        return point["where"]["draws_done"] if point else 0

    def stop_once_past(draws: int, restarts: int) -> None:
        _wait_for(lambda: draws_saved() > draws, 300, f"progress past draw {draws}")
        subprocess.run(["scancel", "--signal=TERM", "--batch", job], check=True, timeout=30)
        _wait_for(
            lambda: (query_tasks(job) or {}).get(0, {}).get("restarts", 0) >= restarts,
            120,
            f"requeue {restarts}",
        )
        _start_now(f"{job}_0")

    try:
        stop_once_past(0, 1)
        _wait_for(
            lambda: "(progress saved by an earlier attempt)" in log.read_text(), 300, "resume"
        )
        stop_once_past(draws_saved(), 2)
        _wait_for(lambda: layout.run_dir(tid, run).is_dir(), 900, "the third attempt to publish")
    finally:
        subprocess.run(["scancel", job], timeout=30, check=False)
    text = log.read_text()
    saves = [line for line in text.splitlines() if "its progress is saved at draw " in line]
    assert len(saves) == 2 and text.count(f"requeueing {job}_0") == 2, text
    assert "not requeued" not in text
    first, second = (int(s.split(" at draw ")[1].split()[0].replace(",", "")) for s in saves)
    assert 0 < first < second < 1_001_000
    assert f"resuming at draw {first:,} of 1,001,000" in text
    assert f"resuming at draw {second:,} of 1,001,000" in text
    analysis = json.loads((layout.run_dir(tid, run) / "analysis.json").read_text())
    assert analysis["resumed"]["attempts"] == 3
    assert analysis["resumed"]["draws_done"] == second
    assert analysis["draws"] == 1_000_000 and not saved.exists()
