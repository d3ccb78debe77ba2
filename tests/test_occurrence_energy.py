"""Item 8c: the energy per occurrence as a mixture over copies, its predictor and check."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom

from normtheory import laws
from normtheory.config import SimConfig
from normtheory.data.frequency import zipf_probabilities
from normtheory.occurrence import occurrence_energy, predictor_seed
from normtheory.problems import make_problem
from normtheory.verify import accumulation as A

MIXTURE = laws.get("occurrence_energy_mixture")
SLOPE = laws.get("occurrence_energy_slope")


def _brute_mixture(pi: float, batch: int, e: np.ndarray) -> float:
    """sum over every possible number of other copies m = 0..B-1, e held at e_C beyond C."""
    m = np.arange(batch)
    values = e[np.minimum(m, len(e) - 1)]
    return float(np.sum(binom.pmf(m, batch - 1, pi) * values))


@given(
    batch=st.sampled_from([2, 5, 16, 64]),
    pi=st.floats(1e-4, 0.6),
    e=st.lists(st.floats(0.05, 20.0), min_size=1, max_size=6),
)
def test_mixture_and_slope_match_brute_force(batch, pi, e):
    e = np.asarray(e)
    eps = float(MIXTURE(pi=pi, B=batch, e=e))
    assert eps == pytest.approx(_brute_mixture(pi, batch, e), rel=1e-10)
    # k = d log epsilon / d log pi by a central difference of the brute-force mixture.
    h = 1e-5
    up, down = _brute_mixture(pi * np.exp(h), batch, e), _brute_mixture(pi * np.exp(-h), batch, e)
    numeric = (np.log(up) - np.log(down)) / (2 * h)
    assert float(SLOPE(pi=pi, B=batch, e=e)) == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_slope_closed_cases():
    pi = np.array([0.001, 0.05, 0.3])
    assert np.allclose(SLOPE(pi=pi, B=64, e=np.full(5, 2.0)), 0.0, atol=1e-13)
    # e_c = a + b (c - 1), extended far enough that the clamp never binds (C = B).
    a, b, batch = 1.0, 0.5, 16
    e = a + b * np.arange(batch)
    expected = b * (batch - 1) * pi / (a + b * (batch - 1) * pi)
    assert np.allclose(SLOPE(pi=pi, B=batch, e=e), expected, rtol=1e-12)


def test_law_refuses_bad_arguments_in_one_line():
    e = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="'pi'"):
        SLOPE(pi=1.5, B=8, e=e)
    with pytest.raises(ValueError, match="'e'"):
        SLOPE(pi=0.1, B=8, e=np.array([1.0, -2.0]))
    with pytest.raises(ValueError, match="'B'"):
        MIXTURE(pi=0.1, B=2.5, e=e)


TINY = SimConfig(
    num_items=10, dim=4, batch=8, steps=10, stride=1, tau=0.2, zipf=1.1, dtype="float64"
)


def _oracle_energy(config: SimConfig, copies: int, samples: int, seed: int) -> tuple[float, float]:
    """e_c from the problem's own embedding and loss (normtheory.problems), not the predictor's
    code: c copies of an extra row among Zipf draws, rows from N(0, I / d)."""
    problem = make_problem(config, jnp.float64)
    probs = jnp.asarray(zipf_probabilities(config.num_items, config.zipf))
    hp = {"tau": jnp.asarray(config.tau), "view_noise": jnp.asarray(config.view_noise)}
    d, n = config.dim, config.num_items

    def one(key):
        k_table, k_ids, k_view = jax.random.split(key, 3)
        table = jax.random.normal(k_table, (n + 1, d), jnp.float64) / np.sqrt(d)
        drawn = jax.random.choice(k_ids, n, (config.batch,), p=probs)
        ids = jnp.where(jnp.arange(config.batch) < copies, n, drawn)
        batch = {"ids": ids, "view_key": k_view}

        def loss(row):
            rows = table.at[n].set(row)[ids]
            return problem.loss(problem.rows.embed(rows, batch, hp), batch, hp)

        g = jax.grad(loss)(table[n])
        return jnp.sum(table[n] ** 2) * jnp.sum(g**2) / copies

    draws = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(seed), samples)))
    return float(draws.mean()), float(draws.std() / np.sqrt(samples))


def test_predictor_energies_match_an_independent_oracle():
    out = occurrence_energy(TINY, samples=800)
    for copies in (1, 3):
        mean, se = _oracle_energy(TINY, copies, 800, seed=5)
        combined = np.hypot(se, out["e_se"][copies - 1])
        assert abs(out["e"][copies - 1] - mean) < 4 * combined, (copies, out["e"], mean, se)


def test_predictor_is_deterministic_and_uses_its_own_seed():
    first = occurrence_energy(TINY, samples=64)
    again = occurrence_energy(TINY, samples=64)
    assert np.array_equal(first["e"], again["e"])
    assert first["seed"] == predictor_seed(TINY) != TINY.seed
    other = occurrence_energy(TINY, samples=64, seed=first["seed"] + 1)
    assert not np.array_equal(first["e"], other["e"])
    assert first["epsilon"].shape == first["pi"].shape == (TINY.num_items,)


def test_predictor_refuses_bad_input_in_one_line():
    with pytest.raises(ValueError, match="frequency data on a free table") as info:
        occurrence_energy(SimConfig(data="hierarchy", dim=4, batch=8, steps=10, stride=1))
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="samples"):
        occurrence_energy(TINY, samples=1)
    with pytest.raises(ValueError, match="same draw probability"):
        occurrence_energy(TINY.replace(zipf=0.0))
    with pytest.raises(ValueError, match="same draw probability"):
        occurrence_energy(TINY.replace(num_items=1))


# A regime where copies raise the energy per occurrence strongly (k ~ 0.7): small tau.
STRONG = A.IMPRINT.replace(num_items=40, batch=32, steps=200, stride=20, tau=0.05, dim=16)


def test_check_holds_with_the_law_and_fails_with_wrong_laws():
    (right,) = A.occurrence_energy_slope(STRONG)
    assert right.verdict == "holds", right
    assert right.measured > 1.4  # the regime is one where k is far from 0
    assert right.calibration["seeds"] == [] and right.calibration["regime"] is None
    pred = A.occurrence_prediction(STRONG)
    # Copies ignored: e_c = e_1 for every c, so k = 0 and the imprint slope is 1.
    ignored = {**pred, "e": np.full_like(pred["e"], pred["e"][0])}
    (wrong,) = A.occurrence_energy_slope(STRONG, prediction=ignored)
    assert wrong.verdict == "fails" and wrong.predicted == pytest.approx(1.0)
    # Copies diluting instead of raising the energy: e_c reversed.
    diluting = {**pred, "e": pred["e"][0] ** 2 / pred["e"]}
    (wrong,) = A.occurrence_energy_slope(STRONG, prediction=diluting)
    assert wrong.verdict == "fails" and wrong.predicted < 1


def test_check_refuses_other_data():
    (row,) = A.occurrence_energy_slope(STRONG.replace(optimizer="adam"))
    assert row.verdict == "not applicable"
