"""Run folder names, ``run_<sampler>_<run_id>``: built and parsed here only (no JAX).

One place for the format, so that no reader splits names by hand. Parsing is strict about
the structure (prefix, a sampler of letters and digits, one ``_``, a lowercase hex ID), so
lock files, temp folders and stray entries never pass for runs; it is lenient about the
ID's length (``store.ids`` makes 8 hex).
"""

from __future__ import annotations

import re
from typing import NamedTuple

RUN_PREFIX = "run_"
RUN_GLOB = RUN_PREFIX + "*"

_PATTERN = re.compile(re.escape(RUN_PREFIX) + r"([A-Za-z0-9]+)_([0-9a-f]+)")


class RunName(NamedTuple):
    """The parts of a run folder name."""

    sampler: str
    run_id: str


def run_folder(sampler: str, run_id: str) -> str:
    """The folder name of the run ``run_id`` of ``sampler``, e.g. ``run_sgld_101a6b0f``."""
    return f"{RUN_PREFIX}{sampler}_{run_id}"


def parse_run_folder(name: str) -> RunName | None:
    """Sampler and run ID of a run folder name; None for any other name."""
    match = _PATTERN.fullmatch(name)
    return RunName(*match.groups()) if match else None


def is_run_folder(name: str) -> bool:
    """Whether ``name`` is a run folder name."""
    return _PATTERN.fullmatch(name) is not None
