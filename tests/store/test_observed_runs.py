"""``observe = [...]`` on a sampler entry: the observed losses through the store, the
run ID, and the inputs refused before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lambda_hat.config import load
from lambda_hat.config.specs import resolve_run
from lambda_hat.errors import ConfigError
from lambda_hat.store.ids import run_dirname

EXPERIMENT = """
[store]
root = "{root}"
[models.dln]
kind = "dln"
in_dim = 3
widths = [3]
out_dim = 2
rank = 1
[data.train]
n_data = 200
[data.probe]
n_data = 12
[training.teacher]
init = "teacher"
steps = 0
[[targets]]
model = "dln"
data = "train"
training = "teacher"
seed = 1
[[samplers]]
name = "hmc"
warmup = 100
num_integration_steps = 8
chains = 2
draws = 100
"""


def _file(write_toml, tmp_path, extra: str):
    return write_toml(EXPERIMENT.replace("{root}", str(tmp_path / "store")) + extra)


def _spec(write_toml, tmp_path, extra: str):
    experiment = load(_file(write_toml, tmp_path, extra))
    (sampler,) = experiment.samplers
    where = "exp.toml: samplers[0]"
    return resolve_run(sampler, "tgt_0123456789ab", 200, where, tables=experiment.tables)


@pytest.fixture(scope="module")
def observed_store(tmp_path_factory):
    """A store with one HMC run observing the probe table and the training table."""
    from lambda_hat.cli import main

    folder = tmp_path_factory.mktemp("observed")
    path = folder / "exp.toml"
    path.write_text(EXPERIMENT.replace("{root}", str(folder / "store")) + OBSERVE)
    assert main(["run", str(path), "--workers", "1"]) == 0
    return folder / "store"


OBSERVE = 'observe = ["probe", "train"]\n'


def test_observed_losses_are_stored_read_back_and_match_a_python_call(observed_store):
    """``lambda-hat run`` writes each observed table's losses to trace.nc's ``observed``
    group: the target's own table is its training rows (their mean is each draw's L),
    another table is rows of its own; ``lh.load_run`` reads them back, and
    ``lh.estimate`` with the same rows and settings records the same numbers."""
    import arviz as az

    import lambda_hat as lh
    from lambda_hat.config.specs import target_from_dict
    from lambda_hat.targets.build import table_rows

    tmp_path = observed_store.parent
    (trace,) = (tmp_path / "store").rglob("trace.nc")
    idata = az.from_netcdf(str(trace))
    probe, train = idata.observed["probe"], idata.observed["train"]
    assert probe.dims == ("chain", "draw", "probe_row") and probe.shape == (2, 100, 12)
    assert train.shape == (2, 100, 200)
    np.testing.assert_allclose(train.values.mean(-1), idata.posterior["L"].values, rtol=1e-12)

    run = lh.load_run(trace.parent.name, root=tmp_path / "store")
    np.testing.assert_array_equal(run.observed["probe"], probe.values)
    assert set(run.spec.observe) == {"probe", "train"}
    assert idata.observed_at_w_star["probe"].dims == ("probe_row",)
    assert run.observed_at_w_star["train"].mean() == pytest.approx(run.L0, rel=1e-12)
    target = lh.load_target(trace.parent.parent.name, root=tmp_path / "store")
    spec = target_from_dict(target.meta["spec"])
    rows = table_rows(spec, run.spec.observe["probe"], *target.data)
    assert rows[0].shape == (12, 3) and not np.isin(rows[0], target.data[0]).any()
    again = lh.estimate(
        target.apply,
        target.params,
        target.data,
        sampler="hmc",
        warmup=100,
        num_integration_steps=8,
        chains=2,
        draws=100,
        observe={"probe": rows},
        progress=False,
    )
    np.testing.assert_allclose(again.observed["probe"], run.observed["probe"], rtol=1e-9)
    np.testing.assert_allclose(lh.bif(again, "probe").value, lh.bif(run, "probe").value)
    chi = lh.susceptibility(run, "probe")
    assert chi.value.shape == (12,) and np.all(np.isfinite(chi.mcse))
    data = json.loads((trace.parent / "analysis.json").read_text())
    assert data["sampler_config"]["observe"]["probe"]["n_data"] == 12


def test_what_is_observed_is_part_of_the_run_id(write_toml, tmp_path):
    bare = _spec(write_toml, tmp_path, "")
    assert bare.observe == {} and "observe" not in json.dumps(_hashed(bare))
    observed = _spec(write_toml, tmp_path, 'observe = ["probe"]\n')
    assert run_dirname(observed) != run_dirname(bare)
    bigger = EXPERIMENT.replace("n_data = 12", "n_data = 13")
    experiment = load(write_toml(bigger.replace("{root}", str(tmp_path)) + 'observe = ["probe"]\n'))
    (sampler,) = experiment.samplers
    other = resolve_run(sampler, "tgt_0123456789ab", 200, tables=experiment.tables)
    assert run_dirname(other) not in (run_dirname(observed), run_dirname(bare))


def _hashed(spec):
    from lambda_hat.fields import hash_view

    return hash_view(spec)


@pytest.mark.parametrize(
    "extra, match",
    [
        (
            'observe = ["held_out"]\n',
            r"samplers\[0\]\.observe\[0\]: no table 'held_out' in \[data\] \(known: base, "
            r"probe, train\)",
        ),
        ('observe = ["probe", "probe"]\n', r"samplers\[0\]\.observe: names a table twice"),
        ('observe = "probe"\n', r"samplers\[0\]\.observe: expected a list of strings"),
    ],
)
def test_an_observed_table_that_is_not_one_is_refused(write_toml, tmp_path, extra, match):
    with pytest.raises(ConfigError, match=match):
        load(_file(write_toml, tmp_path, extra))


def test_a_swept_or_misfitting_observed_table_is_refused(write_toml, tmp_path):
    swept = EXPERIMENT.replace("n_data = 12", "n_data = { sweep = [12, 24] }")
    with pytest.raises(ConfigError, match=r"observe\[0\]: data.probe has sweeps, so it is 2"):
        load(write_toml(swept.replace("{root}", str(tmp_path)) + 'observe = ["probe"]\n'))
    np.savez(tmp_path / "wide.npz", X=np.zeros((10, 4)), Y=np.zeros((10, 2)))
    table = '[data.wide]\nkind = "file"\npath = "wide.npz"\n[training.teacher]'
    wide = EXPERIMENT.replace("[training.teacher]", table)
    with pytest.raises(
        ConfigError,
        match=r"data.wide \(named by a sampler, on target dln/train\): the table has 4 input "
        r"features and 2 outputs, the model in_dim = 3 and out_dim = 2; give the table rows",
    ):
        load(write_toml(wide.replace("{root}", str(tmp_path)) + 'observe = ["wide"]\n'))


def test_observed_losses_over_the_limit_are_refused_before_any_work(
    write_toml, tmp_path, monkeypatch
):
    monkeypatch.setenv("LAMBDA_HAT_MAX_OBSERVED_MB", "0.1")  # 2 × 100 × 200 × 8 B = 0.31 MB
    with pytest.raises(
        ConfigError,
        match=r"samplers\[0\]\.observe: the observed losses would take 0.31 MB \(2 chains × 100 "
        r"draws × \(train 200\) values per draw\), over the limit of 0.1 MB; keep fewer draws",
    ):
        _spec(write_toml, tmp_path, 'observe = ["train"]\n')
    assert _spec(write_toml, tmp_path, 'observe = ["probe"]\n').observe  # 0.02 MB fits


def test_the_dry_run_shows_the_size_of_the_observed_losses(write_toml, tmp_path):
    from lambda_hat.scheduler.plan import make_plan

    experiment = load(_file(write_toml, tmp_path, 'observe = ["probe", "train"]\n'))
    (run,) = make_plan(experiment).runs
    assert run.work().endswith(" · 0.32 MB of observed losses (all chains)")  # 2·100·212·8 B


def test_lambda_hat_influence_prints_and_saves_what_lh_computes(observed_store, capsys, tmp_path):
    """``lambda-hat influence RUN probe``: the strongest BIF pairs and susceptibilities
    in a table, and with ``--save`` and ``--plot`` the arrays lh.bif and
    lh.susceptibility give, and a PNG; a dataset the run did not observe is refused."""
    import lambda_hat as lh
    from lambda_hat.cli import main

    (trace,) = observed_store.rglob("trace.nc")
    run_id = trace.parent.name.split("_")[-1]
    out, png = tmp_path / "probe.npz", tmp_path / "probe.png"
    args = ["influence", run_id, "probe", "--root", str(observed_store), "--top", "3"]
    assert main([*args, "--save", str(out), "--plot", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "probe: 12 entries observed at 2 × 100 draws of hmc" in printed
    assert "the 3 strongest pairs, BIF = −Cov(ℓ_i, ℓ_j)" in printed
    saved = np.load(out)
    run = lh.load_run(run_id, root=observed_store)
    np.testing.assert_array_equal(saved["bif"], lh.bif(run, "probe").value)
    np.testing.assert_array_equal(saved["chi"], lh.susceptibility(run, "probe").value)
    strongest = np.abs(np.triu(saved["bif"], 1)).max()
    assert f"{strongest:.4g}" in printed.replace("-", "")
    assert png.stat().st_size > 10_000
    assert main(["influence", run_id, "held_out", "--root", str(observed_store)]) == 2
    assert "observed no dataset 'held_out' (observed: probe, train)" in capsys.readouterr().err
    assert main([*args[:3], "--root", str(observed_store), "--against", "held_out"]) == 2
    assert "add observe = ['held_out'] to its [[samplers]] entry" in capsys.readouterr().err


def test_influence_writes_only_files_it_can_name_outside_the_store(
    observed_store, capsys, tmp_path
):
    """``--save`` and ``--plot`` are refused inside the store (a published run never
    changes) and when their file is of another kind; a missing folder is made."""
    from lambda_hat.cli import main

    (trace,) = observed_store.rglob("trace.nc")
    run_id = trace.parent.name.split("_")[-1]
    before = sorted(p.name for p in trace.parent.rglob("*"))
    args = ["influence", run_id, "probe", "--root", str(observed_store)]
    for extra, said in [
        (["--save", str(trace.parent / "x.npz")], "--save"),
        (["--plot", str(trace.parent / "diagnostics" / "trace.png")], "--plot"),
    ]:
        assert main([*args, *extra]) == 2
        assert f"{said} {extra[1]}: inside the store's" in capsys.readouterr().err
    assert sorted(p.name for p in trace.parent.rglob("*")) == before
    for extra, said in [
        (["--save", str(tmp_path / "x.json")], "name a .npz file"),
        (["--plot", str(tmp_path / "x.txt")], "name a .png or .pdf or .svg file"),
        (["--top", "0"], "--top 0: give at least 1"),
    ]:
        assert main([*args, *extra]) == 2
        assert said in capsys.readouterr().err
    # a run named by its folder, whatever --root says: its own store is refused too
    inside = trace.parent / "y.npz"
    assert main(["influence", str(trace.parent), "probe", "--save", str(inside)]) == 2
    assert "inside the store's" in capsys.readouterr().err and not inside.exists()
    # nothing is made for a run that is not there
    made = tmp_path / "made" / "x.npz"
    assert (
        main(["influence", "ffff", "probe", "--root", str(observed_store), "--save", str(made)])
        == 2
    )
    assert not made.parent.exists()
    deep = tmp_path / "new" / "folder" / "probe.npz"
    assert main([*args, "--save", str(deep)]) == 0 and deep.is_file()


def test_a_spec_with_tables_and_a_restriction_round_trips_with_its_id(write_toml, tmp_path):
    """What a SLURM plan file and analysis.json keep (``to_dict``) reads back as the same
    spec and the same run ID: observed tables, a sampled table, a restriction."""
    from lambda_hat.config.specs import run_from_dict, to_dict

    extra = 'observe = ["probe", "train"]\ndata = "probe"\nrestrict = ["layer1/W"]\n'
    spec = _spec(write_toml, tmp_path, extra)
    again = run_from_dict(json.loads(json.dumps(to_dict(spec))))
    assert again == spec and run_dirname(again) == run_dirname(spec)
    assert spec.inverse_temperature == pytest.approx(1 / np.log(12))  # the sampled table's n
