"""Targets: every target of the store in a sortable, filterable table."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header

from lambda_hat.store.records import FailureRecord
from lambda_hat.tui.data import TargetRow, fmt_num, fmt_time, target_failures, target_row
from lambda_hat.tui.widgets.record_table import Col, RecordTable

BUILD_FAILED = "✗ build failed"


def _runs_cell(row: TargetRow) -> Text:
    text = Text(str(row.num_runs))
    if row.num_running:
        text.append(f" +{row.num_running}⟳", style="cyan")
    if row.num_stopped:
        text.append(f" +{row.num_stopped}⏸", style="yellow")
    if row.num_failed:
        text.append(f" +{row.num_failed}✗", style="red")
    return text


def _model_cell(row: TargetRow) -> Text:
    return Text(row.model, style="red" if row.model == BUILD_FAILED else "")


TARGET_COLUMNS = [
    Col("id", "target", lambda r: r.short_id, lambda r: r.target_id),
    Col("model", "model", _model_cell, lambda r: r.model),
    Col("names", "model/data/training", lambda r: r.names_text),
    Col("n", "n", lambda r: fmt_num(r.n), lambda r: r.n),
    Col("p", "p", lambda r: fmt_num(r.p), lambda r: r.p),
    Col("L0", "L0", lambda r: fmt_num(r.L0, 3), lambda r: r.L0),
    Col("true", "true λ", lambda r: fmt_num(r.true_llc), lambda r: r.true_llc),
    Col("runs", "runs", _runs_cell, lambda r: r.num_runs),
    Col("created", "created (UTC)", lambda r: fmt_time(r.created_at), lambda r: r.created_at),
]


def failed_target_row(record: FailureRecord) -> TargetRow:
    row = TargetRow(
        target_id=record.target_id or "",
        model=BUILD_FAILED,
        n=(record.spec.get("data") or {}).get("n_data"),
        p=None,
        L0=None,
        true_llc=None,
        num_runs=0,
        num_failed=0,
        created_at=record.time,
        error=record.text,
    )
    row.failure = record  # type: ignore[attr-defined]
    return row


class TargetsScreen(Screen):
    """The store's targets; Enter opens one."""

    BINDINGS = [("enter", "open", "Open")]

    class Loaded(Message):
        def __init__(self, rows: list[TargetRow]):
            super().__init__()
            self.rows = rows

    def compose(self) -> ComposeResult:
        yield Header()
        yield RecordTable(
            TARGET_COLUMNS,
            key=lambda r: r.target_id,
            search=lambda r: r.search_text(),
            reserved=self.app.GLOBAL_KEYS,
            sort_column=8,
            sort_reverse=True,
            noun="targets",
            id="targets",
        )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RecordTable).table.focus()
        self.load()

    @work(thread=True, exclusive=True, group="targets")
    def load(self) -> None:
        catalog = self.app.catalog
        rows = [target_row(t) for t in catalog.targets()]
        rows += [failed_target_row(f) for f in target_failures(catalog)]
        self.post_message(self.Loaded(rows))

    def on_targets_screen_loaded(self, message: Loaded) -> None:
        self.query_one(RecordTable).set_records(message.rows)
        self.sub_title = f"{self.app.root} · {len(message.rows)} targets"

    def store_changed(self) -> None:
        self.load()

    def action_open(self) -> None:
        record = self.query_one(RecordTable).current
        if record is not None:
            self._open(record)

    @on(RecordTable.Chosen)
    def _chosen(self, event: RecordTable.Chosen) -> None:
        self._open(event.record)

    def _open(self, row: TargetRow) -> None:
        from lambda_hat.tui.screens.target import FailureScreen, TargetScreen

        failure = getattr(row, "failure", None)
        if failure is not None:
            self.app.push_screen(FailureScreen(f"target {row.target_id}", failure))
        else:
            self.app.push_screen(TargetScreen(row.target_id))
