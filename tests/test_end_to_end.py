"""A user's path: run an experiments file, rerun it, compare fresh stores, read with the seed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lambda_hat.cli import main
from lambda_hat.numerics import lanczos
from lambda_hat.scheduler.local import cpu_slots
from lambda_hat.store import manifest
from lambda_hat.store.records import RunAnalysis, TargetMeta

SEED_SNIPPET = Path(__file__).parent / "data" / "seed_aggregate.py"


def _run(toml: Path, root: Path, *extra: str) -> int:
    return main(["run", str(toml), "--root", str(root), "--workers", "2", "--quiet", *extra])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The tiny experiment run once into a store shared by this module's tests."""
    from tests.conftest import TINY_TOML

    base = tmp_path_factory.mktemp("e2e")
    toml = base / "tiny.toml"
    toml.write_text(TINY_TOML)
    root = base / "runs"
    assert _run(toml, root) == 0
    return toml, root


def _tree(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if not p.name.startswith(".") and ".jax-cache" not in p.parts
    )


def test_layout_matches_the_seed(store):
    _, root = store
    targets = sorted(p.name for p in (root / "targets").glob("tgt_*"))
    assert len(targets) == 2
    for tid in targets:
        folder = root / "targets" / tid
        assert {"meta.json", "data.npz", "params.npz", "_runs.jsonl"} <= {
            p.name for p in folder.iterdir()
        }
        runs = sorted(folder.glob("run_sgld_*"))
        assert len(runs) == 1
        run = runs[0]
        assert {"trace.nc", "analysis.json", "diagnostics"} <= {p.name for p in run.iterdir()}
        assert {"trace.png", "rank.png", "running_llc.png"} <= {
            p.name for p in (run / "diagnostics").iterdir()
        }
        meta = json.loads((folder / "meta.json").read_text())
        for key in (
            "target_id",
            "created_at",
            "code_sha",
            "jax_enable_x64",
            "pkg_versions",
            "seed",
            "model_cfg",
            "data_cfg",
            "training_cfg",
            "dims",
            "metrics",
            "schema_version",
        ):
            assert key in meta, key
        assert meta["target_id"] == tid
        # each of the 2 workers has its own share of the CPUs, and XLA sizes its pool to it
        compute = {"backend": "cpu", "devices": ["cpu"], "device_count": 1}
        assert meta["compute"] == {**compute, "cpu_threads": len(cpu_slots(2)[0])}
        assert set(meta["dims"]) == {"n", "d", "p"} and "L0" in meta["metrics"]
        analysis = json.loads((run / "analysis.json").read_text())
        for key in (
            "llc_mean",
            "llc_std",
            "ess",
            "rhat",
            "total_fges",
            "walltime_sec",
            "sampler_config",
            "llc_mcse",
            "llc_per_chain",
        ):
            assert key in analysis, key
        assert len(analysis["llc_per_chain"]) == 2
        # what the store writes today reads back as typed records and loses nothing
        assert TargetMeta.from_json(meta).to_json() == meta
        assert RunAnalysis.from_json(analysis).to_json() == analysis
        assert analysis["compute"] == meta["compute"]
        # SGLD: (burnin + draws) steps x chains x batch/n full-gradient equivalents, and
        # the written step's bound at w* (Lanczos: a Hessian-vector product of ~2
        # gradients per step, as many steps as parameters, at most ITERATIONS)
        steps = min(lanczos.ITERATIONS, meta["dims"]["p"])
        assert analysis["sgld_step"]["curvature"]["iterations"] == steps
        assert analysis["sgld_step"]["fges"] == 2 * steps
        assert analysis["total_fges"] == pytest.approx(2 * (10 + 40) * 50 / 200 + 2 * steps)
        entries = manifest.read(folder / "_runs.jsonl")
        assert [e["run_id"] for e in entries] == [run.name.split("_")[-1]]
    catalog = manifest.read(root / "targets" / "_catalog.jsonl")
    assert sorted(e["target_id"] for e in catalog) == targets
    assert {e["model"] for e in catalog} == {"tiny", "mlp"}


def test_dln_target_records_true_llc(store):
    _, root = store
    metas = [json.loads(p.read_text()) for p in (root / "targets").glob("tgt_*/meta.json")]
    dln = next(m for m in metas if m["model_cfg"]["kind"] == "dln")
    assert dln["true_llc"] == 2.0  # [2, 3, 2] rank 1: Aoyagi's formula gives 2
    assert dln["true_llc_exact"] == "2"
    assert dln["metrics"]["L0"] > 0  # noisy data, w* = teacher


def test_trace_nc_is_readable_by_arviz(store):
    import arviz as az

    _, root = store
    trace = next((root / "targets").glob("tgt_*/run_*/trace.nc"))
    idata = az.from_netcdf(trace)
    assert idata.posterior["llc"].shape == (2, 40)
    analysis = json.loads((trace.parent / "analysis.json").read_text())
    assert float(idata.posterior["llc"].mean()) == pytest.approx(analysis["llc_mean"])


def test_rerun_is_a_noop_without_jax(store, tmp_path):
    import subprocess
    import sys
    import time

    toml, root = store
    before = _tree(root)
    code = (
        "import sys; from lambda_hat.cli import main; rc = main(sys.argv[1:]); "
        "assert 'jax' not in sys.modules, 'jax was imported'; sys.exit(rc)"
    )
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", code, "run", str(toml), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "already done" in out.stderr
    assert time.time() - start < 10
    assert _tree(root) == before


def test_seed_aggregation_snippet_runs_unchanged(store):
    import pandas as pd  # noqa: F401 - the snippet needs it

    _, root = store
    namespace: dict = {}
    exec(compile(SEED_SNIPPET.read_text(), str(SEED_SNIPPET), "exec"), namespace)
    df = namespace["aggregate_results"](str(root))
    assert len(df) == 2
    assert set(df["sampler"]) == {"sgld"}
    assert set(df["n_data"]) == {200}
    assert sorted(df["target_params"]) == [12, 13]  # dln 2*3+3*2; mlp 2-3-1 with biases
    assert df["llc_mean"].notna().all()


def test_fresh_stores_are_identical(store, tmp_path):
    toml, root = store
    other = tmp_path / "runs2"
    assert _run(toml, other) == 0
    assert _tree(other) == _tree(root)
    for npz in ("data.npz", "params.npz"):
        for a in (root / "targets").glob(f"tgt_*/{npz}"):
            b = other / a.relative_to(root)
            assert a.read_bytes() == b.read_bytes(), a
    for a in (root / "targets").glob("tgt_*/run_*/analysis.json"):
        b = other / a.relative_to(root)
        ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
        assert ja["llc_mean"] == jb["llc_mean"] and ja["llc_per_chain"] == jb["llc_per_chain"]
        import arviz as az

        la = az.from_netcdf(a.parent / "trace.nc").posterior["llc"].values
        lb = az.from_netcdf(b.parent / "trace.nc").posterior["llc"].values
        np.testing.assert_array_equal(la, lb)


def test_deleted_run_is_rebuilt_and_manifest_stays_clean(store, tmp_path):
    toml, root = store
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    run = next((copy / "targets").glob("tgt_*/run_*"))
    shutil.rmtree(run)
    assert _run(toml, copy) == 0
    assert run.is_dir()
    entries = manifest.read(run.parent / "_runs.jsonl")
    assert [e["run_id"] for e in entries] == [run.name.split("_")[-1]]


def test_trace_params_puts_every_kept_draw_in_trace_nc(tmp_path):
    import arviz as az

    from tests.conftest import TINY_TOML

    toml = tmp_path / "traced.toml"
    toml.write_text(TINY_TOML.replace('name = "sgld"\n', 'name = "sgld"\ntrace_params = true\n'))
    root = tmp_path / "runs"
    assert _run(toml, root) == 0
    for trace in sorted((root / "targets").glob("tgt_*/run_sgld_*/trace.nc")):
        params = np.load(trace.parent.parent / "params.npz")
        idata = az.from_netcdf(trace)
        w = idata.posterior["w"]
        assert w.dims == ("chain", "draw", "param")
        assert w.shape == (2, 40, params["w_star"].shape[0])
        assert "w_star" in idata.attrs["w_layout"]
        spec = json.loads((trace.parent / "analysis.json").read_text())["spec"]
        assert spec["trace_params"] is True
