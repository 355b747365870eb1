"""Submissions under a store, and what SLURM says about their array tasks.

``submissions(root)`` is what ``lambda-hat status`` shows: for every
``<root>/slurm/<id>/submission.json``, how many of its artifacts are in the store (the
source of truth) and, when ``scontrol`` answers, the state of each array task. No
accounting database (``sacct``) is needed: ``scontrol show job`` knows a job until
``MinJobAge`` (default 300 s) after it ends; after that only the store is shown.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from lambda_hat.slurm.planfile import PlanItem
from lambda_hat.store.layout import Layout

SUBMISSION_FILE = "submission.json"
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "RUNNING",
        "CONFIGURING",
        "COMPLETING",
        "REQUEUED",
        "RESIZING",
        "SUSPENDED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
    }
)
_PAIR = re.compile(r"(\w[\w/:]*)=(\S*)")


def slurm_available() -> bool:
    """True when the SLURM client commands are on PATH (says nothing about a controller)."""
    return shutil.which("scontrol") is not None and shutil.which("sbatch") is not None


def parse_scontrol_jobs(text: str) -> list[dict]:
    """``scontrol show job -o`` output (one job record a line) -> list of key/value dicts."""
    return [dict(_PAIR.findall(line)) for line in text.splitlines() if "JobId=" in line]


def expand_task_ids(spec: str) -> list[int]:
    """``"0-3%2"`` / ``"1,4-5"`` / ``"7"`` -> the array indices it names."""
    spec = spec.split("%")[0]
    out: list[int] = []
    for part in spec.split(","):
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            step = 1
            if ":" in hi:
                hi, step_text = hi.split(":", 1)
                step = int(step_text)
            out.extend(range(int(lo), int(hi) + 1, step))
        else:
            out.append(int(part))
    return out


def task_states(records: list[dict], array_job_id: str) -> dict[int, dict]:
    """Per array index: ``{"state", "exit_code", "job_id", "restarts", "reason"}``."""
    out: dict[int, dict] = {}
    for rec in records:
        if rec.get("ArrayJobId") != str(array_job_id) or "ArrayTaskId" not in rec:
            continue
        info = {
            "state": rec.get("JobState", "UNKNOWN"),
            "exit_code": rec.get("ExitCode"),
            "job_id": rec.get("JobId"),
            "restarts": int(rec.get("Restarts", "0") or 0),
            "reason": rec.get("Reason"),
        }
        for index in expand_task_ids(rec["ArrayTaskId"]):
            out[index] = info
    return out


def query_tasks(job_id: str, timeout: float = 20.0) -> dict[int, dict] | None:
    """Ask ``scontrol`` about an array job; None when SLURM cannot tell (no client,
    no controller, or the job has been forgotten)."""
    if shutil.which("scontrol") is None:
        return None
    try:
        proc = subprocess.run(
            ["scontrol", "show", "job", "-o", str(job_id)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    states = task_states(parse_scontrol_jobs(proc.stdout), str(job_id))
    return states or None


def count_states(states: dict[int, dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for info in states.values():
        counts[info["state"]] = counts.get(info["state"], 0) + 1
    return dict(sorted(counts.items()))


def store_progress(root: Path, artifacts: list[dict]) -> dict:
    """How many of a submission's artifacts are published / recorded as failed."""
    layout = Layout(root)
    done = failed = 0
    for a in map(PlanItem.from_json, artifacts):
        path, fail = a.final(layout), a.failure(layout)
        if path.is_dir():
            done += 1
        elif fail.is_file():
            failed += 1
    total = len(artifacts)
    return {"total": total, "done": done, "failed": failed, "missing": total - done - failed}


def submissions(root: str | Path, query: bool = True) -> list[dict]:
    """Every submission under ``<root>/slurm/``, oldest first, with its progress.

    Each dict: ``submission_id``, ``folder``, ``created_at``, ``experiments``, ``job_id``
    (None if only rendered), ``n_tasks``, ``artifacts`` ({total, done, failed, missing}
    from the store), ``tasks`` ({STATE: count} from scontrol, or None), ``task_states``
    ({index: {...}} or None), ``active`` (some task pending or running), ``queue_note``
    (a short sentence about where the task states came from).
    """
    root = Path(root)
    folder = Layout(root).slurm_dir
    out = []
    for path in sorted(folder.glob(f"*/{SUBMISSION_FILE}")) if folder.is_dir() else []:
        try:
            sub = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        job_id = sub.get("job_id")
        states = None
        if job_id is None:
            note = "not submitted (script only)"
        elif not query:
            note = "queue not queried"
        elif shutil.which("scontrol") is None:
            note = "scontrol not available here; progress from the store only"
        else:
            states = query_tasks(job_id)
            note = "from scontrol" if states else "SLURM no longer knows this job; store only"
        out.append(
            {
                "submission_id": sub.get("submission_id", path.parent.name),
                "folder": str(path.parent),
                "created_at": sub.get("created_at"),
                "experiments": sub.get("experiments"),
                "job_id": job_id,
                "n_tasks": sub.get("n_tasks"),
                "artifacts": store_progress(root, sub.get("artifacts", [])),
                "tasks": count_states(states) if states else None,
                "task_states": states,
                "active": bool(states)
                and any(s["state"] in ACTIVE_STATES for s in states.values()),
                "queue_note": note,
            }
        )
    out.sort(key=lambda s: (s["created_at"] or 0, s["submission_id"]))
    return out


def describe(sub: dict) -> str:
    """One line for ``lambda-hat status`` about a dict from ``submissions``."""
    a = sub["artifacts"]
    job = f"job {sub['job_id']}" if sub["job_id"] else "not submitted"
    line = (
        f"slurm {sub['submission_id']} ({job}, {sub['n_tasks']} task(s)): "
        f"{a['done']}/{a['total']} published, {a['failed']} failed"
    )
    if sub["tasks"]:
        line += "; tasks: " + ", ".join(f"{n} {s.lower()}" for s, n in sub["tasks"].items())
    else:
        line += f"; {sub['queue_note']}"
    return line
