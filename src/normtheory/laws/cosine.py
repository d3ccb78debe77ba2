"""Gradient of cosine similarity with respect to the raw embedding (THEORY.md items 1-3).

Derived component-wise in symbolic dimension d: for cos(z, v) = z.v / (|z| |v|),

    d cos / d z_l = A_v v_l + A_z z_l,   A_v = 1 / (N |v|),   A_z = -cos / N^2,

i.e. grad = (v_hat - cos u) / N = P v_hat / N. Every loss of cosines inherits from
this Gram form both the Euler identity z . grad = 0 (item 1) and homogeneity
grad(c z) = grad(z) / c (item 2); both are proved here for any d.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws._calculus import GramBasis, dot, gradient_component
from normtheory.laws._law import COSINE, Check, Law, lambdify_jax, nonzero_rows, scalar_law

z = sp.IndexedBase("z")
v = sp.IndexedBase("v")
scale = sp.Symbol("c_scale", positive=True)  # the c of grad(c z) = grad(z) / c

REFERENCE = (
    "Chain rule for the normalization u = z/|z| (e.g. Wang et al., 'NormFace', "
    "ACM MM 2017, Sec. 3); THEORY.md items 1-3."
)


@functools.cache
def cosine_gram() -> tuple[GramBasis, dict[str, sp.Expr]]:
    """The Gram basis {z, v} and the derived coefficients of grad_z cos(z, v)."""
    basis = GramBasis.of({"z": lambda k: z[k], "v": lambda k: v[k]})
    cos = dot(basis.vectors["z"], basis.vectors["v"]) / sp.sqrt(
        basis.dot("z", "z") * basis.dot("v", "v")
    )
    coeffs = basis.decompose(gradient_component(cos, z))
    return basis, coeffs


def scale_invariance_checks(
    basis: GramBasis, coeffs: Mapping[str, sp.Expr], anchor: str = "z"
) -> tuple[Check, ...]:
    """Euler and homogeneity residuals for a gradient written in a Gram basis.

    Under anchor -> c * anchor, Gram symbols of the anchor scale by c (or c^2); the
    gradient must scale by 1/c. The anchor's own basis vector is also scaled by c, so
    its coefficient must scale by 1/c^2.
    """
    zz = basis.gram[(anchor, anchor)]
    scaling = {zz: scale**2 * zz}
    for other in basis.vectors:
        if other != anchor:
            sym = basis.gram[(anchor, other)]
            scaling[sym] = scale * sym
    checks = [Check("Euler identity: z . grad = 0", basis.contract(coeffs, anchor))]
    for name, coef in coeffs.items():
        checks.append(
            Check(
                f"homogeneity: coefficient of {name} at c*z equals 1/c of it at z",
                coef.xreplace(scaling) * (scale if name == anchor else 1) - coef / scale,
            )
        )
    return tuple(checks)


def cosine_gradient_fn(z_arr: jax.Array, v_arr: jax.Array) -> jax.Array:
    """grad_z cos(z, v) from the derived coefficients; broadcasts over leading axes."""
    a_v, a_z = cosine_coefficient_fns()
    zz = jnp.sum(z_arr * z_arr, axis=-1, keepdims=True)
    zv = jnp.sum(z_arr * v_arr, axis=-1, keepdims=True)
    vv = jnp.sum(v_arr * v_arr, axis=-1, keepdims=True)
    return a_v(zz, zv, vv) * v_arr + a_z(zz, zv, vv) * z_arr


@functools.cache
def cosine_coefficient_fns():
    """JAX twins (A_v, A_z) of the derived coefficients, as functions of (z.z, z.v, v.v)."""
    basis, coeffs = cosine_gram()
    names = (basis.gram[("z", "z")], basis.gram[("z", "v")], basis.gram[("v", "v")])
    return lambdify_jax(names, coeffs["v"]), lambdify_jax(names, coeffs["z"])


def cosine_gradient() -> Law:
    basis, coeffs = cosine_gram()
    grad_l = coeffs["v"] * v[sp.Symbol("l")] + coeffs["z"] * z[sp.Symbol("l")]
    return Law(
        name="cosine_gradient",
        item=3,
        title="gradient of cosine similarity w.r.t. the raw embedding",
        lhs=sp.Symbol(r"\partial_{z_l} \cos(z, v)"),
        rhs=grad_l,
        params=("z", "v"),
        bounds={},
        exact=True,
        assumptions="z != 0 and v != 0; any dimension d.",
        reference=REFERENCE,
        checks=scale_invariance_checks(basis, coeffs),
        fn=cosine_gradient_fn,
        array_checks=(nonzero_rows("z", "v"),),
    )


def cosine_gradient_norm() -> Law:
    basis, coeffs = cosine_gram()
    zz, zv, vv = basis.gram[("z", "z")], basis.gram[("z", "v")], basis.gram[("v", "v")]
    norm2 = basis.norm_squared(coeffs)
    # Express in the norm N and the cosine c of the angle between z and v.
    in_angle = sp.simplify(norm2.xreplace({zv: s.c * sp.sqrt(zz * vv)}).xreplace({zz: s.N**2}))
    rhs = sp.sqrt(sp.factor(in_angle))
    rhs = sp.simplify(sp.powdenest(rhs, force=True))
    return scalar_law(
        name="cosine_gradient_norm",
        item=3,
        title="|grad_z cos| = sin(angle) / N",
        lhs=sp.Symbol(r"\lVert \nabla_z \cos(z, v) \rVert"),
        rhs=rhs,
        params=(s.c, s.N),
        exact=True,
        assumptions="z != 0, v != 0; c = cos(angle(z, v)) in [-1, 1].",
        reference=REFERENCE,
        checks=(
            Check("squared norm equals (1 - c^2) / N^2", in_angle - (1 - s.c**2) / s.N**2),
            Check("law squared equals the derived squared norm", rhs**2 - in_angle),
        ),
        bounds={"c": COSINE},
    )
