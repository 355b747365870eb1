"""Write a submission folder under the store, call ``sbatch``, and wait for the array.

``<root>/slurm/<submission-id>/`` holds ``plan.json`` (the slices), ``sbatch.sh`` (the
array script), ``submission.json`` (what was asked, the job ID once submitted) and
``logs/task-<i>.out`` (one log per array task, appended across requeues).
"""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lambda_hat.errors import SlurmError
from lambda_hat.scheduler.plan import Plan
from lambda_hat.slurm import planfile
from lambda_hat.slurm.queue import ACTIVE_STATES, SUBMISSION_FILE, query_tasks
from lambda_hat.slurm.render import SbatchOptions, render_script
from lambda_hat.store.jsonio import read_json, write_json_atomic
from lambda_hat.store.layout import Layout


@dataclass
class Prepared:
    """A written submission folder (not yet submitted)."""

    submission_id: str
    folder: Path
    plan_path: Path
    script_path: Path
    n_tasks: int
    artifacts: list[dict]
    skipped: list[dict] = field(default_factory=list)

    @property
    def sbatch_command(self) -> list[str]:
        return ["sbatch", "--parsable", str(self.script_path)]

    @property
    def submission_file(self) -> Path:
        return self.folder / SUBMISSION_FILE


def default_python() -> str:
    """The interpreter running lambda-hat now (a venv's python keeps its packages)."""
    return sys.executable or "python3"


def _new_folder(slurm_dir: Path, digest: str) -> tuple[str, Path]:
    """A submission's ID and folder, made here and never one made before (two calls in
    one second, for one plan with other options, each get their own)."""
    slurm_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{digest}"
    for k in range(1000):
        submission_id = stamp if k == 0 else f"{stamp}-{k}"
        try:
            (slurm_dir / submission_id).mkdir()
        except FileExistsError:
            continue
        return submission_id, slurm_dir / submission_id
    raise FileExistsError(f"{slurm_dir}: 1,000 submissions named {stamp}")


def prepare(
    plan: Plan,
    experiments: str | Path,
    options: SbatchOptions,
    per: str = "target",
    retry_failed: bool = False,
    workdir: str | Path | None = None,
) -> Prepared | None:
    """Write plan, script and submission record for the plan's missing work.

    Returns None (and writes nothing) when nothing is missing.
    """
    options.check()
    slices, skipped = planfile.slices(plan, per, retry_failed)
    if not slices:
        return None
    root = Path(plan.root).resolve()
    workdir = Path(workdir or Path.cwd()).resolve()
    digest = hashlib.sha1(json.dumps([[i.key for i in s] for s in slices]).encode())
    submission_id, folder = _new_folder(Layout(root).slurm_dir, digest.hexdigest()[:6])
    logs = folder / "logs"
    logs.mkdir()
    plan_path, script_path = folder / "plan.json", folder / "sbatch.sh"
    record = {"submission_id": submission_id, "root": str(root)}
    planfile.write_plan(
        plan_path, {**record, "requeue": options.requeue, "per": per, "tasks": slices}
    )
    script = render_script(
        options,
        n_tasks=len(slices),
        plan_path=str(plan_path),
        log_dir=str(logs),
        workdir=str(workdir),
        submission_id=submission_id,
    )
    script_path.write_text(script)
    script_path.chmod(0o755)
    artifacts = _artifacts(slices)
    prepared = Prepared(
        submission_id, folder, plan_path, script_path, len(slices), artifacts, skipped
    )
    record.update(
        created_at=time.time(),
        experiments=str(Path(experiments).resolve()),
        workdir=str(workdir),
        per=per,
        n_tasks=len(slices),
        options=asdict(options),
        script=str(script_path),
        plan=str(plan_path),
        log_dir=str(logs),
        artifacts=artifacts,
        skipped=skipped,
        sbatch_command=shlex.join(prepared.sbatch_command),
        job_id=None,
        submitted_at=None,
    )
    write_json_atomic(prepared.submission_file, record)
    return prepared


def _artifacts(slices: list) -> list[dict]:
    """Each item of the slices once: its kind, key, target and run."""
    artifacts, seen = [], set()
    keys = ("kind", "key", "target_id", "run")
    for item in (item for s in slices for item in s):
        if item.key not in seen:
            seen.add(item.key)
            artifacts.append({k: v for k, v in item.to_json().items() if k in keys})
    return artifacts


def submit(prepared: Prepared, timeout: float = 60.0) -> str:
    """Run ``sbatch``; record and return the array job ID."""
    try:
        proc = subprocess.run(
            prepared.sbatch_command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=prepared.folder,
            check=False,
        )
    except FileNotFoundError:
        raise SlurmError(
            "sbatch not found: run this on a SLURM login node (or load its module); "
            f"the script is ready at {prepared.script_path}"
        ) from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"sbatch did not answer within {timeout:.0f}s; is slurmctld up?") from None
    if proc.returncode != 0:
        raise SlurmError(
            f"sbatch refused the job: {proc.stderr.strip() or proc.stdout.strip()}; "
            f"fix the options and rerun (script: {prepared.script_path})"
        )
    job_id = proc.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise SlurmError(f"sbatch answered {proc.stdout.strip()!r}, not a job ID")
    record = read_json(prepared.submission_file)
    record.update(job_id=job_id, submitted_at=time.time())
    write_json_atomic(prepared.submission_file, record)
    return job_id


def wait(
    job_id: str,
    n_tasks: int,
    poll_seconds: float = 2.0,
    timeout: float | None = None,
    on_poll: Callable[[dict[int, dict]], None] | None = None,
) -> dict[int, dict]:
    """Poll ``scontrol`` until no task of the array is pending or running.

    Returns the final per-task states. Raises SlurmError on ``timeout`` or when the
    controller forgets the job before every task has been seen to end.
    """
    start = time.time()
    last: dict[int, dict] = {}
    misses = 0
    while True:
        states = query_tasks(job_id)
        if states is None:
            misses += 1
            if misses >= 5:
                if last and len(last) >= n_tasks and not _active(last):
                    return last
                raise SlurmError(f"scontrol does not know job {job_id} (any more)")
        else:
            misses = 0
            last = states
            if on_poll is not None:
                on_poll(states)
            if len(states) >= n_tasks and not _active(states):
                return states
        if timeout is not None and time.time() - start > timeout:
            raise SlurmError(f"job {job_id} still running after {timeout:.0f}s")
        time.sleep(poll_seconds)


def _active(states: dict[int, dict]) -> bool:
    return any(s["state"] in ACTIVE_STATES for s in states.values())
