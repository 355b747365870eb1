"""``lambda-hat tune FILE``: a NUTS reference per target, then the cheapest minibatch
sampler that agrees.

For each target of the file with at most ``--max-params`` parameters: a NUTS run with
``draws = "auto"`` and ``start = "dispersed"`` is the reference (a warning says when it
is not converged); then SGHMC and SGLD at their defaults (SGLD plain and with RMSProp:
step, thin and draws all ``"auto"``) and plain SGLD with ``draws = "auto"`` at each
fixed ``thin`` (the work per draw). The recommendation is the candidate with the fewest
FGEs whose λ̂ agrees with the reference within 2 combined MCSE and whose trust verdict
is ``converged``. Every run is an ordinary cached run of the store, so tuning is
resumable and free to repeat. Prints a table per target and writes the recommended
``[[samplers]]`` blocks to ``--out`` (default ``<FILE>.tuned.toml`` next to the file).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

HELP = "find the cheapest SGHMC or SGLD settings that agree with a NUTS reference, per target"

THINS = (10, 30, 100)
MAX_DRAWS = 6400
DEFAULT_MAX_PARAMS = 10_000


def add_arguments(p) -> None:
    p.add_argument("experiments", help="experiments file whose targets to tune for")
    p.add_argument("--root", help="store root (overrides [store].root)")
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: cores)")
    p.add_argument(
        "--max-params",
        type=int,
        default=DEFAULT_MAX_PARAMS,
        help=f"skip targets with more parameters (a NUTS reference; default {DEFAULT_MAX_PARAMS})",
    )
    p.add_argument("--out", help="where to write the recommended block (default FILE.tuned.toml)")


def candidates() -> list[dict]:
    """The reference and the minibatch candidates, as [[samplers]] tables: SGHMC's and
    SGLD's defaults (SGLD plain and RMSProp, each choosing its own thin) and plain SGLD
    at each fixed thin."""
    # half its chains start away from w* (start = "dispersed"), so its verdict can see
    # a λ̂ that depends on how far the chains have spread
    reference = {"name": "nuts", "draws": "auto", "max_draws": MAX_DRAWS, "start": "dispersed"}
    defaults = [
        {"name": "sghmc", "max_draws": MAX_DRAWS},
        {"name": "sgld", "max_draws": MAX_DRAWS},
        {"name": "sgld", "precond": "rmsprop", "max_draws": MAX_DRAWS},
    ]
    fixed = [
        {"name": "sgld", "draws": "auto", "max_draws": MAX_DRAWS, "thin": thin, "burnin": 200}
        for thin in THINS
    ]
    return [reference, *defaults, *fixed]


def _key(table: dict) -> tuple:
    """What tells the candidates apart: (sampler, precond, thin)."""
    return table["name"], table.get("precond", "none"), table.get("thin", "auto")


def _spec_key(spec) -> tuple:
    """``_key`` of a planned run's spec (its thin as written: "auto" or a number)."""
    return spec.sampler, getattr(spec.params, "precond", "none"), spec.thin


def _block(table: dict) -> str:
    import tomli_w

    return "[[samplers]]\n" + tomli_w.dumps(table)


def _execute(experiment, root: Path, workers: int | None, console) -> None:
    from rich.markup import escape

    from lambda_hat.scheduler.local import LocalExecutor, default_workers, selected
    from lambda_hat.scheduler.plan import make_plan

    plan = make_plan(experiment, root)
    todo = [t for t in plan.targets + plan.runs if t.status != "done"]
    if todo:
        console.print(f"{len(todo)} task(s) to run in {root} ({len(plan.runs)} run(s) in all)")
    width = default_workers(*selected(plan, retry_failed=False))
    summary = LocalExecutor(root, workers or width).execute(plan)
    for f in summary.failed:
        console.print(f"[red]failed[/] {f['key']}: {f['error_type']}: {escape(f['message'])}")
    if summary.stopped:
        from lambda_hat.errors import StoreFullError

        raise StoreFullError(summary.stopped)


def _fges(run_folder: Path) -> float:
    from lambda_hat.store.jsonio import read_json
    from lambda_hat.store.layout import ANALYSIS
    from lambda_hat.store.records import RunAnalysis

    try:
        fges = RunAnalysis.from_json(read_json(run_folder / ANALYSIS)).total_fges
    except (OSError, ValueError, AttributeError):
        return math.inf
    return math.inf if fges is None else float(fges)


def _agrees(row: dict, ref: dict) -> bool:
    band = 2 * math.hypot(row["llc_mcse"] or 0.0, ref["llc_mcse"] or 0.0)
    return abs(row["llc_mean"] - ref["llc_mean"]) <= band


def run(args) -> int:
    import dataclasses

    from rich.console import Console

    from lambda_hat.config import load
    from lambda_hat.config.experiment import parse_samplers
    from lambda_hat.store.root import writable_store

    console = Console(soft_wrap=not sys.stdout.isatty())  # a log keeps paths whole
    experiment = load(args.experiments, args.root)
    _check_out(args)  # before the work: a bad --out would lose it
    root = writable_store(experiment.store_root)
    where = f"{args.experiments}: (lambda-hat tune)"
    # the targets first (cached like any), to know their sizes
    _execute(
        dataclasses.replace(experiment, samplers=(), sampler_swept=()), root, args.workers, console
    )
    tunable = _tunable(experiment, root, args.max_params, console)
    if not tunable:
        console.print("nothing to tune")
        return 1
    samplers, swept = parse_samplers(candidates(), where)
    tuning = dataclasses.replace(
        experiment, targets=tuple(tunable), samplers=samplers, sampler_swept=swept
    )
    _execute(tuning, root, args.workers, console)
    found = _rows(tuning, root)
    blocks = [_recommend(entry, found, console) for entry in tunable]
    return _write(args, [b for b in blocks if b])


def _tunable(experiment, root: Path, max_params: int, console) -> list:
    """The file's target entries small enough for a NUTS reference, one per target."""
    from lambda_hat.store.catalog import Catalog
    from lambda_hat.store.ids import target_id

    catalog, tunable = Catalog(root), []
    for entry in experiment.targets:
        tid = target_id(entry.spec)
        meta = catalog.target(tid).meta
        p = meta.dims.p if meta else None
        if p is None or p > max_params:
            console.print(
                f"[yellow]skipped[/] {tid} ({entry.model}/{entry.data}): p = {p} exceeds "
                f"--max-params {max_params}; a NUTS reference would take too long"
            )
            continue
        if all(target_id(t.spec) != tid for t in tunable):
            tunable.append(entry)
    return tunable


def _rows(tuning, root: Path) -> dict:
    """{target id: {candidate key: its results row}} of the tuning runs in the store."""
    from lambda_hat.results import load as load_rows
    from lambda_hat.scheduler.plan import make_plan

    wanted = {(r.target_id, r.dirname): r for r in make_plan(tuning, root).runs}
    found: dict = {}
    for row in load_rows(root):
        run = wanted.get((row["target_id"], row["run"]))
        if run is not None:
            found.setdefault(row["target_id"], {})[_spec_key(run.spec)] = row
    return found


def _recommend(entry, found: dict, console) -> str | None:
    """The target's table of candidates against its reference, printed, and the block
    of the cheapest that agrees and converged (None: none did, or no reference)."""
    from lambda_hat.store.ids import target_id

    tid = target_id(entry.spec)
    mine = found.get(tid, {})
    ref = next((r for key, r in mine.items() if key[0] == "nuts"), None)
    if ref is None:
        console.print(f"[red]{tid}: no NUTS reference (it failed); see lambda-hat status[/]")
        return None
    _weak_reference(tid, ref, console)
    reference = f"NUTS {ref['llc_mean']:.4g} ± {ref['llc_mcse']:.2g}"
    table, best = _table(f"{tid} ({entry.model}/{entry.data}): {reference}"), None
    for candidate in candidates()[1:]:
        row = mine.get(_key(candidate))
        if row is None:
            continue
        fges = _fges(Path(row["path"]))
        name, precond, thin = _key(candidate)
        agrees, converged = _agrees(row, ref), row["trust"] == "converged"
        table.add_row(
            name if precond == "none" else f"{name} {precond}",
            str(thin),
            f"{row['llc_mean']:.4g} ± {row['llc_mcse']:.2g}",
            "yes" if agrees else "no",
            "yes" if converged else "no",
            f"{fges:.3g}",
        )
        if agrees and converged and (best is None or fges < best[1]):
            best = (candidate, fges, row)
    console.print(table)
    if best is None:
        console.print(f"[yellow]{tid}: no minibatch candidate agreed; keep NUTS for this target[/]")
        return None
    candidate, fges, row = best
    return (
        f"# {tid} ({entry.model}/{entry.data}): λ̂ {row['llc_mean']:.4g} ± "
        f"{row['llc_mcse']:.2g} against {reference}, {fges:.3g} FGEs\n" + _block(candidate)
    )


def _table(title: str):
    from rich.table import Table

    table = Table(title=title)
    for col in ("sampler", "thin", "λ̂ ± MCSE", "agrees", "converged", "FGEs"):
        table.add_column(col)
    return table


def _weak_reference(tid: str, ref: dict, console) -> None:
    """Says so when the NUTS reference did not converge."""
    if ref["trust"] == "converged":
        return
    numbers = ", ".join(
        f"{name} {ref[key]:.4g}"
        for name, key in (("R-hat", "rhat"), ("ESS", "ess"))
        if ref.get(key) is not None
    )
    console.print(
        f"[yellow]{tid}: the NUTS reference is {ref['trust']} ({numbers}); half its "
        "chains started away from w*, so its λ̂ may depend on where chains start: "
        "agreement with it is weak evidence[/]"
    )


HEADER = "# written by lambda-hat tune "


def _out(args) -> Path:
    return Path(args.out) if args.out else Path(args.experiments).with_suffix(".tuned.toml")


def _check_out(args) -> None:
    """``--out`` is a file tune may write: not the experiments file, not a folder, in a
    folder that exists, and not a file of the user's (one tune wrote before is
    replaced); ``--workers`` at least 1."""
    from lambda_hat.errors import ConfigError

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    out = _out(args)
    if out.resolve() == Path(args.experiments).resolve():
        raise ConfigError(f"--out {out}: that is the experiments file; write elsewhere")
    if out.is_dir() or not out.parent.is_dir():
        raise ConfigError(f"--out {out}: give a file in a folder that exists")
    if out.is_file() and not out.read_text(errors="replace").startswith(HEADER):
        raise ConfigError(f"--out {out}: exists and tune did not write it; remove it first")


def _write(args, blocks: list[str]) -> int:
    """The recommended blocks to ``--out`` (and printed); 1 when there are none."""
    out = _out(args)
    if blocks:
        out.write_text(
            f"{HEADER}{args.experiments}: paste into the experiments file\n\n" + "\n".join(blocks)
        )
        print(f"wrote {out}:\n" + "\n".join(blocks))  # plain: a console would wrap lines
    return 0 if blocks else 1
