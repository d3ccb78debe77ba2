"""The energy per occurrence as a mixture over copies, and the imprint slope it implies.

THEORY.md item 8c. Item 8b writes the imprint of an item drawn with probability pi at
each of the B draws of a batch as N_T^4 - N_0^4 ~= 2 eta^2 T B pi epsilon(pi), with
epsilon the mean tangential energy per occurrence. An occurrence shares its batch with
m other copies of the same item, m ~ Binomial(B - 1, pi) (the other B - 1 draws are
independent); if an occurrence with c = m + 1 copies in its batch brings the expected
energy e_c (the batch's summed gradient energy on the row, divided by c), then

    epsilon(pi) = sum_{m=0}^{n} C(n, m) pi^m (1 - pi)^(n - m) e_{m+1},    n = B - 1,

and the slope of log epsilon on log pi follows in closed form from the derivative of a
binomial expectation, d/dpi E_n[f(m)] = n E_{n-1}[f(m + 1) - f(m)]:

    k(pi) = n pi E_{n-1}[e_{m+2} - e_{m+1}] / E_n[e_{m+1}],

so the imprint goes locally as pi^(1 + k). Copies that raise the energy (e_c increasing)
give k > 0, copies that dilute it give k < 0, and k = 0 exactly when e_c is the same for
every c. The e_c are inputs here; normtheory.occurrence computes them from the
configuration and the model at initialisation.

The JAX twins take e as an array (C,) of e_1..e_C and extend it by its last entry
(e_c = e_C for c > C), a truncation that the predictor sizes so that the binomial mass
beyond C is negligible; the closed form for k is exact for the extended sequence.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from jax.scipy.special import gammaln

from normtheory.laws._law import RATE, Bound, Check, Law

PI = sp.Symbol("pi", positive=True)  # probability that one draw of a batch is the item
n = sp.Symbol("n", positive=True, integer=True)  # the other draws of a batch, B - 1
m = sp.Symbol("m", nonnegative=True, integer=True)  # copies among them
e = sp.IndexedBase("e")  # expected energy of an occurrence with c copies in its batch
K_SLOPE = sp.Symbol("k")

REFERENCE = (
    "Binomial mixture over the copies of an item in its batch; the derivative of a "
    "binomial expectation (e.g. Feller, An Introduction to Probability Theory, vol. 1); "
    "THEORY.md items 8b and 8c."
)
ASSUMPTIONS = (
    "Each of the B draws of a batch is the item with probability pi, independently (n = B - 1 "
    "other draws hold m copies); an "
    "occurrence with c copies of the item in its batch brings the expected tangential "
    "energy e_c (the batch's summed energy on the row over c), the same for every item "
    "(the items differ only by pi); e_c = e_C beyond the C given values."
)


def _pmf(count: sp.Expr, j: sp.Expr) -> sp.Expr:
    return sp.binomial(count, j) * PI**j * (1 - PI) ** (count - j)


def mixture_expr(count: sp.Expr = n) -> sp.Expr:
    """epsilon(pi) = sum_m Binomial(m; count, pi) e_{m+1} (SymPy)."""
    return sp.Sum(_pmf(count, m) * e[m + 1], (m, 0, count))


def slope_expr(count: sp.Expr = n) -> sp.Expr:
    """k = d log epsilon / d log pi in closed form (SymPy)."""
    rise = sp.Sum(_pmf(count - 1, m) * (e[m + 2] - e[m + 1]), (m, 0, count - 1))
    return count * PI * rise / mixture_expr(count)


def _slope_residuals() -> list[sp.Expr]:
    """pi d log epsilon / d pi minus the closed form, at n = 1..5 with free e_1..e_{n+1}."""
    out = []
    for size in range(1, 6):
        eps = mixture_expr(sp.Integer(size)).doit()
        brute = PI * sp.diff(eps, PI) / eps
        out.append(sp.together(brute - slope_expr(sp.Integer(size)).doit()))
    return out


def _contract(entries: list[sp.Expr], tag: str) -> sp.Expr:
    weights = sp.symbols(f"omega_{tag}_0:{len(entries)}", real=True)
    return sp.Add(*(x * r for x, r in zip(weights, entries, strict=True)))


def _flat_and_linear() -> tuple[sp.Expr, sp.Expr]:
    """Residuals of two closed cases: e_c = a gives k = 0; e_c = a + b (c - 1) gives
    epsilon = a + b n pi and k = b n pi / (a + b n pi) (checked at n = 1..5)."""
    a, b = sp.symbols("a b", positive=True)
    flat, linear = [], []
    for size in range(1, 6):
        const = {e[j]: a for j in range(1, size + 3)}
        line = {e[j]: a + b * (j - 1) for j in range(1, size + 3)}
        flat.append(slope_expr(sp.Integer(size)).doit().xreplace(const))
        eps = mixture_expr(sp.Integer(size)).doit().xreplace(line)
        k = slope_expr(sp.Integer(size)).doit().xreplace(line)
        linear.append(eps - (a + b * size * PI))
        linear.append(k - b * size * PI / (a + b * size * PI))
    return _contract(flat, "flat"), _contract(linear, "linear")


# --- JAX twins ------------------------------------------------------------------------


def _binomial_pmf(count: jax.Array, pi: jax.Array, size: int) -> jax.Array:
    """Binomial(count, pi) pmf at m = 0..size-1 (zero beyond count): (..., size)."""
    j = jnp.arange(size, dtype=pi.dtype)
    count = jnp.asarray(count, pi.dtype)[..., None]
    p = pi[..., None]
    log_choose = gammaln(count + 1) - gammaln(j + 1) - gammaln(jnp.maximum(count - j, 0) + 1)
    log_pmf = log_choose + j * jnp.log(p) + (count - j) * jnp.log1p(-p)
    return jnp.where(j <= count, jnp.exp(log_pmf), 0.0)


def _extended(energies: jax.Array, size: int) -> jax.Array:
    """e_{m+1} for m = 0..size-1, with e_c = e_C beyond the C given values: (size,)."""
    idx = jnp.minimum(jnp.arange(size), energies.shape[-1] - 1)
    return energies[..., idx]


def mixture(pi: jax.Array, B: int, e: jax.Array) -> jax.Array:
    """epsilon(pi) = E[e_{m+1}], m ~ Binomial(B - 1, pi).

    Args:
        pi: draw probabilities, any shape (...), in (0, 1].
        B: draws per batch (>= 2).
        e: (C,) expected energies per occurrence with c = 1..C copies in the batch.

    Returns:
        (...) the energy per occurrence at each pi.
    """
    pi = jnp.asarray(pi, jnp.result_type(float))
    ext = _extended(jnp.asarray(e, pi.dtype), B)
    return _binomial_pmf(B - 1, pi, B) @ ext


def slope(pi: jax.Array, B: int, e: jax.Array) -> jax.Array:
    """k(pi) = d log epsilon / d log pi of `mixture`, in closed form: (...) like pi."""
    pi = jnp.asarray(pi, jnp.result_type(float))
    ext = _extended(jnp.asarray(e, pi.dtype), B + 1)
    rise = _binomial_pmf(B - 2, pi, B) @ (ext[1:] - ext[:-1])
    return (B - 1) * pi * rise / mixture(pi, B, e)


def _positive_energies(values) -> None:
    if "e" in values:
        arr = np.asarray(values["e"], float)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"argument 'e' must be a 1-d array of e_1..e_C; got shape {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError("argument 'e' must hold positive finite energies")
    if "B" in values:
        b = np.asarray(values["B"])
        if b.ndim or b < 2 or b != np.round(b):
            raise ValueError(f"argument 'B' must be an integer >= 2; got {values['B']!r}")


_MIXTURE = jax.jit(mixture, static_argnums=1)
_SLOPE = jax.jit(slope, static_argnums=1)

BOUNDS = {"pi": RATE, "B": Bound(lower=1.0), "e": Bound(lower=0.0)}
LATEX_NAMES = {PI: r"\pi", K_SLOPE: "k"}


def occurrence_energy_mixture() -> Law:
    _, linear = _flat_and_linear()
    return Law(
        name="occurrence_energy_mixture",
        item=8,
        title="energy per occurrence: epsilon(pi) = E[e_{m+1}], m ~ Binomial(B - 1, pi)",
        lhs=sp.Symbol("epsilon"),
        rhs=mixture_expr(),
        params=("pi", "B", "e"),
        bounds=BOUNDS,
        exact=True,
        assumptions=ASSUMPTIONS,
        reference=REFERENCE,
        checks=(
            Check("a linear e_c gives epsilon = a + b (B - 1) pi (and k in closed form)", linear),
            Check("the mixture of a constant e_c is that constant", _flat_mixture()),
        ),
        fn=lambda pi, B, e: _MIXTURE(pi, int(B), e),
        array_checks=(_positive_energies,),
        latex_names=LATEX_NAMES,
    )


def _flat_mixture() -> sp.Expr:
    a = sp.Symbol("a", positive=True)
    entries = [
        mixture_expr(sp.Integer(k)).doit().xreplace({e[j]: a for j in range(1, k + 2)}) - a
        for k in range(1, 6)
    ]
    return _contract(entries, "const")


def occurrence_energy_slope() -> Law:
    flat, _ = _flat_and_linear()
    return Law(
        name="occurrence_energy_slope",
        item=8,
        title="imprint slope 1 + k, k = (B - 1) pi E_{B-2}[e_{m+2} - e_{m+1}] / E_{B-1}[e_{m+1}]",
        lhs=K_SLOPE,
        rhs=slope_expr(),
        params=("pi", "B", "e"),
        bounds=BOUNDS,
        exact=True,
        assumptions=ASSUMPTIONS + " The imprint (item 8b) then has local slope 1 + k on log pi.",
        reference=REFERENCE,
        checks=(
            Check("k = pi d log epsilon / d pi at n = 1..5", _contract(_slope_residuals(), "k")),
            Check("k = 0 when e_c does not depend on c", flat),
        ),
        fn=lambda pi, B, e: _SLOPE(pi, int(B), e),
        array_checks=(_positive_energies,),
        latex_names=LATEX_NAMES,
    )


__all__ = [
    "mixture",
    "mixture_expr",
    "occurrence_energy_mixture",
    "occurrence_energy_slope",
    "slope",
    "slope_expr",
]
