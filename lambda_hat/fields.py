"""Declarative field checks for spec dataclasses: types, choices and bounds.

Each spec field may carry ``metadata=check(...)``; :func:`build` turns a TOML table into
the dataclass, rejecting unknown keys, wrong types and impossible values with messages
that name the file and the table path.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
import types
import typing
from typing import Any

from lambda_hat.errors import ConfigError


def check(
    *,
    choices: tuple | None = None,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    help: str = "",
    hashed: bool = True,
    omit_default: bool = False,
    before: Any = dataclasses.MISSING,
) -> dict:
    """Field metadata: allowed values and bounds, plus a one-line description.

    ``hashed=False`` keeps a field out of the spec's ID (where a file lies, not what it
    holds); ``omit_default=True`` hashes it only when it differs from its default, so a
    field added later leaves every existing ID as it was. ``before`` is for a field
    added with a *new* default: the value every run had before the field existed. It is
    hashed only when it differs from that value, and a stored spec without the field
    reads as that value, so old runs keep their IDs and meaning while the new default
    gets IDs of its own.
    """
    return {
        "choices": choices,
        "gt": gt,
        "ge": ge,
        "le": le,
        "lt": lt,
        "help": help,
        "hashed": hashed,
        "omit_default": omit_default,
        "before": before,
    }


def _before(f: dataclasses.Field) -> Any:
    """The value a field is not hashed at (see :func:`check`), or MISSING."""
    if f.metadata.get("omit_default"):
        if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
            return f.default_factory()  # an empty table or list
        return f.default
    return f.metadata.get("before", dataclasses.MISSING)


def hash_view(spec: Any) -> Any:
    """The plain-JSON view of a spec that its ID is computed from (see :func:`check`)."""
    if dataclasses.is_dataclass(spec) and not isinstance(spec, type):
        out = {}
        for f in dataclasses.fields(spec):
            value = getattr(spec, f.name)
            if not f.metadata.get("hashed", True):
                continue
            before = _before(f)
            if before is not dataclasses.MISSING and value == before:
                continue
            out[f.name] = hash_view(value)
        return out
    if isinstance(spec, dict):
        return {k: hash_view(v) for k, v in spec.items()}
    if isinstance(spec, list | tuple):
        return [hash_view(v) for v in spec]
    return spec


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is tuple:  # "an integer" -> "a list of integers"
        item = _type_name(typing.get_args(tp)[0]).removeprefix("an ").removeprefix("a ")
        return f"a list of {item}s"
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false"}
    if tp is dict or origin is dict:
        return "a table"
    return names.get(tp, str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Coerce a TOML value to the declared type, or raise ConfigError naming ``where``.
    A NumPy scalar (a value from ``np.arange``, from Python) is its Python number."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # an optional value: its own type's message is the clearest
            return _coerce(value, options[0], where)
        errors = {}
        for arg in options:
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors[arg] = exc
        # a value of an option's own kind failed that option's check: its message is the
        # specific one (``step_size = nan``: "expected a finite number")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        for arg, exc in errors.items():
            if (arg is float and number) or (arg is int and isinstance(value, int)):
                raise exc from None
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {shown(value)}")
    if origin is typing.Literal:
        if any(type(value) is type(a) and value == a for a in typing.get_args(tp)):
            return value
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {shown(value)}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {shown(value)}")
        (inner,) = typing.get_args(tp)[:1]
        return tuple(_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            out = float(value)
            if not math.isfinite(out):
                raise ConfigError(f"{where}: expected a finite number, got {value!r}")
            return out
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is dict or origin is dict:
        if isinstance(value, dict):
            return dict(value)
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {shown(value)}")


def _coerce_or_explain_auto(value: Any, tp: Any, where: str, help: str) -> Any:
    """``_coerce``, saying so plainly where ``"auto"`` is given to a key that has no
    automatic choice (``step_size = "auto"`` is SGLD's; HMC adapts its own)."""
    try:
        return _coerce(value, tp, where)
    except ConfigError:
        if value != "auto":
            raise
        what = f" ({help})" if help else ""
        raise ConfigError(
            f"{where}: 'auto' is not available for this key; "
            f"expected {_type_name(tp)}{what}, or leave the key out for its default"
        ) from None


def _check_bounds(value: Any, meta: dict, where: str) -> None:
    if value is None:
        return
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        if meta.get("choices") is not None and item not in meta["choices"]:
            allowed = ", ".join(repr(c) for c in meta["choices"])
            raise ConfigError(f"{where}: {item!r} is not one of {allowed}")
        for key, ok, words in (
            ("gt", lambda a, b: a > b, "greater than"),
            ("ge", lambda a, b: a >= b, "at least"),
            ("lt", lambda a, b: a < b, "less than"),
            ("le", lambda a, b: a <= b, "at most"),
        ):
            bound = meta.get(key)
            numeric = isinstance(item, int | float) and not isinstance(item, bool)
            if bound is not None and numeric and not ok(item, bound):
                raise ConfigError(f"{where}: must be {words} {bound}, got {item!r}")


def build(cls: type, table: Any, where: str, *, stored: bool = False, **fixed: Any) -> Any:
    """Build dataclass ``cls`` from a TOML table, strictly.

    ``where`` is the prefix for messages (``"file.toml: samplers[2]"``); ``fixed`` are
    values supplied by the caller (not read from the table). ``stored=True`` reads a
    spec the store wrote: a missing field with a ``before`` value takes that value.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    settable = [n for n in fields if n not in fixed]
    unknown = sorted(set(table) - set(settable))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(sorted(settable))}"
        )
    kwargs = dict(fixed)
    for name in settable:
        f = fields[name]
        path = f"{where}.{name}"
        if name in table:
            value = _coerce_or_explain_auto(
                table[name], hints[name], path, f.metadata.get("help", "")
            )
        elif stored and f.metadata.get("before", dataclasses.MISSING) is not dataclasses.MISSING:
            value = f.metadata["before"]
        elif f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            raise ConfigError(f"{where}: missing required key {name!r} ({_type_name(hints[name])})")
        _check_bounds(value, f.metadata, path)
        kwargs[name] = value
    return cls(**kwargs)


def env_number(name: str, default: float, *, positive: bool, expected: str) -> float:
    """The number in environment variable ``name`` (``default`` when it is unset): at
    least 0, or above 0 when ``positive``; anything else is refused, naming the variable
    and what was ``expected`` ("seconds ≥ 0, e.g. 60")."""
    import os

    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 if positive else value >= 0):
        raise ConfigError(f"${name} = {text!r}: expected {expected}")
    return value


def describe(cls: type) -> list[tuple[str, str, Any, str]]:
    """(name, type, default, help) for each field: used by docs and `--help` output."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else "(required)"
        rows.append((f.name, _type_name(hints[f.name]), default, f.metadata.get("help", "")))
    return rows


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]+)")
_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}  # the order parts are written in


def shown(value: Any) -> str:
    """A value as a message shows it: TOML dates and times as the file wrote them."""
    if isinstance(value, datetime.date | datetime.time):
        return f"the TOML date/time {value.isoformat()} (quote a text value)"
    return repr(value)


def duration_seconds(value: Any, where: str) -> float:
    """A time budget in seconds: a number of seconds, or a string of ``<number><unit>``
    parts with units d, h, m, s (either case, but minutes only as ``m``: ``"10M"`` could
    mean months), each at most once and in that order (``"90s"``, ``"10m"``,
    ``"1h30m"``; not ``"30s1h"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        seconds = _duration_text_seconds(value, where)
    else:
        raise ConfigError(
            f"{where}: expected seconds or a duration such as '10m', got {shown(value)}"
        )
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"{where}: a time budget must be more than 0 seconds, got {value!r}")
    return seconds


def _duration_text_seconds(value: str, where: str) -> float:
    text = value.strip()
    parts = [(n, u if u == "M" else u.lower()) for n, u in _DURATION_PART.findall(text)]
    units = [u for _, u in parts]
    if "M" in units:
        raise ConfigError(f"{where}: {value!r}: write minutes as 'm' ('M' could be months)")
    in_order = [u for u in _SECONDS if u in units]  # d, h, m, s: each once, in this order
    if _DURATION_PART.sub("", text).strip() or not parts or units != in_order:
        raise ConfigError(
            f"{where}: {value!r} is not a duration; give seconds (600) or a string of "
            "parts with units d, h, m, s in that order, each once, such as '90s', '10m', "
            "'1h30m'"
        )
    return sum(float(n) * _SECONDS[u] for n, u in parts)


def duration_text(seconds: float) -> str:
    """``duration_seconds``' inverse for messages: 600 -> "10m", 5400 -> "1h30m"."""
    whole = round(seconds)
    if abs(seconds - whole) > 1e-9 or whole < 1:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts)
