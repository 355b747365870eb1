"""``lambda-hat results``: one training's checkpoints read in step order, with the step."""

from __future__ import annotations

import csv
import io
import json

import pytest

from lambda_hat.cli import main

# One training kept at steps 0, 50 and 200, whose target IDs sort 200, 50, 0 (hash
# order is not step order), and a target of another model preset that sorts first.
CHECKPOINTS = {"tgt_0aaaaaaaaaaa": 200, "tgt_5bbbbbbbbbbb": 50, "tgt_fccccccccccc": 0}
OTHER = "tgt_9ddddddddddd"


def _target(root, tid: str, model: str, step: int | None, runs: list[str]) -> None:
    training = {"optimizer": "adam", "steps": 200, "init": "random"}
    if step is not None:
        training.update(at_step=step, checkpoints=[0, 50, 200])
    spec = {"model": {"kind": "mlp"}, "data": {"n_data": 10}, "training": training, "seed": 0}
    meta = {
        "target_id": tid,
        "names": {"model": model, "data": "d", "training": "t"},
        "model_cfg": {"kind": "mlp"},
        "data_cfg": {"n_data": 10},
        "training_cfg": training,
        "spec": spec,
        "dims": {"p": 4, "n": 10},
        "metrics": {"L0": 0.1},
        "seed": 0,
    }
    folder = root / "targets" / tid
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps(meta))
    for name in runs:
        (folder / name).mkdir()
        sampler, run_id = name.split("_")[1:]
        analysis = {"run_id": run_id, "sampler": sampler, "llc_mean": 1.0 + (step or 0) / 100}
        (folder / name / "analysis.json").write_text(json.dumps(analysis))


@pytest.fixture
def store(tmp_path):
    for tid, step in CHECKPOINTS.items():
        _target(tmp_path, tid, "net", step, ["run_sgld_11111111", "run_hmc_22222222"])
    _target(tmp_path, OTHER, "alpha", None, ["run_sgld_33333333"])
    return tmp_path


EXPECTED = [
    (OTHER, None, "sgld"),
    ("tgt_fccccccccccc", 0, "hmc"),
    ("tgt_fccccccccccc", 0, "sgld"),
    ("tgt_5bbbbbbbbbbb", 50, "hmc"),
    ("tgt_5bbbbbbbbbbb", 50, "sgld"),
    ("tgt_0aaaaaaaaaaa", 200, "hmc"),
    ("tgt_0aaaaaaaaaaa", 200, "sgld"),
]


def test_rows_sort_by_target_then_step_then_sampler_in_json_and_csv(store, capsys):
    assert main(["results", "--root", str(store), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["target_id"], r["step"], r["sampler"]) for r in rows] == EXPECTED
    assert main(["results", "--root", str(store), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["target_id"], r["step"], r["sampler"]) for r in rows] == [
        (tid, "" if step is None else str(step), sampler) for tid, step, sampler in EXPECTED
    ]


def test_the_table_shows_each_checkpoints_step_in_step_order(store, capsys):
    assert main(["results", "--root", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if "sampler" in line)
    cells = [c.strip() for c in header.split("┃")]
    assert cells.index("step") == cells.index("sampler") - 1
    body = [[c.strip() for c in line.split("│")] for line in lines if "│" in line]
    at = cells.index("step")
    assert [(row[1], row[at], row[at + 1]) for row in body] == [
        (tid[:12], "-" if step is None else str(step), sampler) for tid, step, sampler in EXPECTED
    ]
