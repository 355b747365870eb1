"""SGLD's step and thinning set from the posterior's curvature, and the step's bias bound.

SGLD here steps w ← w + (ε/2)·P·(−∇U) + √(εP)·η along the Langevin diffusion of
U(w) = nβ L_n(w) + (γ/2)‖w − w*‖² in the metric of a diagonal preconditioner P (P = 1
for plain SGLD). In a Gaussian direction of curvature h (of P^½ ∇²U P^½) it is stable
for ε < 4/h. With Euler's noise (η fresh each step) its stationary variance is too large
by the fraction ≈ εh/4, and λ̂, a sum of such variances times curvatures, is biased by
at most that in the stiffest direction; with Leimkuhler–Matthews' noise (the default,
η the mean of two consecutive draws: samplers/sgld.py) the Gaussian part of that bias
is zero at every stable ε and what remains is second order. Hence:

* ``step_size = "auto"`` takes ε = 4·TOLERANCE / h_max (Euler's bias 2% in the
  stiffest direction at w*, 1/50 of the stability limit); with Leimkuhler–Matthews it
  then runs pilot chains and lowers ε until ε·h_max/4 ≤ TYPICAL_MARGIN at the chains'
  positions (``typical_step``), because the curvature away from w* (below) can be far
  larger than at w*; with ``start = "pilot"`` (the default) its rounds after the first
  go on from the last one's chains for CONTINUED_TIME/γ, and sampling goes on from the
  last round's, so the chains climb to the typical set once, not once per round and
  again for the burn-in;
* any other step gets the bound ``bias_bound`` = ε·h_max/4, and a bound above
  BIASED_ABOVE makes the run's trust verdict "step-size biased" (for Leimkuhler–
  Matthews a conservative flag: the step is far enough from w*'s quadratic regime that
  its second-order bias is not controlled);
* ``thin = "auto"`` makes each kept draw span DRAW_TIME/γ of Langevin time (directions
  held only by the localization relax in ~2/γ), at most THIN_MAX steps; where the cap
  binds, the default burn-in is counted in more draws so it still spans BURNIN_TIME/γ.

h_max = λ_max(P^½ (nβ∇²L_n(w*) + γ) P^½) comes from power iteration on full-data
Hessian-vector products at w* (ITERATIONS of them, each about two gradients' work; for a
written step, whose h_max serves only its bias bound, ``written_curvature``: Lanczos on
BOUND_ROWS of the rows). For
a preconditioner, P is RMSProp's 1/(√v + eps) with v the mean g² over the second half
of PILOT_CHAINS × PILOT_STEPS plain SGLD steps from w* at the plain rule's step, the
value the chain's own running average settles to;
its Langevin time per step is ε·median(P). Left out: the minibatch's own gradient noise,
which adds variance of order ε·(nβ)²·Var(∇L_B) (large nβ, small batches), and curvature
away from w*. The latter is large: on the [12,12,12,12] r=3 truth DLN the chains drift
along directions the data barely constrain to |w − w*| ≈ 11–13, where h_max is 12–19×
its value at w*, so Euler's 2% is a bound at w* only (εh/4 reaches 0.25–0.38 where the
chains go: Euler's λ̂ was 0.6–4% above the exact-sampler reference on the small truth
DLNs and 42% above on the 8,400-parameter one). On that one the chains reach
|w − w*| ≈ 50 after 1/γ of Langevin time, where h_max is 50× its value at w*: w*'s step
puts them at the stability limit (ε·h/4 ≈ 1), which no scheme survives unbiased. The
pilot rounds of ``typical_step`` measure this; the margin 0.25 is what Leimkuhler–
Matthews met on the 432-parameter network with λ̂ 0.3% from the reference (measured
in docs/truth.md).
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.numerics.langevin import (
    BURNIN_TIME,
    DRAW_TIME,
    GAMMA_FLOOR,
    THIN_MAX,
    steps_per_draw,
)
from lambda_hat.numerics.posterior import embed

TOLERANCE = 0.02
BIASED_ABOVE = 0.05
ITERATIONS = 40
# a written step's bias bound: Lanczos on this many rows (at n = 100,000 it costs 1.3
# FGEs, not 80; its accuracy is in docs/samplers.md); SGHMC's h_max at w*: power
# iteration on as many
BOUND_ROWS = 4096
PILOT_STEPS = 2000
PILOT_CHAINS = 4
RULE = (
    f"4·{TOLERANCE}/h_max: Euler–Maruyama variance bias ≤ {TOLERANCE:.0%} in the stiffest "
    "direction (lambda_hat/numerics/step_size.py)"
)
# leimkuhler-matthews: ε·h/4 at most TYPICAL_MARGIN where the chains go (below)
TYPICAL_MARGIN = 0.25
TYPICAL_ROUNDS = 3
TYPICAL_TIME = 1.0
# start = "pilot": rounds after the first go on from the last round's chains, which have
# spread already, for this much of 1/γ (enough for the stiff directions to settle at the
# new step many times over, and to meet the stiffer places it lets the chains into)
CONTINUED_TIME = 0.25
SHRINK_STOP = 0.8
DIVERGED_SHRINK = 0.1
TYPICAL_RULE = (
    f"then ε·h_max/4 ≤ {TYPICAL_MARGIN} at the chains' positions after {TYPICAL_TIME}/γ of "
    f"Langevin time, up to {TYPICAL_ROUNDS} rounds (lambda_hat/numerics/step_size.py)"
)
CONTINUED_RULE = (
    f"{TYPICAL_RULE}; each round after the first goes on from the last one's chains for "
    f"{CONTINUED_TIME}/γ"
)


def top_curvatures(posterior, positions, scales=None, iterations: int = ITERATIONS, seed=0):
    """h_max = λ_max of D(nβ∇²L_n(w) + γ)D at each row w of ``positions`` (D = √scale,
    a row of ``scales`` each; 1 without them), by power iteration on all rows at once.

    The data and positions enter the compiled step as arguments, so one program serves
    every call with the same shapes (closed-over data would be folded into it as
    constants: slow to compile at large n).
    """
    positions = jnp.atleast_2d(positions)
    d = jnp.ones_like(positions) if scales is None else jnp.sqrt(jnp.asarray(scales))
    d = jnp.broadcast_to(d.astype(positions.dtype), positions.shape)
    start = jax.random.normal(jax.random.PRNGKey(seed), positions.shape[1:], positions.dtype)
    v = jnp.broadcast_to(start / jnp.linalg.norm(start), positions.shape)
    coefficients = jnp.asarray([posterior.n_beta, posterior.localization], positions.dtype)
    value = jnp.zeros(positions.shape[0], positions.dtype)
    arrays = (posterior.data, posterior.frozen)
    for _ in range(iterations):
        v, value = _power_step(posterior.loss_fn, arrays, positions, d, v, coefficients)
    return np.abs(np.asarray(value, np.float64))


@partial(jax.jit, static_argnums=0)
def _power_step(loss_fn, arrays, positions, d, v, coefficients):
    """One power-iteration step of D(nβ∇²L_n(w) + γ)D at every row of ``positions``
    (``arrays``: the data and a restricted posterior's frozen weights)."""
    n_beta, gamma = coefficients[0], coefficients[1]
    data, frozen = arrays
    grad = jax.grad(lambda w: loss_fn(embed(frozen, w), data))

    def one(w, d, v):
        hv = d * (n_beta * jax.jvp(grad, (w,), (d * v,))[1] + gamma * d * v)
        return hv / jnp.linalg.norm(hv), jnp.vdot(v, hv)

    return jax.vmap(one)(positions, d, v)


def top_curvature(posterior, scale=None, iterations: int = ITERATIONS, seed: int = 0) -> float:
    """h_max = λ_max of D(nβ∇²L_n + γ)D at w*, D = √scale (1 without one)."""
    scales = None if scale is None else jnp.asarray(scale)[None]
    return float(top_curvatures(posterior, posterior.w_star, scales, iterations, seed)[0])


def pilot_second_moment(posterior, step: float, batch_size: int, seed: int = 0) -> np.ndarray:
    """Mean g² (g = ∇L_B) over the second half of PILOT_STEPS plain SGLD steps from w*,
    in PILOT_CHAINS chains."""
    n, b = posterior.n, min(int(batch_size), posterior.n)

    def one(w, key):
        k_rows, k_noise = jax.random.split(key)
        _, g = posterior.batch_loss_and_grad(w, jax.random.randint(k_rows, (b,), 0, n))
        drift = -posterior.n_beta * g - posterior.localization * (w - posterior.w_star)
        noise = jax.random.normal(k_noise, w.shape, w.dtype)
        return w + 0.5 * step * drift + math.sqrt(step) * noise, g * g

    def chain(key):
        _, g2 = jax.lax.scan(one, posterior.w_star, jax.random.split(key, PILOT_STEPS))
        return jnp.mean(g2[PILOT_STEPS // 2 :], axis=0)

    keys = jax.random.split(jax.random.PRNGKey(seed), PILOT_CHAINS)
    return np.asarray(jax.jit(jax.vmap(chain))(keys).mean(axis=0), np.float64)


def examine(posterior, params, seed: int = 0, rows: int | None = None) -> dict:
    """The curvature SGLD with ``params`` meets at w*: h_max in its metric, its time per
    unit step, and the work it took (FGEs), for analysis.json.

    ``rows``: without a preconditioner, h_max comes from that many of the n rows, drawn
    without replacement with ``seed``: the top eigenvalue of their mean loss's Hessian,
    on average at least the full data's and typically off by a relative ~√(2/rows) (a
    few percent at BOUND_ROWS). A written step needs h_max only for its bias bound,
    which must cost a small part of the run.
    """
    sample = rows is not None and rows < posterior.n and params.precond == "none"
    on = subsample(posterior, rows, seed) if sample else posterior
    h_plain = top_curvature(on)
    fges = 2.0 * ITERATIONS * (on.n / posterior.n)
    gamma = float(posterior.localization)  # nβ = 0 (the prior alone): no loss curvature seen
    hessian_top = (h_plain - gamma) / posterior.n_beta if posterior.n_beta else 0.0
    out = {"hessian_top_eigenvalue": hessian_top, "h_max": h_plain, "time_per_step": 1.0}
    if params.precond != "none":
        plain_step = 4.0 * TOLERANCE / h_plain
        v = pilot_second_moment(posterior, plain_step, params.batch_size, seed)
        scale = 1.0 / (np.sqrt(v) + params.precond_eps)
        h_pre = top_curvature(posterior, scale)
        pilot = PILOT_CHAINS * PILOT_STEPS * min(params.batch_size, posterior.n) / posterior.n
        fges += 2.0 * ITERATIONS + pilot
        out = {
            **out,
            "h_max": h_pre,
            "h_max_plain": h_plain,
            "time_per_step": float(np.median(scale)),
            "pilot_steps": PILOT_STEPS,
            "preconditioner_median": float(np.median(scale)),
            "preconditioner_range": [float(scale.min()), float(scale.max())],
        }
    if sample:
        out["rows"] = on.n
    return {**out, "iterations": ITERATIONS, "fges": fges}


def written_curvature(posterior, params, seed: int = 0) -> dict:
    """The curvature a written step's bias bound is checked against: h_max at w* by
    Lanczos (numerics/lanczos.py) on BOUND_ROWS of the rows (drawn as ``subsample``
    draws them), for a small part of a run's cost; with a preconditioner, ``examine``'s
    (its metric comes from a pilot on all rows)."""
    from lambda_hat.numerics import lanczos

    if params.precond != "none":
        return examine(posterior, params, seed)
    idx = row_sample(posterior.n, BOUND_ROWS, seed) if posterior.n > BOUND_ROWS else None
    h_max = lanczos.top_curvature(posterior, idx, seed=seed)
    used = posterior.n if idx is None else BOUND_ROWS
    k = lanczos.steps(posterior.w_star.shape[0])
    gamma = float(posterior.localization)
    out = {
        "hessian_top_eigenvalue": (h_max - gamma) / posterior.n_beta if posterior.n_beta else 0.0,
        "h_max": h_max,
        "time_per_step": 1.0,
        "method": "lanczos",
        "iterations": k,
        "fges": 2.0 * k * used / posterior.n,
    }
    return out if idx is None else {**out, "rows": used}


def row_sample(n: int, rows: int, seed: int = 0) -> np.ndarray:
    """``rows`` of ``n`` row indices, drawn without replacement with ``seed``, sorted."""
    return np.sort(np.random.default_rng(seed).choice(n, rows, replace=False))


def subsample(posterior, rows: int, seed: int = 0):
    """``posterior`` on ``rows`` of its data rows (drawn without replacement), with the
    same nβ and γ: its curvature estimates the full data's at a fraction of the work."""
    from lambda_hat.numerics.posterior import rows as cut

    idx = row_sample(posterior.n, rows, seed)
    return posterior._replace(data=cut(posterior.data, jnp.asarray(idx)), anchor=None)


def auto_step(curvature: dict) -> float:
    h_max = curvature["h_max"]
    if not (math.isfinite(h_max) and h_max > 0):
        from lambda_hat.errors import StepSizeError

        raise StepSizeError(
            f"step_size = 'auto' needs the posterior's curvature at w*, and it is {h_max} "
            "(a flat or non-finite loss there): give step_size a number, or a localization > 0"
        )
    return 4.0 * TOLERANCE / h_max


def bias_bound(step: float, curvature: dict, scheme: str = "euler") -> dict:
    """ε·h_max/4 (Euler's relative variance bias in the stiffest direction) and its
    verdict; for ``leimkuhler-matthews`` the same number, read as a conservative flag."""
    h = curvature["h_max"]
    bound = step * h / 4.0
    return {
        "bias_bound": bound,
        "scheme": scheme,
        "biased": bound > BIASED_ABOVE,
        "threshold": BIASED_ABOVE,
        "largest_unbiased_step": 4.0 * BIASED_ABOVE / h if h > 0 else None,
    }


def auto_thin(step: float, curvature: dict, localization: float) -> dict:
    """Steps per kept draw so a draw spans DRAW_TIME/γ of Langevin time (≤ THIN_MAX).

    ``capped``: the cap binds, so a draw spans less (``draw_time_done``) and a burn-in
    of BURNIN_TIME/γ takes ``burnin_draws`` of them rather than BURNIN_TIME/DRAW_TIME.
    """
    gamma = max(float(localization), GAMMA_FLOOR)
    draw_time = DRAW_TIME / gamma
    per_step = step * curvature["time_per_step"]
    wanted = steps_per_draw(per_step, localization)
    thin = int(min(THIN_MAX, wanted))
    done = thin * per_step
    return {
        "thin": thin,
        "draw_time": draw_time,
        "time_per_step": per_step,
        "capped": wanted > THIN_MAX,
        "draw_time_done": done,
        "burnin_draws": math.ceil(BURNIN_TIME / gamma / done) if wanted > THIN_MAX else None,
        "rule": f"{DRAW_TIME}/γ of Langevin time per draw, at most {THIN_MAX} steps",
    }


def pilot_steps(time: float, localization: float, time_per_step: float) -> int:
    """Steps of a pilot round spanning ``time``/γ of Langevin time (γ ≥ GAMMA_FLOOR)."""
    return max(1, round(time / max(float(localization), GAMMA_FLOOR) / time_per_step))


class TypicalStep(NamedTuple):
    """``typical_step``'s choice: the step, its record, and the last round's chains'
    positions (chains, p), which have run at least TYPICAL_TIME/γ of Langevin time from
    w*."""

    step_size: float
    record: dict
    ends: np.ndarray | None  # None when the last round diverged


def typical_step(
    posterior,
    params,
    step: float,
    curvature: dict,
    num_chains: int,
    seed=0,
    report=None,
    saved=None,
    continued: bool = False,
    progress=None,
    stop=None,
):
    """Leimkuhler–Matthews' auto step, shrunk to the curvature where the chains go.

    From w*'s step, up to TYPICAL_ROUNDS times: run the run's own chains (its scheme,
    preconditioner and batch size) from w* for TYPICAL_TIME/γ of Langevin time, take
    h_max at each chain's end (in its own preconditioner's metric), and lower ε to
    4·TYPICAL_MARGIN/max h_max if that is lower (by DIVERGED_SHRINK if the pilot
    diverged); stop once a round lowers it by less than a fifth. ``continued``
    (``start = "pilot"``): each round after the first goes on from the last one's
    chains for CONTINUED_TIME/γ instead (they have spread already; a round of the
    plain step on a stiff network is 4× the last one's steps). Returns ε, the record
    of the rounds with their FGEs (``settled`` is false when the last round still
    lowered ε) and where the last round's chains ended (``start = "pilot"`` samples from
    there). ``report(text)``, if given, is told each round before it runs (a round can
    take minutes), and ``progress(done, total)`` of the steps it has run.

    ``saved`` (a ``store/snapshots.py`` part), if given, keeps the pilot's progress: the
    finished rounds at each round's end, and the running round's chains at each point
    it reaches (saved when due, and when the caller stops the run), so the next attempt
    goes on from there (a round at the plain step of a stiff network is an hour here)
    with the same numbers.

    ``stop()``, if given, is asked after each chunk (a time budget): a round it ends is
    measured where its chains got to (``cut_by_time``, its ``steps`` those run) and is
    the last; no round starts once it says so.
    """
    rule = CONTINUED_RULE if continued else TYPICAL_RULE
    fingerprint = {
        "rule": rule,
        "start_step": step,
        "time_per_step": curvature["time_per_step"],
        "chains": num_chains,
        "seed": seed,
    }
    loaded = saved.load(fingerprint) if saved is not None else None
    where = loaded["where"] if loaded else {"round": 0, "steps_done": 0, "step_size": step}
    if where.get("done"):
        return TypicalStep(where["step_size"], where["record"], loaded["arrays"].get("ends"))
    pilot = _Rounds(posterior, params, curvature, (num_chains, seed), saved, fingerprint)
    ends = loaded["arrays"].get("ends") if loaded and continued else None  # none after a
    # divergence: the last round's chains go on
    hear = {"report": report, "progress": progress, "stop": stop}
    rounds, settled, ends, pace = pilot.run(where, loaded, ends, continued, **hear)
    record = {"rounds": rounds, "settled": settled, "fges": pilot.fges(rounds), "rule": rule}
    record["seconds_per_step"] = pace  # the last round's, here (what a time budget reads)
    chosen = rounds[-1]["next_step"]
    pilot.save(ends, {"done": True, "steps_done": 0, "record": record}, chosen, rounds)
    return TypicalStep(chosen, record, ends)


class _Rounds:
    """What every round of one step pilot shares: its posterior, settings, chains and
    seed, and where its progress is kept (``saved``, under ``fingerprint``)."""

    def __init__(self, posterior, params, curvature, who: tuple, saved, fingerprint):
        self.posterior, self.params, self.curvature = posterior, params, curvature
        self.num_chains, self.seed = who  # (chains, seed)
        self.saved, self.fingerprint = saved, fingerprint

    def run(self, where: dict, loaded, ends, continued: bool, report, progress, stop):
        """The rounds from ``where`` (a saved point, or round 0's start) until one
        settles, the time budget ends one, or TYPICAL_ROUNDS ran: (their records,
        settled, the last one's chains' ends, its pace)."""
        rounds = list(where.get("rounds", []))
        step, settled, pace = where["step_size"], False, None
        for r in range(where["round"], TYPICAL_ROUNDS):
            if rounds and stop is not None and stop():  # the budget allows no more rounds
                break
            resuming = loaded and r == where["round"] and where["steps_done"] > 0
            go_on = where.get("goes_on", False) if resuming else continued and ends is not None
            resume = (where["steps_done"], loaded["arrays"]) if resuming else None
            steps = self.steps(step, go_on)
            self.say(report, r, step, steps)
            ran, measured, ends, lower, pace = self.round(
                r, step, steps, go_on, resume, rounds, ends, progress, stop
            )
            rounds.append(measured)
            settled = lower > SHRINK_STOP * step
            if ran < steps:  # the time budget ended the round: it is the last
                rounds[-1].update(cut_by_time=True, steps_planned=steps)
                break
            if settled:
                break
            step = lower
            if r + 1 < TYPICAL_ROUNDS:  # a round is costly: keep it
                self.save(ends, {"round": r + 1, "steps_done": 0, "steps_total": 0}, step, rounds)
        return rounds, settled, ends, pace

    @staticmethod
    def say(report, r: int, step: float, steps: int) -> None:
        """Tell ``report`` (if any) that round ``r`` starts."""
        if report is not None:
            report(
                f"step size: pilot round {r + 1} of at most {TYPICAL_ROUNDS}, "
                f"ε = {step:.3g}, {steps:,} steps"
            )

    def steps(self, step: float, go_on: bool) -> int:
        """A round's steps at ``step``: CONTINUED_TIME/γ from the last round's chains,
        else TYPICAL_TIME/γ from w*."""
        time = CONTINUED_TIME if go_on else TYPICAL_TIME
        per_step = step * self.curvature["time_per_step"]
        return pilot_steps(time, self.posterior.localization, per_step)

    def round(self, r, step, steps, go_on, resume, rounds, ends, progress, stop):
        """Round ``r`` run and measured: (steps it ran, its record, its chains' ends or
        None, the lower step, its seconds per step)."""
        now = {"phase": "pilot", "round": r, "steps_total": steps, "step_size": step}
        now = {**now, "goes_on": go_on, "rounds": list(rounds)}  # goes_on: from the last
        # round's chains, which are in the state
        states, ran, pace = _pilot_round(
            self.posterior,
            self.params,
            step,
            steps,
            self.num_chains,
            self.seed,
            r,
            resume,
            _on_chunk(self.saved, self.fingerprint, now, progress, steps),
            ends if go_on else None,
            stop,
        )
        measured, ends, lower = _measured(self.posterior, self.params, states, ran, step, go_on)
        return ran, measured, ends, lower, pace

    def save(self, ends, where: dict, step: float, rounds: list) -> None:
        """A round's end (or the pilot's) kept for the next attempt, if anywhere."""
        if self.saved is not None:
            where = {"phase": "pilot", **where, "step_size": step, "rounds": rounds}
            self.saved.save(self.fingerprint, _kept(ends), where)

    def fges(self, rounds: list) -> float:
        """The rounds' gradient work: their steps' minibatches and the curvature
        measured after each."""
        batch = min(self.params.batch_size, self.posterior.n)
        per_round = [x["steps"] * batch / self.posterior.n + 2.0 * ITERATIONS for x in rounds]
        return sum(self.num_chains * w for w in per_round)


def _measured(posterior, params, states, ran: int, step: float, go_on: bool):
    """A pilot round's record from where its chains ended: the curvature there (h_max
    per chain), their distance from w*, and the step it leads to; (record, the chains'
    positions or None when it diverged, the lower step)."""
    found, distance = _where_chains_are(posterior, params, states, ran)
    ends = np.asarray(states.position)
    h = float(np.max(found))  # NaN if any chain's is (Python's max is order-dependent)
    record = {
        "step_size": step,
        "steps": ran,
        "from": "last round" if go_on else "w_star",
        "h_max": h,
        "h_max_per_chain": found,
        "stiffness": step * h / 4.0,
        "distance_from_w_star": float(np.median(distance)),
    }
    diverged = not (math.isfinite(h) and np.isfinite(distance).all())
    if diverged:  # the pilot blew up: w*'s curvature is far from the chains'
        lost = ("h_max", "h_max_per_chain", "stiffness", "distance_from_w_star")
        record.update(dict.fromkeys(lost), diverged=True)  # null figures: JSON holds them
        ends = None  # its chains are lost: a next round starts at w*
    lower = step * DIVERGED_SHRINK if diverged else 4.0 * TYPICAL_MARGIN / max(h, 1e-300)
    record["next_step"] = min(step, lower)
    return record, ends, lower


def _on_chunk(saved, fingerprint: dict, where: dict, progress, steps: int):
    """What hears of each point a pilot round reaches (its step count ``t`` and chains):
    ``saved``, which keeps it (saved when due, or when the run is stopped), and
    ``progress(t, steps)``; None for neither."""
    if saved is None and progress is None:
        return None

    def reached(t: int, states) -> None:
        if saved is not None:
            point = partial(_point, states, {**where, "steps_done": t})
            saved.reached(fingerprint, point)
        if progress is not None:
            progress(t, steps)

    return reached


def _point(states, where: dict) -> tuple[dict, dict]:
    """A running round's saved point: its chains' states and where it is."""
    from lambda_hat.numerics.samplers.driver import state_arrays

    return state_arrays(states), where


def _kept(ends) -> dict:
    """The arrays a round-end save keeps: the chains a next round or sampling goes on
    from, if any."""
    return {} if ends is None else {"ends": ends}


def _where_chains_are(posterior, params, states, steps: int):
    """h_max at each chain's position, in its own metric, and its distance from w*."""
    scales = None
    if params.precond != "none":  # each chain's own metric: its RMSProp average
        v_hat = states.second_moment / (1 - params.precond_decay**steps)
        scales = 1.0 / (jnp.sqrt(v_hat) + params.precond_eps)
    found = [float(h) for h in top_curvatures(posterior, states.position, scales)]
    distance = np.linalg.norm(np.asarray(states.position - posterior.w_star), axis=1)
    return found, distance


def _pilot_round(
    posterior,
    params,
    step,
    steps,
    num_chains,
    seed,
    r,
    resume,
    on_chunk=None,
    positions=None,
    stop=None,
):
    """Round ``r``'s chains after ``steps`` steps (``sgld.final_states``) from w* (or the
    rows of ``positions``), or from ``resume`` = (steps done, saved state arrays) if
    given, the steps they ran (fewer when ``stop()`` ended the round) and the seconds
    per step this attempt took (compilation included); ``on_chunk(t, states)`` hears of
    each point reached."""
    from lambda_hat.numerics.samplers import sgld
    from lambda_hat.numerics.samplers.common import pace
    from lambda_hat.numerics.samplers.driver import states_from

    rng = jax.random.fold_in(jax.random.PRNGKey(seed), 1000 + r)
    if resume is not None:
        template = sgld.initial_states(rng, posterior, params, num_chains)
        resume = (resume[0], states_from(resume[1], template))
    ran = [resume[0] if resume is not None else 0]
    first, clock = ran[0], time.perf_counter()

    def reached(t: int, states) -> None:
        ran[0] = t
        if on_chunk is not None:
            on_chunk(t, states)

    states = sgld.final_states(
        rng,
        posterior,
        params,
        step,
        steps,
        num_chains,
        resume,
        reached,
        positions=positions,
        stop=stop,
    )
    return states, ran[0], pace(time.perf_counter() - clock, ran[0] - first)
