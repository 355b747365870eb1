"""Build a target and publish it: data, w* (trained or given) and its meta.json.

Called inside worker processes (and by ``lh.estimate``'s loaders through
``load_target``/``target_spec``). A build publishes atomically under the target's lock,
appends its manifest line, and records a failure (never a partial target) when anything
goes wrong.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from lambda_hat.config.experiment import training_checkpoints
from lambda_hat.config.specs import TargetSpec, target_from_dict, to_dict
from lambda_hat.errors import SamplerDivergedError, StoreError, StoreFullError, broken_artifact
from lambda_hat.provenance import code_sha, compute, imported_versions, pkg_versions
from lambda_hat.runner.common import Published, recordable, set_precision, training_lock
from lambda_hat.store import failures, manifest, npz
from lambda_hat.store.ids import SCHEMA_VERSION, target_id
from lambda_hat.store.jsonio import read_json, write_json
from lambda_hat.store.layout import DATA, META, PARAMS, Layout
from lambda_hat.store.publish import publish
from lambda_hat.store.records import Dims, Metrics, TargetMeta
from lambda_hat.targets.registry import model_of
from lambda_hat.targets.seeds import seed_uses


def true_llc(spec: TargetSpec) -> Fraction | None:
    """λ where it is known: in closed form (DLNs, models with no hidden layer on their own
    teacher's data) or given by the user (a python model's ``true_llc``)."""
    return model_of(spec.model).true_llc(spec.model, spec.data)


def build_target(spec: TargetSpec, root: Path, names: dict | None = None) -> Published:
    """Build and publish a target unless it exists.

    A checkpoint of a training run (``training.at_step``) is built with its siblings
    (``training.checkpoints``): one training, under a lock of the run, publishes every
    checkpoint that is missing, so another worker asking for a sibling waits and finds
    it built.
    """
    layout = Layout(root)
    tid = target_id(spec)
    final = layout.target_dir(tid)
    if final.is_dir():
        return Published(tid, final, False)
    if spec.training.at_step is None:
        meta = _publish_target(spec, tid, layout, names or {}, lambda: _arrays({None: spec})[None])
        return Published(tid, final, meta is not None, meta)
    with training_lock(spec, root):
        if final.is_dir():
            return Published(tid, final, False)
        return _publish_training(spec, tid, layout, names or {})


def _publish_training(spec: TargetSpec, tid: str, layout: Layout, names: dict) -> Published:
    """Train once and publish every missing checkpoint of ``spec``'s training run; the
    Published of ``tid``'s, with the siblings published beside it."""
    siblings = training_checkpoints(spec)
    missing = {k: s for k, s in siblings.items() if not layout.target_dir(target_id(s)).is_dir()}
    trained = functools.cache(lambda: _arrays(missing))  # trained once, when first needed
    mine, others = None, []
    for step, sibling in missing.items():
        sid = target_id(sibling)
        try:
            meta = _publish_target(sibling, sid, layout, names, lambda s=step: trained()[s])
        except StoreFullError:
            raise  # the next sibling would fail the same way
        except Exception:
            if sid == tid:
                raise
            continue
        if sid == tid:
            mine = meta
        elif meta is not None:
            others.append(sid)
    return Published(tid, layout.target_dir(tid), mine is not None, mine, tuple(others))


def _arrays(specs: dict) -> dict:
    """{stop: TargetArrays} of one training run (``specs``: {stop: its target's spec})."""
    first = next(iter(specs.values()))
    set_precision(first.precision)
    from lambda_hat.targets.build import build_checkpoints

    return build_checkpoints(specs)


def _publish_target(spec, tid: str, layout: Layout, names: dict, arrays) -> TargetMeta | None:
    """Publish target ``tid`` from ``arrays()``; its meta, or None when it was published
    meanwhile; record a failure (never a partial target)."""
    final = layout.target_dir(tid)
    written: list[TargetMeta] = []
    try:
        built = publish(
            final, lambda tmp: written.append(_write_target(tmp, spec, tid, names, arrays))
        )
    except BaseException as exc:
        if recordable(exc):
            failures.record(layout.target_failure(tid), exc, to_dict(spec), target_id=tid)
        raise
    if built:
        manifest.record(
            layout.catalog,
            manifest.catalog_entry(written[0]),
            "target_id",
            lambda e: layout.target_dir(e["target_id"]).is_dir(),
        )
    failures.clear(layout.target_failure(tid))
    return written[0] if built else None


def _write_target(tmp: Path, spec: TargetSpec, tid: str, names: dict, arrays_fn) -> TargetMeta:
    """Build the target's arrays and write its files into ``tmp``; its meta."""
    start = time.time()
    arrays = arrays_fn()
    if not math.isfinite(arrays.L0) or not np.all(np.isfinite(np.asarray(arrays.w_star))):
        raise SamplerDivergedError(
            f"training of target {tid} diverged (L0 = {arrays.L0}); lower "
            "training.learning_rate or use more steps"
        )
    data = {"X": np.asarray(arrays.x), "Y": np.asarray(arrays.y)}
    if arrays.x_test is not None:
        data.update(X_test=np.asarray(arrays.x_test), Y_test=np.asarray(arrays.y_test))
    npz.save(tmp / DATA, **data)
    params = {"w_star": np.asarray(arrays.w_star), "train_loss": np.asarray(arrays.loss_history)}
    if arrays.teacher is not None:
        params["teacher"] = np.asarray(arrays.teacher)
    npz.save(tmp / PARAMS, **params)
    model_of(spec.model).save_files(spec.model, tmp)
    meta = _meta(spec, tid, names, arrays, start)
    write_json(tmp / META, meta.to_json())
    return meta


def _meta(spec: TargetSpec, tid: str, names: dict, arrays, start: float) -> TargetMeta:
    """meta.json of a target built from ``arrays`` (its build started at ``start``)."""
    from lambda_hat.numerics.loss import describe_loss

    truth = true_llc(spec)
    model_cfg = to_dict(spec.model)
    if hasattr(spec.model, "depth"):
        model_cfg["depth"] = spec.model.depth
    x, history = np.asarray(arrays.x), np.asarray(arrays.loss_history)
    n_test = np.asarray(arrays.x_test).shape[0] if arrays.x_test is not None else None
    return TargetMeta(
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
        loss=describe_loss(spec.model.loss),
        loss_name=spec.model.loss,
        true_llc=float(truth) if truth is not None else None,
        true_llc_exact=str(truth) if truth is not None else None,
        spec=to_dict(spec),
        extra={"jax_enable_x64": spec.precision == "float64", "seed_uses": seed_uses(spec)},
    )


def _user_files(spec: TargetSpec) -> list[str]:
    """The module files of the user's code a target is built from (python kinds)."""
    return [
        p
        for p in (getattr(spec.model, "source_path", ""), getattr(spec.data, "source_path", ""))
        if p
    ]


def target_spec(meta: TargetMeta, folder: Path) -> TargetSpec:
    """The spec of a published target as its runs read it (a python model's module from
    the target's own copy: its kind's ``from_folder``)."""
    spec = target_from_dict(meta.spec, f"{folder / META}: spec")
    model = model_of(spec.model).from_folder(spec.model, folder)
    return dataclasses.replace(spec, model=model)


def load_target(root: Path, tid: str) -> tuple[TargetMeta, dict, dict]:
    """(meta, data, params) of a published target."""
    folder = Layout(root).target_dir(tid)
    if not folder.is_dir():
        raise StoreError(f"target {tid} is not in the store {root}; build it first")
    try:
        meta = TargetMeta.from_json(read_json(folder / META), tid)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise broken_artifact(folder / META, exc) from exc
    return meta, npz.load(folder / DATA), npz.load(folder / PARAMS)
