"""What the screens show, read lazily from a store through ``store.catalog`` (no Textual).

Rows are plain dataclasses built from meta.json / analysis.json / failure files, so the
screens only format them. Nothing here imports JAX; reading a ``trace.nc`` (xarray) is
deferred to :func:`running_llc`, which screens call from a worker thread.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lambda_hat.config.specs import training_run
from lambda_hat.samplers.registry import SAMPLERS
from lambda_hat.store.catalog import Catalog, RunRecord, TargetRecord
from lambda_hat.store.layout import FAILURES
from lambda_hat.store.records import FailureRecord, RunAnalysis, TargetMeta
from lambda_hat.store.run_names import RUN_GLOB, parse_run_folder

OK, FAILED, BROKEN, RUNNING = "ok", "failed", "unreadable", "running"
STOPPED = "stopped"  # stopped with its progress saved: the next run resumes it


def fmt_num(value, digits: int = 4) -> str:
    """A short human number; blank for missing, ``nan`` kept visible."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "nan"
    return f"{x:.{digits}g}"


def fmt_time(epoch) -> str:
    """UTC date and minute of an epoch time (UTC so captures are machine-independent)."""
    if not isinstance(epoch, int | float):
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def fmt_estimate(mean, mcse) -> str:
    if mean is None:
        return ""
    return f"{fmt_num(mean)} ± {fmt_num(mcse, 2)}" if mcse is not None else fmt_num(mean)


def fmt_relative(rel) -> str:
    return "" if rel is None else f"{100 * float(rel):+.1f}%"


@dataclass
class TargetRow:
    """One line of the targets table."""

    target_id: str
    model: str
    n: int | None
    p: int | None
    L0: float | None
    true_llc: float | None
    num_runs: int
    num_failed: int
    created_at: float | None
    num_running: int = 0  # runs a live process is computing now
    num_stopped: int = 0  # runs stopped with their progress saved (not failed)
    names: dict = field(default_factory=dict)
    error: str | None = None
    step: int | None = None  # the training step, for a checkpoint of a training run
    meta: TargetMeta | None = field(default=None, repr=False)

    @property
    def short_id(self) -> str:
        return self.target_id.removeprefix("tgt_")[:8]

    def search_text(self) -> str:
        return f"{self.target_id} {self.model} {self.names_text}".lower()

    @property
    def names_text(self) -> str:
        """``model/data/training`` names from the experiments file."""
        keys = ("model", "data", "training")
        text = "/".join(str(self.names[k]) for k in keys if self.names.get(k))
        return text if self.step is None else f"{text}@{self.step}"


def describe_model(model_cfg: dict | None) -> str:
    """``mlp 4→8×8→1 tanh`` style summary of a stored model config (its kind's own)."""
    from lambda_hat.targets.registry import describe_model as describe

    return describe(model_cfg)


def target_row(record: TargetRecord) -> TargetRow:
    meta = record.meta or TargetMeta()
    runs, running = record.run_dirnames(), record.computing()
    fail_dir = record.path / FAILURES
    failed = set()
    if fail_dir.is_dir():  # a failed run being retried counts as running
        failed = {p.stem for p in fail_dir.glob(f"{RUN_GLOB}.json")} - set(runs) - set(running)
    stopped = set(record.stopped()) - failed
    return TargetRow(
        target_id=record.target_id,
        model=describe_model(meta.model_cfg),
        n=meta.dims.n,
        p=meta.dims.p,
        L0=meta.metrics.L0,
        true_llc=meta.true_llc,
        num_runs=len(runs),
        num_failed=len(failed),
        num_running=len(running),
        num_stopped=len(stopped),
        created_at=meta.created_at,
        names=meta.names,
        error=record.error,
        step=meta.step,
        meta=record.meta,
    )


@dataclass
class RunRow:
    """One run of a target: a published one, or a recorded failure."""

    target_id: str
    dirname: str
    status: str
    analysis: RunAnalysis = field(default_factory=RunAnalysis)
    message: str = ""
    path: Path | None = None
    failure: FailureRecord | None = None
    varies: str = ""  # the settings in which this run differs from its siblings

    @property
    def sampler(self) -> str:
        run = parse_run_folder(self.dirname)
        return run.sampler if run else "?"

    @property
    def run_id(self) -> str:
        run = parse_run_folder(self.dirname)
        return run.run_id if run else "?"

    @property
    def config(self) -> dict:
        """The run's RunSpec as written: its analysis's, or its failure record's."""
        return self.analysis.sampler_config or (self.failure.spec if self.failure else {})

    def hyperparams(self) -> str:
        """Key sampler settings, e.g. ``step_size=1e-4 batch=256 4×1000``."""
        cfg, a = self.config, self.analysis
        params = cfg.get("params") or {}
        parts = []
        definition = SAMPLERS.get(cfg.get("sampler") or self.sampler)
        for key, short in definition.settings if definition else ():
            value = params.get(key)
            if value == "auto":  # what the run chose (its preparation's record)
                chosen = a.chosen_step_size if key == "step_size" else None
                value = chosen or (a.prepared or {}).get(key) or value
                short += "(auto)"
            if value is not None:
                parts.append(f"{short}={fmt_num(value, 3)}")
        if params.get("precond") not in (None, "none"):
            parts.append(str(params["precond"]))
        if cfg.get("chains") is not None:
            draws = cfg.get("draws")
            if draws == "auto":
                draws = f"{a.draws}(auto)" if a.draws is not None else "auto"
            parts.append(f"{cfg['chains']}×{draws}")
        thin = cfg.get("thin") or 1
        if thin == "auto":
            thin = f"{a.thin}(auto)" if a.thin is not None else "auto"
        if thin != 1:
            parts.append(f"thin={thin}")
        if cfg.get("trace_params"):
            parts.append("+params")  # full parameter traces in trace.nc
        return " ".join(parts)


def _settings(row: RunRow) -> dict:
    """A run's sampler settings, flat: ``step_size``, ``localization``, ``seed``, ..."""
    cfg = row.config
    flat = {k: v for k, v in cfg.items() if k not in ("params", "target_id", "sampler")}
    return {**flat, **(cfg.get("params") or {})}


def mark_varying(rows: list[RunRow]) -> list[RunRow]:
    """Fill ``varies`` with each run's values of the settings that differ between the
    runs of one sampler: the swept keys of a sweep (``step_size=1e-05 seed=2``). A run
    whose settings are not known yet (being computed, its first attempt) takes no part."""
    by_sampler: dict[str, list[tuple[RunRow, dict]]] = {}
    for row in rows:
        if row.config:
            by_sampler.setdefault(row.sampler, []).append((row, _settings(row)))
    for group in by_sampler.values():
        keys = {k for _, settings in group for k in settings}
        varying = [
            k
            for k in sorted(keys)
            if len({json.dumps(s.get(k), sort_keys=True) for _, s in group}) > 1
        ]
        for row, settings in group:
            row.varies = " ".join(f"{k}={fmt_num(settings.get(k), 3)}" for k in varying)
    return rows


def run_rows(catalog: Catalog, target_id: str) -> list[RunRow]:
    """Published runs of a target (sorted by folder), the runs a live process is
    computing, then its recorded failures; ``varies`` says what tells runs of one
    sampler apart."""
    record = catalog.target(target_id)
    rows = [_published_row(run) for run in record.runs()]
    running = record.computing()
    rows += [_running_row(catalog, target_id, name) for name in running]
    shown = {r.dirname for r in rows}
    fail_dir = record.path / FAILURES
    failed = {p.stem for p in fail_dir.glob(f"{RUN_GLOB}.json")} if fail_dir.is_dir() else set()
    stopped = [name for name in record.stopped() if name not in shown | failed]
    rows += [_stopped_row(catalog, target_id, name) for name in stopped]
    for name in sorted(failed - shown):
        path = fail_dir / f"{name}.json"
        failure = catalog.failure_for(target_id, name) or FailureRecord(path=path)
        rows.append(
            RunRow(target_id, name, FAILED, message=failure.text, path=path, failure=failure)
        )
    return mark_varying(rows)


def _running_row(catalog: Catalog, target_id: str, dirname: str) -> RunRow:
    """A run a live process computes: its saved progress, and an earlier attempt's
    failure when this is a retry (its spec then gives the settings)."""
    from lambda_hat.store.snapshots import describe, saved_progress

    point = saved_progress(catalog.layout.run_resume(target_id, dirname))
    failure = catalog.failure_for(target_id, dirname)
    parts = [f"progress saved at {describe(point['where'])}"] if point else []
    if failure is not None:
        parts.append(f"an earlier attempt failed: {failure.text}")
    return RunRow(target_id, dirname, RUNNING, message="; ".join(parts), failure=failure)


def _stopped_row(catalog: Catalog, target_id: str, dirname: str) -> RunRow:
    """A run stopped with its progress saved, which the next ``lambda-hat run`` resumes."""
    from lambda_hat.store.snapshots import describe, saved_progress

    point = saved_progress(catalog.layout.run_resume(target_id, dirname))
    where = f"progress saved at {describe(point['where'])}; " if point else ""
    return RunRow(target_id, dirname, STOPPED, message=f"{where}the next run resumes it")


def training_curve(catalog: Catalog, meta: TargetMeta | None) -> dict[str, list]:
    """{sampler: [(step, λ̂), ...]} over the checkpoints of ``meta``'s training run: its
    sibling targets in the store (a weight-restricted or data-refined run is a curve of
    its own, ``sgld layer1/head1/*``). Empty for a target that is not a checkpoint."""
    from lambda_hat.results import part_of

    mine = training_run(meta.spec) if meta else None
    if mine is None:
        return {}
    curve: dict[str, list[tuple[int, float]]] = {}
    for target in catalog.targets():
        if target.meta is None or training_run(target.meta.spec) != mine:
            continue
        for run in target.runs():
            mean = run.analysis.llc_mean if run.analysis else None
            if mean is not None:
                part = part_of(run.analysis)
                key = run.sampler + (f" {part}" if part else "")
                curve.setdefault(key, []).append((target.meta.step, float(mean)))
    return {sampler: sorted(points) for sampler, points in sorted(curve.items())}


def _published_row(run: RunRecord) -> RunRow:
    if run.analysis is None:
        return RunRow(run.target_id, run.dirname, BROKEN, message=run.error or "", path=run.path)
    warnings = run.analysis.warnings
    message = f"{len(warnings)} warning(s)" if warnings else ""
    return RunRow(run.target_id, run.dirname, OK, run.analysis, message, run.path)


def target_failures(catalog: Catalog) -> list[FailureRecord]:
    """Targets that failed to build (not present as folders)."""
    fail_dir = catalog.layout.failures_dir()
    out = []
    for path in sorted(fail_dir.glob("tgt_*.json")) if fail_dir.is_dir() else []:
        if catalog.has_target(path.stem):
            continue
        record = catalog.failure_for(path.stem) or FailureRecord(path=path)
        out.append(dataclasses.replace(record, target_id=record.target_id or path.stem))
    return out


# -- compare ---------------------------------------------------------------------------


ESTIMATE_COLUMNS = ("llc_mean", "llc_mcse", "llc_std", "true_llc", "relative_error", "ess", "rhat")


@dataclass
class CompareTable:
    """λ̂ of every (target, sampler) pair; several runs of a pair each get a cell."""

    samplers: list[str]
    targets: list[TargetRow]
    cells: dict[tuple[str, str], list[RunRow]]

    def rows(self) -> list[dict]:
        """Long form: one dict per run (what the CSV export writes): the result row of
        ``lambda_hat.results``, with the run's FGEs and number of warnings."""
        from lambda_hat.results import row as result_row

        out = []
        for t in self.targets:
            for s in self.samplers:
                for r in self.cells.get((t.target_id, s), []):
                    full = result_row(t.meta or TargetMeta(), r.analysis, r.dirname, r.path)
                    line = {"target_id": t.target_id, "model": t.model, "n": t.n, "p": t.p}
                    line.update(sampler=s, run=r.dirname)
                    line.update({k: full[k] for k in ESTIMATE_COLUMNS})
                    line.update(total_fges=r.analysis.total_fges, walltime_sec=full["walltime_sec"])
                    out.append({**line, "warnings": len(r.analysis.warnings)})
        return out

    def to_csv(self) -> str:
        rows = self.rows()
        buf = io.StringIO()
        fields = list(rows[0]) if rows else ["target_id", "sampler", "run", "llc_mean"]
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()


def compare_table(catalog: Catalog, targets: list[TargetRow]) -> CompareTable:
    cells: dict[tuple[str, str], list[RunRow]] = {}
    samplers: set[str] = set()
    for t in targets:
        for run in catalog.target(t.target_id).runs():
            row = _published_row(run)
            if row.status != OK:
                continue
            samplers.add(row.sampler)
            cells.setdefault((t.target_id, row.sampler), []).append(row)
    return CompareTable(sorted(samplers), targets, cells)


# -- trace and refresh -----------------------------------------------------------------


def running_llc(trace_path: Path, max_points: int = 400):
    """Running mean of λ̂ over kept draws, pooled over chains: (steps, means) arrays.

    Reads only ``posterior/llc`` of ``trace.nc`` (a NetCDF-4, i.e. HDF5, file) with h5py,
    which imports in a fraction of xarray's time; falls back to xarray without h5py.
    No ArviZ, no JAX. Returns None when the file is missing or has no ``llc`` variable.
    """
    import numpy as np

    if not Path(trace_path).is_file():
        return None
    try:
        import h5py
    except ImportError:
        h5py = None
    if h5py is not None:
        with h5py.File(trace_path, "r") as fh:
            group = fh.get("posterior")
            if group is None or "llc" not in group:
                return None
            llc = np.asarray(group["llc"][...], dtype=float)
    else:
        import xarray as xr

        with xr.open_dataset(trace_path, group="posterior") as ds:
            if "llc" not in ds:
                return None
            llc = np.asarray(ds["llc"].values, dtype=float)
    llc = llc.reshape(-1, llc.shape[-1])
    pooled = llc.mean(axis=0)
    steps = np.arange(1, pooled.size + 1)
    running = np.cumsum(pooled) / steps
    if running.size > max_points:
        idx = np.linspace(0, running.size - 1, max_points).round().astype(int)
        steps, running = steps[idx], running[idx]
    return steps, running


def store_signature(catalog: Catalog) -> tuple:
    """Cheap fingerprint of a store's folders: changes when a target, run or failure appears.

    Publishing renames a folder into its parent and failures are files in ``_failures``,
    so the modification times of these directories are enough (one stat each).
    """
    targets = catalog.layout.targets
    sig = []
    try:
        with os.scandir(targets) as entries:
            for entry in entries:
                if entry.name.startswith(("tgt_", FAILURES)) and entry.is_dir():
                    st = entry.stat()
                    sig.append((entry.name, st.st_mtime_ns))
                    sub = os.path.join(entry.path, FAILURES)
                    try:
                        sig.append((entry.name + "/f", os.stat(sub).st_mtime_ns))
                    except OSError:
                        pass
        sig.append(("", os.stat(targets).st_mtime_ns))
    except OSError:
        return ()
    return tuple(sorted(sig))


def human_path(path: Path) -> str:
    """A path relative to the working directory when inside it (shorter on screen)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
