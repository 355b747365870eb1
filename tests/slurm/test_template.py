"""scripts/sbatch-array.sh, the hand-editable template, runs the worker on a plan."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lambda_hat.cli import main
from lambda_hat.store.layout import Layout
from tests.conftest import TINY_TOML

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "scripts" / "sbatch-array.sh"


def test_template_runs_the_worker_of_its_array_index(tmp_path, capsys):
    if not (REPO / ".venv" / "bin" / "activate").is_file():
        pytest.skip("no .venv in the checkout (run `uv sync`)")
    toml = tmp_path / "tiny.toml"
    toml.write_text(TINY_TOML)
    root = tmp_path / "store"
    assert main(["slurm", str(toml), "--root", str(root)]) == 0
    capsys.readouterr()
    [plan] = Layout(root).slurm_dir.glob("*/plan.json")
    items = json.loads(plan.read_text())["tasks"][1]
    for item in items:  # pretend slice 1 is done, so the worker needs no JAX
        path = Layout(root).target_dir(item["target_id"]) / item.get("run", "")
        path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "1", "LAMBDA_HAT_PROJECT": str(REPO)}
    env.pop("VIRTUAL_ENV", None)
    out = subprocess.run(
        ["bash", str(TEMPLATE), str(plan)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for item in items:
        assert f"already in the store: {item['key']}" in out.stdout
    assert "finished slice 1: 0 built, 0 failed" in out.stdout


def test_template_needs_a_plan_argument():
    out = subprocess.run(["bash", str(TEMPLATE)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "usage: sbatch --array" in out.stderr
