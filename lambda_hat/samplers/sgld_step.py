"""SGLD's preparation: its step, thinning and start, and the record of how they were
chosen (analysis.json ``sgld_step``). Host code around numerics/step_size.py."""

from __future__ import annotations

import dataclasses

import numpy as np

from lambda_hat.samplers.kind import Context
from lambda_hat.samplers.time_budget import pilot_stop, thin_warnings, thin_within

# with thin = "auto" 100 draws are 1/γ of Langevin time, which relaxes even the
# directions only γ holds (numerics/step_size.py BURNIN_TIME)
AUTO_THIN_BURNIN = 100


def resolve(ctx: Context):
    """``(spec, record, ends)``: the spec with SGLD's step and thin resolved, the record
    (the curvature at w*, the step's bias bound, the auto choices), and where the chains
    start: the pilot's chain ends for ``start = "pilot"`` (they have spent the burn-in's
    1/γ, so a capped thin does not lengthen it), else None (w*).

    ``step_size = "auto"`` is chosen on ``ctx.tune_on`` when given (a checkpoint's runs
    pass their training's last checkpoint); the bias bound is always this posterior's.
    ``ctx.saved`` keeps the pilot's progress; ``ctx.progress`` hears of its steps.
    """
    from lambda_hat.numerics import step_size as rule

    spec, posterior, tune_on = ctx.spec, ctx.posterior, ctx.tune_on
    ctx.stage("step size: curvature at w*")
    if spec.params.step_size == "auto":
        here = rule.examine(posterior, spec.params, spec.seed)
    else:  # needs h_max only for its bias bound
        here = rule.written_curvature(posterior, spec.params, spec.seed)
    record = {"curvature": here, "fges": here["fges"]}
    step, ends, basis = spec.params.step_size, None, here
    if step == "auto":
        spec, step, basis, ends = _auto(ctx, rule, here, record)
    if spec.params.start == "pilot":
        elsewhere = tune_on is not None and not np.array_equal(
            np.asarray(tune_on.w_star), np.asarray(posterior.w_star)
        )  # the last checkpoint's own runs sample where its pilot ended
        ends, record["start"] = _pilot_start(posterior, ends, elsewhere)
    else:
        ends = None
    # the pilot's pace on this machine's clock: read by a time budget, never stored (a
    # resumed run's record is the same as an unstopped one's)
    pace = (record.get("auto") or {}).get("typical", {}).pop("seconds_per_step", None)
    if spec.thin == "auto":
        thin = record["thin_auto"] = rule.auto_thin(step, basis, spec.localization)
        spec = dataclasses.replace(spec, thin=thin["thin"])
        if thin["capped"] and spec.burnin == AUTO_THIN_BURNIN and ends is None:
            spec = dataclasses.replace(spec, burnin=thin["burnin_draws"])  # keeps its 1/γ
        budget = thin_within(thin["thin"], pace, ctx.time_left)
        if budget:
            thin["budget"] = budget
            spec = dataclasses.replace(spec, thin=budget["thin"])
    record["step_size"] = step
    record["bias"] = rule.bias_bound(step, here, spec.params.scheme)
    return spec, record, ends


def _auto(ctx: Context, rule, here: dict, record: dict):
    """``step_size = "auto"``: the curvature rule, then the pilot where it runs."""
    spec, tune_on = ctx.spec, ctx.tune_on
    on = ctx.posterior if tune_on is None else tune_on
    basis = here if tune_on is None else rule.examine(tune_on, spec.params, spec.seed)
    step = rule.auto_step(basis)
    record["auto"] = {"step_size": step, "rule": rule.RULE, "chosen_on": basis}
    if tune_on is not None:
        record["fges"] += basis["fges"]
    ends = None
    if spec.params.runs_pilot:
        step, typical, ends = rule.typical_step(
            on,
            spec.params,
            step,
            basis,
            spec.chains,
            spec.seed,
            report=ctx.stage,
            saved=ctx.saved,
            progress=ctx.progress,
            continued=spec.params.start == "pilot",
            stop=pilot_stop(ctx.time_left),
        )
        record["auto"].update(step_size=step, at_w_star=record["auto"]["step_size"])
        record["auto"]["typical"] = typical
        record["fges"] += typical["fges"]
    spec = dataclasses.replace(spec, params=dataclasses.replace(spec.params, step_size=step))
    return spec, step, basis, ends


def pilot_cut(record: dict | None) -> dict | None:
    """The pilot round a time budget ended (its steps run and planned), or None."""
    rounds = ((record or {}).get("auto") or {}).get("typical", {}).get("rounds") or []
    return rounds[-1] if rounds and rounds[-1].get("cut_by_time") else None


def _pilot_start(posterior, ends, elsewhere: bool):
    """``start = "pilot"``: the pilot's chain ends and the record of them, or None (w*)
    and why: the pilot ran on another posterior (a training run's last checkpoint), or
    its last round diverged."""
    if elsewhere:
        return None, {
            "kind": "w_star",
            "why": "the step pilot ran on the training run's last checkpoint",
        }
    if ends is None:  # typical_step keeps no chains of a round that diverged
        return None, {"kind": "w_star", "why": "the step pilot's last round diverged"}
    w_star = np.asarray(posterior.w_star, np.float64)
    distance = np.linalg.norm(np.asarray(ends, np.float64) - w_star, axis=1)
    return ends, {"kind": "pilot", "distance_from_w_star": [float(d) for d in distance]}


def warnings(spec, record: dict) -> list[str]:
    """What the user should know of the step: over its bias bound, or still falling."""
    out = []
    if record["bias"]["biased"]:
        out.append(_bias_warning(spec, record["bias"]))
    out += thin_warnings(record)
    cut = pilot_cut(record)
    if cut is not None:
        out.append(
            f"max_time ended the step pilot after {cut['steps']:,} of round "
            f"{len(record['auto']['typical']['rounds'])}'s {cut['steps_planned']:,} steps: "
            f"the step ({spec.params.step_size:.3g}) was not checked where the chains go, "
            "so λ̂ may be biased; give the run more time."
        )
    elif not record.get("auto", {}).get("typical", {}).get("settled", True):
        out.append(
            f"step_size = 'auto' was still being lowered after its last pilot round (to "
            f"{spec.params.step_size:.3g}): the chains meet ever stiffer curvature away "
            "from w*, so λ̂ may be biased upward; compare with NUTS (lambda-hat tune) or "
            "give a smaller step_size."
        )
    return out


def _bias_warning(spec, bias: dict) -> str:
    fix = f"use step_size = 'auto' or at most {bias['largest_unbiased_step']:.2g}."
    if bias.get("scheme", "euler") == "euler":
        return (
            f"step_size {spec.params.step_size:.3g} inflates the posterior's variance by "
            f"about {bias['bias_bound']:.0%} in its stiffest direction at w* (more than "
            f"{bias['threshold']:.0%}), so λ̂ is likely biased upward; {fix}"
        )
    return (
        f"step_size {spec.params.step_size:.3g} is ε·h_max/4 = {bias['bias_bound']:.0%} in "
        f"the posterior's stiffest direction at w* (more than {bias['threshold']:.0%}): the "
        "Leimkuhler–Matthews scheme is exact only where the posterior is Gaussian, and "
        f"at such a step its remaining bias is not controlled; {fix}"
    )
