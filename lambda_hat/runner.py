"""The one bridge from specs and a store to numerics and published artifacts.

Called inside worker processes. ``build_target`` and ``run_sampler`` each publish one
artifact atomically under its lock, append its manifest line, and record a failure
(never a partial result) when anything goes wrong.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import shutil
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from lambda_hat.config.experiment import checkpoint_at, training_checkpoints
from lambda_hat.config.specs import RunSpec, TargetSpec, target_from_dict, to_dict
from lambda_hat.errors import SamplerDivergedError, StoreError, StoreFullError, broken_artifact
from lambda_hat.provenance import code_digest, code_sha, compute, imported_versions, pkg_versions
from lambda_hat.samplers.registry import sampler
from lambda_hat.store import failures, manifest, npz
from lambda_hat.store.ids import SCHEMA_VERSION, run_dirname, run_id, target_id
from lambda_hat.store.jsonio import read_json, write_json
from lambda_hat.store.layout import Layout
from lambda_hat.store.locks import lock_for
from lambda_hat.store.publish import publish
from lambda_hat.store.records import Dims, Metrics, TargetMeta
from lambda_hat.store.run_names import run_folder
from lambda_hat.store.snapshots import Snapshots
from lambda_hat.targets.seeds import seed_uses

Progress = Callable[[int, int], None]
Stage = Callable[[str], None]


def set_precision(precision: str) -> None:
    """Make this process all-float64 or all-float32 (before any array is created)."""
    import jax

    want = precision == "float64"
    if bool(jax.config.jax_enable_x64) != want:
        jax.config.update("jax_enable_x64", want)


def true_llc(spec: TargetSpec) -> Fraction | None:
    """λ where it is known: in closed form (DLNs, models with no hidden layer on their own
    teacher's data) or given by the user (a python model's ``true_llc``)."""
    from lambda_hat.targets.registry import model_of

    return model_of(spec.model).true_llc(spec.model, spec.data)


SOURCE_DIR = "source"  # a python model's module file, as the target was built with it


def build_target(spec: TargetSpec, root: Path, names: dict | None = None) -> str:
    """Build and publish a target unless it exists. Returns its ID.

    A checkpoint of a training run (``training.at_step``) is built with its siblings
    (``training.checkpoints``): one training, under a lock of the run, publishes every
    checkpoint that is missing, so another worker asking for a sibling waits and finds
    it built.
    """
    layout = Layout(root)
    tid = target_id(spec)
    if layout.target_dir(tid).is_dir():
        return tid
    if spec.training.at_step is None:
        _publish_target(spec, tid, layout, names or {}, lambda: _arrays({None: spec})[None])
        return tid
    with training_lock(spec, root):
        if layout.target_dir(tid).is_dir():
            return tid
        siblings = training_checkpoints(spec)
        missing = {
            k: s for k, s in siblings.items() if not layout.target_dir(target_id(s)).is_dir()
        }
        trained = functools.cache(lambda: _arrays(missing))  # trained once, when first needed
        for step, sibling in missing.items():
            sid = target_id(sibling)
            try:
                _publish_target(sibling, sid, layout, names or {}, lambda s=step: trained()[s])
            except StoreFullError:
                raise  # the next sibling would fail the same way
            except Exception:
                if sid == tid:
                    raise
    return tid


def _recordable(exc: BaseException) -> bool:
    """A task's own error is recorded as its failure; a stop (a signal) or a full disk
    is not: it says nothing about the task, and its next attempt should simply run."""
    return isinstance(exc, Exception) and not isinstance(exc, StoreFullError)


def training_lock(spec, root: Path):
    """The lock of a checkpointed training run, shared by all its checkpoint targets (a
    no-op context for other specs). Take it *before* a checkpoint target's own lock:
    its holder publishes the siblings, taking their locks."""
    if not isinstance(spec, TargetSpec) or spec.training.at_step is None:
        return contextlib.nullcontext()
    training = dataclasses.replace(spec.training, at_step=None)
    whole = dataclasses.replace(spec, training=training, params_sha256="")
    return lock_for(Layout(root).targets / f".training-{target_id(whole)}.lock")


def _arrays(specs: dict) -> dict:
    """{stop: TargetArrays} of one training run (``specs``: {stop: its target's spec})."""
    first = next(iter(specs.values()))
    set_precision(first.precision)
    from lambda_hat.targets.build import build_checkpoints

    return build_checkpoints(specs)


def _publish_target(spec: TargetSpec, tid: str, layout: Layout, names: dict, arrays) -> None:
    """Publish target ``tid`` from ``arrays()``; record a failure (never a partial target)."""
    final = layout.target_dir(tid)
    try:
        built = publish(final, lambda tmp: _write_target(tmp, spec, tid, names, arrays))
    except BaseException as exc:
        if _recordable(exc):
            failures.record(layout.target_failure(tid), exc, to_dict(spec), target_id=tid)
        raise
    if built:
        entry = {"target_id": tid, "created_at": read_json(final / "meta.json")["created_at"]}
        entry.update({"model": None, "data": None, "training": None, **names})
        entry["seed"] = spec.seed
        if spec.training.at_step is not None:
            entry["step"] = spec.training.at_step
        manifest.record(
            layout.catalog, entry, "target_id", lambda e: layout.target_dir(e["target_id"]).is_dir()
        )
    failures.clear(layout.target_failure(tid))


def _write_target(tmp: Path, spec: TargetSpec, tid: str, names: dict, arrays_fn) -> None:
    start = time.time()
    arrays = arrays_fn()
    from lambda_hat.numerics.loss import LOSS_DESCRIPTIONS

    if not math.isfinite(arrays.L0) or not np.all(np.isfinite(np.asarray(arrays.w_star))):
        raise SamplerDivergedError(
            f"training of target {tid} diverged (L0 = {arrays.L0}); lower "
            "training.learning_rate or use more steps"
        )
    data = {"X": np.asarray(arrays.x), "Y": np.asarray(arrays.y)}
    if arrays.x_test is not None:
        data.update(X_test=np.asarray(arrays.x_test), Y_test=np.asarray(arrays.y_test))
    npz.save(tmp / "data.npz", **data)
    history = np.asarray(arrays.loss_history)
    params = {"w_star": np.asarray(arrays.w_star), "train_loss": history}
    if arrays.teacher is not None:
        params["teacher"] = np.asarray(arrays.teacher)
    npz.save(tmp / "params.npz", **params)
    if spec.model.kind == "python":  # runs import this copy: the code w* was trained with
        (tmp / SOURCE_DIR).mkdir()
        shutil.copy2(spec.model.source_path, tmp / SOURCE_DIR / Path(spec.model.source_path).name)
    truth = true_llc(spec)
    model_cfg = to_dict(spec.model)
    if hasattr(spec.model, "depth"):
        model_cfg["depth"] = spec.model.depth
    x = np.asarray(arrays.x)
    n_test = np.asarray(arrays.x_test).shape[0] if arrays.x_test is not None else None
    meta = TargetMeta(
        schema_version=SCHEMA_VERSION,
        target_id=tid,
        created_at=time.time(),
        build_walltime_sec=time.time() - start,
        code_sha=code_sha(),
        precision=spec.precision,
        pkg_versions={**pkg_versions(), **imported_versions(*_user_files(spec))},
        compute=compute(),
        seed=spec.seed,
        names=names,
        model_cfg=model_cfg,
        data_cfg=to_dict(spec.data),
        training_cfg=to_dict(spec.training),
        dims=Dims(int(x.shape[0]), int(np.prod(x.shape[1:])), int(arrays.w_star.shape[0]), n_test),
        metrics=Metrics(
            L0=arrays.L0,
            train_loss_first=float(history[0]) if history.size else None,
            train_loss_final=float(history[-1]) if history.size else None,
            test_loss=arrays.test_loss,
        ),
        loss=LOSS_DESCRIPTIONS[spec.model.loss],
        loss_name=spec.model.loss,
        true_llc=float(truth) if truth is not None else None,
        true_llc_exact=str(truth) if truth is not None else None,
        spec=to_dict(spec),
        extra={"jax_enable_x64": spec.precision == "float64", "seed_uses": seed_uses(spec)},
    )
    write_json(tmp / "meta.json", meta.to_json())


def _user_files(spec: TargetSpec) -> list[str]:
    """The module files of the user's code a target is built from (python kinds)."""
    return [
        p
        for p in (getattr(spec.model, "source_path", ""), getattr(spec.data, "source_path", ""))
        if p
    ]


def target_spec(meta: dict, folder: Path) -> TargetSpec:
    """The spec of a published target, its python model read from the target's own copy."""
    from lambda_hat.targets.python_model import with_source

    spec = target_from_dict(meta["spec"], f"{folder / 'meta.json'}: spec")
    if spec.model.kind == "python":
        copy = folder / SOURCE_DIR / Path(spec.model.source_path).name
        spec = dataclasses.replace(spec, model=with_source(spec.model, copy))
    return spec


def _last_checkpoint_w(spec: TargetSpec, targets: Path):
    """w* of the last checkpoint of ``spec``'s training run (None for a target that is
    not a checkpoint, or is the last): ``step_size = "auto"`` is chosen there for every
    checkpoint, one step for the whole training run. Its siblings are published
    together, by one training."""
    training = spec.training
    if training.at_step is None:
        return None
    last = max((*training.checkpoints, training.at_step))
    if last == training.at_step:
        return None
    path = targets / target_id(checkpoint_at(spec, last)) / "params.npz"
    return npz.load(path)["w_star"] if path.is_file() else None


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


def run_sampler(
    spec: RunSpec, root: Path, progress: Progress | None = None, stage: Stage | None = None
) -> str:
    """Sample, estimate and publish one run unless it exists. Returns its folder name.

    ``progress(done, total)`` follows the sampler's draws; ``stage(text)`` is told each
    phase (step pilots, sampling, writing) as it starts."""
    start = time.time()
    layout = Layout(root)
    name = run_dirname(spec)
    final = layout.run_dir(spec.target_id, name)
    if final.is_dir():
        return name
    spec_dict = to_dict(spec)
    fail_path = layout.run_failure(spec.target_id, name)
    snapshots = Snapshots(
        layout.run_resume(spec.target_id, name),
        {"run_id": run_id(spec), "code": code_digest(), "packages": pkg_versions()},
        tell=stage,
        note={"compute": compute()},
    )
    try:
        meta, data, params = load_target(root, spec.target_id)
        built = publish(
            final,
            lambda tmp: _write_run(
                tmp,
                spec,
                layout.target_dir(spec.target_id),
                meta,
                data,
                params,
                progress,
                stage,
                start,
                snapshots,
            ),
        )
    except BaseException as exc:
        if _recordable(exc) and layout.target_dir(spec.target_id).is_dir():
            failures.record(fail_path, exc, spec_dict, target_id=spec.target_id, run=name)
            snapshots.clear()  # its next attempt (--retry-failed) starts afresh
        raise
    snapshots.clear()
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
                .joinpath(run_folder(e["sampler"], e["run_id"]))
                .is_dir()
            ),
        )
    failures.clear(fail_path)
    return name


def _write_run(
    tmp: Path,
    spec: RunSpec,
    folder: Path,
    meta,
    data,
    params,
    progress,
    stage,
    start: float,
    snapshots: Snapshots | None = None,
) -> None:
    """Sample and write the run's files into ``tmp``; ``folder``: its target's folder;
    ``start``: when the run was picked up; ``snapshots``: its saved progress, taken up
    and kept (analysis.json ``resumed`` says when an earlier attempt's was used).

    ``analysis.json`` records where the time went (``timings_sec``: load, sample (with
    compilation), summary, trace, plots) and ``walltime_sec`` from ``start``.
    """
    clock = _Clock(start)
    set_precision(spec.precision)
    from lambda_hat.analysis import inference_data, plots
    from lambda_hat.numerics.loss import LOSS_DESCRIPTIONS
    from lambda_hat.sampling import posterior_of, sample_llc
    from lambda_hat.targets.build import dtype_of, flat_apply

    tspec = target_spec(meta, folder)
    model = tspec.model
    origin = tspec.origin(check_content=False)  # a run needs apply; w* is the stored one
    apply_flat, _, _ = flat_apply(model, dtype_of(spec.precision), origin)
    posterior = posterior_of(apply_flat, model.loss, data["X"], data["Y"], params["w_star"], spec)
    tune_on = None
    if sampler(spec.sampler).tunes_on_last_checkpoint(spec.params):
        w_last = _last_checkpoint_w(tspec, folder.parent)
        if w_last is not None:
            tune_on = posterior_of(apply_flat, model.loss, data["X"], data["Y"], w_last, spec)
    clock.lap("load")
    kept = snapshots.kept_on_stop() if snapshots is not None else contextlib.nullcontext()
    with kept:  # a stop (Ctrl-C, SIGTERM) first saves where each stage had got to
        est = sample_llc(posterior, spec, progress, tune_on, stage, snapshots)
    sampling_sec = clock.lap("sample")
    if stage is not None:
        stage("writing: summary, trace and plots")
    result, llc, summ, L0 = est.result, est.llc, est.summary, est.L0
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
        "draws": int(llc.shape[1]),  # kept draws per chain (draws = "auto": where it stopped)
        "burnin": est.spec.burnin,  # thin = "auto" at its cap: lengthened to 1/γ
        "thin": est.spec.thin,  # thin = "auto": the steps per draw it chose
        "llc_trace": spec.llc_trace,
        "sampler_config": to_dict(spec),
        "stats": stats,
        **({"budget": est.budget} if est.budget else {}),
        **({sampler(spec.sampler).record_key: est.sgld_step} if est.sgld_step else {}),
        **({"resumed": est.resumed} if est.resumed else {}),
        "trust": est.trust,
        "warnings": est.warnings,
        "loss": LOSS_DESCRIPTIONS[model.loss],
        "loss_name": model.loss,
        "code_sha": code_sha(),
        "pkg_versions": pkg_versions(),
        "compute": compute(),
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
