"""``lambda-hat workflow llc --local``: the seed document's command, as an alias.

``--local`` (the default) runs ``lambda-hat run`` on ``--config`` (default
``config/experiments.yaml``, the seed's file); ``--slurm`` runs ``lambda-hat slurm`` on
it. Every other option is passed on to that command unchanged (``--root``,
``--workers``, ``--dry-run``; ``--time``, ``--submit``, ...).
"""

from __future__ import annotations

import argparse

HELP = "the seed's `workflow llc --local` / `--slurm`: alias of `run` / `slurm` on --config"

DEFAULT_CONFIG = "config/experiments.yaml"


def add_arguments(p) -> None:
    p.add_argument("pipeline", choices=("llc",), help="the workflow (llc: targets, then samplers)")
    p.add_argument(
        "options",
        nargs=argparse.REMAINDER,
        help=f"--local (default) | --slurm, --config FILE (default {DEFAULT_CONFIG}), and "
        "options of `lambda-hat run` (or `slurm`)",
    )


def translate(options: list[str]) -> list[str]:
    """The ``lambda-hat run`` / ``slurm`` command line that ``workflow llc OPTIONS`` is."""
    from lambda_hat.errors import ConfigError

    parser = argparse.ArgumentParser(add_help=False)
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument("--local", action="store_true")
    backend.add_argument("--slurm", action="store_true")
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    try:
        known, rest = parser.parse_known_args(options)
    except SystemExit:
        raise ConfigError(
            "workflow llc: give one of --local or --slurm, and --config FILE"
        ) from None
    return ["slurm" if known.slurm else "run", known.config, *rest]


def run(args) -> int:
    from lambda_hat.cli import main

    return main(translate(args.options))
