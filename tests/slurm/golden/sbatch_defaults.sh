#!/bin/bash
#SBATCH --job-name=lambda-hat
#SBATCH --array=0-0
#SBATCH --output=/scratch/me/runs/slurm/20250101-120000-abcdef/logs/task-%a.out
#SBATCH --open-mode=append
#SBATCH --signal=B:TERM@60
#SBATCH --no-requeue
#SBATCH --cpus-per-task=1
#
# lambda-hat submission 20250101-120000-abcdef: array task i runs slice i of the
# plan file below (a target before the runs that need it). Rerunning
# `lambda-hat slurm` submits only what is still missing. Edit freely, but keep
# the `exec`: the worker must be the batch shell to get the stop signal sent
# 60s before the time limit (it then discards the build in
# progress, which a rerun or requeue redoes).

# --- environment of the array tasks (edit for your cluster) ---
# module load python/3.11        # e.g. your cluster's modules
# source /path/to/project/.venv/bin/activate
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1

cd /home/me/lambda-hat
echo "lambda-hat task ${SLURM_ARRAY_TASK_ID:-?} of job ${SLURM_ARRAY_JOB_ID:-?} on $(hostname), attempt ${SLURM_RESTART_COUNT:-0}, $(date -Is)"
exec /opt/venv/bin/python -m lambda_hat.cli worker --plan /scratch/me/runs/slurm/20250101-120000-abcdef/plan.json
