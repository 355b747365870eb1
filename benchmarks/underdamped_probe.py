"""A probe of the route ``routes.py`` ranks first, before it is built into a sampler:
underdamped Langevin (BAOAB, unit mass, friction ξ) with minibatch gradients and a
control variate anchored at w*, on the field's 9k DLN, at a step that the heating bound
ε ≤ 2ξδ/V allows (V measured by ``routes.py``: 1.4e4 with the control variate, so
ε = 5e-6 is δ ≈ 1.7%).

It prints, at each tenth of the run, the chains' λ̂ = nβ(L_n − L0) (mean over chains and
over that tenth), their distance from w*, and the kinetic energy per coordinate (1 at
the right temperature: its excess is the heating). Not a sampler of lambda-hat: no
adaptation, no convergence checks, no store.

    uv run python benchmarks/underdamped_probe.py --step 5e-6 --time 2   # ~11 minutes
"""

from __future__ import annotations

import argparse
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from routes import BATCH, CHAINS, GAMMA, N, build  # benchmarks/routes.py, beside this file

GROUPS = 10  # sub-batches whose spread estimates the minibatch's gradient noise


def probe(
    step: float, total_time: float, friction: float, control: bool, correct: bool, gamma: float
) -> None:
    loss, w_star, x, y, _, _ = build()
    nbeta = N / math.log(N)
    grad = jax.grad(loss)
    full_grad_star = grad(w_star, x, y) if control else jnp.zeros_like(w_star)
    full = jax.jit(jax.vmap(lambda w: loss(w, x, y)))
    l0 = float(loss(w_star, x, y))
    decay = math.exp(-friction * step)
    kick = math.sqrt(1.0 - decay**2)

    per_group = jax.vmap(grad, in_axes=(None, 0, 0))

    def force(w, rows):
        """(force, the variance of its minibatch noise per coordinate, estimated from
        the spread of GROUPS sub-batches' mean gradients)."""
        xs, ys = x[rows].reshape(GROUPS, -1, x.shape[1]), y[rows].reshape(GROUPS, -1, y.shape[1])
        g = per_group(w, xs, ys)
        if control:
            g = g - per_group(w_star, xs, ys)
        noise = nbeta**2 * jnp.var(g, axis=0, ddof=1) / GROUPS
        mean = jnp.mean(g, axis=0) + (full_grad_star if control else 0.0)
        return -(nbeta * mean + gamma * (w - w_star)), noise

    def one(state, key):
        w, v, f, noise = state
        k_rows, k_noise = jax.random.split(key)
        v = v + 0.5 * step * f
        w = w + 0.5 * step * v
        # the minibatch already put about step²·noise of variance into v: inject the rest
        inject = kick**2 - (step**2 * noise if correct else 0.0)
        v = decay * v + jnp.sqrt(jnp.maximum(inject, 0.0)) * jax.random.normal(
            k_noise, v.shape, v.dtype
        )
        w = w + 0.5 * step * v
        f, noise = force(w, jax.random.randint(k_rows, (BATCH,), 0, N))
        v = v + 0.5 * step * f
        return (w, v, f, noise), None

    @jax.jit
    def advance(states, key, count):
        def body(i, states):
            keys = jax.random.split(jax.random.fold_in(key, i), CHAINS)
            return jax.vmap(lambda s, k: one(s, k)[0])(states, keys)

        return jax.lax.fori_loop(0, count, body, states)

    key = jax.random.PRNGKey(0)
    ws = jnp.broadcast_to(w_star, (CHAINS, w_star.shape[0]))
    vs = jax.random.normal(jax.random.fold_in(key, 10**9), ws.shape, ws.dtype)
    rows = jax.random.randint(jax.random.fold_in(key, 10**9 + 1), (CHAINS, BATCH), 0, N)
    states = (ws, vs, *jax.vmap(force)(ws, rows))
    steps = int(round(total_time / step))
    chunk, record = 2000, max(1, steps // 10)
    print(
        f"BAOAB, ε = {step:g}, ξ = {friction:g}, control variate {control}, noise "
        f"correction {correct}, γ = {gamma:g}: {steps:,} steps "
        f"(Langevin time {total_time:g}: {total_time * gamma:g}/γ), {CHAINS} chains, batch {BATCH}"
    )
    print("| steps | Langevin time | λ̂ (mean of the tenth) | |w − w*| | kinetic energy |")
    print("|---|---|---|---|---|")
    start, done, window = time.perf_counter(), 0, []
    while done < steps:
        count = min(chunk, steps - done)
        states = advance(states, jax.random.fold_in(key, done), count)
        done += count
        window.append(np.asarray(full(states[0]), np.float64))
        if done % record < chunk or done == steps:
            llc = nbeta * (np.mean(window) - l0)
            dist = float(np.median(np.linalg.norm(np.asarray(states[0] - w_star), axis=1)))
            ke = float(np.mean(np.asarray(states[1], np.float64) ** 2))
            print(
                f"| {done:,} | {done * step:.3f} | {llc:.1f} | {dist:.2f} | {ke:.3f} |", flush=True
            )
            window = []
    print(f"[{time.perf_counter() - start:.0f} s]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=5e-6)
    parser.add_argument(
        "--time",
        type=float,
        default=2.0,
        help="Langevin time (1/γ is one relaxation of the flat directions)",
    )
    parser.add_argument("--friction", type=float, default=2.0)
    parser.add_argument("--no-control", action="store_true")
    parser.add_argument("--gamma", type=float, default=GAMMA, help="the localization γ")
    parser.add_argument(
        "--correct", action="store_true", help="inject less noise by the minibatch's own"
    )
    args = parser.parse_args()
    probe(args.step, args.time, args.friction, not args.no_control, args.correct, args.gamma)


if __name__ == "__main__":
    main()
