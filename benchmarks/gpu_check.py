"""One-shot GPU check: lambda-hat on an accelerator, in one command of a few minutes.

A lent GPU machine is rare and its time short, so everything is measured by one script
run that can lose any part without losing the rest. Sections, one after the other:

* ``device``: ``jax.devices()``, jax version and backend, memory limit, matmul precision
  and a dense matmul rate (a ceiling to read the other figures against).
* ``quickstart``: ``lambda-hat run`` on a tiny experiments file (a 60-parameter DLN,
  SGLD at its defaults with 200 draws, and a short HMC run: BlackJAX on the device), then
  ``lambda-hat results --format json``; exit status, wall time, λ̂. If it fails with
  XLA's default memory preallocation (each worker process takes 75% of the GPU), it is
  run again with ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` and both results are kept.
* ``bench_f32`` / ``bench_f64``: the 9k-parameter benchmark, a DLN 40→50→50→50→40,
  rank-10 teacher, w* = the teacher, n = 100,000 noiseless rows (λ = 725). Per
  4-chain step: a bare jitted ``vmap``-over-chains ``scan`` of SGLD steps (as
  side_by_side.py's bare loop) at batch 500 and 5,000; the same loop with a dynamic trip
  count (``fori_loop``, as lambda-hat's driver runs its chunks); full-batch gradients
  over all n (HMC's cost per leapfrog step); lambda-hat's own SGLD path at a written
  step (ε = 1e-6, batch 500, thin 1) and its HMC path (BlackJAX, no warm-up, 16 leapfrog
  steps), timed in steady state from the driver's progress reports (throughput.py's
  method).
* ``scale_0`` / ``scale_1`` / ``scale_2``: DLNs w→w→w→w→w (p = 4w²: w = 160, 500,
  1600 for about 100k, 1M and 10M parameters; rank w/5 as in the benchmark),
  n = 100,000, SGLD at batch 500, 4 chains: ms per step of the bare loop and of
  lambda-hat's path, and the device's peak memory
  (``memory_stats()['peak_bytes_in_use']``), each size in its own process so each peak
  is its own.
* ``workers``: ``lambda-hat run`` of four SGLD runs (a seed sweep on the tiny DLN) with
  the default ``--workers`` (one per run here), as a user on a GPU node runs a sweep:
  first with JAX's memory preallocation forced on (``XLA_PYTHON_CLIENT_PREALLOCATE=true``:
  each worker would take 75% of the GPU, lambda-hat's behaviour before workers sharing a
  machine allocated as they go), then as it is, then with ``--workers 1``; exit status,
  wall time and failures of each.
* ``default_run`` (last, so that it takes what the budget leaves): ``lambda-hat run`` of
  the 9k benchmark with ``[[samplers]] name = "sgld"`` and nothing else (auto step, thin
  and draws), stopped from outside at a cap (SIGTERM, then SIGKILL; not ``max_time``,
  which would change the run's plan: the point is the pure default's cost); its
  ``--events`` stream says how far it got: the step pilot's rounds (ε, steps, seconds),
  the chosen ε and thin, and the sampling rate; what it did not reach is projected at
  ``bench_f32``'s rate of lambda-hat's SGLD.

Every section runs in its own process group with its own time limit (and the whole
script within ``--budget`` seconds), writes what it has measured as it goes, and the
summary JSON (``gpu_check.json`` under ``--out``) is rewritten after every section, so
a kill still leaves figures. ``--smoke`` shrinks everything (tiny n and networks, few
steps) to prove the script on a CPU in about two minutes.

    python benchmarks/gpu_check.py --out "$OUT"            # on the GPU machine
    uv run python benchmarks/gpu_check.py --smoke --out /tmp/gpucheck
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

FULL = {
    "layers": (40, 50, 50, 50, 40),
    "rank": 10,
    "n": 100_000,
    "batches": (500, 5000),
    "sgld_steps": 3000,  # per timed bare loop call
    "full_grads": 200,  # full-batch gradients per timed call
    "step": 1e-6,
    "lh_sgld_draws": 10_000,
    "lh_hmc_draws": 40,
    "leapfrog": 16,
    "matmul": 8192,
    # width, bare-loop steps, lambda-hat draws
    "scale": ((160, 2000, 2000), (500, 1000, 1000), (1600, 300, 200)),
    "scale_n": 100_000,
    "quick_draws": 200,
    "default_cap": 150.0,
    "budget": 420.0,
    "limits": {
        "device": 60,
        "quickstart": 120,
        "workers": 240,
        "bench_f32": 120,
        "bench_f64": 100,
    },
    "scale_limits": (60, 60, 90),
}
SMOKE = {
    **FULL,
    "layers": (10, 12, 12, 12, 10),
    "rank": 2,
    "n": 2000,
    "batches": (500, 1000),
    "sgld_steps": 50,
    "full_grads": 5,
    "lh_sgld_draws": 300,
    "lh_hmc_draws": 4,
    "leapfrog": 4,
    "matmul": 256,
    "scale": ((8, 50, 60), (16, 50, 60), (32, 30, 40)),
    "scale_n": 2000,
    "quick_draws": 200,
    "default_cap": 20.0,
    "budget": 170.0,
    "limits": {"device": 30, "quickstart": 60, "workers": 90, "bench_f32": 45, "bench_f64": 45},
    "scale_limits": (25, 25, 25),
}
CHAINS = 4
GRACE = 20.0  # seconds between SIGTERM and SIGKILL of a capped command


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# ---- the child processes: sections that use JAX ---------------------------------------


class Recorder:
    """Results of one child section, rewritten to ``path`` at every record."""

    def __init__(self, path: Path, section: str):
        self.path, self.section, self.data = path, section, {"rows": []}

    def __call__(self, key: str, value, row: str | None = None) -> None:
        self.data[key] = value
        if row is not None:
            self.data["rows"].append([key, row])
            say(f"{self.section}: {key}: {row}")
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(tmp, self.path)

    def attempt(self, key: str, fn, *args) -> None:
        """Run ``fn(*args)`` -> (value, row); an error is recorded under ``key``."""
        try:
            value, row = fn(*args)
            self(key, value, row)
        except Exception as exc:  # noqa: BLE001 - one measurement must not lose the others
            self(key, {"error": f"{type(exc).__name__}: {exc}"[:2000]}, f"ERROR {exc!r}"[:300])
            traceback.print_exc()


def _block(tree):
    import jax

    return jax.block_until_ready(tree)


def _timed(fn, *args, repeats: int = 2) -> tuple[float, float]:
    """(first call incl. compilation, best warm call) in seconds."""
    start = time.perf_counter()
    _block(fn(*args))
    first = time.perf_counter() - start
    warm = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _block(fn(*args))
        warm = min(warm, time.perf_counter() - start)
    return first, warm


def _memory() -> dict | None:
    import jax

    try:
        stats = jax.local_devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - not every backend has it
        return None
    if not stats:
        return None
    keep = ("peak_bytes_in_use", "bytes_in_use", "bytes_limit", "bytes_reserved")
    return {k: int(stats[k]) for k in keep if k in stats}


def section_device(cfg: dict, rec: Recorder) -> None:
    import jax
    import jax.numpy as jnp

    dev = jax.devices()[0]
    rec(
        "jax",
        {
            "version": jax.__version__,
            "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()],
            "device_kind": dev.device_kind,
            "python": sys.version.split()[0],
            "matmul_precision": str(jax.config.jax_default_matmul_precision),
            "memory": _memory(),
        },
        f"jax {jax.__version__}, backend {jax.default_backend()}, {jax.devices()}",
    )
    size = cfg["matmul"]

    def rate(dtype):
        a = jax.random.normal(jax.random.PRNGKey(0), (size, size), dtype)
        f = jax.jit(lambda a: a @ a)
        first, warm = _timed(f, a, repeats=5)
        tflops = 2 * size**3 / warm / 1e12
        return {"seconds": warm, "tflops": tflops}, f"{size}³ matmul {tflops:.1f} TFLOP/s"

    rec.attempt("matmul_f32", rate, jnp.float32)
    rec.attempt("matmul_bf16", rate, jnp.bfloat16)


def _problem(layers, rank: int, n: int, precision: str):
    """(loss_fn, arrays, p) of a DLN target built by lambda-hat (w* = teacher, noiseless)."""
    from lambda_hat.config.specs import DataSpec, ModelSpec, TargetSpec, TrainingSpec
    from lambda_hat.numerics.loss import make_loss
    from lambda_hat.targets.build import build_target, flat_apply

    model = ModelSpec(
        kind="dln",
        in_dim=layers[0],
        widths=tuple(layers[1:-1]),
        out_dim=layers[-1],
        activation="identity",
        bias=False,
        rank=rank,
    )
    data = DataSpec(n_data=n, noise_scale=0.0)
    spec = TargetSpec(model, data, TrainingSpec(init="teacher", steps=0), 0, precision)
    arrays = build_target(spec)
    apply_flat, _, p = flat_apply(model, arrays.x.dtype)
    return make_loss(apply_flat), arrays, p


def _sgld_fn(loss_fn, p: int, n: int, batch: int, steps: int, step: float, dynamic: bool):
    """Jitted bare SGLD: CHAINS chains (vmap) × ``steps`` steps, each chain its own random
    rows, noise drawn at a length padded to a multiple of 128. ``dynamic``: a
    ``fori_loop`` whose trip count is an argument (as lambda-hat's driver), else a
    ``scan`` of fixed length."""
    import jax
    import jax.numpy as jnp

    n_beta = n / math.log(n)
    padded = -(-p // 128) * 128

    def one(w, key, x, y, w_star):
        k_idx, k_noise = jax.random.split(key)
        idx = jax.random.randint(k_idx, (batch,), 0, n)
        loss, g = jax.value_and_grad(loss_fn)(w, (x[idx], y[idx]))
        drift = -n_beta * g - (w - w_star)
        noise = jax.random.normal(k_noise, (padded,), w.dtype)[:p]
        return w + 0.5 * step * drift + math.sqrt(step) * noise, loss

    if not dynamic:

        @jax.jit
        def run(key, x, y, w_star):
            def chain(key):
                def body(w, k):
                    return one(w, k, x, y, w_star)

                return jax.lax.scan(body, w_star, jax.random.split(key, steps))[1]

            return jax.vmap(chain)(jax.random.split(key, CHAINS))

        return run

    @jax.jit
    def run_dynamic(key, count, x, y, w_star):
        def chain(key):
            def body(i, carry):
                w, buf = carry
                w, loss = one(w, jax.random.fold_in(key, i), x, y, w_star)
                return w, buf.at[i].set(loss)

            buf = jnp.zeros((steps,), w_star.dtype)
            return jax.lax.fori_loop(0, count, body, (w_star, buf))[1]

        return jax.vmap(chain)(jax.random.split(key, CHAINS))

    return lambda key, x, y, w_star: run_dynamic(key, jnp.int32(steps), x, y, w_star)


def _bare_sgld(loss_fn, arrays, p, batch, steps, step, dynamic=False):
    import jax

    n = arrays.x.shape[0]
    batch = min(batch, n)
    fn = _sgld_fn(loss_fn, p, n, batch, steps, step, dynamic)
    args = (jax.random.PRNGKey(0), arrays.x, arrays.y, arrays.w_star)
    first, warm = _timed(fn, *args)
    losses = _block(fn(*args))
    ms = 1e3 * warm / steps
    flops = 6 * batch * p * CHAINS  # forward + backward, 4 chains, one step
    value = {
        "batch": batch,
        "steps": steps,
        "first_call_s": first,
        "warm_s": warm,
        "ms_per_step": ms,
        "gflops": flops * steps / warm / 1e9,
        "finite": bool(jax.numpy.isfinite(losses).all()),
        "memory": _memory(),
    }
    kind = "fori (dynamic count)" if dynamic else "scan"
    rate = f"{value['gflops']:.0f} GFLOP/s"
    row = f"{ms:.4f} ms/4-chain step ({kind}, first call {first:.1f} s, {rate})"
    return value, row


def _full_grads(loss_fn, arrays, grads: int):
    import jax
    import jax.numpy as jnp

    x, y = arrays.x, arrays.y

    @jax.jit
    def run(w0):
        def chain(w):
            def body(w, _):
                return w - 1e-9 * jax.grad(loss_fn)(w, (x, y)), None

            return jax.lax.scan(body, w, None, length=grads)[0]

        return jax.vmap(chain)(w0)

    w0 = jnp.broadcast_to(arrays.w_star, (CHAINS, *arrays.w_star.shape))
    first, warm = _timed(run, w0)
    ms = 1e3 * warm / grads
    value = {"grads": grads, "first_call_s": first, "warm_s": warm, "ms_per_gradient": ms}
    return value, f"{ms:.3f} ms per 4-chain full-data gradient (n = {x.shape[0]:,})"


def _lh_sample(name, posterior, params, draws: int, llc_trace: str | None = None):
    """lambda-hat's sampler ``name``: (whole call s, steady s per draw, result)."""
    import jax

    from lambda_hat.numerics.samplers import get
    from lambda_hat.numerics.samplers.driver import Schedule

    marks = []
    kwargs = {"llc_trace": llc_trace} if llc_trace else {}
    schedule = Schedule(
        CHAINS, 0, draws, 1, progress=lambda d, t: marks.append((time.perf_counter(), d)), **kwargs
    )
    start = time.perf_counter()
    result = get(name).sample(jax.random.PRNGKey(0), posterior, params, schedule)
    whole = time.perf_counter() - start
    (t0, d0), (t1, d1) = marks[0], marks[-1]
    steady = (t1 - t0) / (d1 - d0) if d1 > d0 else None
    return whole, steady, result


def _lh_sgld(loss_fn, arrays, step: float, batch: int, draws: int):
    from lambda_hat.config.specs import SGLDParams
    from lambda_hat.numerics.posterior import make_posterior

    n = arrays.x.shape[0]
    posterior = make_posterior(loss_fn, (arrays.x, arrays.y), arrays.w_star, 1 / math.log(n), 1.0)
    params = SGLDParams(step_size=step, batch_size=min(batch, n))
    whole, steady, result = _lh_sample("sgld", posterior, params, draws, "minibatch")
    import numpy as np

    ms = None if steady is None else 1e3 * steady
    value = {
        "draws": draws,
        "whole_call_s": whole,
        "ms_per_step_steady": ms,
        "finite": bool(np.isfinite(result.loss).all()),
        "first_nonfinite_step": result.first_nonfinite_step,
        "memory": _memory(),
    }
    shown = "n/a" if ms is None else f"{ms:.4f}"
    return value, f"{shown} ms/4-chain step steady, whole call {whole:.1f} s ({draws} steps)"


def _lh_hmc(loss_fn, arrays, leapfrog: int, draws: int):
    from lambda_hat.config.specs import HMCParams
    from lambda_hat.numerics.posterior import make_posterior

    n = arrays.x.shape[0]
    posterior = make_posterior(loss_fn, (arrays.x, arrays.y), arrays.w_star, 1 / math.log(n), 1.0)
    params = HMCParams(warmup=0, num_integration_steps=leapfrog, step_size=1e-3)
    whole, steady, result = _lh_sample("hmc", posterior, params, draws)
    sampling = float((result.fges_per_chain - result.warmup_fges_per_chain).mean())
    per_draw_grads = sampling / draws
    ms = None if steady is None else 1e3 * steady / per_draw_grads
    value = {
        "draws": draws,
        "leapfrog": leapfrog,
        "whole_call_s": whole,
        "grads_per_draw": per_draw_grads,
        "ms_per_gradient_steady": ms,
        "stats": result.stats,
    }
    shown = "n/a" if ms is None else f"{ms:.3f}"
    return value, f"{shown} ms per 4-chain gradient steady, whole call {whole:.1f} s"


def _bench(cfg: dict, rec: Recorder, precision: str) -> None:
    import jax

    jax.config.update("jax_enable_x64", precision == "float64")
    start = time.perf_counter()
    loss_fn, arrays, p = _problem(cfg["layers"], cfg["rank"], cfg["n"], precision)
    rec(
        "target",
        {"p": p, "n": cfg["n"], "layers": cfg["layers"], "build_s": time.perf_counter() - start},
        f"DLN {cfg['layers']} p = {p:,}, n = {cfg['n']:,}, {str(arrays.x.dtype)}",
    )
    steps, step = cfg["sgld_steps"], cfg["step"]
    for batch in cfg["batches"]:
        rec.attempt(f"bare_sgld_b{batch}", _bare_sgld, loss_fn, arrays, p, batch, steps, step)
    batch = cfg["batches"][0]
    rec.attempt(
        f"bare_sgld_fori_b{batch}", _bare_sgld, loss_fn, arrays, p, batch, steps, step, True
    )
    rec.attempt("bare_full_gradient", _full_grads, loss_fn, arrays, cfg["full_grads"])
    rec.attempt("lh_sgld_b500", _lh_sgld, loss_fn, arrays, step, 500, cfg["lh_sgld_draws"])
    rec.attempt("lh_hmc", _lh_hmc, loss_fn, arrays, cfg["leapfrog"], cfg["lh_hmc_draws"])
    rec("memory", _memory())


def section_bench_f32(cfg: dict, rec: Recorder) -> None:
    _bench(cfg, rec, "float32")


def section_bench_f64(cfg: dict, rec: Recorder) -> None:
    _bench(cfg, rec, "float64")


def section_scale(cfg: dict, rec: Recorder, index: int) -> None:
    width, steps, draws = cfg["scale"][index]
    layers = (width,) * 5
    start = time.perf_counter()
    loss_fn, arrays, p = _problem(layers, max(1, width // 5), cfg["scale_n"], "float32")
    rec(
        "target",
        {"p": p, "width": width, "n": cfg["scale_n"], "build_s": time.perf_counter() - start},
        f"DLN {width}×5 layers, p = {p:,}, n = {cfg['scale_n']:,}, float32",
    )
    rec.attempt("bare_sgld_b500", _bare_sgld, loss_fn, arrays, p, 500, steps, cfg["step"])
    rec("memory_after_bare", _memory())
    rec.attempt("lh_sgld_b500", _lh_sgld, loss_fn, arrays, cfg["step"], 500, draws)
    memory = _memory()
    peak = (memory or {}).get("peak_bytes_in_use")
    rec("memory", memory, None if peak is None else f"peak {peak / 2**30:.2f} GiB")


CHILD_SECTIONS = {
    "device": section_device,
    "bench_f32": section_bench_f32,
    "bench_f64": section_bench_f64,
}


def child_main(name: str, result: Path, smoke: bool) -> None:
    sys.path.insert(0, str(REPO))
    cfg = SMOKE if smoke else FULL
    rec = Recorder(result, name)
    if name.startswith("scale"):
        section_scale(cfg, rec, int(name.split("_")[1]))
    else:
        CHILD_SECTIONS[name](cfg, rec)


# ---- the parent: subprocesses with limits ----------------------------------------------


def run_limited(cmd, limit: float, log: Path, env=None, cwd=REPO, term_first=False) -> dict:
    """Run ``cmd`` in its own process group for at most ``limit`` seconds; output to ``log``.

    At the limit: SIGTERM (with ``term_first``; lambda-hat stops cleanly on it) and
    SIGKILL of the whole group ``GRACE`` seconds later, or SIGKILL at once."""
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
        timed_out = False
        try:
            proc.wait(timeout=max(1.0, limit))
        except subprocess.TimeoutExpired:
            timed_out = True
            if term_first:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=GRACE)
                except subprocess.TimeoutExpired:
                    pass
        try:  # the workers it spawned, too
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    return {
        "rc": proc.returncode,
        "wall_s": time.perf_counter() - start,
        "timed_out": timed_out,
        "tail": log.read_text(errors="replace")[-1500:],
    }


def run_child(name: str, limit: float, work: Path, smoke: bool) -> dict:
    result = work / f"{name}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name]
    cmd += ["--result", str(result)] + (["--smoke"] if smoke else [])
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True)
    timed_out = False
    try:
        proc.wait(timeout=max(1.0, limit))
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    out = {"rc": proc.returncode, "wall_s": time.perf_counter() - start, "timed_out": timed_out}
    if result.exists():
        out["result"] = json.loads(result.read_text())
    return out


def events_of(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def task_times(events: list[dict]) -> dict:
    """{key: seconds from picked up to finished} of each finished task."""
    started = {e["key"]: e["time"] for e in events if e["event"] == "started"}
    return {
        e["key"]: e["time"] - started[e["key"]]
        for e in events
        if e["event"] == "finished" and e["key"] in started
    }


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "lambda_hat.cli", *map(str, args)]


QUICK = """
[models.dln]
kind = "dln"
in_dim = 5
widths = [6]
out_dim = 5
rank = 2

[data.d]
n_data = 1000

[training.teacher]
init = "teacher"
steps = 0

[[targets]]
model = "dln"
data = "d"
training = "teacher"
seed = 0

[[samplers]]
name = "sgld"
draws = {draws}

[[samplers]]
name = "hmc"
warmup = 100
num_integration_steps = 8
draws = 100
"""


def quickstart_once(folder: Path, cfg: dict, limit: float, env: dict) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.toml"
    path.write_text(QUICK.format(draws=cfg["quick_draws"]))
    root, events = folder / "runs", folder / "events.jsonl"
    run = run_limited(
        cli("run", path, "--root", root, "--workers", 1, "--quiet", "--events", events),
        limit,
        folder / "run.log",
        env=env,
        term_first=True,
    )
    out = {"run": run, "tasks_s": task_times(events_of(events))}
    if run["rc"] == 0:
        res = subprocess.run(
            cli("results", "--root", root, "--format", "json"),
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=60,
        )
        rows = json.loads(res.stdout) if res.returncode == 0 else []
        keep = ("sampler", "llc_mean", "llc_mcse", "true_llc", "trust", "walltime_sec")
        out["results"] = [{k: r.get(k) for k in keep} for r in rows]
        if res.returncode:
            out["results_error"] = res.stderr[-1500:]
    return out


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def section_quickstart(cfg: dict, work: Path, limit: float) -> dict:
    deadline = time.perf_counter() + limit
    out = {"default": quickstart_once(work / "quick", cfg, limit, dict(os.environ))}
    left = deadline - time.perf_counter()
    if out["default"]["run"]["rc"] != 0 and left > 20:
        say("quickstart: failed with the default environment; again without preallocation")
        env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
        out["no_prealloc"] = quickstart_once(work / "quick-noprealloc", cfg, left, env)
    rows = []
    for variant, o in out.items():
        r = o["run"]
        est = ", ".join(
            f"{x['sampler']} λ̂ {_fmt(x['llc_mean'], '.2f')} (true {_fmt(x['true_llc'], 'g')}, "
            f"{x['trust']})"
            for x in o.get("results", [])
        )
        rows.append(
            [
                f"{variant}",
                f"rc {r['rc']}, {r['wall_s']:.1f} s{' TIMED OUT' * r['timed_out']}; {est}",
            ]
        )
    out["rows"] = rows
    return out


WORKERS_FILE = (
    QUICK.split("[[samplers]]")[0]
    + """
[[samplers]]
name = "sgld"
step_size = 1e-3
thin = 1
burnin = 200
draws = {draws}
seed = {{ sweep = [0, 1, 2, 3] }}
"""
)


def workers_once(folder: Path, cfg: dict, limit: float, env: dict, workers=None) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sweep.toml"
    path.write_text(WORKERS_FILE.format(draws=cfg["quick_draws"] * 10))
    root, events = folder / "runs", folder / "events.jsonl"
    extra = ["--workers", workers] if workers else []
    run = run_limited(
        cli("run", path, "--root", root, "--quiet", "--events", events, *extra),
        limit,
        folder / "run.log",
        env=env,
        term_first=True,
    )
    summary = [e for e in events_of(events) if e.get("event") == "summary"]
    failed = summary[-1].get("failed", []) if summary else None
    errors = [f"{f.get('error_type')}: {str(f.get('message'))[:200]}" for f in failed or []]
    return {"run": run, "failed": len(failed) if failed is not None else None, "errors": errors}


def section_workers(cfg: dict, work: Path, limit: float) -> dict:
    deadline = time.perf_counter() + limit
    variants = (
        ("preallocate (before)", {"XLA_PYTHON_CLIENT_PREALLOCATE": "true"}, None),
        ("default", {}, None),
        ("--workers 1", {}, 1),
    )
    out, rows = {}, []
    for name, extra, workers in variants:
        left = deadline - time.perf_counter()
        if left < 15:
            break
        env = {k: v for k, v in os.environ.items() if k != "XLA_PYTHON_CLIENT_PREALLOCATE"}
        env.update(extra)
        folder = work / ("workers-" + re.sub(r"[^a-z0-9]+", "-", name))
        o = out[name] = workers_once(folder, cfg, min(left, limit / 2), env, workers)
        r = o["run"]
        rows.append(
            [
                name,
                f"rc {r['rc']}, {r['wall_s']:.1f} s{' TIMED OUT' * r['timed_out']}, "
                f"{o['failed']} of 5 tasks failed {'; '.join(o['errors'][:1])}",
            ]
        )
    out["rows"] = rows
    return out


DEFAULT_RUN = """
[models.dln]
kind = "dln"
in_dim = {in_dim}
widths = {widths}
out_dim = {out_dim}
rank = {rank}

[data.bench]
n_data = {n}
noise_scale = 0.0

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
"""

_NUM = r"([0-9][0-9.,e+-]*)"


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def default_run_report(events: list[dict]) -> dict:
    """How far a (possibly stopped) default SGLD run got, from its event stream."""
    out: dict = {"target_s": None, "pilot_rounds": [], "stages": []}
    times = task_times(events)
    for e in events:
        if e["event"] == "finished" and e.get("kind") == "target":
            out["target_s"] = times.get(e["key"])
    run_stages = [e for e in events if e["event"] == "stage"]
    t_start = {e["key"]: e["time"] for e in events if e["event"] == "started"}
    for i, e in enumerate(run_stages):
        text = e["stage"]
        t0 = t_start.get(e["key"], e["time"])
        out["stages"].append({"at_s": e["time"] - t0, "stage": text})
        m = re.search(rf"pilot round (\d+).*ε = {_NUM}, {_NUM} steps", text)
        if m:
            end = run_stages[i + 1]["time"] if i + 1 < len(run_stages) else None
            seconds = None if end is None else end - e["time"]
            steps = _number(m.group(3))
            out["pilot_rounds"].append(
                {
                    "round": int(m.group(1)),
                    "step_size": _number(m.group(2)),
                    "steps": steps,
                    "seconds": seconds,
                    "ms_per_step": None if seconds is None else 1e3 * seconds / steps,
                }
            )
        m = re.search(rf"sampling: ε = {_NUM}, thin = {_NUM}", text)
        if m:
            out["step_size"], out["thin"] = _number(m.group(1)), _number(m.group(2))
            out["sampling_from"] = e["time"]
    if "sampling_from" in out:
        prog = [e for e in events if e["event"] == "progress" and e["time"] >= out["sampling_from"]]
        if prog:
            out["progress"] = {"done": prog[-1]["done"], "total": prog[-1]["total"]}
        if len(prog) >= 2:
            a, b = prog[0], prog[-1]
            if b["done"] > a["done"]:
                steps_s = (b["done"] - a["done"]) * out["thin"] / (b["time"] - a["time"])
                out["sampling_steps_per_s"] = steps_s
                out["ms_per_step"] = 1e3 / steps_s
                first_check = 100 + 200  # AUTO_THIN_BURNIN + AUTO_FIRST_DRAWS, in draws
                out["projected_first_check_s"] = first_check * out["thin"] / steps_s
        del out["sampling_from"]
    for e in events:
        if e["event"] == "finished" and e.get("kind") == "run":
            out["finished"] = {
                k: e.get(k) for k in ("llc_mean", "llc_mcse", "true_llc", "trust", "walltime_sec")
            }
        if e["event"] == "failed":
            out.setdefault("failed", []).append(
                {k: e.get(k) for k in ("kind", "error_type", "message")}
            )
    return out


def section_default_run(
    cfg: dict, work: Path, cap: float, out_dir: Path, env: dict, ms_hint: float | None
) -> dict:
    """The capped default run; ``ms_hint`` (lambda-hat's SGLD ms per 4-chain step at batch
    500 on the benchmark, from ``bench_f32``) projects the stages it did not finish."""
    folder = work / "default"
    folder.mkdir(parents=True, exist_ok=True)
    layers = cfg["layers"]
    path = folder / "bench.toml"
    path.write_text(
        DEFAULT_RUN.format(
            in_dim=layers[0],
            widths=list(layers[1:-1]),
            out_dim=layers[-1],
            rank=cfg["rank"],
            n=cfg["n"],
        )
    )
    root, events = folder / "runs", folder / "events.jsonl"
    run = run_limited(
        cli("run", path, "--root", root, "--workers", 1, "--quiet", "--events", events),
        cap,
        folder / "run.log",
        env=env,
        term_first=True,
    )
    evs = events_of(events)
    if events.exists():
        (out_dir / "default_run_events.jsonl").write_text(events.read_text())
    report = default_run_report(evs)
    r = report
    pilot = "; ".join(
        f"round {p['round']}: ε {p['step_size']:.3g}, {p['steps']:,.0f} steps"
        + ("" if p["seconds"] is None else f" in {p['seconds']:.1f} s")
        for p in r["pilot_rounds"]
    )
    rows = [
        [
            "command",
            f"rc {run['rc']}, {run['wall_s']:.1f} s, capped at {cap:.0f} s: "
            f"{'STOPPED' if run['timed_out'] else 'finished'}",
        ],
        ["target build", "n/a" if r["target_s"] is None else f"{r['target_s']:.1f} s"],
        ["step pilot", pilot or "not reached"],
        ["last stage", r["stages"][-1]["stage"] if r["stages"] else "none"],
    ]
    if "step_size" in r:
        rows.append(["chosen", f"ε = {r['step_size']:.3g}, thin = {r['thin']:,.0f}"])
    if "ms_per_step" in r:
        rows.append(
            [
                "sampling",
                f"{r['ms_per_step']:.4f} ms/4-chain step; progress {r['progress']}; first "
                f"convergence check (300 draws) at ~{r['projected_first_check_s']:.0f} s",
            ]
        )
    if "finished" in r:
        rows.append(["finished", json.dumps(r["finished"], default=str)])
    elif ms_hint:
        steps = sum(p["steps"] for p in r["pilot_rounds"])
        seconds = {"pilot rounds begun": steps * ms_hint / 1e3}
        if "thin" in r:
            seconds["300 draws (first check)"] = 300 * r["thin"] * ms_hint / 1e3
        report["projected_s"] = seconds
        shown = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
        rows.append(["projected at the bench_f32 rate", f"{shown} ({ms_hint:.4f} ms/step)"])
    return {
        "run": run,
        "report": report,
        "env_prealloc": env.get("XLA_PYTHON_CLIENT_PREALLOCATE"),
        "rows": rows,
    }


def nvidia_smi() -> dict:
    query = "name,memory.total,driver_version,clocks.sm,clocks.max.sm"
    try:
        res = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return {"rc": res.returncode, "out": (res.stdout or res.stderr).strip()}
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": repr(exc)}


def print_table(summary: dict) -> None:
    print("\n| section | what | figure |", flush=True)
    print("|---|---|---|")
    for name, sec in summary["sections"].items():
        status = sec.get("status")
        rows = sec.get("rows") or []
        if status != "ok" or not rows:
            print(f"| {name} | status | {status} ({sec.get('wall_s', 0):.0f} s) |")
        for what, figure in rows:
            print(f"| {name} | {what} | {figure} |")
    print(flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT"), help="folder for the JSON ($OUT)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: prove the script on a CPU")
    ap.add_argument("--budget", type=float, help="seconds for the whole script")
    ap.add_argument("--sections", nargs="+", help="only these sections (default: all)")
    ap.add_argument("--work", help="scratch folder (default: a temporary one)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args.child, args.result, args.smoke)
        return
    if not args.out:
        ap.error("--out is required (or set $OUT)")
    cfg = SMOKE if args.smoke else FULL
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    budget = args.budget or cfg["budget"]
    deadline = time.perf_counter() + budget
    limits = dict(cfg["limits"])
    names = ["device", "quickstart", "workers", "bench_f32", "bench_f64"]
    for i in range(len(cfg["scale"])):
        names.append(f"scale_{i}")
        limits[f"scale_{i}"] = cfg["scale_limits"][i]
    names.append("default_run")  # last: it is capped, and takes what the budget leaves
    limits["default_run"] = cfg["default_cap"] + GRACE + 5
    if args.sections:
        names = [n for n in names if n in args.sections]
    summary = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "smoke": args.smoke,
        "config": {k: v for k, v in cfg.items()},
        "nvidia_smi": nvidia_smi(),
        "env": {k: os.environ.get(k) for k in ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_FLAGS")},
        "sections": {},
    }
    say(f"gpu_check: {'smoke, ' * args.smoke}budget {budget:.0f} s; {summary['nvidia_smi']}")
    result_path = out_dir / "gpu_check.json"

    def save() -> None:
        tmp = result_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, indent=1, default=str))
        os.replace(tmp, result_path)

    save()
    prealloc_env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in names:
            left = deadline - time.perf_counter()
            limit = min(limits[name], left - 2)
            if limit < (GRACE + 25 if name == "default_run" else 10):
                summary["sections"][name] = {"status": "skipped: out of budget"}
                say(f"{name}: skipped, {left:.0f} s left of the budget")
                save()
                continue
            say(f"{name}: start (limit {limit:.0f} s)")
            start = time.perf_counter()
            try:
                if name == "quickstart":
                    sec = section_quickstart(cfg, work, limit)
                    ok = sec["default"]["run"]["rc"] == 0
                    retry_ok = sec.get("no_prealloc", {}).get("run", {}).get("rc") == 0
                    if not ok and retry_ok:  # the capped default run needs it too
                        prealloc_env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
                    sec["status"] = (
                        "ok" if ok else "ok without preallocation" if retry_ok else "failed"
                    )
                elif name == "workers":
                    sec = section_workers(cfg, work, limit)
                    sec["status"] = "ok" if sec.get("default", {}).get("failed") == 0 else "failed"
                elif name == "default_run":
                    cap = min(cfg["default_cap"], limit - GRACE - 5)
                    lh = summary["sections"].get("bench_f32", {}).get("lh_sgld_b500", {})
                    hint = lh.get("ms_per_step_steady") if isinstance(lh, dict) else None
                    sec = section_default_run(cfg, work, cap, out_dir, prealloc_env, hint)
                    sec["status"] = (
                        "ok" if sec["run"]["rc"] == 0 or sec["run"]["timed_out"] else "failed"
                    )
                else:
                    sec = run_child(name, limit, work, args.smoke)
                    res = sec.pop("result", {})
                    sec.update(res)
                    sec["status"] = (
                        "timed out" if sec["timed_out"] else "ok" if sec["rc"] == 0 else "failed"
                    )
            except Exception as exc:  # noqa: BLE001 - the next section must still run
                traceback.print_exc()
                sec = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            sec["wall_s"] = time.perf_counter() - start
            summary["sections"][name] = sec
            save()
            say(f"{name}: {sec['status']} in {sec['wall_s']:.1f} s")
            for what, figure in sec.get("rows") or []:
                say(f"  {name} | {what} | {figure}")
    summary["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    save()
    print_table(summary)
    say(f"wrote {result_path}")


if __name__ == "__main__":
    main()
