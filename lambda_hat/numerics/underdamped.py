"""SGHMC's automatic choices: friction, step and thinning, and the record of them.

* **Step** ``"auto"``: the smaller of two bounds. Stability: ε√h_max ≤ STABILITY
  (BAOAB is stable below 2 and exact in Gaussian directions below it). Heating: a
  minibatch force adds ε·σ² per step to a velocity variance that the friction drains at
  2ξ per unit time, so the kinetic temperature rises by δ = εσ²/(2ξ); ε ≤ 2ξ·HEATING/σ²
  keeps δ ≤ HEATING (λ̂ moves with the temperature of the directions the loss sees).
  σ² is nβ² times the minibatch gradient's variance per coordinate over the coordinates
  that carry it (their number: the variance's participation ratio), measured on
  NOISE_BATCHES minibatches.
* **Friction** ``"auto"``: FRICTION times critical damping of the directions only the
  localization holds (2√γ: they relax in 1/√γ of Langevin time). The loss's
  fluctuations are the stiff directions' energy, which only the friction exchanges, so
  they decorrelate in ~1/ξ (measured on the truth suite's [12,12,12,12] DLN at
  critical damping: ESS 27 after 200 draws), while the slowest directions, overdamped,
  relax in ~ξ/γ: a run needs time for both, least near a few times critical.
* **Batch** ``"auto"``: the smallest (at least MIN_BATCH, at most n and MAX_BATCH)
  whose heating at the stability step is HEATING: σ² falls as 1/b − 1/n, a step's cost
  grows with b, so past that size a larger batch buys nothing, below it the step must
  shrink. Where the batch is capped or written, the automatic friction rises instead
  until heating and stability meet (heating ∝ ε/ξ).
* **Where the chains go**: both bounds are measured again at the ends of short pilot
  rounds (``numerics/samplers/sghmc.py`` ``pilot``), and the step lowered to meet them
  there: away from w* the residuals, and with them the gradient noise, grow (on the
  truth suite's one-layer model 5× at the chains' typical distance, which took λ̂ 11%
  high at w*'s heating step).
* **Thin** ``"auto"``: a draw spans DRAW_TIME of the slowest relaxation time τ (1/√γ
  at the automatic friction), at most THIN_MAX steps; the default burn-in is 100 draws.

The record keeps every figure, and the verdict checks both bounds again where the
sampling chains ended.
"""

from __future__ import annotations

import math

import numpy as np

from lambda_hat.numerics.langevin import GAMMA_FLOOR, THIN_MAX

STABILITY = 0.25  # ε·√h_max at w* of the automatic step (stable below 2)
STABLE_ABOVE = 1.0  # a step with ε·√h_max above this at w* is flagged
HEATING = 0.005  # the automatic step's kinetic-temperature rise from minibatch noise
FRICTION = 4.0  # the automatic friction, in units of critical damping 2√γ
MIN_BATCH = 32
# the largest automatic batch: past a few thousand rows a step's cost grows with b, so
# a larger batch and a higher friction cost the same gradient work per unit of
# relaxation (heating ∝ ε/(ξ·b)), and the friction keeps each draw short (a time
# budget acts between draws: the 9k benchmark's batch of 20,265 made a draw 2 minutes)
MAX_BATCH = 2048
NOISE_ROWS = 256  # the batch σ² is measured at (cut to n/2), then scaled to others
BIASED_ABOVE = 0.05  # a step heating the chains by more than this is flagged
NOISE_BATCHES = 32
DRAW_TIME = 0.02  # Langevin time per kept draw, in units of the slowest relaxation time
RULE = (
    f"min({STABILITY}/√h_max, 2ξ·{HEATING}/σ²), ξ = {FRICTION:g}·2√γ, the batch where the "
    "two meet: stable with a margin, minibatch heating "
    f"≤ {HEATING:.1%} (lambda_hat/numerics/underdamped.py)"
)


def auto_friction(localization: float) -> float:
    """ξ = 2√γ (γ ≥ GAMMA_FLOOR): the localized directions critically damped."""
    return 2.0 * math.sqrt(max(float(localization), GAMMA_FLOOR))


def relaxation_time(friction: float, localization: float) -> float:
    """The slowest direction's relaxation time: curvature γ under friction ξ."""
    gamma = max(float(localization), GAMMA_FLOOR)
    rate = 0.5 * (friction - math.sqrt(max(friction * friction - 4.0 * gamma, 0.0)))
    return 1.0 / rate


def span_steps(spans: float, step: float, friction: float, localization: float) -> int:
    """Steps that cover ``spans`` of the slowest relaxation time (a pilot round's)."""
    return max(1, round(spans * relaxation_time(friction, localization) / step))


def auto_step(h_max: float, noise: float, friction: float) -> float:
    """The step of the module docstring's two bounds (``noise``: σ², 0 for a full batch)."""
    if not (math.isfinite(h_max) and h_max > 0):
        from lambda_hat.errors import StepSizeError

        raise StepSizeError(
            f"step_size = 'auto' needs the posterior's curvature at w*, and it is {h_max} "
            "(a flat or non-finite loss there): give step_size a number, or a localization > 0"
        )
    stable = STABILITY / math.sqrt(h_max)
    return min(stable, 2.0 * friction * HEATING / noise) if noise > 0 else stable


def choose(h_max, noise, n, localization, friction=None, batch=None) -> tuple:
    """``(step, friction, batch)`` for curvature ``h_max`` and noise σ² measured at
    ``noise_rows(n)`` rows: ``friction``/``batch`` None are ``"auto"`` (the module
    docstring), numbers are kept."""
    stable = STABILITY / math.sqrt(h_max) if math.isfinite(h_max) and h_max > 0 else None
    xi = FRICTION * auto_friction(localization) if friction is None else friction
    per_row = noise / _share(noise_rows(n), n) if noise > 0 else 0.0
    if batch is None:
        batch = n
        if per_row > 0 and stable is not None:
            wanted = 1.0 / (1.0 / n + 2.0 * xi * HEATING / (stable * per_row))
            batch = int(min(n, MAX_BATCH, max(MIN_BATCH, math.ceil(wanted))))
    sigma2 = per_row * _share(batch, n)
    if friction is None and sigma2 > 0 and stable is not None:
        xi = max(xi, sigma2 * stable / (2.0 * HEATING))
    return auto_step(h_max, sigma2, xi), xi, batch


def noise_rows(n: int) -> int:
    """The batch size σ² is measured at."""
    return max(1, min(NOISE_ROWS, n // 2))


def noise_at(noise: float, batch: int, n: int) -> float:
    """σ² at ``batch`` rows from σ² measured at ``noise_rows(n)``: it scales as 1/b − 1/n
    (rows drawn without replacement), 0 for a full batch."""
    return noise * _share(batch, n) / _share(noise_rows(n), n)


def _share(batch: int, n: int) -> float:
    return 1.0 / batch - 1.0 / n if batch < n else 0.0


def bias_bound(step: float, h_max: float, noise: float, friction: float) -> dict:
    """The step's heating δ = εσ²/(2ξ) and ε√h_max at w*, and whether either is over
    its threshold (``biased``; ``bias_bound``/``threshold``/``what``: the one the
    verdict names, the heating unless only stability fails)."""
    heating = step * noise / (2.0 * friction)
    stability = step * math.sqrt(max(h_max, 0.0))
    unstable = stability > STABLE_ABOVE
    out = {
        "heating": heating,
        "step_sqrt_h_max": stability,
        "biased": heating > BIASED_ABOVE or unstable,
        "bias_bound": heating,
        "threshold": BIASED_ABOVE,
        "what": "minibatch heating",
        "largest_unbiased_step": min(
            STABLE_ABOVE / math.sqrt(h_max) if h_max > 0 else math.inf,
            2.0 * friction * BIASED_ABOVE / noise if noise > 0 else math.inf,
        ),
    }
    if unstable and heating <= BIASED_ABOVE:
        out.update(bias_bound=stability, threshold=STABLE_ABOVE, what="ε·√h_max at w*")
    return out


def auto_thin(step: float, friction: float, localization: float) -> dict:
    """Steps per kept draw so a draw spans DRAW_TIME·τ (τ: ``relaxation_time``), at most
    THIN_MAX; ``capped``: the cap binds and a draw spans ``draw_time_done``."""
    tau = relaxation_time(friction, localization)
    wanted = max(1, round(DRAW_TIME * tau / step))
    thin = int(min(THIN_MAX, wanted))
    return {
        "thin": thin,
        "relaxation_time": tau,
        "draw_time": DRAW_TIME * tau,
        "capped": wanted > THIN_MAX,
        "draw_time_done": thin * step,
        "rule": f"{DRAW_TIME} of the slowest relaxation time per draw, at most {THIN_MAX} steps",
    }


def gradient_noise(posterior, batch_size: int, positions=None, seed: int = 0) -> dict:
    """σ² of the module docstring at each row of ``positions`` (default: w* alone): nβ²
    × the minibatch gradient's variance per coordinate, averaged over the coordinates
    that carry it, from NOISE_BATCHES batches of ``batch_size`` rows (each drawn
    without replacement, the same batches at every row); 0 for a full batch.
    ``noise``: the largest; ``per_position``: each row's; ``fges``: the work per row."""
    import jax
    import jax.numpy as jnp

    n, b = posterior.n, min(int(batch_size), posterior.n)
    rows = jnp.atleast_2d(posterior.w_star if positions is None else positions)
    if b >= n:
        zeros = [0.0] * rows.shape[0]
        return {"noise": 0.0, "per_position": zeros, "noisy_dimensions": zeros, "fges": 0.0}

    @jax.jit  # the data as arguments: closed over, XLA would fold them into the program
    def gradients(arrays, rows, keys):
        post = posterior.rebind(arrays)

        def one(key):
            idx = jax.random.permutation(key, n)[:b]
            return jax.vmap(lambda w: post.batch_loss_and_grad(w, idx)[1])(rows)

        return jax.lax.map(one, keys)

    keys = jax.random.split(jax.random.PRNGKey(seed), NOISE_BATCHES)
    grads = np.asarray(gradients(posterior.arrays, rows.astype(posterior.w_star.dtype), keys))
    var = np.var(grads.astype(np.float64), axis=0, ddof=1) * float(posterior.n_beta) ** 2
    total = var.sum(axis=1)
    squares = np.sum(var * var, axis=1)
    dims = np.where(squares > 0, total**2 / np.where(squares > 0, squares, 1.0), 0.0)
    noise = np.where(dims > 0, total / np.where(dims > 0, dims, 1.0), 0.0)
    return {
        "noise": float(noise.max()),
        "per_position": [float(v) for v in noise],
        "noisy_dimensions": [float(v) for v in dims],
        "fges": NOISE_BATCHES * b / n,
    }
