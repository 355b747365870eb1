"""``lambda-hat results``: one row per run (table, CSV or JSON), without loading JAX.

Rows come in ``lambda_hat.results.order`` in every format: by target (presets, seed,
training run), checkpoint step, sampler, then run. The table shows a ``step`` column
when some row is a checkpoint of a training run.
"""

from __future__ import annotations

import csv
import json
import sys

HELP = "print one row per run: LLC estimates, diagnostics, truth where known"

TABLE_COLUMNS = (
    ("target_id", "target"),
    ("model", "model"),
    ("n_data", "n"),
    ("target_params", "p"),
    ("seed", "seed"),
    ("sampler", "sampler"),
    ("run_id", "run"),
    ("llc_mean", "λ̂"),
    ("llc_mcse", "mcse"),
    ("llc_std", "std"),
    ("true_llc", "true λ"),
    ("relative_error", "rel. err"),
    ("ess", "ESS"),
    ("rhat", "R-hat"),
    ("trust", "conv."),
    ("walltime_sec", "time [s]"),
)


def add_arguments(p) -> None:
    p.add_argument(
        "ids", nargs="*", metavar="ID", help="only these targets/runs (any unique ID prefix)"
    )
    p.add_argument("--root", help="store root (default: the experiments file's, else runs)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--experiment", metavar="FILE", help="only the runs this file asks for")


def store_root(args) -> str:
    """``--root``, else the experiments file's ``[store].root``, else ``runs``."""
    if args.root:
        return args.root
    if getattr(args, "experiment", None):
        from lambda_hat.config import load

        return str(load(args.experiment).store_root)
    return "runs"


def fmt(key: str, value) -> str:
    if value is None:
        return "-"
    if key == "target_id":
        return str(value)[:12]  # short IDs for display; any unique prefix is accepted
    if key == "relative_error":
        return f"{100 * value:+.1f}%"
    if key in ("ess", "walltime_sec"):
        return f"{value:.0f}" if key == "ess" else f"{value:.1f}"
    if key == "rhat":
        return f"{value:.3f}"
    if key == "trust":
        return {"converged": "yes", "step-size biased": "biased"}.get(value, "no")
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table_columns(rows: list[dict], swept: list[str]) -> list[tuple[str, str]]:
    """(row key, header) of the table: ``TABLE_COLUMNS``, the swept keys right after the
    sampler (they are what the rows differ in), the checkpoint ``step`` before the
    sampler and the seeds' spread next to the MCSE when some row has them."""
    from lambda_hat.config.sweeps import short

    at = [k for k, _ in TABLE_COLUMNS].index("run_id")
    columns = [*TABLE_COLUMNS[:at], *((k, short(k)) for k in swept), *TABLE_COLUMNS[at:]]
    if any(r.get("step") is not None for r in rows):
        columns.insert([k for k, _ in columns].index("sampler"), ("step", "step"))
    if any(r.get("part") is not None for r in rows):  # weight-restricted runs
        columns.insert([k for k, _ in columns].index("sampler") + 1, ("part", "part"))
    if any(r.get("observed") is not None for r in rows):
        columns.insert([k for k, _ in columns].index("run_id"), ("observed", "observed"))
    if any(r.get("seed_spread") is not None for r in rows):
        columns.insert([k for k, _ in columns].index("llc_std"), ("seed_spread", "seed std"))
    return columns


def _print_ladders(rows: list[dict], console) -> None:
    """The β-ladder fits of the rows (a swept inverse_temperature with ≥ 3 values)."""
    from rich.table import Table

    from lambda_hat.config.sweeps import label
    from lambda_hat.results import ladders

    fits = ladders(rows)
    if not fits:
        return
    table = Table(title="β ladder: λ̂(nβ) = λ − (m − 1)/log nβ")
    for header in ("target", "sampler", "at", "nβ", "λ̂ at nβ", "λ (fit)", "m (fit)", "resid."):
        table.add_column(header)
    for f in fits:
        table.add_row(
            f["target_id"][:12],
            f["sampler"],
            label(f["point"]),
            " ".join(f"{v:.3g}" for v in f["n_beta"]),
            " ".join(f"{v:.3g}" for v in f["llc_hat"]),
            f"{f['llc']:.4g} ± {f['llc_se']:.2g}",
            f"{f['multiplicity']:.3g} ± {f['multiplicity_se']:.2g}",
            " ".join(f"{v:+.2g}" for v in f["residuals"]),
        )
    console.print(table)


def run(args) -> int:
    from lambda_hat.errors import ConfigError
    from lambda_hat.results import COLUMNS, load, swept_columns
    from lambda_hat.store.root import existing_store

    files = [i for i in args.ids if i.lower().endswith((".toml", ".yaml", ".yml"))]
    if files:  # `results FILE` reads like `status FILE`; the file goes to --experiment
        raise ConfigError(f"{files[0]}: an experiments file; give it as --experiment {files[0]}")
    root = existing_store(store_root(args), "pass --root DIR or --experiment FILE")
    problems: list[str] = []
    rows = load(root, args.experiment, problems)
    if args.ids:
        from lambda_hat.store.catalog import Catalog

        catalog = Catalog(root)
        wanted = {catalog.resolve_prefix(i) for i in args.ids}
        rows = [r for r in rows if r["target_id"] in wanted or r["run"] in wanted]
    swept = swept_columns(rows)
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "csv":
        fields = [*COLUMNS, *swept]
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(rows)} run(s) in {root}")
        columns = table_columns(rows, swept)
        for key, header in columns:
            table.add_column(header, no_wrap=key in ("target_id", "run_id"), overflow="fold")
        for r in rows:
            table.add_row(*(fmt(key, r.get(key)) for key, _ in columns))
        console = Console(width=None if sys.stdout.isatty() else 240)
        console.print(table)
        _print_ladders(rows, console)
    for line in problems:
        print(f"left out (unreadable): {line}", file=sys.stderr)
    if problems:
        print(
            f"{len(problems)} artifact(s) left out; `lambda-hat verify` checks the store",
            file=sys.stderr,
        )
    return 0
