"""The one host loop that every chain run goes through: compiled chunks of work (draws
for the driver, steps for SGLD's step pilot), each about ``chunk_seconds`` long.

Between chunks the host hears where the run got to, so it can report progress, save a
point to resume from, notice divergence and stop the run (a signal, a time budget, a
passing check). The randomness of item ``i`` is ``fold_in(key, i)`` in every caller, so
results do not depend on how a run is cut into chunks. The loop handles no signals; a
caller's ``after`` says when to stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax


def next_chunk(count: int, per_item: float, chunk_seconds: float, cap: float) -> int:
    """The next chunk's length: about ``chunk_seconds`` at the speed the last one (of
    ``count`` items, ``per_item`` seconds each) showed, at most 4× it and ``cap``."""
    return int(max(1, min(cap, chunk_seconds / max(per_item, 1e-9), 4 * count)))


class Chunks:
    """Chunk lengths from the measured pace: the first chunk is one item (it also
    compiles the program), later ones about ``chunk_seconds`` each, at most ``cap``.
    One object may serve several phases of a run, so the pace carries over."""

    def __init__(self, cap: int, chunk_seconds: float = 2.0):
        self.cap, self.chunk_seconds, self.size = cap, chunk_seconds, 1

    def run(
        self,
        advance: Callable[[int, int], object],
        start: int,
        end: int,
        limit: Callable[[int, int], int] | None = None,
        after: Callable[[int, int, float], bool] | None = None,
    ) -> int:
        """Items ``start`` to ``end`` through ``advance(offset, count)``, one chunk at a
        time (its result is waited for, so the time is the chunk's). ``limit(offset,
        count)`` may shorten a chunk (to end it at a check, or within a time budget; 0
        ends the loop there); ``after(offset, count, seconds)``, told of each chunk done,
        ends the loop by returning True. Returns the offset reached."""
        offset = start
        while offset < end:
            count = int(min(self.size, end - offset, self.cap))
            if limit is not None:
                count = limit(offset, count)
            if count <= 0:
                break
            clock = time.perf_counter()
            jax.block_until_ready(advance(offset, count))
            seconds = time.perf_counter() - clock
            offset += count
            if after is not None and after(offset, count, seconds):
                break
            self.size = next_chunk(count, seconds / count, self.chunk_seconds, self.cap)
        return offset
