"""Every sampler definition keeps the same contract: its keys, defaults, checks, IDs,
display and a short real run, so a new sampler is one module and passes this file."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lambda_hat.config.specs import (
    PRECISIONS,
    SamplerSpec,
    check_budget,
    resolve_run,
    run_from_dict,
    to_dict,
)
from lambda_hat.errors import ConfigError
from lambda_hat.fields import build
from lambda_hat.samplers.registry import SAMPLERS, sampler
from lambda_hat.store.ids import run_id

NAMES = sorted(SAMPLERS)
# a short run of each (its own keys; the common ones below)
SHORT = {
    "sgld": {"step_size": 1e-3, "batch_size": 64},
    "sghmc": {"step_size": 1e-2, "batch_size": 64},
    "hmc": {"warmup": 30, "num_integration_steps": 4},
    "nuts": {"warmup": 30, "max_num_doublings": 3},
    "mclmc": {"tune_steps": 60},
}


@pytest.mark.parametrize("name", NAMES)
def test_a_definition_is_complete_and_its_defaults_are_allowed(name):
    s = SAMPLERS[name]
    assert s.name == name and sampler(name) is s
    assert dataclasses.is_dataclass(s.params) and s.params.__dataclass_params__.frozen
    assert s.defaults.precision in PRECISIONS and s.defaults.llc_trace in s.llc_traces
    assert (s.defaults.thin == "auto") <= s.auto_thin
    fields = {f.name for f in dataclasses.fields(s.params)}
    assert {key for key, _ in s.settings} <= fields
    assert s.numerics.startswith("lambda_hat.numerics.samplers.")
    assert (s.measure is None) == (s.measured_work is None)  # --measure needs both


@pytest.mark.parametrize("name", NAMES)
def test_a_bare_entry_resolves_and_its_spec_round_trips_with_its_id(name):
    entry = build(SamplerSpec, {}, "t", name=name, params=build(SAMPLERS[name].params, {}, "t"))
    check_budget(entry, "t")
    spec = resolve_run(entry, "tgt_000000000000", 1000)
    assert spec.precision == SAMPLERS[name].defaults.precision
    assert spec.burnin == SAMPLERS[name].defaults.burnin_for(spec.thin)
    again = run_from_dict(json.loads(json.dumps(to_dict(spec))))
    assert again == spec and run_id(again) == run_id(spec)


@pytest.mark.parametrize("name", NAMES)
def test_what_a_sampler_cannot_do_is_refused_by_name(name):
    s = SAMPLERS[name]
    params = build(s.params, {}, "t")
    if not s.auto_thin:
        with pytest.raises(ConfigError, match=rf"t\.thin: 'auto' .* give {name} a number"):
            check_budget(SamplerSpec(name=name, params=params, thin="auto"), "t")
    if "minibatch" not in s.llc_traces:
        with pytest.raises(
            ConfigError, match=r"t\.llc_trace: 'minibatch' is for the minibatch samplers"
        ):
            check_budget(SamplerSpec(name=name, params=params, llc_trace="minibatch"), "t")
    with pytest.raises(ConfigError, match=r"t\.name: unknown sampler 'nope'; choose one of"):
        sampler("nope", "t")


def test_the_definitions_import_without_jax():
    code = (
        "import sys, lambda_hat.samplers.registry as r, lambda_hat.config.specs\n"
        "assert len(r.SAMPLERS) == 5\n"
        "print(sorted(m for m in sys.modules if m == 'jax' or m.startswith('jax.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_numerics_imports_no_configuration_or_definitions():
    """numerics/ takes built objects: it imports no configuration, sampler definitions,
    store or runner."""
    root = Path(__file__).resolve().parents[2] / "lambda_hat" / "numerics"
    upward = ("lambda_hat.config", "lambda_hat.samplers", "lambda_hat.store", "lambda_hat.runner")
    found = [
        f"{path.name}: {line.strip()}"
        for path in root.rglob("*.py")
        for line in path.read_text().splitlines()
        if line.strip().startswith(("import ", "from ")) and any(u in line for u in upward)
    ]
    assert found == []


@pytest.mark.parametrize("name", NAMES)
def test_a_short_run_of_each_sampler_gives_a_whole_estimate(name, x64):
    from lambda_hat.sampling import sample_llc
    from tests.numerics.helpers import dln_problem

    posterior, L0, _ = dln_problem([3, 4, 2], 1, 200)
    params = build(SAMPLERS[name].params, SHORT[name], "t")
    common = {"chains": 2, "draws": 25, "thin": 1, "burnin": 5, "precision": "float64"}
    entry = build(SamplerSpec, common, "t", name=name, params=params)
    spec = resolve_run(entry, "tgt_000000000000", 200)
    stages = []
    est = sample_llc(posterior, spec, stage=stages.append)
    assert est.llc.shape == (2, 25) and np.isfinite(est.llc).all()
    assert est.L0 == pytest.approx(L0)
    result = est.result
    assert np.all(result.fges_per_chain >= result.warmup_fges_per_chain)
    assert np.all(result.warmup_fges_per_chain >= 0)
    json.dumps(result.stats)  # analysis.json holds them
    assert stages[-1] == SAMPLERS[name].stage(est.spec)
    key = SAMPLERS[name].record_key
    assert (est.prepared is not None) == (key is not None)


def test_numerics_handles_no_stop():
    """A stop (Ctrl-C, SIGTERM) is the runner's to handle: numerics only reports the
    points it reaches (``Snapshots.reached``); ``kept_on_stop`` saves the last one."""
    root = Path(__file__).resolve().parents[2] / "lambda_hat" / "numerics"
    found = [
        path.name
        for path in root.rglob("*.py")
        if "KeyboardInterrupt" in path.read_text() or "SystemExit" in path.read_text()
    ]
    assert found == []
