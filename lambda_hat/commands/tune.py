"""``lambda-hat tune FILE``: a NUTS reference per target, then the cheapest SGLD that agrees.

For each target of the file with at most ``--max-params`` parameters: a NUTS run with
``draws = "auto"`` and ``start = "dispersed"`` is the reference (a warning says when it
is not converged); then SGLD at its defaults (plain and RMSProp: step,
thin and draws all ``"auto"``) and plain SGLD with ``draws = "auto"`` at each fixed
``thin`` (the work per draw). The recommendation is
the candidate with the fewest FGEs whose λ̂ agrees with the reference within 2 combined
MCSE and whose trust verdict is ``converged``. Every run is an ordinary cached run of
the store, so tuning is resumable and free to repeat. Prints a table per target and
writes the recommended ``[[samplers]]`` blocks to ``--out`` (default
``<FILE>.tuned.toml`` next to the file).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

HELP = "find the cheapest SGLD settings that agree with a NUTS reference, per target"

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
    """The reference and the SGLD candidates, as [[samplers]] tables: the defaults (plain
    and RMSProp, each choosing its own thin) and plain SGLD at each fixed thin."""
    # half its chains start away from w* (start = "dispersed"), so its verdict can see
    # a λ̂ that depends on how far the chains have spread
    reference = {"name": "nuts", "draws": "auto", "max_draws": MAX_DRAWS, "start": "dispersed"}
    defaults = [
        {"name": "sgld", "max_draws": MAX_DRAWS},
        {"name": "sgld", "precond": "rmsprop", "max_draws": MAX_DRAWS},
    ]
    fixed = [
        {"name": "sgld", "draws": "auto", "max_draws": MAX_DRAWS, "thin": thin, "burnin": 200}
        for thin in THINS
    ]
    return [reference, *defaults, *fixed]


def _key(table: dict) -> tuple:
    """What tells the SGLD candidates apart: (precond, thin)."""
    return table.get("precond", "none"), table.get("thin", "auto")


def _block(table: dict) -> str:
    import tomli_w

    return "[[samplers]]\n" + tomli_w.dumps(table)


def _execute(experiment, root: Path, workers: int | None, console) -> None:
    from lambda_hat.scheduler.local import LocalExecutor, default_workers, selected
    from lambda_hat.scheduler.plan import make_plan

    plan = make_plan(experiment, root)
    todo = [t for t in plan.targets + plan.runs if t.status != "done"]
    if todo:
        console.print(f"{len(todo)} task(s) to run in {root} ({len(plan.runs)} run(s) in all)")
    width = default_workers(*selected(plan, retry_failed=False))
    summary = LocalExecutor(root, workers or width).execute(plan)
    for f in summary.failed:
        console.print(f"[red]failed[/] {f['key']}: {f['error_type']}: {f['message']}")
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
    from rich.table import Table

    from lambda_hat.config import load
    from lambda_hat.config.experiment import parse_samplers
    from lambda_hat.store.catalog import Catalog
    from lambda_hat.store.ids import target_id
    from lambda_hat.store.root import writable_store

    console = Console(soft_wrap=not sys.stdout.isatty())  # a log keeps paths whole
    experiment = load(args.experiments, args.root)
    root = writable_store(experiment.store_root)
    where = f"{args.experiments}: (lambda-hat tune)"
    # the targets first (cached like any), to know their sizes
    _execute(
        dataclasses.replace(experiment, samplers=(), sampler_swept=()), root, args.workers, console
    )
    catalog = Catalog(root)
    tunable, blocks = [], []
    for entry in experiment.targets:
        tid = target_id(entry.spec)
        meta = catalog.target(tid).meta
        p = meta.dims.p if meta else None
        if p is None or p > args.max_params:
            console.print(
                f"[yellow]skipped[/] {tid} ({entry.model}/{entry.data}): p = {p} exceeds "
                f"--max-params {args.max_params}; a NUTS reference would take too long"
            )
            continue
        if all(target_id(t.spec) != tid for t in tunable):
            tunable.append(entry)
    if not tunable:
        console.print("nothing to tune")
        return 1
    samplers, swept = parse_samplers(candidates(), where)
    tuning = dataclasses.replace(
        experiment, targets=tuple(tunable), samplers=samplers, sampler_swept=swept
    )
    _execute(tuning, root, args.workers, console)
    from lambda_hat.results import load as load_rows
    from lambda_hat.scheduler.plan import make_plan

    plan = make_plan(tuning, root)
    wanted = {(r.target_id, r.dirname): r for r in plan.runs}
    rows = [r for r in load_rows(root) if (r["target_id"], r["run"]) in wanted]
    for entry in tunable:
        tid = target_id(entry.spec)
        mine = {}
        for r in rows:
            spec = wanted[(r["target_id"], r["run"])].spec
            if r["target_id"] == tid and spec.sampler == "sgld":
                mine[(spec.params.precond, spec.thin)] = r
        ref = next((r for r in rows if r["target_id"] == tid and r["sampler"] == "nuts"), None)
        if ref is None:
            console.print(f"[red]{tid}: no NUTS reference (it failed); see lambda-hat status[/]")
            continue
        reference = f"NUTS {ref['llc_mean']:.4g} ± {ref['llc_mcse']:.2g}"
        if ref["trust"] != "converged":
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
        table = Table(title=f"{tid} ({entry.model}/{entry.data}): {reference}")
        for col in ("sgld", "thin", "λ̂ ± MCSE", "agrees", "converged", "FGEs"):
            table.add_column(col)
        best = None
        for candidate in candidates()[1:]:
            row = mine.get(_key(candidate))
            if row is None:
                continue
            fges = _fges(Path(row["path"]))
            ok = _agrees(row, ref) and row["trust"] == "converged"
            precond, thin = _key(candidate)
            table.add_row(
                "plain" if precond == "none" else precond,
                str(thin),
                f"{row['llc_mean']:.4g} ± {row['llc_mcse']:.2g}",
                "yes" if _agrees(row, ref) else "no",
                "yes" if row["trust"] == "converged" else "no",
                f"{fges:.3g}",
            )
            if ok and (best is None or fges < best[1]):
                best = (candidate, fges, row)
        console.print(table)
        if best is None:
            console.print(f"[yellow]{tid}: no SGLD candidate agreed; keep NUTS for this target[/]")
            continue
        candidate, fges, row = best
        blocks.append(
            f"# {tid} ({entry.model}/{entry.data}): λ̂ {row['llc_mean']:.4g} ± "
            f"{row['llc_mcse']:.2g} against NUTS {ref['llc_mean']:.4g} ± {ref['llc_mcse']:.2g}, "
            f"{fges:.3g} FGEs\n" + _block(candidate)
        )
    out = Path(args.out) if args.out else Path(args.experiments).with_suffix(".tuned.toml")
    if blocks:
        out.write_text(
            f"# written by lambda-hat tune {args.experiments}: paste into the experiments file\n\n"
            + "\n".join(blocks)
        )
        print(f"wrote {out}:\n" + "\n".join(blocks))  # plain: a console would wrap lines
    return 0 if blocks else 1
