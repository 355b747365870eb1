"""A live ``rich`` display of run events: one overall bar and one bar per running task.

A task's row says its stage briefly (``pilot round 2/3``; the full text, with ε, is in the
``stage`` event), its count with totals (``40,000/160,265 steps``: an SGLD step-size
pilot's steps, then the sampler's draws) and an ETA from the pace since the stage began.
The stage text folds onto a second line rather than being cut when the terminal is
narrow; the count and the ETA are never cut.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.table import Column
from rich.text import Text

from lambda_hat.scheduler import events
from lambda_hat.store.trust import verdict_text

# a stage whose ETA is over this is said once, with how to bound the run (max_time)
LONG_STAGE_SEC = 30 * 60
# numerics/step_size.py's report of a pilot round
PILOT = re.compile(r"step size: pilot round (\d+) of at most (\d+), ε = [^,]+, ([\d,]+) steps")


def brief_stage(stage: str) -> tuple[str, str, int | None]:
    """(what a task's row says of ``stage``, the unit its count is in, the total the
    stage names, if any): ``"pilot round 2/3", "steps", 200000``. Short, so that a row
    fits 80 columns; the stage's step size and thinning are in the ``stage`` event."""
    pilot = PILOT.match(stage)
    if pilot:
        number, rounds, steps = pilot.groups()
        return f"pilot round {number}/{rounds}", "steps", int(steps.replace(",", ""))
    if stage.startswith(("sampling: ", "writing: ")):  # "sampling: ε = …, thin = …, …"
        return stage.split(":")[0], "draws", None
    return stage, "draws", None


def clock_text(seconds: float) -> str:
    """``3:12``, or ``1:02:03`` from an hour on."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _Count(ProgressColumn):
    """A row's ``count`` field (``40,000/160,265 steps``), else its completed/total."""

    def render(self, task: Task) -> Text:
        if "count" in task.fields:
            return Text(task.fields["count"], style="progress.download")
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed):,}/{int(task.total):,}", style="progress.download")


class _Clock(ProgressColumn):
    """A row's ``eta`` field (``ETA 3:12``) once its pace is known, else its elapsed time."""

    def render(self, task: Task) -> Text:
        if task.fields.get("eta"):
            return Text(task.fields["eta"], style="progress.remaining")
        return Text(clock_text(task.elapsed or 0.0), style="progress.elapsed")


class _Pace:
    """How fast a task's count moves since its stage began: its ETA."""

    def __init__(self, now: float, done: int | None = None):
        self.start, self.done = now, done

    def eta(self, now: float, done: int, total: int) -> float | None:
        if self.done is None or done < self.done:  # the first count of the stage
            self.start, self.done = now, done
            return None
        if done == self.done or now <= self.start:
            return None
        return max(total - done, 0) * (now - self.start) / (done - self.done)


class RichProgress:
    """Consumes scheduler events (a sink); use as a context manager. ``clock``: seconds,
    for the ETA (tests pass their own). A stage of a run that ``bounded`` (the keys of
    runs with ``max_time``) does not name, whose ETA is over LONG_STAGE_SEC, is said
    once in a line of its own, with how to bound it."""

    def __init__(
        self,
        total: int,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
        bounded: frozenset[str] = frozenset(),
    ):
        self.console = console or Console(stderr=True)
        self.clock = clock
        self.progress = Progress(
            TextColumn("{task.description}", table_column=Column(overflow="fold")),
            BarColumn(bar_width=12),
            _Count(table_column=Column(no_wrap=True)),
            _Clock(table_column=Column(no_wrap=True)),
            console=self.console,
            transient=False,
        )
        self.overall = self.progress.add_task("[bold]all tasks", total=max(total, 1))
        self.tasks: dict[str, int] = {}
        self.labels: dict[str, str] = {}
        self.units: dict[str, str] = {}
        self.paces: dict[str, _Pace] = {}
        self.briefs: dict[str, str] = {}
        self.bounded, self.flagged = bounded, set()

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def __call__(self, event: dict) -> None:
        match events.parse(event):
            case events.Started(key=key) if key not in self.tasks:
                self.labels[key] = key.split("/")[-1].removeprefix("run_")
                self.tasks[key] = self.progress.add_task(f"  {self.labels[key]}", total=None)
            case events.Stage(key=key, stage=stage) if key in self.tasks:
                self._stage(key, stage)
            case events.Progress(key=key, done=done, total=total) if key in self.tasks:
                self._count(key, int(done), int(total))
            case events.Finished() | events.Failed() as ended:
                self._remove(ended.key)
                self.progress.advance(self.overall)
                self._report(ended)
            case events.Retry(key=key, reason=reason):
                self._remove(key)
                self.console.print(f"[yellow]retrying[/] {key}: {escape(reason)}")
            case events.Skipped(key=key, reason=reason):
                self.progress.advance(self.overall)
                self.console.print(f"[yellow]skipped[/] {key}: {escape(reason)}")

    def _stage(self, key: str, stage: str) -> None:
        """A new stage: its brief text; its count starts over (with the total it names)."""
        brief, self.units[key], total = brief_stage(stage)
        self.briefs[key] = brief
        self.paces[key] = _Pace(self.clock())
        count = f"0/{total:,} {self.units[key]}" if total else ""
        self.progress.update(
            self.tasks[key],
            description=f"  {self.labels[key]} [dim]· {brief}[/]",
            completed=0,
            count=count,
            eta="",
        )
        for task in self.progress.tasks:  # update() reads total=None as "unchanged"
            if task.id == self.tasks[key]:
                task.total = total

    def _count(self, key: str, done: int, total: int) -> None:
        pace = self.paces.setdefault(key, _Pace(self.clock()))
        left = pace.eta(self.clock(), done, total)
        self.progress.update(
            self.tasks[key],
            total=total,
            completed=done,
            count=f"{done:,}/{total:,} {self.units.get(key, 'draws')}",
            eta="" if left is None else f"ETA {clock_text(left)}",
        )
        if left is not None and left > LONG_STAGE_SEC:
            self._long(key, left)

    def _long(self, key: str, left: float) -> None:
        """Say once that a run's stage will take long, and how to bound the run."""
        if key in self.flagged or key in self.bounded:
            return
        self.flagged.add(key)
        text = (
            f"{self.labels[key]}: {self.briefs.get(key, 'this stage')} alone will take about "
            f"{clock_text(left)} at its pace. To bound the run, give its [[samplers]] entry "
            "max_time (e.g. '30m': it ends with the best estimate that time allows and says "
            "what was cut); what a default run costs at your size: "
            "docs/samplers.md#what-a-run-costs"
        )
        self.console.print(f"[yellow]slow[/] {escape(text)}")

    def _remove(self, key: str) -> None:
        task = self.tasks.pop(key, None)
        if task is not None:
            self.progress.remove_task(task)
        self.paces.pop(key, None)

    def _report(self, event: events.Finished | events.Failed) -> None:
        key = event.key
        if isinstance(event, events.Failed):
            self.console.print(f"[red]failed[/] {key}: {event.error_type}: {escape(event.message)}")
        elif not event.built:
            self.console.print(f"[green]found[/] {key}: published meanwhile by another process")
        elif event.built_with:
            self.console.print(
                f"[green]built[/] {key} with {event.built_with} (a checkpoint of the same training)"
            )
        elif event.llc_mean is not None:
            self.console.print(
                f"[green]done[/] {key.split('/')[-1]}  {_estimate(event)}{_verdict(event.trust)}"
                f"  [{event.walltime_sec:.1f}s]"
            )
            for warning in event.warnings or []:
                self.console.print(f"    [yellow]warning:[/] {escape(warning)}")
        else:
            self.console.print(f"[green]built[/] {key}  [{event.walltime_sec:.1f}s]")


def _estimate(event: events.Finished) -> str:
    """``λ̂ = 11.782 ± 0.048  (true λ = 12, rel. err -1.8%)``."""
    mcse, truth = event.llc_mcse, event.true_llc
    est = f"λ̂ = {event.llc_mean:.3f}" + (f" ± {mcse:.3f}" if mcse else "")
    if truth:
        est += f"  (true λ = {truth:g}, rel. err {100 * (event.llc_mean - truth) / truth:+.1f}%)"
    return est


def _verdict(trust: dict | None) -> str:
    """The run's trust verdict for its ``done`` line, in yellow when it is not
    ``converged`` (its error bar means little then)."""
    words = verdict_text(trust)
    if not words:
        return ""
    return f"  [yellow]{words}[/]" if trust.get("reasons") else f"  {words}"
