"""The ``lambda-hat`` console script: parse arguments and dispatch to ``commands/``.

No JAX import here or in any command module at import time.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lambda_hat.errors import LambdaHatError

COMMANDS = (
    "run",
    "status",
    "results",
    "plot",
    "influence",
    "promote",
    "verify",
    "slurm",
    "worker",
    "tui",
    "workflow",
    "tune",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-hat",
        description="Estimate Local Learning Coefficients with a content-addressed store.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"lambda_hat.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"lambda_hat.commands.{name}":
                raise
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except LambdaHatError as exc:
        print(f"lambda-hat {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def promote_main(argv: list[str] | None = None) -> int:
    """``lambda-hat-promote`` = ``lambda-hat promote``."""
    return main(["promote", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
