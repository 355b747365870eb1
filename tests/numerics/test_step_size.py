"""step_size = "auto": the curvature it rests on is exact where it is known, one training
run's checkpoints share one step, and (slow) the step is accurate on the truth targets."""

from __future__ import annotations

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.config.specs import SGLDParams
from lambda_hat.errors import ConfigError
from lambda_hat.numerics import lanczos, step_size
from lambda_hat.numerics.loss import make_loss
from lambda_hat.numerics.posterior import make_posterior
from lambda_hat.numerics.step_size import (
    BIASED_ABOVE,
    BOUND_ROWS,
    DRAW_TIME,
    PILOT_STEPS,
    THIN_MAX,
    TOLERANCE,
    auto_step,
    auto_thin,
    bias_bound,
    examine,
    pilot_second_moment,
    row_sample,
    top_curvature,
    typical_step,
    written_curvature,
)
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout
from lambda_hat.store.trust import CONVERGED, STEP_BIASED, judge
from tests.numerics.helpers import dln_problem


def _regression(scales, n=500, gamma=2.0, seed=0):
    """Linear regression y = xw + noise at its least-squares w* (x64): H = XᵀX / n."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(scales))) * np.asarray(scales)
    y = x @ rng.normal(size=(len(scales), 1)) + 0.3 * rng.normal(size=(n, 1))
    w_star = np.linalg.lstsq(x, y, rcond=None)[0][:, 0]
    loss = make_loss(lambda w, xb: xb @ w[:, None], "mse")
    posterior = make_posterior(
        loss, (jnp.asarray(x), jnp.asarray(y)), jnp.asarray(w_star), 1 / math.log(n), gamma
    )
    return posterior, x.T @ x / n


def test_power_iteration_finds_the_top_curvature_of_linear_regression(x64):
    posterior, hessian = _regression([3.0, 1.0, 0.5, 0.1])
    n_beta, gamma = posterior.n_beta, posterior.localization
    exact = float(np.linalg.eigvalsh(hessian)[-1])
    assert top_curvature(posterior) == pytest.approx(n_beta * exact + gamma, rel=1e-8)
    # in a preconditioner's metric: the top eigenvalue of D(nβH + γ)D, D = √P
    scale = np.array([0.5, 2.0, 4.0, 30.0])
    d = np.sqrt(scale)
    metric = d[:, None] * (n_beta * hessian + gamma * np.eye(4)) * d[None, :]
    assert top_curvature(posterior, scale) == pytest.approx(
        np.linalg.eigvalsh(metric)[-1], rel=1e-8
    )
    plain = examine(posterior, SGLDParams())
    assert plain["hessian_top_eigenvalue"] == pytest.approx(exact, rel=1e-8)
    assert auto_step(plain) == pytest.approx(4 * TOLERANCE / (n_beta * exact + gamma))


def test_a_written_steps_bias_bound_costs_a_subsample_of_the_rows(x64):
    """A written step's h_max (its bias bound only) comes from BOUND_ROWS rows: the top
    curvature of their Hessian, near the full data's, for that fraction of the work."""
    posterior, hessian = _regression([3.0, 1.0, 0.5, 0.1], n=4000)
    full = examine(posterior, SGLDParams())
    part = examine(posterior, SGLDParams(step_size=1e-3), seed=3, rows=1000)
    assert "rows" not in full and part["rows"] == 1000
    assert part["fges"] == pytest.approx(full["fges"] * 1000 / 4000)
    idx = np.sort(np.random.default_rng(3).choice(4000, 1000, replace=False))
    x = np.asarray(posterior.data[0])[idx]
    exact = float(np.linalg.eigvalsh(x.T @ x / 1000)[-1])
    assert part["hessian_top_eigenvalue"] == pytest.approx(exact, rel=1e-8)
    # the top direction's x² averaged over 1000 rows: relative spread √(2/1000) ≈ 4.5%
    assert part["h_max"] == pytest.approx(full["h_max"], rel=0.2)
    # a preconditioner's metric still comes from all rows; so does a sample of all rows
    assert "rows" not in examine(posterior, SGLDParams(precond="rmsprop"), rows=1000)
    assert "rows" not in examine(posterior, SGLDParams(), rows=4000)


def test_a_written_steps_bound_comes_from_lanczos_on_a_subsample(x64):
    """A written step's h_max is Lanczos' on BOUND_ROWS rows, as exact as the dense
    eigenvalue of those rows' Hessian, and it tells the work it took."""
    posterior, _ = _regression([3.0, 1.0, 0.5, 0.1], n=6000)
    found = written_curvature(posterior, SGLDParams(step_size=1e-3), seed=2)
    x = np.asarray(posterior.data[0])[row_sample(6000, BOUND_ROWS, 2)]
    exact = float(np.linalg.eigvalsh(x.T @ x / BOUND_ROWS)[-1])
    assert found["hessian_top_eigenvalue"] == pytest.approx(exact, rel=1e-8)
    assert found["h_max"] == pytest.approx(posterior.n_beta * exact + 2.0, rel=1e-8)
    assert found["rows"] == BOUND_ROWS and found["method"] == "lanczos"
    assert found["iterations"] == 4  # the Krylov space of 4 parameters
    assert found["fges"] == pytest.approx(2 * 4 * BOUND_ROWS / 6000)
    # few rows: all of them; a preconditioner's metric: examine's, on all rows
    small, _ = _regression([3.0, 1.0], n=300)
    assert "rows" not in written_curvature(small, SGLDParams(step_size=1e-3))
    assert written_curvature(small, SGLDParams(step_size=1e-3, precond="rmsprop"))[
        "h_max"
    ] == pytest.approx(examine(small, SGLDParams(precond="rmsprop"))["h_max"], rel=1e-8)


def test_lanczos_finds_the_largest_curvature_in_magnitude(x64):
    """On a DLN (p = 114) Lanczos' 16 steps find the dense Hessian's top eigenvalue; of
    a concave loss, the most negative one."""
    import jax

    posterior, _, _ = dln_problem([6, 6, 6, 6, 3], rank=2, n=300, noise=0.0)
    grad = jax.grad(lambda w: posterior.loss_fn(w, posterior.data))
    hessian = np.asarray(jax.jacfwd(grad)(posterior.w_star))
    top = posterior.n_beta * np.linalg.eigvalsh(hessian)[-1] + posterior.localization
    assert lanczos.top_curvature(posterior) == pytest.approx(top, rel=1e-6)
    x = np.random.default_rng(1).normal(size=(200, 3)) * [1.0, 2.0, 5.0]
    concave = make_posterior(
        lambda w, b: -0.5 * jnp.mean((b[0] @ w) ** 2), (jnp.asarray(x),), jnp.zeros(3), 0.01, 1.0
    )
    most_negative = 2.0 * np.linalg.eigvalsh(x.T @ x / 200)[-1] - 1.0  # |nβλ_min + γ|
    assert lanczos.top_curvature(concave) == pytest.approx(most_negative, rel=1e-8)


def test_the_batched_power_iteration_finds_each_positions_curvature(x64):
    """L_n = mean (w·x)⁴/4 has ∇²L_n(w) = 3·mean (w·x)² xxᵀ, a different h_max at every w;
    one call finds them all, in each row's own metric."""
    from lambda_hat.numerics.step_size import top_curvatures

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    loss = make_loss(lambda w, xb: (xb @ w)[:, None] ** 2 / np.sqrt(2.0), "mse")
    posterior = make_posterior(
        loss, (jnp.asarray(x), jnp.zeros((200, 1))), jnp.zeros(3), 1 / math.log(200), 1.5
    )
    positions = rng.normal(size=(4, 3)) * np.array([[0.3], [1.0], [2.0], [4.0]])
    scales = rng.uniform(0.5, 3.0, size=(4, 3))

    def exact(w, scale):
        hessian = 3 * (x * ((x @ w) ** 2)[:, None]).T @ x / len(x)
        d = np.sqrt(scale)
        matrix = d[:, None] * (posterior.n_beta * hessian + 1.5 * np.eye(3)) * d[None, :]
        return np.linalg.eigvalsh(matrix)[-1]

    found = top_curvatures(posterior, jnp.asarray(positions), jnp.asarray(scales), 200)
    np.testing.assert_allclose(
        found, [exact(w, s) for w, s in zip(positions, scales, strict=True)], rtol=1e-6
    )
    assert len(set(np.round(found, 3))) == 4  # four different curvatures, not one
    plain = top_curvatures(posterior, jnp.asarray(positions), iterations=200)
    np.testing.assert_allclose(plain, [exact(w, np.ones(3)) for w in positions], rtol=1e-6)


def test_the_pilot_finds_the_stationary_second_moment_of_the_gradient(x64):
    """Full batch: g = H(w − w*) with w − w* ~ N(0, (nβH + γ)⁻¹), so E[g²] = diag(HΣH).

    The stiff coordinates, which set the step, are found to a few percent; the soft
    ones mix slowly within the pilot and are rougher."""
    posterior, hessian = _regression([2.0, 1.5, 1.0, 0.7], n=400)
    sigma = np.linalg.inv(posterior.n_beta * hessian + posterior.localization * np.eye(4))
    exact = np.diag(hessian @ sigma @ hessian)
    step = auto_step(examine(posterior, SGLDParams()))
    v = pilot_second_moment(posterior, step, batch_size=400)
    np.testing.assert_allclose(v[:2], exact[:2], rtol=0.1)
    np.testing.assert_allclose(v, exact, rtol=0.5)
    found = top_curvature(posterior, 1 / (np.sqrt(v) + 1e-5))
    assert found == pytest.approx(top_curvature(posterior, 1 / (np.sqrt(exact) + 1e-5)), rel=0.1)


def test_the_bias_bound_and_the_auto_thin_are_the_documented_arithmetic():
    curvature = {"h_max": 2000.0, "time_per_step": 3.0}
    bound = bias_bound(1e-4, curvature)
    assert bound["bias_bound"] == pytest.approx(1e-4 * 2000 / 4)
    assert bound["biased"] is False and bias_bound(1.01e-4, curvature)["biased"] is True
    assert bound["largest_unbiased_step"] == pytest.approx(4 * BIASED_ABOVE / 2000)
    assert bias_bound(auto_step(curvature), curvature)["bias_bound"] == pytest.approx(TOLERANCE)
    # a draw spans DRAW_TIME/γ of Langevin time; a step is ε·time_per_step of it
    thin = auto_thin(1e-5, curvature, localization=2.0)
    assert thin["thin"] == round(DRAW_TIME / 2.0 / 3e-5)
    assert auto_thin(1e-9, curvature, 1.0)["thin"] == THIN_MAX
    assert auto_thin(1.0, curvature, 1.0)["thin"] == 1


def test_a_flat_posterior_has_no_auto_step():
    from lambda_hat.errors import StepSizeError

    with pytest.raises(StepSizeError, match="give step_size a number, or a localization > 0"):
        auto_step({"h_max": 0.0})


def test_trust_says_step_size_biased_only_for_a_converged_run():
    good = {"rhat": 1.0, "ess": 1000.0, "drift_z": 0.1}
    biased = {"bias_bound": 0.2, "biased": True, "threshold": BIASED_ABOVE}
    assert judge(good, biased).verdict == STEP_BIASED
    assert "step bias bound 20% > 5%" in judge(good, biased).reasons[0]
    unmixed = judge({**good, "rhat": 1.2}, biased)
    assert unmixed.verdict == "not converged" and len(unmixed.reasons) == 2
    fine = {"bias_bound": 0.02, "biased": False, "threshold": BIASED_ABOVE}
    assert judge(good, fine).to_json() == {"verdict": CONVERGED, "reasons": []}


def test_a_large_fixed_step_is_flagged_and_auto_is_not(x32, monkeypatch):
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.sampling import sample_llc

    posterior, _, _ = dln_problem([3, 3, 3], 1, 400)

    def run(**params):
        spec = resolve_run(
            SamplerSpec(name="sgld", params=SGLDParams(**params), chains=2, draws=20),
            "t",
            400,
        )
        return sample_llc(posterior, spec)

    auto = run()
    h_max = auto.prepared["curvature"]["h_max"]
    assert auto.prepared["step_size"] == pytest.approx(4 * TOLERANCE / h_max)
    assert auto.spec.params.step_size == auto.prepared["step_size"]
    assert auto.spec.thin == auto.prepared["thin_auto"]["thin"] >= 1
    assert not auto.prepared["bias"]["biased"]
    assert not any("stiffest direction" in w for w in auto.warnings)
    big = run(step_size=2.0 / h_max)  # bias bound 50%
    assert big.prepared["bias"]["bias_bound"] == pytest.approx(0.5, rel=1e-5)
    assert any("stiffest direction at w*" in w for w in big.warnings)
    assert "auto" not in big.prepared
    assert "rows" not in big.prepared["curvature"]  # n = 400 is under BOUND_ROWS
    monkeypatch.setattr(step_size, "BOUND_ROWS", 100)
    cheap = run(step_size=2.0 / h_max)
    assert cheap.prepared["curvature"]["rows"] == 100
    assert cheap.prepared["fges"] == pytest.approx(2 * lanczos.ITERATIONS * 100 / 400)
    assert cheap.prepared["bias"]["bias_bound"] == pytest.approx(0.5, rel=0.3)


def test_rmsprop_auto_steps_in_its_preconditioners_metric(x32):
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.sampling import sample_llc

    posterior, _, _ = dln_problem([3, 3, 3], 1, 400)
    spec = resolve_run(
        SamplerSpec(name="sgld", params=SGLDParams(precond="rmsprop"), chains=2, draws=20),
        "t",
        400,
    )
    est = sample_llc(posterior, spec)
    curvature = est.prepared["curvature"]
    assert curvature["pilot_steps"] == PILOT_STEPS
    assert est.prepared["step_size"] == pytest.approx(4 * TOLERANCE / curvature["h_max"])
    low, high = curvature["preconditioner_range"]
    assert 0 < low <= curvature["preconditioner_median"] <= high <= 1 / 1e-5
    # a step's Langevin time is ε·median(P), and auto thin spans DRAW_TIME of it
    thin = est.prepared["thin_auto"]
    assert thin["time_per_step"] == pytest.approx(
        est.prepared["step_size"] * curvature["preconditioner_median"]
    )
    assert est.spec.thin == thin["thin"] == min(THIN_MAX, round(DRAW_TIME / thin["time_per_step"]))


def test_where_auto_thin_hits_its_cap_the_default_burn_in_still_spans_one_over_gamma(
    x32, monkeypatch
):
    from lambda_hat.config.specs import AUTO_THIN_BURNIN, SamplerSpec, resolve_run
    from lambda_hat.sampling import sample_llc

    assert AUTO_THIN_BURNIN * DRAW_TIME == step_size.BURNIN_TIME  # 100 draws = 1/γ
    monkeypatch.setattr(step_size, "THIN_MAX", 3)  # a stiff posterior's cap, cheaply
    posterior, _, _ = dln_problem([3, 3, 3], 1, 400, gamma=2.0)

    at_w_star = SGLDParams(start="w_star")

    def run(params=at_w_star, **keys):
        sampler = SamplerSpec(
            name="sgld", params=params, chains=2, draws=20, localization=2.0, **keys
        )
        return sample_llc(posterior, resolve_run(sampler, "t", 400))

    est = run()
    thin, eps = est.prepared["thin_auto"], est.spec.params.step_size
    assert thin["capped"] and est.spec.thin == 3 < round(DRAW_TIME / 2.0 / eps)
    assert thin["draw_time_done"] == pytest.approx(3 * eps)
    wanted = math.ceil(1.0 / 2.0 / (3 * eps))  # BURNIN_TIME/γ in draws of 3 steps
    assert est.spec.burnin == thin["burnin_draws"] == wanted > AUTO_THIN_BURNIN
    assert est.result.stats["langevin_time"] == pytest.approx(eps * (wanted + 20) * 3)
    # a burn-in written as another number is the user's; uncapped, 100 draws stand
    assert run(burnin=7).spec.burnin == 7
    # the default start, where the step pilot's chains end, has spent its 1/γ already
    warm = run(SGLDParams())
    assert warm.spec.params.start == "pilot" and warm.prepared["start"]["kind"] == "pilot"
    assert warm.prepared["thin_auto"]["capped"] and warm.spec.burnin == AUTO_THIN_BURNIN
    monkeypatch.setattr(step_size, "THIN_MAX", 10_000)
    free = run()
    assert not free.prepared["thin_auto"]["capped"] and free.spec.burnin == AUTO_THIN_BURNIN
    assert free.prepared["thin_auto"]["burnin_draws"] is None


def test_the_default_start_is_where_the_step_pilots_chains_end(x32):
    """start = "pilot": the first draw is one step from the pilot's chain ends, which
    have spread from w*; start = "w_star": one step from w*."""
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.sampling import sample_llc

    posterior, _, _ = dln_problem([3, 3, 3], 1, 400)
    at_w_star = examine(posterior, SGLDParams())
    _, _, ends = typical_step(posterior, SGLDParams(), auto_step(at_w_star), at_w_star, 2)
    w_star = np.asarray(posterior.w_star)
    spread = np.linalg.norm(ends - w_star, axis=1)

    def first_draw(params):
        sampler = SamplerSpec(
            name="sgld", params=params, chains=2, draws=1, burnin=0, thin=1, trace_params=True
        )
        est = sample_llc(posterior, resolve_run(sampler, "t", 400))
        return est, np.asarray(est.result.positions)[:, 0]

    est, first = first_draw(SGLDParams())
    assert est.prepared["start"]["kind"] == "pilot"
    assert est.prepared["start"]["distance_from_w_star"] == pytest.approx(spread, rel=1e-6)
    assert (np.linalg.norm(first - ends, axis=1) < spread / 5).all()
    est, first = first_draw(SGLDParams(start="w_star"))
    assert "start" not in est.prepared
    assert (np.linalg.norm(first - w_star, axis=1) < spread / 5).all()


def test_sgld_budgets_itself_by_default_and_the_others_keep_theirs():
    from lambda_hat.config.specs import HMCParams, SamplerSpec, resolve_run

    sgld = resolve_run(SamplerSpec(name="sgld", params=SGLDParams()), "t", 1000)
    assert (sgld.params.step_size, sgld.draws, sgld.thin) == ("auto", "auto", "auto")
    assert (sgld.burnin, sgld.max_draws) == (100, 12800)
    fixed = resolve_run(SamplerSpec(name="sgld", params=SGLDParams(), thin=5), "t", 1000)
    assert fixed.burnin == 1000  # the old default where thin is written
    hmc = resolve_run(SamplerSpec(name="hmc", params=HMCParams()), "t", 1000)
    assert (hmc.draws, hmc.thin, hmc.burnin, hmc.max_draws) == (1000, 1, 0, None)


def test_auto_thin_is_sgld_only(write_toml):
    text = CHECKPOINTS.format(root="runs").replace('name = "sgld"', 'name = "hmc"')
    text = text.replace('step_size = "auto"\n', 'thin = "auto"\n')
    with pytest.raises(ConfigError, match=r"samplers\[0\]\.thin: 'auto' spans a fixed"):
        load(write_toml(text))


CHECKPOINTS = """
[store]
root = "{root}"
[models.m]
kind = "mlp"
in_dim = 2
widths = [4]
out_dim = 1
[data.d]
n_data = 300
[training.t]
steps = 200
learning_rate = 0.02
checkpoints = [50, 200]
[[targets]]
model = "m"
data = "d"
training = "t"
[[samplers]]
name = "sgld"
step_size = "auto"
chains = 2
draws = 50
burnin = 20
"""


@pytest.mark.slow
def test_the_checkpoints_of_one_training_share_the_step_of_the_last(tmp_path):
    exp = tmp_path / "e.toml"
    exp.write_text(CHECKPOINTS.format(root=tmp_path / "store"))
    assert main(["run", str(exp), "--workers", "1", "--quiet"]) == 0
    plan = make_plan(load(exp))
    layout = Layout(tmp_path / "store")
    chosen, starts = [], []
    for run in plan.runs:
        analysis = json.loads(
            (layout.run_dir(run.target_id, run.dirname) / "analysis.json").read_text()
        )
        chosen.append(analysis["sgld_step"]["auto"]["step_size"])
        starts.append(analysis["sgld_step"]["start"])
        assert analysis["stats"]["step_size"] == chosen[-1]
        assert analysis["spec"]["params"]["step_size"] == "auto"
    assert len(chosen) == 2 and chosen[0] == chosen[1]
    # the pilot's chains are around the last checkpoint's w*: only its run starts there
    kinds = sorted((s["kind"], s.get("why")) for s in starts)
    assert kinds == [
        ("pilot", None),
        ("w_star", "the step pilot ran on the training run's last checkpoint"),
    ]


@pytest.mark.slow
def test_the_auto_step_is_accurate_on_a_truth_dln(x32):
    """The quickstart's DLN (λ = 12): within 5% at the auto step, given Langevin time."""
    from lambda_hat.config.specs import SamplerSpec, SGLDParams, resolve_run
    from lambda_hat.sampling import sample_llc

    posterior, _, truth = dln_problem([5, 6, 5], 2, 5000)
    spec = resolve_run(
        SamplerSpec(
            name="sgld",
            params=SGLDParams(step_size="auto"),
            chains=4,
            draws=600,
            burnin=100,
            thin=100,
        ),
        "t",
        5000,
    )
    est = sample_llc(posterior, spec)
    assert abs(est.summary["llc_mean"] - truth) <= 0.05 * truth, est.summary["llc_mean"]
    assert est.prepared["step_size"] == pytest.approx(
        4 * TOLERANCE / est.prepared["curvature"]["h_max"]
    )


def _quartic(n=100, gamma=1.0, c=2.0):
    """L_n(w) = c·mean (w·x)⁴/4 at w* = 0: flat at w* (h_max = γ), stiff around it."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(n, 2)), jnp.float32)
    y = jnp.zeros((n, 1), jnp.float32)

    def loss(w, batch):
        return c * jnp.mean((batch[0] @ w) ** 4) / 4

    return make_posterior(loss, (x, y), jnp.zeros(2, jnp.float32), 1 / math.log(n), gamma)


def test_the_typical_step_shrinks_to_the_curvature_where_the_chains_go(x32):
    from lambda_hat.numerics.step_size import SHRINK_STOP, TYPICAL_MARGIN, typical_step

    posterior = _quartic()
    at_w_star = examine(posterior, SGLDParams())
    first = auto_step(at_w_star)
    assert at_w_star["h_max"] == pytest.approx(1.0) and first == pytest.approx(4 * TOLERANCE)
    step, record, _ = typical_step(posterior, SGLDParams(), first, at_w_star, 4)
    rounds = record["rounds"]
    assert rounds[0]["step_size"] == first and rounds[0]["stiffness"] > TYPICAL_MARGIN
    for r, nxt in zip(rounds, rounds[1:], strict=False):  # each round starts at the last's
        assert nxt["step_size"] == r["next_step"] == pytest.approx(4 * TYPICAL_MARGIN / r["h_max"])
    last = rounds[-1]
    assert step == last["next_step"] == min(last["step_size"], 4 * TYPICAL_MARGIN / last["h_max"])
    assert step < first / 2  # the chains meet 25x or more the curvature at w*
    assert len(rounds) == 3 or 4 * TYPICAL_MARGIN / last["h_max"] > SHRINK_STOP * last["step_size"]
    assert record["fges"] == pytest.approx(
        sum(4 * (r["steps"] * 1.0 + 2 * 40) for r in rounds)  # batch = n: 1 FGE a step
    )


def test_the_typical_step_leaves_a_gaussian_alone(x64):
    """Where the curvature is the same everywhere, w*'s step is the chains' step."""
    from lambda_hat.numerics.step_size import typical_step

    posterior, _ = _regression([2.0, 1.0, 0.5], n=300)
    at_w_star = examine(posterior, SGLDParams())
    first = auto_step(at_w_star)
    step, record, _ = typical_step(posterior, SGLDParams(batch_size=300), first, at_w_star, 2)
    assert step == first and len(record["rounds"]) == 1
    assert record["rounds"][0]["h_max"] == pytest.approx(at_w_star["h_max"], rel=1e-6)
    # with a preconditioner the curvature is taken in each chain's own metric, which
    # the pilot's running average only approximates
    params = SGLDParams(precond="rmsprop", batch_size=300)
    metric = examine(posterior, params)
    step, record, _ = typical_step(posterior, params, auto_step(metric), metric, 2)
    assert step == auto_step(metric) and len(record["rounds"]) == 1
    assert record["rounds"][0]["h_max"] == pytest.approx(metric["h_max"], rel=0.5)


def test_a_diverging_pilot_shrinks_the_typical_step_tenfold(x32):
    from lambda_hat.numerics.step_size import DIVERGED_SHRINK, typical_step

    posterior = _quartic(c=1e6)  # w*'s step (0.08) throws the chains out at once
    at_w_star = examine(posterior, SGLDParams())
    step, record, _ = typical_step(posterior, SGLDParams(), auto_step(at_w_star), at_w_star, 2)
    first = record["rounds"][0]
    assert first["diverged"] is True and first["h_max"] is first["distance_from_w_star"] is None
    json.dumps(record, allow_nan=False)  # the record is stored as JSON
    assert first["next_step"] == pytest.approx(0.08 * DIVERGED_SHRINK)
    assert step < first["next_step"]


def test_a_step_still_shrinking_after_the_last_round_warns(x32):
    """c = 100: w*'s step throws the chains out, and as ε shrinks they go where the
    quartic is stiffer, so the three rounds keep lowering it (as on the largest DLN)."""
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.numerics.step_size import TYPICAL_ROUNDS
    from lambda_hat.sampling import sample_llc

    spec = resolve_run(SamplerSpec("sgld", SGLDParams(), draws=50, burnin=10), "t", 100)
    told = []  # the stages a progress display shows while the pilots run
    est = sample_llc(_quartic(c=100.0), spec, stage=told.append)
    rounds = est.prepared["auto"]["typical"]["rounds"]
    assert len(rounds) == TYPICAL_ROUNDS and rounds[-1]["next_step"] < rounds[-1]["step_size"]
    assert told == [
        "step size: curvature at w*",
        *(
            f"step size: pilot round {i} of at most 3, ε = {r['step_size']:.3g}, "
            f"{r['steps']:,} steps"
            for i, r in enumerate(rounds, 1)
        ),
        f"sampling: ε = {est.spec.params.step_size:.3g}, thin = {est.spec.thin:,}, "
        f"burn-in {est.spec.burnin:,} draws",
    ]
    assert est.prepared["step_size"] == rounds[-1]["next_step"]
    assert any("still being lowered after its last pilot round" in w for w in est.warnings)
    calm = sample_llc(_quartic(c=2.0), spec)  # two rounds suffice: no such warning
    assert not any("still being lowered" in w for w in calm.warnings)


def test_with_a_stage_progress_counts_each_pilot_rounds_steps_then_the_draws(x32):
    """A display learns each round's steps (it names the round from the stage) and the
    sampler's draws; a caller without stages hears only of the draws, as before."""
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.sampling import sample_llc

    spec = resolve_run(SamplerSpec("sgld", SGLDParams(), draws=50, burnin=10), "t", 100)
    heard: dict[str, list] = {}  # each stage: the (done, total) counts heard after it
    est = sample_llc(
        _quartic(c=2.0),
        spec,
        progress=lambda done, total: heard[next(reversed(heard))].append((done, total)),
        stage=lambda text: heard.setdefault(text, []),
    )
    rounds = est.prepared["auto"]["typical"]["rounds"]
    for i, r in enumerate(rounds, 1):
        counts = heard[
            f"step size: pilot round {i} of at most 3, ε = {r['step_size']:.3g}, "
            f"{r['steps']:,} steps"
        ]
        assert counts[-1] == (r["steps"], r["steps"])
        assert all(total == r["steps"] and 0 < done <= total for done, total in counts)
    (sampling,) = (counts for text, counts in heard.items() if text.startswith("sampling"))
    draws = est.spec.burnin + est.spec.draws
    assert sampling[-1] == (draws, draws) and {total for _, total in sampling} == {draws}
    alone = []
    sample_llc(_quartic(c=2.0), spec, progress=lambda done, total: alone.append(total))
    assert set(alone) == {draws}
