"""The documentation site builds with no warning (broken links and anchors included)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_site_builds_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs, "mkdocs is missing: it comes with the docs dependency group (uv sync)"
    proc = subprocess.run(
        [mkdocs, "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (tmp_path / "site" / "reference" / "experiments" / "index.html").read_text()
    assert "step_size" in page and "localization" in page  # generated from the fields
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "estimate" in api and "load_target" in api  # generated from the docstrings
