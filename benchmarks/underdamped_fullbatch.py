"""A probe of full-batch underdamped Langevin (BAOAB, unit mass, friction 2√γ, a fixed
step c/√h_max with h_max the posterior's stiffest curvature at w*) on a truth-suite DLN,
before any such sampler is built: how fast λ̂ moves, where it settles, and whether a
fixed step stays stable while the chains spread along the network's symmetry orbits.

It prints, every tenth of the run, the chains' λ̂ = nβ(L_n − L0) (each chain's mean over
that span of Langevin time), their mean distance from w*, and the kinetic energy per
coordinate (1 at the right temperature). Not a sampler of lambda-hat: no adaptation, no
checks, no store.

    uv run python benchmarks/underdamped_fullbatch.py                    # depth 5, p = 2000
    uv run python benchmarks/underdamped_fullbatch.py --c 0.1 --time 4
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lambda_hat.numerics.step_size import top_curvature  # noqa: E402
from tests.numerics.helpers import dln_problem  # noqa: E402

CHAINS = 4


def baoab(posterior, step: float, friction: float):
    """One BAOAB step of one chain: state (w, v, force, loss) -> state, (loss, v²)."""
    nbeta, gamma, w_star = posterior.n_beta, posterior.localization, posterior.w_star
    value_and_grad = jax.value_and_grad(posterior.full_loss)
    decay = math.exp(-friction * step)
    kick = math.sqrt(1.0 - decay**2)

    def force(w):
        loss, g = value_and_grad(w)
        return loss, -(nbeta * g + gamma * (w - w_star))

    def one(state, key):
        w, v, f, _ = state
        v = v + 0.5 * step * f
        w = w + 0.5 * step * v
        v = decay * v + kick * jax.random.normal(key, v.shape, v.dtype)
        w = w + 0.5 * step * v
        loss, f = force(w)
        v = v + 0.5 * step * f
        return (w, v, f, loss), (loss, jnp.mean(v * v))

    return force, one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,20,20,20,20,20", help="layer sizes")
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1, help="the truth suite's seed")
    parser.add_argument("--c", type=float, default=0.03, help="step = c/√h_max")
    parser.add_argument("--time", type=float, default=6.0, help="Langevin time to run")
    parser.add_argument("--gamma", type=float, default=1.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    posterior, L0, true = dln_problem(sizes, args.rank, 2000, seed=args.seed, gamma=args.gamma)
    h_max = top_curvature(posterior)
    step, friction = args.c / math.sqrt(h_max), 2.0 * math.sqrt(args.gamma)
    print(f"p = {posterior.num_params}, h_max = {h_max:.4g}, step = {step:.3g}, true λ = {true}")
    force, one = baoab(posterior, step, friction)
    run = jax.jit(jax.vmap(lambda s, k: jax.lax.scan(one, s, k)))
    key = jax.random.PRNGKey(0)
    w = jnp.broadcast_to(posterior.w_star, (CHAINS, posterior.num_params))
    loss, f = jax.vmap(force)(w)
    state = (w, jax.random.normal(key, w.shape, w.dtype), f, loss)
    per_block = max(1, round(0.1 / step))
    blocks = round(args.time / 0.1)
    clock = time.perf_counter()
    for b in range(blocks):
        keys = jax.random.split(jax.random.fold_in(key, b), CHAINS * per_block)
        state, (losses, v2) = run(state, keys.reshape(CHAINS, per_block, -1))
        if (b + 1) % max(1, blocks // 20):
            continue
        lam = posterior.n_beta * (np.asarray(losses).mean(axis=1) - L0)
        dist = np.linalg.norm(np.asarray(state[0]) - np.asarray(posterior.w_star), axis=1)
        print(
            f"t = {0.1 * (b + 1):.1f} ({time.perf_counter() - clock:.0f} s): λ̂ = {lam.mean():.1f} "
            f"{np.round(lam, 1)}, |w − w*| = {dist.mean():.2f}, v² = {float(np.mean(v2)):.3f}"
        )


if __name__ == "__main__":
    main()
