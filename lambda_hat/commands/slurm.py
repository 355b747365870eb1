"""``lambda-hat slurm EXPERIMENTS.toml``: write (and submit) an sbatch array of what is missing."""

from __future__ import annotations

import shlex
import sys

HELP = "write an sbatch array script for the missing work of an experiments file (and submit it)"


def add_arguments(p) -> None:
    p.add_argument("experiments", help="experiments TOML file")
    p.add_argument(
        "--root",
        help="store root (overrides [store].root); must be on a file "
        "system shared by the login and compute nodes",
    )
    _resource_arguments(p)
    p.add_argument(
        "--extra-sbatch",
        action="append",
        default=[],
        metavar="FLAGS",
        help='more sbatch flags, written with "=": --extra-sbatch="--qos=long --gres=gpu:1" '
        "(repeatable)",
    )
    p.add_argument(
        "--setup",
        action="append",
        default=[],
        metavar="LINE",
        help='a shell line run before the worker, e.g. "module load python/3.11" (repeatable)',
    )
    p.add_argument(
        "--python",
        default=None,
        help="python of the project's environment on the compute nodes "
        "(default: the one running this command)",
    )
    p.add_argument("--job-name", default="lambda-hat", help="sbatch --job-name")
    p.add_argument(
        "--per",
        choices=("target", "run"),
        default="target",
        help="one array task per target group (build it, then its runs; default) or per run",
    )
    p.add_argument(
        "--grace",
        type=int,
        default=60,
        metavar="SECONDS",
        help="stop signal this long before the time limit (60)",
    )
    p.add_argument(
        "--requeue",
        action="store_true",
        help="a task stopped by the time limit requeues itself if it made progress",
    )
    _submission_arguments(p)


def _submission_arguments(p) -> None:
    """What is submitted, what is checked first, and whether to submit and wait."""
    p.add_argument("--retry-failed", action="store_true", help="also rerun recorded failures")
    p.add_argument(
        "--measure",
        action="store_true",
        help="before checking --time, measure what each run's spec leaves to the run (an "
        "automatic SGLD or SGHMC step: w*'s curvature and noise, on this node, seconds each)",
    )
    p.add_argument("--submit", action="store_true", help="submit with sbatch")
    p.add_argument("--wait", action="store_true", help="with --submit: wait until it ends")
    p.add_argument(
        "--wait-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --wait: give up waiting after this long",
    )


def _resource_arguments(p) -> None:
    """What each array task asks of the cluster (sbatch's own flags)."""
    p.add_argument("--partition", help="sbatch --partition")
    p.add_argument("--account", help="sbatch --account")
    p.add_argument("--time", help="wall-clock limit per array task, e.g. 02:00:00")
    p.add_argument("--mem", help="memory per array task, e.g. 8G")
    p.add_argument("--cpus-per-task", type=int, default=1, help="CPUs per array task (1)")
    p.add_argument(
        "--max-parallel",
        type=int,
        default=None,
        help="at most K array tasks at once (--array=0-N%%K)",
    )


def run(args) -> int:
    from lambda_hat.config import load
    from lambda_hat.errors import SlurmError
    from lambda_hat.scheduler.plan import make_plan
    from lambda_hat.slurm.submit import prepare
    from lambda_hat.store.root import writable_store
    from lambda_hat.targets.probe import check_python_models

    if args.wait and not args.submit:
        raise SlurmError("--wait needs --submit")
    if args.wait_timeout is not None and not (args.wait and args.wait_timeout > 0):
        raise SlurmError("--wait-timeout takes seconds above 0, with --submit --wait")
    options = _options(args)
    experiment = load(args.experiments, args.root)
    plan = make_plan(experiment)
    check_python_models([t for t in plan.targets if t.status != "done"], str(experiment.path))
    writable_store(plan.root)
    if args.measure:
        from rich.console import Console

        from lambda_hat.commands.run import measure

        measure(plan, Console(stderr=True, soft_wrap=not sys.stderr.isatty()))
    prepared = prepare(plan, args.experiments, options, args.per, args.retry_failed)
    if prepared is None:
        print(_nothing_to_submit(plan))
        return 0
    _say_prepared(plan, prepared, options, args.per)
    if not args.submit:
        print(f"submit with:\n  sbatch {shlex.quote(str(prepared.script_path))}")
        return 0
    from lambda_hat.slurm.submit import submit

    job_id = submit(prepared)
    print(
        f"submitted array job {job_id} ({prepared.n_tasks} task(s)); "
        f"follow it with `lambda-hat status` or `squeue -j {job_id}`"
    )
    if not args.wait:
        return 0
    return _wait(prepared, job_id, plan.root, args.wait_timeout)


def _options(args):
    """The array's sbatch options from the command line, checked."""
    from lambda_hat.slurm.render import SbatchOptions
    from lambda_hat.slurm.submit import default_python

    return SbatchOptions(
        job_name=args.job_name,
        time=args.time,
        mem=args.mem,
        cpus_per_task=args.cpus_per_task,
        max_parallel=args.max_parallel,
        partition=args.partition,
        account=args.account,
        requeue=args.requeue,
        grace_seconds=args.grace,
        extra_sbatch=tuple(args.extra_sbatch),
        setup=tuple(args.setup) + _soft_lock_line(),
        python=args.python or default_python(),
    ).check()


def _nothing_to_submit(plan) -> str:
    counts = plan.counts()
    failed = counts["targets"]["failed"] + counts["runs"]["failed"]
    if failed:
        return (
            f"nothing to submit; {failed} failed task(s) recorded in {plan.root}: "
            "rerun with --retry-failed to try them again"
        )
    return (
        f"nothing to submit: all {len(plan.targets)} target(s) and {len(plan.runs)} "
        f"run(s) are already in the store {plan.root}"
    )


def _say_prepared(plan, prepared, options, per: str) -> None:
    """What the array will do, what it leaves out, advice on its limits, its files."""
    counts = plan.counts()
    print(
        f"{len(prepared.artifacts)} artifact(s) missing "
        f"(targets: {counts['targets']['todo']} to do, {counts['targets']['done']} done; "
        f"runs: {counts['runs']['todo']} to do, {counts['runs']['done']} done) "
        f"-> {prepared.n_tasks} array task(s), one per {per}"
    )
    for s in prepared.skipped:
        print(f"  not submitted: {s['key']}: {s['reason']}")
    for hint in [memory_hint(plan), *time_hints(plan, options.time)]:
        if hint:
            print(hint)
    print(
        f"wrote {prepared.script_path}\n  plan {prepared.plan_path}\n"
        f"  logs {prepared.folder / 'logs'}/task-<i>.out"
    )


def memory_hint(plan) -> str | None:
    """Advice on ``--mem`` when tasks of this plan died last time (recorded crashes).

    A crash record carries the peak memory of the task's processes and, under SLURM, the
    job's limit; the larger of the two with 50% headroom, rounded up to 256 MB, is what
    the resubmission should ask for.
    """
    crashed = [
        t.failure
        for t in (*plan.targets, *plan.runs)
        if t.failure and t.failure.error_type == "WorkerCrashed"
    ]
    if not crashed:
        return None
    seen = [max(f.peak_rss_mb or 0, f.mem_limit_mb or 0) for f in crashed]
    if not max(seen):
        return f"  {len(crashed)} task(s) died last time (killed, or out of memory)"
    need = -(-int(1.5 * max(seen)) // 256) * 256
    return (
        f"  {len(crashed)} task(s) died last time (killed, or out of memory) at up to "
        f"{max(seen):.0f} MB: if memory was the cause, submit with --mem {need}M or more"
    )


def time_hints(plan, limit: str | None) -> list[str]:
    """The runs to do that the cost model (``scheduler/cost``, calibrated on the store)
    puts past ``--time`` even at their least, each with what to do."""
    if limit is None:
        return []
    from lambda_hat.scheduler import cost
    from lambda_hat.slurm.render import time_seconds

    over = cost.beyond(plan, cost.calibrate(plan.root), time_seconds(limit))
    return [
        f"  {task.key} will take {cost.text(span)} by the cost model, over --time "
        f"{limit}: give a longer --time, or its [[samplers]] entry a max_time below "
        "it (a run the limit stops resumes from its saved progress when requeued)"
        for task, span in over
    ]


def _soft_lock_line() -> tuple[str, ...]:
    """Carry ``LAMBDA_HAT_SOFT_LOCKS`` into the tasks (some clusters do not export the
    submitting shell's environment)."""
    from lambda_hat.store.locks import soft_locks

    return ("export LAMBDA_HAT_SOFT_LOCKS=1",) if soft_locks() else ()


def _wait(prepared, job_id: str, root, timeout) -> int:
    from lambda_hat.slurm.queue import count_states, store_progress
    from lambda_hat.slurm.submit import wait

    last = [""]

    def on_poll(states):
        progress = store_progress(root, prepared.artifacts)
        line = (
            f"job {job_id}: "
            + ", ".join(f"{n} {s.lower()}" for s, n in count_states(states).items())
            + f"; store: {progress['done']}/{progress['total']} published"
        )
        if line != last[0]:
            last[0] = line
            print(line, file=sys.stderr, flush=True)

    states = wait(job_id, prepared.n_tasks, timeout=timeout, on_poll=on_poll)
    progress = store_progress(root, prepared.artifacts)
    bad = {i: s for i, s in sorted(states.items()) if s["state"] != "COMPLETED"}
    for i, s in bad.items():
        print(
            f"task {i}: {s['state']} (exit {s['exit_code']}); log: "
            f"{prepared.folder / 'logs' / f'task-{i}.out'}"
        )
    print(
        f"job {job_id} finished: {len(states) - len(bad)}/{len(states)} task(s) completed; "
        f"{progress['done']}/{progress['total']} artifact(s) published, "
        f"{progress['failed']} failed"
    )
    return 0 if not bad and progress["done"] == progress["total"] else 1
