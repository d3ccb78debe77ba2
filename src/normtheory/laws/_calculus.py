"""Component-wise vector calculus in a symbolic dimension d.

Vectors are SymPy `IndexedBase` objects (or rows `V[k, :]` of one); a dot product is
`Sum(x[i] * y[i], (i, 1, d))` with d symbolic, so every derivative here holds in any
dimension. A gradient is obtained by differentiating with respect to one component
x[l] (free index l) and is then written in a *Gram basis*: a linear combination of the
components of the vectors involved, with coefficients that depend only on dot products.
Contracting such a combination with another vector gives a scalar in dot products,
which is how the Euler identity and homogeneity are proved without fixing d.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import sympy as sp

from normtheory.laws._law import resolve_ranges
from normtheory.laws._symbols import GRAM_LATEX

d = sp.Symbol("d", integer=True, positive=True)
_i = sp.Symbol("i", integer=True, positive=True)  # summation dummy over components
l = sp.Symbol("l", integer=True, positive=True)  # free component index of a gradient

Vector = Callable[[sp.Basic], sp.Expr]  # index -> component


def dot(x: Vector, y: Vector) -> sp.Expr:
    """x . y = sum_i x_i y_i in symbolic dimension d."""
    return sp.Sum(x(_i) * y(_i), (_i, 1, d))


def gradient_component(expr: sp.Expr, x: sp.IndexedBase) -> sp.Expr:
    """d expr / d x_l, with the index bookkeeping of SymPy resolved."""
    return resolve_ranges(sp.diff(expr, x[l]).doit())


@dataclasses.dataclass(frozen=True)
class GramBasis:
    """Named vectors and the scalar symbols standing for their dot products.

    `gram[(a, b)]` is the symbol for a . b (symmetric); `vectors[a]` gives components.
    """

    vectors: Mapping[str, Vector]
    gram: Mapping[tuple[str, str], sp.Symbol]

    @classmethod
    def of(cls, vectors: Mapping[str, Vector], positive_norms: bool = True) -> GramBasis:
        names = list(vectors)
        gram: dict[tuple[str, str], sp.Symbol] = {}
        for a_index, a in enumerate(names):
            for b in names[a_index:]:
                if a == b:
                    sym = sp.Symbol(f"{a}{a}", positive=positive_norms)
                else:
                    sym = sp.Symbol(f"{a}{b}", real=True)
                gram[(a, b)] = gram[(b, a)] = sym
                GRAM_LATEX[sym] = rf"({a} \cdot {b})"
        return cls(vectors=dict(vectors), gram=gram)

    def dot(self, a: str, b: str) -> sp.Expr:
        return dot(self.vectors[a], self.vectors[b])

    def to_gram(self, expr: sp.Expr) -> sp.Expr:
        """Replace every dot-product sum by its Gram symbol."""
        subs = {}
        for (a, b), sym in self.gram.items():
            subs[self.dot(a, b)] = sym
        return expr.xreplace(subs)

    def decompose(self, component: sp.Expr) -> dict[str, sp.Expr]:
        """Write a vector given by its l-th component as sum_b coeff_b * b_l.

        Raises if the component is not such a combination (the remainder must vanish).
        """
        expr = sp.expand(self.to_gram(component))
        coeffs: dict[str, sp.Expr] = {}
        rest = expr
        for name, vec in self.vectors.items():
            coeff = expr.coeff(vec(l))
            coeffs[name] = sp.simplify(coeff)
            rest = rest - coeff * vec(l)
        if sp.simplify(rest) != 0:
            raise ValueError(f"not a combination of the Gram basis: remainder {rest}")
        return coeffs

    def contract(self, coeffs: Mapping[str, sp.Expr], with_vector: str) -> sp.Expr:
        """(sum_b coeff_b b) . w as a scalar in Gram symbols."""
        return sp.Add(*(coef * self.gram[(b, with_vector)] for b, coef in coeffs.items()))

    def norm_squared(self, coeffs: Mapping[str, sp.Expr]) -> sp.Expr:
        """||sum_b coeff_b b||^2 in Gram symbols."""
        names = list(coeffs)
        return sp.Add(*(coeffs[a] * coeffs[b] * self.gram[(a, b)] for a in names for b in names))
