"""Sweeps in an experiments file: ``key = { sweep = [v1, v2, ...] }``.

Any key of a ``[[samplers]]`` entry (but ``name``), of a ``[[targets]]`` entry (``seed``,
``precision``) or of a model, data or training preset can hold a sweep: an inline table
whose only key is ``sweep``, a non-empty list of distinct values. A table with several
swept keys stands for their Cartesian product, each point an ordinary table, so each is
an ordinary content-addressed target or run. The point's choices are kept (``swept``,
in file order) for display; they are not part of any ID.

Only top-level keys sweep: to vary part of a table value (a python factory's ``args``),
sweep the whole table, ``args = { sweep = [{ width = 8 }, { width = 16 }] }``.

A sampler's ``inverse_temperature = { ladder = [...] }`` is a sweep of at least three
temperatures that also asks for the β-ladder fit of λ and m (``analysis/ladder.py``).
"""

from __future__ import annotations

import itertools
import re
from typing import Any, NamedTuple

from lambda_hat.errors import ConfigError

SWEEP = "sweep"
LADDER = "ladder"  # a sweep of inverse_temperature, fitted for λ and m
LADDER_KEY = "inverse_temperature"


class Point(NamedTuple):
    """One point of a table's sweeps: the concrete table and what the sweeps chose."""

    table: dict
    swept: dict  # {key: value}, in the order the keys appear in the table
    index: dict  # {key: position of the value in its sweep}
    words: dict = {}  # {key: "sweep" or "ladder"}, as the file wrote it


def _is_sweep(value: Any) -> bool:
    return isinstance(value, dict) and (SWEEP in value or LADDER in value)


def _values(key: str, spec: dict, where: str) -> list:
    word = LADDER if LADDER in spec else SWEEP
    if set(spec) != {word}:
        extra = sorted(set(spec) - {word})
        raise ConfigError(
            f"{where}.{key}: a {word} is {{ {word} = [...] }} alone; remove {extra[0]!r}"
        )
    if word == LADDER and key != LADDER_KEY:
        raise ConfigError(
            f"{where}.{key}: only {LADDER_KEY} takes a ladder; use {{ sweep = [...] }}"
        )
    values = spec[word]
    if not isinstance(values, list):
        raise ConfigError(
            f"{where}.{key}.{word}: expected a list of values, got {values!r}; "
            f"write {key} = {{ {word} = [a, b, c] }}"
        )
    if word == LADDER and len(values) < 3:
        raise ConfigError(
            f"{where}.{key}.ladder: {len(values)} temperature(s); a ladder fits λ and m "
            "and needs at least three"
        )
    if not values:
        raise ConfigError(f"{where}.{key}.{word}: empty; give at least one value")
    for i, value in enumerate(values):
        if _is_sweep(value):
            raise ConfigError(f"{where}.{key}.{word}[{i}]: a sweep cannot hold a sweep")
        first = next(j for j, other in enumerate(values) if _same(other, value))
        if first < i:
            raise ConfigError(
                f"{where}.{key}.{word}[{i}]: repeats {word}[{first}] ({value!r}); each value once"
            )
    return values


def _same(a: Any, b: Any) -> bool:
    """Equal as TOML values (1 and 1.0 and true are three different values)."""
    return type(a) is type(b) and a == b


def _nested(value: Any, path: str) -> str | None:
    """The path of a sweep nested inside a table or list value, if there is one."""
    if isinstance(value, dict):
        if _is_sweep(value):
            return path
        for k, v in value.items():
            found = _nested(v, f"{path}.{k}")
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _nested(v, f"{path}[{i}]")
            if found:
                return found
    return None


def expand(table: dict, where: str, fixed: tuple[str, ...] = ()) -> list[Point]:
    """The points of ``table``'s sweeps (one point, ``swept = {}``, when there are none).

    ``fixed``: keys that cannot be swept (a sampler's ``name``).
    """
    swept: dict[str, list] = {}
    for key, value in table.items():
        if _is_sweep(value):
            if key in fixed:
                raise ConfigError(
                    f"{where}.{key}: cannot be swept; write one [[...]] entry per value"
                )
            swept[key] = _values(key, value, where)
            continue
        inner = _nested(value, f"{where}.{key}")
        if inner:
            raise ConfigError(
                f"{inner}: only a top-level key can be swept; sweep the whole value "
                f"instead: {key} = {{ sweep = [{{...}}, {{...}}] }}"
            )
    if not swept:
        return [Point(dict(table), {}, {})]
    words = {k: LADDER if LADDER in table[k] else SWEEP for k in swept}
    points = []
    keys = list(swept)
    for combo in itertools.product(*(range(len(swept[k])) for k in keys)):
        choice = {k: swept[k][i] for k, i in zip(keys, combo, strict=True)}
        index = dict(zip(keys, combo, strict=True))
        points.append(Point({**table, **choice}, choice, index, words))
    return points


def located(exc: ConfigError, where: str, point: Point) -> ConfigError:
    """``exc`` with a swept key's path pointing at the element: ``step_size.sweep[2]``."""
    message = str(exc)
    for key, i in point.index.items():
        pattern = re.escape(f"{where}.{key}") + r"(?![\w.\[])"
        if re.search(pattern, message):
            word = point.words.get(key, SWEEP)
            return ConfigError(re.sub(pattern, f"{where}.{key}.{word}[{i}]", message, count=1))
    if point.swept and where in message:
        chosen = ", ".join(f"{k} = {v!r}" for k, v in point.swept.items())
        return ConfigError(f"{message} (at the sweep point {chosen})")
    return exc


def build_points(table: dict, where: str, build, fixed: tuple[str, ...] = ()) -> list:
    """[(build(point.table), point.swept)] for every point, errors naming the element;
    two points that read as one (``1`` and ``1.0``, ``"10m"`` and ``600``) are refused,
    as repeated values are."""
    out, seen = [], {}  # seen: each point as read (its repr) -> what its sweeps chose
    for point in expand(table, where, fixed):
        try:
            built = build(point.table)
        except ConfigError as exc:
            raise located(exc, where, point) from None
        key = repr(_as_read(built))
        if key in seen:
            raise ConfigError(
                f"{where}: the sweep points {_chosen(seen[key])} and {_chosen(point.swept)} "
                "are one value once read; give each value once"
            )
        seen[key] = point.swept
        out.append((built, point.swept))
    return out


def _as_read(built: Any) -> Any:
    """``built`` as its run reads it: a ``max_time`` of ``"10m"`` is 600 seconds."""
    import dataclasses

    from lambda_hat.fields import duration_seconds

    if isinstance(getattr(built, "max_time", None), str) and dataclasses.is_dataclass(built):
        return dataclasses.replace(built, max_time=duration_seconds(built.max_time, "max_time"))
    return built


def _chosen(swept: dict) -> str:
    return "(" + ", ".join(f"{k} = {v!r}" for k, v in swept.items()) + ")"


def short(key: str) -> str:
    """A swept key for display: ``samplers.step_size`` -> ``step_size``."""
    return key.split(".", 1)[-1]


def label(swept: dict) -> str:
    """``step_size=1e-05 localization=100`` for display."""
    return " ".join(f"{short(k)}={v}" for k, v in swept.items())
