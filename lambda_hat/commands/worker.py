"""``lambda-hat worker --plan FILE``: the entry point of one SLURM array task."""

from __future__ import annotations

HELP = "run one array task's slice of a SLURM plan file (used by the sbatch script)"


def add_arguments(p) -> None:
    p.add_argument("--plan", required=True, help="plan.json written by `lambda-hat slurm`")
    p.add_argument(
        "--task",
        type=int,
        default=None,
        help="slice index (default: $SLURM_ARRAY_TASK_ID)",
    )


def run(args) -> int:
    from lambda_hat.slurm.task import array_index, run_task

    return run_task(args.plan, array_index(args.task))
