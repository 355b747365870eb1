"""Content-addressed IDs: pinned values, so an accidental change to hashing is caught."""

from __future__ import annotations

from dataclasses import replace

from lambda_hat.config.specs import (
    DataSpec,
    ModelSpec,
    RunSpec,
    SGLDParams,
    TargetSpec,
    TrainingSpec,
    to_dict,
)
from lambda_hat.store.ids import canonical_json, run_dirname, run_id, target_id

TARGET = TargetSpec(
    model=ModelSpec(
        kind="dln", in_dim=3, widths=(4,), out_dim=2, activation="identity", bias=False, rank=1
    ),
    data=DataSpec(n_data=100, noise_scale=0.1, inputs="gaussian"),
    training=TrainingSpec(
        optimizer="adam", learning_rate=0.01, steps=0, batch_size=None, init="teacher"
    ),
    seed=7,
    precision="float64",
)


def _run(target: str, **changes) -> RunSpec:
    fields = dict(
        target_id=target,
        sampler="sgld",
        params=SGLDParams(
            step_size=1e-4,
            batch_size=100,
            precond="none",
            precond_decay=0.99,
            momentum_decay=0.9,
            precond_eps=1e-5,
            scheme="euler",
        ),
        chains=4,
        draws=1000,
        burnin=200,
        thin=1,
        seed=0,
        inverse_temperature=0.21714724095162588,
        localization=1.0,
        precision="float32",
    )
    fields.update(changes)
    return RunSpec(**fields)


def test_canonical_json_is_sorted_and_compact():
    assert canonical_json({"b": 1, "a": [1.5, None, "x"]}) == '{"a":[1.5,null,"x"],"b":1}'


def test_target_id_is_pinned():
    assert target_id(TARGET) == "tgt_595867ce2718"
    assert target_id(to_dict(TARGET)) == "tgt_595867ce2718"


def test_run_id_is_pinned():
    spec = _run("tgt_595867ce2718")
    assert run_id(spec) == "101a6b0f"
    assert run_dirname(spec) == "run_sgld_101a6b0f"


def test_any_change_gives_a_new_id():
    base = _run("tgt_595867ce2718")
    assert run_id(_run("tgt_595867ce2719")) != run_id(base)
    assert run_id(_run("tgt_595867ce2718", seed=1)) != run_id(base)
    assert run_id(_run("tgt_595867ce2718", draws=1001)) != run_id(base)


def test_int_and_float_hash_alike_after_resolution():
    a = _run("tgt_595867ce2718", localization=1)
    b = _run("tgt_595867ce2718", localization=1.0)
    assert canonical_json(to_dict(a)) != canonical_json(to_dict(b))  # unresolved differs...
    from lambda_hat.config.experiment import parse

    doc = {
        "models": {"m": {"kind": "mlp", "in_dim": 2, "widths": [3], "out_dim": 1}},
        "data": {"d": {"n_data": 100, "noise_scale": 1}},
        "targets": [{"model": "m", "data": "d"}],
        "samplers": [{"name": "sgld", "localization": 1, "step_size": 1}],
    }
    doc2 = {**doc, "data": {"d": {"n_data": 100.0, "noise_scale": 1.0}}}
    doc2["samplers"] = [{"name": "sgld", "localization": 1.0, "step_size": 1.0}]
    from pathlib import Path

    e1, e2 = parse(doc, Path("a.toml")), parse(doc2, Path("b.toml"))
    assert target_id(e1.targets[0].spec) == target_id(e2.targets[0].spec)  # ...resolved agrees
    assert e1.samplers[0] == e2.samplers[0]


def test_trace_params_is_hashed_only_when_asked_for():
    assert run_id(_run("tgt_595867ce2718", trace_params=False)) == "101a6b0f"
    assert run_id(to_dict(_run("tgt_595867ce2718", trace_params=False))) == "101a6b0f"
    assert run_id(_run("tgt_595867ce2718", trace_params=True)) == "cf776d77"


def test_llc_trace_is_hashed_only_when_not_full():
    """'full' is what every run recorded before the option existed: those IDs stand."""
    assert run_id(_run("tgt_595867ce2718", llc_trace="full")) == "101a6b0f"
    assert run_id(_run("tgt_595867ce2718", llc_trace="minibatch")) == "80de4e93"


def test_the_sgld_scheme_keeps_old_ids_and_gives_the_new_default_its_own():
    """'euler' is what every SGLD run was before the scheme existed: a stored spec without
    the key reads as euler and keeps its ID; the leimkuhler-matthews default hashes."""
    old = _run("tgt_595867ce2718")
    stored = to_dict(old)
    del stored["params"]["scheme"]
    assert run_id(stored) == "101a6b0f"
    from lambda_hat.config.specs import run_from_dict

    assert run_from_dict(stored).params.scheme == "euler"
    lm = _run("tgt_595867ce2718", params=replace(old.params, scheme="leimkuhler-matthews"))
    assert run_id(lm) == "67925a3f"
    assert run_id(to_dict(lm)) == run_id(lm)
    assert SGLDParams().scheme == "leimkuhler-matthews"


def test_sgld_start_keeps_old_ids_and_gives_the_pilot_start_its_own():
    """Every SGLD run started at w* before the key existed: a stored spec without it
    reads as w_star, and a start that resolves to w_star (a step given) hashes as
    before; the pilot start of step_size = 'auto' hashes, so those runs are new."""
    old = _run("tgt_595867ce2718")
    assert old.params.start == "w_star" and run_id(old) == "101a6b0f"
    from lambda_hat.config.specs import run_from_dict

    stored = to_dict(old)
    del stored["params"]["start"]
    assert run_from_dict(stored).params.start == "w_star" and run_id(stored) == "101a6b0f"
    auto = replace(old.params, step_size="auto", scheme="leimkuhler-matthews", start="w_star")
    at_w_star = _run("tgt_595867ce2718", params=auto)
    piloted = _run("tgt_595867ce2718", params=replace(auto, start="pilot"))
    assert run_id(at_w_star) == "13637097"  # what such a run was before the key
    assert run_id(piloted) == "544ff223"
    assert run_id(to_dict(piloted)) == run_id(piloted)
    assert SGLDParams().start == "pilot" and SGLDParams(step_size=1e-5).start == "w_star"


def test_every_samplers_default_entry_resolves_to_a_pinned_run():
    """A bare ``[[samplers]] name = ...`` of each sampler, on a target of n = 100 (SGLD's
    default batch is cut to n) and of n = 1000: its defaults (draws, thin, burn-in,
    precision, llc_trace, max_draws) and their IDs stay as they are."""
    from pathlib import Path

    from lambda_hat.config.experiment import parse
    from lambda_hat.config.specs import resolve_run

    doc = {"samplers": [{"name": name} for name in ("sgld", "hmc", "nuts", "mclmc")]}
    doc["targets"] = [{"model": "base", "data": "base"}]
    samplers = parse(doc, Path("ids.toml")).samplers
    resolved = {
        (s.name, n): resolve_run(s, "tgt_595867ce2718", n) for s in samplers for n in (100, 1000)
    }
    shape = {
        key: (r.draws, r.thin, r.burnin, r.precision, r.llc_trace, r.max_draws)
        for key, r in resolved.items()
    }
    assert shape[("sgld", 100)] == ("auto", "auto", 100, "float32", "minibatch", 12800)
    for name in ("hmc", "nuts", "mclmc"):
        assert shape[(name, 1000)] == (1000, 1, 0, "float64", "full", None)
    assert resolved[("sgld", 100)].params.batch_size == 100
    assert resolved[("sgld", 1000)].params.batch_size == 256
    assert {f"{k[0]}@{k[1]}": run_id(r) for k, r in resolved.items()} == PINNED_DEFAULTS


PINNED_DEFAULTS = {
    "sgld@100": "dd1a653b",
    "sgld@1000": "1d8ef0d7",
    "hmc@100": "939a7f70",
    "hmc@1000": "78e77229",
    "nuts@100": "5edbd19c",
    "nuts@1000": "ef8a259d",
    "mclmc@100": "cace38ed",
    "mclmc@1000": "0f2edd6f",
}
