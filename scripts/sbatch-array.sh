#!/bin/bash
# An sbatch array script for lambda-hat on a typical cluster: copy it, edit the #SBATCH
# lines and the environment block once, then reuse it for every plan.
#
#   # on the login node, in the project (store on a shared file system):
#   uv run lambda-hat slurm experiments/grid.toml --root /scratch/$USER/runs
#   #   -> "... -> 25 array task(s)", wrote /scratch/$USER/runs/slurm/<id>/plan.json
#   sbatch --array=0-24%10 scripts/sbatch-array.sh /scratch/$USER/runs/slurm/<id>/plan.json
#
# Array task i runs slice i of the plan (a target, then its runs). `lambda-hat slurm`
# also writes a ready script (sbatch.sh) beside plan.json; this file is the same thing,
# by hand. Pass --requeue to `lambda-hat slurm` (it is recorded in the plan) if a task
# stopped by the time limit should requeue itself.
#
#SBATCH --job-name=lambda-hat
#SBATCH --output=lambda-hat-%A_%a.out
#SBATCH --open-mode=append
#SBATCH --time=02:00:00
#SBATCH --signal=B:TERM@120
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
##SBATCH --partition=cpu
##SBATCH --account=myproject
##SBATCH --requeue

PLAN=${1:?usage: sbatch --array=0-N scripts/sbatch-array.sh /path/to/plan.json}
PROJECT=${LAMBDA_HAT_PROJECT:-$HOME/lambda-hat}   # the checkout with its .venv

# --- environment (edit for your cluster) ----------------------------------------------
if command -v module >/dev/null 2>&1; then
  module purge
  module load python/3.11 2>/dev/null || true      # or whatever your cluster calls it
fi
cd "$PROJECT" || exit 1
# The venv was made once on the login node with `uv sync --frozen`; the compute nodes
# see it through the shared file system. Activating it is enough (no uv needed here);
# `uv run --frozen python ...` works too where uv is on PATH.
source .venv/bin/activate
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}

echo "lambda-hat task ${SLURM_ARRAY_TASK_ID:-?} of job ${SLURM_ARRAY_JOB_ID:-?} on $(hostname)"
# exec: the worker must *be* the batch shell to receive --signal=B:TERM before the limit.
exec python -m lambda_hat.cli worker --plan "$PLAN"
