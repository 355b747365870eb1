"""Reading an experiments file: TOML, or YAML in the seed document's shape.

Both give the same document (``store``, ``models``, ``data``, ``training``,
``targets``, ``samplers``), checked by the one validator in ``experiment.py`` with the
same messages. YAML is chosen by the suffix (``.yaml``, ``.yml``). YAML 1.1 reads
``1e-4`` as a string; here it is a number, as in TOML, and only JSON-like values
(mappings, lists, strings, numbers, booleans) are accepted. Its other numbers are not
numbers here either: ``1:30`` (base 60: 90), ``0x10`` and ``010`` (octal 8) stay text,
so a key that wants a number refuses them rather than taking a value nobody wrote.
A file is UTF-8 text (a leading byte-order mark is allowed).
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

from lambda_hat.errors import ConfigError

YAML_SUFFIXES = (".yaml", ".yml")

# integers in decimal only (YAML 1.1 also reads 1:30, 0x10 and 010 as numbers)
_INT = re.compile(r"^[-+]?(0|[1-9][\d_]*)$")
# floats as TOML and YAML write them, 1e-4, 1E+3 and (YAML 1.1's) 5. included
_FLOAT = re.compile(
    r"""^[-+]?(
        (\d[\d_]*)?\.\d[\d_]*([eE][-+]?\d+)? |
        \d[\d_]*(\.\d*)?[eE][-+]?\d+ |
        \d[\d_]*\. |
        \.(inf|Inf|INF) | \.(nan|NaN|NAN)
    )$""",
    re.X,
)


def read_document(path: Path) -> dict:
    """The file's document; ConfigError naming the file for anything unreadable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such experiments file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if path.suffix.lower() in YAML_SUFFIXES:
        return _yaml(text, path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader with TOML's numbers and without timestamps or sets."""

    dropped = {f"tag:yaml.org,2002:{t}" for t in ("timestamp", "int", "float")}
    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in dropped]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
    return Loader, yaml.YAMLError


def _yaml(text: str, path: Path) -> dict:
    loader, error = _loader()
    import yaml

    try:
        doc = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except error as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{path}: expected a mapping at the top (targets:, samplers:, ...), "
            f"got {type(doc).__name__}"
        )
    _check_plain(doc, str(path))
    return doc


def _check_plain(value, file: str, at: str = "") -> None:
    """Only what TOML can say: string keys, no null, no NaN/inf (``at``: ``samplers[0].x``)."""
    where = f"{file}: {at}" if at else file
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where}: key {key!r} must be a string")
            _check_plain(item, file, f"{at}.{key}" if at else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_plain(item, file, f"{at}[{i}]")
    elif value is None:
        raise ConfigError(f"{where}: empty (null) value; give a value or remove the key")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {value} is not a finite number")
