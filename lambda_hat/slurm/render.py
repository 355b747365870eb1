"""sbatch text from options: a pure function with a fixed flag order (golden-tested).

The script ``exec``s the worker, so the worker *is* the batch shell and receives the
``--signal=B:TERM@<grace>`` sent ``grace`` seconds before the wall-clock limit: it stops
its current build, whose temporary folder is removed, and exits (or requeues itself).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from lambda_hat.errors import SlurmError

_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_MEM = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)


@dataclass(frozen=True)
class SbatchOptions:
    """What a user may choose about the array job (all validated by ``check``)."""

    job_name: str = "lambda-hat"
    time: str | None = None
    mem: str | None = None
    cpus_per_task: int = 1
    max_parallel: int | None = None
    partition: str | None = None
    account: str | None = None
    requeue: bool = False
    grace_seconds: int = 60
    extra_sbatch: tuple[str, ...] = ()
    setup: tuple[str, ...] = field(default=())
    python: str = "python3"

    def check(self) -> SbatchOptions:
        if self.time is not None:
            seconds = time_seconds(self.time)
            if seconds <= self.grace_seconds:
                raise SlurmError(
                    f"--time {self.time} leaves no room for the {self.grace_seconds}s stop "
                    "signal; give a longer --time or a smaller --grace"
                )
        if self.mem is not None and not _MEM.match(self.mem):
            raise SlurmError(f"--mem {self.mem!r}: expected a size like 4G, 500M or 8000")
        if self.cpus_per_task < 1:
            raise SlurmError("--cpus-per-task must be at least 1")
        if self.max_parallel is not None and self.max_parallel < 1:
            raise SlurmError("--max-parallel must be at least 1")
        if self.grace_seconds < 1 or self.grace_seconds > 65535:
            raise SlurmError("--grace must be between 1 and 65535 seconds")
        if not re.match(r"^[\w.+-]+$", self.job_name):
            raise SlurmError(f"--job-name {self.job_name!r}: use letters, digits, . _ + -")
        for option, value in (("--partition", self.partition), ("--account", self.account)):
            if value is not None and not re.match(r"^[\w.+,-]+$", value):
                raise SlurmError(
                    f"{option} {value!r}: use letters, digits, . _ + - (and , between "
                    "partitions); it becomes a line of the batch script"
                )
        extra_lines(self.extra_sbatch)
        return self


def time_seconds(text: str) -> int:
    """Seconds in a SLURM time limit (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``)."""
    m = _TIME.match(text.strip())
    if not m:
        raise SlurmError(f"--time {text!r}: expected HH:MM:SS, MM, MM:SS or D-HH:MM:SS")
    days, a, b, c = m.groups()
    inner = ([a] if days is not None else []) + [x for x in (b, c) if x is not None]
    limits = ([24] if days is not None else []) + [60] * 2
    if any(int(x) >= top for x, top in zip(inner, limits, strict=False)):
        raise SlurmError(
            f"--time {text!r}: hours under 24 after a day, minutes and seconds under 60"
        )
    if days is not None:  # D-HH[:MM[:SS]]
        parts = [int(a), int(b or 0), int(c or 0)]
        return int(days) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
    if c is not None:
        return int(a) * 3600 + int(b) * 60 + int(c)
    if b is not None:
        return int(a) * 60 + int(b)
    return int(a) * 60


def extra_lines(extra: tuple[str, ...]) -> list[str]:
    """``--extra-sbatch "--qos high --gres=gpu:1"`` -> ``["--qos=high", "--gres=gpu:1"]``."""
    lines: list[str] = []
    for text in extra:
        try:
            tokens = shlex.split(text)
        except ValueError as exc:
            raise SlurmError(f"--extra-sbatch {text!r}: {exc}") from None
        for token in tokens:
            if token.startswith("-"):
                lines.append(token)
            elif not lines:
                raise SlurmError(
                    f"--extra-sbatch {text!r}: expected sbatch flags like '--qos=high'"
                )
            elif lines[-1].startswith("--") and "=" not in lines[-1]:
                lines[-1] = f"{lines[-1]}={token}"
            else:
                lines[-1] = f"{lines[-1]} {token}"
    for line in lines:
        if line.split("=")[0] in ("--array", "--output", "--error", "-a", "-o", "-e"):
            raise SlurmError(f"--extra-sbatch may not set {line.split('=')[0]}: lambda-hat sets it")
    return lines


def render_script(
    options: SbatchOptions,
    *,
    n_tasks: int,
    plan_path: str,
    log_dir: str,
    workdir: str,
    submission_id: str,
) -> str:
    """The sbatch array script for ``n_tasks`` slices of ``plan_path`` (deterministic)."""
    if n_tasks < 1:
        raise SlurmError("nothing to submit: the plan has no missing work")
    flags = _sbatch_flags(options, n_tasks, log_dir)
    setup = list(options.setup) or [
        "# module load python/3.11        # e.g. your cluster's modules",
        "# source /path/to/project/.venv/bin/activate",
    ]
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        *(f"#SBATCH {flag}" for flag in flags),
        "#",
        f"# lambda-hat submission {submission_id}: array task i runs slice i of the",
        "# plan file below (a target before the runs that need it). Rerunning",
        "# `lambda-hat slurm` submits only what is still missing. Edit freely, but keep",
        "# the `exec`: the worker must be the batch shell to get the stop signal sent",
        f"# {options.grace_seconds}s before the time limit (it then discards the build in",
        "# progress, which a rerun or requeue redoes).",
        "",
        "# --- environment of the array tasks (edit for your cluster) ---",
        *setup,
        "export PYTHONUNBUFFERED=1",
        f"export OMP_NUM_THREADS={options.cpus_per_task}",
        "",
        f"cd {q(workdir)}",
        'echo "lambda-hat task ${SLURM_ARRAY_TASK_ID:-?} of job ${SLURM_ARRAY_JOB_ID:-?}'
        ' on $(hostname), attempt ${SLURM_RESTART_COUNT:-0}, $(date -Is)"',
        f"exec {q(options.python)} -m lambda_hat.cli worker --plan {q(plan_path)}",
        "",
    ]
    return "\n".join(lines)


def _sbatch_flags(options: SbatchOptions, n_tasks: int, log_dir: str) -> list[str]:
    """The ``#SBATCH`` flags of the array script, in their fixed order."""
    array = f"0-{n_tasks - 1}"
    if options.max_parallel is not None:
        array += f"%{options.max_parallel}"
    flags = [
        f"--job-name={options.job_name}",
        f"--array={array}",
        f"--output={log_dir}/task-%a.out",
        "--open-mode=append",
    ]
    if options.time is not None:
        flags.append(f"--time={options.time}")
    flags.append(f"--signal=B:TERM@{options.grace_seconds}")
    flags.append("--requeue" if options.requeue else "--no-requeue")
    flags.append(f"--cpus-per-task={options.cpus_per_task}")
    if options.mem is not None:
        flags.append(f"--mem={options.mem}")
    if options.partition is not None:
        flags.append(f"--partition={options.partition}")
    if options.account is not None:
        flags.append(f"--account={options.account}")
    flags.extend(extra_lines(options.extra_sbatch))
    return flags
