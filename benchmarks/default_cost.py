"""What a run at the defaults costs on DLNs from 1k to 1M parameters, from a short
measurement of each network rather than the run itself (which takes hours to years).

Default SGLD (``[[samplers]] name = "sgld"``) takes its step from the curvature at w*,
ε = 4·TOLERANCE/h_max with h_max = nβ·λ_max(∇²L_n) + γ, and then runs at least: its
step pilot's first round (1/γ of Langevin time), a burn-in of 1/γ and 200 draws of
0.01/γ each, so at least 4/(γ·ε) = h_max/(0.02·γ) steps per chain (more when the pilot
lowers the step where the chains go). HMC at its defaults runs 1,500 transitions of 16
full-data gradients. For each network this script measures h_max at w* (on BOUND_ROWS
rows, as a written step's bias bound does), the time of one SGLD step of 4 chains at the
default batch (256) and of one full-data gradient of 4 chains, and multiplies.

    uv run python benchmarks/default_cost.py [--sizes 1k 10k 100k 1m] [--n 10000]
    uv run python benchmarks/default_cost.py --sizes 10k --n 1000 10000 100000   # against n
    uv run python benchmarks/default_cost.py --sizes 100k 1m --batch 64          # a smaller batch
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import SIZES  # noqa: E402  (benchmarks/scale.py: the same networks)

from lambda_hat.config.specs import SGLDParams  # noqa: E402
from lambda_hat.numerics import step_size as rule  # noqa: E402
from lambda_hat.numerics.samplers import sgld  # noqa: E402
from tests.numerics.helpers import dln_problem  # noqa: E402

CHAINS = 4
HMC_FGES = 1500 * 16  # warm-up 500 + 1,000 draws, 16 leapfrog steps each
DEPTHS = {"10k-d3": (50, [50, 50, 50], 50, 5)}  # ~10k parameters at depth 4


def seconds_per_call(fn, *args, repeat: int = 3) -> float:
    """The best of ``repeat`` timed calls after one that compiles."""
    jax.block_until_ready(fn(*args))
    best = math.inf
    for _ in range(repeat):
        clock = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - clock)
    return best


def measure(name: str, n: int, batch: int = 256) -> dict:
    i, widths, o, rank = {**SIZES, **DEPTHS}[name]
    posterior, _, true = dln_problem([i, *widths, o], rank, n)
    params = SGLDParams(step_size=1e-9, batch_size=batch)
    curvature = rule.examine(posterior, params, 0, rule.BOUND_ROWS)
    h_max = curvature["h_max"]
    steps = h_max / (rule.TOLERANCE * posterior.localization)  # 4/(γ·ε), ε = 0.08/h
    key, data = jax.random.PRNGKey(0), posterior.arrays

    @jax.jit
    def steps_of(data, states, count):  # the data as an argument: no constant folding
        kernel = sgld.kernel_for(posterior.rebind(data), params, 1e-9)

        def body(t, states):
            keys = jax.random.split(jax.random.fold_in(key, t), CHAINS)
            return jax.vmap(kernel, in_axes=(0, 0, None))(keys, states, t)[0]

        return jax.lax.fori_loop(0, count, body, states)

    states = sgld.initial_states(key, posterior, params, CHAINS)
    per_step = seconds_per_call(steps_of, data, states, 200) / 200
    sghmc_at_w_star = _sghmc(posterior, h_max, key)
    gradient = jax.jit(lambda data, w: jax.vmap(jax.grad(posterior.rebind(data).full_loss))(w))
    w = np.broadcast_to(np.asarray(posterior.w_star), (CHAINS, posterior.num_params))
    per_gradient = seconds_per_call(gradient, data, w)
    return {
        "name": name,
        "p": posterior.num_params,
        "n": n,
        "n_beta": posterior.n_beta,
        "lambda": true,
        "h_max": h_max,
        "hessian_top": curvature["hessian_top_eigenvalue"],
        "step": 4 * rule.TOLERANCE / h_max,
        "sgld_steps": steps,
        "sgld_seconds": steps * per_step,
        "hmc_seconds": HMC_FGES * per_gradient,
        "step_ms": 1e3 * per_step,
        "gradient_ms": 1e3 * per_gradient,
        **sghmc_at_w_star,
    }


def _sghmc(posterior, h_max: float, key) -> dict:
    """Default SGHMC's least work from w*'s figures: the step, friction and batch its
    rule chooses there (the curvature and the minibatch noise), one pilot round, a
    burn-in of 100 and 200 draws at its automatic thin; and the time of its 4-chain step
    at that batch. Its pilot raises the batch and lowers the step where the chains go
    (on the truth suite's deep networks 13–50× the batch, 16–36× smaller steps)."""
    from lambda_hat.numerics import underdamped as ud
    from lambda_hat.numerics.samplers import sghmc
    from lambda_hat.samplers.sghmc import PILOT_TIME

    gamma, n = posterior.localization, posterior.n
    noise = ud.gradient_noise(posterior, ud.noise_rows(n), seed=0)["noise"]
    step, friction, batch = ud.choose(h_max, noise, n, gamma)
    thin = ud.auto_thin(step, friction, gamma)["thin"]
    pilot = round(PILOT_TIME * ud.relaxation_time(friction, gamma) / step)
    steps = pilot + (100 + 200) * thin

    @jax.jit
    def steps_of(data, states, count):  # the data as an argument: no constant folding
        kernel = sghmc.build_kernel(posterior.rebind(data), step, friction, batch)

        def body(t, states):
            keys = jax.random.split(jax.random.fold_in(key, t), CHAINS)
            return jax.vmap(kernel, in_axes=(0, 0, None))(keys, states, t)[0]

        return jax.lax.fori_loop(0, count, body, states)

    states = sghmc.initial_states(key, posterior, batch, CHAINS)
    per_step = seconds_per_call(steps_of, posterior.arrays, states, 200) / 200
    return {
        "sghmc_step": step,
        "sghmc_batch": batch,
        "sghmc_steps": steps,
        "sghmc_seconds": steps * per_step,
        "sghmc_step_ms": 1e3 * per_step,
    }


def duration(s: float) -> str:
    for size, unit in ((365 * 86400, "years"), (86400, "days"), (3600, "h"), (60, "min")):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=[*SIZES, *DEPTHS])
    parser.add_argument("--n", nargs="+", type=int, default=[10_000])
    parser.add_argument("--batch", type=int, default=256, help="SGLD's batch (default 256)")
    args = parser.parse_args()
    print(
        "| DLN | p | n | nβ | λ_max(∇²L) | h_max | auto ε | default SGLD: steps per chain, "
        "at least | its time | 4-chain step ms | default HMC (24,000 FGEs) | full gradient ms "
        "| default SGHMC at w*: ε, batch | its steps, at least | its time | its step ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.sizes:
        for n in args.n:
            r = measure(name, n, args.batch)
            print(
                f"| {r['name']} | {r['p']:,} | {r['n']:,} | {r['n_beta']:,.0f} | "
                f"{r['hessian_top']:.3g} | {r['h_max']:.3g} | {r['step']:.2g} | "
                f"{r['sgld_steps']:,.0f} | {duration(r['sgld_seconds'])} | {r['step_ms']:.3g} | "
                f"{duration(r['hmc_seconds'])} | {r['gradient_ms']:.3g} | "
                f"{r['sghmc_step']:.2g}, {r['sghmc_batch']:,} | {r['sghmc_steps']:,.0f} | "
                f"{duration(r['sghmc_seconds'])} | {r['sghmc_step_ms']:.3g} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
