"""Normal crossings against their exact finite-temperature values (quadrature).

    uv run python benchmarks/crossings_table.py [--write docs/truth.md]

Three two-parameter singular models on noiseless data (x ~ N(0, 1), y = 0, n = 1000,
w* = 0, so L_n(w*) = 0): f = w1·w2·x (λ = 1/2, m = 2), f = w1²·w2·x (λ = 1/4, m = 1)
and f = (w1·x, w2²·x) (λ = 3/4, m = 1). For each, every sampler runs with
``draws = "auto"`` at the default β = 1/log n, γ = 1, and its λ̂ is compared with
nβ·E_π[K] computed by quadrature (``lambda_hat/numerics/quadrature.py``): the sampler's
own error, with no estimand bias. Then the β ladder: NUTS at nβ = 10², 10³, 10⁴ and the
fit of λ − (m − 1)/log nβ, against λ itself. Prints Markdown; ``--write`` replaces the
part of the file between the ``crossings`` markers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

N = 1000
BEGIN, END = "<!-- crossings:begin -->", "<!-- crossings:end -->"


def _two(p, x):
    import jax.numpy as jnp

    return jnp.concatenate([p[0] * x, p[1] ** 2 * x], axis=-1)


CROSSINGS = [
    ("w1·w2·x", lambda p, x: p[0] * p[1] * x, 1, lambda w: (w[..., 0] * w[..., 1]) ** 2, 0.5, 2),
    (
        "w1²·w2·x",
        lambda p, x: p[0] ** 2 * p[1] * x,
        1,
        lambda w: (w[..., 0] ** 2 * w[..., 1]) ** 2,
        0.25,
        1,
    ),
    ("(w1·x, w2²·x)", _two, 2, lambda w: w[..., 0] ** 2 + w[..., 1] ** 4, 0.75, 1),
]
SAMPLERS = {
    "nuts": {},
    "hmc": {},
    "mclmc": {},
    "sgld": {"step_size": 1e-3, "thin": 10},
}


def _data():
    x = np.random.default_rng(0).normal(size=(N, 1))
    return x, float(np.mean(x**2))


def _reference(K, m2, n_beta):
    from lambda_hat.numerics.quadrature import finite_temperature_llc

    return finite_temperature_llc(lambda w: 0.5 * m2 * K(w), 2, n_beta, 1.0)


def coverage_table() -> tuple[str, dict]:
    import jax.numpy as jnp

    import lambda_hat as lh

    x, m2 = _data()
    lines = [
        "| model | λ | m | nβ | exact nβ·E[K] | sampler | λ̂ ± MCSE | (λ̂ − exact)/MCSE | "
        "draws | verdict | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    covered: dict[str, list[bool]] = {s: [] for s in SAMPLERS}
    for name, apply, outputs, K, lam, m in CROSSINGS:
        y = np.zeros((N, outputs))
        for sampler, extra in SAMPLERS.items():
            start = time.time()
            r = lh.estimate(
                apply, jnp.zeros(2), (x, y), sampler=sampler, draws="auto", max_draws=6400, **extra
            )
            wall = time.time() - start
            ref = _reference(K, m2, r.n_beta)
            z = (r.llc_mean - ref) / r.llc_mcse
            covered[sampler].append(abs(z) <= 2)
            mark = "" if abs(z) <= 2 else " ✗"
            lines.append(
                f"| {name} | {lam:g} | {m} | {r.n_beta:.1f} | {ref:.4f} | {sampler} | "
                f"{r.llc_mean:.4f} ± {r.llc_mcse:.4f}{mark} | {z:+.2f} | "
                f"{r.budget['draws_done']} | {r.budget['verdict']} | {wall:.1f} |"
            )
    return "\n".join(lines), covered


def ladder_table() -> str:
    import jax.numpy as jnp

    import lambda_hat as lh
    from lambda_hat.analysis.ladder import fit

    x, m2 = _data()
    lines = [
        "| model | λ | nβ | exact | NUTS λ̂ ± MCSE | single λ̂ error (coldest) | "
        "ladder λ (fit of λ̂) | ladder error | ladder of the exact values |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    n_betas = [100.0, 1000.0, 10000.0]
    for name, apply, outputs, K, lam, _m in CROSSINGS:
        y = np.zeros((N, outputs))
        exact = [_reference(K, m2, nb) for nb in n_betas]
        runs = [
            lh.estimate(
                apply,
                jnp.zeros(2),
                (x, y),
                sampler="nuts",
                draws="auto",
                max_draws=6400,
                inverse_temperature=nb / N,
            )
            for nb in n_betas
        ]
        sampled = fit(n_betas, [r.llc_mean for r in runs], [r.llc_mcse for r in runs])
        of_exact = fit(n_betas, exact, [1e-4] * 3)
        single = (runs[-1].llc_mean - lam) / lam
        lines.append(
            f"| {name} | {lam:g} | {', '.join(f'{nb:g}' for nb in n_betas)} | "
            f"{', '.join(f'{v:.3f}' for v in exact)} | "
            f"{', '.join(f'{r.llc_mean:.3f} ± {r.llc_mcse:.3f}' for r in runs)} | "
            f"{100 * single:+.0f}% | {sampled['llc']:.3f} ± {sampled['llc_se']:.3f} "
            f"(m = {sampled['multiplicity']:.2f}) | "
            f"{100 * (sampled['llc'] - lam) / lam:+.0f}% | {of_exact['llc']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="update this Markdown file in place")
    args = parser.parse_args()
    start = time.time()
    table, covered = coverage_table()
    exact_samplers = [c for s in ("nuts", "hmc") for c in covered[s]]
    summary = "\n".join(
        f"- {s}: the exact value within ±2 MCSE on {sum(c)}/{len(c)}" for s, c in covered.items()
    )
    text = "\n\n".join(
        [
            BEGIN,
            table,
            "✗: the exact value lies outside λ̂ ± 2 MCSE.",
            summary,
            f"Exact samplers (HMC, NUTS): {sum(exact_samplers)}/{len(exact_samplers)} "
            f"= {100 * sum(exact_samplers) / len(exact_samplers):.0f}% covered.",
            ladder_table(),
            f"Generated by `benchmarks/crossings_table.py` in {time.time() - start:.0f} s.",
            END,
        ]
    )
    print(text)
    if args.write:
        from doc_block import write_block

        write_block(args.write, BEGIN, END, text)


if __name__ == "__main__":
    main()
