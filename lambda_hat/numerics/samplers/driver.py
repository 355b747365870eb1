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
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.numerics.samplers.chunks import Chunks


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
    capacity = _capacity(posterior, schedule, max_chunk)
    program = _program(make_step, posterior, schedule, record, capacity)
    run = _Run(rng_key, program, states, posterior, schedule, record)
    chunks = Chunks(cap=capacity, chunk_seconds=chunk_seconds)
    for index in range(run.first[0], len(run.phases)):
        run.phase(chunks, index)
        if run.stopped or run.failed:
            break
    return run.trace()


def _draw(make_step: Callable, num_chains: int, thin: int, record: str) -> Callable:
    """One draw, ``draw(post, carry, key) -> carry, (last, sums, loss)``: ``thin`` steps
    of every chain, with the last step's info, the info summed over the steps, and the
    draw's loss as ``record`` says (None for ``"full"``: computed when kept)."""

    def draw(post, carry, key):
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

    return draw


def _program(make_step, posterior, schedule: Schedule, record: str, capacity: int):
    """The one compiled program of a run: ``count`` draws from draw index ``first``,
    recorded into chunk buffers when ``keep`` (with the per-row losses of each
    ``observed`` dataset)."""
    num_chains, keep_positions = schedule.num_chains, schedule.keep_positions
    draw = _draw(make_step, num_chains, schedule.thin, record)

    @jax.jit
    def advance(data, observed, carry, base_key, first, count, keep):
        post = posterior.rebind(data)
        _, (*info_shape, _) = jax.eval_shape(lambda c, k: draw(post, c, k), carry, base_key)
        w = post.w_star
        buffers = (
            jnp.zeros((capacity, num_chains), w.dtype),
            jax.tree_util.tree_map(lambda s: jnp.zeros((capacity, *s.shape), s.dtype), info_shape),
            jnp.zeros((capacity, num_chains, w.shape[0]) if keep_positions else (0,), w.dtype),
            tuple(jnp.zeros((capacity, num_chains, *_shape(post, d)), w.dtype) for d in observed),
        )

        def body(i, state):
            carry, bufs = state
            carry, (*info, step_loss) = draw(post, carry, jax.random.fold_in(base_key, first + i))

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

    return advance


class _Kept:
    """The kept draws on the host, one entry per chunk: losses, the info's last and
    summed values, positions (when kept) and the observed datasets' losses (``names``)."""

    def __init__(self, names: tuple, keep_positions: bool):
        self.names, self.keep_positions = names, keep_positions
        self.losses, self.infos, self.sums, self.positions, self.observed = [], [], [], [], []

    def add(self, count: int, loss, info, positions, observed) -> None:
        """A chunk's device buffers (``count`` of their rows are draws)."""
        self.losses.append(np.asarray(loss)[:count])
        self.infos.append({k: np.asarray(v)[:count] for k, v in info[0].items()})
        self.sums.append({k: np.asarray(v)[:count] for k, v in info[1].items()})
        if self.keep_positions:
            self.positions.append(np.asarray(positions)[:count])
        if self.names:
            self.observed.append(tuple(np.asarray(o)[:count] for o in observed))

    def loss(self) -> np.ndarray:
        """The loss trace so far, (chains, kept draws)."""
        return np.concatenate(self.losses, axis=0).T


class _Run:
    """One run's host state between chunks: the chains' carry (states, step, gradient
    calls since the last chunk, first non-finite step), the gradient calls, the kept
    draws, the draws done, and whether a check stopped the run or a chain failed."""

    def __init__(self, rng_key, program, states, posterior, schedule: Schedule, record: str):
        from lambda_hat.numerics.devices import spread

        chains, self.schedule = schedule.num_chains, schedule
        self.key, self.program = rng_key, program
        self.record, self.data = record, posterior.arrays
        states = spread(states, chains)  # over the local devices, where there are several
        self.carry = (states, jnp.int32(0), jnp.zeros((chains,), jnp.int32), jnp.int32(-1))
        self.grad_calls = np.zeros((chains,), np.int64)
        self.observed_data = tuple(d for _, d in schedule.observe)
        self.kept = _Kept(tuple(name for name, _ in schedule.observe), schedule.keep_positions)
        draws, stop = schedule.draws, schedule.stop
        self.checks = sorted({c for c in schedule.checks if 0 < c <= draws}) if stop else []
        self.phases = ((0, schedule.burnin, False), (schedule.burnin, draws, True))
        self.total, self.first, self.done = schedule.burnin + draws, (0, 0), 0
        self.stopped = self.failed = False
        self.timer = TimeBudget(schedule.time_left)
        self.fingerprint = None
        if schedule.snapshots is not None:
            self.fingerprint = _fingerprint(schedule, record, states)
            self._resume(schedule.snapshots.load(self.fingerprint))

    def _resume(self, saved: dict | None) -> None:
        """Start from a saved point; the checks it passed are asked again on its trace,
        so ``stop`` keeps its record."""
        if saved is None:
            return
        self.first, self.carry, self.grad_calls = _restore(saved, self.carry, self.kept)
        if self.first[0] == 1:
            kept = self.kept.loss()
            for c in (c for c in self.checks if c <= self.first[1]):
                self.schedule.stop(kept[:, :c])
        self.done = self.phases[self.first[0]][0] + self.first[1]

    def phase(self, chunks: Chunks, index: int) -> None:
        """Burn-in (0) or the kept draws (1), from where the run is, in chunks that end
        at the checks and within the time budget."""
        start, length, kept = self.phases[index]

        def advance(offset: int, count: int) -> None:
            at = (jnp.int32(start + offset), jnp.int32(count), jnp.bool_(kept))
            carry, out = self.program(self.data, self.observed_data, self.carry, self.key, *at)
            self.grad_calls = self.grad_calls + np.asarray(carry[2], np.int64)
            self.carry = (carry[0], carry[1], jnp.zeros_like(carry[2]), carry[3])
            if kept:
                self.kept.add(count, *out)

        def limit(offset: int, count: int) -> int:
            ahead = [c - offset for c in self.checks if c > offset] if kept else []
            count = self.timer.allowed(kept, offset, min([count, *ahead[:1]]))
            if count == 0:  # the time budget ends this phase
                self.timer.end(kept, offset, length)
            return count

        def after(offset: int, count: int, seconds: float) -> bool:
            self.timer.measured(count, seconds)
            self.done += count
            self._reached(index, offset, kept)
            return self.stopped or self.failed

        chunks.run(advance, self.first[1] if index == self.first[0] else 0, length, limit, after)

    def _reached(self, index: int, offset: int, kept: bool) -> None:
        """After a chunk: a chain gone non-finite fails the run; a check may stop it; a
        consistent point goes to the snapshots; progress is told."""
        schedule = self.schedule
        self.failed = int(self.carry[3]) >= 0
        if kept and offset in self.checks and not self.failed:
            self.stopped = bool(schedule.stop(self.kept.loss()))
        if schedule.snapshots is not None and not self.stopped and not self.failed:
            mark = (index, offset, self.done, self.carry, self.grad_calls, len(self.kept.losses))
            pack = functools.partial(_pack, mark, self.kept, self.total)
            schedule.snapshots.reached(self.fingerprint, pack)
        if schedule.progress:  # with checks, the total is the next point the run may stop at
            ahead = [c for c in self.checks if c > (offset if kept else 0)]
            goal = schedule.burnin + ahead[0] if ahead else self.total
            schedule.progress(self.done, self.done if self.stopped else goal)

    def trace(self) -> ChainTrace:
        """What the run recorded, on the host."""
        states, _, _, bad_step = self.carry
        kept = self.kept
        if not kept.losses:  # stopped (non-finite) before the first kept draw
            kept.losses = [np.full((0, self.schedule.num_chains), np.nan)]
            kept.infos, kept.sums = [{}], [{}]
        loss = kept.loss()
        info = {
            k: np.concatenate([i[k] for i in kept.infos], axis=0).T
            for k in kept.infos[0]
            if k != "grad_calls"
        }
        sums = {k: np.concatenate([i[k] for i in kept.sums], axis=0).T for k in kept.sums[0]}
        bad = int(bad_step)
        return ChainTrace(
            loss=loss,
            info=info,
            info_sums=sums,
            grad_calls=self.grad_calls,
            loss_evals=loss.shape[1] if self.record == "full" else 0,
            first_nonfinite_step=None if bad < 0 else bad,
            final_states=states,
            positions=np.concatenate(kept.positions, axis=0).swapaxes(0, 1)
            if kept.positions
            else None,
            thin=self.schedule.thin,
            observed=_observed(kept.names, kept.observed),
            cut=self.timer.cut or None,
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


def state_arrays(states) -> dict:
    """The chains' states as ``state_<i>`` arrays, one per leaf (what a snapshot holds)."""
    return {f"state_{i}": np.asarray(v) for i, v in enumerate(jax.tree_util.tree_leaves(states))}


def states_from(arrays: dict, template):
    """``state_arrays``'s output back in the structure and shapes of ``template``."""
    fresh, treedef = jax.tree_util.tree_flatten(template)
    leaves = [jnp.asarray(arrays[f"state_{i}"]).reshape(f.shape) for i, f in enumerate(fresh)]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _pack(mark, kept: _Kept, total: int) -> tuple[dict, dict]:
    """The arrays and the position (``where``) of a consistent point ``mark``, whose
    kept draws are the first ``chunks`` entries of ``kept``."""
    phase, offset, done, carry, grad_calls, chunks = mark
    arrays = state_arrays(carry[0])
    arrays["step"] = np.asarray(carry[1])
    arrays["grad_calls"] = grad_calls
    if chunks:
        arrays["loss"] = np.concatenate(kept.losses[:chunks], axis=0)
        for name, parts in (("info", kept.infos), ("sums", kept.sums)):
            for k in parts[0]:
                arrays[f"{name}.{k}"] = np.concatenate([p[k] for p in parts[:chunks]], axis=0)
        if kept.positions:
            arrays["positions"] = np.concatenate(kept.positions[:chunks], axis=0)
        for k, name in enumerate(kept.names):
            arrays[f"observed.{name}"] = np.concatenate([c[k] for c in kept.observed[:chunks]])
    where = {"phase": phase, "offset": offset, "draws_done": done, "draws_total": total}
    return arrays, where


def _restore(saved: dict, carry, kept: _Kept):
    """``_pack``'s output back as the loop's state: (phase, offset), carry and gradient
    calls; the saved kept draws go into ``kept`` (as one chunk)."""
    arrays, where = saved["arrays"], saved["where"]
    states = states_from(arrays, carry[0])
    carry = (states, jnp.int32(arrays["step"].reshape(-1)[0]), carry[2], carry[3])
    if "loss" in arrays:
        kept.losses.append(arrays["loss"])
        for name, target in (("info", kept.infos), ("sums", kept.sums)):
            target.append(
                {k[len(name) + 1 :]: v for k, v in arrays.items() if k.startswith(f"{name}.")}
            )
        if "positions" in arrays:
            kept.positions.append(arrays["positions"])
        if kept.names:
            kept.observed.append(tuple(arrays[f"observed.{name}"] for name in kept.names))
    return (int(where["phase"]), int(where["offset"])), carry, arrays["grad_calls"]
