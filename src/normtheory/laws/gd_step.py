"""Plain (S)GD on a scale-invariant loss: the norm identities (THEORY.md items 4-8).

The step z' = z - eta g is expanded in the Gram basis {z, g} in symbolic dimension.
Two facts proved in `normtheory.laws.cosine` close it: z . g = 0 (Euler) and
|g|^2 = G^2 / N^2, where G^2 = |P grad_u L|^2 is the tangential energy (homogeneity).
"""

from __future__ import annotations

import functools

import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws._calculus import GramBasis, _i, d, l
from normtheory.laws._law import RATE, Check, Law, scalar_law

z = sp.IndexedBase("z")
g = sp.IndexedBase("g")
R = sp.Symbol("R", nonnegative=True)  # sum_t G_t^4 / N_t^4, the neglected quartic term

REFERENCE = (
    "Pythagoras for a tangent step; e.g. Arora, Li and Lyu, 'Theoretical analysis of auto "
    "rate-tuning by batch normalization', ICLR 2019, Lemma 2.4; THEORY.md items 4-8."
)


@functools.cache
def gd_gram() -> tuple[GramBasis, dict[sp.Symbol, sp.Expr]]:
    """Gram basis {z, g} and the substitutions Euler and homogeneity give."""
    basis = GramBasis.of({"z": lambda k: z[k], "g": lambda k: g[k]})
    facts = {
        basis.gram[("z", "g")]: sp.Integer(0),
        basis.gram[("g", "g")]: s.G2 / s.N**2,
        basis.gram[("z", "z")]: s.N**2,
    }
    return basis, facts


def step_norm_squared(decay: sp.Expr = sp.S.Zero) -> tuple[sp.Expr, sp.Expr]:
    """|z'|^2 for z' = (1 - eta decay) z - eta g: (Gram form, form after Euler/homogeneity)."""
    basis, facts = gd_gram()
    shrink = 1 - s.eta * decay
    coeffs = {"z": shrink, "g": -s.eta}
    gram_form = sp.expand(basis.norm_squared(coeffs))
    return gram_form, sp.expand(gram_form.xreplace(facts))


def gd_norm_step() -> Law:
    gram_form, rhs = step_norm_squared()
    return scalar_law(
        name="gd_norm_step",
        item=4,
        title="GD step: N'^2 = N^2 + eta^2 G^2 / N^2 (norms never shrink)",
        lhs=s.N_next**2,
        rhs=rhs,
        params=(s.N, s.eta, s.G2),
        exact=True,
        assumptions="Plain (S)GD step on a scale-invariant loss; any dimension.",
        reference=REFERENCE,
        checks=(
            Check(
                "component sum |z - eta g|^2 equals its Gram expansion",
                _component_check(gram_form),
            ),
            Check("law equals N^2 + eta^2 G^2/N^2", rhs - (s.N**2 + s.eta**2 * s.G2 / s.N**2)),
        ),
    )


def _component_check(gram_form: sp.Expr) -> sp.Expr:
    """|z - eta g|^2 summed component-wise minus its Gram expansion (should be 0)."""
    basis, _ = gd_gram()
    summed = sp.factor_terms(sp.expand(sp.Sum(sp.expand((z[l] - s.eta * g[l]) ** 2), (l, 1, d))))
    summed = sp.Add(*(sp.factor_terms(term) for term in sp.Add.make_args(summed)))
    return basis.to_gram(summed.xreplace({l: _i})) - gram_form


def gd_norm_step_quartic() -> Law:
    _, squared = step_norm_squared()
    rhs = sp.expand(squared**2)
    return scalar_law(
        name="gd_norm_step_quartic",
        item=4,
        title="GD step, squared again: N'^4 = N^4 + 2 eta^2 G^2 + eta^4 G^4 / N^4",
        lhs=s.N_next**4,
        rhs=rhs,
        params=(s.N, s.eta, s.G2),
        exact=True,
        assumptions="Plain (S)GD step on a scale-invariant loss.",
        reference=REFERENCE,
        checks=(
            Check(
                "law equals N^4 + 2 eta^2 G^2 + eta^4 G^4/N^4",
                rhs - (s.N**4 + 2 * s.eta**2 * s.G2 + s.eta**4 * s.G2**2 / s.N**4),
            ),
        ),
    )


def modified_flow_quartic_rate() -> Law:
    """d N^4 / dt along the first-order modified flow of GD (Barrett and Dherin, 2021)."""
    zg, zHg, gg = sp.symbols("zg zHg gg", real=True)
    # Modified flow: dz/dt = -g - (eta/2) H g. Then dN^2/dt = 2 z.dz/dt.
    dn2 = -2 * zg - s.eta * zHg
    # Euler: z.g = 0. Differentiating homogeneity g(cz) = g(z)/c at c = 1: H z = -g,
    # so z.Hg = (Hz).g = -|g|^2 (H symmetric). And |g|^2 = G^2/N^2.
    dn2 = dn2.xreplace({zg: 0, zHg: -gg}).xreplace({gg: s.G2 / s.N**2})
    rhs = sp.simplify(2 * s.N**2 * dn2)
    return scalar_law(
        name="modified_flow_quartic_rate",
        item=5,
        title="modified flow: dN^4/dt = 2 eta G^2; exact gradient flow (eta -> 0) conserves N",
        lhs=sp.Symbol(r"\frac{d N^4}{dt}"),
        rhs=rhs,
        params=(s.eta, s.G2),
        exact=False,
        assumptions="First-order modified equation of GD, dz/dt = -g - (eta/2) H g; O(eta^2) "
        "terms of the modified flow neglected.",
        reference="Barrett and Dherin, 'Implicit Gradient Regularization', ICLR 2021; "
        "THEORY.md item 5.",
        checks=(
            Check("gradient flow conserves N: dN^2/dt -> 0 as eta -> 0", sp.limit(dn2, s.eta, 0)),
            Check("rate equals 2 eta G^2", rhs - 2 * s.eta * s.G2),
        ),
    )


def accumulation() -> Law:
    rhs = s.N0**4 + 2 * s.eta**2 * s.S
    exact = s.N0**4 + 2 * s.eta**2 * s.S + s.eta**4 * R
    return scalar_law(
        name="accumulation",
        item=6,
        title="accumulation: N_T^4 ~= N_0^4 + 2 eta^2 sum_t G_t^2",
        lhs=sp.Symbol("N_T") ** 4,
        rhs=rhs,
        params=(s.N0, s.eta, s.S),
        exact=False,
        assumptions="Sum of the quartic GD identity over T steps; the neglected term is "
        "eta^4 sum_t G_t^4 / N_t^4 >= 0, so the law is a lower bound.",
        reference=REFERENCE,
        checks=(
            Check(
                "exact telescoped sum minus law is O(eta^4)",
                exact - rhs,
                kind="leading_order",
                small=s.eta,
                order=4,
            ),
        ),
    )


def gd_angle_per_step() -> Law:
    _, squared = step_norm_squared()
    cos_theta = s.N**2 / (s.N * sp.sqrt(squared))  # z.z' = N^2 because z.g = 0
    tan_theta = sp.simplify(sp.sqrt(1 - cos_theta**2) / cos_theta)
    rhs = sp.atan(tan_theta)
    return scalar_law(
        name="gd_angle_per_step",
        item=7,
        title="angle per step: theta = atan(eta G / N^2) ~= eta G / N^2",
        lhs=s.theta,
        rhs=rhs,
        params=(s.N, s.eta, s.G2),
        exact=True,
        assumptions="Plain (S)GD step; the small-angle form eta G / N^2 is the effective "
        "learning rate of the direction.",
        reference=REFERENCE,
        checks=(
            Check("tan(theta) = eta G / N^2", tan_theta - s.eta * sp.sqrt(s.G2) / s.N**2),
            Check(
                "theta = eta G / N^2 + O(eta^3)",
                rhs - s.eta * sp.sqrt(s.G2) / s.N**2,
                kind="leading_order",
                small=s.eta,
                order=3,
            ),
        ),
    )


PI = sp.Symbol("pi", positive=True)  # probability that one draw of a batch is the item
B = sp.Symbol("B", positive=True)  # draws per batch
EPS = sp.Symbol("epsilon", nonnegative=True)  # mean tangential energy per occurrence


def frequency_imprint_occurrences() -> Law:
    """Item 8b: the imprint counts occurrences, T B pi, not steps with a gradient, T p.

    An item drawn k times in one batch receives the sum of k gradients; with view noise
    and negatives drawn independently per copy the cross terms average out, so the step's
    energy is k times the energy per occurrence epsilon, and sum_t G_t^2 = T B pi epsilon.
    Item 8 (rate p = 1 - (1 - pi)^B, one occurrence per drawn step) is its rare-item
    limit B pi << 1. With epsilon independent of pi the slope of log(N_T^4 - N_0^4) on
    log pi is 1; a rate dependence epsilon ~ pi^k adds k (measured, not derived).
    """
    acc = accumulation()
    rhs = 2 * s.eta**2 * s.T * B * PI * EPS
    rate = 1 - (1 - PI) ** B
    return scalar_law(
        name="frequency_imprint_occurrences",
        item=8,
        title="frequency imprint by occurrences: N_T^4 - N_0^4 ~= 2 eta^2 T B pi epsilon",
        lhs=sp.Symbol("N_T") ** 4 - s.N0**4,
        rhs=rhs,
        params=(s.eta, s.T, B, PI, EPS),
        exact=False,
        assumptions="Plain SGD without decay (accumulation law, quartic term dropped); the "
        "item is drawn with probability pi at each of the B draws of a batch (T B pi "
        "occurrences expected), and copies in one batch add their energies (cross terms "
        "average out), each occurrence bringing a mean tangential energy epsilon.",
        reference=REFERENCE,
        checks=(
            Check(
                "accumulation law with S = T B pi epsilon",
                acc.rhs.xreplace({s.S: s.T * B * PI * EPS}) - s.N0**4 - rhs,
            ),
            Check(
                "item 8 with one occurrence per drawn step is its rare-item limit",
                2 * s.eta**2 * s.T * rate * EPS - rhs,
                kind="leading_order",
                small=PI,
                order=2,
            ),
        ),
        bounds={"pi": RATE},
        latex_names={PI: r"\pi", EPS: r"\varepsilon"},
    )


def frequency_imprint() -> Law:
    acc = accumulation()
    rhs = 2 * s.eta**2 * s.p * s.T * s.G2
    return scalar_law(
        name="frequency_imprint",
        item=8,
        title="frequency imprint without decay: N_T^4 - N_0^4 ~= 2 eta^2 p T G^2",
        lhs=sp.Symbol("N_T") ** 4 - s.N0**4,
        rhs=rhs,
        params=(s.eta, s.p, s.T, s.G2),
        exact=False,
        assumptions="An item receives gradient in a fraction p of T steps, with mean "
        "tangential energy G^2 per update; accumulation law with sum G^2 = p T G^2.",
        reference=REFERENCE,
        checks=(
            Check(
                "accumulation law with S = p T G^2",
                acc.rhs.xreplace({s.S: s.p * s.T * s.G2}) - s.N0**4 - rhs,
            ),
        ),
        bounds={"p": RATE},
    )
