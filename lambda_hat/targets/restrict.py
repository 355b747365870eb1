"""Which parameters a weight-restricted run moves: ``restrict = ["glob", ...]``.

The patterns are shell-style globs (``fnmatch``: ``*`` also crosses ``/``) over the
names of the leaves of the model's parameter pytree, each its key path joined by ``/``
(``params/Dense_0/kernel`` for Flax; ``layer2/W`` for the built-in networks). The
run samples only the selected coordinates; every other weight stays at w*.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import numpy as np

from lambda_hat.errors import ConfigError

SHOWN = 40  # leaves listed in a message


def select(leaves: tuple, patterns: tuple[str, ...], where: str) -> np.ndarray:
    """The flat indices (sorted, int64) of the leaves some pattern matches; ``leaves``:
    ((name, size), ...) in the flat vector's order. A pattern that matches no non-empty
    leaf, and a selection of every parameter, are refused."""
    starts = np.cumsum([0, *(size for _, size in leaves)])
    chosen = np.zeros(len(leaves), bool)
    for i, pattern in enumerate(patterns):
        hits = np.array([fnmatchcase(name, pattern) and size > 0 for name, size in leaves])
        if not hits.any():
            raise ConfigError(
                f"{where}.restrict[{i}]: {pattern!r} matches no parameter of the model; "
                f"its parameters are {available(leaves)}"
            )
        chosen |= hits
    total = int(starts[-1])
    indices = np.concatenate(
        [np.arange(starts[k], starts[k + 1]) for k in np.flatnonzero(chosen)]
    ).astype(np.int64)
    if indices.size == total:
        raise ConfigError(
            f"{where}.restrict: selects every parameter ({total:,} of {total:,}), which is "
            "the whole model's LLC; remove restrict, or select a part of the model"
        )
    return indices


def selected_names(leaves: tuple, patterns: tuple[str, ...]) -> list[str]:
    """The names of the non-empty leaves the patterns select."""
    return [
        name
        for name, size in leaves
        if size > 0 and any(fnmatchcase(name, pattern) for pattern in patterns)
    ]


def available(leaves: tuple) -> str:
    """``layer1/W (12), layer1/b (4), ...``: the non-empty leaves, for a message."""
    named = [f"{name} ({size:,})" for name, size in leaves if size > 0]
    more = f", … ({len(named) - SHOWN} more)" if len(named) > SHOWN else ""
    return ", ".join(named[:SHOWN]) + more
