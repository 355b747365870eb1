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
    from lambda_hat.numerics.target import build_target, flat_apply

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
    spec = TargetSpec(model, DataSpec(n_data=n), TrainingSpec(init="teacher", steps=0), 0,
                      precision)
    arrays = build_target(spec)
    dtype = arrays.x.dtype
    apply_flat, _, p = flat_apply(model, dtype)
    return make_loss(apply_flat), arrays, p


def bare_loop(loss_fn, x, y, w0, chains: int, steps: int, grads_per_step: int, batch: int | None):
    """Time ``steps`` iterations x ``grads_per_step`` gradients for ``chains`` chains."""
    n = x.shape[0]

    @jax.jit
    def run(w):
        def one(w, t):
            def grad_once(w, j):
                if batch is None:
                    g = jax.grad(loss_fn)(w, x, y)
                else:
                    start = ((t * grads_per_step + j) * batch) % (n - batch + 1)
                    xb = jax.lax.dynamic_slice_in_dim(x, start, batch)
                    yb = jax.lax.dynamic_slice_in_dim(y, start, batch)
                    g = jax.grad(loss_fn)(w, xb, yb)
                return w - 1e-9 * g, None

            w, _ = jax.lax.scan(grad_once, w, jnp.arange(grads_per_step))
            return w, None

        def chain(w):
            return jax.lax.scan(one, w, jnp.arange(steps))[0]

        return jax.vmap(chain)(w)

    w = jnp.broadcast_to(w0, (chains, *w0.shape))
    run(w).block_until_ready()  # compile
    start = time.perf_counter()
    run(w).block_until_ready()
    return time.perf_counter() - start


def time_sampler(name, posterior, params, chains, steps, thin):
    from lambda_hat.numerics.samplers import get

    module = get(name)
    start = time.perf_counter()
    result = module.sample(
        jax.random.PRNGKey(0), posterior, params, num_chains=chains, burnin=0,
        draws=max(1, steps // thin), thin=thin,
    )
    return time.perf_counter() - start, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["1k", "10k", "100k"])
    ap.add_argument("--kinds", nargs="+", default=["mlp", "dln"])
    ap.add_argument("--samplers", nargs="+", default=["sgld", "hmc", "nuts", "mclmc"])
    ap.add_argument("--chains", nargs="+", type=int, default=[1, 4])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--steps", type=int, default=400, help="SGLD steps in the long run")
    ap.add_argument("--full-steps", type=int, default=20, help="HMC/NUTS/MCLMC steps")
    ap.add_argument("--thin", type=int, default=None, help="SGLD thinning (default n/batch)")
    args = ap.parse_args()

    from lambda_hat.config.specs import DEFAULT_PRECISION, SAMPLER_PARAMS
    from lambda_hat.numerics.posterior import make_posterior

    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; n={args.n}, batch={args.batch}")
    print("| target | p | sampler | chains | sampler steps/s | bare steps/s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for kind in args.kinds:
            for sampler in args.samplers:
                precision = DEFAULT_PRECISION[sampler]
                jax.config.update("jax_enable_x64", precision == "float64")
                loss_fn, arrays, p = make_problem(kind, SIZES[size][kind], args.n, precision)
                posterior = make_posterior(loss_fn, arrays.x, arrays.y, arrays.w_star,
                                           1 / math.log(args.n), 1.0)
                for chains in args.chains:
                    row = _measure(sampler, posterior, loss_fn, arrays, chains, args,
                                   SAMPLER_PARAMS[sampler])
                    print(f"| {kind}-{size} | {p} | {sampler} | {chains} | "
                          f"{row[0]:.1f} | {row[1]:.1f} | {row[2]:.2f} |", flush=True)


def _measure(sampler, posterior, loss_fn, arrays, chains, args, params_cls):
    import dataclasses

    if sampler == "sgld":
        params = params_cls(batch_size=args.batch, step_size=1e-7)
        thin = args.thin or max(1, args.n // args.batch)
        short, long = max(thin, args.steps // 4), args.steps
        t_short, _ = time_sampler(sampler, posterior, params, chains, short, thin)
        t_long, _ = time_sampler(sampler, posterior, params, chains, long, thin)
        per_step = (t_long - t_short) / (long - short)
        bare = bare_loop(loss_fn, arrays.x, arrays.y, arrays.w_star, chains, long, 1, args.batch)
        return 1 / per_step, long / bare, per_step / (bare / long)
    fields = {f.name for f in dataclasses.fields(params_cls)}
    kwargs = {"warmup": 0} if "warmup" in fields else {}
    if sampler == "mclmc":
        kwargs = {"tune": False, "L": 1.0, "step_size": 0.01}
    params = params_cls(**kwargs)
    short, long = max(2, args.full_steps // 4), args.full_steps
    t_short, r_short = time_sampler(sampler, posterior, params, chains, short, 1)
    t_long, r_long = time_sampler(sampler, posterior, params, chains, long, 1)
    grads = (r_long.fges_per_chain.mean() - r_short.fges_per_chain.mean())
    per_grad = (t_long - t_short) / max(grads, 1e-9)
    bare_steps = max(2, int(round(grads)))
    bare = bare_loop(loss_fn, arrays.x, arrays.y, arrays.w_star, chains, bare_steps, 1, None)
    per_grad_bare = bare / bare_steps
    steps_per_s = (long - short) / (t_long - t_short)
    return steps_per_s, 1 / per_grad_bare, per_grad / per_grad_bare


if __name__ == "__main__":
    main()
