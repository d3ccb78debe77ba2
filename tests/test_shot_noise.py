"""Item 9c: the shot-noise chain behind the sparse SGD + L2 equilibrium."""

import numpy as np
import pytest

from normtheory import laws
from normtheory.laws.weight_decay import shot_noise_moments
from normtheory.verify.equilibria import shot_noise_domain


def test_dense_constant_kicks_reach_the_item_9_fixed_point():
    # p = 1 and one energy: the chain is the deterministic map of item 9, whose fixed
    # point is N*^4 = eta G^2 / (lam (2 - eta lam)); the law needs w = 1 / N*^4 there.
    eta, lam, g2 = 0.5, 0.01, np.array([2.0, 0.3])
    out = shot_noise_moments(
        g2[:, None], np.array([1, 1]), np.array([1.0, 1.0]), eta, lam, steps=5_000, burn_in=5_000
    )
    exact = eta * g2 / (lam * (2 - eta * lam))
    np.testing.assert_allclose(out["n4"], exact, rtol=1e-9)
    np.testing.assert_allclose(out["inv_n4"], 1 / exact, rtol=1e-9)
    law = laws.get("sparse_decay_shot_noise")
    value = law(eta=eta, lam=lam, p=1.0, m1=g2, m2=g2**2, w=1 / exact)
    np.testing.assert_allclose(np.asarray(value), exact, rtol=1e-9)


def test_the_stationarity_identity_holds_on_the_chain_with_heavy_tailed_kicks():
    # The law is the chain's exact stationary identity: fed the chain's own E[1/N^4] and
    # the kicks' moments, it must return the chain's E[N^4] to Monte Carlo error, here
    # for rare items with energies spread over two decades.
    rng = np.random.default_rng(3)
    energies = rng.lognormal(0.0, 1.2, size=(4, 400))
    counts = np.full(4, 400)
    rate = np.array([0.05, 0.1, 0.3, 0.8])
    eta, lam = 0.5, 0.01
    out = shot_noise_moments(energies, counts, rate, eta, lam, seed=1)
    law = laws.get("sparse_decay_shot_noise")
    value = np.asarray(
        law(eta=eta, lam=lam, p=rate, m1=energies.mean(1), m2=(energies**2).mean(1),
            w=out["inv_n4"])
    )  # fmt: skip
    assert np.all(np.abs(value / out["n4"] - 1) <= 5 * out["n4_sem"] + 0.01)
    # ... and the 9b closure (w = 1 / E[N^4], E[G^4] = E[G^2]^2) misses the rarest item.
    closed = np.asarray(
        laws.get("sparse_decay_equilibrium_quartic")(eta=eta, lam=lam, G2=energies.mean(1), p=rate)
    )
    assert out["n4"][0] / closed[0] > 1.1


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="energies must be"):
        shot_noise_moments(np.ones(3), np.ones(3, int), np.ones(3), 0.5, 0.01)
    with pytest.raises(ValueError, match="between 1 and K"):
        shot_noise_moments(np.ones((2, 3)), np.array([0, 3]), np.ones(2), 0.5, 0.01)


def test_domain_is_where_the_stationary_fourth_moment_is_finite():
    # kappa ~= p / (2 eta lam): 2 at p = 4 eta lam.
    kappa = shot_noise_domain(np.array([0.001, 0.02, 0.5]), 0.005)
    assert kappa[0] < 2 < kappa[1] and kappa[1] == pytest.approx(0.02 / 0.01, rel=0.02)
