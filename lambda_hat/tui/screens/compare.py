"""Compare: λ̂ ± MCSE of every target × sampler, relative error vs the true λ; CSV export."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from lambda_hat.tui.data import (
    CompareTable,
    RunRow,
    TargetRow,
    compare_table,
    fmt_estimate,
    fmt_num,
    fmt_relative,
    target_row,
)
from lambda_hat.tui.widgets.record_table import Col, RecordTable

CSV_NAME = "llc_compare.csv"


def _cell(runs: list[RunRow]) -> Text:
    text = Text()
    for i, r in enumerate(runs):
        if i:
            text.append(" | ", style="dim")
        text.append(fmt_estimate(r.analysis.llc_mean, r.analysis.llc_mcse))
        rel = r.analysis.relative_error
        if rel is not None:
            style = "green" if abs(rel) <= 0.1 else "yellow" if abs(rel) <= 0.3 else "red"
            text.append(f" ({fmt_relative(rel)})", style=style)
        if r.analysis.warnings:
            text.append(" ⚠", style="yellow")
    return text


def compare_columns(table: CompareTable) -> list[Col]:
    cols = [
        Col("id", "target", lambda t: t.short_id, lambda t: t.target_id),
        Col("model", "model", lambda t: t.model),
        Col("true", "true λ", lambda t: fmt_num(t.true_llc), lambda t: t.true_llc),
    ]
    cells = table.cells
    for s in table.samplers:

        def show(t: TargetRow, s=s):
            return _cell(cells.get((t.target_id, s), []))

        def sort(t: TargetRow, s=s):
            runs = cells.get((t.target_id, s), [])
            return runs[0].analysis.llc_mean if runs else None

        cols.append(Col(f"s-{s}", f"{s}  λ̂ ± MCSE (rel. err)", show, sort))
    return cols


class CompareScreen(Screen):
    """The LLC table of the whole store."""

    BINDINGS = [Binding("e", "export", "Export CSV"), ("enter", "open", "Open target")]

    class Loaded(Message):
        def __init__(self, table: CompareTable):
            super().__init__()
            self.table = table

    def __init__(self):
        super().__init__()
        self.table: CompareTable | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "λ̂ per target and sampler (several runs of a pair are separated by |)",
            classes="pane-title",
        )
        yield Static("loading…", id="compare-holder")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "compare samplers"
        self.load()

    @work(thread=True, exclusive=True, group="compare")
    def load(self) -> None:
        catalog = self.app.catalog
        targets = [target_row(t) for t in catalog.targets()]
        self.post_message(self.Loaded(compare_table(catalog, targets)))

    def on_compare_screen_loaded(self, message: Loaded) -> None:
        self.table = message.table
        existing = self.query(RecordTable)
        if existing and [c.key for c in existing.first().columns] == [
            c.key for c in compare_columns(message.table)
        ]:
            rt = existing.first()
            rt.columns = compare_columns(message.table)
            rt.set_records(message.table.targets)
            return
        for old in existing:
            old.remove()
        self.query_one("#compare-holder").display = False
        rt = RecordTable(
            compare_columns(message.table),
            key=lambda t: t.target_id,
            search=lambda t: t.search_text(),
            reserved=self.app.GLOBAL_KEYS + "e",
            noun="targets",
        )
        rt.set_records(message.table.targets)
        self.mount(rt, before=self.query_one(Footer))
        self.call_after_refresh(lambda: rt.table.focus())

    def store_changed(self) -> None:
        self.load()

    def action_export(self, path: str | Path | None = None) -> None:
        if self.table is None:
            return
        target = Path(path) if path else Path.cwd() / CSV_NAME
        target.write_text(self.table.to_csv())
        n = len(self.table.rows())
        self.notify(f"{n} runs written to {target}", title="CSV exported", timeout=10)

    def action_open(self) -> None:
        rt = self.query(RecordTable)
        if rt and rt.first().current is not None:
            self._open(rt.first().current)

    @on(RecordTable.Chosen)
    def _chosen(self, event: RecordTable.Chosen) -> None:
        self._open(event.record)

    def _open(self, row: TargetRow) -> None:
        from lambda_hat.tui.screens.target import TargetScreen

        self.app.push_screen(TargetScreen(row.target_id))
