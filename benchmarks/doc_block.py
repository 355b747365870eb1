"""Replace a generated block of a Markdown file in place (the tables of docs/truth.md)."""

from __future__ import annotations

import re
from pathlib import Path


def write_block(path: Path, begin: str, end: str, text: str) -> None:
    """Put ``text`` (which starts with ``begin`` and ends with ``end``) in place of the
    file's block between those markers, or append it when the file has none."""
    doc = path.read_text()
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: text, doc)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(doc)
    print(f"wrote {path}")
