"""Run: analysis.json in readable form, its warnings, the running LLC and the diagnostic PNGs.

The running LLC is drawn from ``trace.nc`` in a worker thread (xarray, no JAX); each PNG is
rendered with textual-image when its tab is first opened.
"""

from __future__ import annotations

import io
import sys

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from lambda_hat.store.layout import DIAGNOSTICS, TRACE
from lambda_hat.store.records import RunAnalysis
from lambda_hat.tui.data import (
    RunRow,
    fmt_estimate,
    fmt_num,
    fmt_relative,
    fmt_time,
    human_path,
    running_llc,
)
from lambda_hat.tui.widgets.line_plot import LinePlot

SUMMARY_KEYS = [
    ("λ̂ ± MCSE", lambda a: fmt_estimate(a.llc_mean, a.llc_mcse)),
    ("true λ", lambda a: fmt_num(a.true_llc) or "unknown"),
    ("relative error", lambda a: fmt_relative(a.relative_error)),
    ("std across chains", lambda a: fmt_num(a.llc_std)),
    ("per chain", lambda a: "  ".join(fmt_num(v, 4) for v in a.llc_per_chain)),
    ("ESS (bulk)", lambda a: fmt_num(a.ess, 4)),
    ("R-hat", lambda a: fmt_num(a.rhat, 4)),
    ("drift z", lambda a: fmt_num(a.drift_z, 3)),
    (
        "first/last ¼",
        lambda a: f"{fmt_num(a.first_quarter_mean)} → {fmt_num(a.last_quarter_mean)}",
    ),
]
COST_KEYS = [
    ("FGEs", lambda a: fmt_num(a.total_fges, 5)),
    (
        "wall time",
        lambda a: (
            f"{fmt_num(a.walltime_sec, 3)} s (sampling {fmt_num(a.sampling_walltime_sec, 3)} s)"
        ),
    ),
    (
        "chains × draws",
        lambda a: f"{a.chains} × {a.draws} (burn-in {a.burnin}, thin {a.thin})",
    ),
    ("n, p, nβ", lambda a: f"{a.n}, {a.p}, {fmt_num(a.n_beta, 5)}"),
    (
        "β, γ",
        lambda a: f"{fmt_num(a.inverse_temperature)}, {fmt_num(a.localization)}",
    ),
    ("L0", lambda a: fmt_num(a.L0, 6)),
    ("precision", lambda a: str(a.precision)),
    ("created", lambda a: f"{fmt_time(a.created_at)} UTC"),
]


def fmt_value(value) -> str:
    """Numbers short, lists and dicts of numbers compact (``min=0.07 median=0.29``)."""
    if isinstance(value, list):
        return "  ".join(fmt_num(v, 4) for v in value)
    if isinstance(value, dict):
        return "  ".join(f"{k}={fmt_num(v, 4)}" for k, v in value.items())
    return fmt_num(value, 6)


def _grid(title: str, rows) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        show_header=False,
        box=None,
        padding=(0, 1),
    )
    table.add_column(style="cyan", no_wrap=True)
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    return table


def focus_rows(a: RunAnalysis) -> list[tuple[str, str]]:
    """What a weight-restricted or data-refined run sampled, and the datasets whose
    losses it observed (with the command that reads them)."""
    rows = []
    if a.restricted:
        moved = f"{a.restricted['params']:,} of {a.restricted['of']:,} weights"
        rows.append(("restricted to", f"{', '.join(a.restricted['leaves'])} ({moved})"))
    if a.refined:
        rows.append(("data", f"{a.refined['data']} (n = {a.refined['n']:,})"))
    observed = a.sampler_config.get("observe") or {}
    if observed:
        tables = ", ".join(f"{k} ({v.get('n_data', '?'):,} rows)" for k, v in observed.items())
        rows.append(("observed", tables))
        rows.append(("read with", f"lambda-hat influence {a.run_id} {next(iter(observed))}"))
    return rows


def analysis_view(a: RunAnalysis) -> Group:
    """Estimate, convergence, cost and settings of a run, with its warnings on top."""
    parts = []
    warnings = a.warnings
    if warnings:
        text = Text()
        for w in warnings:
            text.append("⚠ ", style="bold yellow")
            text.append(w + "\n", style="yellow")
        parts.append(text)
    else:
        parts.append(Text("✓ no convergence warnings", style="green"))
    parts.append(_grid("estimate", [(k, f(a)) for k, f in SUMMARY_KEYS]))
    parts.append(_grid("cost and setup", [(k, f(a)) for k, f in COST_KEYS]))
    if focus := focus_rows(a):
        parts.append(_grid("part, data and observed losses", focus))
    params = a.params
    stats = {k: v for k, v in a.stats.items() if k not in params}
    settings = [(k, fmt_value(v)) for k, v in sorted(params.items())]
    settings += [(f"stats.{k}", fmt_value(v)) for k, v in sorted(stats.items())]
    parts.append(_grid(f"{a.sampler} settings", settings))
    return Group(*parts)


def _image_widget(kind: str):
    """The textual-image widget class for ``--images`` (None: do not render).

    ``auto`` asks the terminal for sixel / kitty graphics support, which only works before
    Textual starts (``commands/tui.py`` imports it then). The other kinds need no terminal
    query, so textual-image is imported here, on first use, with a stand-in stdout that is
    not a tty: that skips its probing (and the ~1 s it costs at startup).
    """
    if kind == "none":
        return None
    if "textual_image.widget" not in sys.modules:
        real = sys.__stdout__
        sys.__stdout__ = io.StringIO()
        try:
            import textual_image.widget  # noqa: F401
        finally:
            sys.__stdout__ = real
    import textual_image.widget as timg

    return {"halfcell": timg.HalfcellImage, "unicode": timg.UnicodeImage}.get(kind, timg.Image)


class RunScreen(Screen):
    """One published run."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("o", "folder", "PNG folder"),
        Binding("n", "tab(1)", "Next plot"),
        Binding("p", "tab(-1)", "Prev plot", show=False),
    ]
    DEFAULT_CSS = """
    RunScreen #summary { width: 1fr; min-width: 50; padding: 0 1; }
    RunScreen #side { width: 1fr; }
    RunScreen LinePlot { height: 16; border: round $primary; }
    RunScreen .plot-image { width: 100%; height: auto; }
    RunScreen .plot-note { color: $text-muted; }
    """

    class TraceLoaded(Message):
        def __init__(self, result, error: str | None = None):
            super().__init__()
            self.result = result
            self.error = error

    def __init__(self, row: RunRow):
        super().__init__()
        self.row = row
        self.diagnostics = [
            name
            for name in row.analysis.diagnostics
            if row.path is not None and (row.path / DIAGNOSTICS / name).is_file()
        ]

    @property
    def folder(self):
        return self.row.path / DIAGNOSTICS if self.row.path is not None else None

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="tabs"):
            with TabPane("summary", id="tab-summary"), Horizontal():
                with VerticalScroll(id="summary"):
                    yield Static(analysis_view(self.row.analysis))
                with VerticalScroll(id="side"):
                    yield LinePlot("running λ̂ (mean over chains) from trace.nc", id="running")
                    yield Static(self._paths_text(), classes="plot-note")
            for i, name in enumerate(self.diagnostics):
                with TabPane(name.removesuffix(".png"), id=f"tab-img-{i}"):
                    yield VerticalScroll(id=f"img-{i}")
        yield Footer()

    def _paths_text(self) -> Text:
        text = Text()
        if self.row.path is not None:
            text.append("run folder  ", style="bold")
            text.append(human_path(self.row.path) + "\n")
            if self.diagnostics:
                text.append("plots       ", style="bold")
                text.append(", ".join(self.diagnostics) + "  (tabs above; o: folder path)")
        return text

    def on_mount(self) -> None:
        self.sub_title = f"{self.row.target_id} / {self.row.dirname}"
        self.load_trace()

    @work(thread=True, exclusive=True, group="trace")
    def load_trace(self) -> None:
        try:
            result = running_llc(self.row.path / TRACE) if self.row.path else None
        except Exception as exc:  # noqa: BLE001 - an unreadable trace is shown, not raised
            self.post_message(self.TraceLoaded(None, f"trace.nc unreadable: {exc}"))
            return
        self.post_message(self.TraceLoaded(result, None if result else "no trace.nc"))

    def on_run_screen_trace_loaded(self, message: TraceLoaded) -> None:
        plot = self.query_one(LinePlot)
        if message.result is None:
            plot.set_message(message.error or "no data")
            return
        steps, values = message.result
        plot.set_data(steps, values, self.row.analysis.true_llc)

    @on(TabbedContent.TabActivated)
    def _tab(self, event: TabbedContent.TabActivated) -> None:
        pane_id = event.pane.id or ""
        if pane_id.startswith("tab-img-"):
            self._show_image(int(pane_id.rsplit("-", 1)[1]))

    def _show_image(self, i: int) -> None:
        holder = self.query_one(f"#img-{i}", VerticalScroll)
        if holder.children:
            return
        path = self.folder / self.diagnostics[i]
        widget_cls = _image_widget(self.app.images)
        if widget_cls is None:
            holder.mount(Static(f"{human_path(path)} (image rendering off: --images none)"))
            return
        try:
            holder.mount(widget_cls(str(path), classes="plot-image"))
        except Exception as exc:  # noqa: BLE001 - a broken PNG must not crash the app
            holder.mount(Static(f"cannot render {path.name}: {exc}"))

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        ids = ["tab-summary"] + [f"tab-img-{i}" for i in range(len(self.diagnostics))]
        current = ids.index(tabs.active) if tabs.active in ids else 0
        tabs.active = ids[(current + step) % len(ids)]

    def action_folder(self) -> None:
        if self.folder is None:
            return
        path = str(self.folder.resolve())
        self.app.copy_to_clipboard(path)
        self.notify(path, title="PNG folder (copied to clipboard)", timeout=10, markup=False)
