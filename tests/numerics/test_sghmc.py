"""SGHMC (BAOAB): exact in Gaussian directions at any stable step with full batches; its
minibatch heating as numerics/underdamped.py predicts it; at its defaults, the regular
model's exact estimand; a step over its bounds is named by the verdict."""

from __future__ import annotations

import contextlib
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat.numerics import underdamped
from lambda_hat.numerics.samplers import sghmc
from tests.numerics.helpers import regular_model
from tests.numerics.test_sgld_scheme import _gaussian_posterior

STEPS, CHAINS, BURN = 4000, 256, 500


def _positions_and_velocities(posterior, step, friction, batch_size):
    kernel = sghmc.build_kernel(posterior, step, friction, batch_size)

    def chain(key):
        def one(state, inputs):
            state, _ = kernel(inputs[0], state, inputs[1])
            return state, (state.position, state.velocity)

        state = sghmc.init(posterior, posterior.w_star, key, batch_size)
        _, out = jax.lax.scan(one, state, (jax.random.split(key, STEPS), jnp.arange(STEPS)))
        return jax.tree_util.tree_map(lambda a: a[BURN:], out)

    ws, vs = jax.jit(jax.vmap(chain))(jax.random.split(jax.random.PRNGKey(5), CHAINS))
    ws = np.asarray(ws, np.float64).reshape(-1, ws.shape[-1])
    return ws - np.asarray(posterior.w_star), np.asarray(vs, np.float64).reshape(ws.shape)


def _whitened(cov, precision):
    vals, vecs = np.linalg.eigh(precision)
    root = vecs @ np.diag(np.sqrt(vals)) @ vecs.T
    return np.sort(np.linalg.eigvalsh(root @ cov @ root))


@pytest.mark.parametrize("stiffness", [0.4, 1.5])
def test_baoab_positions_are_exact_in_a_gaussian_at_any_stable_step(x64, stiffness):
    """ε·√h_max = ``stiffness`` (stable below 2), full batch: the whitened position
    covariance is the identity, as BAOAB's is for every harmonic direction."""
    posterior, precision = _gaussian_posterior()
    step = stiffness / math.sqrt(np.linalg.eigvalsh(precision)[-1])
    ws, _ = _positions_and_velocities(posterior, step, 2.0, posterior.n)
    np.testing.assert_allclose(_whitened(np.cov(ws, rowvar=False), precision), 1.0, rtol=0.04)


def test_minibatch_noise_heats_the_velocity_as_predicted(x64):
    """With batches of 8 of 200 rows the kinetic temperature rises by εΣ_jj/(2ξ) in each
    coordinate, Σ the minibatch force's covariance where the chains are (measured at 64
    of their positions: it grows away from w* with the residuals); compared on average
    over the coordinates, at a step heating them by about a quarter."""
    posterior, _ = _gaussian_posterior()
    friction, batch, p = 2.0, 8, 3
    at_w_star = underdamped.gradient_noise(posterior, batch)
    assert at_w_star["noise"] > 0 and len(at_w_star["per_position"]) == 1
    step = 2.0 * friction * 0.25 / at_w_star["noise"]
    ws, vs = _positions_and_velocities(posterior, step, friction, batch)
    where = ws[:: len(ws) // 64][:64] + np.asarray(posterior.w_star)
    noise = underdamped.gradient_noise(posterior, batch, where)
    trace = np.mean(np.multiply(noise["per_position"], noise["noisy_dimensions"]))
    predicted = step * trace / p / (2.0 * friction)
    measured = float(np.mean(vs * vs)) - 1.0
    assert 0.05 < predicted < 0.5
    assert measured == pytest.approx(predicted, rel=0.2), (measured, predicted)


def test_the_rule_numbers():
    """Critical friction, the slowest relaxation time, the two bounds of the step."""
    assert underdamped.auto_friction(4.0) == 4.0
    assert underdamped.relaxation_time(4.0, 4.0) == pytest.approx(0.5)  # 1/√γ, critical
    assert underdamped.relaxation_time(20.0, 1.0) == pytest.approx(1 / (10 - math.sqrt(99)))
    assert underdamped.auto_step(1e4, 0.0, 2.0) == pytest.approx(0.25 / 100)
    assert underdamped.auto_step(1e4, 80.0, 2.0) == pytest.approx(2 * 2 * 0.005 / 80)
    bound = underdamped.bias_bound(0.002, 1e4, 100.0, 2.0)
    assert bound["heating"] == pytest.approx(0.05) and not bound["biased"]
    bound = underdamped.bias_bound(0.004, 1e4, 100.0, 2.0)
    assert bound["biased"] and bound["what"] == "minibatch heating"
    bound = underdamped.bias_bound(0.02, 1e4, 0.0, 2.0)
    assert bound["biased"] and bound["what"] == "ε·√h_max at w*" and bound["bias_bound"] == 2.0
    thin = underdamped.auto_thin(1e-3, 2.0, 1.0)
    assert thin["thin"] == 20 and not thin["capped"]


def test_the_automatic_batch_is_where_heating_meets_stability():
    """σ² measured at 256 of n = 10,000 rows scales as 1/b − 1/n; the batch chosen heats
    the chains by HEATING at the stable step 0.25/√h_max, with ξ = 4·2√γ."""
    n, h, sigma2 = 10_000, 1e4, 50.0
    step, friction, batch = underdamped.choose(h, sigma2, n, 1.0)
    assert friction == 8.0 and step == pytest.approx(0.0025)
    per_row = sigma2 / (1 / 256 - 1 / n)
    assert step * per_row * (1 / batch - 1 / n) / (2 * friction) <= underdamped.HEATING
    assert step * per_row * (1 / (batch - 1) - 1 / n) / (2 * friction) > underdamped.HEATING
    # a written batch keeps its size; the automatic friction rises to meet the heating
    step, friction, batch = underdamped.choose(h, sigma2, n, 1.0, batch=256)
    assert batch == 256 and step == pytest.approx(0.0025)
    assert friction == pytest.approx(sigma2 * 0.0025 / (2 * underdamped.HEATING))
    # no noise (a full batch): the stable step, the full data
    assert underdamped.choose(h, 0.0, n, 1.0) == (pytest.approx(0.0025), 8.0, n)


def test_default_sghmc_meets_the_regular_models_exact_estimand(x32):
    """The truth suite's one-layer model (π Gaussian, nβ·E_π[L_n − L_n(w*)] = 49.76):
    default SGHMC within 2 MCSE + 1%. Its pilot lowered w*'s step (there the gradient
    noise is the residuals' alone) to the heating bound where the chains go, and
    sampling started where the pilot's chains ended."""
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.samplers.sghmc import SGHMCParams
    from lambda_hat.sampling import sample_llc

    posterior, exact = regular_model()
    est = sample_llc(posterior, resolve_run(SamplerSpec("sghmc", SGHMCParams()), "t", 2000))
    mean, mcse = est.summary["llc_mean"], est.summary["llc_mcse"]
    assert abs(mean - exact) <= 2 * mcse + 0.01 * exact, (mean, mcse, exact)
    assert est.trust["verdict"] == "converged"
    record = est.prepared
    rounds = record["auto"]["pilot"]
    step, friction, batch = record["auto"]["at_w_star"]
    assert (rounds[0]["step_size"], rounds[0]["batch_size"]) == (step, batch)
    chosen = (est.spec.params.step_size, est.spec.params.friction, est.spec.params.batch_size)
    assert chosen == tuple(rounds[-1]["next"])
    assert chosen[2] > 2 * batch  # the residuals, and the noise, grow away from w*
    assert max(rounds[-1]["heating"]) <= underdamped.HEATING * 1.25
    assert friction == chosen[1] == 8.0 and est.spec.thin == record["thin_auto"]["thin"]


def test_a_step_over_its_heating_bound_is_named_by_the_verdict(x32):
    """A large step with small batches at critical friction heats the chains by ~40%:
    the run says ``step-size biased`` and why, and λ̂ is high by about that."""
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.samplers.sghmc import SGHMCParams
    from lambda_hat.sampling import sample_llc

    posterior, exact = regular_model()
    params = SGHMCParams(step_size=0.0284, friction=2.0, batch_size=32)
    est = sample_llc(
        posterior, resolve_run(SamplerSpec("sghmc", params, draws=2000, thin=10), "t", 2000)
    )
    assert est.trust["verdict"] == "step-size biased", est.trust
    assert "(minibatch heating" in est.trust["reasons"][-1]
    assert est.summary["llc_mean"] > exact * 1.1


def test_past_the_largest_automatic_batch_the_friction_rises():
    """n = 100,000 with noise needing ~20,000 rows: the batch stops at MAX_BATCH and the
    friction rises until the heating at the stable step is HEATING again."""
    n, h, sigma2 = 100_000, 1e6, 3e4
    step, friction, batch = underdamped.choose(h, sigma2, n, 1.0)
    assert batch == underdamped.MAX_BATCH and step == pytest.approx(0.25 / 1e3)
    per_row = sigma2 / (1 / 256 - 1 / n)
    heating = step * per_row * (1 / batch - 1 / n) / (2 * friction)
    assert friction > 8.0 and heating == pytest.approx(underdamped.HEATING)


def test_a_written_runs_work_is_known_before_it_runs_only_when_its_thin_is():
    """``--dry-run``: written step, batch and friction give steps and FGEs (thin "auto"
    at that friction's relaxation time); an automatic friction may rise with the noise,
    so with thin "auto" its work is set when it runs."""
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.samplers.registry import sampler
    from lambda_hat.samplers.sghmc import SGHMCParams

    written = SGHMCParams(step_size=1e-3, friction=2.0, batch_size=100)
    spec = resolve_run(SamplerSpec("sghmc", written, draws=200), "t", 1000)
    work = sampler("sghmc").work(spec, 1000)
    assert work.steps == ((100 + 200) * 20,) * 2  # thin 0.02 τ / ε = 20, τ = 1 at ξ = 2√γ
    assert work.fges == (work.steps[0] * 0.1,) * 2
    auto = SGHMCParams(step_size=1e-3, batch_size=100)
    spec = resolve_run(SamplerSpec("sghmc", auto, draws=200), "t", 1000)
    assert sampler("sghmc").work(spec, 1000).steps is None


def test_a_diverging_pilot_round_is_recorded_as_json_and_the_next_starts_lower(x32):
    """The quartic (flat at w*, stiff around it): a full batch at w*'s stable step throws
    the chains out. The round's record says so with null figures, which JSON holds (the
    run's analysis.json is written with ``allow_nan=False``), and the next round starts
    from w* at a tenth of the step."""
    import json

    from tests.numerics.test_step_size import _quartic

    posterior = _quartic(c=1e6)
    n = posterior.n

    def chosen_by(h_max, noise):
        return underdamped.choose(h_max, noise, n, 1.0, None, n)

    start = chosen_by(1.0, 0.0)  # h_max at w* is γ
    _, rounds, _ = sghmc.pilot(posterior, start, chosen_by, 2, 0, 2.0, 2)
    first = rounds[0]
    assert first["diverged"] is True and first["step_size"] == start[0]
    assert first["step_sqrt_h_max"] is first["heating"] is first["distance_from_w_star"] is None
    assert rounds[1]["step_size"] == pytest.approx(start[0] / 10)
    json.dumps(rounds, allow_nan=False)


def _never_settling_pilot():
    """A tiny DLN's SGHMC pilot that never settles (each round halves the step it
    would choose): three rounds, each from the last one's chains, in chunks.
    ``pilot(saved=None)`` runs it (a stop first saves, as the runner has it do)."""
    from tests.numerics.helpers import dln_problem

    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    n = posterior.n

    def chosen_by(h_max, noise):
        step, friction, batch = underdamped.choose(h_max, noise, n, 1.0, None, 16)
        return step / 2, friction, batch

    start = chosen_by(10.0, 1.0)

    def pilot(saved=None, **hear):
        with saved.kept_on_stop() if saved is not None else contextlib.nullcontext():
            return sghmc.pilot(posterior, start, chosen_by, 3, 0, 0.5, 3, saved=saved, **hear)

    return pilot


def _same_pilot(got, want):
    """The same settings, rounds and chains, bit for bit (but each round's pace, this
    machine's clock)."""

    def numbers(rounds):
        return [{k: v for k, v in r.items() if k != "seconds_per_step"} for r in rounds]

    assert got[0] == want[0] and numbers(got[1]) == numbers(want[1])
    np.testing.assert_array_equal(got[2], want[2])


# stopped in round 1, in round 1's end, in rounds 2 and 3
@pytest.mark.parametrize("stop_at", [6, 12, 20, 36])
def test_a_stopped_pilot_resumes_to_the_same_settings(x32, tmp_path, stop_at):
    """Stopped anywhere, the SGHMC pilot's next attempt takes up the finished rounds and
    the running round's chains and ends where a pilot never stopped does; the finished
    pilot is kept, so a stop in sampling does not repeat it."""
    from lambda_hat.store.snapshots import Snapshots, saved_point
    from tests.numerics.test_pilot_resume import StopClock

    pilot = _never_settling_pilot()
    whole = pilot()
    assert len(whole[1]) == 3
    path = tmp_path / "_resume" / "run_sghmc_x.pilot.npz"
    told = []
    first = Snapshots(path, {"run_id": "x"}, told.append, every_sec=0.0, clock=StopClock(stop_at))
    with pytest.raises(KeyboardInterrupt):
        pilot(first)
    where = saved_point(path)["where"]
    assert where["phase"] == "pilot" and not where.get("done") and where["steps_done"] > 0
    _same_pilot(pilot(Snapshots(path, {"run_id": "x"}, told.append, every_sec=0.0)), whole)
    assert told[-1].startswith(f"resuming at step-size pilot round {where['round'] + 1}, step ")
    done = pilot(Snapshots(path, {"run_id": "x"}, told.append, every_sec=0.0))
    assert told[-1].startswith("resuming at the end of the step-size pilot (3 rounds, ε = ")
    _same_pilot(done, whole)


def test_a_pilot_taken_up_at_a_rounds_start_ends_the_same(x32, tmp_path):
    """The point a finished round leaves (the next round's settings, the chains it goes
    on from) resumes to the same settings, rounds and chains."""
    from lambda_hat.store.snapshots import Snapshots, saved_point

    pilot = _never_settling_pilot()
    whole = pilot()
    path = tmp_path / "run_sghmc_x.pilot.npz"
    starts, real = {}, Snapshots.save

    def keep_a_copy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        where = saved_point(path)["where"]
        if not where.get("done") and where["steps_done"] == 0:
            starts.setdefault(where["round"], path.read_bytes())

    Snapshots.save = keep_a_copy
    try:
        pilot(Snapshots(path, {"run_id": "x"}, every_sec=0.0))
    finally:
        Snapshots.save = real
    assert sorted(starts) == [1, 2]
    for blob in starts.values():
        path.write_bytes(blob)
        told = []
        _same_pilot(pilot(Snapshots(path, {"run_id": "x"}, told.append, every_sec=0.0)), whole)
        assert told[0].startswith("resuming at the start of step-size pilot round ")


def test_the_pilot_names_each_round_and_counts_its_steps(x32):
    told, counts = [], []
    _, rounds, _ = _never_settling_pilot()(
        report=told.append, progress=lambda t, n: counts.append((t, n))
    )
    assert told == [
        f"step size: pilot round {i + 1} of at most 3, ε = {r['step_size']:.3g}, "
        f"ξ = {r['friction']:.3g}, batch {r['batch_size']:,}, {r['steps']:,} steps"
        for i, r in enumerate(rounds)
    ]
    ends = [(t, n) for t, n in counts if t == n]
    assert ends == [(r["steps"], r["steps"]) for r in rounds]
    assert counts[0] == (1, rounds[0]["steps"])  # the first chunk is one step
