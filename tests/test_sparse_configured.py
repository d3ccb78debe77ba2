"""Item 9d: the per-update energy model of a sparse row, and the check built on it."""

import numpy as np
import pytest
from scipy import stats

from normtheory import laws
from normtheory.regimes import SGD_L2
from normtheory.sparse_energy import (
    EnergyModel,
    fit_energy_model,
    fit_scale,
    slot_probability,
    sparse_energy_model,
    with_exponents,
)
from normtheory.verify import equilibria
from normtheory.verify._common import Calibration, calibration_run, half_stats, simulate_cached

SHAPE = np.quantile(stats.lognorm(1.0).rvs(200_000, random_state=0), (np.arange(512) + 0.5) / 512)
SHAPE = SHAPE / SHAPE.mean()
PLANTED = EnergyModel(2e-3, -0.3, 0.5, SHAPE, 0.0, 0, eta_lam=0.01, batch=16)


def _batch_draws(pi_all, batch, steps, rng):
    """Copies of each item in `steps` batches of `batch` slots drawn i.i.d. (T, V)."""
    ids = rng.choice(len(pi_all), size=(steps, batch), p=pi_all)
    copies = np.zeros((steps, len(pi_all)), int)
    np.add.at(copies, (np.arange(steps)[:, None], ids), 1)
    return copies


def _brute_energies(model, pi, copies, rng):
    """The model's G^2 for every (step, item) with copies: each copy's energy drawn apart."""
    total = np.zeros(copies.shape)
    for c in range(1, copies.max() + 1):
        draw = model.shape[rng.integers(0, model.shape.size, copies.shape)]
        total += np.where(copies >= c, draw, 0.0)
    return model.e0 * pi**model.beta * (1 + model.rho * (copies - 1)) * total


def _padded(per_item):
    counts = np.array([len(e) for e in per_item])
    energies = np.zeros((len(per_item), counts.max()))
    for i, e in enumerate(per_item):
        energies[i, : len(e)] = e
    return energies, counts


def test_sampler_matches_explicit_batch_draws_and_the_laws_moments():
    rng = np.random.default_rng(1)
    # Three tracked items and the rest of the mass in one filler item.
    pi = np.array([0.003, 0.03, 0.15])
    copies = _batch_draws(np.append(pi, 1 - pi.sum()), 16, 40_000, rng)[:, :3]
    rate = 1 - (1 - pi) ** 16
    out = sparse_energy_model(PLANTED, rate, 16, 0.01, samples=20_000, seed=2)
    np.testing.assert_allclose(slot_probability(rate, 16), pi, rtol=1e-12)
    brute = _brute_energies(PLANTED, pi, copies, rng)
    args = {"e0": PLANTED.e0, "beta": PLANTED.beta, "rho": PLANTED.rho, "B": 16, "pi": pi}
    mean = np.asarray(laws.get("sparse_update_energy")(**args))
    k = float(np.mean(SHAPE**2))
    square = np.asarray(laws.get("sparse_update_energy_square")(k=k, **args))
    for i in range(3):
        drawn = copies[:, i] > 0
        # The copies given an update: same distribution as explicit batches.
        assert stats.ks_2samp(out["copies"][i], copies[drawn, i]).pvalue > 1e-3
        assert stats.ks_2samp(out["energies"][i], brute[drawn, i]).pvalue > 1e-3
        e = out["energies"][i]
        assert abs(e.mean() / mean[i] - 1) <= 4 * e.std() / np.sqrt(e.size) / mean[i]
        assert abs((e**2).mean() / square[i] - 1) <= 4 * (e**2).std() / np.sqrt(e.size) / square[i]
    # One copy per update at the rarest item; several at the most frequent.
    assert out["copies"][0].mean() < 1.05 < 2 < out["copies"][2].mean()


def _planted_calibration(model, batch, steps, seed):
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, 101.0)
    pi = ranks**-1.1 / np.sum(ranks**-1.1)
    copies = _batch_draws(pi, batch, steps, rng)
    energies = _brute_energies(model, pi, copies, rng)
    per_item = [energies[copies[:, i] > 0, i] for i in range(len(pi))]
    return (*_padded(per_item), 1 - (1 - pi) ** batch)


def test_fit_recovers_a_planted_model_and_its_exponents():
    planted = PLANTED._replace(batch=32, gamma=0.3, delta=-1.5)
    energies, counts, rate = _planted_calibration(planted, 32, 3000, seed=4)
    fitted = fit_energy_model(energies, counts, rate, 32, eta_lam=0.01)
    assert fitted.beta == pytest.approx(-0.3, abs=0.08)
    assert fitted.rho == pytest.approx(0.5, abs=0.15)
    assert fitted.e0 == pytest.approx(planted.e0, rel=0.25)
    assert np.mean(fitted.shape**2) == pytest.approx(np.mean(SHAPE**2), rel=0.2)
    assert fitted.scatter < 0.05  # no item-to-item scatter was planted
    # Exponents from the scale at another eta lam and another batch.
    at_decay = planted._replace(e0=planted.scale(0.04, 32))
    at_batch = planted._replace(e0=planted.scale(0.01, 64))
    e_decay = fit_scale(fitted, *_planted_calibration(at_decay, 32, 3000, seed=5), 32)
    e_batch = fit_scale(fitted, *_planted_calibration(at_batch, 64, 3000, seed=6), 64)
    full = with_exponents(fitted, (0.04, e_decay), (64, e_batch))
    assert full.gamma == pytest.approx(0.3, abs=0.15)
    assert full.delta == pytest.approx(-1.5, abs=0.25)


def test_bad_input_is_refused_in_one_line():
    bad = [
        lambda: fit_energy_model(np.ones(3), np.ones(3, int), np.ones(3), 16, 0.01),
        lambda: fit_energy_model(np.ones((3, 4)), np.ones(3, int), np.full(3, 1.5), 16, 0.01),
        lambda: fit_energy_model(np.ones((3, 4)), np.ones(3, int), np.full(3, 0.5), 0, 0.01),
        lambda: fit_energy_model(np.ones((3, 40)), np.full(3, 40), np.full(3, 0.9), 16, 0.01),
        lambda: sparse_energy_model(PLANTED, np.array([0.0, 0.5]), 16, 0.01),
        lambda: sparse_energy_model(PLANTED, np.array([0.5]), 16, 3.0),
        lambda: laws.get("sparse_update_energy")(e0=1.0, beta=0.0, rho=2.0, B=16, pi=0.1),
    ]
    for call in bad:
        with pytest.raises(ValueError) as error:
            call()
        assert "\n" not in str(error.value)


# A small fast regime: the judged run and a calibration at another Zipf exponent with
# the same batch and eta lam (so the exponents of the scale play no part).
JUDGED = SGD_L2.replace(num_items=100, batch=32, steps=1500)


@pytest.fixture(scope="module")
def small_regime():
    traj = simulate_cached(JUDGED, seeds=equilibria.JUDGED_SEEDS)
    n4 = half_stats(JUDGED, traj.norm**4)
    cal = calibration_run(JUDGED.replace(zipf=1.3), 2, 2, "G^2 per update (a test)")
    kicks = equilibria.kick_energies(cal.config, cal.seeds)
    rate = equilibria._calibration_rates(cal.config)
    model = fit_energy_model(kicks["energies"], kicks["counts"], rate, 32, JUDGED.eta_lam)
    return traj, n4, cal, model


def test_the_fitted_model_holds_and_wrong_models_fail(small_regime):
    traj, n4, cal, model = small_regime
    right = equilibria._configured(JUDGED, traj, n4, (cal,), model)
    assert right.verdict in ("holds", "partial"), right
    assert right.rel_error <= right.tolerance
    assert right.calibration["seeds"] == cal.seed_list()
    wrong = {
        "no spread (one energy per copy)": model._replace(shape=np.ones(4)),
        "one copy's energy rising as pi^0.5 more": model._replace(beta=model.beta + 0.5),
        "the scale three times too large": model._replace(e0=3 * model.e0),
    }
    results = {
        what: equilibria._configured(JUDGED, traj, n4, (cal,), bad) for what, bad in wrong.items()
    }
    for what, result in results.items():
        assert result.verdict == "fails", (what, result)
    # The scale leaves the slope alone: only the per-item rule catches it.
    scaled = results["the scale three times too large"]
    assert scaled.rel_error <= scaled.tolerance and scaled.fraction_holding < 0.5
    # Without the spread the slope itself misses (item 9b's failure).
    flat = results["no spread (one energy per copy)"]
    assert flat.rel_error > flat.tolerance and flat.predicted > right.predicted


def test_the_judged_run_is_refused_as_calibration(small_regime):
    traj, n4, _, model = small_regime
    own = Calibration(JUDGED, 2, "the judged run itself")
    with pytest.raises(ValueError, match="judged run"):
        equilibria._configured(JUDGED, traj, n4, (own,), model)
