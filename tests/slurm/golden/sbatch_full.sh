#!/bin/bash
#SBATCH --job-name=llc-grid
#SBATCH --array=0-24%10
#SBATCH --output=/scratch/me/runs/slurm/20250101-120000-abcdef/logs/task-%a.out
#SBATCH --open-mode=append
#SBATCH --time=02:00:00
#SBATCH --signal=B:TERM@120
#SBATCH --requeue
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --partition=cpu
#SBATCH --account=proj42
#SBATCH --qos=high
#SBATCH --gres=gpu:1
#SBATCH --mail-type=END
#
# lambda-hat submission 20250101-120000-abcdef: array task i runs slice i of the
# plan file below (a target before the runs that need it). Rerunning
# `lambda-hat slurm` submits only what is still missing. Edit freely, but keep
# the `exec`: the worker must be the batch shell to get the stop signal sent
# 120s before the time limit (it then discards the build in
# progress, which a rerun or requeue redoes).

# --- environment of the array tasks (edit for your cluster) ---
module load python/3.11
source /home/me/lambda-hat/.venv/bin/activate
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=4

cd /home/me/lambda-hat
echo "lambda-hat task ${SLURM_ARRAY_TASK_ID:-?} of job ${SLURM_ARRAY_JOB_ID:-?} on $(hostname), attempt ${SLURM_RESTART_COUNT:-0}, $(date -Is)"
exec python -m lambda_hat.cli worker --plan /scratch/me/runs/slurm/20250101-120000-abcdef/plan.json
