"""lambda-hat against a bare JAX loop (and devinterp, when installed) on the standard benchmark.

The benchmark of issue #12: a deep linear network 40→50→50→50→40 (9,000 parameters,
rank-10 teacher, w* = the teacher), n = 100,000, batch 500, 4 chains × (1,000 burn-in +
2,000 draws) of SGLD, γ = 1, nβ = n / log n. Everything runs one after the other in this
one script run (this machine's speed drifts ~3× between days: compare only rows of one
run):

* ``lambda-hat``: ``lambda-hat run`` on an experiments file that writes only what a user
  would (``[[samplers]] name = "sgld"``, the step size, batch size, chains, burn-in and
  draws, and ``thin = 1``: with a written step the default ``thin = "auto"`` makes each
  draw 6,667 steps here, and lambda-hat says so before the run); everything else at its
  default (``llc_trace = "minibatch"``).
  Timed: the whole command, and the worker's run from picking it up to publication
  (the event stream's ``started`` → ``finished``: data loading, compilation, sampling,
  trace.nc and plots).
* ``lambda-hat, llc_trace = "full"``: the design before (full-data L_n at every draw),
  only with ``--with-full-trace`` (about 6 minutes here).
* ``bare loop``: the same SGLD steps as one jitted ``vmap``-over-chains ``scan``, the
  minibatch loss recorded, random rows drawn with replacement, noise drawn at a length
  padded to a multiple of 128 (the fast path of JAX's generator); in a fresh process,
  timed with compilation (first call) and warm (second call).
* ``devinterp``: ``estimate_learning_coeff_with_summary`` with its SGLD on the same data
  and w* (torch, chains one after another), when ``--devinterp-python`` names a Python
  that has it; see benchmarks/README.md for the one-line install in a separate venv.
  devinterp's MSE averages over the 40 outputs where lambda-hat's L_n sums ½(y − f)²,
  so its ε = 3e-5 is lambda-hat's 1.5e-6 (ε × out_dim / 2).

    uv run python benchmarks/side_by_side.py [--devinterp-python /tmp/devinterp-env/bin/python]
        [--devinterp-python /tmp/devinterp2-env/bin/python] [--with-full-trace]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAYERS = (40, 50, 50, 50, 40)
RANK = 10
N = 100_000
BATCH = 500
CHAINS, BURNIN, DRAWS = 4, 1000, 2000
STEP = 1.5e-6  # = devinterp's 3e-5 in lambda-hat's loss units (see the docstring)

EXPERIMENTS = """
[models.dln]
kind = "dln"
in_dim = {in_dim}
widths = {widths}
out_dim = {out_dim}
rank = {rank}

[data.bench]
n_data = {n}

[training.teacher]
init = "teacher"
steps = 0

[[targets]]
model = "dln"
data = "bench"
training = "teacher"
seed = 0

[[samplers]]
name = "sgld"
step_size = {step}
batch_size = {batch}
chains = {chains}
burnin = {burnin}
draws = {draws}
thin = 1
{extra}
"""


def experiments_file(folder: Path, extra: str = "") -> Path:
    text = EXPERIMENTS.format(
        in_dim=LAYERS[0],
        widths=list(LAYERS[1:-1]),
        out_dim=LAYERS[-1],
        rank=RANK,
        n=N,
        step=STEP,
        batch=BATCH,
        chains=CHAINS,
        burnin=BURNIN,
        draws=DRAWS,
        extra=extra,
    )
    path = folder / ("bench-full.toml" if extra else "bench.toml")
    path.write_text(text)
    return path


def lambda_hat(path: Path, root: Path, events: Path) -> dict:
    """Run the CLI; (whole command, picked-up → published, analysis.json) of the run."""
    cmd = [sys.executable, "-m", "lambda_hat.cli", "run", str(path), "--root", str(root)]
    start = time.perf_counter()
    subprocess.run([*cmd, "--quiet", "--events", str(events)], check=True, capture_output=True)
    whole = time.perf_counter() - start
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    started = {e["key"]: e["time"] for e in lines if e["event"] == "started"}
    finished = [e for e in lines if e["event"] == "finished" and e["kind"] == "run"]
    (run,) = finished
    analysis = json.loads(next(root.glob(f"targets/*/{run['run']}/analysis.json")).read_text())
    return {"whole": whole, "run": run["time"] - started[run["key"]], "analysis": analysis}


BARE = r"""
import json, sys, time
import numpy as np
import jax, jax.numpy as jnp
from lambda_hat.config.specs import ModelSpec
from lambda_hat.numerics.loss import make_loss
from lambda_hat.targets.build import flat_apply

folder, layers = sys.argv[1], json.loads(sys.argv[2])
chains, steps, batch = (int(v) for v in sys.argv[3:6])
step = float(sys.argv[6])
data, params = np.load(folder + "/data.npz"), np.load(folder + "/params.npz")
x, y = jnp.asarray(data["X"], jnp.float32), jnp.asarray(data["Y"], jnp.float32)
w_star = jnp.asarray(params["w_star"], jnp.float32)
model = ModelSpec(kind="dln", in_dim=layers[0], widths=tuple(layers[1:-1]), out_dim=layers[-1],
                  activation="identity", bias=False, rank=1)
apply_flat, _, p = flat_apply(model, jnp.float32)
loss_fn = make_loss(apply_flat)
n = x.shape[0]
n_beta = n / np.log(n)
padded = -(-p // 128) * 128

@jax.jit
def run(key, x, y, w_star):
    def chain(key):
        def one(w, k):
            k_idx, k_noise = jax.random.split(k)
            idx = jax.random.randint(k_idx, (batch,), 0, n)
            loss, g = jax.value_and_grad(loss_fn)(w, (x[idx], y[idx]))
            drift = -n_beta * g - (w - w_star)
            noise = jax.random.normal(k_noise, (padded,))[:p]
            return w + 0.5 * step * drift + jnp.sqrt(step) * noise, loss
        return jax.lax.scan(one, w_star, jax.random.split(key, steps))[1]
    return jax.vmap(chain)(jax.random.split(key, chains))

t0 = time.perf_counter()
losses = np.asarray(run(jax.random.PRNGKey(0), x, y, w_star))
t1 = time.perf_counter()
losses = np.asarray(run(jax.random.PRNGKey(1), x, y, w_star))
t2 = time.perf_counter()
L0 = float(loss_fn(w_star, (x, y)))
llc = n_beta * (losses[:, -2000:] - L0)
print(json.dumps({"compiled": t1 - t0, "warm": t2 - t1, "llc": float(llc.mean())}))
"""


def bare_loop(target: Path) -> dict:
    args = [json.dumps(LAYERS), CHAINS, BURNIN + DRAWS, BATCH, STEP]
    out = subprocess.run(
        [sys.executable, "-c", BARE, str(target), *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def devinterp(python: str, target: Path) -> dict:
    args = [str(HERE / "devinterp_run.py"), str(target), json.dumps(LAYERS)]
    args += map(str, [CHAINS, BURNIN, DRAWS, BATCH, STEP * LAYERS[-1] / 2])
    out = subprocess.run([python, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--devinterp-python",
        action="append",
        default=[],
        help="a Python with devinterp (and torch) installed; repeat for several versions",
    )
    ap.add_argument("--with-full-trace", action="store_true", help="also the old full trace")
    ap.add_argument("--work", help="folder for the store (default: a temporary one)")
    args = ap.parse_args()
    steps = CHAINS * (BURNIN + DRAWS)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        root = work / "runs"
        path = experiments_file(work)
        subprocess.run(
            [sys.executable, "-m", "lambda_hat.cli", "run", str(path), "--root", str(root)]
            + ["--only-targets", "--quiet"],
            check=True,
            capture_output=True,
        )
        (target,) = root.glob("targets/tgt_*")
        lh = lambda_hat(path, root, work / "events.jsonl")
        a = lh["analysis"]
        bare = bare_loop(target)
        print(
            f"DLN {'→'.join(map(str, LAYERS))}, p = {a['p']}, n = {N}, batch {BATCH}, "
            f"{CHAINS} chains × ({BURNIN} + {DRAWS}) steps, ε = {STEP:g}; "
            f"true λ = {a['true_llc']:g}"
        )
        print("| what | seconds | per chain-step | × bare (with compilation) | λ̂ |")
        print("|---|---|---|---|---|")

        def row(label, seconds, llc=None):
            ratio = seconds / bare["compiled"]
            est = "" if llc is None else f"{llc:.0f}"
            per = f"{1e3 * seconds / steps:.2f} ms"
            print(f"| {label} | {seconds:.1f} | {per} | {ratio:.2f} | {est} |", flush=True)

        row("lambda-hat, defaults: whole command", lh["whole"], a["llc_mean"])
        row("lambda-hat, defaults: the run, picked up → published", lh["run"])
        row("lambda-hat, defaults: sampling incl. compilation", a["timings_sec"]["sample"])
        row("bare JAX loop, with compilation", bare["compiled"], bare["llc"])
        row("bare JAX loop, warm", bare["warm"])
        for python in args.devinterp_python:
            dev = devinterp(python, target)
            row(f"devinterp {dev['version']}: sampling call", dev["seconds"], dev["llc"])
        if args.with_full_trace:
            extra = 'llc_trace = "full"'
            full = lambda_hat(experiments_file(work, extra), root, work / "events-full.jsonl")
            row(
                'lambda-hat, llc_trace = "full": the run', full["run"], full["analysis"]["llc_mean"]
            )
    flops = 6 * BATCH * sum(i * o for i, o in zip(LAYERS[:-1], LAYERS[1:], strict=True))
    print(
        f"work: {flops / 1e6:.0f} MFLOP per chain-step (forward + backward on {BATCH} rows); "
        f"the bare loop warm runs at {flops * steps / bare['warm'] / 1e9:.1f} GFLOP/s, "
        f"lambda-hat's sampling at {flops * steps / a['timings_sec']['sample'] / 1e9:.1f} GFLOP/s"
    )
    print(f"lambda-hat run timings: {a['timings_sec']}")
    if not math.isfinite(a["llc_mean"]):
        sys.exit("lambda-hat's estimate is not finite")


if __name__ == "__main__":
    main()
