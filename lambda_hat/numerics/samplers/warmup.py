"""A sampler's warm-up, done once per run: HMC/NUTS window adaptation (with the dispersed
start's SGLD pilot) and MCLMC's tuner.

On a large target the warm-up is minutes of work before the first draw (NUTS's 500
adaptation steps of up to 2⁶ leapfrog steps each on the 8,400-parameter truth network),
and a stopped run used to repeat it before it could take up its saved draws. With the
schedule's snapshots, the warm-up's outcome (the adapted states, bit for bit, and its
record) is saved as the run's ``warmup`` part (``store/snapshots.py``) as soon as it
ends, and a later attempt of the same run takes it from there. The restored states are
the ones sampling started from, so the driver's fingerprint of them matches and the
saved draws are taken up as well.
"""

from __future__ import annotations

from collections.abc import Callable

from lambda_hat.numerics.samplers.driver import Schedule, digest, state_arrays, states_from

PART = "warmup"


def once(
    schedule: Schedule,
    fingerprint: dict,
    compute: Callable[[], tuple[object, dict]],
    structure: Callable[[], object],
) -> tuple[object, dict]:
    """``compute()``'s (states, record) (a pytree of arrays; a JSON-able dict), or, when
    the schedule's snapshots hold a warm-up saved for this run and ``fingerprint``, that
    one put back into ``structure()`` (a pytree shaped like the states, e.g. from
    ``jax.eval_shape``: only its structure and shapes are used)."""
    part = schedule.snapshots.part(PART) if schedule.snapshots is not None else None
    saved = part.load(fingerprint) if part is not None else None
    if saved is not None:
        return states_from(saved["arrays"], structure()), saved["where"]["record"]
    states, record = compute()
    if part is not None:
        part.save(fingerprint, state_arrays(states), {"phase": PART, "record": record})
    return states, record


def start_digest(start) -> str | None:
    """A fingerprint entry for chains given explicit first positions (None: the spec's)."""
    return None if start is None else digest(start)
