"""A model from the user's own code, through the experiments file and the store."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout

LOGISTIC = """
[models.lr]
kind = "python"
factory = "user_models:logistic"
args = { in_dim = 4, classes = 3 }
loss = "cross_entropy"
true_llc = 7.5
[data.blobs]
kind = "python"
factory = "user_models:blobs"
args = { n = 300 }
[training.fit]
steps = 300
learning_rate = 0.05
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


def _run(path) -> int:
    return main(["run", str(path), "--workers", "1", "--quiet"])


def _target_ids(path) -> list[str]:
    return [t.target_id for t in make_plan(load(path)).targets]


def test_a_python_model_runs_through_the_store(project):
    path = project.write(LOGISTIC)
    assert _run(path) == 0
    (tid,) = _target_ids(path)
    folder = Layout(project.root / "runs").target_dir(tid)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["loss_name"] == "cross_entropy"
    assert meta["true_llc"] == 7.5
    assert meta["dims"] == {"n": 300, "d": 4, "p": 15}
    assert meta["model_cfg"]["source_sha256"] == meta["spec"]["model"]["source_sha256"]
    # the target keeps the module it was built with, byte for byte
    copy = folder / "source" / "user_models.py"
    assert copy.read_bytes() == (project.root / "user_models.py").read_bytes()
    (run,) = [p for p in folder.glob("run_*") if p.is_dir()]
    analysis = json.loads((run / "analysis.json").read_text())
    assert analysis["loss_name"] == "cross_entropy"
    assert np.isfinite(analysis["llc_mean"]) and analysis["true_llc"] == 7.5


def test_editing_the_module_makes_a_new_target_and_keeps_the_old(project):
    path = project.write(LOGISTIC)
    assert _run(path) == 0
    (old,) = _target_ids(path)
    module = project.root / "user_models.py"
    module.write_text(module.read_text() + "\n# an edit\n")
    (new,) = _target_ids(path)
    assert new != old
    assert _run(path) == 0
    layout = Layout(project.root / "runs")
    assert layout.target_dir(old).is_dir() and layout.target_dir(new).is_dir()
    # and the same file, args and loss give the same ID again
    assert _target_ids(path) == [new]
    changed = project.write(LOGISTIC.replace("n = 300", "n = 301"), "other.toml")
    assert _target_ids(changed) != [new]


def test_an_old_target_runs_from_its_copy_after_the_module_changed(project):
    """Runs import the target's own copy of the module, not today's file."""
    from lambda_hat import runner
    from lambda_hat.config.specs import resolve_run

    path = project.write(LOGISTIC)
    exp = load(path)
    (entry,) = exp.targets
    tid = runner.build_target(entry.spec, exp.store_root).key
    (project.root / "user_models.py").write_text("raise ImportError('gone')\n")
    spec = resolve_run(exp.samplers[0], tid, 300)
    name = runner.run_sampler(spec, exp.store_root).key
    assert (Layout(exp.store_root).run_dir(tid, name) / "analysis.json").is_file()


def test_a_python_dln_gives_the_builtin_dln_estimate(project, tmp_path):
    """The same network, data, w* and seed through a factory: the same numbers."""
    builtin = """
[models.dln]
kind = "dln"
in_dim = 3
widths = [4]
out_dim = 2
rank = 1
[data.d]
n_data = 200
[training.t]
init = "teacher"
[[targets]]
model = "dln"
data = "d"
training = "t"
[[samplers]]
name = "hmc"
draws = 100
warmup = 100
chains = 2
"""
    first = project.write(builtin, "builtin.toml")
    assert _run(first) == 0
    (tid,) = _target_ids(first)
    folder = Layout(project.root / "runs").target_dir(tid)
    data = np.load(folder / "data.npz")
    np.savez(project.root / "dln_data.npz", X=data["X"], Y=data["Y"])
    mine = f"""
[models.mine]
kind = "python"
factory = "user_models:dln_given"
args = {{ sizes = [3, 4, 2], params_file = "{folder / "params.npz"}" }}
[data.file]
kind = "file"
path = "dln_data.npz"
[training.given]
init = "given"
[[targets]]
model = "mine"
data = "file"
training = "given"
[[samplers]]
name = "hmc"
draws = 100
warmup = 100
chains = 2
"""
    second = project.write(mine, "mine.toml")
    assert _run(second) == 0
    (tid2,) = _target_ids(second)

    def llc(target):
        (run,) = Layout(project.root / "runs").target_dir(target).glob("run_hmc_*")
        return json.loads((run / "analysis.json").read_text())

    a, b = llc(tid), llc(tid2)
    assert a["L0"] == pytest.approx(b["L0"], rel=1e-12)
    assert a["llc_mean"] == pytest.approx(b["llc_mean"], rel=1e-9)


def test_an_equinox_model_runs_through_the_store(project):
    pytest.importorskip("equinox")
    text = LOGISTIC.replace(
        'factory = "user_models:logistic"\nargs = { in_dim = 4, classes = 3 }',
        'factory = "user_models:equinox_mlp"\nargs = { in_dim = 4, width = 5, classes = 3 }',
    ).replace("true_llc = 7.5\n", "")
    path = project.write(text)
    assert _run(path) == 0
    (tid,) = _target_ids(path)
    folder = Layout(project.root / "runs").target_dir(tid)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["dims"]["p"] == 4 * 5 + 5 + 5 * 3 + 3
    (run,) = [p for p in folder.glob("run_*") if p.is_dir()]
    assert np.isfinite(json.loads((run / "analysis.json").read_text())["llc_mean"])
