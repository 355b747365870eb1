"""Every bad input of an open target stops before any work, with a message saying what."""

from __future__ import annotations

import numpy as np
import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.errors import ConfigError
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.targets.probe import check_python_models

MODEL = """
[models.m]
kind = "python"
factory = "{factory}"
args = {args}
loss = "{loss}"
{extra}
"""
DATA = """
[data.d]
kind = "file"
path = "{path}"
[[targets]]
model = "m"
data = "d"
"""


def _toml(
    factory="user_models:logistic",
    args="{ in_dim = 4, classes = 3 }",
    loss="cross_entropy",
    extra="",
    path="d.npz",
):
    return MODEL.format(factory=factory, args=args, loss=loss, extra=extra) + DATA.format(path=path)


@pytest.fixture
def good_file(project):
    x = np.random.default_rng(0).normal(size=(50, 4))
    np.savez(project.root / "d.npz", X=x, Y=np.arange(50) % 3)
    return project


def _fails(project, text, match, run=False):
    """Reading the file (or ``lambda-hat run --dry-run``, which also imports the
    factories) fails with ``match``, and nothing is built."""
    path = project.write(text)
    with pytest.raises(ConfigError, match=match):
        exp = load(path)
        if run:
            check_python_models(make_plan(exp).targets, str(path))
    if run:
        assert main(["run", str(path), "--dry-run"]) == 2
    assert not (project.root / "runs" / "targets").exists() or not any(
        p.name.startswith("tgt_") for p in (project.root / "runs" / "targets").iterdir()
    )


@pytest.mark.parametrize(
    ("changes", "match", "run"),
    [
        ({"factory": "nowhere:make"}, r"models\.m\.factory: cannot find module 'nowhere'", False),
        ({"factory": "user_models"}, r"expected 'module:function'", False),
        ({"factory": "user_models:missing"}, r"has no function 'missing'", True),
        ({"factory": "user_models:NOT_CALLABLE"}, r"is not callable", True),
        (
            {"factory": "user_models:raises", "args": "{}"},
            r"raised RuntimeError: the factory's own error(.|\n)*Traceback",
            True,
        ),
        (
            {"factory": "user_models:not_a_pair", "args": "{}"},
            r"must return \(apply, params\)",
            True,
        ),
        ({"factory": "user_models:wrong_shape"}, r"labels must lie in 0\.\.0", True),
        ({"loss": "mse"}, r"loss = 'mse' needs real-valued targets", False),
        ({"extra": "true_llc = -1"}, r"models\.m\.true_llc: must be greater than 0", False),
        ({"extra": "source_sha256 = 'x'"}, r"source_sha256: computed by lambda-hat", False),
        ({"path": "missing.npz"}, r"data\.d\.path: data file .*missing\.npz does not exist", False),
    ],
)
def test_bad_model_or_data_is_named(good_file, changes, match, run):
    _fails(good_file, _toml(**changes), match, run)


def test_bad_files_are_named(project):
    root = project.root
    (root / "text.npz").write_text("not a zip")
    np.savez(root / "nox.npz", Y=np.zeros(5))
    np.savez(root / "nan.npz", X=np.full((5, 4), np.nan), Y=np.zeros(5, int))
    np.savez(root / "neg.npz", X=np.zeros((5, 4)), Y=-np.ones(5, int))
    np.savez(root / "rows.npz", X=np.zeros((5, 4)), Y=np.zeros(4, int))
    cases = {
        "text.npz": r"is not an \.npz file",
        "nox.npz": r"lacks array 'X'",
        "nan.npz": r"X holds NaN or inf",
        "neg.npz": r"labels Y must be >= 0",
        "rows.npz": r"Y must have shape \(n,\) or \(n, k\) with the n = 5 rows",
    }
    for name, match in cases.items():
        _fails(project, _toml(path=name), match)


def test_labels_beyond_the_model_classes_are_named(project):
    np.savez(project.root / "d.npz", X=np.zeros((10, 4)), Y=np.arange(10) % 5)
    _fails(project, _toml(), r"a label is 4, outside the model's 3 classes", run=True)


def test_builtin_network_sizes_must_fit_the_data(project):
    text = """
[models.m]
kind = "mlp"
in_dim = 10
widths = []
out_dim = 53
loss = "cross_entropy"
[data.d]
kind = "modular"
modulus = 53
[[targets]]
model = "m"
data = "d"
"""
    _fails(project, text, r"in_dim = 10, but the data have 106 input features; set in_dim = 106")
    # a table a sampler observes is the one to change, not the model that reads it
    fits = text.replace("in_dim = 10", "in_dim = 106")
    probe = '[data.p]\nkind = "modular"\nmodulus = 7\n[[samplers]]\nname = "hmc"\nobserve = ["p"]\n'
    _fails(
        project,
        fits + probe,
        r"data\.p \(named by a sampler, on target m/d\): the table has 14 input features and "
        r"7 classes, the model in_dim = 106 and out_dim = 53; give the table rows the model",
    )
    _fails(project, text.replace('loss = "cross_entropy"\n', ""), r"loss = 'mse' needs real")
    _fails(project, text.replace('kind = "mlp"', 'kind = "cnn"'), r"unknown model kind 'cnn'")
