"""Target: its meta (configs, dims, versions) and its runs, failures included."""

from __future__ import annotations

import json

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Static

from lambda_hat.store.records import FailureRecord, TargetMeta
from lambda_hat.tui.data import (
    FAILED,
    OK,
    RUNNING,
    STOPPED,
    RunRow,
    describe_model,
    fmt_estimate,
    fmt_num,
    fmt_relative,
    fmt_time,
    run_rows,
    training_curve,
)
from lambda_hat.tui.widgets.line_plot import LinePlot, densify
from lambda_hat.tui.widgets.record_table import Col, RecordTable


def _status_cell(row: RunRow) -> Text:
    if row.status == OK:
        warnings = row.analysis.warnings
        if warnings:
            return Text(f"⚠ {len(warnings)} warning(s)", style="yellow")
        return Text("ok", style="green")
    if row.status == RUNNING:
        return Text(f"⟳ running{': ' if row.message else ''}{row.message}", style="cyan")
    if row.status == STOPPED:
        return Text(f"⏸ stopped: {row.message}", style="yellow")
    return Text(f"✗ {row.message}", style="red")


RUN_COLUMNS = [
    Col("run", "run", lambda r: r.dirname),
    Col("sampler", "sampler", lambda r: r.sampler),
    Col("hyper", "settings", lambda r: r.hyperparams()),
    Col("varies", "varies", lambda r: r.varies),
    Col(
        "llc",
        "λ̂ ± MCSE",
        lambda r: fmt_estimate(r.analysis.llc_mean, r.analysis.llc_mcse),
        lambda r: r.analysis.llc_mean,
    ),
    Col(
        "rel",
        "rel. err",
        lambda r: fmt_relative(r.analysis.relative_error),
        lambda r: r.analysis.relative_error,
    ),
    Col("ess", "ESS", lambda r: fmt_num(r.analysis.ess, 3), lambda r: r.analysis.ess),
    Col("rhat", "R-hat", lambda r: fmt_num(r.analysis.rhat, 3), lambda r: r.analysis.rhat),
    Col(
        "fges", "FGEs", lambda r: fmt_num(r.analysis.total_fges, 3), lambda r: r.analysis.total_fges
    ),
    Col(
        "wall",
        "wall s",
        lambda r: fmt_num(r.analysis.walltime_sec, 3),
        lambda r: r.analysis.walltime_sec,
    ),
    Col("status", "status", _status_cell, lambda r: (r.status, r.message)),
]


def meta_panel(target_id: str, meta: TargetMeta | None, error: str | None) -> Group | Text:
    """The readable meta of a target: what it is, how it was built, with which code."""
    if meta is None:
        return Text(f"{target_id}: {error or 'meta.json missing'}", style="red")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column()
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column()
    dims, names = meta.dims, meta.names
    versions = meta.pkg_versions
    left = [
        ("target", target_id),
        (
            "names",
            " / ".join(f"{k}={names[k]}" for k in ("model", "data", "training") if names.get(k)),
        ),
        ("model", describe_model(meta.model_cfg)),
        ("data", _kv(meta.data_cfg)),
        ("training", _kv(meta.training_cfg)),
        ("seed", str(meta.seed)),
    ]
    right = [
        ("dims", f"n={dims.n}  d={dims.d}  p={dims.p}"),
        ("L0", fmt_num(meta.metrics.L0, 6)),
        ("true λ", meta.true_llc_exact or fmt_num(meta.true_llc) or "unknown"),
        ("precision", str(meta.precision) + _compute(meta.compute)),
        ("created", f"{fmt_time(meta.created_at)} UTC"),
        ("code", f"{meta.code_sha}  " + _kv(versions, ("jax", "blackjax"))),
    ]
    for (a, b), (c, d) in zip(left, right, strict=True):
        grid.add_row(a, b, c, d)
    return grid


def _compute(compute: dict | None) -> str:
    """' on cpu, 2 threads': what the values also depend on (older targets lack it)."""
    if not compute:
        return ""
    threads = compute.get("cpu_threads")
    where = compute.get("backend", "?")
    if compute.get("device_count", 1) > 1:
        where += f" ×{compute['device_count']}"
    return f" on {where}, {threads} thread{'s' if threads != 1 else ''}"


def _kv(d: dict | None, keys=None) -> str:
    if not d:
        return ""
    items = [(k, d[k]) for k in keys if k in d] if keys else list(d.items())
    return " ".join(f"{k}={v}" for k, v in items if v is not None)


class TargetScreen(Screen):
    """One target; Enter on a run opens it (or its failure record)."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), ("enter", "open", "Open")]
    DEFAULT_CSS = """
    TargetScreen #meta { height: auto; max-height: 12; padding: 0 1; border: round $primary; }
    TargetScreen #curve { display: none; height: 12; border: round $primary; }
    """

    class Loaded(Message):
        def __init__(self, meta_view, rows: list[RunRow], curve: dict):
            super().__init__()
            self.meta_view = meta_view
            self.rows = rows
            self.curve = curve

    def __init__(self, target_id: str):
        super().__init__()
        self.target_id = target_id
        self.curve_points: list[tuple[int, float]] = []  # (step, λ̂) of the curve shown

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("", id="meta")
            yield LinePlot("", id="curve")  # shown for a checkpoint of a training run
            yield Static("Runs", classes="pane-title")
            yield RecordTable(
                RUN_COLUMNS,
                key=lambda r: r.dirname,
                search=lambda r: f"{r.dirname} {r.status} {r.message}".lower(),
                reserved=self.app.GLOBAL_KEYS,
                noun="runs",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.target_id
        self.query_one("#meta").border_title = self.target_id
        self.query_one(RecordTable).table.focus()
        self.load()

    @work(thread=True, exclusive=True, group="target")
    def load(self) -> None:
        record = self.app.catalog.target(self.target_id)
        view = meta_panel(self.target_id, record.meta, record.error)
        rows = run_rows(self.app.catalog, self.target_id)
        self.post_message(self.Loaded(view, rows, training_curve(self.app.catalog, record.meta)))

    def on_target_screen_loaded(self, message: Loaded) -> None:
        self.query_one("#meta", Static).update(message.meta_view)
        self.query_one(RecordTable).set_records(message.rows)
        plot = self.query_one("#curve", LinePlot)
        plot.display = bool(message.curve)
        self.curve_points = []
        if message.curve:  # the sampler with the most checkpoints estimated
            sampler, self.curve_points = max(message.curve.items(), key=lambda kv: len(kv[1]))
            values = "  ".join(f"{step}: {fmt_num(llc, 3)}" for step, llc in self.curve_points)
            plot.title = f"λ̂ over training ({sampler}; step: λ̂)  {values}"
            plot.set_data(
                *densify([p[0] for p in self.curve_points], [p[1] for p in self.curve_points])
            )

    def store_changed(self) -> None:
        self.load()

    def action_open(self) -> None:
        record = self.query_one(RecordTable).current
        if record is not None:
            self._open(record)

    @on(RecordTable.Chosen)
    def _chosen(self, event: RecordTable.Chosen) -> None:
        self._open(event.record)

    def _open(self, row: RunRow) -> None:
        from lambda_hat.tui.screens.run import RunScreen

        if row.status == FAILED:
            self.app.push_screen(FailureScreen(row.dirname, row.failure or FailureRecord()))
        elif row.status == OK:
            self.app.push_screen(RunScreen(row))
        elif row.status == STOPPED:
            self.notify(f"{row.dirname} stopped: {row.message}", markup=False)
        elif row.status == RUNNING:
            said = f": {row.message}" if row.message else ""
            self.notify(f"{row.dirname} is being computed by a running process{said}", markup=False)
        else:
            self.notify(f"{row.dirname}: {row.message}", severity="error", markup=False)


class FailureScreen(ModalScreen):
    """A recorded failure: error, message, where it is, the traceback and the spec."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    FailureScreen { align: center middle; }
    FailureScreen > VerticalScroll {
        width: 90%; height: 85%; border: thick $error; background: $panel; padding: 0 1;
    }
    """

    def __init__(self, what: str, failure: FailureRecord):
        super().__init__()
        self.what = what
        self.failure = failure

    def compose(self) -> ComposeResult:
        f = self.failure
        body = Text()
        body.append(f"{f.error_type}: ", style="bold red")
        body.append(f"{f.message}\n\n")
        if f.path:
            body.append("record: ", style="bold")
            body.append(f"{f.path}\n")
        if f.retryable:
            body.append("retryable: the next `lambda-hat run` retries it\n", style="yellow")
        else:
            body.append(
                "rerun with `lambda-hat run FILE --retry-failed` to try again\n", style="dim"
            )
        body.append("\ntraceback\n", style="bold")
        body.append((f.traceback or "").rstrip() + "\n", style="dim")
        body.append("\nspec\n", style="bold")
        body.append(json.dumps(f.spec, indent=2, sort_keys=True))
        with VerticalScroll() as scroll:
            scroll.border_title = f"failure of {self.what}"
            scroll.border_subtitle = "Esc to close"
            yield Static(body)

    def action_dismiss(self) -> None:
        self.dismiss()
