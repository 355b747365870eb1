"""Launch: pick an experiments file, see its plan, start it and follow it task by task.

The run is a separate ``lambda-hat run`` process owned by the app (see ``tui/launch.py``),
so it keeps going while you browse; this screen redraws whenever its events arrive.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, OptionList, Static

from lambda_hat.tui.launch import (
    ALREADY,
    DONE,
    FAILED,
    RUNNING,
    SKIPPED,
    Launch,
    TaskState,
    tasks_from_plan,
)

STATUS_STYLE = {
    DONE: "green",
    ALREADY: "green dim",
    FAILED: "bold red",
    RUNNING: "cyan",
    SKIPPED: "yellow",
}
BAR_WIDTH = 16


def progress_bar(task: TaskState) -> Text:
    if task.status in (DONE, ALREADY):
        filled = BAR_WIDTH
    elif task.total:
        filled = round(BAR_WIDTH * task.fraction)
    else:
        filled = 0
    text = Text("█" * filled, style=STATUS_STYLE.get(task.status, "cyan"))
    text.append("░" * (BAR_WIDTH - filled), style="dim")
    if task.total and task.status == RUNNING:
        text.append(f" {task.done}/{task.total}")
        if task.done >= task.total:
            text.append(" analysing…", style="dim")
    return text


class LaunchScreen(Screen):
    """Experiments files on the left; the selected file's plan or live launch on the right."""

    BINDINGS = [
        Binding("g", "start", "Start"),
        Binding("x", "stop", "Stop run"),
        Binding("f", "focus_files", "Files", show=False),
    ]
    DEFAULT_CSS = """
    LaunchScreen #files { width: 38; border-right: vkey $primary; }
    LaunchScreen #files OptionList { height: 1fr; }
    LaunchScreen #status { height: auto; padding: 0 1; }
    LaunchScreen #log { height: auto; max-height: 10; padding: 0 1; color: $text-muted; }
    LaunchScreen #tasks { height: 1fr; }
    """

    class PlanLoaded(Message):
        def __init__(self, path: Path, plan: dict | None, error: str | None):
            super().__init__()
            self.path = path
            self.plan = plan
            self.error = error

    def __init__(self):
        super().__init__()
        self.selected: Path | None = None
        self.plan: dict | None = None
        self.launch: Launch | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="files"):
                yield Static("experiments files", classes="pane-title")
                yield OptionList(*[str(p) for p in self._files()], id="file-list")
                yield Input(placeholder="or type a path, Enter", id="file-path")
            with Vertical():
                yield Static("select an experiments file to see its plan", id="status")
                yield DataTable(id="tasks", cursor_type="row", zebra_stripes=True)
                yield Static("", id="log")
        yield Footer()

    def _files(self) -> list[Path]:
        folder = self.app.experiments_dir
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix in (".toml", ".yaml", ".yml"))

    def on_mount(self) -> None:
        self.sub_title = "launch experiments"
        table = self.query_one("#tasks", DataTable)
        for label in ("kind", "task", "status", "progress", "message"):
            table.add_column(label, key=label)
        if self.app.launches:
            self.launch = self.app.launches[-1]
            self.selected = self.launch.experiments
            self._redraw()
        self.query_one("#file-list").focus()

    # -- choosing a file ---------------------------------------------------------------
    @on(OptionList.OptionSelected, "#file-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.select(Path(str(event.option.prompt)))

    @on(Input.Submitted, "#file-path")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.select(Path(event.value.strip()).expanduser())

    def select(self, path: Path) -> None:
        self.selected = path
        self.plan = None
        matching = [x for x in self.app.launches if x.experiments == path]
        self.launch = matching[-1] if matching else None
        self.query_one("#status", Static).update(f"reading the plan of {path} …")
        self.load_plan(path)

    @work(thread=True, exclusive=True, group="plan")
    def load_plan(self, path: Path) -> None:
        from lambda_hat.config import load
        from lambda_hat.scheduler.cost import calibrate
        from lambda_hat.scheduler.plan import make_plan

        try:
            plan = make_plan(load(path, str(self.app.root)))
            plan = plan.to_dict(calibrate(plan.root))
        except Exception as exc:  # noqa: BLE001 - config errors are shown to the user
            self.post_message(self.PlanLoaded(path, None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.PlanLoaded(path, plan, None))

    def on_launch_screen_plan_loaded(self, message: PlanLoaded) -> None:
        if message.path != self.selected:
            return
        self.plan = message.plan
        if message.error:
            self.query_one("#status", Static).update(Text(message.error, style="red"))
            self.query_one("#tasks", DataTable).clear()
            return
        self._redraw()
        if self.launch is None:
            self.query_one("#tasks", DataTable).focus()

    # -- launching ---------------------------------------------------------------------
    def action_start(self) -> None:
        if self.selected is None or self.plan is None:
            self.notify("select an experiments file first", severity="warning")
            return
        if self.launch is not None and self.launch.running:
            self.notify("this file is already running", severity="warning")
            return
        launch = self.app.start_launch(self.selected)
        if launch is not None:
            self.launch = launch
            self._redraw()

    def action_stop(self) -> None:
        if self.launch is not None and self.launch.running:
            self.launch.stop()
            self.notify("stopping: pending work is cancelled, finished artifacts stay")

    def action_focus_files(self) -> None:
        self.query_one("#file-list").focus()

    def launch_updated(self, launch: Launch) -> None:
        if launch is self.launch:
            self._redraw()

    def store_changed(self) -> None:
        if self.selected is not None and (self.launch is None or not self.launch.running):
            self.load_plan(self.selected)

    # -- drawing -----------------------------------------------------------------------
    def _redraw(self) -> None:
        launch = self.launch
        if launch is not None:
            tasks = launch.tasks
            if not tasks and self.plan is not None:
                tasks = tasks_from_plan(self.plan)
            status = Text(launch.status_line(), style="bold")
        elif self.plan is not None:
            tasks = tasks_from_plan(self.plan)
            c = self.plan["counts"]
            status = Text(f"plan of {self.selected} on {self.plan['root']}\n", style="bold")
            status.append(
                f"targets: {c['targets']['done']} done, {c['targets']['todo']} to do, "
                f"{c['targets']['failed']} failed · runs: {c['runs']['done']} done, "
                f"{c['runs']['todo']} to do, {c['runs']['failed']} failed — press g to start"
            )
        else:
            return
        self.query_one("#status", Static).update(status)
        table = self.query_one("#tasks", DataTable)
        cursor = table.cursor_row
        table.clear()
        for key, task in tasks.items():
            style = STATUS_STYLE.get(task.status, "")
            table.add_row(
                task.kind,
                task.label,
                Text(task.status, style=style),
                progress_bar(task),
                Text(task.message, style="red" if task.status == FAILED else "dim"),
                key=key,
            )
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor, animate=False)
        log = self.query_one("#log", Static)
        if launch is not None and not launch.running and launch.returncode not in (0, None):
            log.update(
                Text(
                    f"run exited with code {launch.returncode}; last output:\n" + launch.log_tail(),
                    style="dim",
                )
            )
        else:
            log.update("")
