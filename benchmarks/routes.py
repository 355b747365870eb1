"""The routes to a trustworthy λ̂ on the field's 9,000-parameter DLN, budgeted before any
of them is built (issue #28's first step: "measure; do not guess").

The network: DLN 40→50→50→50→40, rank-10 teacher, n = 100,000 (noise 0.1, the
benchmark file's defaults), w* = the teacher, nβ = n/log n, γ = 1. Its loss is a
quadratic of the end-to-end map M = W4·W3·W2·W1, so the Gauss–Newton matrix
G(w) = Jᵀ (Σ ⊗ I) J (J = ∂vec M/∂w, Σ = XᵀX/n) is its Hessian wherever M = M*, that is
at w* and all along the symmetry orbit W_l → G_l·W_l, W_(l+1) → W_(l+1)·G_l⁻¹ that
chains drift along. Measured here, on this machine:

1. the cost of one minibatch step (batch 500) and of one full-data gradient, 4 chains,
   float32, each in a bare jitted loop (the floor of any sampler);
2. the posterior's stiffest curvature h = λ_max(nβ·G + γ), at w* and at orbit points
   as far from w* as chains go (|w − w*| of 5 to 50: docs/truth.md), so κ = h/γ there;
3. the condition number left where chains go when the metric is the posterior's own
   Hessian at w* (a mass matrix or preconditioner fixed at w*): the spectrum of
   P^½ (nβ·G(w) + γ) P^½ with P = (nβ·G(w*) + γ)⁻¹;
4. the minibatch gradient noise per coordinate of the stiff subspace, with and without a
   control variate anchored at w*: at a point of the typical set's loss (nβ·(L − L0) = λ
   along a random direction) and at the orbit points (where the chains of
   ``underdamped_probe.py`` go, and where the noise is several times larger).

From these it prints, per route, the gradient work and this machine's seconds per unit
of Langevin time (1/γ: one relaxation of the slowest directions), for 4 chains. A
converged λ̂ (ESS 400 over 4 chains) needs tens of such units; the table says how many
minutes one unit costs, which is what separates the routes.

    uv run python benchmarks/routes.py          # about 5 minutes here
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np

LAYERS = (40, 50, 50, 50, 40)
RANK, N, BATCH, CHAINS, GAMMA, TRUE_LLC = 10, 100_000, 500, 4, 1.0, 725.0
DISTANCES = (5.0, 10.0, 20.0, 50.0)
HEATING = 0.05  # relative kinetic-energy excess allowed to minibatch heating
FRICTION = 2.0 * math.sqrt(GAMMA)  # critical damping of the slowest direction


def build():
    """(loss_fn(w, x, y), w*, x, y, unravel, apply_flat) of the benchmark's target."""
    from lambda_hat.config.specs import DataSpec, ModelSpec, TargetSpec, TrainingSpec
    from lambda_hat.numerics.loss import make_loss
    from lambda_hat.targets.build import build_target, flat_apply

    model = ModelSpec(
        kind="dln",
        in_dim=LAYERS[0],
        widths=LAYERS[1:-1],
        out_dim=LAYERS[-1],
        rank=RANK,
        activation="identity",
        bias=False,
    )
    spec = TargetSpec(
        model, DataSpec(n_data=N), TrainingSpec(init="teacher", steps=0), 0, "float32"
    )
    arrays = build_target(spec)
    apply_flat, unravel, _ = flat_apply(model, jnp.float32)
    batch_loss = make_loss(apply_flat)

    def loss(w, x, y):
        return batch_loss(w, (x, y))

    return (
        loss,
        jnp.asarray(arrays.w_star),
        jnp.asarray(arrays.x),
        jnp.asarray(arrays.y),
        unravel,
        apply_flat,
    )


def seconds(fn, *args, repeat: int) -> float:
    """Seconds per call of a compiled ``fn`` (compiled and warmed first)."""
    jax.block_until_ready(fn(*args))
    start = time.perf_counter()
    for _ in range(repeat):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeat


def costs(loss, w, x, y) -> tuple[float, float]:
    """(seconds per minibatch step, per full-data gradient), 4 chains each."""
    ws = jnp.broadcast_to(w, (CHAINS, w.shape[0]))
    grad = jax.grad(loss)

    @jax.jit
    def steps(ws, key):
        def body(i, ws):
            rows = jax.random.randint(jax.random.fold_in(key, i), (CHAINS, BATCH), 0, N)
            g = jax.vmap(lambda w, r: grad(w, x[r], y[r]))(ws, rows)
            return ws - 1e-9 * g

        return jax.lax.fori_loop(0, 500, body, ws)

    full = jax.jit(jax.vmap(lambda w: grad(w, x, y)))
    return seconds(steps, ws, jax.random.PRNGKey(0), repeat=3) / 500, seconds(full, ws, repeat=5)


def gauss_newton(apply_flat, w, sigma) -> np.ndarray:
    """G(w) = Jᵀ (Σ ⊗ I) J, float64 (p × p), J = ∂vec M/∂w at w."""
    eye = jnp.eye(LAYERS[0], dtype=jnp.float32)
    jac = np.asarray(jax.jacfwd(lambda v: apply_flat(v, eye).ravel())(w), np.float64)
    # apply_flat(w, I)[j, k] = M[k, j]: rows of J indexed j·out + k
    out = LAYERS[-1]
    weight = np.kron(sigma, np.eye(out))
    return jac.T @ weight @ jac


def orbit_point(unravel, w, distance: float, seed: int = 0):
    """A point of w*'s symmetry orbit at about ``distance`` from w* (same map M)."""
    from jax.flatten_util import ravel_pytree

    layers = [np.asarray(a[0], np.float64) for a in unravel(w)]
    rng = np.random.default_rng(seed)
    generators = [rng.normal(size=(h, h)) / math.sqrt(h) for h in LAYERS[1:-1]]

    def moved(t):
        import scipy.linalg

        out = [a.copy() for a in layers]
        for i, a in enumerate(generators):  # W_i -> G W_i, W_(i+1) -> W_(i+1) G^-1
            g = scipy.linalg.expm(t * a)
            out[i] = g @ out[i]
            out[i + 1] = out[i + 1] @ np.linalg.inv(g)
        return out

    def gap(t):
        moved_layers = moved(t)
        return np.linalg.norm(
            np.concatenate([(b - a).ravel() for a, b in zip(layers, moved_layers, strict=True)])
        )

    lo, hi = 0.0, 1.0
    while gap(hi) < distance:
        hi *= 2
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gap(mid) < distance else (lo, mid)
    tree = [(jnp.asarray(m, jnp.float32), jnp.zeros((0,), jnp.float32)) for m in moved(hi)]
    return ravel_pytree(tree)[0]


def noise(loss, w_typ, w_star, x, y, nbeta: float, rows: int = 2000) -> tuple[float, float]:
    """Minibatch gradient noise per stiff coordinate at ``w_typ``: nβ²·tr Var(∇ℓ_i)/(b·k),
    plain and with the control variate ∇ℓ_i(w*) subtracted (k = the stiff dimensions)."""
    per_row = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)))
    xs, ys = x[:rows, None], y[:rows, None]
    g = np.asarray(per_row(w_typ, xs, ys), np.float64)
    g0 = np.asarray(per_row(w_star, xs, ys), np.float64)
    k = RANK * (LAYERS[0] + LAYERS[-1] - RANK)
    scale = nbeta**2 / (BATCH * k)

    def trace(a):
        return float(np.sum(np.var(a, axis=0)))

    return scale * trace(g), scale * trace(g - g0)


def typical(loss, w, x, y, nbeta: float, seed: int = 1):
    """w* + s·u along a random direction u with nβ·(L − L0) = λ (the typical loss)."""
    full = jax.jit(lambda v: loss(v, x, y))
    l0 = float(full(w))
    u = jax.random.normal(jax.random.PRNGKey(seed), w.shape, w.dtype)
    u = u / jnp.linalg.norm(u)
    lo, hi = 0.0, 1.0
    while nbeta * (float(full(w + hi * u)) - l0) < TRUE_LLC:
        hi *= 2
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if nbeta * (float(full(w + mid * u)) - l0) < TRUE_LLC else (lo, mid)
    return w + hi * u


def main() -> None:
    start = time.perf_counter()
    loss, w, x, y, unravel, apply_flat = build()
    nbeta = N / math.log(N)
    t_step, t_full = costs(loss, w, x, y)
    sigma = np.asarray(x, np.float64).T @ np.asarray(x, np.float64) / N
    g_star = gauss_newton(apply_flat, w, sigma)
    h_star = nbeta * float(np.linalg.eigvalsh(g_star)[-1]) + GAMMA
    # P^(1/2) from w*'s posterior Hessian, by its eigendecomposition
    evals, evecs = np.linalg.eigh(nbeta * g_star + GAMMA * np.eye(g_star.shape[0]))
    root = (evecs / np.sqrt(evals)) @ evecs.T
    print(f"target: DLN {LAYERS}, p = {w.shape[0]:,}, n = {N:,}, nβ = {nbeta:,.0f}, γ = {GAMMA:g}")
    print(
        f"bare costs, {CHAINS} chains, float32: minibatch step (b = {BATCH}) "
        f"{1e3 * t_step:.3f} ms; full-data gradient {1e3 * t_full:.1f} ms ({t_full / t_step:.0f}×)"
    )
    print(
        f"stiffest curvature at w*: h = {h_star:.4g} (κ = {h_star / GAMMA:.3g}); "
        f"stiff dimensions {int(np.sum(evals > 2 * GAMMA)):,}"
    )
    print("\nalong the symmetry orbit (the map M unchanged), metric fixed at w*:")
    print(
        "| |w − w*| | h there | × w*'s | κ plain | preconditioned λ_max | λ_min | κ | V | V, CV |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    worst = {}
    for d in DISTANCES:
        w_d = orbit_point(unravel, w, d)
        g_d = gauss_newton(apply_flat, w_d, sigma)
        h_d = nbeta * float(np.linalg.eigvalsh(g_d)[-1]) + GAMMA
        pre = np.linalg.eigvalsh(root @ (nbeta * g_d + GAMMA * np.eye(g_d.shape[0])) @ root)
        worst[d] = (h_d, pre[-1] / pre[0])
        v_d, v_d_cv = noise(loss, w_d, w, x, y, nbeta)
        print(
            f"| {d:g} | {h_d:.4g} | {h_d / h_star:.1f} | {h_d / GAMMA:.3g} | {pre[-1]:.4g} | "
            f"{pre[0]:.3g} | {pre[-1] / pre[0]:.3g} | {v_d:.3g} | {v_d_cv:.3g} |"
        )
    v_plain, v_cv = noise(loss, typical(loss, w, x, y, nbeta), w, x, y, nbeta)
    print(
        f"\nminibatch gradient noise per stiff coordinate at the typical loss: V = {v_plain:.3g}; "
        f"with a control variate at w*: {v_cv:.3g}"
    )
    routes(t_step, t_full, h_star, worst, v_plain, v_cv)
    print(f"\n[{time.perf_counter() - start:.0f} s]")


def routes(t_step, t_full, h_star, worst, v_plain, v_cv) -> None:
    """The table: gradient work and seconds per unit of Langevin time, 4 chains."""
    far = max(worst)
    h_far, kappa_pre = worst[far]
    rows = []
    for name, h in (("at w*", h_star), (f"|w − w*| = {far:g}", h_far)):
        rows.append((f"overdamped SGLD, ε = 1/h ({name})", h, t_step))
        rows.append((f"underdamped, full batch, ε = 1/√h ({name})", math.sqrt(h), t_full))
        for label, v in (("plain", v_plain), ("control variate", v_cv)):
            steps = max(math.sqrt(h), v / (2 * FRICTION * HEATING))
            rows.append((f"underdamped, minibatch, {label}, heating ≤ 5% ({name})", steps, t_step))
    rows.append(
        (
            f"full batch, metric from w*'s Hessian (κ {kappa_pre:.3g} at {far:g})",
            math.sqrt(kappa_pre),
            t_full,
        )
    )
    print("\n| route | steps per unit of Langevin time | seconds per unit (4 chains) |")
    print("|---|---|---|")
    for name, steps, cost in rows:
        print(f"| {name} | {steps:.3g} | {steps * cost:.3g} |")


if __name__ == "__main__":
    main()
