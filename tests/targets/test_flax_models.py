"""Flax (Linen and NNX) and Equinox models through ``kind = "python"``: the same
network written in each gives the same target and, where the parameter trees flatten
alike, the same λ̂; ``restrict`` reads each framework's own names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lambda_hat.cli import main

pytest.importorskip("flax")
pytest.importorskip("equinox")

MODELS = {"linen": "flax_linen_mlp", "nnx": "flax_nnx_mlp", "eqx": "equinox_same_mlp"}
HIDDEN = {"linen": "params/Dense_0/*", "nnx": "hidden/*", "eqx": "layers/0/*"}


def _experiment() -> str:
    text = ""
    for name, factory in MODELS.items():
        text += (
            f'[models.{name}]\nkind = "python"\nfactory = "user_models:{factory}"\n'
            'args = { in_dim = 4, width = 5, classes = 3 }\nloss = "cross_entropy"\n'
        )
    text += (
        '[data.blobs]\nkind = "python"\nfactory = "user_models:blobs"\nargs = { n = 300 }\n'
        '[training.given]\ninit = "given"\nsteps = 0\n'
    )
    for name in MODELS:
        text += f'[[targets]]\nmodel = "{name}"\ndata = "blobs"\ntraining = "given"\n'
    return text + '[[samplers]]\nname = "hmc"\nwarmup = 100\ndraws = 200\n'


def test_one_network_in_three_frameworks_is_one_target_and_one_lambda(project):
    path = project.write(_experiment())
    assert main(["run", str(path), "--workers", "1", "--quiet"]) == 0
    runs = {}
    for meta_path in (project.root / "runs" / "targets").glob("tgt_*/meta.json"):
        meta = json.loads(meta_path.read_text())
        (analysis,) = meta_path.parent.glob("run_hmc_*/analysis.json")
        factory = meta["spec"]["model"]["factory"].split(":")[1]
        runs[factory] = (meta, json.loads(analysis.read_text()))
    (linen, a), (nnx, b), (eqx, c) = (runs[f] for f in MODELS.values())
    assert linen["dims"]["p"] == nnx["dims"]["p"] == eqx["dims"]["p"] == 4 * 5 + 5 + 5 * 3 + 3
    assert linen["metrics"]["L0"] == pytest.approx(nnx["metrics"]["L0"], rel=1e-12)
    assert linen["metrics"]["L0"] == pytest.approx(eqx["metrics"]["L0"], rel=1e-12)
    # Linen and NNX flatten to one layout (bias, kernel per layer): the same draws
    assert a["llc_mean"] == pytest.approx(b["llc_mean"], rel=1e-9)
    # Equinox's (weight, bias) layout gives other draws of the same posterior
    assert abs(a["llc_mean"] - c["llc_mean"]) < 4 * np.hypot(a["llc_mcse"], c["llc_mcse"])
    assert "flax" in linen["pkg_versions"] and "equinox" in eqx["pkg_versions"]


def test_restrict_reads_each_frameworks_own_names(tmp_path, monkeypatch):
    """The hidden layer, named as each framework names it, is the same 25 weights: the
    same restricted λ̂ from Linen and NNX."""
    import lambda_hat as lh

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import user_models

    x, y = user_models.blobs(300)
    out = {}
    for name in ("linen", "nnx"):
        apply, params = getattr(user_models, MODELS[name])(4, 5, 3)
        out[name] = lh.estimate(
            apply,
            params,
            (x, y),
            loss="cross_entropy",
            sampler="hmc",
            warmup=100,
            draws=100,
            restrict=[HIDDEN[name]],
            trace_params=True,
            progress=False,
        )
    assert out["linen"].positions.shape[-1] == 43
    assert out["linen"].llc_mean == pytest.approx(out["nnx"].llc_mean, rel=1e-9)
    fixed = out["nnx"].params_draws["out"]["kernel"]
    assert np.all(fixed == fixed[0, 0])  # the output layer never moved
