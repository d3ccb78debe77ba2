"""The energy of one sparse update of a free-table row, from copies (THEORY.md item 9d).

A batch of B slots drawn i.i.d. with probability pi per slot holds K ~ Binomial(B, pi)
copies of an item; the row is updated when K >= 1 (rate p = 1 - (1 - pi)^B). Each copy
brings a gradient; the update's energy is modelled as

    G^2 = e(pi) (1 + rho (K - 1)) sum_{c=1}^K X_c,   e(pi) = e0 pi^beta,

with X_c i.i.d. of mean 1 and E[X^2] = k (the shape of one copy's energy: heavy-tailed),
e(pi) the mean energy of one copy (a power law in pi), and rho in [0, 1] the coherence
of the copies: rho = 0 adds their energies (independent directions), rho = 1 adds their
gradients in phase (mean e K^2). Its first two moments given an update follow from the
binomial's factorial moments E[K (K - 1) ... (K - r + 1)] = B (B - 1) ... (B - r + 1) pi^r:

    E[G^2 | K >= 1] = e (B pi + rho B (B - 1) pi^2) / p,
    E[G^4 | K >= 1] = e^2 E[(1 + rho (K - 1))^2 (k K + K (K - 1))] / p.

They are item 9c's inputs m1 and m2 (`sparse_decay_shot_noise`); item 9d feeds the chain
samples of this model (`normtheory.sparse_energy`), of which these are the exact moments.
"""

from __future__ import annotations

import functools

import sympy as sp

from normtheory.laws._law import RATE, Bound, Check, Law, scalar_law

B = sp.Symbol("B", positive=True, integer=True)  # batch slots
pi = sp.Symbol("pi", positive=True)  # draw probability of the item per slot
e0 = sp.Symbol("e0", positive=True)  # energy scale of one copy
beta = sp.Symbol("beta", real=True)  # power of pi in one copy's mean energy
rho = sp.Symbol("rho", nonnegative=True)  # coherence of the copies in one update
kx = sp.Symbol("k", positive=True)  # E[X^2] of one copy's energy over its mean
K = sp.Symbol("K", integer=True, nonnegative=True)  # copies in the batch

REFERENCE = "THEORY.md items 9c and 9d; binomial factorial moments."
COHERENCE = Bound(lower=0.0, upper=1.0, lower_open=False, upper_open=False)
SLOTS = Bound(lower=1.0, lower_open=False)
# E[X^2] >= E[X]^2 = 1 for a mean-1 energy.
SHAPE = Bound(lower=1.0, lower_open=False)


def _binomial_mean(poly: sp.Expr) -> sp.Expr:
    """E[poly(K)] for K ~ Binomial(B, pi): poly written in falling factorials of K."""
    poly = sp.Poly(sp.expand(poly), K)
    total = sp.S.Zero
    for (m,), coeff in poly.terms():
        for r in range(m + 1):
            falling = sp.ff(B, r) * pi**r
            total += coeff * sp.functions.combinatorial.numbers.stirling(m, r) * falling
    return sp.factor(sp.expand(total))


def _rate() -> sp.Expr:
    return 1 - (1 - pi) ** B


def _per_update(given_k: sp.Expr) -> sp.Expr:
    """E[f(K) | K >= 1] for f(0) = 0."""
    return _binomial_mean(given_k) / _rate()


def _copy_energy() -> sp.Expr:
    return e0 * pi**beta


@functools.cache
def _moments() -> tuple[sp.Expr, sp.Expr]:
    coherent = 1 + rho * (K - 1)
    first = _copy_energy() * _per_update(coherent * K)
    second = _copy_energy() ** 2 * _per_update(coherent**2 * (kx * K + K * (K - 1)))
    return first, second


def _brute_force(f_of_k: sp.Expr, slots: int) -> sp.Expr:
    """sum_{K=1}^B f(K) P(K) / p for a concrete number of slots."""
    pmf = sp.binomial(slots, K) * pi**K * (1 - pi) ** (slots - K)
    total = sum((f_of_k * pmf).subs(K, j) for j in range(1, slots + 1))
    return total / _rate().subs(B, slots)


def _checks(moment: sp.Expr, f_of_k: sp.Expr, single: sp.Expr) -> tuple[Check, ...]:
    return (
        Check("the binomial sum for B = 4 slots", moment.subs(B, 4) - _brute_force(f_of_k, 4)),
        Check("one slot: one copy per update", moment.subs(B, 1) - single),
    )


def sparse_update_energy() -> Law:
    """E[G^2 | update] of the copy model (module docstring)."""
    first, _ = _moments()
    coherent = 1 + rho * (K - 1)
    return scalar_law(
        name="sparse_update_energy",
        item=9,
        title="energy per update of a row drawn by B slots: E[G^2] = e0 pi^beta "
        "(B pi + rho B (B - 1) pi^2) / (1 - (1 - pi)^B)",
        lhs=sp.Symbol(r"\mathbb{E}[G^{2}]"),
        rhs=first,
        params=(e0, beta, rho, B, pi),
        exact=False,
        assumptions="Slots drawn i.i.d. (K copies ~ Binomial(B, pi)); one copy's mean "
        "energy a power law e0 pi^beta; copies combined with coherence rho (0: energies "
        "add; 1: gradients add in phase).",
        reference=REFERENCE,
        checks=(
            *_checks(first, _copy_energy() * coherent * K, _copy_energy()),
            Check(
                "rare limit: one copy's energy (B pi -> 0)",
                (first / _copy_energy()).subs(pi, sp.Symbol("x", positive=True) / B) - 1,
                kind="leading_order",
                small=sp.Symbol("x", positive=True),
                order=1,
            ),
        ),
        bounds={"pi": RATE, "rho": COHERENCE, "B": SLOTS},
        latex_names={pi: r"\pi", e0: "e_0", rho: r"\rho", beta: r"\beta"},
    )


def sparse_update_energy_square() -> Law:
    """E[G^4 | update] of the copy model (module docstring)."""
    _, second = _moments()
    coherent = 1 + rho * (K - 1)
    return scalar_law(
        name="sparse_update_energy_square",
        item=9,
        title="second moment per update: E[G^4] = e0^2 pi^(2 beta) E[(1 + rho (K - 1))^2 "
        "(k K + K (K - 1))] / (1 - (1 - pi)^B)",
        lhs=sp.Symbol(r"\mathbb{E}[G^{4}]"),
        rhs=second,
        params=(e0, beta, rho, kx, B, pi),
        exact=False,
        assumptions="As sparse_update_energy; the copies' energies X_c i.i.d. with "
        "E[X] = 1, E[X^2] = k.",
        reference=REFERENCE,
        checks=_checks(
            second,
            _copy_energy() ** 2 * coherent**2 * (kx * K + K * (K - 1)),
            _copy_energy() ** 2 * kx,
        ),
        bounds={"pi": RATE, "rho": COHERENCE, "B": SLOTS, "k": SHAPE},
        latex_names={pi: r"\pi", e0: "e_0", rho: r"\rho", beta: r"\beta"},
    )
