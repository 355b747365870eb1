"""Does an exact-sampler reference depend on where its chains start?

HMC and NUTS start every chain at w*, so split R-hat compares chains that have all
explored the same neighbourhood and cannot see directions none of them has reached yet.
On the larger truth DLNs SGLD's chains go much further out along the directions only
the localization γ holds. This runs NUTS twice on one stored target: from w*, and from
where SGLD pilot chains end (Leimkuhler–Matthews at w*'s auto step × ``--fraction``, for
``--time``/γ of Langevin time: an over-dispersed start), and prints for each λ̂ and the
median |w − w*| per quarter of the kept draws. If the two agree, and the far chains do
not drift back in, the reference does not depend on its start; ``--spread`` > 1 starts
further out still, to bracket the equilibrium from outside.

    uv run python benchmarks/reference_start.py STORE TARGET_ID [--warmup 200] [--draws 400]

Defaults are the truth suite's: β = 1/log n, γ = 1, 4 chains, NUTS with at most 2⁵
leapfrog steps; float64 throughout (one process).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def _posterior(root: Path, tid: str, gamma: float):
    from lambda_hat.config.specs import NUTSParams, SamplerSpec, resolve_run
    from lambda_hat.runner import load_target, target_spec
    from lambda_hat.sampling import posterior_of
    from lambda_hat.store.layout import Layout
    from lambda_hat.targets.build import dtype_of, flat_apply

    meta, data, params = load_target(root, tid)
    model = target_spec(meta, Layout(root).target_dir(tid)).model
    spec = resolve_run(
        SamplerSpec(name="nuts", params=NUTSParams(), localization=gamma), tid, len(data["X"])
    )
    apply_flat, _, _ = flat_apply(model, dtype_of("float64"))
    return posterior_of(apply_flat, model.loss, data["X"], data["Y"], params["w_star"], spec)


def _blocks(posterior, result, L0: float) -> list[tuple[float, float]]:
    """(λ̂, median |w − w*|) over each quarter of the kept draws, chains pooled."""
    import numpy as np

    from lambda_hat.numerics.estimator import llc_trace

    llc = llc_trace(result.loss, L0, posterior.n_beta)
    dist = np.linalg.norm(result.positions - np.asarray(posterior.w_star), axis=-1)
    quarters = np.array_split(np.arange(llc.shape[1]), 4)
    return [(float(llc[:, q].mean()), float(np.median(dist[:, q]))) for q in quarters]


def _nuts(posterior, args, start, seed: int):
    import jax

    from lambda_hat.config.specs import NUTSParams
    from lambda_hat.numerics.samplers import nuts
    from lambda_hat.numerics.samplers.driver import Schedule

    params = NUTSParams(warmup=args.warmup, max_num_doublings=args.doublings)
    schedule = Schedule(args.chains, 0, args.draws, keep_positions=True)
    return nuts.sample(jax.random.PRNGKey(seed), posterior, params, schedule, start=start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("target")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("--doublings", type=int, default=5)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--localization", type=float, default=1.0)
    parser.add_argument("--time", type=float, default=1.0, help="SGLD pilot, in units of 1/γ")
    parser.add_argument("--fraction", type=float, default=1.0, help="of w*'s auto step")
    parser.add_argument(
        "--spread", type=float, default=1.0, help="start NUTS at w* + spread·(SGLD's end − w*)"
    )
    parser.add_argument("--start-file", type=Path, help="keep SGLD's end here (.npz) and reuse it")
    parser.add_argument("--far-only", action="store_true", help="skip the run from w*")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    from lambda_hat.numerics.samplers.starts import pilot_ends
    from lambda_hat.numerics.step_size import top_curvatures

    posterior = _posterior(args.store, args.target, args.localization)
    L0 = float(jax.jit(posterior.full_loss)(posterior.w_star))
    clock = time.time()
    if args.start_file is not None and args.start_file.exists():  # an earlier pilot's
        saved = np.load(args.start_file)
        far, pilot = jax.numpy.asarray(saved["position"]), json.loads(str(saved["record"]))
    else:
        key = jax.random.PRNGKey(args.seed + 1)
        far, pilot = pilot_ends(key, posterior, args.chains, args.time, args.fraction)
        if args.start_file is not None:
            np.savez(args.start_file, position=np.asarray(far), record=json.dumps(pilot))
    h_far = np.asarray(top_curvatures(posterior, far))
    d_far = np.linalg.norm(np.asarray(far - posterior.w_star), axis=1)
    print(
        f"target {args.target}: p = {posterior.num_params}, n = {posterior.n}, "
        f"nβ = {posterior.n_beta:.1f}, γ = {args.localization}; h_max at w* "
        f"{pilot['h_max_at_w_star']:.4g}"
    )
    print(
        f"SGLD pilot: ε = {pilot['pilot_step_size']:.3g}, {pilot['pilot_steps']:,} steps "
        f"({time.time() - clock:.0f} s): |w − w*| {', '.join(f'{d:.1f}' for d in d_far)}; "
        f"h_max {', '.join(f'{h:.3g}' for h in h_far)} "
        f"({np.max(h_far) / pilot['h_max_at_w_star']:.0f}× w*'s)"
    )
    print(f"NUTS: {args.warmup} adaptation steps, {args.chains} × {args.draws} draws")
    print("| start | λ̂ by quarter of the draws | λ̂ (all) | |w − w*| by quarter | wall s |")
    print("|---|---|---|---|---|")
    starts = [] if args.far_only else [("w*", None)]
    away = posterior.w_star + args.spread * (far - posterior.w_star)
    starts.append(("SGLD's end" if args.spread == 1 else f"w* + {args.spread:g}×(end − w*)", away))
    for name, start in starts:
        clock = time.time()
        result = _nuts(posterior, args, start, args.seed)
        blocks = _blocks(posterior, result, L0)
        mean = float(np.mean([b[0] for b in blocks]))
        print(
            f"| {name} | {', '.join(f'{b[0]:.2f}' for b in blocks)} | {mean:.2f} | "
            f"{', '.join(f'{b[1]:.1f}' for b in blocks)} | {time.time() - clock:.0f} |",
            flush=True,
        )
    positions = result.positions[:, -1]
    h_end = np.asarray(top_curvatures(posterior, jax.numpy.asarray(positions)))
    print(f"h_max at the far NUTS chains' last draws: {', '.join(f'{h:.3g}' for h in h_end)}")


if __name__ == "__main__":
    main()
