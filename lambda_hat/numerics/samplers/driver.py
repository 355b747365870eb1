"""Run many chains of any kernel: ``vmap`` over chains, a compiled loop over steps.

A sampler supplies ``make_step(posterior) -> step`` where
``step(rng_key, state, step_index) -> (state, info)`` advances one chain and ``info`` is a
dict of scalars including ``"grad_calls"`` (int): gradient evaluations of the sampler's
unit in that step (the sampler converts calls to full-gradient equivalents on the host),
and, for the ``"last"`` and ``"mean"`` recording modes, ``"loss"``: the step's value of
the loss trace.

The driver runs ``burnin`` discarded draws, then ``draws`` kept draws, each draw being
``thin`` steps, and records one loss per chain and kept draw (and, when asked with
``keep_positions``, each chain's full parameter vector). How the loss is recorded
(``record``):

* ``"full"``: L_n over all n points at the draw's position (one forward pass over the
  data per kept draw);
* ``"last"``: the last step's ``info["loss"]`` (samplers whose state carries the exact
  full-data L_n, recovered from its log density: free);
* ``"mean"``: the mean of ``info["loss"]`` over the draw's ``thin`` steps (SGLD's
  minibatch estimate, which every step computes anyway).

Per-step statistics are kept at each draw both as the draw's last step and summed over
its ``thin`` steps, so counts such as divergences cover every sampling step, not only
the kept ones. A chain whose position becomes non-finite stops the run at the end of the
chunk in which it happened (``first_nonfinite_step``). Design choices, each for speed:

* one compiled program serves burn-in and sampling and every chunk length (a dynamic
  trip count and a recording flag), so a run compiles once;
* the data enter that program as arguments, never as constants baked into it (XLA would
  constant-fold them: slow compiles, and a compilation cache keyed on the data);
* the random key of draw ``i`` is ``fold_in(key, i)``, so results do not depend on how
  the run is cut into chunks;
* chunks are sized to take about ``chunk_seconds`` each, so the host can report progress
  and react to signals (SIGTERM from SLURM, Ctrl-C) and to divergence within seconds.

A schedule may also stop early (``draws = "auto"``): ``stop(loss)`` is asked at the
kept-draw counts in ``checks``, with the loss trace so far, and sampling ends when it
says so. Chunks end exactly at those counts, so what ``stop`` sees, and hence where the
run ends, does not depend on how the run was cut into chunks either.

A schedule with ``snapshots`` (``store/snapshots.py``) is told each consistent point
the run reaches, at chunk boundaries (it saves one when due, and the last one when the
caller stops the run: ``Snapshots.kept_on_stop``; the driver handles no signals), and
the run starts from a saved point that matches it (``fingerprint``: the schedule and the
starting states, which hold any adapted parameters). Since draw ``i``'s randomness is
``fold_in(key, i)``, a resumed run gives the same numbers, bit for bit, as one that was
never stopped; the checks before the saved point are asked again on the saved trace, so
``stop`` keeps its record.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class ChainTrace(NamedTuple):
    """Host (numpy) results of the driver."""

    loss: np.ndarray  # (chains, draws): L_n at each kept draw
    info: dict  # name -> (chains, draws): the last step's info at each kept draw
    info_sums: dict  # name -> (chains, draws): info summed over the ``thin`` steps of a draw
    grad_calls: np.ndarray  # (chains,) int64: gradient calls of all steps
    loss_evals: int  # full-data loss evaluations per chain used only for recording
    first_nonfinite_step: int | None  # 1-based step where a chain first went non-finite
    final_states: object
    positions: np.ndarray | None = None  # (chains, draws, p) when keep_positions
    thin: int = 1  # steps per kept draw
    observed: dict | None = None  # name -> (chains, draws, rows[, T]): Schedule.observe's
    cut: dict | None = None  # the phases Schedule.time_left ended early: done and planned


POSITION_BUFFER_BYTES = 64 * 2**20  # device buffer for positions of one chunk
OBSERVE_BUFFER_BYTES = 64 * 2**20  # device buffer for the observed losses of one chunk


class Schedule(NamedTuple):
    """What a sampler is asked to run, the same for every sampler: ``num_chains`` chains,
    ``burnin`` discarded then ``draws`` kept draws of ``thin`` steps each; the full
    parameter vector of each kept draw when ``keep_positions``; ``progress(done, total)``
    in draws after each chunk (with ``checks``, total is the next check's); ``llc_trace``,
    what the loss trace holds (``"full"``: the full-data L_n at each kept draw;
    ``"minibatch"``: SGLD's minibatch estimate)."""

    num_chains: int
    burnin: int
    draws: int
    thin: int = 1
    keep_positions: bool = False
    progress: Callable[[int, int], None] | None = None
    llc_trace: str = "full"
    checks: tuple[int, ...] = ()  # kept-draw counts at which ``stop`` is asked
    stop: Callable[[np.ndarray], bool] | None = None  # stop(loss (chains, kept)) -> done?
    snapshots: object | None = None  # due(), load(fingerprint), save(fingerprint, arrays, where)
    # ((name, data), ...): datasets whose per-row losses are recorded at every kept draw
    observe: tuple = ()
    # seconds left of the run's time budget, or None: see ``TimeBudget``
    time_left: Callable[[], float] | None = None


MIN_KEPT = 4  # kept draws a time budget always leaves (split R-hat needs them)
BURNIN_SHARE = 0.5  # of the time left when sampling begins, the most burn-in may use


class TimeBudget:
    """Where ``Schedule.time_left`` ends the phases: burn-in may use BURNIN_SHARE of the
    time left once the program has compiled (after the first chunk), the kept draws the
    rest, and at least MIN_KEPT of them are kept whatever the clock says. Chunks are cut
    to the draws the time left allows at the last chunk's pace (the first's is not
    taken), so a phase ends within about one draw of its time. ``cut`` records each
    phase it ended early: ``{"burnin": [done, planned], "draws": [done, planned]}``."""

    def __init__(self, time_left: Callable[[], float] | None):
        self.time_left, self.per_draw, self.cut, self.chunks = time_left, None, {}, 0
        self.floor = 0.0  # burn-in ends when no more than this is left

    def allowed(self, kept: bool, offset: int, count: int) -> int:
        """``count`` cut to the draws the budget leaves this phase: 0 ends the phase."""
        if self.time_left is None:
            return count
        left = self.time_left() - (0.0 if kept else self.floor)
        fits = count if self.per_draw is None else int(left // self.per_draw)
        allowed = min(count, fits) if left > 0 else 0
        if kept and offset < MIN_KEPT:
            allowed = max(allowed, min(count, MIN_KEPT - offset))
        return max(allowed, 0)

    def measured(self, count: int, seconds: float) -> None:
        """A chunk's pace; the first chunk's is not taken (it includes compilation), and
        burn-in's share is of the time left after it."""
        self.per_draw = seconds / count if self.chunks else None
        if not self.chunks and self.time_left is not None:
            self.floor = self.time_left() * (1.0 - BURNIN_SHARE)
        self.chunks += 1

    def end(self, kept: bool, offset: int, planned: int) -> None:
        self.cut["draws" if kept else "burnin"] = [offset, planned]


def _position(state):
    return state.position


def _total(values):
    """Sum over the leading (step) axis: counts for booleans, sums for numbers."""
    return jnp.sum(values.astype(jnp.int32) if values.dtype == jnp.bool_ else values, axis=0)


RECORD_MODES = ("full", "last", "mean")


def run_chains(
    rng_key,
    make_step: Callable,
    states,
    posterior,
    schedule: Schedule,
    *,
    record: str = "full",
    chunk_seconds: float = 2.0,
    max_chunk: int = 1000,
) -> ChainTrace:
    """Run ``schedule``'s burn-in then kept draws for its chains starting from ``states``,
    recording the loss trace as ``record`` says (see the module docstring)."""
    if record not in RECORD_MODES:
        raise ValueError(f"record must be one of {RECORD_MODES}, got {record!r}")
    num_chains, burnin, draws, thin, keep_positions, progress = schedule[:6]
    checks = sorted({c for c in schedule.checks if 0 < c <= draws}) if schedule.stop else []
    capacity = _capacity(posterior, schedule, max_chunk)
    names = tuple(name for name, _ in schedule.observe)

    def block(post, carry, key):
        """One draw: ``thin`` steps of every chain."""
        vstep = jax.vmap(make_step(post), in_axes=(0, 0, None))

        def one(inner, k):
            states, t, calls, bad_step = inner
            states, info = vstep(jax.random.split(k, num_chains), states, t)
            ok = jnp.all(jnp.isfinite(_position(states)))
            bad_step = jnp.where((bad_step < 0) & ~ok, t + 1, bad_step)
            calls = calls + info["grad_calls"].astype(jnp.int32)
            return (states, t + 1, calls, bad_step), info

        carry, infos = jax.lax.scan(one, carry, jax.random.split(key, thin))
        last = jax.tree_util.tree_map(lambda a: a[-1], infos)
        sums = {k: _total(v) for k, v in infos.items() if k not in ("grad_calls", "loss")}
        if record == "mean":
            loss = jnp.mean(infos["loss"], axis=0)
        elif record == "last":
            loss = last["loss"]
        else:
            loss = None
        last = {k: v for k, v in last.items() if k != "loss"}
        return carry, (last, sums, loss)

    @jax.jit
    def advance(data, observed, carry, base_key, first_block, count, keep):
        """Run ``count`` draws from draw index ``first_block``; record them if ``keep``
        (with the per-row losses of each ``observed`` dataset)."""
        post = posterior.rebind(data)
        _, (*info_shape, _) = jax.eval_shape(lambda c, k: block(post, c, k), carry, base_key)
        w = post.w_star
        buffers = (
            jnp.zeros((capacity, num_chains), w.dtype),
            jax.tree_util.tree_map(lambda s: jnp.zeros((capacity, *s.shape), s.dtype), info_shape),
            jnp.zeros((capacity, num_chains, w.shape[0]) if keep_positions else (0,), w.dtype),
            tuple(jnp.zeros((capacity, num_chains, *_shape(post, d)), w.dtype) for d in observed),
        )

        def body(i, state):
            carry, bufs = state
            carry, (*info, step_loss) = block(
                post, carry, jax.random.fold_in(base_key, first_block + i)
            )

            def write(bufs):
                loss_buf, info_buf, pos_buf, obs_bufs = bufs
                positions = _position(carry[0])
                loss = jax.vmap(post.full_loss)(positions) if record == "full" else step_loss
                info_buf = jax.tree_util.tree_map(lambda b, v: b.at[i].set(v), info_buf, info)
                if keep_positions:
                    pos_buf = pos_buf.at[i].set(positions)
                obs_bufs = tuple(
                    b.at[i].set(
                        jax.vmap(lambda p, d=d: post.observed(p, d))(positions).astype(b.dtype)
                    )
                    for b, d in zip(obs_bufs, observed, strict=True)
                )
                return loss_buf.at[i].set(loss.astype(w.dtype)), info_buf, pos_buf, obs_bufs

            return carry, jax.lax.cond(keep, write, lambda bufs: bufs, bufs)

        return jax.lax.fori_loop(0, count, body, (carry, buffers))

    from lambda_hat.numerics.devices import spread

    data = posterior.arrays
    states = spread(states, num_chains)  # over the local devices, where there are several
    carry = (states, jnp.int32(0), jnp.zeros((num_chains,), jnp.int32), jnp.int32(-1))
    grad_calls = np.zeros((num_chains,), np.int64)
    losses, infos, sums, positions = [], [], [], []
    observed_data = tuple(d for _, d in schedule.observe)
    observed: list[tuple] = []
    phases = ((0, burnin, False), (burnin, draws, True))
    total, stopped = burnin + draws, False
    snaps = schedule.snapshots
    first = (0, 0)  # (phase, draws done in it) to start from
    if snaps is not None:
        fingerprint = _fingerprint(schedule, record, states)
        saved = snaps.load(fingerprint)
        if saved is not None:
            first, carry, grad_calls, lists = _restore(saved, carry, names)
            losses, infos, sums, positions, observed = lists
            if first[0] == 1:  # the checks already passed: asked again, so stop's record is whole
                kept = np.concatenate(losses, axis=0).T
                for c in (c for c in checks if c <= first[1]):
                    schedule.stop(kept[:, :c])
    done = phases[first[0]][0] + first[1]
    timer = TimeBudget(schedule.time_left)
    size = 1  # the first chunk also compiles; later chunks are sized from measured speed
    for index in range(first[0], len(phases)):
        phase_start, phase_len, kept = phases[index]
        offset = first[1] if index == first[0] else 0
        while offset < phase_len and not stopped:
            ahead = [c - offset for c in checks if c > offset] if kept else []
            count = int(min(size, phase_len - offset, capacity, *ahead[:1]))
            count = timer.allowed(kept, offset, count)
            if count == 0:  # the time budget ends this phase
                timer.end(kept, offset, phase_len)
                break
            start = time.perf_counter()
            carry, (loss, info, pos, obs) = advance(
                data,
                observed_data,
                carry,
                rng_key,
                jnp.int32(phase_start + offset),
                jnp.int32(count),
                jnp.bool_(kept),
            )
            grad_calls = grad_calls + np.asarray(carry[2], np.int64)
            carry = (carry[0], carry[1], jnp.zeros_like(carry[2]), carry[3])
            if kept:
                losses.append(np.asarray(loss)[:count])
                infos.append({k: np.asarray(v)[:count] for k, v in info[0].items()})
                sums.append({k: np.asarray(v)[:count] for k, v in info[1].items()})
                if keep_positions:
                    positions.append(np.asarray(pos)[:count])
                if names:
                    observed.append(tuple(np.asarray(o)[:count] for o in obs))
            elapsed = time.perf_counter() - start
            timer.measured(count, elapsed)
            offset += count
            done += count
            failed = int(carry[3]) >= 0  # a chain went non-finite: stop, the run has failed
            if kept and offset in checks and not failed:
                stopped = bool(schedule.stop(np.concatenate(losses, axis=0).T))
            if snaps is not None and not stopped and not failed:
                mark = (index, offset, done, carry, grad_calls, len(losses))
                point = (mark, losses, infos, sums, positions, (names, observed), total)
                snaps.reached(fingerprint, functools.partial(_pack, *point))
            if progress:  # with checks, the total is the next point the run may stop at
                ahead = [c for c in checks if c > (offset if kept else 0)]
                goal = burnin + ahead[0] if ahead else total
                progress(done, done if stopped else goal)
            if failed:
                break
            size = next_chunk(count, elapsed / count, chunk_seconds, capacity)
        if int(carry[3]) >= 0:
            break
    states, _, _, bad_step = carry
    if not losses:  # stopped (non-finite) before the first kept draw
        losses = [np.full((0, num_chains), np.nan)]
        infos, sums = [{}], [{}]
    loss = np.concatenate(losses, axis=0).T  # (chains, kept draws so far)
    info = {
        k: np.concatenate([i[k] for i in infos], axis=0).T for k in infos[0] if k != "grad_calls"
    }
    info_sums = {k: np.concatenate([i[k] for i in sums], axis=0).T for k in sums[0]}
    bad = int(bad_step)
    return ChainTrace(
        loss=loss,
        info=info,
        info_sums=info_sums,
        grad_calls=grad_calls,
        loss_evals=loss.shape[1] if record == "full" else 0,
        first_nonfinite_step=None if bad < 0 else bad,
        final_states=states,
        positions=np.concatenate(positions, axis=0).swapaxes(0, 1) if positions else None,
        thin=thin,
        observed=_observed(names, observed),
        cut=timer.cut or None,
    )


def _shape(posterior, data) -> tuple:
    """What an observed dataset records at one draw: (rows[, T])."""
    return tuple(jax.eval_shape(posterior.observed, posterior.w_star, data).shape)


def _capacity(posterior, schedule: Schedule, max_chunk: int) -> int:
    """Draws per chunk: at most ``max_chunk``, and few enough that the chunk's device
    buffers of kept positions and observed losses stay within their bounds."""
    capacity = int(max(1, min(schedule.draws, max_chunk)))
    w, chains = posterior.w_star, schedule.num_chains
    if schedule.keep_positions:  # (draws, chains, p) positions
        per_draw = chains * w.shape[0] * w.dtype.itemsize
        capacity = int(max(1, min(capacity, POSITION_BUFFER_BYTES // per_draw)))
    if schedule.observe:  # (draws, chains, rows[, T]) per observed dataset
        values = sum(int(np.prod(_shape(posterior, d))) for _, d in schedule.observe)
        per_draw = chains * values * w.dtype.itemsize
        capacity = int(max(1, min(capacity, OBSERVE_BUFFER_BYTES // per_draw)))
    return capacity


def _observed(names: tuple, chunks: list[tuple]) -> dict | None:
    """{name: (chains, draws, rows)} from the chunks' (draws, chains, rows) buffers."""
    if not names:
        return None
    if not chunks:
        return {name: np.zeros((0, 0, 0)) for name in names}
    return {
        name: np.concatenate([c[k] for c in chunks], axis=0).swapaxes(0, 1)
        for k, name in enumerate(names)
    }


def _fingerprint(schedule: Schedule, record: str, states) -> dict:
    """What a saved point must match to be resumed: the schedule and the starting states
    (their structure and a digest of their values: for HMC/NUTS/MCLMC these are the
    states after adaptation, with the adapted parameters)."""
    return {
        "chains": schedule.num_chains,
        "burnin": schedule.burnin,
        "draws": schedule.draws,
        "thin": schedule.thin,
        "checks": sorted(schedule.checks) if schedule.stop else [],
        "keep_positions": bool(schedule.keep_positions),
        "observe": [name for name, _ in schedule.observe],
        "record": record,
        "states": digest(states),
        "leaves": len(jax.tree_util.tree_leaves(states)),
    }


def digest(tree) -> str:
    """A digest of a pytree's structure and of its leaves' dtypes, shapes and values."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    out = hashlib.sha256(str(treedef).encode())
    for leaf in leaves:
        a = np.ascontiguousarray(np.asarray(leaf))
        out.update(f"{a.dtype.str}{a.shape}".encode())
        out.update(a.tobytes())
    return out.hexdigest()


def next_chunk(count: int, per_item: float, chunk_seconds: float, cap: float) -> int:
    """The next chunk's length: about ``chunk_seconds`` at the speed the last one (of
    ``count`` items, ``per_item`` seconds each) showed, at most 4× it and ``cap``."""
    return int(max(1, min(cap, chunk_seconds / max(per_item, 1e-9), 4 * count)))


def state_arrays(states) -> dict:
    """The chains' states as ``state_<i>`` arrays, one per leaf (what a snapshot holds)."""
    return {f"state_{i}": np.asarray(v) for i, v in enumerate(jax.tree_util.tree_leaves(states))}


def states_from(arrays: dict, template):
    """``state_arrays``'s output back in the structure and shapes of ``template``."""
    fresh, treedef = jax.tree_util.tree_flatten(template)
    leaves = [jnp.asarray(arrays[f"state_{i}"]).reshape(f.shape) for i, f in enumerate(fresh)]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _pack(mark, losses, infos, sums, positions, observed, total) -> tuple[dict, dict]:
    """The arrays and the position (``where``) of a consistent point ``mark``
    (``observed``: the observed datasets' names and their chunks)."""
    phase, offset, done, carry, grad_calls, kept = mark
    arrays = state_arrays(carry[0])
    arrays["step"] = np.asarray(carry[1])
    arrays["grad_calls"] = grad_calls
    if kept:
        arrays["loss"] = np.concatenate(losses[:kept], axis=0)
        for name, parts in (("info", infos), ("sums", sums)):
            for k in parts[0]:
                arrays[f"{name}.{k}"] = np.concatenate([p[k] for p in parts[:kept]], axis=0)
        if positions:
            arrays["positions"] = np.concatenate(positions[:kept], axis=0)
        names, chunks = observed
        for k, name in enumerate(names):
            arrays[f"observed.{name}"] = np.concatenate([c[k] for c in chunks[:kept]], axis=0)
    where = {"phase": phase, "offset": offset, "draws_done": done, "draws_total": total}
    return arrays, where


def _restore(saved: dict, carry, names: tuple):
    """``_pack``'s output back as the loop's state: (phase, offset), carry, gradient
    calls and the kept-draw lists (one chunk each): losses, infos, sums, positions and
    the observed datasets' losses (``names``)."""
    arrays, where = saved["arrays"], saved["where"]
    states = states_from(arrays, carry[0])
    carry = (states, jnp.int32(arrays["step"].reshape(-1)[0]), carry[2], carry[3])
    lists = ([], [], [], [], [])
    if "loss" in arrays:
        lists[0].append(arrays["loss"])
        for name, target in (("info", lists[1]), ("sums", lists[2])):
            target.append(
                {k[len(name) + 1 :]: v for k, v in arrays.items() if k.startswith(f"{name}.")}
            )
        if "positions" in arrays:
            lists[3].append(arrays["positions"])
        if names:
            lists[4].append(tuple(arrays[f"observed.{name}"] for name in names))
    return (int(where["phase"]), int(where["offset"])), carry, arrays["grad_calls"], lists
