"""InfoNCE gradients with respect to raw embeddings (THEORY.md item 3).

Three losses, each a function F of a matrix (or vector) of cosines C only:

- one-sided, soft targets y (sum y = 1; one-hot gives the classic InfoNCE, uniform
  over a positive set gives the supervised multi-positive anchor term):
      F(c) = -sum_k y_k c_k / tau + log sum_k exp(c_k / tau)
- symmetric (CLIP-style), B pairs (z_a, w_a), C_ab = cos(z_a, w_b):
      F(C) = 1/(2B) sum_a [-C_aa/tau + log sum_b exp(C_ab/tau)]
           + 1/(2B) sum_b [-C_bb/tau + log sum_a exp(C_ab/tau)]
- supervised multi-positive (Khosla et al., NeurIPS 2020, "L_out"), one view per
  row, C_ab = cos(z_a, z_b), mask M (b != a), targets Y (row-normalized positives):
      F(C) = 1/B sum_a [-sum_b Y_ab C_ab/tau + log sum_b M_ab exp(C_ab/tau)]

SymPy differentiates F with respect to a generic cosine (indices and sizes symbolic),
the softmax is substituted for the exponential ratio, and the chain rule through the
derived cosine gradient (normtheory.laws.cosine) gives the gradient in z. Because F
depends on z only through cosines, Euler and homogeneity follow term by term from the
cosine checks, for any number of candidates and any dimension.

References: Oord et al., "Representation Learning with Contrastive Predictive
Coding", 2018 (InfoNCE); Radford et al., "CLIP", ICML 2021 (symmetric form);
Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws._law import POSITIVE, Law, lambdify_jax, nonzero_rows, resolve_ranges
from normtheory.laws.cosine import cosine_coefficient_fns, cosine_gram, scale_invariance_checks

K = sp.Symbol("K", integer=True, positive=True)
B = sp.Symbol("B", integer=True, positive=True)
_k, _j = sp.symbols("k j", integer=True, positive=True)
_a, _b = sp.symbols("a b", integer=True, positive=True)
c_idx = sp.IndexedBase("c")
y_idx = sp.IndexedBase("y")
C_idx = sp.IndexedBase("C")
M_idx = sp.IndexedBase("M")
Y_idx = sp.IndexedBase("Y")

# Plain symbols the JAX twins are lambdified in (elementwise, broadcasting).
P = sp.Symbol("P", nonnegative=True)  # softmax probability
P_col = sp.Symbol("P_col", nonnegative=True)  # column softmax (symmetric loss)
Y = sp.Symbol("Y", nonnegative=True)  # target weight
E = sp.Symbol("E", nonnegative=True)  # Kronecker delta of (a, b)
LATEX = {
    P: "P_{ab}",
    P_col: r"P^{\mathrm{col}}_{ab}",
    Y: "Y_{ab}",
    E: r"\delta_{ab}",
}


def _softmax_substitute(expr: sp.Expr, partition: sp.Expr, numerator: sp.Expr, prob) -> sp.Expr:
    """Replace numerator / partition by the softmax probability `prob`."""
    return sp.simplify(expr.xreplace({partition: numerator / prob}))


@functools.cache
def one_sided_logit_gradient() -> sp.Expr:
    """dF/dc_j of the soft-target InfoNCE, in the softmax P and target Y."""
    partition = sp.Sum(sp.exp(c_idx[_k] / s.tau), (_k, 1, K))
    F = -sp.Sum(y_idx[_k] * c_idx[_k], (_k, 1, K)) / s.tau + sp.log(partition)
    dF = resolve_ranges(sp.diff(F, c_idx[_j]).doit())
    dF = _softmax_substitute(dF, partition, sp.exp(c_idx[_j] / s.tau), P)
    return sp.simplify(dF.xreplace({y_idx[_j]: Y}))


@functools.cache
def symmetric_logit_gradient() -> sp.Expr:
    """dF/dC_ab of the symmetric loss, in row softmax P, column softmax P_col, delta E."""
    row_part = sp.Sum(sp.exp(C_idx[_a, _j] / s.tau), (_j, 1, B))
    col_part = sp.Sum(sp.exp(C_idx[_k, _b] / s.tau), (_k, 1, B))
    i, j = sp.symbols("i jj", integer=True, positive=True)
    F = (
        sp.Sum(
            -C_idx[i, i] / s.tau + sp.log(sp.Sum(sp.exp(C_idx[i, j] / s.tau), (j, 1, B))), (i, 1, B)
        )
        + sp.Sum(
            -C_idx[j, j] / s.tau + sp.log(sp.Sum(sp.exp(C_idx[i, j] / s.tau), (i, 1, B))), (j, 1, B)
        )
    ) / (2 * B)
    dF = resolve_ranges(sp.diff(F, C_idx[_a, _b]).doit())
    # SymPy names the inner dummies after the outer ones; normalize them to ours.
    dF = dF.replace(
        lambda e: isinstance(e, sp.Sum) and e.function.has(C_idx[_a, e.variables[0]]),
        lambda e: row_part,
    ).replace(
        lambda e: isinstance(e, sp.Sum) and e.function.has(C_idx[e.variables[0], _b]),
        lambda e: col_part,
    )
    numerator = sp.exp(C_idx[_a, _b] / s.tau)
    dF = dF.xreplace({row_part: numerator / P, col_part: numerator / P_col})
    dF = dF.replace(lambda e: isinstance(e, sp.KroneckerDelta), lambda e: E)
    return sp.simplify(dF)


@functools.cache
def supervised_logit_gradient() -> sp.Expr:
    """dF/dC_ab of the supervised multi-positive loss, in masked softmax P and target Y."""
    i, j = sp.symbols("i jj", integer=True, positive=True)
    F = (
        sp.Sum(
            -sp.Sum(Y_idx[i, j] * C_idx[i, j], (j, 1, B)) / s.tau
            + sp.log(sp.Sum(M_idx[i, j] * sp.exp(C_idx[i, j] / s.tau), (j, 1, B))),
            (i, 1, B),
        )
        / B
    )
    dF = resolve_ranges(sp.diff(F, C_idx[_a, _b]).doit())
    partition = [e for e in dF.atoms(sp.Sum) if e.function.has(M_idx)]
    if len(partition) != 1:
        raise RuntimeError(f"unexpected derivative structure: {dF}")
    numerator = M_idx[_a, _b] * sp.exp(C_idx[_a, _b] / s.tau)
    dF = dF.xreplace({partition[0]: numerator / P}).xreplace({Y_idx[_a, _b]: Y})
    return sp.simplify(dF)


@functools.cache
def _twins():
    """Lambdified logit gradients."""
    return {
        "one_sided": lambdify_jax((P, Y, s.tau), one_sided_logit_gradient()),
        "symmetric": lambdify_jax((P, P_col, E, s.tau, B), symmetric_logit_gradient()),
        "supervised": lambdify_jax((P, Y, s.tau, B), supervised_logit_gradient()),
    }


def chain_through_cosines(z: jax.Array, others: jax.Array, dF_dC: jax.Array) -> jax.Array:
    """sum_m dF/dC_m * grad_z cos(z, others_m), using the derived cosine coefficients.

    Shapes: z (..., d), others (..., M, d), dF_dC (..., M) -> (..., d).
    """
    a_v, a_z = cosine_coefficient_fns()
    zz = jnp.sum(z * z, axis=-1)[..., None]
    zv = jnp.einsum("...d,...md->...m", z, others)
    vv = jnp.sum(others * others, axis=-1)
    coef_v = dF_dC * a_v(zz, zv, vv)
    coef_z = jnp.sum(dF_dC * a_z(zz, zv, vv), axis=-1, keepdims=True)
    return jnp.einsum("...m,...md->...d", coef_v, others) + coef_z * z


def _cosines(x: jax.Array, y: jax.Array) -> jax.Array:
    xn = x / jnp.linalg.norm(x, axis=-1, keepdims=True)
    yn = y / jnp.linalg.norm(y, axis=-1, keepdims=True)
    return jnp.einsum("...d,...md->...m", xn, yn)


def one_sided_gradient_fn(
    z: jax.Array, candidates: jax.Array, targets: jax.Array, tau: jax.Array
) -> jax.Array:
    """grad_z of the soft-target InfoNCE. z (..., d), candidates (..., K, d), targets (..., K)."""
    probs = jax.nn.softmax(_cosines(z, candidates) / tau, axis=-1)
    return chain_through_cosines(z, candidates, _twins()["one_sided"](probs, targets, tau))


def symmetric_gradient_fn(
    z: jax.Array, w: jax.Array, tau: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(grad_z, grad_w) of the symmetric loss for B pairs; z, w (B, d)."""
    cos = _cosines(z, w)
    n = z.shape[0]
    dF = _twins()["symmetric"](
        jax.nn.softmax(cos / tau, axis=1),
        jax.nn.softmax(cos / tau, axis=0),
        jnp.eye(n, dtype=z.dtype),
        tau,
        n,
    )
    return chain_through_cosines(z, w[None], dF), chain_through_cosines(w, z[None], dF.T)


def supervised_gradient_fn(z: jax.Array, labels: jax.Array, tau: jax.Array) -> jax.Array:
    """grad of the supervised multi-positive loss over one batch; z (B, d), labels (B,)."""
    n = z.shape[0]
    mask = ~jnp.eye(n, dtype=bool)
    positives = (labels[:, None] == labels[None, :]) & mask
    targets = positives.astype(z.dtype) / jnp.sum(positives, axis=1, keepdims=True).astype(z.dtype)
    logits = jnp.where(mask, _cosines(z, z) / tau, -jnp.inf)
    dF = _twins()["supervised"](jax.nn.softmax(logits, axis=1), targets, tau, n)
    return chain_through_cosines(z, z[None], dF + dF.T)


def one_sided_gradient_expr() -> sp.Expr:
    """Component l of grad_z: sum_k dF/dc_k (A_v(k) v_{k,l} + A_z(k) z_l), in Gram symbols."""
    basis, coeffs = cosine_gram()
    zv_k, vv_k, p_k, y_k = (sp.IndexedBase(n) for n in (r"(z \cdot v)", r"(v \cdot v)", "p", "y"))
    per_candidate = {basis.gram[("z", "v")]: zv_k[_k], basis.gram[("v", "v")]: vv_k[_k]}
    v_k = sp.IndexedBase("v")
    z = sp.IndexedBase("z")
    l = sp.Symbol("l", integer=True, positive=True)
    dF = one_sided_logit_gradient().xreplace({P: p_k[_k], Y: y_k[_k]})
    term = dF * (
        coeffs["v"].xreplace(per_candidate) * v_k[_k, l]
        + coeffs["z"].xreplace(per_candidate) * z[l]
    )
    return sp.Sum(term, (_k, 1, K))


def _targets_are_distributions(values) -> None:
    targets = values.get("targets")
    if targets is None:
        return
    if np.any(targets < 0) or not np.allclose(np.sum(targets, axis=-1), 1.0, rtol=1e-9):
        raise ValueError("argument 'targets' must be nonnegative and sum to 1 over candidates")


def _labels_have_positives(values) -> None:
    labels = values.get("labels")
    if labels is None:
        return
    _, counts = np.unique(labels, return_counts=True)
    if np.any(counts < 2):
        raise ValueError("argument 'labels': every label must occur at least twice")


def _law(name: str, title: str, lhs: str, rhs: sp.Expr, params, fn, assumptions: str) -> Law:
    basis, coeffs = cosine_gram()
    return Law(
        latex_names=LATEX,
        name=name,
        item=3,
        title=title,
        lhs=sp.Symbol(lhs),
        rhs=rhs,
        params=params,
        bounds={"tau": POSITIVE},
        exact=True,
        assumptions=assumptions
        + " The gradient in z is sum over cosines of dF/dc times the derived cosine "
        "gradient, so z . grad = 0 and grad(c z) = grad(z)/c hold for every term.",
        reference=__doc__.split("References:")[1].strip(),
        checks=scale_invariance_checks(basis, coeffs),
        fn=fn,
        array_checks=(
            nonzero_rows("z", "w", "candidates"),
            _targets_are_distributions,
            _labels_have_positives,
        ),
    )


def infonce_gradient() -> Law:
    return _law(
        "infonce_gradient",
        "one-sided InfoNCE (soft targets): grad_z = sum_k (p_k - y_k)/tau * grad_z cos_k",
        r"\partial_{z_l} L",
        one_sided_gradient_expr(),
        ("z", "candidates", "targets", "tau"),
        one_sided_gradient_fn,
        "Cosine logits over K candidates, targets sum to 1 (one-hot: classic InfoNCE).",
    )


def symmetric_infonce_gradient() -> Law:
    return _law(
        "symmetric_infonce_gradient",
        "symmetric (CLIP) InfoNCE: dL/dC_ab = (P_ab + P^col_ab - 2 delta_ab) / (2 B tau)",
        r"\partial L / \partial C_{ab}",
        symmetric_logit_gradient(),
        ("z", "w", "tau"),
        symmetric_gradient_fn,
        "B positive pairs (z_a, w_a); every w_b is a candidate for z_a and vice versa.",
    )


def supervised_infonce_gradient() -> Law:
    return _law(
        "supervised_infonce_gradient",
        "supervised multi-positive InfoNCE: dL/dC_ab = (P_ab - Y_ab) / (B tau)",
        r"\partial L / \partial C_{ab}",
        supervised_logit_gradient(),
        ("z", "labels", "tau"),
        supervised_gradient_fn,
        "One view per row; positives share a label; every anchor has at least one positive.",
    )
