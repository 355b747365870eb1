"""The sbatch text is a pure function of its options; compared to golden files.

Regenerate the golden files after an intended change with
``LAMBDA_HAT_UPDATE_GOLDEN=1 uv run pytest tests/slurm/test_render.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambda_hat.errors import SlurmError
from lambda_hat.slurm.render import SbatchOptions, extra_lines, render_script, time_seconds

GOLDEN = Path(__file__).parent / "golden"

FULL = SbatchOptions(
    job_name="llc-grid",
    time="02:00:00",
    mem="8G",
    cpus_per_task=4,
    max_parallel=10,
    partition="cpu",
    account="proj42",
    requeue=True,
    grace_seconds=120,
    extra_sbatch=("--qos high --gres=gpu:1", "--mail-type=END"),
    setup=("module load python/3.11", "source /home/me/lambda-hat/.venv/bin/activate"),
    python="python",
)
PATHS = dict(
    plan_path="/scratch/me/runs/slurm/20250101-120000-abcdef/plan.json",
    log_dir="/scratch/me/runs/slurm/20250101-120000-abcdef/logs",
    workdir="/home/me/lambda-hat",
    submission_id="20250101-120000-abcdef",
)


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("LAMBDA_HAT_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"rendered script differs from {path}"


def test_full_options_match_golden():
    _check_golden("sbatch_full.sh", render_script(FULL.check(), n_tasks=25, **PATHS))


def test_defaults_match_golden():
    options = SbatchOptions(python="/opt/venv/bin/python").check()
    _check_golden("sbatch_defaults.sh", render_script(options, n_tasks=1, **PATHS))


def test_render_is_deterministic_and_flag_order_fixed():
    a = render_script(FULL, n_tasks=3, **PATHS)
    assert a == render_script(FULL, n_tasks=3, **PATHS)
    flags = [line.split()[1].split("=")[0] for line in a.splitlines() if line.startswith("#SBATCH")]
    assert flags == [
        "--job-name",
        "--array",
        "--output",
        "--open-mode",
        "--time",
        "--signal",
        "--requeue",
        "--cpus-per-task",
        "--mem",
        "--partition",
        "--account",
        "--qos",
        "--gres",
        "--mail-type",
    ]
    assert "#SBATCH --array=0-2%10" in a
    assert "#SBATCH --signal=B:TERM@120" in a
    assert a.rstrip().splitlines()[-1].startswith("exec python -m lambda_hat.cli worker --plan ")


def test_paths_with_spaces_are_quoted():
    text = render_script(SbatchOptions(), n_tasks=2, **{**PATHS, "workdir": "/home/my dir"})
    assert "cd '/home/my dir'" in text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 1800), ("10:30", 630), ("02:00:00", 7200), ("1-00", 86400), ("1-02:03:04", 93784)],
)
def test_time_seconds(text, seconds):
    assert time_seconds(text) == seconds


def test_extra_lines_group_flags_and_values():
    assert extra_lines(("--qos high -C skylake --gres=gpu:1",)) == [
        "--qos=high",
        "-C skylake",
        "--gres=gpu:1",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (SbatchOptions(time="00:01:00"), "no room"),
        (SbatchOptions(time="soon"), "expected HH:MM:SS"),
        (SbatchOptions(mem="lots"), "size like 4G"),
        (SbatchOptions(max_parallel=0), "--max-parallel"),
        (SbatchOptions(extra_sbatch=("--array=0-3",)), "may not set --array"),
        (SbatchOptions(extra_sbatch=("high",)), "expected sbatch flags"),
        (SbatchOptions(time="99:99:99"), "minutes and seconds under 60"),
        (SbatchOptions(time="1-24:00:00"), "hours under 24 after a day"),
        (SbatchOptions(partition="cpu\necho INJECTED"), r"--partition 'cpu\\necho INJECTED'"),
        (SbatchOptions(account="a b"), "--account 'a b': use letters"),
    ],
)
def test_bad_options_say_what_to_do(options, message):
    with pytest.raises(SlurmError, match=message):
        options.check()


def test_no_tasks_is_an_error():
    with pytest.raises(SlurmError, match="nothing to submit"):
        render_script(SbatchOptions(), n_tasks=0, **PATHS)
