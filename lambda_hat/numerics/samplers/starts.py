"""Over-dispersed starting points for HMC and NUTS (``start = "dispersed"``).

Chains that all start at w* can agree with one another (split R-hat 1.00) while none
has reached the directions only the localization γ holds: on the larger truth DLNs λ̂
grows with how far the chains have spread, and NUTS started at w* spreads slowly
(docs/truth.md, "Are the references equilibrated?"). Starting every other chain where
an SGLD pilot chain ends after PILOT_TIME/γ of Langevin time (Leimkuhler–Matthews at
w*'s auto step, the cheapest step that gets there) puts both kinds of start in one run,
so R-hat and the trust verdict see it when λ̂ depends on the start.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.numerics.langevin import GAMMA_FLOOR

PILOT_TIME = 1.0


def pilot_ends(rng_key, posterior, num_chains: int, time: float = PILOT_TIME, fraction=1.0):
    """Where ``num_chains`` SGLD chains from w* are after ``time``/γ of Langevin time at
    ``fraction`` × w*'s auto step: (positions, record with the work in FGEs)."""
    from lambda_hat.errors import SamplerDivergedError
    from lambda_hat.numerics import step_size as rule
    from lambda_hat.numerics.samplers import sgld

    params = sgld.Settings()
    curvature = rule.examine(posterior, params)
    step = rule.auto_step(curvature) * fraction
    steps = max(1, round(time / max(float(posterior.localization), GAMMA_FLOOR) / step))
    ends = sgld.final_states(rng_key, posterior, params, step, steps, num_chains).position
    distance = np.linalg.norm(np.asarray(ends - posterior.w_star, np.float64), axis=1)
    if not np.isfinite(distance).all():
        raise SamplerDivergedError(
            f"start = 'dispersed': the SGLD pilot that places the far chains diverged at "
            f"step {step:.3g} ({steps} steps from w*); use start = 'w_star' for this target"
        )
    batch = min(params.batch_size, posterior.n)
    return ends, {
        "pilot_step_size": step,
        "pilot_steps": steps,
        "pilot_time": time,
        "h_max_at_w_star": curvature["h_max"],
        "fges": curvature["fges"] + num_chains * steps * batch / posterior.n,
        "distance_from_w_star": [float(d) for d in distance],
    }


def dispersed(rng_key, posterior, num_chains: int):
    """Chains 0, 2, 4, ... at w*, chains 1, 3, ... where SGLD pilot chains end:
    (positions (chains, p), record for the run's statistics)."""
    far = num_chains // 2
    w_star = jnp.broadcast_to(posterior.w_star, (num_chains, posterior.num_params))
    if far == 0:
        return w_star, {"kind": "dispersed", "far_chains": [], "fges": 0.0}
    ends, record = pilot_ends(rng_key, posterior, far)
    odd = jnp.arange(1, num_chains, 2)[:far]
    positions = w_star.at[odd].set(ends.astype(w_star.dtype))
    distance = np.zeros(num_chains)
    distance[np.asarray(odd)] = record["distance_from_w_star"]
    return positions, {
        **record,
        "kind": "dispersed",
        "far_chains": [int(i) for i in odd],
        "distance_from_w_star": [float(d) for d in distance],
    }


def starting_points(rng_key, posterior, num_chains: int, start: str):
    """``start``'s positions (None: every chain at w*, as the sampler does by default)
    and its record (None for w*)."""
    if start == "w_star":
        return None, None
    return dispersed(jax.random.fold_in(rng_key, 7), posterior, num_chains)
