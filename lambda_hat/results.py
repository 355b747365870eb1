"""One row per published run, for tables and scripts (no JAX; pandas only on request).

>>> import lambda_hat.results as results
>>> rows = results.load("runs")                          # list of dicts
>>> df = results.dataframe("runs", experiment="experiments/quickstart.toml")
>>> df.groupby(["sampler", "n_data"])["llc_mean"].describe()

Columns follow the seed's aggregation example (target_id, model, n_data, target_params,
L0, seed, sampler, llc_mean, llc_std, ess, rhat, walltime_sec), then llc_mcse, true_llc,
relative_error ((llc_mean - true_llc) / true_llc where λ is known in closed form: for
a weight-restricted run, that of the part it moved), part (a weight-restricted run's
``restrict`` patterns, a data-refined run's ``data=table``), observed (the tables whose
per-row losses it recorded: ``lambda-hat influence``),
trust (``converged``, ``not converged``: R-hat, ESS and drift, or ``step-size
biased``: an SGLD step over its bias bound, see ``analysis/budget.py``), seed_spread
and seeds (the std of λ̂ between the runs of a swept sampler ``seed`` that differ in
nothing else, and how many: compare it with llc_mcse), and where to find the run
(run_id, run, path). ``model`` is the preset name of the experiments file (its
``kind`` when the target was built without one). With an experiments file that sweeps,
each row also has the swept keys as columns (``samplers.step_size``, ``data.n_data``,
...: see ``config/sweeps.py``). Rows come in ``order``: by target (presets, seed, swept
values, training run), then checkpoint ``step``, sampler and run, so one training's
checkpoints read in step order.
"""

from __future__ import annotations

from pathlib import Path

from lambda_hat.store.catalog import Catalog
from lambda_hat.store.records import RunAnalysis, TargetMeta

COLUMNS = (
    "target_id",
    "model",
    "n_data",
    "target_params",
    "L0",
    "seed",
    "sampler",
    "llc_mean",
    "llc_std",
    "ess",
    "rhat",
    "walltime_sec",
    "llc_mcse",
    "true_llc",
    "relative_error",
    "trust",
    "seed_spread",
    "seeds",
    "step",
    "part",
    "observed",
    "test_loss",
    "run_id",
    "run",
    "path",
)


def experiment_runs(experiment: str | Path, root: str | Path | None = None) -> dict:
    """{(target_id, run folder name): its sweep point} of the runs a file asks for."""
    from lambda_hat.config import load as load_experiment
    from lambda_hat.scheduler.plan import make_plan

    plan = make_plan(load_experiment(experiment, root), root)
    return {(r.target_id, r.dirname): r.swept for r in plan.runs}


def swept_columns(rows: list[dict]) -> list[str]:
    """The swept keys the rows carry, in the order they first appear."""
    return list(dict.fromkeys(k for r in rows for k in r if k not in COLUMNS))


def _siblings(rows: list[dict], key: str) -> dict[tuple, list[dict]]:
    """Rows that swept ``key`` and differ in nothing else swept, by (target, sampler)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if key in r and r["llc_mean"] is not None:
            others = tuple((k, repr(v)) for k, v in r.items() if k not in COLUMNS and k != key)
            groups.setdefault((r["target_id"], r["sampler"], others), []).append(r)
    return groups


def row(meta: TargetMeta, analysis: RunAnalysis, run_dirname: str, path: Path) -> dict:
    """The result row of one run from its target's meta.json and its analysis.json: the
    one row builder (``lambda-hat results``, the TUI's compare table and CSV, ``tune``)."""
    part = part_of(analysis)  # a weight-restricted or data-refined run: its own λ, if known
    truth = analysis.true_llc if analysis.true_llc is not None or part else meta.true_llc
    rel = analysis.relative_error
    if rel is None and truth and analysis.llc_mean is not None:
        rel = (analysis.llc_mean - truth) / truth
    return {
        "target_id": meta.target_id,
        "model": meta.model,
        "n_data": meta.n,
        "target_params": meta.dims.p,
        "L0": meta.metrics.L0,
        "seed": meta.seed,
        "sampler": analysis.sampler or "?",
        "llc_mean": analysis.llc_mean,
        "llc_std": analysis.llc_std,
        "ess": analysis.ess,
        "rhat": analysis.rhat,
        "walltime_sec": analysis.walltime_sec,
        "llc_mcse": analysis.llc_mcse,
        "true_llc": truth,
        "relative_error": rel,
        "trust": analysis.verdict,
        "seed_spread": None,
        "seeds": None,
        "step": meta.step,
        "part": part,
        "observed": ", ".join(analysis.sampler_config.get("observe") or {}) or None,
        "test_loss": meta.metrics.test_loss,
        "run_id": analysis.run_id or "?",
        "run": run_dirname,
        "path": str(path),
    }


def part_of(analysis: RunAnalysis) -> str | None:
    """What of the model and data a run's λ̂ is of, when not all of both: ``layer2/W``
    (its ``restrict``), ``data=probe`` (the table a data-refined run sampled), the prior
    alone (nβ = 0), or None."""
    parts = []
    if analysis.restricted:
        parts.append(", ".join(analysis.restricted["restrict"]))
    if analysis.refined:
        parts.append(f"data={analysis.refined['data']}")
    if analysis.n_beta == 0:
        parts.append("prior alone (nβ = 0)")
    return " · ".join(parts) or None


SEED = "samplers.seed"


def seed_spread(rows: list[dict]) -> None:
    """Fill ``seed_spread`` (the std of λ̂ between seeds) and ``seeds`` (how many) for
    rows that differ only in a swept sampler ``seed``: the spread an MCSE should match."""
    import statistics

    for group in _siblings(rows, SEED).values():
        means = [r["llc_mean"] for r in group]
        if len(means) < 2:
            continue
        spread = statistics.stdev(means)
        for r in group:
            r["seed_spread"], r["seeds"] = spread, len(means)


BETA = "samplers.inverse_temperature"


def ladders(rows: list[dict]) -> list[dict]:
    """β-ladder fits (``analysis/ladder.py``) of the rows that differ only in a swept
    ``inverse_temperature`` with three values or more: one dict per group, with
    ``target_id``, ``sampler``, ``point`` (the other swept values) and the fit. Rows at
    nβ ≤ 1 (a β = 0 control, say) have no place on the fit's 1/log nβ axis and are left
    out of it."""
    from lambda_hat.analysis.ladder import MIN_TEMPERATURES, fit

    fitting = [r for r in rows if r.get("n_data") and r["n_data"] * (r.get(BETA) or 0) > 1]
    groups = _siblings(fitting, BETA)
    out = []
    for (tid, sampler, _), group in groups.items():
        if len({r[BETA] for r in group}) < MIN_TEMPERATURES:
            continue
        group.sort(key=lambda r: r[BETA])
        point = {k: v for k, v in group[0].items() if k not in COLUMNS and k != BETA}
        result = fit(
            [r["n_data"] * r[BETA] for r in group],
            [r["llc_mean"] for r in group],
            [r["llc_mcse"] or 0.0 for r in group],
        )
        out.append({"target_id": tid, "sampler": sampler, "point": point, **result})
    return out


def load(
    root: str | Path = "runs",
    experiment: str | Path | None = None,
    problems: list[str] | None = None,
) -> list[dict]:
    """Rows of every readable run under ``root`` (only ``experiment``'s runs if given).

    Sorted by ``order``: by target (its presets, seed and training run), checkpoint step,
    sampler and run. Unreadable artifacts are left out; pass a list as
    ``problems`` to receive one line per artifact left out (``lambda-hat verify`` checks
    them in full).
    """
    wanted = experiment_runs(experiment, root) if experiment is not None else None
    problems = [] if problems is None else problems
    keyed = []
    for target in Catalog(root).targets():
        if target.meta is None:
            problems.append(f"{target.path}: {target.error}")
            continue
        for run in target.runs():
            if wanted is not None and (target.target_id, run.dirname) not in wanted:
                continue
            if run.analysis is None:
                problems.append(f"{run.path}: {run.error}")
                continue
            swept = wanted[(target.target_id, run.dirname)] if wanted is not None else {}
            one = {**row(target.meta, run.analysis, run.dirname, run.path), **swept}
            keyed.append((order(target.meta, one), one))
    rows = [r for _, r in sorted(keyed, key=lambda pair: pair[0])]
    seed_spread(rows)
    return rows


def order(meta: TargetMeta, r: dict) -> tuple:
    """Where a row sorts: by what its target is (model, data and training presets, seed,
    the target's swept values, then its training run or ID), by checkpoint step (none
    first), by sampler and its swept values, then by run. One training's checkpoints so
    read in step order, and a sweep in the order of its values, not in hash order."""
    from lambda_hat.config.specs import training_run

    step = r["step"]
    return (
        str(meta.names.get("model") or r["model"] or ""),
        str(meta.names.get("data") or ""),
        str(meta.names.get("training") or ""),
        _number_first(meta.seed),
        _swept_order(r, samplers=False),
        training_run(meta.spec) or str(r["target_id"]),
        (step is not None, _number_first(step)),
        str(r["sampler"]),
        _swept_order(r, samplers=True),
        str(r["run"]),
    )


def _number_first(value) -> tuple:
    """A sort key for a value of any type: numbers in numeric order, then the rest."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, str(value))


def _swept_order(r: dict, samplers: bool) -> tuple:
    """The row's swept values (a sampler's, or its target's), as sort keys by key."""
    keys = sorted(k for k in r if k not in COLUMNS and k.startswith("samplers.") == samplers)
    return tuple((k, _number_first(r[k])) for k in keys)


def dataframe(
    root: str | Path = "runs",
    experiment: str | Path | None = None,
    problems: list[str] | None = None,
):
    """``load(...)`` as a pandas DataFrame: the columns in ``COLUMNS`` order, then the
    swept keys of ``experiment`` (``problems``: as ``load``'s)."""
    import pandas as pd

    rows = load(root, experiment, problems)
    return pd.DataFrame(rows, columns=[*COLUMNS, *swept_columns(rows)])
