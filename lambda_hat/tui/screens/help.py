"""Help: every key binding of the app, by screen (also the source of docs/tui.md's table)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "everywhere",
        [
            ("t", "targets (browse the store)"),
            ("c", "compare samplers across targets"),
            ("l", "launch an experiments file"),
            ("r", "reload from disk now (it also refreshes by itself)"),
            ("?", "this help"),
            ("Esc", "back / close"),
            ("q", "quit (asks again while a launched run is going)"),
        ],
    ),
    (
        "tables",
        [
            ("↑ ↓ PgUp PgDn", "move"),
            ("Enter", "open the selected row"),
            ("any other letter or digit", "start filtering with it"),
            ("/", "open the filter box; Enter/Esc returns to the table"),
            ("Esc (on the table)", "clear the filter"),
            ("s / S", "sort by the next column / reverse the order (or click a header)"),
        ],
    ),
    (
        "run",
        [
            ("n / p", "next / previous tab: summary and each diagnostic PNG"),
            ("o", "show the PNG folder path and copy it to the clipboard"),
        ],
    ),
    ("compare", [("e", "export the table as CSV (llc_compare.csv, one row per run)")]),
    (
        "launch",
        [
            ("Enter", "on a file: show its plan (what exists, what is missing)"),
            ("g", "start it (a separate `lambda-hat run` process)"),
            ("x", "stop the running launch (finished artifacts stay)"),
            ("f", "back to the file list"),
        ],
    ),
]


def keys_table() -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for section, rows in KEYS:
        table.add_row(f"[bold underline]{section}[/]", "")
        for key, what in rows:
            table.add_row(key, what)
        table.add_row("", "")
    return table


def keys_markdown() -> str:
    """The bindings as a Markdown table (pasted into docs/tui.md)."""
    lines = ["| where | key | what |", "|---|---|---|"]
    for section, rows in KEYS:
        for key, what in rows:
            lines.append(f"| {section} | `{key}` | {what} |")
    return "\n".join(lines)


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 84; height: 80%; border: thick $accent; background: $panel; padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "lambda-hat tui — keys"
            scroll.border_subtitle = "Esc to close"
            yield Static(keys_table())

    def action_dismiss(self) -> None:
        self.dismiss()
