"""The event stream's typed events: what a line says reads back as its class."""

from __future__ import annotations

import pytest

from lambda_hat.scheduler import events
from lambda_hat.scheduler.events import EVENTS, Failed, Finished, JsonlSink, parse, read_events


def test_every_event_reads_back_from_its_own_line(tmp_path):
    sink = JsonlSink(tmp_path / "events.jsonl")
    written = [cls() for cls in EVENTS.values()]
    for event in written:
        sink(event.to_json())
    sink.close()
    lines = read_events(tmp_path / "events.jsonl")
    assert [line["event"] for line in lines] == [e.NAME for e in written]
    assert [parse(line) for line in lines] == written  # ``time`` is not part of it
    assert set(EVENTS) == {
        "plan", "submitted", "started", "stage", "progress", "finished", "failed",
        "retry", "skipped", "interrupted", "stopped", "summary",
    }  # fmt: skip


def test_a_finished_run_keeps_what_it_does_not_name():
    line = {
        "event": "finished",
        "time": 1.0,
        "key": "tgt_a/run_sgld_0123abcd",
        "kind": "run",
        "built": True,
        "walltime_sec": 3.5,
        "llc_mean": 11.8,
        "trust": {"verdict": "converged", "reasons": []},
        "run": "run_sgld_0123abcd",
        "with": "tgt_b",
    }
    event = parse(line)
    assert isinstance(event, Finished) and event.llc_mean == 11.8
    assert event.extra == {"run": "run_sgld_0123abcd", "with": "tgt_b"}
    assert event.built_with == "tgt_b"
    assert event.to_json() == {k: v for k, v in line.items() if k != "time"} | {
        "llc_mcse": None,
        "true_llc": None,
        "warnings": [],
    }


@pytest.mark.parametrize("line", [{"event": "from-a-newer-version"}, {}, {"key": "x"}])
def test_an_unknown_event_is_none(line):
    assert parse(line) is None


def test_matching_on_an_event():
    match parse({"event": "failed", "key": "k", "kind": "run", "error_type": "E"}):
        case Failed(key=key, error_type=error_type, message=message):
            assert (key, error_type, message) == ("k", "E", "")
        case _:
            pytest.fail("not a Failed event")
    assert isinstance(parse(events.Stage("k", "sampling").to_json()), events.Stage)
