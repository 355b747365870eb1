"""The Python API (``lh.estimate``, ``lh.load_target``, ``lh.results``) as a notebook uses it."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

import lambda_hat as lh
from lambda_hat.api import LLCResult
from lambda_hat.store.trust import judge

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_STORE = ROOT / "tests" / "fixtures" / "store"
MLP_TARGET = "tgt_7b10725e629e"  # tests/fixtures/tiny.toml's mlp_tiny: 2 -> 4 (tanh) -> 1


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


# --- lh.results ---------------------------------------------------------------------------


def test_results_can_be_called_again_after_its_module_is_imported(tmp_path):
    """The submodule ``lambda_hat.results`` no longer replaces the function ``lh.results``
    (a second call was ``TypeError: 'module' object is not callable``), and importing
    ``lambda_hat`` loads no JAX."""
    store = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, store)
    out = _python(
        f"""
        import sys
        import lambda_hat as lh
        print("JAX AFTER IMPORT:", sorted(m for m in sys.modules if m.split(".")[0] == "jax"))
        first = lh.results({str(store)!r})
        second = lh.results({str(store)!r})
        import lambda_hat.results
        from lambda_hat.results import load
        third = lh.results({str(store)!r})
        print("ROWS:", len(first), len(second), len(third), len(load({str(store)!r})))
        print("SAME:", list(first["run_id"]) == list(third["run_id"]))
        print("MODULE:", lambda_hat.results.COLUMNS == lh.results.COLUMNS)
        """
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "JAX AFTER IMPORT: []" in out.stdout, out.stdout
    assert "ROWS: 4 4 4 4" in out.stdout, out.stdout  # two targets, an sgld and an hmc run each
    assert "SAME: True" in out.stdout and "MODULE: True" in out.stdout, out.stdout


def test_results_warns_of_what_it_leaves_out_and_refuses_a_folder_that_is_no_store(tmp_path):
    from lambda_hat.errors import StoreError

    store = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, store)
    analysis = store / "targets" / MLP_TARGET / "run_hmc_b3a0c5e8" / "analysis.json"
    analysis.write_text("{")
    with pytest.warns(UserWarning, match=r"left out \(unreadable\): .*run_hmc_b3a0c5e8"):
        assert len(lh.results(store)) == 3
    for nowhere in (tmp_path / "nope", tmp_path):
        with pytest.raises(StoreError, match="no store at"):
            lh.results(nowhere)


def test_results_without_pandas_says_how_to_install_it(tmp_path):
    out = _python(
        """
        import sys
        sys.modules["pandas"] = None  # as if pandas were not installed
        import lambda_hat as lh
        try:
            lh.results("runs")
        except ImportError as exc:
            print(type(exc).__name__, "|", exc)
        """
    )
    assert out.returncode == 0, out.stderr[-3000:]
    kind, message = out.stdout.strip().split(" | ", 1)
    assert kind == "MissingDependencyError"
    assert "pip install pandas" in message and "lambda_hat.results.load" in message


def test_pandas_is_a_dependency_and_model_libraries_are_extras():
    """pandas (what ``lh.results`` returns) installs with lambda-hat; Flax and Equinox are
    opt-in extras (``uv run --extra flax``), and the lock file resolves them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [d.split(">")[0].split("=")[0].split("<")[0].strip() for d in project["dependencies"]]
    assert "pandas" in names
    assert "flax" not in names and "equinox" not in names
    extras = project["optional-dependencies"]
    assert [d.split(">")[0] for d in extras["flax"]] == ["flax"]
    assert [d.split(">")[0] for d in extras["equinox"]] == ["equinox"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (me,) = [p for p in lock["package"] if p["name"] == "lambda-hat"]
    assert {"flax", "equinox"} <= set(me["optional-dependencies"])
    assert "pandas" in {d["name"] for d in me["dependencies"]}
    assert any(p["name"] == "flax" for p in lock["package"])


# --- print(r) and the verdict in the warnings ---------------------------------------------


def _constructed(**changes) -> LLCResult:
    summary = {"rhat": 1.3253107021526218, "ess": 10.466776847844178, "drift_z": 0.4}
    fields = dict(
        llc_mean=12.61234,
        llc_mcse=0.28345,
        llc_std=0.5,
        ess=summary["ess"],
        rhat=summary["rhat"],
        warnings=[],
        L0=0.01,
        n_beta=100.0,
        summary=summary,
        stats={},
        llc=np.zeros((2, 3)),
        spec=None,
        trust=judge(summary).to_json(),
    )
    return LLCResult(**{**fields, **changes})


def test_print_rounds_and_gives_the_verdict():
    r = _constructed(warnings=["ESS is 10 (< 100): few effective draws."])
    assert str(r) == (
        "λ̂ = 12.61 ± 0.28 (ESS 10, R-hat 1.325): not converged (R-hat 1.325 > 1.01; "
        "ESS 10 < 400)\nwarning: ESS is 10 (< 100): few effective draws."
    )


def test_print_gives_the_verdicts_reasons_once():
    from lambda_hat.api import _with_verdict

    verdict = judge({"rhat": 1.002, "ess": 900.0, "drift_z": 2.6}).to_json()
    warnings = ["divergent transitions", *_with_verdict([], verdict)[-1:]]
    r = _constructed(rhat=1.002, ess=900.0, trust=verdict, warnings=warnings)
    assert str(r) == (
        "λ̂ = 12.61 ± 0.28 (ESS 900, R-hat 1.002): not converged (drift +2.6 MCSE (> 2))\n"
        "warning: divergent transitions"
    )


def test_print_of_a_converged_result_and_of_missing_figures():
    summary = {"rhat": 1.0021, "ess": 1234.6, "drift_z": 0.3}
    r = _constructed(
        llc_mean=1234.5678, llc_mcse=23.4, ess=1234.6, rhat=1.0021, trust=judge(summary).to_json()
    )
    assert str(r) == "λ̂ = 1235 ± 23 (ESS 1235, R-hat 1.002): converged"
    r = _constructed(llc_mean=0.123456, llc_mcse=None, ess=None, rhat=None, trust=None)
    assert str(r) == "λ̂ = 0.1235 (ESS n/a, R-hat n/a)"


def test_the_verdicts_reasons_join_the_warnings_once():
    """NUTS said ``not converged (drift +2.6 MCSE)`` with ``warnings == []``: the
    verdict's reasons that no warning gives are added, and none is repeated."""
    from lambda_hat.api import _with_verdict

    verdict = judge({"rhat": 1.002, "ess": 900.0, "drift_z": 2.6}).to_json()
    (added,) = _with_verdict([], verdict)
    assert added.startswith("not converged: drift +2.6 MCSE (> 2)")
    verdict = judge({"rhat": 1.2, "ess": 900.0, "drift_z": 2.6}).to_json()
    rhat = "R-hat is 1.200 (> 1.05): chains disagree; the estimate looks unconverged."
    warnings = _with_verdict([rhat], verdict)
    assert len(warnings) == 2 and warnings[0] == rhat
    assert "drift +2.6" in warnings[1] and "R-hat" not in warnings[1]
    assert _with_verdict([rhat], judge({"rhat": 1.2, "ess": 900.0, "drift_z": 0.0}).to_json()) == [
        rhat
    ]
    assert _with_verdict([], judge({"rhat": 1.0, "ess": 900.0, "drift_z": 0.0}).to_json()) == []


# --- lh.estimate: precision, progress, trace_params, sample_stats ---------------------------


def _regression(n: int = 200):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    y = x @ np.array([[1.0], [-0.5]]) + 0.1 * rng.normal(size=(n, 1))
    params = {"W": np.array([[1.0], [-0.5]]), "b": np.zeros(1)}
    return (lambda p, x: x @ p["W"] + p["b"]), params, (x, y)


@contextlib.contextmanager
def _x64(on: bool | None = None):
    """The session's ``jax_enable_x64`` set to ``on`` (None: left), and as it was after."""
    import jax

    before = bool(jax.config.jax_enable_x64)
    if on is not None:
        jax.config.update("jax_enable_x64", on)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


def _run(x64: bool, **kwargs):
    """(result, stderr, x64 before, x64 after) of an estimate on a small regression."""
    import jax

    apply, params, data = _regression()
    err = io.StringIO()
    with _x64(x64), contextlib.redirect_stderr(err):
        before = bool(jax.config.jax_enable_x64)
        r = lh.estimate(apply, params, data, chains=2, draws=30, trace_params=True, **kwargs)
        after = bool(jax.config.jax_enable_x64)
    return r, err.getvalue(), before, after


@pytest.fixture(scope="module")
def hmc_run():
    """HMC (float64) in a float32 session, with the default progress bar."""
    return _run(False, sampler="hmc", warmup=30)


@pytest.fixture(scope="module")
def sgld_run():
    """SGLD (float32) in a float64 session, with no progress shown."""
    return _run(
        True, sampler="sgld", step_size=1e-4, batch_size=50, thin=1, burnin=10, progress=False
    )


def test_hmc_runs_in_float64_and_leaves_the_session_in_float32(hmc_run):
    r, _, before, after = hmc_run
    assert (before, after) == (False, False)
    assert r.spec.precision == "float64"
    assert r.positions.dtype == np.float64 and r.L.dtype == np.float64


def test_sgld_runs_in_float32_and_leaves_the_session_in_float64(sgld_run):
    r, _, before, after = sgld_run
    assert (before, after) == (True, True)
    assert r.spec.precision == "float32" and r.positions.dtype == np.float32


def test_the_default_progress_bar_counts_the_draws(hmc_run):
    _, err, _, _ = hmc_run
    assert "warm-up and sampling" in err and "30/30" in err, err


def test_progress_false_shows_nothing(sgld_run):
    _, err, _, _ = sgld_run
    assert "30/30" not in err and "sampling" not in err, err


def test_a_progress_function_hears_the_draws():
    apply, params, data = _regression()
    heard = []
    lh.estimate(
        apply,
        params,
        data,
        sampler="sgld",
        chains=2,
        draws=20,
        thin=1,
        burnin=0,
        step_size=1e-4,
        batch_size=50,
        progress=lambda done, total: heard.append((done, total)),
    )
    assert heard and heard[-1] == (20, 20)


@pytest.mark.parametrize("run", ["hmc_run", "sgld_run"])
def test_trace_params_returns_the_draws_as_the_params_pytree(run, request):
    r, _, _, _ = request.getfixturevalue(run)
    assert r.positions.shape == (2, 30, 3)
    assert r.params_draws["W"].shape == (2, 30, 2, 1) and r.params_draws["b"].shape == (2, 30, 1)
    np.testing.assert_array_equal(r.params_draws["W"][..., 0], r.positions[..., :2])
    np.testing.assert_array_equal(r.params_draws["b"][..., 0], r.positions[..., 2])
    w_star = np.array([1.0, -0.5, 0.0])
    assert np.all(np.abs(r.positions - w_star).max(axis=-1) > 0)  # every draw has moved
    assert len({tuple(w) for w in r.positions.reshape(-1, 3)}) > 30  # and draws differ
    idata = r.inference_data()
    assert idata.posterior["w"].dims == ("chain", "draw", "param")
    np.testing.assert_array_equal(idata.posterior["L"].values, r.L)


def test_sgld_inference_data_has_sample_stats(sgld_run):
    r, _, _, _ = sgld_run
    stats = r.inference_data().sample_stats
    assert stats["step_size"].shape == (2, 30)
    assert np.all(stats["step_size"].values == 1e-4)


def test_every_reason_of_the_verdict_is_in_the_warnings(hmc_run):
    r, _, _, _ = hmc_run
    for reason in r.trust["reasons"]:
        check = next(c for c in ("R-hat", "ESS", "drift", "bias") if c in reason)
        assert any(check in w for w in r.warnings), (reason, r.warnings)


# --- lh.load_target -----------------------------------------------------------------------


def test_load_target_gives_a_builtin_targets_pytree_and_its_L0():
    import jax

    t = lh.load_target(MLP_TARGET[:8], root=FIXTURE_STORE)
    meta = json.loads((FIXTURE_STORE / "targets" / MLP_TARGET / "meta.json").read_text())
    assert t.target_id == MLP_TARGET and t.loss == "mse"
    assert [(w.shape, b.shape) for w, b in t.params] == [((4, 2), (4,)), ((1, 4), (1,))]
    assert t.params[0][0].dtype == np.float64
    x, y = t.data
    with jax.enable_x64(True):
        residual = y - np.asarray(t.apply(t.params, x))
    assert 0.5 * np.mean(np.sum(residual**2, axis=1)) == pytest.approx(
        meta["metrics"]["L0"], abs=1e-6, rel=1e-6
    )
    r = lh.estimate(
        t.apply, t.params, t.data, loss=t.loss, sampler="hmc", draws=10, warmup=10, chains=2
    )
    assert r.L0 == pytest.approx(t.L0, abs=1e-6, rel=1e-6) and t.L0 == meta["metrics"]["L0"]


def test_load_target_names_what_it_cannot_load(tmp_path):
    from lambda_hat.errors import AmbiguousIdError, StoreError

    with pytest.raises(AmbiguousIdError, match="no target or run"):
        lh.load_target("ffff", root=FIXTURE_STORE)
    with pytest.raises(StoreError, match="names the run run_hmc_b3a0c5e8, not a target"):
        lh.load_target("run_hmc_b3a0", root=FIXTURE_STORE)


def test_load_run_names_a_broken_record_a_missing_store_and_a_bad_name(tmp_path):
    import shutil

    from lambda_hat.errors import ConfigError, StoreError

    store = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, store)
    analysis = store / "targets" / MLP_TARGET / "run_hmc_b3a0c5e8" / "analysis.json"
    doc = json.loads(analysis.read_text())
    for broken in ('{"llc_mean": ', json.dumps({**doc, "llc_mean": "abc"})):
        analysis.write_text(broken)
        with pytest.raises(StoreError, match=f"{analysis} is unreadable .*verify --quarantine"):
            lh.load_run("run_hmc_b3a0", root=store)
    with pytest.raises(StoreError, match="no store at .*nope"):
        lh.load_run("run_hmc_b3a0", root=tmp_path / "nope")
    with pytest.raises(ConfigError, match="named by its ID .* got None"):
        lh.load_run(None, root=store)


LOGISTIC = """
[store]
root = "runs"
[models.lr]
kind = "python"
factory = "user_models:logistic"
args = { in_dim = 4, classes = 3 }
loss = "cross_entropy"
[data.blobs]
kind = "python"
factory = "user_models:blobs"
args = { n = 120 }
[training.fit]
steps = 50
learning_rate = 0.05
[[targets]]
model = "lr"
data = "blobs"
training = "fit"
[[samplers]]
name = "hmc"
"""


def test_load_target_gives_a_python_factorys_own_pytree(tmp_path):
    from lambda_hat import runner
    from lambda_hat.config import load
    from lambda_hat.scheduler.plan import make_plan

    shutil.copy(ROOT / "tests" / "targets" / "user_models.py", tmp_path / "user_models.py")
    path = tmp_path / "exp.toml"
    path.write_text(LOGISTIC)
    (target,) = make_plan(load(path)).targets
    with _x64():  # the runner sets the process's precision for the build
        tid = runner.build_target(target.spec, tmp_path / "runs").key
    t = lh.load_target(tmp_path / "runs" / "targets" / tid)  # by folder
    assert t.target_id == tid and t.loss == "cross_entropy"
    assert set(t.params) == {"W", "b"}
    assert t.params["W"].shape == (4, 3) and t.params["b"].shape == (3,)
    x, y = t.data
    logits = np.asarray(t.apply(t.params, x), np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
    nll = np.mean(log_z - logits[np.arange(len(y)), y])
    assert nll == pytest.approx(t.L0, abs=1e-6, rel=1e-6)


# --- the documented notebook path -----------------------------------------------------------


def test_the_docs_python_example_runs(capsys):
    """The first block of docs/own-model.md's "From Python, without a store": trains a
    small network with optax and prints its λ̂ with the verdict."""
    text = (ROOT / "docs" / "own-model.md").read_text()
    section = text[text.index("## From Python, without a store") :]
    code = section[section.index("```python\n") + len("```python\n") :]
    code = code[: code.index("```")]
    with _x64(False):  # a fresh session's default, whatever tests ran before
        exec(compile(code, "docs/own-model.md", "exec"), {"__name__": "docs"})
    out, err = capsys.readouterr()
    first = out.splitlines()[0]
    assert re.fullmatch(r"λ̂ = \d+\.\d+ ± \d\.\d+ \(ESS \d+, R-hat \d\.\d{3}\): \S.*", first), out
    assert "200/200" in err, err


def test_bad_inputs_to_estimate_are_named_before_any_work():
    """Each is a ConfigError (or ModelError) saying what is wrong, not a Python
    exception from deep inside: the params, the data, what apply returns, observe and a
    progress function; NumPy scalars are numbers."""
    from lambda_hat.errors import ConfigError, ModelError

    apply, params, (x, y) = _regression()
    quick = {"sampler": "hmc", "draws": 20, "warmup": 20, "chains": 2, "progress": False}
    cases = [
        ({"params": {}}, ConfigError, "params has no arrays"),
        ({"params": {"W": np.array([["a"], ["b"]]), "b": np.zeros(1)}}, ConfigError,
         r"params\['W'\] is not numbers"),
        ({"params": {"W": np.array([[np.nan], [0.0]]), "b": np.zeros(1)}}, ConfigError,
         r"params\['W'\] holds NaN or inf"),
        ({"data": (x[:0], y[:0])}, ConfigError, "X has 0 rows; give at least 2"),
        ({"apply": lambda p, x: (x, x)}, ConfigError, "must return one array of outputs"),
        ({"apply": lambda p, x: x @ p["W"] + np.nan}, ModelError, "the loss at w\\* is nan"),
        ({"observe": [(x, y)]}, ConfigError, "observe must name its datasets"),
        ({"observe": {"p": x}}, ConfigError, r"observe\['p'\]: must be a pair \(X, Y\)"),
        ({"progress": lambda: None}, ConfigError, r"progress is called as progress\(done, total\)"),
    ]  # fmt: skip
    for change, error, said in cases:
        call = {"apply": apply, "params": params, "data": (x, y)} | quick | change
        with pytest.raises(error, match=said):
            lh.estimate(call.pop("apply"), call.pop("params"), call.pop("data"), **call)
    r = lh.estimate(apply, params, (x, y), **quick | {"chains": np.int64(2), "seed": np.int64(3)})
    assert (r.spec.chains, r.spec.seed) == (2, 3) and type(r.spec.chains) is int


def test_a_model_whose_output_ignores_its_parameters_is_named():
    """λ̂ = 0 but for rounding: the loss never moved, and the warnings give the likely
    cause; a model that uses its parameters gets no such warning."""
    _, params, (x, y) = _regression()
    fixed = np.array([[1.0], [-0.5]])
    quick = {"sampler": "hmc", "draws": 30, "warmup": 30, "chains": 2, "progress": False}
    r = lh.estimate(lambda p, x: x @ fixed + 0 * p["b"], params, (x, y), **quick)
    assert abs(r.llc_mean) < 1e-12 and any("The loss never changed" in w for w in r.warnings)
    apply, _, _ = _regression()
    r = lh.estimate(apply, params, (x, y), **quick)
    assert not any("never changed" in w for w in r.warnings)


def test_a_loss_of_your_own_may_read_outputs_of_any_structure():
    """A dict of outputs is refused for a built-in loss (with the way out) and taken by
    a custom loss that reads it; a single draw is no 'never changed' loss."""
    import jax.numpy as jnp

    from lambda_hat.errors import ConfigError

    _, params, (x, y) = _regression()

    def apply(p, x):
        return {"pred": x @ p["W"] + p["b"], "norm": jnp.sum(p["W"] ** 2)}

    def loss(o, t):
        return 0.5 * jnp.sum((o["pred"] - t) ** 2, axis=-1)

    quick = {"sampler": "hmc", "draws": 20, "warmup": 20, "chains": 2, "progress": False}
    with pytest.raises(ConfigError, match="one array of outputs for loss = 'mse'.*of your own"):
        lh.estimate(apply, params, (x, y), **quick)
    assert lh.estimate(apply, params, (x, y), loss=loss, **quick).llc_mean > 0
    with pytest.raises(ConfigError, match=r"lh.estimate: params is not numbers: 'abc'"):
        lh.estimate(apply, "abc", (x, y), **quick)
    one = lh.estimate(_regression()[0], params, (x, y), **quick | {"chains": 1, "draws": 1})
    assert not any("never changed" in w for w in one.warnings)
