"""λ̂ from Python, without a store: ``lh.estimate(apply, params, (X, Y), ...)``.

The same samplers, defaults and estimator as ``lambda-hat run`` (both go through
``lambda_hat.sampling.sample_llc``), so a store's run and a call here on the same w*,
data and seed give the same λ̂. ``lh.load_target`` rebuilds a stored target's w* as the
model's own pytree, for ``lh.estimate``; ``lh.results(root)`` reads a store's runs as a
DataFrame.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_hat.config.specs import SamplerSpec, check_budget, resolve_run
from lambda_hat.errors import ConfigError, LambdaHatError, StoreError, broken_artifact
from lambda_hat.fields import build
from lambda_hat.samplers.registry import SAMPLERS

WHERE = "lh.estimate"


class MissingDependencyError(LambdaHatError, ImportError):
    """A package a Python entry point needs is not installed; the message says which."""


@dataclass(frozen=True)
class LLCResult:
    """What ``estimate`` returns: λ̂ with its error bar and diagnostics.

    ``print(result)`` shows λ̂ ± MCSE, ESS, R-hat, the trust verdict and the warnings.
    """

    llc_mean: float
    llc_mcse: float | None
    llc_std: float
    ess: float | None
    rhat: float | None
    warnings: list[str]  # the sampler's warnings and the verdict's reasons, in words
    L0: float
    n_beta: float
    summary: dict  # every summary figure (drift, quarters, ...)
    stats: dict  # the sampler's own statistics (acceptance, step sizes, ...)
    llc: Any  # (chains, draws) numpy array of per-draw λ values
    spec: Any  # the RunSpec as run (every default filled in, SGLD's auto step and thin)
    trust: dict | None = None  # converged / not converged / step-size biased, with reasons
    budget: dict | None = None  # draws="auto": the verdict and every convergence check
    time_budget: dict | None = None  # max_time: the budget and what it ended early
    # how the sampler prepared (analysis.json's ``<sampler>_step``: SGLD's and SGHMC's
    # curvature, noise, automatic choices and the step's bias bound), or None
    prepared: dict | None = None
    L: Any = None  # (chains, draws) numpy array: each draw's loss; its λ is nβ (L − L0)
    positions: Any = None  # trace_params=True: (chains, draws, p) w, in ravel_pytree order
    params_draws: Any = None  # trace_params=True: params' pytree, leaves (chains, draws, ...)
    observed: dict | None = None  # observe=: name -> (chains, draws, rows[, T]) losses
    observed_at_w_star: dict | None = None  # observe=: name -> (rows[, T]) losses at w*
    _sample_stats: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def sgld_step(self) -> dict | None:
        """``prepared``'s former name (it holds any sampler's preparation record)."""
        return self.prepared

    def inference_data(self):
        """The trace as an ArviZ InferenceData, with the groups and names of a store's
        ``trace.nc``: ``posterior`` (``llc``, ``L``, and ``w`` over ``param`` with
        ``trace_params=True``) and ``sample_stats``."""
        import warnings

        with warnings.catch_warnings():  # arviz 0.23's daily notice of its 1.x refactor
            warnings.simplefilter("ignore", FutureWarning)
            import arviz as az

        posterior = {"llc": self.llc}
        if self.L is not None:
            posterior["L"] = self.L
        if self.positions is not None:
            posterior["w"] = self.positions
        return az.from_dict(
            posterior=posterior,
            sample_stats=dict(self._sample_stats) or None,
            dims={"w": ["param"]} if self.positions is not None else None,
        )

    def __str__(self) -> str:
        """λ̂ ± MCSE (to the MCSE's two digits), ESS, R-hat and the verdict with its
        reasons; then a line per warning, but the one the verdict's reasons made."""
        from lambda_hat.store.trust import verdict_text

        ess = "n/a" if self.ess is None else f"{self.ess:.0f}"
        rhat = "n/a" if self.rhat is None else f"{self.rhat:.3f}"
        line = f"λ̂ = {_estimate_text(self.llc_mean, self.llc_mcse)} (ESS {ess}, R-hat {rhat})"
        verdict = verdict_text(self.trust)
        said = f"{self.trust['verdict']}: " if verdict else None
        others = [w for w in self.warnings if not (said and w.startswith(said))]
        lines = [f"{line}: {verdict}" if verdict else line]
        return "\n".join([*lines, *(f"warning: {w}" for w in others)])

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        """IPython and Jupyter show the summary of ``print(result)``, not every field."""
        printer.text(str(self))


@dataclass(frozen=True)
class Target:
    """A stored target as Python objects (``load_target``):
    ``lh.estimate(t.apply, t.params, t.data, loss=t.loss)`` samples at its w*."""

    target_id: str
    apply: Callable  # apply(params, x) -> outputs (logits for cross_entropy)
    params: Any  # w* as the model's pytree, numpy leaves in the target's precision
    data: tuple  # (X, Y): the training rows, numpy arrays
    loss: Any  # "mse", "cross_entropy", or a custom loss(outputs, targets) function
    L0: float  # meta.json metrics.L0: the loss at w* on data
    meta: dict  # the target's meta.json


def estimate(
    apply,
    params,
    data,
    *,
    loss: str | Callable = "mse",
    sampler: str = "sgld",
    chains: int = 4,
    draws: int | str | None = None,
    max_draws: int | None = None,
    max_time: float | str | None = None,
    burnin: int | None = None,
    thin: int | str | None = None,
    seed: int = 0,
    inverse_temperature: float | None = None,
    localization: float = 1.0,
    precision: str | None = None,
    llc_trace: str | None = None,
    trace_params: bool = False,
    observe: dict | None = None,
    restrict: list[str] | tuple[str, ...] | None = None,
    progress: bool | Callable[[int, int], None] | None = True,
    **sampler_params,
) -> LLCResult:
    """λ̂ of ``apply`` at ``params`` (w*) on ``data = (X, Y)``.

    ``apply(params, x) -> outputs`` and ``params`` any pytree of float arrays, as for a
    ``kind = "python"`` model; ``loss``: ``"mse"`` (½‖y − f‖², Y real),
    ``"cross_entropy"`` (Y integer labels, outputs logits), or your own function
    ``loss(outputs, targets)`` giving each row's loss (rows,) or each position's (rows,
    T), whose mean is L_n. ``sampler`` and the keyword
    arguments are those of an experiments file's ``[[samplers]]`` entry (e.g.
    ``step_size=1e-5, batch_size=512`` for sgld); ``draws="auto"`` samples until
    converged or ``max_draws`` (the verdict is ``result.budget``); ``max_time``
    (seconds or ``"10m"``) bounds the call's wall time (``result.time_budget`` says what
    it cut). ``draws`` and
    ``thin`` left out take the sampler's defaults (sgld, sghmc: both ``"auto"``).
    ``trace_params=True`` also returns every kept draw's parameters
    (``result.params_draws``, ``result.positions``). ``observe={"name": (X, Y), ...}``
    records the loss of every row of those datasets at every kept draw
    (``result.observed["name"]``: (chains, draws, rows), or (chains, draws, rows, T) for
    labels per position: each token's loss), for ``bif`` and ``susceptibility``.
    ``restrict=["glob", ...]`` gives the weight-restricted LLC: only the leaves of
    ``params`` whose '/'-joined key path a glob matches (``"layers/1/*"``,
    ``"params/Dense_0/*"``) move, the rest stay at w*.

    ``precision`` (default: the sampler's, float32 for sgld and sghmc, float64 otherwise) is the
    precision of this call only: JAX's ``jax_enable_x64`` is set for its duration and
    the caller's setting is left as it was. ``progress``: True (default) shows a bar of
    the stage (SGLD's step pilot, warm-up and sampling) with its count and ETA, False or
    None nothing, and a function ``progress(done, total)`` hears the draws instead.
    """
    spec = _resolve(
        sampler,
        sampler_params,
        n=_rows(data),
        chains=chains,
        draws=draws,
        max_draws=max_draws,
        max_time=max_time,
        burnin=burnin,
        thin=thin,
        seed=seed,
        inverse_temperature=inverse_temperature,
        localization=localization,
        precision=precision,
        llc_trace=llc_trace,
        trace_params=trace_params,
        restrict=restrict,
    )
    from lambda_hat.sampling import sample_llc

    with _x64(spec.precision), _reporter(progress) as (on_draws, on_stage):
        posterior, unravel, restriction = _posterior(apply, params, data, loss, spec)
        probes = _observe(observe, apply, unravel, restriction, posterior, loss, spec)
        est = sample_llc(
            posterior, spec, on_draws, stage=on_stage, observe=probes, restriction=restriction
        )
        params_draws = _unravel_draws(est.result.positions, unravel)
    return _result(est, params_draws)


def _observe(observe: dict | None, apply, unravel, restriction, posterior, loss: str, spec):
    """((name, (x, y)), ...): each observed dataset checked against the model (at the
    full w*) and cast as the posterior's data are."""
    from lambda_hat.targets.arrays import cast, check_xy
    from lambda_hat.targets.checks import check_labels, check_model_fits

    if observe is not None and not isinstance(observe, dict):
        raise ConfigError(
            f"{WHERE}: observe must name its datasets, observe={{'probe': (X, Y)}}; got a "
            f"{type(observe).__name__}"
        )
    out = []
    for name, data in (observe or {}).items():
        where = f"{WHERE}: observe[{name!r}]"
        if not (isinstance(data, tuple | list) and len(data) == 2):
            raise ConfigError(f"{where}: must be a pair (X, Y)")
        check_labels(loss, check_xy(data[0], data[1], where).labels, where, "Y")
        x, y = cast(data[0], data[1], spec.precision)
        w_star = posterior.w_star if restriction is None else restriction.w_star
        check_model_fits(lambda w, xb: apply(unravel(w), xb), w_star, x, y, loss, where)
        out.append((str(name), (x, y)))
    return tuple(out)


def bif(result: LLCResult, a: str, b: str | None = None, normalized: bool = False):
    """The Bayesian influence between the rows of observed datasets ``a`` and ``b``
    (``b`` None: ``a`` with itself): −Cov(ℓ_i, ℓ_j) over the posterior's draws, or the
    correlation Corr(ℓ_i, ℓ_j) when ``normalized``; ``.value`` and ``.mcse`` are
    (rows of a, rows of b) arrays (``analysis/influence.py``)."""
    from lambda_hat.analysis.influence import bif as influence

    first = _observed(result, a)
    return influence(first, None if b is None else _observed(result, b), normalized)


def susceptibility(result: LLCResult, name: str, phi=None, full: LLCResult | None = None):
    """χ_z = −Cov(φ, ℓ_z − L) for every row z of the observed dataset ``name``: how the
    posterior mean of ``phi`` (a (chains, draws) array; default the loss L itself)
    responds as the data shift toward z. ``.value`` and ``.mcse`` are (rows,) arrays
    (rows × T, row-major, for a sequence dataset: one per token).

    ``full``: with ``result`` a weight-restricted run (``restrict``) of a component C,
    and ``full`` a run of the whole model observing the same rows, the per-component
    susceptibility E_C[g·(L − ℓ_z)] − E_C[g]·E_full[L − ℓ_z], g = L − L(w*): the
    response of φ_C, the loss change when only C moves, up to a factor of C alone
    (standardize each component's values over z before comparing components).

    L must be the exact loss of each draw: an SGLD trace of minibatch estimates
    (``llc_trace="minibatch"``, its default) carries their noise into L, which would
    bias χ by the noise's variance; such a result is refused."""
    from lambda_hat.analysis.influence import component_susceptibility
    from lambda_hat.analysis.influence import susceptibility as chi

    for run, which in ((result, "the run"), (full, "the full run")):
        if run is not None and run.spec.llc_trace != "full":
            raise ConfigError(
                f"lh.susceptibility: it needs each draw's exact loss, but {which} recorded "
                f"llc_trace = {run.spec.llc_trace!r} (minibatch estimates, whose noise "
                "would bias it); rerun with llc_trace='full' (llc_trace = 'full' in the "
                "experiments file)"
            )
    probe = _observed(result, name)
    if full is None:
        return chi(result.L if phi is None else phi, probe, result.L)
    other = _observed(full, name)
    _same_rows(result, full, name)
    shift = result.L[..., None] - probe
    return component_susceptibility(result.L - result.L0, shift, full.L[..., None] - other)


def _same_rows(result: LLCResult, full: LLCResult, name: str) -> None:
    """The two runs observed ``name`` on the same rows at the same w*: their losses at
    w* agree (a part of the model and the whole model give the same loss there)."""
    import numpy as np

    if not result.spec.restrict or full.spec.restrict:
        raise ConfigError(
            f"lh.susceptibility: a per-component susceptibility takes a run restricted to the "
            "component (restrict) and a full run (full=); got "
            f"restrict = {list(result.spec.restrict)} and full= {list(full.spec.restrict)}"
        )
    a = (result.observed_at_w_star or {}).get(name)
    b = (full.observed_at_w_star or {}).get(name)
    if a is None or b is None or a.shape != b.shape or not np.allclose(a, b, rtol=1e-5):
        raise ConfigError(
            f"lh.susceptibility: the two runs did not observe {name!r} on the same rows at "
            "the same w* (their losses at w* differ); observe one dataset in both runs of "
            "one target"
        )


def _observed(result: LLCResult, name: str):
    """(chains, draws, values): a sequence dataset's (rows, T) losses flattened row-major,
    so its entries are tokens (row i's position t is entry i·T + t)."""
    if not result.observed or name not in result.observed:
        have = ", ".join(result.observed or {}) or "none"
        raise ConfigError(
            f"no observed dataset {name!r} in this result (observed: {have}); pass "
            f"observe={{{name!r}: (X, Y)}} to lh.estimate"
        )
    losses = result.observed[name]
    return losses.reshape(*losses.shape[:2], -1)


def results(root="runs", experiment=None):
    """Every readable run of the store at ``root`` as a pandas DataFrame (one row each);
    a run that cannot be read is left out with a warning naming it (``lambda-hat verify``
    says more), and a ``root`` that is not a store is a StoreError."""
    try:
        import pandas  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "lh.results returns a pandas DataFrame, and pandas is not installed in this "
            "environment: `pip install pandas` (or `uv sync`, as pandas is a dependency "
            "of lambda-hat); lambda_hat.results.load(root) gives the same rows as dicts "
            "without it"
        ) from exc
    import warnings

    from lambda_hat.results import dataframe
    from lambda_hat.store.root import existing_store

    problems: list[str] = []
    frame = dataframe(existing_store(root, "pass root="), experiment, problems)
    for line in problems:
        warnings.warn(f"left out (unreadable): {line}", stacklevel=2)
    return frame


def load_target(target, root="runs") -> Target:
    """A stored target, for ``lh.estimate`` on its w* without writing an unravel.

    ``target``: a target ID or any unique prefix of it (``tgt_10bf``, ``10bf``) in the
    store at ``root``, or the target's folder. ``params`` is w* (``params.npz``) as the
    model's own pytree: the factory's structure for ``kind = "python"`` (built from the
    target's copy of the module), a built-in kind's own for ``mlp``, ``dln``, ...
    """
    from lambda_hat import runner
    from lambda_hat.targets.build import loss_of

    folder = _target_folder(target, root)
    meta, data, stored = runner.load_target(folder.parent.parent, folder.name)
    spec = runner.target_spec(meta, folder)
    with _x64(spec.precision):
        apply, params = _model_at(spec, stored["w_star"])
    return Target(
        target_id=folder.name,
        apply=apply,
        params=params,
        data=(data["X"], data["Y"]),
        loss=loss_of(spec.model),
        L0=float(meta.metrics.L0),
        meta=meta.to_json(),
    )


def load_run(run, root="runs") -> LLCResult:
    """A stored run as the ``LLCResult`` ``estimate`` returns: its λ̂ and verdict from
    analysis.json, its traces (``llc``, ``L``, ``positions``, sample statistics) and
    observed losses from trace.nc, so ``lh.bif`` and ``lh.susceptibility`` read a run
    of ``lambda-hat run`` as they read a call's result.

    ``run``: a run's folder, its folder name (``run_hmc_9552613f``) or any unique
    prefix of its ID in the store at ``root``."""
    from lambda_hat.analysis.inference_data import AT_W_STAR, read_arrays
    from lambda_hat.config.specs import run_from_dict
    from lambda_hat.store.jsonio import read_json
    from lambda_hat.store.layout import ANALYSIS, TRACE
    from lambda_hat.store.records import RunAnalysis

    folder = _run_folder(run, root)
    try:
        record = RunAnalysis.from_json(read_json(folder / ANALYSIS), folder.name)
        float(record.llc_mean), float(record.L0), float(record.n_beta)  # numbers, or broken
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise broken_artifact(folder / ANALYSIS, exc) from None
    groups = read_arrays(folder / TRACE)
    posterior, stats = groups.get("posterior", {}), groups.get("sample_stats", {})
    verdict = record.trust.to_json() if record.trust else None
    summary = {k: getattr(record, k) for k in _SUMMARY}
    return LLCResult(
        **{k: summary[k] for k in ("llc_mean", "llc_mcse", "llc_std", "ess", "rhat")},
        warnings=_with_verdict(list(record.warnings), verdict) if verdict else record.warnings,
        L0=record.L0,
        n_beta=record.n_beta,
        summary=summary,
        stats=dict(record.stats),
        llc=posterior["llc"],
        spec=run_from_dict(record.sampler_config, f"{folder / ANALYSIS}: sampler_config"),
        trust=verdict,
        budget=record.budget.to_json() if record.budget else None,
        time_budget=record.time_budget,
        prepared=record.extra.get(f"{record.sampler}_step"),
        L=posterior.get("L"),
        positions=posterior.get("w"),
        observed=groups.get("observed") or None,
        observed_at_w_star=groups.get(AT_W_STAR) or None,
        _sample_stats=stats,
    )


_SUMMARY = ("llc_mean", "llc_mcse", "llc_std", "ess", "rhat", "drift_z", "llc_per_chain")


def _run_folder(run, root) -> Path:
    """The folder of ``run``: given as a run folder, or a name or ID prefix in ``root``."""
    from lambda_hat.store.layout import ANALYSIS

    return _stored_folder(run, root, ANALYSIS, "run")


def _target_folder(target, root) -> Path:
    """The folder of ``target``: given as a target folder, or an ID prefix in ``root``."""
    from lambda_hat.store.layout import META

    return _stored_folder(target, root, META, "target")


def _stored_folder(ref, root, marker: str, kind: str) -> Path:
    """The folder of a ``kind`` ("run" or "target"): ``ref`` is one (it holds
    ``marker``), or a name or unique ID prefix in the store at ``root``."""
    if not isinstance(ref, str | os.PathLike):
        raise ConfigError(f"a {kind} is named by its ID (a string) or its folder, got {ref!r}")
    if (Path(ref) / marker).is_file():
        return Path(ref)
    from lambda_hat.store.catalog import Catalog
    from lambda_hat.store.root import existing_store

    catalog = Catalog(existing_store(root, "pass root="))
    name = catalog.resolve_prefix(str(ref))
    is_target = name.startswith("tgt_")
    if is_target != (kind == "target"):
        other = "target" if is_target else "run"
        listing = "results" if kind == "run" else "status"
        raise StoreError(
            f"{ref!r} names the {other} {name}, not a {kind}; give a {kind}'s ID "
            f"(`lambda-hat {listing}` lists them) or the {kind}'s folder"
        )
    if is_target:
        return catalog.layout.target_dir(name)
    for tid in catalog.target_ids():
        if (folder := catalog.layout.run_dir(tid, name)).is_dir():
            return folder
    raise StoreError(f"run {name} has no folder in {root}")


def _model_at(spec, w_star):
    """(apply, params): the target's model and its flat ``w_star`` as the model's pytree
    (numpy leaves), laid out as every run of the target reads it (``flat_model``)."""
    import jax
    import numpy as np

    from lambda_hat.targets.build import dtype_of, flat_model
    from lambda_hat.targets.registry import model_of

    dtype = dtype_of(spec.precision)
    model = model_of(spec.model).build(spec.model, dtype)
    _, unravel, _ = flat_model(model, dtype)
    tree = unravel(jax.numpy.asarray(np.asarray(w_star, np.dtype(spec.precision))))
    return model.apply, jax.tree_util.tree_map(np.asarray, tree)


def _rows(data) -> int:
    import numpy as np

    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise ConfigError(f"{WHERE}: data must be a pair (X, Y)")
    shape = np.shape(data[0])
    if not shape or shape[0] < 2:
        raise ConfigError(f"{WHERE}: X has {shape[0] if shape else 0} rows; give at least 2")
    return int(shape[0])


def _resolve(sampler: str, sampler_params: dict, n: int, **common):
    """The run spec of this call: the same checks and defaults as a ``[[samplers]]``
    entry (its sampler's definition, lambda_hat/samplers)."""
    if sampler not in SAMPLERS:
        raise ConfigError(
            f"{WHERE}: unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}"
        )
    params = build(SAMPLERS[sampler].params, sampler_params, WHERE)
    given = {k: v for k, v in common.items() if v is not None}
    entry = build(SamplerSpec, given, WHERE, name=sampler, params=params)
    check_budget(entry, WHERE)
    return resolve_run(entry, "python", n, where=WHERE, target="the data")


def _posterior(apply, params, data, loss: str, spec):
    """The run's posterior, and the ``unravel`` of its flat w back to ``params``' pytree."""
    import numpy as np
    from jax.flatten_util import ravel_pytree

    from lambda_hat.sampling import posterior_of
    from lambda_hat.targets.arrays import check_xy
    from lambda_hat.targets.checks import check_labels, check_model_fits
    from lambda_hat.targets.kind import LOSSES

    if not callable(loss) and loss not in LOSSES:
        raise ConfigError(
            f"{WHERE}: loss must be one of {', '.join(LOSSES)} or a function "
            f"loss(outputs, targets) giving each row's (or position's) loss, got {loss!r}"
        )
    check_labels(loss, check_xy(data[0], data[1], WHERE).labels, WHERE, "Y")
    w_star, unravel = ravel_pytree(_float_leaves(params, np.dtype(spec.precision)))

    def apply_flat(w, xb):
        return apply(unravel(w), xb)

    restriction = _restriction(params, spec, np.asarray(w_star))
    keep = None if restriction is None else restriction.indices
    posterior = posterior_of(apply_flat, loss, data[0], data[1], w_star, spec, keep)
    x, y = posterior.data
    check_model_fits(apply_flat, w_star, x, y, loss, WHERE)
    return posterior, unravel, restriction


def _float_leaves(params, dtype):
    """``params`` with each leaf an array of ``dtype``; a ConfigError naming the leaf
    that is not numbers, or when there are none, or when one is not finite."""
    import jax
    import numpy as np

    leaves = jax.tree_util.tree_leaves_with_path(params)
    if not leaves:
        raise ConfigError(f"{WHERE}: params has no arrays (got {params!r}); give w* as a pytree")
    out = []
    for path, leaf in leaves:
        name = jax.tree_util.keystr(path)  # "" for params that are one leaf
        try:
            array = np.asarray(leaf, dtype)
        except (TypeError, ValueError):
            raise ConfigError(f"{WHERE}: params{name} is not numbers: {leaf!r}") from None
        if not np.all(np.isfinite(array)):
            raise ConfigError(f"{WHERE}: params{name} holds NaN or inf; w* must be finite")
        out.append(array)
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params), out)


def _restriction(params, spec, w_star):
    """``restrict=``: the flat coordinates its globs select over ``params``' key paths
    ('/'-joined), with the full w*; None without it."""
    if not spec.restrict:
        return None
    import jax
    import numpy as np

    from lambda_hat.sampling import Restriction
    from lambda_hat.targets.build import named_leaves

    leaves = named_leaves(jax.tree_util.tree_map(np.asarray, params))
    return Restriction.of(leaves, spec.restrict, w_star, WHERE)


def _x64(precision: str):
    """A context in which JAX computes in ``precision`` (float64: ``jax_enable_x64`` on);
    the process's setting is the caller's again when it ends."""
    import jax

    on = precision == "float64"
    if hasattr(jax, "enable_x64"):  # the config's own context manager, jax >= 0.8
        return jax.enable_x64(on)
    from jax.experimental import enable_x64

    return enable_x64(on)


def _unravel_draws(positions, unravel):
    """(chains, draws, p) flat draws as the params pytree with leading (chains, draws)
    axes (numpy), or None when no draws were kept."""
    if positions is None:
        return None
    import jax
    import numpy as np

    chains, draws, p = positions.shape
    trees = jax.vmap(unravel)(jax.numpy.asarray(positions.reshape(chains * draws, p)))
    return jax.tree_util.tree_map(
        lambda a: np.asarray(a).reshape(chains, draws, *a.shape[1:]), trees
    )


def _result(est, params_draws) -> LLCResult:
    """The LLCResult of a ``sample_llc`` estimate, the verdict's reasons in its warnings."""
    import numpy as np

    s = est.summary
    verdict = est.trust
    return LLCResult(
        llc_mean=s["llc_mean"],
        llc_mcse=s["llc_mcse"],
        llc_std=s["llc_std"],
        ess=s["ess"],
        rhat=s["rhat"],
        warnings=_with_verdict(est.warnings, verdict),
        L0=est.L0,
        n_beta=est.n_beta,
        summary=s,
        stats=dict(est.result.stats),
        llc=est.llc,
        spec=est.spec,
        trust=verdict,
        budget=est.budget,
        time_budget=est.time_budget,
        prepared=est.prepared,
        L=np.asarray(est.result.loss),
        positions=est.result.positions,
        params_draws=params_draws,
        observed=est.result.observed,
        observed_at_w_star=est.observed_at_w_star,
        _sample_stats=dict(est.result.sample_stats),
    )


# A verdict's reason is about one check; a warning about the same check names it so.
_CHECKS = ("R-hat", "ESS", "drift", "bias")


def _with_verdict(warnings: list[str], verdict: dict) -> list[str]:
    """``warnings`` and, where the run is not ``converged``, one more with the verdict's
    reasons that none of them gives already: the verdict is stricter (R-hat over 1.01,
    ESS under 400, a drift over 2 MCSE) than the summary's warnings (1.05, 100, 4 MCSE),
    so a run can be ``not converged`` with no warning of its own."""
    if not verdict["reasons"]:
        return list(warnings)

    def told(reason: str) -> bool:
        check = next((c for c in _CHECKS if c in reason), reason)
        return any(check in w for w in warnings)

    new = [r for r in verdict["reasons"] if not told(r)]
    if not new:
        return list(warnings)
    return [
        *warnings,
        f"{verdict['verdict']}: {'; '.join(new)}; the error bar may understate λ̂'s error: "
        "run more draws (draws='auto' samples until converged) or more chains.",
    ]


def _estimate_text(mean: float, mcse: float | None) -> str:
    """λ̂ ± MCSE with the MCSE to two significant digits and λ̂ to the same decimal."""
    if mcse is None or not math.isfinite(mcse) or mcse <= 0:
        return f"{mean:.4g}"
    decimals = max(0, 1 - math.floor(math.log10(mcse)))
    return f"{mean:.{decimals}f} ± {mcse:.{decimals}f}"


class _Bar:
    """The progress bar of ``estimate``: one line naming the stage (SGLD's step pilot,
    warm-up and sampling) with its elapsed time and, where the stage counts, the count
    done of its total (sampling: draws, burn-in included) and the ETA. rich renders it
    in a terminal and, with ipywidgets installed, in Jupyter; on a file it prints its
    last state once."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task("preparing", total=None, count="")

    def stage(self, text: str) -> None:
        """A new stage: a fresh line (its own elapsed time and ETA) replaces the last."""
        self._progress.update(self._task, visible=False)
        self._task = self._progress.add_task(text, total=None, count="")

    def count(self, done: int, total: int) -> None:
        """``progress(done, total)`` of the stage (its text says what is counted)."""
        self._progress.update(self._task, completed=done, total=total, count=f"{done:,}/{total:,}")

    def __enter__(self):
        self._progress.start()
        return self.count, self.stage

    def __exit__(self, *exc) -> None:
        self._progress.stop()


def _reporter(progress):
    """The context that reports ``estimate``'s progress as ``progress`` asks (see there)."""
    if progress is True:
        return _Bar()
    if progress is None or progress is False:
        return contextlib.nullcontext((None, None))
    if callable(progress):  # the caller's own (draws only: a stage would say what it counts)
        _takes_two(progress)
        return contextlib.nullcontext((progress, None))
    raise ConfigError(
        f"{WHERE}: progress must be True (a bar), False (none) or a function "
        f"progress(done, total), got {progress!r}"
    )


def _takes_two(progress) -> None:
    """A ``progress`` function is called as progress(done, total): said now, not after
    the compilation, where calling it would first fail."""
    import inspect

    try:
        signature = inspect.signature(progress)
    except (TypeError, ValueError):  # no signature to read (a builtin): it says when called
        return
    try:
        signature.bind(0, 0)
    except TypeError:
        raise ConfigError(
            f"{WHERE}: progress is called as progress(done, total); {progress!r} does not "
            "take two arguments"
        ) from None
