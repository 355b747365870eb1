"""``lambda-hat run EXPERIMENTS.toml``: build missing targets and run missing samplers."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

HELP = "build missing targets and run missing samplers of an experiments file"


def add_arguments(p) -> None:
    p.add_argument("experiments", help="experiments TOML file")
    p.add_argument("--root", help="store root (overrides [store].root)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel workers (default: the cores, at most the tasks that can run at once)",
    )
    p.add_argument("--only-targets", action="store_true", help="build targets, run no samplers")
    p.add_argument("--retry-failed", action="store_true", help="also rerun recorded failures")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    p.add_argument(
        "--measure",
        action="store_true",
        help="before estimating each run's time, measure what its spec leaves to the run "
        "(an automatic SGLD or SGHMC step: the curvature at w* of a built target, and "
        "SGHMC's minibatch noise there; seconds each)",
    )
    p.add_argument("--events", metavar="FILE", help="append JSON-lines events to FILE")
    p.add_argument("--quiet", action="store_true", help="no progress display")


def print_plan(plan, console: Console, calibration=None, measured: bool = False) -> None:
    from rich.table import Table

    from lambda_hat.config.sweeps import label
    from lambda_hat.fields import duration_text

    swept = any(t.swept for t in plan.targets) or any(r.swept for r in plan.runs)
    table = Table(title=f"plan for store {plan.root}", show_lines=False)
    columns = ("kind", "artifact", "target", "status", "work per chain")
    for col in (*columns, *(["swept"] if swept else [])):
        table.add_column(col)
    for t in plan.targets:
        extra = [label(t.swept)] if swept else []
        table.add_row("target", t.target_id, target_label(t), _status(t.status), "", *extra)
    for r in plan.runs:
        extra = [label(r.swept)] if swept else []
        work = r.work(calibration) + (
            f" (max_time {duration_text(r.spec.max_time)})" if r.spec.max_time else ""
        )
        table.add_row("run", r.dirname, r.target_id, _status(r.status), work, *extra)
    console.print(table)
    c = plan.counts()
    console.print(
        f"targets: {c['targets']['done']} done, {c['targets']['todo']} to do, "
        f"{c['targets']['failed']} failed; runs: {c['runs']['done']} done, "
        f"{c['runs']['todo']} to do, {c['runs']['failed']} failed"
    )
    if calibration is not None:
        console.print(plan_time(plan, calibration, measured))
        base = (
            f"calibrated on {calibration.runs} run(s) of this store"
            if calibration.runs
            else "a 2-core CPU's figures (no run in this store to calibrate them yet)"
        )
        console.print(f"times: a rough model of cost (within about 2×), {base}")


def cost_notes(experiment) -> list[str]:
    """What the file's sampler entries will cost that they do not say (a written SGLD
    step with thin = "auto": thousands of steps per draw), each with the entry it is of."""
    from lambda_hat.config.sweeps import label
    from lambda_hat.samplers.registry import SAMPLERS

    out = []
    for i, spec in enumerate(experiment.samplers):
        swept = experiment.sampler_swept[i] if experiment.sampler_swept else {}
        where = f"samplers ({spec.name}{', ' + label(swept) if swept else ''})"
        if not any(experiment.sampler_swept or ()):
            where = f"samplers[{i}] ({spec.name})"
        out += [f"{experiment.path}: {where}: {text}" for text in SAMPLERS[spec.name].notes(spec)]
    return out


def measure(plan, console: Console) -> None:
    """Measure the work of the runs to do whose spec leaves it to the run (``--measure``),
    and say which could not be: their target is not built yet."""
    todo = [r for r in plan.runs if r.status != "done"]
    measured = sum(task.measure(plan.root) for task in todo)
    left = [r for r in todo if r.work_per_chain().steps is None]
    console.print(f"[cyan]measured[/] the curvature at w* for {measured} run(s)")
    if left:
        console.print(
            f"[yellow]note[/] {len(left)} run(s) still have no estimate: their target is "
            "not built yet (lambda-hat run --only-targets builds them), or their work is "
            "set by a preconditioner"
        )


def plan_time(plan, calibration, measured: bool = False) -> str:
    """The estimated time of the runs to do, all together (they share the machine's
    cores however many workers run them), and how many have no estimate yet (with how
    to get one, unless ``--measure`` was asked already)."""
    from lambda_hat.scheduler import cost

    spans = [r.seconds(calibration) for r in plan.runs if r.status != "done"]
    known = [s for s in spans if s is not None]
    text = "runs to do: "
    if known:
        total = (sum(s[0] for s in known), sum(s[1] for s in known))
        text += f"{cost.text(total)} in all by the cost model"
    unknown = len(spans) - len(known)
    if unknown:
        text += f"{' + ' if known else ''}{unknown} whose work is set when they run"
        if not measured:
            text += " (--measure estimates an automatic step's once its target is built)"
    return text if spans else "runs to do: none"


def slow_notes(plan, calibration) -> list[str]:
    """The runs to do whose estimated wall time passes ``cost.SLOW_SECONDS`` and that
    have no ``max_time`` to bound them, each with what to do."""
    from lambda_hat.scheduler import cost

    return [
        f"{task.key} will take {cost.text(span)} by the cost model "
        f"(p = {task.p:,}, n = {task.n_data:,}, {task.spec.chains} chains). To bound "
        'it, give its [[samplers]] entry max_time (e.g. max_time = "30m"), or '
        "fewer draws or chains."
        for task, span in cost.beyond(plan, calibration, cost.SLOW_SECONDS)
    ]


def target_label(task) -> str:
    """``model/data/training`` of a planned target, with ``@step N`` for a checkpoint, so
    the checkpoints of one training read apart."""
    names = task.names
    what = f"{names.get('model')}/{names.get('data')}/{names.get('training')}"
    step = task.spec.training.at_step
    return what if step is None else f"{what}@step {step}"


def _status(status: str) -> str:
    return {"done": "[green]done[/]", "todo": "[cyan]to do[/]", "failed": "[red]failed[/]"}[status]


def run(args) -> int:
    from lambda_hat.config import load
    from lambda_hat.errors import ConfigError
    from lambda_hat.scheduler.cost import calibrate
    from lambda_hat.scheduler.plan import make_plan
    from lambda_hat.store import housekeeping
    from lambda_hat.store.root import writable_store
    from lambda_hat.targets.probe import check_python_models

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    # to a log or a pipe, lines are not folded: a path stays whole, to copy or grep
    console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())
    experiment = load(args.experiments, args.root)
    plan = make_plan(experiment)
    check_python_models([t for t in plan.targets if t.status != "done"], str(experiment.path))
    to_do = args.dry_run or any(r.status != "done" for r in plan.runs)
    calibration = calibrate(plan.root) if to_do else None  # a no-op rerun reads no run
    if args.measure:
        measure(plan, console)
    for text in cost_notes(experiment) + slow_notes(plan, calibration):
        console.print(f"[yellow]note[/] {escape(text)}")
    if args.dry_run:
        wide = Console(width=None if sys.stdout.isatty() else 200)
        print_plan(plan, wide, calibration, measured=args.measure)
        return 0
    writable_store(plan.root)
    # A SIGTERM (e.g. from the TUI's cancel button) stops like Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    touched = [t.target_id for t in plan.targets]
    housekeeping.clean_stale_temps(plan.root, touched)
    housekeeping.reconcile(plan.root, touched)
    events_sink = None
    if args.events:
        from lambda_hat.scheduler.events import JsonlSink

        events_sink = JsonlSink(args.events)
    try:
        return _execute(args, plan, calibration, console, [events_sink] if events_sink else [])
    finally:
        if events_sink:
            events_sink.close()


def _execute(args, plan, calibration, console, sinks: list) -> int:
    """The selected tasks of ``plan`` on a local pool, told to ``sinks`` (an events
    file) and shown as progress; the exit code."""
    from lambda_hat.scheduler.local import LocalExecutor, default_workers, selected

    targets, runs = selected(plan, args.retry_failed, args.only_targets)
    considered = plan.targets + ([] if args.only_targets else plan.runs)
    chosen = {t.key for t in targets + runs}
    held_back = [t for t in considered if t.status == "failed" and t.key not in chosen]
    emit = _fanout(sinks)
    plan_event = {"event": "plan", "experiments": str(Path(args.experiments))}
    emit({**plan_event, **plan.to_dict(calibration), "to_do": sorted(chosen)})
    not_retried = [t.key for t in held_back]
    if not targets and not runs:
        done = sum(t.status == "done" for t in considered)
        console.print(
            f"[green]nothing to do[/]: {done} of {len(considered)} task(s) already done "
            f"in {plan.root}"
        )
        emit({"event": "summary", **_NOTHING_DONE, "already": done, "not_retried": not_retried})
        return _report_held_back(held_back, console)
    workers = args.workers or default_workers(targets, runs)
    counts = plan.counts()
    console.print(
        f"{len(targets)} target(s) and {len(runs)} run(s) to do, "
        f"{counts['runs']['done'] + counts['targets']['done']} already done; "
        f"{workers} worker(s); store {plan.root}"
    )
    executor = LocalExecutor(plan.root, workers)
    if args.quiet:
        executor.sink = emit
        summary = executor.execute(plan, args.retry_failed, args.only_targets)
    else:
        from lambda_hat.scheduler.progress import RichProgress

        bounded = frozenset(r.key for r in runs if r.spec.max_time is not None)
        with RichProgress(len(targets) + len(runs), console, bounded=bounded) as display:
            executor.sink = _fanout([*sinks, display])
            summary = executor.execute(plan, args.retry_failed, args.only_targets)
    emit({"event": "summary", **summary.to_dict(), "not_retried": not_retried})
    return _report(summary, console) or _report_held_back(held_back, console)


# the summary event of a run with nothing to do (``already`` and ``not_retried`` added)
_NOTHING_DONE = {
    "done": 0,
    "siblings": 0,
    "found": 0,
    "failed": [],
    "skipped": [],
    "interrupted": False,
    "walltime_sec": 0.0,
}


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _report_held_back(held_back, console: Console) -> int:
    """Failures recorded by earlier runs that this run did not retry: exit 1, say why."""
    if not held_back:
        return 0
    console.print(
        f"[red]{len(held_back)} task(s) failed in an earlier run[/] and were not retried "
        "(rerun with --retry-failed once the cause is fixed):"
    )
    for t in held_back:
        console.print(f"  {t.key}: {escape(t.failure.text) if t.failure else '?'}")
    return 1


def _fanout(sinks):
    def emit(event: dict) -> None:
        for sink in sinks:
            sink(event)

    return emit


def _report(summary, console: Console) -> int:
    siblings = len(summary.siblings)
    together = f" ({siblings} of them checkpoints of the same training)" if siblings else ""
    found = f"{len(summary.found)} built meanwhile by another process, " if summary.found else ""
    console.print(
        f"finished in {summary.walltime_sec:.1f}s: {len(summary.done)} built{together}, {found}"
        f"{summary.already} already done, {len(summary.failed)} failed, "
        f"{len(summary.skipped)} skipped"
    )
    if summary.interrupted:
        console.print("[yellow]interrupted[/]: pending work cancelled; rerun to continue.")
        return 130
    if summary.stopped:
        console.print(
            f"[red]stopped[/]: {summary.stopped}\n    {len(summary.unfinished)} task(s) left undone"
        )
    for f in summary.failed:
        console.print(
            f"[red]failed[/] {f['key']}: {f['error_type']}: {f['message']}\n"
            f"    details: {f['failure_file']}"
        )
    if summary.failed or summary.skipped or summary.stopped:
        return 1
    return 0
