"""A live ``rich`` display of run events: one overall bar and one bar per running task."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from lambda_hat.analysis.budget import verdict_text


class RichProgress:
    """Consumes scheduler events (a sink); use as a context manager."""

    def __init__(self, total: int, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.overall = self.progress.add_task("[bold]all tasks", total=max(total, 1))
        self.tasks: dict[str, int] = {}
        self.labels: dict[str, str] = {}
        self.started: dict[str, float] = {}

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def __call__(self, event: dict) -> None:
        kind, key = event.get("event"), event.get("key")
        if kind == "started" and key not in self.tasks:
            label = self.labels[key] = key.split("/")[-1] if "/" in key else key
            self.tasks[key] = self.progress.add_task(f"  {label}", total=None)
            self.started[key] = time.time()
        elif kind == "stage" and key in self.tasks:
            stage = f"  {self.labels[key]} [dim]· {event['stage']}[/]"
            self.progress.update(self.tasks[key], description=stage, total=None, completed=0)
        elif kind == "progress" and key in self.tasks:
            self.progress.update(self.tasks[key], total=event["total"], completed=event["done"])
        elif kind in ("finished", "failed"):
            task = self.tasks.pop(key, None)
            if task is not None:
                self.progress.remove_task(task)
            self.progress.advance(self.overall)
            self._report(event)
        elif kind == "retry":
            task = self.tasks.pop(key, None)
            if task is not None:
                self.progress.remove_task(task)
            self.console.print(f"[yellow]retrying[/] {key}: {event.get('reason')}")
        elif kind == "skipped":
            self.progress.advance(self.overall)
            self.console.print(f"[yellow]skipped[/] {key}: {event.get('reason')}")

    def _report(self, event: dict) -> None:
        key = event.get("key", "")
        if event["event"] == "failed":
            self.console.print(
                f"[red]failed[/] {key}: {event.get('error_type')}: {event.get('message')}"
            )
            return
        secs = event.get("walltime_sec", 0.0)
        if event.get("built") is False:
            self.console.print(f"[green]found[/] {key}: published meanwhile by another process")
            return
        if "llc_mean" in event:
            mcse = event.get("llc_mcse")
            est = f"λ̂ = {event['llc_mean']:.3f}" + (f" ± {mcse:.3f}" if mcse else "")
            truth = event.get("true_llc")
            if truth:
                rel = 100 * (event["llc_mean"] - truth) / truth
                est += f"  (true λ = {truth:g}, rel. err {rel:+.1f}%)"
            verdict = _verdict(event.get("trust"))
            self.console.print(
                f"[green]done[/] {key.split('/')[-1]}  {est}{verdict}  [{secs:.1f}s]"
            )
            for warning in event.get("warnings") or []:
                self.console.print(f"    [yellow]warning:[/] {warning}")
        else:
            self.console.print(f"[green]built[/] {key}  [{secs:.1f}s]")


def _verdict(trust: dict | None) -> str:
    """The run's trust verdict for its ``done`` line, in yellow when it is not
    ``converged`` (its error bar means little then)."""
    words = verdict_text(trust)
    if not words:
        return ""
    return f"  [yellow]{words}[/]" if trust.get("reasons") else f"  {words}"
