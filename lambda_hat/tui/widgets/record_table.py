"""A DataTable of records that sorts by any column and filters as you type.

Typing a character that is not a key binding opens the filter box with it (``/`` opens it
empty); Enter or Escape goes back to the table, Escape on the table clears the filter.
``s`` cycles the sort column, ``S`` reverses it (clicking a header also sorts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static


@dataclass
class Col:
    """A column: header, how to show a record, and how to sort by it."""

    key: str
    label: str
    show: Callable[[Any], str | Text]
    sort: Callable[[Any], Any] | None = None


def _sort_value(value):
    """Missing values sort last, numbers numerically, everything else as text."""
    if value is None or value == "":
        return (2, 0, "")
    if isinstance(value, int | float):
        return (0, value, "")
    return (1, 0, str(value).lower())


class _Table(DataTable):
    BINDINGS = [
        Binding("s", "sort_next", "Sort"),
        Binding("S", "sort_reverse", "Reverse", show=False),
        Binding("slash", "filter", "Filter"),
    ]

    def __init__(self, owner: RecordTable, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.owner = owner

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.owner.filter_text:
            event.stop()
            self.owner.set_filter("")
            return
        char = event.character
        if (
            char
            and event.is_printable
            and char not in self.owner.reserved
            and char not in " sS/"
            and not self.app.screen.is_modal
        ):
            event.stop()
            event.prevent_default()
            self.owner.open_filter(char)

    def action_sort_next(self) -> None:
        self.owner.cycle_sort()

    def action_sort_reverse(self) -> None:
        self.owner.reverse_sort()

    def action_filter(self) -> None:
        self.owner.open_filter("")


class RecordTable(Vertical):
    """Records in a table with sorting and live filtering; posts ``Chosen`` on Enter."""

    DEFAULT_CSS = """
    RecordTable { height: 1fr; }
    RecordTable > Input { display: none; height: 3; }
    RecordTable.-filtering > Input { display: block; }
    RecordTable > .record-status { height: 1; color: $text-muted; padding: 0 1; }
    RecordTable > DataTable { height: 1fr; }
    """

    class Chosen(Message):
        """A record was chosen with Enter (or a click on a selected row)."""

        def __init__(self, table: RecordTable, record: Any):
            super().__init__()
            self.table = table
            self.record = record

        @property
        def control(self) -> RecordTable:
            return self.table

    def __init__(
        self,
        columns: list[Col],
        key: Callable[[Any], str],
        search: Callable[[Any], str],
        reserved: str = "",
        sort_column: int = 0,
        sort_reverse: bool = False,
        noun: str = "rows",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.columns = columns
        self.key = key
        self.search = search
        self.reserved = set(reserved)
        self.records: list[Any] = []
        self.shown: list[Any] = []
        self.filter_text = ""
        self.sort_column = sort_column
        self.sort_reverse = sort_reverse
        self.noun = noun

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter (Enter/Esc to return to the table)")
        yield _Table(self)
        yield Static("", classes="record-status")

    @property
    def table(self) -> DataTable:
        return self.query_one(_Table)

    def on_mount(self) -> None:
        self._redraw()

    def set_records(self, records: list[Any]) -> None:
        self.records = list(records)
        if self.is_mounted:
            self._redraw()

    @property
    def current(self) -> Any | None:
        table = self.table
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    # -- filter and sort ---------------------------------------------------------------
    def open_filter(self, initial: str) -> None:
        self.add_class("-filtering")
        box = self.query_one(Input)
        box.value = self.filter_text + initial
        box.cursor_position = len(box.value)
        box.focus()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        box = self.query_one(Input)
        if box.value != text:
            box.value = text
        if not text:
            self.remove_class("-filtering")
        self._redraw()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value
        self._redraw()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()
        if not self.filter_text:
            self.remove_class("-filtering")

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.query_one(Input).has_focus:
            event.stop()
            self.table.focus()
            if not self.filter_text:
                self.remove_class("-filtering")

    def cycle_sort(self) -> None:
        self.sort_column = (self.sort_column + 1) % len(self.columns)
        self._redraw()

    def reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._redraw()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_index == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = event.column_index, False
        self._redraw()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        record = self.current
        if record is not None:
            self.post_message(self.Chosen(self, record))

    # -- drawing -----------------------------------------------------------------------
    def _redraw(self) -> None:
        table = self.table
        selected = self.key(self.current) if self.current is not None else None
        needle = self.filter_text.lower().strip()
        rows = [r for r in self.records if not needle or needle in self.search(r)]
        col = self.columns[self.sort_column]
        getter = col.sort or (lambda r, c=col: str(c.show(r)))
        rows.sort(key=lambda r: _sort_value(getter(r)), reverse=self.sort_reverse)
        self.shown = rows
        table.clear(columns=True)
        for i, c in enumerate(self.columns):
            arrow = (" ▼" if self.sort_reverse else " ▲") if i == self.sort_column else ""
            table.add_column(c.label + arrow, key=c.key)
        for r in rows:
            table.add_row(*(c.show(r) for c in self.columns), key=self.key(r))
        if selected is not None:
            for i, r in enumerate(rows):
                if self.key(r) == selected:
                    table.move_cursor(row=i, animate=False)
                    break
        status = f"{len(rows)} of {len(self.records)} {self.noun}"
        if needle:
            status += f" matching “{self.filter_text}”"
        status += f" · sorted by {col.label}{' (desc)' if self.sort_reverse else ''}"
        self.query_one(".record-status", Static).update(status)
