"""Sampler throughput against the limit: a bare jitted loop of the same gradients.

For each target size and sampler, measures chain-steps per second of the sampler and of
a bare ``lax.scan`` loop doing the same gradient evaluations on the same data (minibatch
gradients for SGLD, full-data gradients for HMC/NUTS/MCLMC), and prints their ratio
(cost per gradient, sampler / bare). Compile time and fixed costs are removed by timing
two run lengths and taking the difference.

    uv run python benchmarks/throughput.py                 # default grid
    uv run python benchmarks/throughput.py --sizes 1k --samplers sgld --chains 1 4
"""

from __future__ import annotations

import argparse
import math
import time

import jax
import jax.numpy as jnp

SIZES = {
    # name: (kind, layer sizes)  -> p parameters
    "1k": {"mlp": (8, [32, 16], 1), "dln": (16, [32], 16)},
    "10k": {"mlp": (32, [128, 64], 1), "dln": (50, [100], 50)},
    "100k": {"mlp": (100, [400, 150], 1), "dln": (160, [300], 160)},
}


def make_problem(kind: str, sizes, n: int, precision: str):
    from lambda_hat.config.specs import DataSpec, ModelSpec, TargetSpec, TrainingSpec
    from lambda_hat.numerics.loss import make_loss
    from lambda_hat.targets.build import build_target, flat_apply

    in_dim, widths, out_dim = sizes
    model = ModelSpec(
        kind=kind,
        in_dim=in_dim,
        widths=tuple(widths),
        out_dim=out_dim,
        activation="tanh" if kind == "mlp" else "identity",
        bias=kind == "mlp",
        rank=min(in_dim, out_dim) // 2 if kind == "dln" else None,
    )
    spec = TargetSpec(
        model, DataSpec(n_data=n), TrainingSpec(init="teacher", steps=0), 0, precision
    )
    arrays = build_target(spec)
    dtype = arrays.x.dtype
    apply_flat, _, p = flat_apply(model, dtype)
    return make_loss(apply_flat), arrays, p


def bare_loop(loss_fn, x, y, w0, chains: int, steps: int, grads_per_step: int, batch: int | None):
    """Seconds for ``steps`` x ``grads_per_step`` gradients of ``chains`` chains.

    Each chain takes its own minibatch (as SGLD's chains do): chains sharing one batch
    would let XLA merge their matrix products into one, which no sampler can do.
    """
    n = x.shape[0]

    @jax.jit
    def run(w):
        def chain(w, c):
            offset = c * (n // chains)

            def one(w, t):
                def grad_once(w, j):
                    if batch is None:
                        g = jax.grad(loss_fn)(w, (x, y))
                    else:
                        start = ((t * grads_per_step + j) * batch + offset) % (n - batch + 1)
                        xb = jax.lax.dynamic_slice_in_dim(x, start, batch)
                        yb = jax.lax.dynamic_slice_in_dim(y, start, batch)
                        g = jax.grad(loss_fn)(w, (xb, yb))
                    return w - 1e-9 * g, None

                w, _ = jax.lax.scan(grad_once, w, jnp.arange(grads_per_step))
                return w, None

            return jax.lax.scan(one, w, jnp.arange(steps))[0]

        return jax.vmap(chain)(w, jnp.arange(chains))

    w = jnp.broadcast_to(w0, (chains, *w0.shape))
    run(w).block_until_ready()  # compile
    start = time.perf_counter()
    run(w).block_until_ready()
    return time.perf_counter() - start


def time_sampler(name, posterior, params, chains, steps, thin, trace="full"):
    """(seconds per kept draw in steady state, SampleResult).

    Timed from the driver's first progress report (after compilation and the first
    chunk) to its last, so compile time and warm-up/adaptation are excluded.
    """
    from lambda_hat.numerics.samplers import get
    from lambda_hat.numerics.samplers.driver import Schedule

    marks = []

    def progress(done, total):
        marks.append((time.perf_counter(), done))

    result = get(name).sample(
        jax.random.PRNGKey(0),
        posterior,
        params,
        Schedule(chains, 0, max(2, steps // thin), thin, progress=progress, llc_trace=trace),
    )
    (t0, d0), (t1, d1) = marks[0], marks[-1]
    if d1 <= d0:
        raise RuntimeError("run too short to time: raise --steps / --full-steps")
    return (t1 - t0) / (d1 - d0), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["1k", "10k", "100k"])
    ap.add_argument("--kinds", nargs="+", default=["mlp", "dln"])
    ap.add_argument("--samplers", nargs="+", default=["sgld", "hmc", "nuts", "mclmc"])
    ap.add_argument("--chains", nargs="+", type=int, default=[1, 4])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--steps", type=int, default=20000, help="SGLD steps timed")
    ap.add_argument("--full-steps", type=int, default=30, help="HMC/NUTS/MCLMC steps timed")
    ap.add_argument("--leapfrog", type=int, default=4, help="HMC leapfrog steps per step")
    ap.add_argument(
        "--full-n", type=int, default=None, help="n for full-gradient samplers (default: --n)"
    )
    ap.add_argument("--thin", type=int, default=None, help="SGLD thinning (default 1)")
    ap.add_argument(
        "--sgld-trace", default="minibatch", choices=("minibatch", "full"), help="SGLD llc_trace"
    )
    args = ap.parse_args()

    from lambda_hat.config.specs import DEFAULT_PRECISION, SAMPLER_PARAMS
    from lambda_hat.numerics.posterior import make_posterior

    print(
        f"jax {jax.__version__} on {jax.devices()[0].device_kind}; n={args.n}, batch={args.batch}"
    )
    print("| target | p | n | sampler | chains | sampler steps/s | bare grads/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for kind in args.kinds:
            for sampler in args.samplers:
                precision = DEFAULT_PRECISION[sampler]
                jax.config.update("jax_enable_x64", precision == "float64")
                n = args.n if sampler in ("sgld", "sghmc") else (args.full_n or args.n)
                loss_fn, arrays, p = make_problem(kind, SIZES[size][kind], n, precision)
                posterior = make_posterior(
                    loss_fn, (arrays.x, arrays.y), arrays.w_star, 1 / math.log(n), 1.0
                )
                for chains in args.chains:
                    row = _measure(
                        sampler, posterior, loss_fn, arrays, chains, args, SAMPLER_PARAMS[sampler]
                    )
                    print(
                        f"| {kind}-{size} | {p} | {n} | {sampler} | {chains} | "
                        f"{row[0]:.1f} | {row[1]:.1f} | {row[2]:.2f} |",
                        flush=True,
                    )


def _measure(sampler, posterior, loss_fn, arrays, chains, args, params_cls):
    """(sampler chain-steps/s, bare gradients/s, cost per gradient: sampler / bare)."""
    import dataclasses

    if sampler in ("sgld", "sghmc"):  # minibatch: one gradient of `batch` rows a step
        own = {"friction": 1.0} if sampler == "sghmc" else {}
        params = params_cls(batch_size=args.batch, step_size=1e-7, **own)
        thin = args.thin or 1
        trace = args.sgld_trace
        per_draw, _ = time_sampler(sampler, posterior, params, chains, args.steps, thin, trace)
        per_step = per_draw / thin
        bare = (
            bare_loop(loss_fn, arrays.x, arrays.y, arrays.w_star, chains, args.steps, 1, args.batch)
            / args.steps
        )
        return 1 / per_step, 1 / bare, per_step / bare
    fields = {f.name for f in dataclasses.fields(params_cls)}
    kwargs = {"warmup": 0} if "warmup" in fields else {}
    if "num_integration_steps" in fields:
        kwargs["num_integration_steps"] = args.leapfrog
    if "max_num_doublings" in fields:
        kwargs["max_num_doublings"] = 3
    if sampler == "mclmc":
        kwargs = {"tune": False, "L": 1.0, "step_size": 0.01}
    per_draw, result = time_sampler(
        sampler, posterior, params_cls(**kwargs), chains, args.full_steps, 1
    )
    sampling = result.fges_per_chain - result.warmup_fges_per_chain
    grads_per_step = float(sampling.mean()) / max(2, args.full_steps)
    per_grad = per_draw / grads_per_step
    bare_steps = max(4, int(round(grads_per_step * 4)))
    bare = (
        bare_loop(loss_fn, arrays.x, arrays.y, arrays.w_star, chains, bare_steps, 1, None)
        / bare_steps
    )
    return 1 / per_draw, 1 / bare, per_grad / bare


if __name__ == "__main__":
    main()
