"""Short IDs on the command line: any unique prefix of a target or run ID selects it."""

from __future__ import annotations

import json

import pytest

from lambda_hat.cli import main
from lambda_hat.errors import AmbiguousIdError
from lambda_hat.store.catalog import Catalog

TARGETS = {
    "tgt_10bf0e370cd0": ["run_sgld_64bc226e", "run_hmc_64ff0000"],
    "tgt_d145a9957538": ["run_sgld_a4a22c20"],
}


@pytest.fixture
def store(tmp_path):
    for tid, runs in TARGETS.items():
        folder = tmp_path / "targets" / tid
        folder.mkdir(parents=True)
        meta = {
            "target_id": tid,
            "model_cfg": {"kind": "dln"},
            "data_cfg": {"n_data": 10},
            "dims": {"p": 4},
            "metrics": {"L0": 0.0},
            "seed": 0,
        }
        (folder / "meta.json").write_text(json.dumps(meta))
        for name in runs:
            (folder / name).mkdir()
            analysis = {
                "run_id": name.split("_")[-1],
                "sampler": name.split("_")[1],
                "llc_mean": 1.0,
            }
            (folder / name / "analysis.json").write_text(json.dumps(analysis))
    return tmp_path


@pytest.mark.parametrize(
    "prefix,expected",
    [
        ("tgt_10", "tgt_10bf0e370cd0"),
        ("d145", "tgt_d145a9957538"),
        ("a4a2", "run_sgld_a4a22c20"),
        ("run_hmc", "run_hmc_64ff0000"),
        ("64bc", "run_sgld_64bc226e"),
    ],
)
def test_unique_prefixes_resolve(store, prefix, expected):
    assert Catalog(store).resolve_prefix(prefix) == expected


def test_ambiguous_and_unknown_prefixes_say_what_to_do(store):
    with pytest.raises(AmbiguousIdError, match=r"'64' matches 2 artifacts .*type more"):
        Catalog(store).resolve_prefix("64")
    with pytest.raises(AmbiguousIdError, match="no target or run .* matches 'zz'"):
        Catalog(store).resolve_prefix("zz")


def test_results_filters_by_id_prefix(store, capsys):
    assert main(["results", "10bf", "--root", str(store), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["run"] for r in rows) == ["run_hmc_64ff0000", "run_sgld_64bc226e"]
    assert main(["results", "a4a2", "--root", str(store), "--format", "json"]) == 0
    assert [r["run"] for r in json.loads(capsys.readouterr().out)] == ["run_sgld_a4a22c20"]
    assert main(["results", "64", "--root", str(store)]) == 2  # ambiguous: clear error
    assert "type more characters" in capsys.readouterr().err
