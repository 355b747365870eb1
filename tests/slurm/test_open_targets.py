"""Open targets on the real one-node SLURM: a python model and data, kept at checkpoints,
whose two array tasks meet on the training's lock (one trains, both publish once)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lambda_hat.store.layout import Layout
from tests.slurm.test_integration import _check_store_once, _submit_and_wait, lh, slurm  # noqa: F401

pytestmark = pytest.mark.slurm
USER_MODELS = Path(__file__).resolve().parents[1] / "targets" / "user_models.py"

OPEN_TARGETS = """
[models.lr]
kind = "python"
factory = "user_models:logistic"
args = { in_dim = 4, classes = 3 }
loss = "cross_entropy"
true_llc = 5.0

[data.blobs]
kind = "python"
factory = "user_models:blobs"
args = { n = 300 }

[training.fit]
steps = 200
learning_rate = 0.05
checkpoints = [50, 200]

[[targets]]
model = "lr"
data = "blobs"
training = "fit"

[[samplers]]
name = "sgld"
thin = 1
draws = 200
burnin = 100
chains = 2
"""


def test_python_checkpoint_targets_run_as_an_array(slurm, tmp_path):  # noqa: F811
    shutil.copy(USER_MODELS, tmp_path / "user_models.py")
    toml = tmp_path / "open.toml"
    toml.write_text(OPEN_TARGETS)
    root = tmp_path / "store"
    out, elapsed, folder, logs, plan = _submit_and_wait(tmp_path, toml, root)
    print(f"real SLURM, python model at 2 checkpoints: {elapsed:.1f}s")
    assert "2/2 task(s) completed; 4/4 artifact(s) published, 0 failed" in out.stdout
    items = [item for s in plan["tasks"] for item in s]
    _check_store_once(root, items)
    layout = Layout(root)
    steps = []
    for tid in {i["target_id"] for i in items}:
        meta = json.loads((layout.target_dir(tid) / "meta.json").read_text())
        steps.append(meta["training_cfg"]["at_step"])
        assert (layout.target_dir(tid) / "source" / "user_models.py").is_file()
        assert meta["loss_name"] == "cross_entropy" and meta["true_llc"] == 5.0
    assert sorted(steps) == [50, 200]
    verify = lh(tmp_path, "verify", "--root", str(root))
    assert verify.returncode == 0, verify.stdout + verify.stderr
