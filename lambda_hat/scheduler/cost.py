"""A run's wall time before it runs, from a model of its cost.

A run of ``chains`` chains that takes ``steps`` sampler steps and ``fges`` full-gradient
equivalents per chain (``Sampler.work``) costs about

    FIXED_SECONDS + chains × (steps × STEP_SECONDS + fges × n × p × UNIT_SECONDS)

seconds: a fixed part (compiling, loading, summary, plots), a per-step part (noise,
updates, the loop) and the gradient work, one unit being one row × one parameter of one
chain's gradient. The figures were measured on a 2-core CPU. Each store corrects them
for its machine: the runs it holds give the ratio of their measured sampling time to
this model's figure for them, and their median ratio (of the same sampler where the
store has one) scales every estimate. The model is rough (within a factor of about two
on the runs it was fitted to); it tells seconds from hours, which is what a plan needs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

FIXED_SECONDS = 5.0
STEP_SECONDS = 2e-5
UNIT_SECONDS = 3e-10
SLOW_SECONDS = 30 * 60  # a run estimated past this is flagged before it starts
CALIBRATION_RUNS = 40  # stored runs read to calibrate, at most
SCALE_LIMITS = (0.02, 50.0)  # a calibration outside these is taken as a bad record


def seconds(chains: int, steps: float, fges: float, n: int, p: int) -> float:
    """The model's wall time of one run, before any calibration."""
    return FIXED_SECONDS + chains * (steps * STEP_SECONDS + fges * n * p * UNIT_SECONDS)


@dataclass(frozen=True)
class Calibration:
    """Per-sampler scale factors read from a store's runs (``"*"``: all of them)."""

    scales: dict
    runs: int = 0

    def scale(self, sampler: str) -> float:
        return self.scales.get(sampler, self.scales.get("*", 1.0))


def calibrate(root: Path | str) -> Calibration:
    """The median ratio, measured over modelled, of the store's runs (at most
    CALIBRATION_RUNS of them, newest first), per sampler and over all."""
    ratios: dict[str, list[float]] = {}
    for analysis in _newest(Path(root), CALIBRATION_RUNS):
        ratio = _ratio(analysis)
        if ratio is not None:
            ratios.setdefault(analysis.sampler, []).append(ratio)
    every = [r for values in ratios.values() for r in values]
    scales = {name: statistics.median(values) for name, values in ratios.items()}
    if every:
        scales["*"] = statistics.median(every)
    return Calibration(scales, len(every))


def _newest(root: Path, count: int) -> list:
    """The ``count`` newest runs' records (by their analysis.json's time), reading no
    other run's file: a store of thousands of runs costs a directory listing."""
    from lambda_hat.store.catalog import Catalog
    from lambda_hat.store.layout import ANALYSIS
    from lambda_hat.store.run_names import RUN_GLOB

    catalog, found = Catalog(root), []
    for path in catalog.layout.targets.glob(f"tgt_*/{RUN_GLOB}/{ANALYSIS}"):
        try:
            found.append((path.stat().st_mtime, path.parent))
        except OSError:  # removed meanwhile
            continue
    found.sort(reverse=True)
    records = [catalog.run(folder.parent.name, folder.name) for _, folder in found[:count]]
    return [r.analysis for r in records if r.analysis is not None]


def _ratio(analysis) -> float | None:
    """A stored run's measured sampling time over the model's figure for its work."""
    a = analysis
    fges = a.extra.get("fges_per_chain")
    if isinstance(fges, list) and fges:
        fges = sum(fges) / len(fges)
    needed = (a.chains, a.n, a.p, a.sampling_walltime_sec, a.draws, a.thin)
    if not isinstance(fges, (int, float)) or any(v is None for v in needed):
        return None
    steps = ((a.burnin or 0) + a.draws) * a.thin
    ratio = a.sampling_walltime_sec / seconds(a.chains, steps, fges, a.n, a.p)
    return ratio if SCALE_LIMITS[0] <= ratio <= SCALE_LIMITS[1] else None


def estimate(work, chains: int, n: int, p: int | None, scale: float = 1.0):
    """(least, most) seconds of a run whose work per chain is ``work`` (``Work``), or
    None when the work or the model's size is not known before it runs."""
    if work.steps is None or work.fges is None or p is None:
        return None
    return tuple(
        scale * seconds(chains, steps, fges, n, p)
        for steps, fges in zip(work.steps, work.fges, strict=True)
    )


def beyond(plan, calibration: Calibration | None, limit: float) -> list:
    """(task, (least, most) seconds) of the runs to do that the model puts past
    ``limit`` seconds even at their least, and that no ``max_time`` bounds."""
    out = []
    for task in (r for r in plan.runs if r.status != "done" and r.spec.max_time is None):
        span = task.seconds(calibration)
        if span is not None and span[0] > limit:
            out.append((task, span))
    return out


def text(span: tuple[float, float]) -> str:
    """``about 40 s``, ``about 2–9 min``, ``about 50 s–3 min``: two significant figures."""
    least, most = (_rounded(s) for s in span)
    if least == most:
        return f"about {least}"
    (a, unit), (_, unit_most) = least.split(" "), most.split(" ")
    return f"about {a}–{most}" if unit == unit_most else f"about {least}–{most}"


def _rounded(value: float) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if value >= size:
            return f"{_figure(value / size)} {unit}"
    return f"{_figure(max(value, 1.0))} s"


def _figure(value: float) -> str:
    return f"{value:.2g}" if value < 100 else f"{value:,.0f}"
