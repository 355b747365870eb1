"""Run folder names: the one builder and parser of ``run_<sampler>_<run_id>``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_hat.config.specs import to_dict
from lambda_hat.store import ids
from lambda_hat.store.catalog import Catalog, RunRecord
from lambda_hat.store.run_names import (
    RUN_GLOB,
    RUN_PREFIX,
    RunName,
    is_run_folder,
    parse_run_folder,
    run_folder,
)
from tests.store.test_ids import _run


def test_run_folder_builds_the_seed_name():
    assert run_folder("sgld", "101a6b0f") == "run_sgld_101a6b0f"
    assert run_folder("sgld", "101a6b0f").startswith(RUN_PREFIX)
    assert Path(run_folder("mclmc", "0123abcd")).match(RUN_GLOB)


@pytest.mark.parametrize("sampler", ["sgld", "hmc", "nuts", "mclmc"])
def test_round_trip(sampler):
    parsed = parse_run_folder(run_folder(sampler, "101a6b0f"))
    assert parsed == (sampler, "101a6b0f")
    assert parsed == RunName(sampler=sampler, run_id="101a6b0f")
    assert (parsed.sampler, parsed.run_id) == (sampler, "101a6b0f")
    assert is_run_folder(run_folder(sampler, "101a6b0f"))


def test_id_length_is_lenient():
    assert parse_run_folder("run_sgld_1") == ("sgld", "1")
    assert parse_run_folder("run_sgld_cafe") == ("sgld", "cafe")
    assert parse_run_folder("run_sgld2_" + "f" * 40) == ("sgld2", "f" * 40)


@pytest.mark.parametrize(
    "name",
    [
        "run_sgld",
        "run__abc",
        "tmp-run_sgld_1",
        "run_sgld_1_2",
        ".run_sgld_101a6b0f.lock",
        ".tmp-run_sgld_101a6b0f-123-abcd",
        "run_sgld_101a6b0f.json",
        "run_sgld_",
        "run_",
        "run_sgld_101A6B0F",
        "run_sgld_101a6b0g",
        "run_sg-ld_101a6b0f",
        "run_sgld_101a6b0f\n",
        "Run_sgld_101a6b0f",
        "tgt_595867ce2718",
        "",
    ],
)
def test_rejects_other_names(name):
    assert parse_run_folder(name) is None
    assert not is_run_folder(name)


def test_run_dirname_of_a_spec_is_its_run_folder():
    spec = _run("tgt_595867ce2718")
    assert ids.run_dirname(spec) == run_folder(spec.sampler, ids.run_id(spec))
    assert ids.run_dirname(spec) == "run_sgld_101a6b0f"
    assert ids.run_dirname(spec) == ids.run_dirname(to_dict(spec))
    assert parse_run_folder(ids.run_dirname(spec)) == (spec.sampler, ids.run_id(spec))


def test_catalog_reads_names_through_the_parser(tmp_path):
    target = tmp_path / "targets" / "tgt_595867ce2718"
    for name in ("run_hmc_64bc0a1d", "run_odd"):
        (target / name).mkdir(parents=True)
    (target / ".run_hmc_64bc0a1d.lock").touch()
    catalog = Catalog(tmp_path)
    assert catalog.target("tgt_595867ce2718").run_dirnames() == ["run_hmc_64bc0a1d", "run_odd"]
    assert catalog.resolve_prefix("64bc") == "run_hmc_64bc0a1d"
    assert catalog.resolve_prefix("5958") == "tgt_595867ce2718"
    good = RunRecord("tgt_595867ce2718", "run_hmc_64bc0a1d", target, None)
    odd = RunRecord("tgt_595867ce2718", "run_odd", target, None)
    assert (good.sampler, good.run_id) == ("hmc", "64bc0a1d")
    assert (odd.sampler, odd.run_id) == ("?", "?")
