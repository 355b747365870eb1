"""A small terminal line plot in braille dots (2×4 dots per cell), with a reference line.

Used for the running LLC estimate of a run; pure text, so it works in every terminal and
in snapshot tests.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

_BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col]
LABEL_WIDTH = 9


def braille_canvas(
    xs, ys, width: int, height: int, y_range: tuple[float, float], reference: float | None
) -> tuple[list[str], list[set[int]]]:
    """Rows of braille characters for a polyline; also which cells hold the reference line."""
    cols, rows = width * 2, height * 4
    lo, hi = y_range
    span = (hi - lo) or 1.0
    grid = [[0] * width for _ in range(height)]
    x0, x1 = float(xs[0]), float(xs[-1])
    xspan = (x1 - x0) or 1.0

    def to_px(x: float, y: float) -> tuple[int, int]:
        cx = round((x - x0) / xspan * (cols - 1))
        cy = round((hi - y) / span * (rows - 1))
        return min(max(cx, 0), cols - 1), min(max(cy, 0), rows - 1)

    def dot(cx: int, cy: int) -> None:
        grid[cy // 4][cx // 2] |= _BRAILLE_BITS[cy % 4][cx % 2]

    prev = None
    for x, y in zip(xs, ys, strict=True):
        cx, cy = to_px(float(x), float(y))
        if prev is not None and prev[0] != cx:
            # join to the previous point so steep moves stay connected
            step = 1 if cy >= prev[1] else -1
            for yy in range(prev[1], cy + step, step):
                dot(cx, yy)
        dot(cx, cy)
        prev = (cx, cy)
    ref_cells: list[set[int]] = [set() for _ in range(height)]
    if reference is not None and lo <= reference <= hi:
        _, ry = to_px(x0, reference)
        for cx in range(0, cols, 2):
            if grid[ry // 4][cx // 2] == 0:
                ref_cells[ry // 4].add(cx // 2)
            dot(cx, ry)
    lines = ["".join(chr(0x2800 + b) for b in row) for row in grid]
    return lines, ref_cells


def densify(xs, ys, count: int = 400) -> tuple[list[float], list[float]]:
    """Points along the straight segments between sparse (x, y) points, so that a few
    points (λ̂ at a handful of checkpoints) draw as a line, not as isolated dots."""
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    if len(xs) < 2 or xs[-1] == xs[0]:
        return xs, ys
    out_x, out_y = [], []
    for i in range(count):
        x = xs[0] + (xs[-1] - xs[0]) * i / (count - 1)
        j = max(k for k in range(len(xs) - 1) if xs[k] <= x) if x < xs[-1] else len(xs) - 2
        t = (x - xs[j]) / ((xs[j + 1] - xs[j]) or 1.0)
        out_x.append(x)
        out_y.append(ys[j] + t * (ys[j + 1] - ys[j]))
    return out_x, out_y


class LinePlot(Widget):
    """Plot ``ys`` against ``xs`` with y labels; an optional dashed reference (e.g. true λ)."""

    DEFAULT_CSS = """
    LinePlot { height: 12; }
    """

    def __init__(self, title: str = "", **kwargs):
        super().__init__(**kwargs)
        self.title = title
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.reference: float | None = None
        self.message = "loading…"

    def set_data(self, xs, ys, reference: float | None = None) -> None:
        self.xs, self.ys = [float(x) for x in xs], [float(y) for y in ys]
        self.reference = reference
        self.message = "" if self.ys else "no data"
        self.refresh()

    def set_message(self, message: str) -> None:
        self.message = message
        self.refresh()

    def render(self) -> Text:
        width = max(self.size.width - LABEL_WIDTH - 1, 8)
        height = max(self.size.height - 2, 2)
        out = Text(self.title + "\n", style="bold")
        if self.message or not self.ys:
            return out + Text(self.message or "no data", style="dim")
        values = self.ys + ([self.reference] if self.reference is not None else [])
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
        lines, ref_cells = braille_canvas(self.xs, self.ys, width, height, (lo, hi), self.reference)
        for i, line in enumerate(lines):
            if i == 0:
                label = f"{hi:.3g}"
            elif i == len(lines) - 1:
                label = f"{lo:.3g}"
            else:
                label = ""
            out.append(f"{label:>{LABEL_WIDTH}}┤", style="dim")
            for j, ch in enumerate(line):
                out.append(ch, style="red" if j in ref_cells[i] else "cyan")
            out.append("\n")
        first, last = self.xs[0], self.xs[-1]
        axis = f"{first:g}".ljust(width - len(f"{last:g}")) + f"{last:g}"
        out.append(" " * (LABEL_WIDTH + 1) + axis, style="dim")
        return out
