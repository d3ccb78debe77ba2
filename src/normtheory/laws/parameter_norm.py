"""The parameter norm of a homogeneous shared encoder (THEORY.md item 17).

Item 4 (Pythagoras) holds for one embedding: its own gradient is tangent to it. In a
shared encoder an item's kick also carries other items' gradients, which are not
tangent to it, so no single item's norm obeys item 4 (item 15's cross drift). The
parameters do. If every embedding is positively homogeneous of degree p in the
encoder's parameters, z_i(c theta) = c^p z_i(theta), Euler's homogeneous function
theorem gives J_i theta = p z_i (J_i = dz_i / d theta), so for any loss that is
scale-invariant in every z_i (item 1: z_i . g_i = 0, g_i = dL/dz_i)

    theta . grad_theta L = sum_i (J_i theta) . g_i = p sum_i z_i . g_i = 0,

and one SGD step with coupled L2, theta' = (1 - eta lam) theta - eta grad_theta L, is
Pythagorean in parameter space:

    |theta'|^2 = (1 - eta lam)^2 |theta|^2 + eta^2 |grad_theta L|^2.

The free table (p = 1), the compositional encoder (z_i = sum of its path's features,
p = 1) and a bias-free ReLU or linear MLP (p = its number of weight layers) qualify; an
MLP with biases does not (z(c theta) is not c^p z(theta)), and neither does any optimizer
whose step is not -eta grad_theta L (momentum, Adam: their update has a radial part).
For several parameter blocks (an anchor encoder and a context table), each
homogeneous in its own block, the identity holds for the blocks' total, and per block when
the blocks' items are scale-invariant separately.

So the total parameter norm of a shared encoder integrates the parameter-space gradient
energy exactly as a table row integrates its own (items 4, 6, 9); what an item's norm
receives of it depends on how the features on its path align (item 17's note in
THEORY.md), which the identity does not fix.
"""

from __future__ import annotations

import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws._law import NONNEGATIVE, Check, Law, scalar_law
from normtheory.laws.kernel import (
    TREE_BRANCHING,
    TREE_DEPTH,
    _compositional_model,
    _contract,
    _tangent,
)

REFERENCE = (
    "Euler's homogeneous function theorem; van Laarhoven, 'L2 Regularization versus Batch "
    "and Weight Normalization', 2017, and Arora, Li and Lyu, 'Theoretical Analysis of Auto "
    "Rate-Tuning by Batch Normalization', ICLR 2019 (the same identity for weights feeding "
    "a normalisation layer); THEORY.md item 17."
)

Theta2 = sp.Symbol("Theta2", positive=True)  # |theta|^2, the parameter block's squared norm
Gamma2 = sp.Symbol("Gamma2", nonnegative=True)  # |grad_theta L|^2
Theta2_next = sp.Symbol("Theta2_next", positive=True)
LATEX = {Theta2: r"|\theta|^{2}", Gamma2: r"|\nabla_{\theta} L|^{2}", Theta2_next: r"|\theta'|^{2}"}


def homogeneity_residual(probes, theta, degree: int, tag: str) -> sp.Expr:
    """Contracted J_i theta - degree * z_i over every item and component (0 iff homogeneous)."""
    vector = sp.Matrix(theta)
    entries = []
    for z in probes:
        entries.extend(z.jacobian(theta) * vector - degree * z)
    return _contract(entries, tag)


def two_layer(bias: bool) -> tuple[list[sp.Matrix], list[sp.Symbol]]:
    """One input through z = W2 W1 x (+ c with `bias`), d = 2: (probes, parameters)."""
    W1 = sp.Matrix(2, 2, sp.symbols("V_0:4", real=True))
    W2 = sp.Matrix(2, 2, sp.symbols("W_0:4", real=True))
    c = sp.Matrix(sp.symbols("c_0:2", real=True))
    inputs = [sp.Matrix(sp.symbols("x_0:2", real=True))]
    probes = [W2 * W1 * x + (c if bias else sp.zeros(2, 1)) for x in inputs]
    theta = list(W1) + list(W2) + (list(c) if bias else [])
    return probes, theta


def euler_residual(probes, theta) -> sp.Expr:
    """theta . G with G = sum_i J_i^T g_i and every g_i tangent to its z_i (item 1), expanded.

    Zero for a homogeneous encoder; for any other the radial part of the step.
    """
    grads = [
        _tangent(z, sp.Matrix(sp.symbols(f"h{i}_0:{z.shape[0]}", real=True)))
        for i, z in enumerate(probes)
    ]
    G = sum(
        (z.jacobian(theta).T * g for z, g in zip(probes, grads, strict=True)),
        sp.zeros(len(theta), 1),
    )
    return sp.expand(sp.Matrix(theta).dot(G))


def step_expansion_residual() -> sp.Expr:
    """|(1 - eta lam) theta - eta G|^2 - the law - 2 eta (1 - eta lam) theta . G, for
    arbitrary theta, G in three dimensions (zero: the law is the step once theta . G = 0)."""
    theta = sp.Matrix(sp.symbols("t_0:3", real=True))
    G = sp.Matrix(sp.symbols("G_0:3", real=True))
    shrink = 1 - s.eta * s.lam
    new = shrink * theta - s.eta * G
    law = shrink**2 * theta.dot(theta) + s.eta**2 * G.dot(G)
    return sp.expand(new.dot(new) - law + 2 * s.eta * shrink * theta.dot(G))


def parameter_pythagoras() -> Law:
    model = _compositional_model(TREE_DEPTH, TREE_BRANCHING, generic_precond=False)
    probes, theta = model["probes"], model["theta"]
    net, weights = two_layer(bias=False)
    rhs = (1 - s.eta * s.lam) ** 2 * Theta2 + s.eta**2 * Gamma2
    return scalar_law(
        name="parameter_pythagoras",
        item=17,
        title="homogeneous encoder, SGD + L2: |theta'|^2 = (1 - eta lam)^2 |theta|^2 + "
        "eta^2 |grad_theta L|^2",
        lhs=Theta2_next,
        rhs=rhs,
        params=(Theta2, s.eta, s.lam, Gamma2),
        exact=True,
        assumptions="Encoder positively homogeneous in its parameters (table, compositional "
        "sums of features, bias-free MLP); loss scale-invariant in every embedding; plain "
        "SGD step with coupled L2 (lam = 0 allowed).",
        reference=REFERENCE,
        bounds={"lam": NONNEGATIVE},
        latex_names=LATEX,
        checks=(
            Check(
                "compositional encoder is homogeneous of degree 1: J_i theta = z_i",
                homogeneity_residual(probes, theta, 1, "comp"),
            ),
            Check(
                "bias-free two-layer net is homogeneous of degree 2: J theta = 2 z",
                homogeneity_residual(net, weights, 2, "net"),
            ),
            Check(
                "compositional encoder, tangent g_i: theta . grad_theta L = 0",
                euler_residual(probes, theta),
            ),
            Check(
                "bias-free two-layer net, tangent g_i: theta . grad_theta L = 0",
                euler_residual(net, weights),
            ),
            Check(
                "SGD + L2 step: |(1 - eta lam) theta - eta G|^2 is the law plus the "
                "cross term -2 eta (1 - eta lam) theta . G",
                step_expansion_residual(),
            ),
        ),
    )
