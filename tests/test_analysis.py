"""normtheory.analysis against independent computations (scipy.stats, numpy sums) on
trajectories whose answer is known by construction, and on tiny real runs."""

from __future__ import annotations

import dataclasses
import re

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
import pytest
from scipy import stats

from normtheory import analysis, losses
from normtheory.config import ConfigError, SimConfig
from normtheory.engine import SPLIT_FIELDS, Trajectory, simulate
from normtheory.tracer import Model, trace

matplotlib.use("Agg")

P = np.geomspace(0.002, 0.4, 12)  # per-item probabilities


def _traj(norm, norm0, info=None, rate=None, terms=None, g2=None) -> Trajectory:
    """A Trajectory built by hand: norm (S, W, I), norm0 (S, I); terms default to a
    budget whose heat is the whole change of N^2."""
    norm, norm0 = np.asarray(norm, float), np.asarray(norm0, float)
    s, w, i = norm.shape
    n2 = np.concatenate([norm0[:, None] ** 2, norm**2], axis=1)
    if terms is None:
        terms = {"heat": np.diff(n2, axis=1)}
    zero = np.zeros((s, w, i))
    full = {k: terms.get(k, zero) for k in ("decay", "drift", "heat", "remainder")}
    return Trajectory(
        config=None,
        grid={},
        step=np.arange(1, w + 1) * 10,
        items=np.arange(i),
        rate=np.full(i, np.nan) if rate is None else rate,
        info=dict(info or {}),
        norm0=norm0,
        norm=norm,
        g2=zero if g2 is None else g2,
        **full,
        **{k: np.full((s, w, i), np.nan) for k in SPLIT_FIELDS},
        loss=np.zeros((s, w)),
        alignment=np.zeros((s, w)),
        uniformity=np.zeros((s, w)),
    )


def _power_law(exponent: float, noise: float, seeds: int = 3) -> Trajectory:
    rng = np.random.default_rng(0)
    final = 1.7 * P**exponent * np.exp(noise * rng.normal(size=(seeds, P.size)))
    norm = np.stack([np.ones((seeds, P.size)), final], axis=1)  # (S, 2, I)
    return _traj(norm, np.ones((seeds, P.size)), info={"probability": P})


def test_an_exact_power_law_gives_its_exponent_and_a_collapsed_interval():
    result = analysis.imprint_slope(_power_law(0.25, 0.0), "probability")
    assert result.slope == pytest.approx(0.25, abs=1e-12)
    assert result.interval == pytest.approx((0.25, 0.25), abs=1e-12)
    np.testing.assert_allclose(result.per_seed, 0.25, atol=1e-12)
    assert result.spearman == pytest.approx(1.0)


def test_slope_interval_and_spearman_match_scipy():
    traj = _power_law(0.25, 0.3)
    result = analysis.imprint_slope(traj, "probability", n_boot=400, seed=3)
    x, y = np.log(P), np.log(traj.norm[:, -1, :])
    assert result.slope == pytest.approx(stats.linregress(x, y.mean(0)).slope, rel=1e-12)
    # Pooling every seed's points gives the same slope (one x per item).
    pooled = stats.linregress(np.tile(x, 3), y.ravel()).slope
    assert result.slope == pytest.approx(pooled, rel=1e-10)
    np.testing.assert_allclose(result.per_seed, [stats.linregress(x, r).slope for r in y])
    assert result.spearman == pytest.approx(stats.spearmanr(x, y.mean(0)).statistic)
    boot = stats.bootstrap(
        (np.arange(P.size),),
        lambda i: stats.linregress(x[i], y[:, i].mean(0)).slope,
        vectorized=False,
        method="percentile",
        n_resamples=400,
        rng=np.random.default_rng(3),
    ).confidence_interval
    assert result.interval == pytest.approx((boot.low, boot.high), rel=1e-10)
    t = stats.t.interval(0.95, 2, loc=result.per_seed.mean(), scale=stats.sem(result.per_seed))
    assert result.seed_interval == pytest.approx(t, rel=1e-10)
    assert abs(result.slope - 0.25) < result.interval[1] - result.interval[0]


def test_a_different_law_is_told_apart():
    # Norms planted as p^0.5: the 95% interval excludes item 9's 1/4.
    result = analysis.imprint_slope(_power_law(0.5, 0.05), "probability")
    assert not result.interval[0] <= 0.25 <= result.interval[1]
    assert result.slope == pytest.approx(0.5, abs=0.03)


def test_quartic_excess_is_item_8b_quantity():
    norm0 = np.full((2, P.size), 0.5)
    final = (norm0**4 + 3.0 * P) ** 0.25  # N^4 - N_0^4 = 3 p: slope 1
    traj = _traj(final[:, None, :], norm0, info={"probability": P})
    assert analysis.imprint_slope(traj, "probability", quantity="quartic_excess").slope == (
        pytest.approx(1.0, abs=1e-10)
    )
    # Only once N_0 is negligible does log N follow with slope 1/4: here it does not.
    assert analysis.imprint_slope(traj, "probability").slope < 0.2
    shrunk = _traj(np.full((2, 1, P.size), 0.4), norm0, info={"probability": P})
    with pytest.raises(ConfigError, match="quantity='norm'"):
        analysis.imprint_slope(shrunk, "probability", quantity="quartic_excess")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: analysis.imprint_slope(t, "depth"), "no item column 'depth'"),
        (lambda t: analysis.imprint_slope(t, "rate"), "non-finite"),
        (lambda t: analysis.imprint_slope(t, "zero"), "values <= 0"),
        (lambda t: analysis.imprint_slope(t, "same"), "is constant"),
        (lambda t: analysis.imprint_slope(t, "probability", quantity="n4"), "quantity="),
        (lambda t: analysis.imprint_slope(t, "probability", window=5), "window=5"),
        (lambda t: analysis.imprint_slope(t, "probability", level=95), "level=95"),
        (lambda t: analysis.imprint_slope("traj", "probability"), "expected a normtheory"),
        (lambda t: analysis.plot_norms(t, color_by="zero"), "values <= 0"),
    ],
)
def test_bad_input_is_one_line(call, message):
    traj = _power_law(0.25, 0.1)
    traj = dataclasses.replace(
        traj, info={**traj.info, "zero": np.zeros(P.size), "same": np.ones(P.size)}
    )
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        call(traj)
    assert "\n" not in str(info.value)


def _budget_traj(seed: int = 0) -> tuple[Trajectory, dict]:
    rng = np.random.default_rng(seed)
    shape = (2, 5, 6)
    terms = {
        "decay": -rng.uniform(0.0, 0.2, shape),
        "drift": rng.normal(0.0, 0.1, shape),
        "heat": rng.uniform(0.1, 0.3, shape),
        "remainder": rng.normal(0.0, 0.01, shape),
    }
    norm0 = rng.uniform(1.0, 2.0, (2, 6))
    n2 = norm0[:, None] ** 2 + np.cumsum(sum(terms.values()), axis=1)
    return _traj(np.sqrt(n2), norm0, terms=terms), terms


def test_budget_shares_are_the_sums_by_hand():
    traj, terms = _budget_traj()
    shares = analysis.budget_shares(traj)
    net = (traj.norm[:, -1] ** 2 - traj.norm0**2).sum(axis=0)
    for name, values in terms.items():
        np.testing.assert_allclose(shares.shares[name], values.sum(axis=(0, 1)) / net)
        assert shares.pooled[name] == pytest.approx(values.sum() / net.sum())
    np.testing.assert_allclose(sum(shares.shares.values()), 1.0, rtol=1e-12)
    size = np.abs(terms["remainder"]).sum() / sum(np.abs(v).sum() for v in terms.values())
    assert shares.pooled_remainder_size == pytest.approx(size)
    assert shares.closure < 1e-14
    assert "remainder size" in str(shares)


def test_a_budget_that_does_not_close_shows_it():
    traj, _ = _budget_traj()
    broken = dataclasses.replace(traj, heat=traj.heat * 1.1)  # planted: heat 10% off
    assert analysis.budget_shares(broken).closure > 1e-3
    nan = dataclasses.replace(traj, drift=np.full_like(traj.drift, np.nan))
    with pytest.raises(ConfigError, match=r"traj\.drift is not finite"):
        analysis.budget_shares(nan)


def test_plots_return_axes_with_one_line_per_item_and_term():
    traj, _ = _budget_traj()
    traj = dataclasses.replace(traj, info={"probability": np.geomspace(0.01, 0.5, 6)})
    ax = analysis.plot_norms(traj, color_by="probability")
    assert len(ax.lines) == 6
    np.testing.assert_allclose(ax.lines[2].get_ydata()[1:], traj.norm[:, :, 2].mean(axis=0))
    ax = analysis.plot_budget(traj)
    drawn = {line.get_label(): line.get_ydata() for line in ax.lines}
    net = drawn["net $N^2 - N_0^2$"]
    np.testing.assert_allclose(
        sum(drawn[k] for k in ("decay", "drift", "heat", "remainder")), net, atol=1e-12
    )


def test_grid_point_selects_one_run():
    config = SimConfig(num_items=12, dim=4, batch=8, steps=20, stride=10, dtype="float64")
    traj = simulate(config, seeds=2, grid={"lr": [0.05, 0.1]}, progress=False)
    with pytest.raises(ConfigError, match="grid_point"):
        analysis.budget_shares(traj)
    one = analysis.grid_point(traj, 1)
    assert one.config.lr == 0.1 and one.norm.shape == (2, 2, 12)
    np.testing.assert_array_equal(one.norm, traj.norm[1])
    assert analysis.compare_law(one).verdict == "holds"


def _table_model(n: int = 10, batch: int = 6) -> Model:
    """A free table: item i's embedding is row i, moved only by its own gradient."""

    def sample(key):
        k1, k2 = jax.random.split(key)
        return {"ids": jax.random.choice(k1, n, (batch,), replace=False), "key": k2}

    def embed(p, b):
        z = p["table"][b["ids"]]
        u = jax.lax.stop_gradient(z / jnp.linalg.norm(z, axis=-1, keepdims=True))
        views = u + 0.2 * jax.random.normal(b["key"], u.shape)
        return jnp.concatenate([z, jax.lax.stop_gradient(views)])

    return Model(
        init=lambda key: {"table": jax.random.normal(key, (n, 4))},
        sample=sample,
        embed=embed,
        loss=lambda z, b: losses.symmetric_infonce(z[:batch], z[batch:], 0.2),
        probe=lambda p: p["table"],
        own_rows=lambda b: jnp.concatenate([b["ids"], jnp.full(batch, -1)]),
    )


def test_item_6_holds_for_a_traced_free_table_under_sgd_and_a_wrong_lr_fails():
    traj = trace(_table_model(), optax.sgd(0.3), steps=60, stride=10, progress=False)
    result = analysis.compare_law(traj, lr=0.3)
    assert result.verdict == "holds" and result.within == 1.0
    # Independent: N_T^4 - N_0^4 against 2 eta^2 sum G^2, by hand.
    law = traj.norm0**4 + 2 * 0.3**2 * traj.g2.sum(axis=1)
    np.testing.assert_allclose(result.predicted, law)
    assert analysis.compare_law(traj, lr=0.36).verdict == "fails"
    with pytest.raises(ConfigError, match="pass lr="):
        analysis.compare_law(traj)


def test_item_6_is_refused_outside_its_regime():
    momentum = trace(
        _table_model(), optax.sgd(0.3, momentum=0.9), steps=20, stride=10, progress=False
    )
    with pytest.raises(ConfigError, match=r"\|drift\| is .* of the heat") as info:
        analysis.compare_law(momentum, lr=0.3)
    assert "\n" not in str(info.value)
    config = SimConfig(
        num_items=12, dim=4, batch=8, steps=20, stride=10, optimizer="adamw", weight_decay=0.01
    )
    with pytest.raises(ConfigError, match="needs plain SGD without decay"):
        analysis.compare_law(dataclasses.replace(momentum, config=config))
