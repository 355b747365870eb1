"""The one bridge from specs and a store to numerics and published artifacts.

Called inside worker processes. ``build_target`` and ``run_sampler`` each publish one
artifact atomically under its lock, append its manifest line, and record a failure
(never a partial result) when anything goes wrong.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from lambda_hat.config.specs import RunSpec, TargetSpec, to_dict
from lambda_hat.errors import SamplerDivergedError, StoreError, broken_artifact
from lambda_hat.provenance import code_sha, pkg_versions
from lambda_hat.store import failures, manifest, npz
from lambda_hat.store.ids import SCHEMA_VERSION, run_dirname, run_id, target_id
from lambda_hat.store.jsonio import read_json, write_json
from lambda_hat.store.layout import Layout
from lambda_hat.store.publish import publish

Progress = Callable[[int, int], None]


def set_precision(precision: str) -> None:
    """Make this process all-float64 or all-float32 (before any array is created)."""
    import jax

    want = precision == "float64"
    if bool(jax.config.jax_enable_x64) != want:
        jax.config.update("jax_enable_x64", want)


def true_llc(spec: TargetSpec) -> Fraction | None:
    """Closed-form λ where the model has one: DLNs (incl. one layer = regular, d/2)."""
    from lambda_hat.numerics.truth import dln_llc

    if spec.model.kind == "dln":
        return dln_llc(spec.model.layer_sizes, spec.model.rank)
    return None


def build_target(spec: TargetSpec, root: Path, names: dict | None = None) -> str:
    """Build and publish a target unless it exists. Returns its ID."""
    layout = Layout(root)
    tid = target_id(spec)
    final = layout.target_dir(tid)
    if final.is_dir():
        return tid
    spec_dict = to_dict(spec)
    try:
        built = publish(final, lambda tmp: _write_target(tmp, spec, tid, names or {}))
    except BaseException as exc:
        if isinstance(exc, Exception):
            failures.record(layout.target_failure(tid), exc, spec_dict, target_id=tid)
        raise
    if built:
        entry = {"target_id": tid, "created_at": read_json(final / "meta.json")["created_at"]}
        entry.update({"model": None, "data": None, "training": None, **(names or {})})
        entry["seed"] = spec.seed
        manifest.record(
            layout.catalog, entry, "target_id", lambda e: layout.target_dir(e["target_id"]).is_dir()
        )
    failures.clear(layout.target_failure(tid))
    return tid


def _write_target(tmp: Path, spec: TargetSpec, tid: str, names: dict) -> None:
    set_precision(spec.precision)
    from lambda_hat.numerics.loss import LOSS_DESCRIPTION
    from lambda_hat.numerics.target import build_target as numerics_build

    start = time.time()
    arrays = numerics_build(spec)
    if not math.isfinite(arrays.L0) or not np.all(np.isfinite(np.asarray(arrays.w_star))):
        raise SamplerDivergedError(
            f"training of target {tid} diverged (L0 = {arrays.L0}); lower "
            "training.learning_rate or use more steps"
        )
    npz.save(tmp / "data.npz", X=np.asarray(arrays.x), Y=np.asarray(arrays.y))
    history = np.asarray(arrays.loss_history)
    npz.save(
        tmp / "params.npz",
        w_star=np.asarray(arrays.w_star),
        teacher=np.asarray(arrays.teacher),
        train_loss=history,
    )
    truth = true_llc(spec)
    model_cfg = {**to_dict(spec.model), "depth": spec.model.depth}
    meta = {
        "schema_version": SCHEMA_VERSION,
        "target_id": tid,
        "created_at": time.time(),
        "build_walltime_sec": time.time() - start,
        "code_sha": code_sha(),
        "jax_enable_x64": spec.precision == "float64",
        "precision": spec.precision,
        "pkg_versions": pkg_versions(),
        "seed": spec.seed,
        "names": names,
        "model_cfg": model_cfg,
        "data_cfg": to_dict(spec.data),
        "training_cfg": to_dict(spec.training),
        "dims": {"n": spec.data.n_data, "d": spec.model.in_dim, "p": int(arrays.w_star.shape[0])},
        "metrics": {
            "L0": arrays.L0,
            "train_loss_first": float(history[0]) if history.size else None,
            "train_loss_final": float(history[-1]) if history.size else None,
        },
        "loss": LOSS_DESCRIPTION,
        "true_llc": float(truth) if truth is not None else None,
        "true_llc_exact": str(truth) if truth is not None else None,
        "spec": to_dict(spec),
    }
    write_json(tmp / "meta.json", meta)


def load_target(root: Path, tid: str) -> tuple[dict, dict, dict]:
    """(meta, data, params) of a published target."""
    folder = Layout(root).target_dir(tid)
    if not folder.is_dir():
        raise StoreError(f"target {tid} is not in the store {root}; build it first")
    try:
        meta = read_json(folder / "meta.json")
    except (OSError, ValueError) as exc:
        raise broken_artifact(folder / "meta.json", exc) from exc
    return meta, npz.load(folder / "data.npz"), npz.load(folder / "params.npz")


def run_sampler(spec: RunSpec, root: Path, progress: Progress | None = None) -> str:
    """Sample, estimate and publish one run unless it exists. Returns its folder name."""
    start = time.time()
    layout = Layout(root)
    name = run_dirname(spec)
    final = layout.run_dir(spec.target_id, name)
    if final.is_dir():
        return name
    spec_dict = to_dict(spec)
    fail_path = layout.run_failure(spec.target_id, name)
    try:
        meta, data, params = load_target(root, spec.target_id)
        built = publish(
            final, lambda tmp: _write_run(tmp, spec, meta, data, params, progress, start)
        )
    except BaseException as exc:
        if isinstance(exc, Exception) and layout.target_dir(spec.target_id).is_dir():
            failures.record(fail_path, exc, spec_dict, target_id=spec.target_id, run=name)
        raise
    if built:
        analysis = read_json(final / "analysis.json")
        entry = {
            "target_id": spec.target_id,
            "run_id": run_id(spec),
            "sampler": spec.sampler,
            "hyperparams": to_dict(spec.params),
            "walltime_sec": analysis["walltime_sec"],
            "artifact_path": str(final),
            "created_at": analysis["created_at"],
        }
        manifest.record(
            layout.runs_manifest(spec.target_id),
            entry,
            "run_id",
            lambda e: (
                layout.target_dir(e["target_id"])
                .joinpath(f"run_{e['sampler']}_{e['run_id']}")
                .is_dir()
            ),
        )
    failures.clear(fail_path)
    return name


def _write_run(tmp: Path, spec: RunSpec, meta, data, params, progress, start: float) -> None:
    """Sample and write the run's files into ``tmp``; ``start``: when the run was picked up.

    ``analysis.json`` records where the time went (``timings_sec``: load, sample (with
    compilation), summary, trace, plots) and ``walltime_sec`` from ``start``.
    """
    clock = _Clock(start)
    set_precision(spec.precision)
    import jax
    import jax.numpy as jnp

    from lambda_hat.analysis import inference_data, plots, summary
    from lambda_hat.config.specs import ModelSpec
    from lambda_hat.numerics.estimator import llc_trace
    from lambda_hat.numerics.loss import LOSS_DESCRIPTION, make_loss
    from lambda_hat.numerics.posterior import make_posterior
    from lambda_hat.numerics.samplers import get as get_sampler
    from lambda_hat.numerics.samplers.driver import Schedule
    from lambda_hat.numerics.target import flat_apply

    dtype = jnp.float64 if spec.precision == "float64" else jnp.float32
    model_fields = {f.name for f in dataclasses.fields(ModelSpec)}
    model = ModelSpec(
        **{k: v for k, v in meta["model_cfg"].items() if k in model_fields}
        | {"widths": tuple(meta["model_cfg"]["widths"])}
    )
    apply_flat, _, _ = flat_apply(model, dtype)
    loss_fn = make_loss(apply_flat)
    # cast on the host: a device-side cast compiles a program per array shape
    host = np.float64 if spec.precision == "float64" else np.float32
    x, y = (jnp.asarray(np.asarray(data[k], host)) for k in ("X", "Y"))
    w_star = jnp.asarray(np.asarray(params["w_star"], host))
    L0 = float(jax.jit(loss_fn)(w_star, x, y))  # L_n(w*) in this run's precision
    posterior = make_posterior(loss_fn, x, y, w_star, spec.inverse_temperature, spec.localization)
    clock.lap("load")
    sampler = get_sampler(spec.sampler)
    result = sampler.sample(
        jax.random.PRNGKey(spec.seed),
        posterior,
        spec.params,
        Schedule(
            spec.chains,
            spec.burnin,
            spec.draws,
            spec.thin,
            spec.trace_params,
            progress,
            spec.llc_trace,
        ),
    )
    _check_finite(spec, result)
    sampling_sec = clock.lap("sample")
    llc = llc_trace(result.loss, L0, posterior.n_beta)
    summ = summary.summarize(llc)
    truth = meta.get("true_llc")
    rid = run_id(spec)
    stats = dict(result.stats)
    analysis = {
        "schema_version": SCHEMA_VERSION,
        "run_id": rid,
        "target_id": spec.target_id,
        "sampler": spec.sampler,
        **summ,
        "true_llc": truth,
        "relative_error": (summ["llc_mean"] - truth) / truth if truth else None,
        "total_fges": result.total_fges,
        "fges_per_chain": [float(v) for v in result.fges_per_chain],
        "warmup_fges": float(np.sum(result.warmup_fges_per_chain)),
        "recording_loss_evals": int(result.loss_evals_per_chain) * spec.chains,
        "sampling_walltime_sec": sampling_sec,  # compilation included
        "L0": L0,
        "n": int(posterior.n),
        "p": int(posterior.num_params),
        "n_beta": posterior.n_beta,
        "inverse_temperature": spec.inverse_temperature,
        "localization": spec.localization,
        "precision": spec.precision,
        "chains": spec.chains,
        "draws": spec.draws,
        "burnin": spec.burnin,
        "thin": spec.thin,
        "llc_trace": spec.llc_trace,
        "sampler_config": to_dict(spec),
        "stats": stats,
        "warnings": summary.warnings_for(summ, stats),
        "loss": LOSS_DESCRIPTION,
        "code_sha": code_sha(),
        "pkg_versions": pkg_versions(),
        "spec": to_dict(spec),
    }
    plot_meta = {
        "sampler": spec.sampler,
        "target_id": spec.target_id,
        "run_id": rid,
        "true_llc": truth,
    }
    clock.lap("summary")
    inference_data.write_trace(
        tmp / "trace.nc",
        llc,
        result.loss,
        result.sample_stats,
        {"run_id": rid, "target_id": spec.target_id, "L0": L0, "n_beta": posterior.n_beta},
        positions=result.positions,
    )
    clock.lap("trace")
    analysis["diagnostics"] = plots.write_all(
        tmp / "diagnostics", llc, result.sample_stats, plot_meta, summ["llc_mcse"]
    )
    clock.lap("plots")
    analysis["timings_sec"] = clock.laps
    analysis["created_at"] = time.time()
    analysis["walltime_sec"] = analysis["created_at"] - start
    analysis["peak_rss_mb"] = _peak_rss_mb()
    write_json(tmp / "analysis.json", analysis)


class _Clock:
    """Named laps since ``start`` (seconds), for analysis.json's ``timings_sec``."""

    def __init__(self, start: float):
        self.last = start
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> float:
        now = time.time()
        self.laps[name] = round(now - self.last, 4)
        self.last = now
        return self.laps[name]


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB): an upper bound for this run's."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB


def _check_finite(spec: RunSpec, result) -> None:
    bad = result.first_nonfinite_step
    if bad is None and np.all(np.isfinite(result.loss)):
        return
    where = f"at step {bad}" if bad is not None else "in a recorded loss"
    step = getattr(spec.params, "step_size", None)
    hint = (
        f"lower step_size (now {step:g}), e.g. to {step / 10:g}"
        if isinstance(step, float)
        else "lower the step size or check the target"
    )
    raise SamplerDivergedError(
        f"sampler {spec.sampler!r} diverged {where}: the loss became NaN/inf. Suggestion: {hint}."
    )
