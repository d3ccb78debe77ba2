"""AdamW equilibrium of a row drawn with probability p per step (THEORY.md item 11b).

Item 11's random walk assumes a unit-variance Adam direction every step. A free-table
row drawn in a fraction p of the steps sees, between draws, its first moment m decay by
b1 and its second moment v by b2 per step; it keeps moving on m for about 1 / (1 - b1)
steps after each draw. Per coordinate, with the draws' gradients independent and of
random sign, the displacements of different draws are uncorrelated, so the row diffuses
at R(p) times item 11's rate and

    N*^2(p) = N*^2_11(eta, lam, C, b1) R(p),
    R(p) = p c_p^2 / (1 - b2) E[g_0^2 / v_0],

with v_0 the second moment just after a draw (in units of the mean squared gradient per
draw) and c_p the momentum tail: the first moment's steps (1 - b1) b1^k / sqrt(v_k) summed
over the steps after a draw, with v_k = b2^k v_0 while no new draw came (probability
(1 - p)^k) and v_k = v_0 otherwise,

    c_p = 1 + (1 - b1) [1 / (1 - b1 (1 - p) / sqrt(b2)) - 1 / (1 - b1 (1 - p))].

E[g_0^2 / v_0] follows from 1 / v = int_0^oo exp(-s v) ds: v_0 = (1 - b2) sum_k b2^k x_k
over the past steps, with x_k = 0 (no draw, probability 1 - p) or a draw's squared
coordinate g^2 = sigma^2 s xi^2 (xi standard normal: a random direction; s the draw's
energy over its mean), independent across steps, so the Laplace transform factorises:

    E[g_0^2 / v_0] = 1 / (2 (1 - b2)) int_0^oo F(y) prod_{k>=1} (1 - p + p L(y b2^k)) dy,
    L(x) = E_s[(1 + x s)^(-1/2)],  F(y) = E_s[s (1 + y s)^(-3/2)].

The gradient scale sigma cancels; only the shape of the per-draw energy distribution
(samples of s, mean 1) enters. With s = 1 (every draw the same energy) the law uses the
configuration alone. Limits: p -> 0 gives R = p c_0^2 / (1 - b2) (rows drawn less often
than once per 1 / (1 - b2) steps move less than the random walk); p (1 - b2)^-1 >> 1
gives R -> 1 + O(1 - b2), item 11. Neglected: eps against sqrt(v), Adam's bias correction
(b2^t), new draws inside the momentum tail beyond the mean-field c_p, the O(eta lam)
corrections of the displacement's decay, and correlations between the directions of
successive draws.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws._law import MOMENTUM, RATE, Bound, Check, Law, Relation
from normtheory.laws.adamw import REFERENCE as ADAMW_REFERENCE
from normtheory.laws.adamw import _fixed_point, n

b2 = sp.Symbol("b2", positive=True)  # Adam second-moment decay
y = sp.Symbol("y", nonnegative=True)  # Laplace variable, in units of 2 (1 - b2) sigma^2
k = sp.Symbol("k", integer=True, nonnegative=True)  # steps since a draw
j = sp.Symbol("j", integer=True, positive=True)  # index of an energy sample
M = sp.Symbol("M", integer=True, positive=True)  # number of energy samples
e = sp.Symbol("e", positive=True)  # 1 - b2, the small parameter of the frequent limit
s_j = sp.IndexedBase("s")  # per-draw energy over its mean, samples

# The grid of u = log y: the product over k is a running sum on a grid of spacing
# log(1 / b2), from y = exp(U_LOW) (below it log L is linear in y and summed in closed
# form) to exp(U_HIGH) (the integrand's tail above it is below 1e-6 of the integral).
U_LOW, U_HIGH = -23.0, 32.0
MAX_GRID = 2_000_000
QUANTILES = 128  # energy samples kept (mid-quantiles) when more are given

REFERENCE = (
    f"{ADAMW_REFERENCE} The per-coordinate moment dynamics are Kingma and Ba, 'Adam: A "
    "Method for Stochastic Optimization', ICLR 2015; THEORY.md item 11b."
)


@functools.cache
def momentum_tail() -> sp.Expr:
    """c_p: the first moment's steps after a draw, summed, times sqrt(v_0) (closed form)."""
    q = s.b1 * (1 - s.p)
    decayed = (1 - s.b1) / (1 - q / sp.sqrt(b2))
    refilled = 1 - (1 - s.b1) / (1 - q)
    return decayed + refilled


def _geometric(ratio: sp.Expr) -> sp.Expr:
    """sum_{k>=0} ratio^k in its convergent branch (|ratio| < 1)."""
    total = sp.Sum(ratio**k, (k, 0, sp.oo)).doit()
    return total.args[0][0] if isinstance(total, sp.Piecewise) else total


def _momentum_sum() -> sp.Expr:
    """The geometric sums c_p is the closed form of (convergent for b1 < sqrt(b2)):
    (1 - b1) sum_k b1^k [(1 - p)^k b2^(-k/2) + 1 - (1 - p)^k]."""
    q = s.b1 * (1 - s.p)
    return (1 - s.b1) * (_geometric(q / sp.sqrt(b2)) + _geometric(s.b1) - _geometric(q))


def _mixture(expr_of_s) -> sp.Expr:
    return sp.Sum(expr_of_s(s_j[j]), (j, 1, M)) / M


@functools.cache
def rare_row_ratio() -> sp.Expr:
    """R(p): the row's diffusion rate over item 11's, as the Laplace integral."""
    laplace = _mixture(lambda x: (1 + y * b2**k * x) ** sp.Rational(-1, 2))
    front = _mixture(lambda x: x * (1 + y * x) ** sp.Rational(-3, 2))
    product = sp.Product(1 - s.p + s.p * laplace, (k, 1, sp.oo))
    integral = sp.Integral(front * product, (y, 0, sp.oo)) / 2
    return s.p * momentum_tail() ** 2 / (1 - b2) * integral


def _checks() -> tuple[Check, ...]:
    c_p = momentum_tail()
    # Rare limit: with no other draw in the memory of v the product is 1 and, for one
    # energy, int_0^oo (1 + y)^(-3/2) dy / 2 = 1.
    rare = sp.integrate((1 + y) ** sp.Rational(-3, 2), (y, 0, sp.oo)) / 2
    # Frequent limit: log prod ~= -p y sum_{k>=1} b2^k / 2 = -a y for the y that matter
    # (y ~ (1 - b2) / p), F ~= 1, so R ~= c_p^2 / b2; at p = 1, c_p = 1 and R - 1 = O(1 - b2).
    a = sp.Symbol("a", positive=True)
    decay = s.p * (_geometric(b2) - 1) / 2
    laplace = sp.integrate(sp.exp(-a * y), (y, 0, sp.oo)).subs(a, decay)
    frequent = s.p * c_p**2 / (1 - b2) * laplace / 2
    return (
        Check("c_p is the momentum tail's geometric sum", _momentum_sum() - c_p),
        Check("rare limit: the integral is 1 with no other draw in memory", rare - 1),
        # As a ratio, so c_p^2 cancels as a factor and is never expanded.
        Check("frequent limit: R = c_p^2 / b2 to first order in y", frequent * b2 / c_p**2 - 1),
        Check(
            "frequent limit recovers item 11 (p = 1): R - 1 = O(1 - b2)",
            (c_p**2 / b2).subs(s.p, 1).subs(b2, 1 - e) - 1,
            kind="leading_order",
            small=e,
            order=1,
        ),
    )


def _grid(b2_value: float) -> np.ndarray:
    step = math.log(1 / b2_value)
    size = math.ceil((U_HIGH - U_LOW) / step) + 1
    if size > MAX_GRID:
        raise ValueError(
            f"adamw_rare_row_equilibrium: b2={b2_value!r} is too close to 1 for the "
            f"log-grid (spacing log(1 / b2) needs {size} points, at most {MAX_GRID})"
        )
    return U_LOW + step * np.arange(size)


def energy_shape(energies: np.ndarray) -> np.ndarray:
    """Per-draw energies (any shape, > 0) -> at most QUANTILES samples with mean 1."""
    x = np.asarray(energies, float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)) or np.any(x < 0) or x.mean() <= 0:
        raise ValueError("energy samples must be finite, nonnegative, with a positive mean")
    x = x / x.mean()
    if x.size > QUANTILES:
        x = np.quantile(x, (np.arange(QUANTILES) + 0.5) / QUANTILES)
        x = x / x.mean()
    return x


def ratio(p, b1: float, b2_value: float, shape=None) -> jax.Array:
    """R(p) (module docstring), evaluated on the log-grid of spacing log(1 / b2).

    Args:
        p: (...,) draw probability per step of each row, in (0, 1].
        b1, b2_value: Adam's moment decays (concrete floats; b1 < sqrt(b2)).
        shape: (M,) samples of the per-draw energy over its mean (`energy_shape`);
            None: every draw has the same energy (configuration only).

    Returns:
        (...,) the ratio of the row's N*^2 to item 11's.
    """
    u = jnp.asarray(_grid(float(b2_value)))
    step = math.log(1 / float(b2_value))
    yy = jnp.exp(u)
    sam = jnp.asarray(np.ones(1) if shape is None else energy_shape(shape))
    # L(y) - 1 and F(y), averaged over the samples; L - 1 without cancellation.
    root = jnp.sqrt(1 + yy[:, None] * sam)
    l_minus_1 = jnp.mean(-(yy[:, None] * sam) / (root * (1 + root)), axis=1)
    front = jnp.mean(sam / root**3, axis=1)
    p = jnp.asarray(p, dtype=yy.dtype)
    c_p = sp.lambdify((s.p, s.b1, b2), momentum_tail(), "jax")(p, b1, b2_value)

    def one(pp):
        log_factor = jnp.log1p(pp * l_minus_1)
        # sum_{k>=1} log(1 - p + p L(y_i b2^k)) = sum_{i' < i} on the grid + linear tail.
        tail = -pp * yy[0] * b2_value / (2 * (1 - b2_value))
        psi = jnp.concatenate([jnp.zeros(1), jnp.cumsum(log_factor)[:-1]]) + tail
        return 0.5 * jax.scipy.integrate.trapezoid(yy * front * jnp.exp(psi), dx=step)

    integral = jax.lax.map(one, p.ravel()).reshape(p.shape)
    return p * c_p**2 / (1 - b2_value) * integral


def adamw_rare_row_equilibrium() -> Law:
    """N*^2(p) = N*^2 of item 11 times R(p); twin: `ratio` on item 11's exact fixed point."""
    item11 = _fixed_point()[n]
    rhs = item11 * rare_row_ratio()
    n11 = sp.lambdify((s.eta, s.lam, s.C, s.b1), item11, "jax")
    params = ("eta", "lam", "C", "b1", "b2", "p", "shape")

    def fn(eta, lam, C, b1, b2, p, shape):
        return n11(eta, lam, C, b1) * ratio(p, b1, b2, shape)

    return Law(
        name="adamw_rare_row_equilibrium",
        item=11,
        title="AdamW equilibrium of a row drawn with probability p: N*^2 = N*^2_11 R(p)",
        lhs=sp.Symbol("N_*") ** 2,
        rhs=rhs,
        params=params,
        bounds={
            "eta": Bound(lower=0.0),
            "lam": Bound(lower=0.0),
            "C": Bound(lower=0.0),
            "b1": MOMENTUM,
            "b2": Bound(lower=0.0, upper=1.0),
            "p": RATE,
            "shape": Bound(lower=0.0, lower_open=False),
        },
        exact=False,
        assumptions="Per coordinate: draws independent across steps with probability p, "
        "gradients of random sign with Gaussian coordinates scaled by the draw's energy "
        "(samples `shape`, mean 1; None: one energy); stationary moments (no bias "
        "correction), eps << sqrt(v); momentum tail in the mean field c_p; item 11's "
        "exact fixed point for the decay.",
        reference=REFERENCE,
        checks=_checks(),
        fn=fn,
        relations=(Relation(s.b1**2 < b2, "b1 must be below sqrt(b2) (the tail sum diverges)"),),
        symbols={"eta": s.eta, "lam": s.lam, "C": s.C, "b1": s.b1, "b2": b2, "p": s.p},
        latex_names={b2: r"\beta_2", e: r"\epsilon_2", s_j: "s"},
    )
