"""The exact one-step norm budget and the drift-heat equilibrium (THEORY.md item 12).

Any optimizer step on any model can be written z' = (1 - eta lam) z + k, where
(1 - eta lam) z is what weight decay alone would do (coupled L2 in SGD, decoupled in
AdamW; lam = 0 without decay) and k is everything else (gradient, momentum, Adam
preconditioning and, in a shared encoder, the effect of updates caused by other
samples). Expanding |z'|^2 in the Gram basis {z, k} gives, exactly,

    N'^2 - N^2 = decay + drift + heat,
    decay = ((1 - eta lam)^2 - 1) N^2,  drift = 2 (1 - eta lam) z.k,  heat = |k|^2.

For plain SGD, k = -eta g is tangent: drift = 0 and heat = eta^2 G^2 / N^2.

Equilibrium. Suppose that near equilibrium the mean drift per step delta and the heat
coefficient h = N^2 * (mean heat per step) do not depend on N (for SGD, h = eta^2 G^2).
Stationarity, decay + drift + heat = 0, is the quadratic

    N*^4 - D N*^2 - V^2 / 2 = 0,   N*^2 = (D + sqrt(D^2 + 2 V^2)) / 2,
    D = delta / (eta lam (2 - eta lam)) ~= delta / (2 eta lam),
    V^2 = 2 h / (eta lam (2 - eta lam)) ~= h / (eta lam)  (= eta G^2 / lam for SGD).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws._calculus import GramBasis
from normtheory.laws._law import Check, Law, ScalarRecurrence, scalar_law
from normtheory.laws.weight_decay import CONTRACTS, sgd_decay_equilibrium

z = sp.IndexedBase("z")
k = sp.IndexedBase("k")
n = sp.Symbol("n", positive=True)

REFERENCE = "Derived here from |z'|^2 = |z|^2 + 2 z.dz + |dz|^2; THEORY.md item 12."


@functools.cache
def budget_terms() -> tuple[GramBasis, dict[str, sp.Expr], sp.Expr]:
    """(basis {z, k}, the three terms in Gram symbols, |z'|^2 - |z|^2 in Gram symbols)."""
    basis = GramBasis.of({"z": lambda i: z[i], "k": lambda i: k[i]})
    zz, zk, kk = basis.gram[("z", "z")], basis.gram[("z", "k")], basis.gram[("k", "k")]
    shrink = 1 - s.eta * s.lam
    change = sp.expand(basis.norm_squared({"z": shrink, "k": sp.Integer(1)}) - zz)
    terms = {
        "decay": (shrink**2 - 1) * zz,
        "drift": 2 * shrink * zk,
        "heat": kk,
    }
    return basis, terms, change


def budget_fn(z_now: jax.Array, z_next: jax.Array, eta_lam: jax.Array) -> dict[str, jax.Array]:
    """The three budget terms of each row; z (..., d). `eta_lam` is eta * lam of the step."""
    shrink = 1 - eta_lam
    kick = z_next - shrink * z_now
    zz = jnp.sum(z_now * z_now, axis=-1)
    return {
        "decay": (shrink**2 - 1) * zz,
        "drift": 2 * shrink * jnp.sum(z_now * kick, axis=-1),
        "heat": jnp.sum(kick * kick, axis=-1),
    }


def norm_budget() -> Law:
    basis, terms, change = budget_terms()
    total = sp.Add(*terms.values())
    return Law(
        name="norm_budget",
        item=12,
        title="exact budget: N'^2 - N^2 = decay + drift + heat",
        lhs=s.N_next**2 - s.N**2,
        rhs=total,
        params=("z_now", "z_next", "eta_lam"),
        bounds={},
        exact=True,
        assumptions="Any optimizer and model: z' = (1 - eta lam) z + k defines k; lam = 0 "
        "when there is no decay.",
        reference=REFERENCE,
        checks=(
            Check("terms sum to |z'|^2 - |z|^2", change - total),
            Check(
                "SGD (k = -eta g tangent): drift vanishes",
                terms["drift"].xreplace({basis.gram[("z", "k")]: 0}),
            ),
        ),
        fn=budget_fn,
    )


@functools.cache
def drift_heat_recurrence() -> ScalarRecurrence:
    """n' = (1 - eta lam)^2 n + delta + h / n (decay, drift, heat with constant delta, h)."""
    return ScalarRecurrence(
        state=(n,),
        update=(sp.expand((1 - s.eta * s.lam) ** 2 * n + s.delta + s.h / n),),
        params=(s.eta, s.lam, s.delta, s.h),
    )


def drift_heat_equilibrium() -> Law:
    rhs = (s.D + sp.sqrt(s.D**2 + 2 * s.V2)) / 2
    rec = drift_heat_recurrence()
    scales = {s.D: drift_scale().rhs, s.V2: heat_scale().rhs}
    # Write the per-step decay rate r = 1 - (1 - eta lam)^2 = eta lam (2 - eta lam) > 0.
    r = sp.Symbol("r", positive=True)
    in_r = {s.D: s.delta / r, s.V2: 2 * s.h / r}
    stationary = (rec.update[0] - n) * n  # = -r n^2 + delta n + h, a quadratic in n
    return scalar_law(
        name="drift_heat_equilibrium",
        item=12,
        title="drift-heat quadratic: N*^2 = (D + sqrt(D^2 + 2 V^2)) / 2",
        lhs=sp.Symbol("N_*") ** 2,
        rhs=rhs,
        params=(s.D, s.V2),
        exact=True,
        assumptions="Stationary mean drift delta and heat coefficient h near equilibrium; "
        "D and V^2 from drift_scale and heat_scale.",
        reference=REFERENCE,
        checks=(
            Check("root of N^4 - D N^2 - V^2/2", sp.expand(rhs**2 - s.D * rhs - s.V2 / 2)),
            Check(
                "the recurrence loses r n per step to decay, r = eta lam (2 - eta lam)",
                sp.expand(
                    stationary - (-s.eta * s.lam * (2 - s.eta * s.lam) * n**2 + s.delta * n + s.h)
                ),
            ),
            Check(
                "with D = delta/r, V^2 = 2h/r the law is a fixed point of the recurrence",
                sp.expand(-r * rhs.xreplace(in_r) ** 2 + s.delta * rhs.xreplace(in_r) + s.h),
            ),
            Check(
                "no drift, SGD heat h = eta^2 G^2: the SGD + L2 equilibrium",
                (rhs.xreplace(scales) ** 2).xreplace({s.delta: 0, s.h: s.eta**2 * s.G2})
                - sgd_decay_equilibrium().rhs,
            ),
        ),
        relations=(),
        recurrence=rec,
    )


def drift_scale() -> Law:
    rhs = s.delta / (s.eta * s.lam * (2 - s.eta * s.lam))
    return scalar_law(
        name="drift_scale",
        item=12,
        title="drift scale D = delta / (eta lam (2 - eta lam)) ~= delta / (2 eta lam)",
        lhs=s.D,
        rhs=rhs,
        params=(s.delta, s.eta, s.lam),
        exact=True,
        assumptions="delta: mean drift 2 (1 - eta lam) z.k per step at equilibrium.",
        reference=REFERENCE,
        checks=(
            Check(
                "leading order delta / (2 eta lam)",
                rhs * s.eta - s.delta / (2 * s.lam),
                kind="leading_order",
                small=s.eta,
                order=1,
            ),
        ),
        relations=(CONTRACTS,),
    )


def heat_scale() -> Law:
    rhs = 2 * s.h / (s.eta * s.lam * (2 - s.eta * s.lam))
    return scalar_law(
        name="heat_scale",
        item=12,
        title="heat scale V^2 = 2 h / (eta lam (2 - eta lam)) ~= eta G^2 / lam for SGD",
        lhs=s.V2,
        rhs=rhs,
        params=(s.h, s.eta, s.lam),
        exact=True,
        assumptions="h: N^2 times the mean heat |k|^2 per step at equilibrium (eta^2 G^2 for SGD).",
        reference=REFERENCE,
        checks=(
            Check(
                "SGD leading order eta G^2 / lam",
                rhs.xreplace({s.h: s.eta**2 * s.G2}) - s.eta * s.G2 / s.lam,
                kind="leading_order",
                small=s.eta,
                order=2,
            ),
        ),
        relations=(CONTRACTS,),
    )
