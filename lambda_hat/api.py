"""λ̂ from Python, without a store: ``lh.estimate(apply, params, (X, Y), ...)``.

The same samplers, defaults and estimator as ``lambda-hat run`` (both go through
``lambda_hat.sampling.sample_llc``), so a store's run and a call here on the same w*,
data and seed give the same λ̂. ``lh.results(root)`` reads a store's runs as a DataFrame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from lambda_hat.config.fields import build
from lambda_hat.config.specs import SAMPLER_PARAMS, SamplerSpec, check_budget, resolve_run
from lambda_hat.errors import ConfigError

WHERE = "lh.estimate"


@dataclass(frozen=True)
class LLCResult:
    """What ``estimate`` returns: λ̂ with its error bar and diagnostics."""

    llc_mean: float
    llc_mcse: float | None
    llc_std: float
    ess: float | None
    rhat: float | None
    warnings: list[str]
    L0: float
    n_beta: float
    summary: dict  # every summary figure (drift, quarters, ...)
    stats: dict  # the sampler's own statistics (acceptance, step sizes, ...)
    llc: Any  # (chains, draws) numpy array of per-draw λ values
    spec: Any  # the RunSpec as run (every default filled in, SGLD's auto step and thin)
    trust: dict | None = None  # converged / not converged / step-size biased, with reasons
    budget: dict | None = None  # draws="auto": the verdict and every convergence check
    sgld_step: dict | None = None  # sgld: the curvature, the step's bias bound, auto choices
    _sample_stats: dict = dataclasses.field(default_factory=dict, repr=False)

    def inference_data(self):
        """The trace as an ArviZ InferenceData (``posterior.llc``, ``sample_stats``)."""
        import arviz as az

        stats = {k: v for k, v in self._sample_stats.items()}
        return az.from_dict(posterior={"llc": self.llc}, sample_stats=stats or None)

    def __str__(self) -> str:
        mcse = f" ± {self.llc_mcse:.3g}" if self.llc_mcse is not None else ""
        return f"λ̂ = {self.llc_mean:.4g}{mcse} (ESS {self.ess}, R-hat {self.rhat})"


def estimate(
    apply,
    params,
    data,
    *,
    loss: str = "mse",
    sampler: str = "sgld",
    chains: int = 4,
    draws: int | str | None = None,
    max_draws: int | None = None,
    burnin: int | None = None,
    thin: int | str | None = None,
    seed: int = 0,
    inverse_temperature: float | None = None,
    localization: float = 1.0,
    precision: str | None = None,
    llc_trace: str | None = None,
    progress=None,
    **sampler_params,
) -> LLCResult:
    """λ̂ of ``apply`` at ``params`` (w*) on ``data = (X, Y)``.

    ``apply(params, x) -> outputs`` and ``params`` any pytree of float arrays, as for a
    ``kind = "python"`` model; ``loss``: ``"mse"`` (½‖y − f‖², Y real) or
    ``"cross_entropy"`` (Y integer labels, outputs logits). ``sampler`` and the keyword
    arguments are those of an experiments file's ``[[samplers]]`` entry (e.g.
    ``step_size=1e-5, batch_size=512`` for sgld); ``draws="auto"`` samples until
    converged or ``max_draws`` (the verdict is ``result.budget``). ``draws`` and
    ``thin`` left out take the sampler's defaults (sgld: both ``"auto"``). ``precision``
    (default: the sampler's, float32 for sgld, float64 otherwise) sets
    ``jax_enable_x64`` for this process.
    """
    spec = _resolve(
        sampler,
        sampler_params,
        n=_rows(data),
        chains=chains,
        draws=draws,
        max_draws=max_draws,
        burnin=burnin,
        thin=thin,
        seed=seed,
        inverse_temperature=inverse_temperature,
        localization=localization,
        precision=precision,
        llc_trace=llc_trace,
    )
    from lambda_hat.runner import set_precision

    set_precision(spec.precision)
    posterior = _posterior(apply, params, data, loss, spec)
    from lambda_hat.analysis.budget import trust
    from lambda_hat.sampling import sample_llc

    est = sample_llc(posterior, spec, progress)
    s = est.summary
    return LLCResult(
        llc_mean=s["llc_mean"],
        llc_mcse=s["llc_mcse"],
        llc_std=s["llc_std"],
        ess=s["ess"],
        rhat=s["rhat"],
        warnings=est.warnings,
        L0=est.L0,
        n_beta=est.n_beta,
        summary=s,
        stats=dict(est.result.stats),
        llc=est.llc,
        spec=est.spec,
        trust=trust(s, est.sgld_step),
        budget=est.budget,
        sgld_step=est.sgld_step,
        _sample_stats=dict(est.result.sample_stats),
    )


def results(root="runs", experiment=None):
    """Every readable run of the store at ``root`` as a pandas DataFrame (one row each)."""
    from lambda_hat.results import dataframe

    return dataframe(root, experiment)


def _rows(data) -> int:
    import numpy as np

    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise ConfigError(f"{WHERE}: data must be a pair (X, Y)")
    return int(np.shape(data[0])[0])


def _resolve(sampler: str, sampler_params: dict, n: int, **common):
    if sampler not in SAMPLER_PARAMS:
        raise ConfigError(
            f"{WHERE}: unknown sampler {sampler!r}; choose one of {', '.join(SAMPLER_PARAMS)}"
        )
    params = build(SAMPLER_PARAMS[sampler], sampler_params, WHERE)
    given = {k: v for k, v in common.items() if v is not None}
    entry = build(SamplerSpec, given, WHERE, name=sampler, params=params)
    if entry.llc_trace == "minibatch" and sampler != "sgld":
        raise ConfigError(f"{WHERE}: llc_trace='minibatch' is for sgld only")
    check_budget(entry, WHERE)
    return resolve_run(entry, "python", n)


def _posterior(apply, params, data, loss: str, spec):
    import jax
    import numpy as np
    from jax.flatten_util import ravel_pytree

    from lambda_hat.sampling import posterior_of
    from lambda_hat.targets.arrays import check_xy
    from lambda_hat.targets.checks import check_labels, check_model_fits
    from lambda_hat.targets.kind import LOSSES

    if loss not in LOSSES:
        raise ConfigError(f"{WHERE}: loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    check_labels(loss, check_xy(data[0], data[1], WHERE).labels, WHERE, "Y")
    host = np.dtype(spec.precision)  # "float32" | "float64"
    w_star, unravel = ravel_pytree(jax.tree_util.tree_map(lambda a: np.asarray(a, host), params))

    def apply_flat(w, xb):
        return apply(unravel(w), xb)

    posterior = posterior_of(apply_flat, loss, data[0], data[1], w_star, spec)
    x, y = posterior.data
    check_model_fits(apply_flat, posterior.w_star, x, y, loss, WHERE)
    return posterior
