"""Minibatch underdamped Langevin dynamics (SGHMC) with the BAOAB splitting.

The chains carry a velocity v (unit mass) besides the position w and follow

    dw = v dt,   dv = F(w) dt − ξ v dt + √(2ξ) dW,   F = −nβ ∇L_n(w) − γ (w − w*)

whose stationary law in w is the localized posterior. One step of size ε, with
c = exp(−ξε) and F̃ the minibatch estimate of F:

    v ← v + (ε/2) F̃(w);  w ← w + (ε/2) v;  v ← c v + √(1 − c²) η;
    w ← w + (ε/2) v;     v ← v + (ε/2) F̃(w)

(Leimkuhler & Matthews 2013). The force at a step's end is the next step's first, so
a step costs one minibatch gradient and p normals, as an SGLD step does. In a Gaussian
direction of curvature h BAOAB's stationary position variance is exactly 1/h at every
stable step (ε√h < 2), the underdamped counterpart of SGLD's Leimkuhler–Matthews
scheme, its high-friction limit.

Why it is here: overdamped SGLD needs ~h_max/γ steps to relax the directions only γ
holds, underdamped dynamics with friction ξ ~ 2√γ needs ~√(h_max/γ) of them at a step
~1/√h_max (docs/samplers.md, benchmarks/README.md "routes"). What it pays instead is
the minibatch's noise, which heats the velocity: ``numerics/underdamped.py`` chooses
the step that keeps that heating small, and records it.

The loss trace is SGLD's (``llc_trace = "minibatch"``: the control variate L_B(w) −
L_B(w*) on the batch the step's gradient drew) and the minibatches are SGLD's
(without replacement within an epoch).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.numerics.samplers.common import SampleResult, chain_keys, pace
from lambda_hat.numerics.samplers.driver import Schedule, run_chains
from lambda_hat.numerics.samplers.sgld import (
    INT32_MAX,
    batch_rows,
    gaussian_noise,
    minibatch_recording,
    multipliers,
    run_steps,
)
from lambda_hat.numerics.underdamped import span_steps


class SGHMCState(NamedTuple):
    position: jax.Array
    velocity: jax.Array
    force: jax.Array  # F̃ at position, from the batch of the step that ended there
    chain_key: jax.Array  # draws each epoch's row order


def _force(posterior, w, g):
    return -posterior.n_beta * g - posterior.localization * (w - posterior.w_star)


def build_kernel(posterior, step_size: float, friction: float, batch_size: int):
    """``kernel(rng_key, state, step_index) -> (state, info)`` for one chain."""
    n = posterior.n
    batch_size = min(int(batch_size), n)
    units = jnp.asarray(multipliers(n))
    half = 0.5 * step_size
    keep = float(np.exp(-friction * step_size))
    kick = float(np.sqrt(-np.expm1(-2.0 * friction * step_size)))  # √(1 − c²)

    def kernel(rng_key, state: SGHMCState, step_index):
        w, v = state.position, state.velocity
        v = v + half * state.force
        w = w + half * v
        v = keep * v + kick * gaussian_noise(rng_key, w.shape[0], w.dtype)
        w = w + half * v
        idx = batch_rows(state.chain_key, step_index, n, batch_size, units)
        batch_loss, g = posterior.batch_loss_and_grad(w, idx)
        if posterior.anchor is not None:  # L_B(w) − L_B(w*): the control variate
            batch_loss = batch_loss - jnp.mean(posterior.anchor[idx])
        force = _force(posterior, w, g)
        v = v + half * force
        info = {"grad_calls": jnp.int32(1), "loss": batch_loss}
        return SGHMCState(w, v, force, state.chain_key), info

    return kernel


def init(posterior, position, rng_key, batch_size: int) -> SGHMCState:
    """A chain at ``position`` with a velocity drawn from its stationary N(0, I) and the
    force on one minibatch (rows no epoch of the row order uses this key for)."""
    k_velocity, k_rows = jax.random.split(jax.random.fold_in(rng_key, INT32_MAX))
    velocity = gaussian_noise(k_velocity, *position.shape, position.dtype)
    b = min(int(batch_size), posterior.n)
    idx = jax.random.randint(k_rows, (b,), 0, posterior.n)
    _, g = posterior.batch_loss_and_grad(position, idx)
    return SGHMCState(position, velocity, _force(posterior, position, g), rng_key)


def initial_states(rng_key, posterior, batch_size: int, num_chains: int, positions=None):
    """``num_chains`` chains at w* (or at the rows of ``positions``), batched."""
    w = posterior.w_star
    rows = jnp.broadcast_to(w, (num_chains, w.shape[0])) if positions is None else positions
    keys = chain_keys(rng_key, num_chains)

    @jax.jit  # one program, the data as its arguments (not folded in as constants)
    def start(arrays, rows, keys):
        post = posterior.rebind(arrays)
        return jax.vmap(lambda w, k: init(post, w, k, batch_size))(rows, keys)

    return start(posterior.arrays, jnp.asarray(rows, w.dtype), keys)


def sample(rng_key, posterior, params, schedule: Schedule, start=None) -> SampleResult:
    """Run SGHMC chains from w* (or from the rows of ``start``); see module docstring.
    ``params``: ``step_size`` and ``friction`` numbers (``"auto"`` resolved before)."""
    step, friction = params.step_size, params.friction
    if not (isinstance(step, float) and isinstance(friction, float)):
        raise TypeError(
            f"sghmc.sample needs numeric step_size and friction, got {step!r}, {friction!r}: "
            "the sampler's preparation resolves 'auto' first"
        )
    batch_size = min(params.batch_size, posterior.n)
    key_chains, key_run = jax.random.split(rng_key)
    states = initial_states(key_chains, posterior, batch_size, schedule.num_chains, start)
    recorded, schedule, record, to_loss = minibatch_recording(posterior, schedule)

    def make_step(post):
        return build_kernel(post, step, friction, batch_size)

    trace = run_chains(key_run, make_step, states, recorded, schedule, record=record)
    per_call = batch_size / posterior.n
    num_chains = schedule.num_chains
    at_end = bounds_at(posterior, trace.final_states.position, step, friction, batch_size)
    return SampleResult(
        loss=to_loss(trace.loss),
        sample_stats={"step_size": np.full(trace.loss.shape, step)},
        fges_per_chain=(trace.grad_calls.astype(np.float64) + 1.0) * per_call + at_end["fges"],
        warmup_fges_per_chain=np.full(num_chains, per_call),  # the first force
        loss_evals_per_chain=trace.loss_evals,
        stats={
            "batch_size": batch_size,
            "step_size": step,
            "friction": friction,
            # the step's bounds where the chains ended (the verdict checks them)
            "step_sqrt_h_max_at_end": at_end["stability"],
            "heating_at_end": at_end["heating"],
            "langevin_time": step * (schedule.burnin + trace.loss.shape[1]) * schedule.thin,
            "llc_trace": schedule.llc_trace,
        },
        first_nonfinite_step=trace.first_nonfinite_step,
        positions=trace.positions,
        observed=trace.observed,
        cut=trace.cut,
    )


def stiffness_at(posterior, positions) -> tuple[list[float], float]:
    """h_max at each row of ``positions`` (from at most BOUND_ROWS data rows) and the
    FGEs per chain it took; non-finite positions give inf."""
    from lambda_hat.numerics import step_size as rule

    positions = np.asarray(positions)
    if not np.all(np.isfinite(positions)):
        return [float("inf")] * positions.shape[0], 0.0
    on = posterior
    if posterior.n > rule.BOUND_ROWS:
        on = rule.subsample(posterior, rule.BOUND_ROWS)
    h = rule.top_curvatures(on, jnp.asarray(positions, posterior.w_star.dtype))
    return [float(v) for v in h], 2.0 * rule.ITERATIONS * on.n / posterior.n


def bounds_at(posterior, positions, step: float, friction: float, batch_size: int) -> dict:
    """The step's two bounds at each row of ``positions``: ε·√h_max (``stability``) and
    the minibatch heating εσ²/(2ξ) at ``batch_size`` (``heating``), from h_max and σ²
    there (``h_max``; ``noise``: σ² at ``underdamped.noise_rows(n)`` rows, the largest
    over the rows), and the FGEs per chain they took."""
    from lambda_hat.numerics import underdamped as rule

    h, fges = stiffness_at(posterior, positions)
    if not np.all(np.isfinite(h)):
        inf = [float("inf")] * len(h)
        return {"stability": inf, "heating": inf, "h_max": np.inf, "noise": np.inf, "fges": fges}
    n = posterior.n
    noise = rule.gradient_noise(posterior, rule.noise_rows(n), positions)
    at_batch = [rule.noise_at(v, batch_size, n) for v in noise["per_position"]]
    return {
        "stability": [step * float(np.sqrt(v)) for v in h],
        "heating": [step * v / (2.0 * friction) for v in at_batch],
        "h_max": max(h),
        "noise": noise["noise"],
        "fges": fges + noise["fges"],
    }


def pilot(posterior, start, chosen_by, num_chains, seed, spans, rounds, stop=None, **hear):
    """The automatic step (and batch and friction) checked where the chains go.
    ``start``: the ``(step, friction, batch)`` chosen at w*; ``chosen_by(h_max, σ²)``
    chooses them again from figures measured elsewhere (``underdamped.choose``). Up to
    ``rounds`` times, run the chains ``spans`` of the slowest relaxation time (the first
    round from w*, each later one from the last one's ends), measure h_max and σ² at
    their ends (``bounds_at``) and choose again, stopping once nothing moves by more
    than a fifth. A round that diverges restarts from w* at a tenth of the step.
    ``stop()``, if given, is asked after each chunk (a time budget): a round it ends is
    the last. ``hear``: ``saved``, ``report`` and ``progress`` (``_Listeners``).

    Returns ``(settings, rounds record, ends)``: the (step, friction, batch), each
    round's figures (its FGEs per chain included), and where the last round's chains
    ended (None if it diverged)."""
    fingerprint = {"start": list(start), "spans": spans, "rounds": rounds}
    hear = _Listeners(fingerprint | {"chains": num_chains, "seed": seed}, rounds, **hear)
    loaded = hear.load()
    where = loaded["where"] if loaded else {"round": 0, "steps_done": 0}
    settings = tuple(where.get("settings", start))
    record, ends = list(where.get("rounds", [])), (loaded or {}).get("arrays", {}).get("ends")
    if where.get("done"):
        return settings, record, ends
    for r in range(where["round"], rounds):
        resume = None
        if loaded and r == where["round"] and where["steps_done"] > 0:
            resume = (where["steps_done"], loaded["arrays"])
        steps = span_steps(spans, settings[0], settings[1], posterior.localization)
        reached = hear.round(r, steps, settings, record)
        who = (num_chains, seed, r, steps)
        found, ran, chosen = _round(
            posterior, settings, chosen_by, who, ends, stop, resume, reached
        )
        record.append(found)
        ends = found.pop("ends")
        settled = all(0.8 < new / old < 1.25 for new, old in zip(chosen, settings, strict=True))
        settings = tuple(chosen)
        if ran < steps:  # a time budget ended the round: it is the last
            record[-1]["cut_by_time"] = True
            break
        if settled:
            break
        if r + 1 < rounds:  # a round is costly: keep it
            hear.ended({"round": r + 1, **_kept(settings, record)}, ends)
    hear.ended({"done": True, **_kept(settings, record)}, ends)
    return settings, record, ends


class _Listeners:
    """Who hears of a pilot's progress, each optional: ``saved`` (a
    ``store/snapshots.py`` part) keeps the finished rounds and the running round's
    chains, so a stopped run's next attempt goes on from there with the same numbers (a
    round on a deep network is many minutes); ``report(text)`` is told each round before
    it runs; ``progress(done, total)`` of the steps it has run."""

    def __init__(self, fingerprint: dict, rounds: int, saved=None, report=None, progress=None):
        self.fingerprint, self.rounds = fingerprint, rounds
        self.saved, self.report, self.progress = saved, report, progress

    def load(self) -> dict | None:
        return self.saved.load(self.fingerprint) if self.saved is not None else None

    def round(self, r: int, steps: int, settings, record: list):
        """Round ``r`` starts: say so; what hears of each point it reaches ``(t, states)``."""
        now = {"round": r, "steps_total": steps, **_kept(settings, record)}
        if self.report is not None:
            step, friction, batch = settings
            self.report(
                f"step size: pilot round {r + 1} of at most {self.rounds}, ε = {step:.3g}, "
                f"ξ = {friction:.3g}, batch {batch:,}, {steps:,} steps"
            )

        def reached(t: int, states) -> None:
            if self.saved is not None:
                from lambda_hat.numerics.samplers.driver import state_arrays

                where = {"phase": "pilot", **now, "steps_done": t}
                self.saved.reached(self.fingerprint, lambda: (state_arrays(states), where))
            if self.progress is not None:
                self.progress(t, steps)

        return reached

    def ended(self, where: dict, ends) -> None:
        """A round's end, or the pilot's, kept with the chains the next goes on from."""
        if self.saved is not None:
            where = {"phase": "pilot", "steps_done": 0, **where}
            self.saved.save(self.fingerprint, {} if ends is None else {"ends": ends}, where)


def _kept(settings, record) -> dict:
    """What a saved point keeps of the pilot so far (``snapshots.PilotPoint``'s names):
    the settings the next round runs at and the finished rounds' records."""
    return {"step_size": settings[0], "settings": list(settings), "rounds": list(record)}


def _round(posterior, settings, chosen_by, who, ends, stop, resume, reached):
    """One pilot round at ``settings`` from ``ends`` (w* when None) or ``resume``, run
    and measured: (its record, with its chains' ``ends`` or None if it diverged; the
    steps it ran; the settings it leads to). ``who``: (chains, seed, round, steps)."""
    num_chains, seed, r, steps = who
    step, friction, batch = settings
    key = jax.random.fold_in(jax.random.PRNGKey(seed), 2000 + r)
    clock = time.perf_counter()
    states, ran, first = _run(
        key, posterior, settings, num_chains, steps, ends, stop, resume, reached
    )
    seconds = time.perf_counter() - clock  # compilation included
    found = bounds_at(posterior, states.position, step, friction, batch)
    finite = bool(np.isfinite([*found["stability"], *found["heating"]]).all())
    chosen = chosen_by(found["h_max"], found["noise"]) if finite else (step / 10, *settings[1:])
    distance = np.linalg.norm(np.asarray(states.position - posterior.w_star), axis=1)
    record = {
        "step_size": step,
        "friction": friction,
        "batch_size": batch,
        "steps": ran,
        "steps_planned": steps,
        "step_sqrt_h_max": found["stability"],
        "heating": found["heating"],
        "distance_from_w_star": [float(d) for d in distance],
        "next": list(chosen),
        "fges": ran * batch / posterior.n + found["fges"],
        "seconds_per_step": pace(seconds, ran - first),
        "ends": np.asarray(states.position) if finite else None,
    }
    if not finite:  # the record stays JSON: a lost round's figures are null
        lost = ("step_sqrt_h_max", "heating", "distance_from_w_star")
        record.update(dict.fromkeys(lost), diverged=True)
    return record, ran, chosen


def _run(key, posterior, settings, num_chains, steps, positions, stop, resume=None, reached=None):
    """The chains' states after ``steps`` steps at ``settings`` = (step, friction,
    batch) from w* (or ``positions``, or ``resume`` = (steps done, saved state arrays)),
    nothing recorded; the steps run (fewer when ``stop()`` says so after a chunk) and
    the step it started at. ``reached(t, states)`` hears of each point reached."""
    from lambda_hat.numerics.samplers.driver import states_from

    kernel = build_kernel(posterior, *settings)
    key_chains, key_run = jax.random.split(key)
    states = initial_states(key_chains, posterior, settings[2], num_chains, positions)
    first = 0
    if resume is not None:
        first, states = resume[0], states_from(resume[1], states)
    states, ran = run_steps(kernel, key_run, states, (first, steps), reached, stop)
    return states, ran, first
