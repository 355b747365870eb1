"""MkDocs hook: the experiments-file reference, generated from the fields' own metadata.

``docs/reference/experiments.md`` holds the marker ``<!-- experiments-reference -->``;
this hook replaces it with one table per TOML table ([[targets]], [models.*] per model
kind, [data.*] per data kind, [training.*], [[samplers]]: the common keys, then each
sampler's own). Each row is a dataclass field with ``metadata=check(...)``
(``lambda_hat/fields.py``): its type, default, allowed values and bounds, help text,
and the value that keeps the IDs of runs stored before the field existed (``before=``,
or the default of an ``omit_default`` field).

Only the config-side modules are imported (``lambda_hat.config``, ``lambda_hat.targets``
and ``lambda_hat.samplers`` registries): they do not import JAX, and the hook checks it.
"""

from __future__ import annotations

import dataclasses
import sys

MARKER = "<!-- experiments-reference -->"
PAGE = "reference/experiments.md"


def on_page_markdown(markdown, page, config, files, **kwargs):
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE}: the marker {MARKER} is missing")
    return markdown.replace(MARKER, render())


# ---- cells ------------------------------------------------------------------------------


def _toml(value) -> str:
    """A value as it is written in an experiments file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))  # SGLD's default batch is an int subclass
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


def _code(text: str) -> str:
    return f"`{text}`"


def _text(text: str) -> str:
    """Plain text for a table cell: pipes escaped."""
    return text.replace("|", "\\|")


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return "—" if f.default is None else _code(_toml(f.default))
    if f.default_factory is not dataclasses.MISSING:
        return _code(_toml(f.default_factory()))
    return "required"


def _allowed(meta) -> str:
    parts = []
    if meta.get("choices") is not None:
        parts.append(", ".join(_code(_toml(c)) for c in meta["choices"]))
    for key, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
        if meta.get(key) is not None:
            parts.append(f"{sign} {_toml(meta[key])}")
    return "; ".join(parts)


def _old_ids(meta, default) -> str:
    """The value under which old IDs stand (see ``lambda_hat.fields.check``)."""
    if not meta.get("hashed", True):
        return "not in the ID"
    if meta.get("before", dataclasses.MISSING) is not dataclasses.MISSING:
        return _code(_toml(meta["before"]))
    if meta.get("omit_default"):
        return "left out" if default is None else _code(_toml(default))
    return ""


HEADER = "| key | type | default | allowed | help | old IDs keep |\n|---|---|---|---|---|---|"


def _row(key, type_name, default, allowed, help_text, old) -> str:
    cells = [_code(key), _text(type_name), default, allowed, _text(help_text), old]
    return "| " + " | ".join(cells) + " |"


def _table(cls, skip=(), hashing=None, defaults=None) -> str:
    """One row per settable field of ``cls``. ``hashing``: another dataclass whose field
    of the same name says how the key enters the ID (a sampler entry is hashed as its
    resolved run spec); ``defaults``: {key: cell} where the default is the sampler's."""
    from lambda_hat.fields import describe

    fields = {f.name: f for f in dataclasses.fields(cls)}
    hashed = {f.name: f for f in dataclasses.fields(hashing)} if hashing else fields
    rows = [HEADER]
    for name, type_name, _, help_text in describe(cls):
        if name in skip or not fields[name].init:
            continue
        f = fields[name]
        h = hashed.get(name, f)
        default = (defaults or {}).get(name) or _default(f)
        old = _old_ids(h.metadata, h.default if h.default is not dataclasses.MISSING else None)
        rows.append(_row(name, type_name, default, _allowed(f.metadata), help_text, old))
    return "\n".join(rows)


# ---- the tables -------------------------------------------------------------------------


def _derived(spec_cls) -> tuple:
    """Fields lambda-hat fills in when it reads the file (``DERIVED`` of the kind's module):
    a file that writes them is refused, so they are no keys."""
    return getattr(sys.modules[spec_cls.__module__], "DERIVED", ())


def _kinds(section: str, kinds: dict) -> list[str]:
    out = []
    seen = {}
    for name, kind in kinds.items():
        seen.setdefault(kind.spec, []).append(name)
    for spec, names in seen.items():
        title = " or ".join(_code(f'kind = "{n}"') for n in names)
        helps = "; ".join(f"{_code(n)}: {kinds[n].help}" for n in names)
        out += [
            f"### `[{section}.*]` {title}",
            "",
            helps + ".",
            "",
            _table(spec, skip=_derived(spec)),
            "",
        ]
    return out


def _targets() -> list[str]:
    """``[[targets]]`` is read by the parser itself (``config/experiment.py``), not by a
    dataclass's checks; its keys are listed here and checked against the parser's."""
    from lambda_hat.config.experiment import TARGET_KEYS
    from lambda_hat.config.specs import PRECISIONS, TargetSpec

    rows = {
        "model": ("a preset name", "required", "", "a `[models.*]` preset"),
        "data": ("a preset name", "required", "", "a `[data.*]` preset"),
        "training": (
            "a preset name",
            "—",
            "",
            "a `[training.*]` preset; omitted: the defaults of `[training.*]` below",
        ),
        "seed": ("an integer", _code("0"), "≥ 0", "the target's seed: data, init, minibatches"),
        "precision": (
            "a string",
            _code(_toml(TargetSpec.__dataclass_fields__["precision"].default)),
            ", ".join(_code(_toml(p)) for p in PRECISIONS),
            "the target's dtype: data, training and w*",
        ),
    }
    if tuple(rows) != TARGET_KEYS:
        raise ValueError(
            f"docs/hooks/experiments_reference.py lists [[targets]] keys {tuple(rows)}, "
            f"the parser reads {TARGET_KEYS}: update the hook"
        )
    return [HEADER] + [_row(k, t, d, a, h, "") for k, (t, d, a, h) in rows.items()]


def _samplers() -> list[str]:
    from lambda_hat.config.specs import RunSpec, SamplerSpec
    from lambda_hat.samplers.kind import Defaults
    from lambda_hat.samplers.registry import SAMPLERS

    def per_sampler(key: str) -> str:
        values = {}
        for name, s in SAMPLERS.items():
            d = s.defaults
            cell = _code(_toml(getattr(d, key)))
            if key == "burnin" and d.burnin_for(d.thin) != d.burnin:
                auto, numeric = _code(_toml(d.burnin_for(d.thin))), _code(_toml(d.burnin))
                cell = f"{auto} ({numeric} with a numeric thin)"
            values.setdefault(cell, []).append(name)
        return "; ".join(f"{', '.join(names)}: {v}" for v, names in values.items())

    sampler_defaults = {
        f.name: per_sampler(f.name)
        for f in dataclasses.fields(SamplerSpec)
        if f.default is None and f.name in {g.name for g in dataclasses.fields(Defaults)}
    }
    out = [
        "### Common keys of every `[[samplers]]` entry",
        "",
        f"`name` (required): one of {', '.join(_code(_toml(n)) for n in SAMPLERS)}.",
        "",
        _table(SamplerSpec, skip=("name", "params"), hashing=RunSpec, defaults=sampler_defaults),
        "",
    ]
    for name, s in SAMPLERS.items():
        out += [
            f'### `name = "{name}"`',
            "",
            f"{s.help[0].upper()}{s.help[1:]}. Its own keys:",
            "",
            _table(s.params),
            "",
        ]
    return out


def render() -> str:
    from lambda_hat.config.specs import TrainingSpec
    from lambda_hat.targets.registry import DATA_KINDS, MODEL_KINDS

    lines = [
        "## `[[targets]]`",
        "",
        *_targets(),
        "",
        "## `[models.*]`",
        "",
        *_kinds("models", MODEL_KINDS),
        "## `[data.*]`",
        "",
        "`kind` may be left out: it defaults to `teacher`.",
        "",
        *_kinds("data", DATA_KINDS),
        "## `[training.*]`",
        "",
        _table(TrainingSpec, skip=("at_step",)),
        _row(
            "checkpoint_every",
            "an integer",
            "—",
            "≥ 1",
            "keeps steps 0, K, 2K, ... and the last; instead of `checkpoints`",
            "not in the ID",
        ),
        "",
        "## `[[samplers]]`",
        "",
        *_samplers(),
    ]
    if "jax" in sys.modules:
        raise RuntimeError(
            "reading the experiments-file metadata imported JAX; the config, targets and "
            "samplers modules must not import it at module level"
        )
    return "\n".join(lines)
