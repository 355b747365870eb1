"""A run's progress, kept so that a stopped run goes on where it was.

Default SGLD on a stiff network samples for hours, and a SLURM time limit, a Ctrl-C or
a killed worker must not throw that away. The sampling driver tells this object each
consistent point it reaches (``reached``: the chains' states, the trace so far, the
counts); one is written every ``SAVE_EVERY_SEC`` (``$LAMBDA_HAT_SAVE_EVERY_SEC``), and
the last one when the run is stopped (the runner's ``kept_on_stop``: the numerics
handle no signals), to ``targets/<tgt>/_resume/<run>.npz``; the next attempt at the
same run ID starts from there. Draw ``i``'s randomness is ``fold_in(key, i)``, so the
resumed run's numbers are the same, bit for bit, as if it had never stopped. A stage
before sampling keeps its own progress beside it (``part``: ``<run>.pilot.npz``,
SGLD's and SGHMC's step-size pilot rounds; ``<run>.warmup.npz``, HMC/NUTS adaptation and MCLMC
tuning, once done), with the same rules, and goes with it.

A saved point is used only when it was written by the same code (a digest of the
package's source, ``provenance.code_digest``, and the package versions) for the same
resolved spec, schedule and starting states (``fingerprint``, from the driver);
anything else, or a file that cannot be read, is removed and the run starts over,
saying why. Saving is best effort: a write that fails (a full disk) is reported
once and sampling goes on without. Only the worker holding the run's lock writes here;
the file goes when the run is published or recorded as failed while sampling (a run that
failed at its writing keeps it: ``kept_on_failure``). A snapshot is not an
artifact: nothing reads it but the next attempt (and ``status``, which counts them).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from lambda_hat.fields import env_number
from lambda_hat.store import npz
from lambda_hat.store.atomic import replacing

SAVE_EVERY_SEC = 60.0  # at most this much sampling is lost to a kill -9
SAVE_EVERY_ENV = "LAMBDA_HAT_SAVE_EVERY_SEC"  # overrides it (0: at every chunk)
FORMAT = 1
META = "__meta__"


def save_every() -> float:
    """Seconds between saves: ``$LAMBDA_HAT_SAVE_EVERY_SEC`` if set, else SAVE_EVERY_SEC."""
    return env_number(
        SAVE_EVERY_ENV, SAVE_EVERY_SEC, positive=False, expected="seconds ≥ 0, e.g. 60"
    )


def part_path(path: Path, name: str) -> Path:
    """Where a stage before sampling keeps its progress: ``<run>.<name>.npz`` beside the
    run's own (``pilot``: SGLD's step-size pilot rounds; ``warmup``: a sampler's finished
    adaptation or tuning)."""
    return Path(path).with_name(f"{Path(path).stem}.{name}.npz")


@dataclass(frozen=True)
class SamplingPoint:
    """Saved progress of the sampling itself: ``draws_done`` of ``draws_total``."""

    draws_done: int = 0
    draws_total: int = 0

    def describe(self) -> str:
        return f"draw {self.draws_done:,} of {self.draws_total:,}"

    def rank(self) -> tuple:
        return (2, self.draws_done)

    def resumed(self, attempts: int, earlier_sec: float) -> dict:
        return {
            "draws_done": self.draws_done,
            "attempts": attempts,
            "earlier_sampling_sec": round(earlier_sec, 3),
        }


@dataclass(frozen=True)
class PilotPoint:
    """Saved progress of a step-size pilot (SGLD's, SGHMC's): in ``round`` (from 0), or
    ``done``."""

    round: int = 0
    steps_done: int = 0
    steps_total: int = 0
    step_size: float = math.nan
    done: bool = False
    rounds: tuple = ()  # the finished rounds' records

    def describe(self) -> str:
        if self.done:
            n = len(self.rounds)
            return (
                f"the end of the step-size pilot ({n} round{'s' if n != 1 else ''}, "
                f"ε = {self.step_size:.3g})"
            )
        if not self.steps_done:
            return f"the start of step-size pilot round {self.round + 1} (ε = {self.step_size:.3g})"
        return (
            f"step-size pilot round {self.round + 1}, step {self.steps_done:,} of "
            f"{self.steps_total:,}"
        )

    def rank(self) -> tuple:
        return (1, len(self.rounds) + self.done, self.steps_done)

    def resumed(self, attempts: int, earlier_sec: float) -> dict:
        steps = 0 if self.done else self.steps_done
        return {"rounds_done": len(self.rounds), "steps_done": steps, "attempts": attempts}


@dataclass(frozen=True)
class WarmupPoint:
    """A sampler's finished warm-up (HMC/NUTS adaptation, MCLMC tuning)."""

    def describe(self) -> str:
        return "the end of the sampler's warm-up (adaptation or tuning)"

    def rank(self) -> tuple:
        return (1, 1, 0)

    def resumed(self, attempts: int, earlier_sec: float) -> dict:
        return {"done": True, "attempts": attempts}


Point = SamplingPoint | PilotPoint | WarmupPoint


def point_of(where: dict) -> Point:
    """The typed saved point of a ``where`` the numerics reported: tagged by ``phase``
    (``"pilot"``, ``"warmup"``, or the sampling loop's own phase number)."""
    match where.get("phase"):
        case "warmup":
            return WarmupPoint()
        case "pilot":
            names = {f.name for f in fields(PilotPoint)}
            known = {k: v for k, v in where.items() if k in names and v is not None}
            return PilotPoint(**{**known, "rounds": tuple(where.get("rounds") or ())})
        case _:
            return SamplingPoint(int(where["draws_done"]), int(where["draws_total"]))


def describe(where: dict) -> str:
    """Where saved progress stands, to follow "at": "draw 25 of 60", "step-size pilot
    round 2, step 1,000 of 9,000", "the end of the step-size pilot (2 rounds, ε = …)",
    "the end of the sampler's warm-up"."""
    return point_of(where).describe()


def progress_rank(where: dict | None) -> tuple:
    """An order on saved progress (none < pilot rounds or a finished warm-up < sampling
    draws), so a SLURM task can tell whether its attempt moved its run forward."""
    return point_of(where).rank() if where else (0,)


def saved_progress(path: Path) -> dict | None:
    """``saved_point`` of a run's sampling, else of its step-size pilot or its finished
    warm-up (``part_path``)."""
    return (
        saved_point(path)
        or saved_point(part_path(path, "pilot"))
        or saved_point(part_path(path, "warmup"))
    )


def saved_point(path: Path) -> dict | None:
    """The saved progress at ``path`` (``where``: phase, offset, draws done and total;
    ``attempts``; ``saved_at``), or None where there is none or it cannot be read."""
    try:
        with npz.opened(path) as saved:  # reads only the one member
            meta = json.loads(saved[META].item())
    except Exception:  # noqa: BLE001 - missing or broken: nothing to resume
        return None
    return {k: meta.get(k) for k in ("where", "attempts", "saved_at")}


class Snapshots:
    """The saved progress of one run, at ``path``; ``context``: what else must match
    (run ID, code, resolved spec); ``tell(text)`` hears of a resume or a discard;
    ``note``: what to remember of this attempt without matching it (the compute layout,
    which changes the last bits of a value: a resumed run lists its earlier attempts')."""

    def __init__(
        self,
        path: Path,
        context: dict,
        tell: Callable[[str], None] | None = None,
        every_sec: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        note: dict | None = None,
    ):
        self.path, self.context, self.clock = Path(path), context, clock
        self.note = note
        self.earlier: list[dict] = []  # the notes of the attempts before this one
        self.every_sec = save_every() if every_sec is None else every_sec
        self.tell = tell or (lambda text: None)
        self.started = self.last = clock()
        self.earlier_sec = 0.0  # sampling time of earlier attempts, from their snapshot
        self.resumed: dict | None = None  # what was taken up, when a saved point was used
        self.parts: dict[str, dict] = {}  # the parts' ``resumed``, shared by siblings
        # each file's last reached point not yet saved: (owner, fingerprint, pack), shared
        self.pending: dict[Path, tuple] = {}
        self.name: str | None = None  # a part's name (None: the run's own sampling)
        self.failed_write = False
        self.kept = False  # sampling ended and writing failed: the next attempt writes from here

    def with_context(self, **more) -> Snapshots:
        """The same snapshots with more that must match (``sample_llc`` adds the spec as
        resolved: SGLD's automatic step and thinning)."""
        return self._sibling(self.path, {**self.context, **more})

    def part(self, name: str) -> Snapshots:
        """The progress of a stage before sampling (``pilot``: SGLD's step-size pilots),
        kept beside the run's (``part_path``) with the same context, and cleared with it."""
        out = self._sibling(part_path(self.path, name), self.context)
        out.name = name
        return out

    def _sibling(self, path: Path, context: dict) -> Snapshots:
        """Snapshots at ``path`` with ``context``, on this one's clock and started time."""
        out = Snapshots(path, context, self.tell, self.every_sec, self.clock, self.note)
        out.started = out.last = self.started
        out.parts, out.pending = self.parts, self.pending
        return out

    def record(self) -> dict | None:
        """analysis.json ``resumed``: what this run took up from earlier attempts (its
        sampling's draws, and each part's under its name), None when nothing."""
        out = {**(self.resumed or {}), **self.parts}
        return out or None

    def due(self) -> bool:
        return not self.failed_write and self.clock() - self.last >= self.every_sec

    def reached(self, fingerprint: dict, pack: Callable[[], tuple[dict, dict]]) -> None:
        """A consistent point a stage has reached (``pack() -> (arrays, where)``, called
        only to save it): saved now when one is due, else kept to be saved if the run is
        stopped before the next (``kept_on_stop``). The numerics report points; what to
        do on a stop is decided here and by the runner."""
        self.pending[self.path] = (self, fingerprint, pack)
        if self.due():
            self.flush()

    def flush(self) -> None:
        """Save every stage's last reached point that is not saved yet."""
        for path in list(self.pending):
            owner, fingerprint, pack = self.pending[path]
            owner.save(fingerprint, *pack())  # which drops it once written

    @contextlib.contextmanager
    def kept_on_stop(self):
        """Within it, a stop (Ctrl-C, SIGTERM as SystemExit) first saves the last point
        every stage reached, so the next attempt goes on from there."""
        try:
            yield self
        except (KeyboardInterrupt, SystemExit):
            self.flush()
            raise

    @contextlib.contextmanager
    def kept_on_failure(self):
        """Within it (a run's writing, once its sampling has ended), a failure or a stop
        first saves the last point every stage reached and marks it ``kept``: the next
        attempt takes up the finished sampling and only writes (when the code is the same:
        a fix to the writing changes its digest, and the run samples again)."""
        try:
            yield self
        except BaseException:
            self.flush()
            self.kept = True
            raise

    def _key(self, fingerprint: dict) -> str:
        return json.dumps({"context": self.context, "fingerprint": fingerprint}, sort_keys=True)

    def load(self, fingerprint: dict) -> dict | None:
        """``{"arrays", "where"}`` of the saved point, if it matches; else None (and a
        saved point that does not match, or cannot be read, is removed)."""
        if not self.path.is_file():
            return None
        try:
            arrays = npz.load(self.path)
            meta = json.loads(arrays.pop(META).item())
        except Exception as exc:  # noqa: BLE001 - a broken file of ours: start over
            return self._discard(f"it cannot be read ({type(exc).__name__})")
        if meta.get("format") != FORMAT or meta.get("key") != self._key(fingerprint):
            return self._discard("it was written by other code, settings or starting states")
        where = meta["where"]
        self.earlier_sec = float(meta.get("sampling_sec", 0.0))
        self.earlier = list(meta.get("notes", []))
        attempts = int(meta.get("attempts", 1)) + 1
        self.resumed = point_of(where).resumed(attempts, self.earlier_sec)
        if self.note is not None:
            self.resumed["earlier_attempts"] = self.earlier
        if self.name is not None:
            self.parts[self.name] = self.resumed
        self.tell(f"resuming at {describe(where)} (progress saved by an earlier attempt)")
        return {"arrays": arrays, "where": where}

    def save(self, fingerprint: dict, arrays: dict, where: dict) -> None:
        """Write the point atomically (a temporary sibling, flushed, renamed over); it
        replaces any point of this file reached earlier and not saved."""
        self.last = self.clock()
        meta = {
            "format": FORMAT,
            "key": self._key(fingerprint),
            "where": where,
            "attempts": self.resumed["attempts"] if self.resumed else 1,
            "sampling_sec": self.earlier_sec + (self.last - self.started),
            "notes": [*self.earlier, *([self.note] if self.note is not None else [])],
            "saved_at": time.time(),
        }
        try:  # a second stop during the save leaves no half-written sibling either
            with replacing(self.path) as tmp:
                npz.save(tmp, **arrays, **{META: np.asarray(json.dumps(meta))})
            self.pending.pop(self.path, None)
        except OSError as exc:
            self.failed_write = True
            self.tell(f"could not save progress to {self.path} ({exc}); sampling goes on")

    def clear(self) -> None:
        """Remove the saved point (the run is published or has failed) with its parts
        and any temporary file a killed save left, and the folder once no other run's
        is left there."""
        self.path.unlink(missing_ok=True)
        stem = self.path.stem
        with contextlib.suppress(OSError):
            for stray in (
                *self.path.parent.glob(f"{stem}.*.npz"),
                *self.path.parent.glob(f".{stem}.*.tmp"),
            ):
                stray.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty, or already gone
            self.path.parent.rmdir()

    def _discard(self, why: str) -> None:
        """Remove this file only: a pilot kept beside a run's progress is judged apart."""
        self.tell(f"saved progress at {self.path} not used: {why}; starting over")
        self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()
        return None
