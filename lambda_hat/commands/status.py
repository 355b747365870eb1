"""``lambda-hat status [EXPERIMENTS.toml]``: what is done, missing, failed (no JAX).

With an experiments file: every target and run it asks for, with its state (done,
missing, failed with the failure message, or running when a live process holds its
lock). Without one: everything the store holds, and every recorded failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

HELP = "show which targets and runs are done, missing or failed (without loading JAX)"

DONE, MISSING, FAILED, RUNNING = "done", "missing", "failed", "running"
STYLE = {DONE: "green", MISSING: "cyan", FAILED: "red", RUNNING: "yellow"}


def add_arguments(p) -> None:
    p.add_argument("experiments", nargs="?", help="experiments TOML file (default: whole store)")
    p.add_argument("--root", help="store root (default: the file's [store].root, else runs)")
    p.add_argument("--format", choices=("table", "json"), default="table")


def plan_rows(experiments: str, root: str | None) -> tuple[Path, list[dict]]:
    """One row per target and run of the file, with its state."""
    from lambda_hat.config import load
    from lambda_hat.scheduler.plan import make_plan
    from lambda_hat.store.layout import Layout
    from lambda_hat.store.snapshots import saved_progress

    plan = make_plan(load(experiments, root))
    layout = Layout(plan.root)
    rows = []
    for t in plan.targets:
        final = layout.target_dir(t.target_id)
        rows.append(
            _row(
                "target",
                t.target_id,
                None,
                t.status,
                t.failure,
                final,
                _with_sweep(f"{t.names.get('model')}/{t.names.get('data')} seed {t.spec.seed}", t),
            )
        )
    for r in plan.runs:
        final = layout.run_dir(r.target_id, r.dirname)
        probe = final if layout.target_dir(r.target_id).is_dir() else None
        what = _with_sweep(r.spec.sampler, r)
        row = _row("run", r.target_id, r.dirname, r.status, r.failure, probe, what)
        point = saved_progress(layout.run_resume(r.target_id, r.dirname)) if probe else None
        if point and row["state"] != DONE:  # a stopped run's progress, which it resumes from
            row["saved"] = point["where"]
        rows.append(row)
    return plan.root, rows


def _with_sweep(what: str, task) -> str:
    """``sgld step_size=1e-05``: what a task is, with its sweep point."""
    from lambda_hat.config.sweeps import label

    return f"{what} {label(task.swept)}" if task.swept else what


def _row(kind, target_id, run, status, failure, final, what) -> dict:
    state = {"done": DONE, "todo": MISSING, "failed": FAILED}[status]
    from lambda_hat.store.publish import held

    if state != DONE and final is not None and held(final):
        state = RUNNING
    row = {"kind": kind, "target_id": target_id, "run": run, "what": what, "state": state}
    if failure:
        row["error_type"] = failure.error_type
        row["message"] = failure.message
        row["retryable"] = bool(failure.retryable)
    return row


def store_rows(root: str) -> list[dict]:
    """Every target and run the store holds, and every recorded failure."""
    from lambda_hat.store.catalog import Catalog
    from lambda_hat.store.layout import Layout
    from lambda_hat.store.publish import held
    from lambda_hat.store.records import TargetMeta
    from lambda_hat.store.run_names import parse_run_folder

    catalog = Catalog(root)
    targets = catalog.targets()
    rows = []
    for target in targets:
        meta = target.meta or TargetMeta()
        what = f"{meta.names.get('model')}/{meta.names.get('data')} seed {meta.seed}"
        rows.append(
            {
                "kind": "target",
                "target_id": target.target_id,
                "run": None,
                "what": what,
                "state": DONE if target.error is None else FAILED,
                **({"message": target.error} if target.error else {}),
            }
        )
        for dirname in target.run_dirnames():
            named = parse_run_folder(dirname)
            rows.append(
                {
                    "kind": "run",
                    "target_id": target.target_id,
                    "run": dirname,
                    "what": named.sampler if named else "?",
                    "state": DONE,
                }
            )
    layout = Layout(root)
    for f in catalog.failures():
        target_id = f.target_id or Path(f.path).stem
        final = layout.run_dir(target_id, f.run) if f.run else layout.target_dir(target_id)
        rows.append(
            {
                "kind": "run" if f.run else "target",
                "target_id": target_id,
                "run": f.run,
                "what": f.spec.get("sampler", ""),
                "state": RUNNING if held(final) else FAILED,  # a retry in progress
                "error_type": f.error_type,
                "message": f.message,
                "retryable": bool(f.retryable),
                "failure_file": str(f.path),
            }
        )
    rows += _computing_rows(catalog, targets, {(r["target_id"], r["run"]) for r in rows})
    return rows + _stopped_rows(catalog, targets, rows)


def _stopped_rows(catalog, targets, rows: list[dict]) -> list[dict]:
    """Runs stopped with their progress saved that no row shows yet, and that progress
    on the failed rows that have it (the next attempt resumes from it)."""
    from lambda_hat.store.run_names import parse_run_folder

    listed = {(r["target_id"], r["run"]): r for r in rows if r["run"]}
    new = []
    for t in targets:
        for run in t.stopped():
            row = listed.get((t.target_id, run))
            if row is None:
                what = parse_run_folder(run).sampler
                row = {"kind": "run", "target_id": t.target_id, "run": run, "what": what}
                new.append({**row, "state": MISSING})
                row = new[-1]
            if "saved" not in row:
                row.update(_saved(catalog, t.target_id, run))
    return new


def _saved(catalog, target_id: str, run: str | None) -> dict:
    """``{"saved": where}`` for a run with saved progress, else ``{}``."""
    from lambda_hat.store.snapshots import saved_progress

    point = saved_progress(catalog.layout.run_resume(target_id, run)) if run else None
    return {"saved": point["where"]} if point else {}


def _computing_rows(catalog, targets, listed: set) -> list[dict]:
    """Targets and runs a live process is computing and no failure record names yet,
    with a run's saved progress (``targets``: the store's records; ``listed``: the
    (target, run) pairs already shown)."""
    from lambda_hat.store.run_names import parse_run_folder

    found = [(t, None, "") for t in catalog.computing()]
    for t in targets:
        found += [(t.target_id, r, parse_run_folder(r).sampler) for r in t.computing()]
    rows = []
    for target_id, run, what in found:
        if (target_id, run) in listed:
            continue
        row = {"kind": "run" if run else "target", "target_id": target_id, "run": run}
        rows.append({**row, "what": what, "state": RUNNING, **_saved(catalog, target_id, run)})
    return rows


def _cells(r: dict) -> tuple[str, ...]:
    """A row's table cells; its details: the recorded failure (an earlier attempt's,
    while a retry runs) and the saved progress (the running attempt's, or where the
    next one resumes)."""
    running, details = r["state"] == RUNNING, ""
    if r.get("message"):
        details = f"{r.get('error_type') or ''}: {r['message']}".lstrip(": ")
        if running:
            details = f"an earlier attempt failed: {details}"
        elif r.get("retryable"):
            details += " (retried by the next run)"
    if r.get("saved"):
        from lambda_hat.store.snapshots import describe

        details = f"{details}; " if details else ""
        after = "" if running else ": the next attempt resumes"
        details += f"progress saved at {describe(r['saved'])}{after}"
    style = STYLE.get(r["state"], "")
    state = f"[{style}]{r['state']}[/]"
    return (r["kind"], r["target_id"], r["run"] or "", r["what"] or "", state, escape(details))


def slurm_submissions(root: str | Path) -> list[dict]:
    """SLURM submissions under ``<root>/slurm/`` with their progress (store + scontrol)."""
    from lambda_hat.slurm.queue import submissions

    return submissions(root)


def _counts(rows: list[dict]) -> str:
    parts = []
    for kind in ("target", "run"):
        mine = [r for r in rows if r["kind"] == kind]
        states = ", ".join(
            f"{sum(r['state'] == s for r in mine)} {s}"
            for s in (DONE, RUNNING, MISSING, FAILED)
            if any(r["state"] == s for r in mine)
        )
        parts.append(f"{len(mine)} {kind}s" + (f" ({states})" if states else ""))
    return "; ".join(parts)


def run(args) -> int:
    if args.experiments:
        root, rows = plan_rows(args.experiments, args.root)
    else:
        from lambda_hat.store.root import existing_store

        root = existing_store(args.root or "runs", "pass --root DIR or an experiments file")
        rows = store_rows(str(root))
    slurm = slurm_submissions(root)
    if args.experiments:  # this file's submissions, not every one of the store
        mine = str(Path(args.experiments).resolve())
        slurm = [sub for sub in slurm if sub.get("experiments") == mine]
    if args.format == "json":
        print(json.dumps({"root": str(root), "rows": rows, "slurm": slurm}, indent=2, default=str))
        return 0
    console = Console(width=None if sys.stdout.isatty() else 200)
    table = Table(title=f"store {root}")
    for col in ("kind", "target", "run", "what", "state", "details"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*_cells(r))
    console.print(table)
    console.print(_counts(rows))
    from lambda_hat.slurm.queue import describe

    for sub in slurm:
        console.print(describe(sub))
    return 0
