"""Shared SymPy symbols of the theory, with the assumptions that make derivations valid.

Names are Python identifiers so that they double as keyword arguments of the JAX
twins; `LATEX_NAMES` gives their printed form.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

eta = sp.Symbol("eta", positive=True)  # learning rate
lam = sp.Symbol("lam", positive=True)  # weight decay
tau = sp.Symbol("tau", positive=True)  # temperature
N = sp.Symbol("N", positive=True)  # norm ||z||
N0 = sp.Symbol("N0", positive=True)  # initial norm
N_next = sp.Symbol("N_next", positive=True)  # norm after one step
G2 = sp.Symbol("G2", nonnegative=True)  # tangential gradient energy ||P grad_u L||^2
S = sp.Symbol("S", nonnegative=True)  # accumulated energy sum_t G_t^2
alpha = sp.Symbol("alpha", nonnegative=True)  # heavy-ball momentum
b1 = sp.Symbol("b1", nonnegative=True)  # Adam first-moment decay
C = sp.Symbol("C", positive=True)  # number of coordinates
p = sp.Symbol("p", positive=True)  # fraction of steps with gradient
T = sp.Symbol("T", positive=True)  # number of steps
t = sp.Symbol("t", nonnegative=True)  # step index
c = sp.Symbol("c", real=True)  # cosine of an angle
delta = sp.Symbol("delta", real=True)  # mean radial drift of N^2 per step
h = sp.Symbol("h", nonnegative=True)  # heat coefficient: mean heat per step times N^2
D = sp.Symbol("D", real=True)  # drift scale of the drift-heat quadratic
V2 = sp.Symbol("V2", nonnegative=True)  # heat scale V^2 of the drift-heat quadratic
theta = sp.Symbol("theta", nonnegative=True)  # angle per step

LATEX_NAMES: dict[sp.Symbol, str] = {
    eta: r"\eta",
    lam: r"\lambda",
    tau: r"\tau",
    N0: r"N_0",
    N_next: r"N'",
    G2: r"G^{2}",
    alpha: r"\alpha",
    b1: r"\beta_1",
    delta: r"\delta",
    V2: r"V^{2}",
    theta: r"\theta",
}


# Gram symbols (dot products) register their printed form here when created.
GRAM_LATEX: dict[sp.Symbol, str] = {}


def latex(expr: sp.Basic, extra: Mapping[sp.Symbol, str] | None = None) -> str:
    """LaTeX with the theory's symbol names, plus `extra` (a law's own symbols).

    A Symbol named in LaTeX prints verbatim. Module-level symbols of one derivation
    pass their names as `extra` through their Law, so the printed form never depends
    on which modules were imported.
    """
    if isinstance(expr, sp.Symbol) and "\\" in expr.name:
        return expr.name
    names = {**GRAM_LATEX, **LATEX_NAMES, **(extra or {})}
    for sym in expr.free_symbols:
        if isinstance(sym, sp.Symbol) and "\\" in sym.name:
            names[sym] = sym.name
    return sp.latex(expr, symbol_names=names)
