"""Run one sampler on a published target and publish the run: λ̂, trace and plots.

Called inside worker processes. A run publishes atomically under its lock, appends its
manifest line, keeps its progress while it samples (``store/snapshots.py``) and records
a failure (never a partial result) when anything goes wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lambda_hat.config.experiment import checkpoint_at
from lambda_hat.config.specs import RunSpec, TargetSpec, to_dict
from lambda_hat.provenance import code_digest, code_sha, compute, pkg_versions
from lambda_hat.runner.common import Progress, Published, Stage, recordable, set_precision
from lambda_hat.runner.target import load_target, target_spec
from lambda_hat.samplers.registry import sampler
from lambda_hat.store import failures, manifest, npz
from lambda_hat.store.ids import SCHEMA_VERSION, run_id, target_id
from lambda_hat.store.jsonio import write_json
from lambda_hat.store.layout import ANALYSIS, DIAGNOSTICS, PARAMS, TRACE, Layout
from lambda_hat.store.publish import publish
from lambda_hat.store.records import RunAnalysis, TargetMeta
from lambda_hat.store.run_names import run_folder
from lambda_hat.store.snapshots import Snapshots


@dataclass(frozen=True)
class _Job:
    """What one run's build needs, gathered once: its spec and ID, its target (folder,
    meta, spec, data, w*), whom to tell (``progress``, ``stage``), when it was picked up, and
    its saved progress."""

    spec: RunSpec
    run_id: str
    folder: Path
    meta: TargetMeta
    target: TargetSpec  # the target's spec, its python model read from its own copy
    data: dict
    params: dict
    progress: Progress | None
    stage: Stage | None
    start: float
    snapshots: Snapshots


def run_sampler(
    spec: RunSpec, root: Path, progress: Progress | None = None, stage: Stage | None = None
) -> Published:
    """Sample, estimate and publish one run unless it exists.

    ``progress(done, total)`` follows the sampler's draws; ``stage(text)`` is told each
    phase (step pilots, sampling, writing) as it starts."""
    start = time.time()
    layout = Layout(root)
    rid = run_id(spec)  # hashed once: its folder name is made from it
    name = run_folder(spec.sampler, rid)
    final = layout.run_dir(spec.target_id, name)
    if final.is_dir():
        return Published(name, final, False)
    fail_path = layout.run_failure(spec.target_id, name)
    snapshots = Snapshots(
        layout.run_resume(spec.target_id, name),
        {"run_id": rid, "code": code_digest(), "packages": pkg_versions()},
        tell=stage,
        note={"compute": compute()},
    )
    written: list[RunAnalysis] = []
    try:
        meta, data, params = load_target(root, spec.target_id)
        folder = layout.target_dir(spec.target_id)
        tspec = target_spec(meta, folder)
        job = _Job(spec, rid, folder, meta, tspec, data, params, progress, stage, start, snapshots)
        built = publish(final, lambda tmp: written.append(_write_run(tmp, job)))
    except BaseException as exc:
        if recordable(exc) and layout.target_dir(spec.target_id).is_dir():
            kept = {"sampling_kept": True} if snapshots.kept else {}
            failures.record(
                fail_path, exc, to_dict(spec), target_id=spec.target_id, run=name, **kept
            )
            if not snapshots.kept:
                snapshots.clear()  # its next attempt (--retry-failed) starts afresh
            elif stage is not None:
                stage("failed after sampling: the draws are kept, and a retry only writes")
        raise
    snapshots.clear()
    if built:
        _add_to_manifest(layout, spec, final, written[0])
    failures.clear(fail_path)
    return Published(name, final, built, written[0] if built else None)


def _add_to_manifest(layout: Layout, spec: RunSpec, final: Path, analysis: RunAnalysis) -> None:
    manifest.record(
        layout.runs_manifest(spec.target_id),
        manifest.run_entry(analysis, final),
        "run_id",
        lambda e: layout.run_dir(e["target_id"], run_folder(e["sampler"], e["run_id"])).is_dir(),
    )


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
    path = targets / target_id(checkpoint_at(spec, last)) / PARAMS
    return npz.load(path)["w_star"] if path.is_file() else None


def _write_run(tmp: Path, job: _Job) -> RunAnalysis:
    """Sample and write the run's files into ``tmp``; its analysis.json's record.

    ``analysis.json`` records where the time went (``timings_sec``: load, sample (with
    compilation), summary, trace, plots) and ``walltime_sec`` from the pick-up; a run
    that took up an earlier attempt's saved progress says so (``resumed``).
    """
    clock = _Clock(job.start)
    posterior, tune_on, observed, restriction = _posteriors(job)
    clock.lap("load")
    from lambda_hat.sampling import sample_llc

    with job.snapshots.kept_on_stop():  # a stop (Ctrl-C, SIGTERM) first saves each stage
        at = (job.progress, tune_on, job.stage, job.snapshots, observed, restriction)
        est = sample_llc(posterior, job.spec, *at)
    clock.lap("sample")
    with job.snapshots.kept_on_failure():  # a failed write does not lose the sampling
        return _write_results(tmp, job, est, posterior, restriction, clock)


def _write_results(tmp: Path, job: _Job, est, posterior, restriction, clock) -> RunAnalysis:
    """analysis.json, trace.nc and the plots of a sampled run, into ``tmp``."""
    from lambda_hat.analysis import inference_data, plots

    sampling_sec = clock.laps["sample"]
    if job.stage is not None:
        job.stage("writing: summary, trace and plots")
    truth, focus = _focus(job, restriction, posterior)
    analysis = {**_analysis(job, est, posterior, sampling_sec, truth), **focus}
    clock.lap("summary")
    spec, result = job.spec, est.result
    about = {"run_id": job.run_id, "target_id": spec.target_id, "L0": est.L0}
    inference_data.write_trace(
        tmp / TRACE,
        est.llc,
        result.loss,
        result.sample_stats,
        {**about, "n_beta": posterior.n_beta},
        positions=result.positions,
        observed=result.observed,
        observed_at_w_star=est.observed_at_w_star,
    )
    clock.lap("trace")
    plot_meta = {"sampler": spec.sampler, "target_id": spec.target_id, "run_id": job.run_id}
    analysis["diagnostics"] = plots.write_all(
        tmp / DIAGNOSTICS,
        est.llc,
        result.sample_stats,
        {**plot_meta, "true_llc": truth},
        est.summary["llc_mcse"],
    )
    clock.lap("plots")
    analysis["timings_sec"] = clock.laps
    analysis["created_at"] = time.time()
    analysis["walltime_sec"] = analysis["created_at"] - job.start
    analysis["peak_rss_mb"] = _peak_rss_mb()
    record = RunAnalysis.from_json(analysis)
    write_json(tmp / ANALYSIS, record.to_json())
    return record


def _focus(job: _Job, restriction, posterior) -> tuple[float | None, dict]:
    """The closed-form λ of what was sampled (the target's; a restricted part's where its
    kind knows it; none for a data-refined run or the prior alone, nβ = 0), and
    analysis.json's ``restricted``/``refined`` records (``p`` stays the model's)."""
    spec = job.spec
    truth = None if spec.data or not spec.inverse_temperature else job.meta.true_llc
    focus = {}
    if restriction is not None:
        record = _restricted_record(job, restriction)
        truth = None if truth is None else _part_llc(job, record["leaves"])
        focus.update(p=record["of"], restricted=record)
    if spec.data:
        focus["refined"] = {"data": next(iter(spec.data)), "n": int(posterior.n)}
    return truth, focus


def figures_at_w_star(spec: RunSpec, root: Path) -> dict:
    """What an automatic step is made from (its sampler's ``measure``: the curvature at
    w*, SGHMC's minibatch noise there), on the run's built target (on the one its step
    is tuned on, where a training's last checkpoint is), measured before the run
    (``--measure``)."""
    from lambda_hat.samplers.registry import SAMPLERS

    meta, data, params = load_target(root, spec.target_id)
    folder = Layout(root).target_dir(spec.target_id)
    tspec = target_spec(meta, folder)
    job = _Job(spec, "", folder, meta, tspec, data, params, None, None, time.time(), None)
    posterior, tune_on, _, _ = _posteriors(job)
    on = posterior if tune_on is None else tune_on
    return SAMPLERS[spec.sampler].measure(on, spec)


def _posteriors(job: _Job):
    """The run's posterior at the target's w*, the one its sampler tunes on (SGLD's
    step on a training's last checkpoint; None: tune on the run's own), and its
    observed datasets."""
    from lambda_hat.sampling import posterior_of
    from lambda_hat.targets.build import dtype_of, flat_apply, loss_of

    spec, model = job.spec, job.target.model
    set_precision(spec.precision)
    origin = job.target.origin(check_content=False)  # a run needs apply; w* is the stored one
    apply_flat, _, _ = flat_apply(model, dtype_of(spec.precision), origin)
    x, y = _rows(job)
    restriction = _restriction(job)
    keep = None if restriction is None else restriction.indices
    loss = loss_of(model)
    posterior = posterior_of(apply_flat, loss, x, y, job.params["w_star"], spec, keep)
    observed = _observed(job, apply_flat, posterior)
    if not sampler(spec.sampler).tunes_on_last_checkpoint(spec.params):
        return posterior, None, observed, restriction
    w_last = _last_checkpoint_w(job.target, job.folder.parent)
    if w_last is None:
        return posterior, None, observed, restriction
    tune_on = posterior_of(apply_flat, loss, x, y, w_last, spec, keep)
    return posterior, tune_on, observed, restriction


def _rows(job: _Job):
    """(X, Y) the run's posterior is built on: the target's training rows, or for a
    data-refined run (``data``) the rows of the table it names."""
    if not job.spec.data:
        return job.data["X"], job.data["Y"]
    from lambda_hat.targets.build import table_rows

    (table,) = job.spec.data.values()
    return table_rows(job.target, table, job.data["X"], job.data["Y"])


def _restriction(job: _Job):
    """A weight-restricted run's moved coordinates and full w*, or None."""
    if not job.spec.restrict:
        return None
    from lambda_hat.sampling import Restriction
    from lambda_hat.targets.build import param_leaves

    leaves = param_leaves(job.target.model, job.target.origin(check_content=False))
    w_star = np.asarray(job.params["w_star"], np.dtype(job.spec.precision))
    return Restriction.of(leaves, job.spec.restrict, w_star, f"run {job.run_id}")


def _restricted_record(job: _Job, restriction) -> dict:
    """analysis.json ``restricted``: the patterns, the leaves they chose, how many of the
    model's parameters moved."""
    return {
        "restrict": list(job.spec.restrict),
        "leaves": list(restriction.names),
        "params": int(restriction.indices.size),
        "of": int(restriction.w_star.size),
    }


def _observed(job: _Job, apply_flat, posterior) -> tuple:
    """((name, (x, y)), ...): the run's observed data tables built for its target, each
    checked against the model, and all against the size limit, before any sampling."""
    import jax

    from lambda_hat.config.specs import check_observed_size
    from lambda_hat.targets.arrays import cast
    from lambda_hat.targets.build import loss_of, table_rows
    from lambda_hat.targets.checks import check_model_fits

    spec, out, values = job.spec, [], {}
    where = f"run {job.run_id} on target {spec.target_id}"
    loss = loss_of(job.target.model)
    w_star = np.asarray(job.params["w_star"], np.dtype(spec.precision))
    for name, table in spec.observe.items():
        rows = table_rows(job.target, table, job.data["X"], job.data["Y"])
        x, y = cast(*rows, np.dtype(spec.precision))
        check_model_fits(apply_flat, w_star, x, y, loss, f"{where}: observe {name!r}")
        shape = jax.eval_shape(posterior.observed, posterior.w_star, (x, y)).shape
        values[name] = int(np.prod(shape))
        out.append((name, (x, y)))
    check_observed_size(spec, values, where)
    return tuple(out)


def _part_llc(job: _Job, leaves: list[str]) -> float | None:
    """The closed-form λ of a weight-restricted run where its model kind knows it."""
    from lambda_hat.targets.registry import model_of

    model = job.target.model
    value = model_of(model).part_llc(model, job.target.data, tuple(leaves))
    return None if value is None else float(value)


def _analysis(job: _Job, est, posterior, sampling_sec: float, truth) -> dict:
    """analysis.json's estimate, diagnostics and provenance (before its files' part);
    ``truth``: the closed-form λ of what was sampled, or None."""
    from lambda_hat.numerics.loss import describe_loss

    spec, result, summ = job.spec, est.result, est.summary
    prepared = sampler(spec.sampler).record_key
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": job.run_id,
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
        "L0": est.L0,
        "n": int(posterior.n),
        "p": int(posterior.num_params),
        "n_beta": posterior.n_beta,
        "inverse_temperature": spec.inverse_temperature,
        "localization": spec.localization,
        "precision": spec.precision,
        "chains": spec.chains,
        "draws": int(est.llc.shape[1]),  # kept draws per chain (draws = "auto": where it stopped)
        # thin = "auto" at its cap: lengthened to 1/γ; max_time: the draws it allowed
        "burnin": (est.time_budget or {}).get("burnin", [est.spec.burnin])[0],
        "thin": est.spec.thin,  # thin = "auto": the steps per draw it chose
        "llc_trace": spec.llc_trace,
        "sampler_config": to_dict(spec),
        "stats": dict(result.stats),
        **({"budget": est.budget} if est.budget else {}),
        **({prepared: est.prepared} if est.prepared else {}),
        **({"resumed": est.resumed} if est.resumed else {}),
        **({"time_budget": est.time_budget} if est.time_budget else {}),
        "trust": est.trust,
        "warnings": est.warnings,
        "loss": describe_loss(job.target.model.loss),
        "loss_name": job.target.model.loss,
        "code_sha": code_sha(),
        "pkg_versions": pkg_versions(),
        "compute": compute(),
        "spec": to_dict(spec),
    }


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
