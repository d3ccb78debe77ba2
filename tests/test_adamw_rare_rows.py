"""Item 11b: AdamW's equilibrium of a row drawn with probability p per step.

The law's twin against an independent oracle (optax's Adam moments on a stream of
Bernoulli draws), its limits, its bad input, and the verify check: it holds at a tiny
rare-row regime and fails there with item 11's flat law in its place; its calibration
never shares a seed with the judged run.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from normtheory import laws
from normtheory.regimes import ADAMW
from normtheory.verify import run_checks
from normtheory.verify._common import Calibration
from normtheory.verify.equilibria import JUDGED_SEEDS, rare_row_energies

LAW = "adamw_rare_row_equilibrium"
# A free table with a short second-moment memory (1 / (1 - b2) = 100 steps): most rows are
# drawn less often than once per memory, where the flat law of item 11 is far off.
RARE = ["num_items=40", "dim=4", "batch=8", "steps=800", "lr=0.05", "b2=0.99", "zipf=1.0"]


def _ratio(p, b1, b2, shape):
    """R(p): the law's N*^2 over item 11's."""
    law = laws.get(LAW)
    n11 = float(laws.get("adamw_equilibrium")(eta=0.01, lam=0.1, C=1, b1=b1))
    return np.asarray(law(eta=0.01, lam=0.1, C=1, b1=b1, b2=b2, p=p, shape=shape)) / n11


def _oracle(p, b1, b2, shape, chains=2000, burn=600, steps=3000, seed=0):
    """Var(sum of Adam's steps) per step, by optax.scale_by_adam on Bernoulli draws."""
    adam = optax.scale_by_adam(b1=b1, b2=b2, eps=0.0)
    key = jax.random.key(seed)
    scales = jnp.asarray(shape)

    def chain(key):
        def step(carry, inputs):
            state, total = carry
            key, counted = inputs
            k1, k2, k3 = jax.random.split(key, 3)
            drawn = jax.random.uniform(k1) < p
            s = scales[jax.random.randint(k2, (), 0, scales.size)]
            g = jnp.where(drawn, jnp.sqrt(s) * jax.random.normal(k3, dtype=scales.dtype), 0.0)
            u, state = adam.update(g[None], state)
            u = jnp.where(jnp.isfinite(u[0]), u[0], 0.0)  # before the first draw: 0 / 0
            return (state, total + counted * u), None

        init = (adam.init(jnp.zeros(1, scales.dtype)), jnp.zeros((), scales.dtype))
        counted = jnp.asarray(np.arange(burn + steps) >= burn, scales.dtype)
        (_, total), _ = jax.lax.scan(step, init, (jax.random.split(key, burn + steps), counted))
        return total

    with jax.numpy_dtype_promotion("standard"):  # optax's bias correction: float ** int32
        totals = jax.jit(jax.vmap(chain))(jax.random.split(key, chains))
    var = np.asarray(totals**2)
    return var.mean() / steps, var.std() / np.sqrt(chains) / steps


@pytest.mark.parametrize("p", [0.01, 0.3])  # a rare row, and one near item 11
def test_ratio_matches_adam_moments_on_bernoulli_draws(p):
    shape = np.random.default_rng(1).exponential(size=64)  # draws of unequal energy
    predicted = float(_ratio(p, 0.8, 0.95, shape))
    measured, se = _oracle(p, 0.8, 0.95, shape)
    # Mean-field momentum tail and finite chains: 6% plus three standard errors.
    assert abs(measured / predicted - 1) < 0.06 + 3 * se / predicted


def test_limits_rare_rows_move_less_and_frequent_rows_recover_item_11():
    b1, b2 = 0.9, 0.999
    c0 = (1 - b1) / (1 - b1 / np.sqrt(b2))
    rare = _ratio(np.array([1e-6, 1.0]), b1, b2, np.ones(1))
    assert rare[0] == pytest.approx(1e-6 * c0**2 / (1 - b2), rel=5e-3)
    assert abs(rare[1] - 1) < 2 * (1 - b2)
    # Unequal draw energies lower R between the limits (Jensen on g^2 / v), not at them.
    skewed = np.random.default_rng(0).exponential(size=128) ** 2
    mid = _ratio(np.array([3e-3, 3e-2]), b1, b2, np.ones(1))
    assert np.all(_ratio(np.array([3e-3, 3e-2]), b1, b2, skewed) < 0.95 * mid)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"b1": 0.99, "b2": 0.9}, "below sqrt"), ({"p": 1.5}, "'p'"), ({"b2": 1.0}, "'b2'")],
)
def test_bad_arguments_give_one_line_errors(changes, message):
    args = dict(eta=0.01, lam=0.1, C=4, b1=0.9, b2=0.99, p=0.1, shape=np.ones(1)) | changes
    with pytest.raises(ValueError, match=message) as error:
        laws.get(LAW)(**args)
    assert "\n" not in str(error.value)


def test_rare_rows_hold_and_item_11s_flat_law_fails_in_its_place(monkeypatch):
    (rare,), crashes = run_checks(["adamw_rare_rows"], RARE)
    assert not crashes
    assert rare.verdict == "holds", rare.note
    assert set(rare.calibration["seeds"]).isdisjoint({ADAMW.seed, ADAMW.seed + 1})

    real = laws.get

    class Flat:
        """Item 11's law: N*^2 the same for every p."""

        def __call__(self, eta, lam, C, b1, b2, p, shape):
            flat = real("adamw_equilibrium")(eta=eta, lam=lam, C=C, b1=b1)
            return np.full(np.shape(p), float(flat))

    monkeypatch.setattr(laws, "get", lambda name: Flat() if name == LAW else real(name))
    (flat,), _ = run_checks(["adamw_rare_rows"], RARE)
    assert flat.verdict == "fails", flat.note
    assert flat.fraction_holding < rare.fraction_holding - 0.3


def test_calibration_sharing_a_judged_seed_is_refused():
    config = ADAMW.replace(num_items=20, dim=4, batch=8, steps=100)
    own = Calibration(config.replace(seed=config.seed + 1), JUDGED_SEEDS, "energies")
    with pytest.raises(ValueError, match="judged run"):
        rare_row_energies(config, own)
