"""The layer rules of docs/development.md, checked on the source: an import of
lambda-hat's own code points to a lower layer, never sideways or up (which also rules
out import cycles between packages); the numerics import nothing of lambda-hat's but
its errors; the front ends load no JAX when imported."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "lambda_hat"

# lowest first; a package may import its own modules and those of any lower layer
LAYERS = (
    ("errors",),
    ("fields", "fileio", "provenance"),
    ("numerics",),  # pure JAX: arrays in, arrays out
    ("targets", "samplers"),  # one definition per target kind and per sampler
    ("config",),  # experiments files -> specs, checked against the kinds
    ("store",),  # IDs, layout, publishing, records, upkeep
    ("analysis",),  # traces -> estimates, diagnostics, plots
    ("sampling",),  # a sampler's preparation and sampling -> λ̂
    ("runner",),  # the one bridge: spec + store -> published artifact
    ("scheduler",),  # plan and execute locally
    ("slurm", "results"),
    ("api", "tui", "cli"),
    ("commands",),
    ("__init__",),
)
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
FRONT_ENDS = ("cli", "commands", "config", "store", "scheduler", "slurm", "tui", "results")


def _package(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, package) of every import of lambda-hat's code in a file, lazy ones too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "lambda_hat":
                out += [(node.lineno, alias.name) for alias in node.names]
            elif node.module.startswith("lambda_hat."):
                out.append((node.lineno, node.module.split(".")[1]))
        elif isinstance(node, ast.Import):
            out += [
                (node.lineno, alias.name.split(".")[1])
                for alias in node.names
                if alias.name.startswith("lambda_hat.")
            ]
    return out


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_package_has_a_layer():
    assert {_package(p) for p in SOURCES} <= set(RANK), "place a new package in LAYERS"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    mine = _package(path)
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports lambda_hat.{other}"
        for line, other in _imports(path)
        if other != mine and RANK.get(other, len(LAYERS)) >= RANK[mine]
    ]
    assert not wrong, f"{mine} is in layer {RANK[mine]}: " + "; ".join(wrong)


def test_the_numerics_import_only_their_errors():
    others = {
        other
        for path in (PACKAGE / "numerics").rglob("*.py")
        for _, other in _imports(path)
        if other != "numerics"
    }
    assert others <= {"errors"}


def test_the_front_ends_load_no_jax():
    modules = [f"lambda_hat.{name}" for name in FRONT_ENDS]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "import lambda_hat.tui.app, lambda_hat.commands.run, lambda_hat.commands.status\n"
        "print(sorted(m for m in sys.modules if m == 'jax' or m.startswith('jax.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
