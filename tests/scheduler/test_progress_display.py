"""The terminal display of ``lambda-hat run``: a run's bar says which stage it is in."""

from __future__ import annotations

import io

from rich.console import Console

from lambda_hat.scheduler.progress import RichProgress

KEY = "tgt_a/run_sgld_1"


def _descriptions(display: RichProgress) -> list[str]:
    return [t.description for t in display.progress.tasks]


def test_a_runs_bar_names_its_stage_and_follows_its_draws():
    console = Console(file=io.StringIO(), width=160, force_terminal=False)
    with RichProgress(1, console) as display:
        display({"event": "started", "key": KEY, "kind": "run"})
        assert _descriptions(display) == ["[bold]all tasks", "  sgld_1"]
        pilot = "step size: pilot round 2 of at most 3, ε = 5e-06, 200,000 steps"
        display({"event": "stage", "key": KEY, "stage": pilot})
        assert _descriptions(display)[1] == "  sgld_1 [dim]· pilot round 2/3[/]"
        bar = display.progress.tasks[1]
        assert (bar.completed, bar.total) == (0, 200_000)  # the round's steps, from its stage
        display({"event": "stage", "key": KEY, "stage": "sampling: ε = 5e-06, thin = 10"})
        assert _descriptions(display)[1] == "  sgld_1 [dim]· sampling[/]"
        assert bar.total is None
        display({"event": "progress", "key": KEY, "done": 30, "total": 300})
        assert (bar.completed, bar.total) == (30, 300)
        display({"event": "stage", "key": "tgt_b/run_nuts_2", "stage": "x"})  # not started
        assert len(display.progress.tasks) == 2
        display({"event": "finished", "key": KEY, "kind": "run", "built": True})
        assert _descriptions(display) == ["[bold]all tasks"]


def _screen(display: RichProgress, console: Console) -> str:
    console.print(display.progress.get_renderable())
    return console.file.getvalue()


def test_a_pilot_and_sampling_show_their_counts_and_an_eta_within_80_columns():
    console = Console(file=io.StringIO(), width=80, force_terminal=False)
    now = [100.0]
    key = "tgt_7b10725e629e/run_sgld_245bb800"
    with RichProgress(3, console, clock=lambda: now[0]) as display:
        display({"event": "started", "key": key, "kind": "run"})
        pilot = "step size: pilot round 2 of at most 3, ε = 5.12e-06, 160,265 steps"
        display({"event": "stage", "key": key, "stage": pilot})
        display({"event": "progress", "key": key, "done": 10_000, "total": 160_265})
        now[0] += 60.0  # 30,000 steps a minute: 120,265 left take 4:00.5
        display({"event": "progress", "key": key, "done": 40_000, "total": 160_265})
        text = _screen(display, console)
        row = next(line for line in text.splitlines() if "sgld_245bb800" in line)
        assert "pilot round 2/3" in row and "40,000/160,265 steps" in row and "ETA 4:01" in row
        sampling = "sampling: ε = 1.23e-05, thin = 1,000, burn-in 100 draws"
        display({"event": "stage", "key": key, "stage": sampling})
        display({"event": "progress", "key": key, "done": 100, "total": 2_000})
        now[0] += 30.0  # 1,100 draws in 30 s: 800 left take 0:22
        display({"event": "progress", "key": key, "done": 1_200, "total": 2_000})
        text = _screen(display, console)
        row = [line for line in text.splitlines() if "sgld_245bb800" in line][-1]
        assert "sampling" in row and "1,200/2,000 draws" in row and "ETA 0:22" in row
    assert "…" not in console.file.getvalue()
    assert max(len(line) for line in console.file.getvalue().splitlines()) <= 80


def _done_line(trust: dict | None) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    with RichProgress(1, console) as display:
        display({"event": "started", "key": KEY, "kind": "run"})
        event = {"event": "finished", "key": KEY, "built": True, "walltime_sec": 8.25}
        display({**event, "llc_mean": 12.612, "llc_mcse": 0.284, "true_llc": 12.0})
        if trust is not None:  # a second run, the same but for its verdict
            display({"event": "started", "key": KEY, "kind": "run"})
            display({**event, "llc_mean": 12.612, "llc_mcse": 0.284, "trust": trust})
    return [line for line in out.getvalue().splitlines() if line.startswith("done")]


def test_the_done_line_says_the_runs_verdict_and_why_it_is_not_converged():
    reasons = ["R-hat 1.016 > 1.01", "ESS 184 < 400"]
    stored_before, line = _done_line({"verdict": "not converged", "reasons": reasons})
    assert stored_before == (
        "done run_sgld_1  λ̂ = 12.612 ± 0.284  (true λ = 12, rel. err +5.1%)  [8.2s]"
    )
    assert line == (
        "done run_sgld_1  λ̂ = 12.612 ± 0.284  not converged (R-hat 1.016 > 1.01; ESS 184 < 400)"
        "  [8.2s]"
    )
    _, line = _done_line({"verdict": "converged", "reasons": []})
    assert line == "done run_sgld_1  λ̂ = 12.612 ± 0.284  converged  [8.2s]"


def _flags(bounded: frozenset[str] = frozenset()) -> list[str]:
    """The ``slow`` lines of a pilot round whose pace says 10 hours."""
    console = Console(file=io.StringIO(), width=400, force_terminal=False)
    now = [0.0]
    with RichProgress(1, console, clock=lambda: now[0], bounded=bounded) as display:
        display({"event": "started", "key": KEY, "kind": "run"})
        pilot = "step size: pilot round 1 of at most 3, ε = 8.7e-08, 11,506,607 steps"
        display({"event": "stage", "key": KEY, "stage": pilot})
        display({"event": "progress", "key": KEY, "done": 1, "total": 11_506_607})
        for _ in range(3):  # 320 steps a second: 10 hours left
            now[0] += 10.0
            done = 1 + int(320 * now[0])
            display({"event": "progress", "key": KEY, "done": done, "total": 11_506_607})
    return [line for line in console.file.getvalue().splitlines() if line.startswith("slow")]


def test_a_stage_that_will_take_hours_is_said_once_with_how_to_bound_it():
    (line,) = _flags()
    assert line.startswith("slow sgld_1: pilot round 1/3 alone will take about 9:59:")
    assert "its [[samplers]] entry max_time (e.g. '30m'" in line  # not read as markup
    assert "docs/samplers.md#what-a-run-costs" in line
    assert _flags(frozenset({KEY})) == []  # a run with a budget is bounded already
