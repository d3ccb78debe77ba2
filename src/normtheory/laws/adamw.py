"""AdamW random-walk equilibrium (THEORY.md item 11).

Model: the Adam direction has unit variance per coordinate (the second-moment
normalization), so the normalized gradient ghat has E|ghat|^2 = C over C coordinates
and is independent across steps and of the current weights (random-walk regime).
The first moment m' = b1 m + (1 - b1) ghat and the decoupled step
z' = (1 - eta lam) z - eta m' give a closed linear recurrence of
(|z|^2, |m|^2, z.m); SymPy solves its fixed point exactly. Bias correction and the
epsilon of Adam are neglected (stationary regime, eps << sqrt(v)).

At leading order in eta lam the equilibrium norm sqrt(eta C / (2 lam)) depends neither
on the gradient size nor on how often the item is updated, and the angle per step is
sqrt(2 eta lam (1 - b1) / (1 + b1)).
"""

from __future__ import annotations

import functools

import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws._law import MOMENTUM, Check, Law, ScalarRecurrence, scalar_law
from normtheory.laws.weight_decay import CONTRACTS, _positive_root

n = sp.Symbol("n", positive=True)  # |z|^2
q = sp.Symbol("q", nonnegative=True)  # |m|^2
cm = sp.Symbol("cm", real=True)  # z . m

REFERENCE = (
    "Kosson, Messmer and Jaggi, 'Rotational Equilibrium: How Weight Decay Balances "
    "Learning Across Neural Networks', ICML 2024; Loshchilov and Hutter, 'Decoupled "
    "Weight Decay Regularization', ICLR 2019; THEORY.md item 11."
)


@functools.cache
def adamw_recurrence() -> ScalarRecurrence:
    shrink = 1 - s.eta * s.lam
    q_new = s.b1**2 * q + (1 - s.b1) ** 2 * s.C  # E[m . ghat] = 0
    zm_new = s.b1 * cm  # z . m' with E[z . ghat] = 0
    n_new = shrink**2 * n - 2 * s.eta * shrink * zm_new + s.eta**2 * q_new
    cm_new = shrink * zm_new - s.eta * q_new  # z'.m' = ((1 - eta lam) z - eta m').m'
    return ScalarRecurrence(
        state=(n, q, cm),
        update=(sp.expand(n_new), sp.expand(q_new), sp.expand(cm_new)),
        params=(s.eta, s.lam, s.C, s.b1),
    )


@functools.cache
def _fixed_point() -> dict[sp.Symbol, sp.Expr]:
    rec = adamw_recurrence()
    q_star = _positive_root(rec.update[1] - q, q)
    cm_star = sp.solve(rec.update[2].xreplace({q: q_star}) - cm, cm)[0]
    point = {q: q_star, cm: sp.simplify(cm_star)}
    n_star = sp.solve(rec.update[0].xreplace(point) - n, n)[0]
    point[n] = sp.factor(sp.simplify(n_star))
    return point


def adamw_equilibrium() -> Law:
    rec = adamw_recurrence()
    point = _fixed_point()
    rhs = point[n]
    leading = s.eta * s.C / (2 * s.lam)
    return scalar_law(
        name="adamw_equilibrium",
        item=11,
        title="AdamW equilibrium: N*^2 ~= eta C / (2 lam), independent of G and p",
        lhs=sp.Symbol("N_*") ** 2,
        rhs=rhs,
        params=(s.eta, s.lam, s.C, s.b1),
        exact=True,
        assumptions="Random-walk regime: Adam-normalized gradients with unit variance per "
        "coordinate, independent across steps; no bias correction, eps neglected; exact "
        "fixed point of the (|z|^2, |m|^2, z.m) recurrence.",
        reference=REFERENCE,
        checks=(
            *(
                Check(f"fixed point: {x} stationary", r)
                for x, r in zip(rec.state, rec.fixed_point_residual(point), strict=True)
            ),
            Check(
                "leading order eta C / (2 lam)",
                rhs - leading,
                kind="leading_order",
                small=s.eta,
                order=2,
            ),
        ),
        bounds={"b1": MOMENTUM},
        relations=(CONTRACTS,),
        recurrence=rec,
    )


def adamw_angle() -> Law:
    point = _fixed_point()
    shrink = 1 - s.eta * s.lam
    # z . z' = (1 - eta lam) |z|^2 - eta z.m' with z.m' = b1 z.m; N' = N at equilibrium.
    cos_theta = sp.simplify((shrink * n - s.eta * s.b1 * cm).xreplace(point) / point[n])
    rhs = sp.acos(cos_theta)
    leading = sp.sqrt(2 * s.eta * s.lam * (1 - s.b1) / (1 + s.b1))
    return scalar_law(
        name="adamw_angle",
        item=11,
        title="AdamW angle per step: ~= sqrt(2 eta lam (1 - b1) / (1 + b1))",
        lhs=sp.Symbol(r"\theta_*"),
        rhs=rhs,
        params=(s.eta, s.lam, s.b1),
        exact=True,
        assumptions="As adamw_equilibrium; angle between consecutive weights at the fixed point.",
        reference=REFERENCE,
        checks=(
            Check(
                "leading order sqrt(2 eta lam (1 - b1)/(1 + b1))",
                rhs - leading,
                kind="leading_order",
                small=s.eta,
                order=1,
            ),
        ),
        bounds={"b1": MOMENTUM},
        relations=(CONTRACTS,),
        recurrence=adamw_recurrence(),
    )
