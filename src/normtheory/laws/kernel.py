"""The kernel norm budget of a shared encoder (THEORY.md item 15).

Item i's embedding is a function of the parameters, z_i = f_i(theta) (the "probe"). An
optimizer whose parameter step is, at first order, d theta = -eta P sum_j J_j^T g_j
(g_j = dL/dz_j, J_j = df_j/dtheta, P the diagonal preconditioner of the step: I for SGD,
diag(1 / (sqrt(v) + eps)) for Adam with b1 = 0) moves every embedding by

    dz_i = -eta sum_j K_ij g_j + r_i,   K_ij = J_i P J_j^T  (a d x d block),

with a remainder r_i = (eta^2 / 2) u^T Hess(f_i) u, u = -P sum_j J_j^T g_j, that vanishes
for encoders linear in theta (free table, compositional sums of features). The first-order
kick splits into the item's own rows and the others, k = k_self + k_cross (+ k_rest: the
momentum buffer's past updates, Adam's first moment, anything outside the kernel), and the
drift and heat of item 12 split with it:

    drift_x = 2 (1 - eta lam) z_i . k_x,
    heat_self = |k_self|^2, heat_cross = |k_self + k_cross|^2 - |k_self|^2,
    heat_rest = |k|^2 - |k_self + k_cross|^2,

so the parts add up to item 12's drift and heat exactly. Note that 2 z_i . r_i is of order
eta^2, the order of the heat: for a nonlinear encoder the curvature remainder competes with
the heat, and the split covers the kernel part only.

Euler (z_i . g_i = 0, item 1) gives drift_self = -2 eta z_i^T K_ii g_i
= -2 eta z_i^T (K_ii - tr(K_ii)/d I) g_i: zero when K_ii is a multiple of I (table,
compositional encoder under SGD), generally not for an MLP, whose earlier layers make K_ii
anisotropic. Exact kernels: free table K_ij = delta_ij I; compositional encoder (z_i = sum of
the features on i's root-to-node path) under SGD K_ij = m_ij I with m_ij = |path(i) and
path(j) in common| = depth(lca(i, j)) + 1, so heat_self = eta^2 (depth_i + 1)^2 |g_i|^2;
under Adam (b1 = 0) K_ij = sum over shared path features f of diag(1 / (sqrt(v_f) + eps)).

Every derivation below is built from explicit SymPy matrices of symbols at a small size
(d = 2 or 3, two or three items, a tree of seven nodes); identities between matrices are
checked through one scalar, the contraction with independent weight symbols, which is zero
exactly when every entry is. The numeric twins (`empirical_kernel`, `kernel_split`, ...)
are pure JAX.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws._calculus import GramBasis
from normtheory.laws._law import POSITIVE, Check, Law, scalar_law
from normtheory.laws.budget import budget_terms
from normtheory.laws.gd_step import gd_norm_step

REFERENCE = (
    "Jacot, Gabriel and Hongler, 'Neural Tangent Kernel', NeurIPS 2018 (the kernel "
    "J_i J_j^T); derived here from dz = J d theta; THEORY.md item 15."
)

depth = sp.Symbol("depth", integer=True, nonnegative=True)  # depth of an item in the tree
gg = sp.Symbol("gg", nonnegative=True)  # |g_i|^2, the squared loss gradient at item i
eps = sp.Symbol("epsilon", positive=True)  # Adam's epsilon
_i, _j, _a, _b, _f = sp.symbols("i j a b f", integer=True, positive=True)
n_items = sp.Symbol("n_items", integer=True, positive=True)
n_features = sp.Symbol("F", integer=True, positive=True)
LATEX = {
    depth: r"\mathrm{depth}",
    gg: r"|g_i|^{2}",
    n_items: "I",
    eps: r"\epsilon",
}

# The explicit tree of the compositional derivations: root, two children, four leaves.
TREE_DEPTH, TREE_BRANCHING, DIM = 2, 2, 2


class CompleteTree(NamedTuple):
    """A complete tree as plain tuples, for the symbolic derivations.

    Nodes are numbered breadth-first (root 0, node n > 0 has parent (n - 1) // branching),
    the numbering of the sampler's trees (normtheory.data.hierarchy), so a derivation's
    node i is the data's node i. parent (n,) with -1 for the root; depth (n,);
    ancestors (n,) root-to-node paths, the node itself last (unpadded).
    """

    parent: tuple[int, ...]
    depth: tuple[int, ...]
    ancestors: tuple[tuple[int, ...], ...]

    @property
    def num_nodes(self) -> int:
        """Number of nodes, sum_{k=0..height} branching^k."""
        return len(self.parent)


@functools.cache
def complete_tree(height: int, branching: int) -> CompleteTree:
    """The complete tree with `height` >= 1 levels below the root and `branching` >= 2.

    Args:
        height: levels below the root.
        branching: children per node.

    Returns:
        The `CompleteTree` of sum_{k=0..height} branching^k nodes.
    """
    if int(height) != height or height < 1:
        raise ValueError(f"height must be an int >= 1, got {height!r}")
    if int(branching) != branching or branching < 2:
        raise ValueError(f"branching must be an int >= 2, got {branching!r}")
    size = (branching ** (height + 1) - 1) // (branching - 1)
    parent = [-1] + [(n - 1) // branching for n in range(1, size)]
    paths: list[tuple[int, ...]] = [(0,)]
    for n in range(1, size):
        paths.append((*paths[parent[n]], n))
    return CompleteTree(tuple(parent), tuple(len(p) - 1 for p in paths), tuple(paths))


def _vector(name: str, size: int, **assumptions: Any) -> sp.Matrix:
    return sp.Matrix([sp.Symbol(f"{name}_{a}", real=True, **assumptions) for a in range(size)])


def _components(vector: sp.IndexedBase) -> Callable[[sp.Basic], sp.Expr]:
    """index -> component, for a GramBasis in symbolic dimension."""
    return lambda index: vector[index]


def _contract(entries: Iterable[sp.Expr], tag: str) -> sp.Expr:
    """sum_e omega_e R_e with independent weights omega_e: zero exactly when every R_e is."""
    entries = list(entries)
    weights = sp.symbols(f"omega_{tag}_0:{len(entries)}", real=True)
    return sp.Add(*(w * e for w, e in zip(weights, entries, strict=True)))


def _kernel_blocks(jacobians: Sequence[sp.Matrix], precond: sp.Matrix) -> list[list[sp.Matrix]]:
    """K_ij = J_i P J_j^T for every pair of items."""
    return [[ji * precond * jj.T for jj in jacobians] for ji in jacobians]


# --- the first-order change -------------------------------------------------------------


@functools.cache
def _generic_encoder() -> dict[str, Any]:
    """Two items, d = 2, three parameters, arbitrary smooth f_ia(theta), preconditioner P."""
    theta = sp.symbols("w_0:3", real=True)
    probes = [sp.Matrix([sp.Function(f"f_{i}{a}")(*theta) for a in range(2)]) for i in range(2)]
    grads = [_vector(f"g{i}", 2) for i in range(2)]
    precond = sp.diag(*sp.symbols("p_0:3", positive=True))
    jacobians = [f.jacobian(theta) for f in probes]
    step = -precond * sum((j.T * g for j, g in zip(jacobians, grads, strict=True)), sp.zeros(3, 1))
    return {
        "theta": theta,
        "probes": probes,
        "grads": grads,
        "precond": precond,
        "jacobians": jacobians,
        "step": step,
        "kernel": _kernel_blocks(jacobians, precond),
    }


def _first_order_residual(model: dict[str, Any], items: Sequence[int], tag: str) -> sp.Expr:
    """d/d eta of z_i(theta + eta u) at eta = 0 minus (-sum_j K_ij g_j), contracted over (i, a).

    z_i(theta + eta u) - z_i(theta) vanishes at eta = 0, so a zero residual is the claim
    dz_i = -eta sum_j K_ij g_j + O(eta^2). (The derivative is taken directly: a series of
    an undefined function of a shifted argument leaves Subs objects SymPy cannot cancel.)
    """
    shift = {t: t + s.eta * u for t, u in zip(model["theta"], model["step"], strict=True)}
    entries = []
    for i in items:
        predicted = -sum(
            (k * g for k, g in zip(model["kernel"][i], model["grads"], strict=True)),
            sp.zeros(*model["probes"][i].shape),
        )
        rate = sp.diff(model["probes"][i].xreplace(shift), s.eta).subs(s.eta, 0).doit()
        entries += list(rate - predicted)
    return _contract(entries, tag)


def _exact_change_residual(model: dict[str, Any], tag: str) -> sp.Expr:
    """z_i(theta + eta u) - z_i(theta) - (-eta sum_j K_ij g_j) for every item, contracted."""
    shift = {t: t + s.eta * u for t, u in zip(model["theta"], model["step"], strict=True)}
    entries = []
    for i, probe in enumerate(model["probes"]):
        predicted = -s.eta * sum(
            (k * g for k, g in zip(model["kernel"][i], model["grads"], strict=True)),
            sp.zeros(*probe.shape),
        )
        entries += list(probe.xreplace(shift) - probe - predicted)
    return _contract(entries, tag)


@functools.cache
def _curved_encoder() -> dict[str, Any]:
    """z_i = b sigma(a x_i), sigma(t) = t + c t^2: nonlinear in (a, b), d = 2, two items."""
    a = sp.Symbol("a", real=True)
    b = _vector("b", 2)
    c = sp.Symbol("c", real=True)
    theta = (a, *b)
    inputs = sp.symbols("x_0:2", real=True)
    probes = [b * (a * x + c * (a * x) ** 2) for x in inputs]
    grads = [_vector(f"g{i}", 2) for i in range(2)]
    precond = sp.diag(*sp.symbols("p_0:3", positive=True))
    jacobians = [f.jacobian(theta) for f in probes]
    step = -precond * sum((j.T * g for j, g in zip(jacobians, grads, strict=True)), sp.zeros(3, 1))
    return {
        "theta": theta,
        "probes": probes,
        "grads": grads,
        "precond": precond,
        "jacobians": jacobians,
        "step": step,
        "kernel": _kernel_blocks(jacobians, precond),
    }


def _second_order_residual() -> sp.Expr:
    """Exact change minus kernel change minus (eta^2 / 2) u^T Hess(f_0a) u, item 0."""
    model = _curved_encoder()
    shift = {t: t + s.eta * u for t, u in zip(model["theta"], model["step"], strict=True)}
    probe, u = model["probes"][0], model["step"]
    predicted = -s.eta * (model["kernel"][0][0] * model["grads"][0])
    predicted -= s.eta * (model["kernel"][0][1] * model["grads"][1])
    entries = []
    for a in range(2):
        curvature = (u.T * sp.hessian(probe[a], model["theta"]) * u)[0] / 2
        entries.append(probe[a].xreplace(shift) - probe[a] - predicted[a] - s.eta**2 * curvature)
    # Expanded and collected in eta, so the series of the check is cheap.
    return sp.collect(sp.expand(_contract(entries, "curv")), s.eta)


def _kernel_structure_residuals() -> tuple[sp.Expr, sp.Expr]:
    """(K_ji - K_ij^T, sum_ij g_i^T K_ij g_j - |P^(1/2) sum_j J_j^T g_j|^2), contracted."""
    jacobians = [sp.Matrix(2, 3, sp.symbols(f"J{i}_0:6", real=True)) for i in range(2)]
    p = sp.symbols("p_0:3", positive=True)
    kernel = _kernel_blocks(jacobians, sp.diag(*p))
    grads = [_vector(f"g{i}", 2) for i in range(2)]
    symmetry = _contract(
        (e for i in range(2) for j in range(2) for e in kernel[j][i] - kernel[i][j].T), "sym"
    )
    quadratic = sum(
        ((grads[i].T * kernel[i][j] * grads[j])[0] for i in range(2) for j in range(2)), 0
    )
    pulled = sum((j.T * g for j, g in zip(jacobians, grads, strict=True)), sp.zeros(3, 1))
    return symmetry, quadratic - sum(pk * x**2 for pk, x in zip(p, pulled, strict=True))


def kernel_change(K: jax.Array, g: jax.Array, eta: jax.Array) -> jax.Array:
    """First-order change of every probe, -eta sum_j K_ij g_j.

    K (I, I, d, d), g (I, d) (row j: dL/dz_j) -> (I, d).
    """
    return -eta * jnp.einsum("ijab,jb->ia", K, g)


def kernel_first_order() -> Law:
    K, g = sp.IndexedBase("K"), sp.IndexedBase("g")
    linear = _compositional_model(1, 2, generic_precond=True)
    symmetry, psd = _kernel_structure_residuals()
    return Law(
        latex_names=LATEX,
        name="kernel_first_order",
        item=15,
        title="kernel change: dz_i = -eta sum_j K_ij g_j + O(eta^2), K_ij = J_i P J_j^T",
        lhs=sp.Symbol(r"\Delta z_i"),
        rhs=-s.eta * sp.Sum(K[_i, _j] * g[_j], (_j, 1, n_items)),
        params=("K", "g", "eta"),
        bounds={"eta": POSITIVE},
        exact=False,
        assumptions="Parameter step d theta = -eta P sum_j J_j^T g_j with a diagonal "
        "preconditioner P (SGD: I; Adam with b1 = 0: diag(1/(sqrt(v)+eps))); first order in "
        "eta. The remainder is (eta^2/2) u^T Hess(f_i) u and vanishes for encoders linear in "
        "the parameters (free table, compositional).",
        reference=REFERENCE,
        checks=(
            Check(
                "any smooth encoder: d z_i / d eta at eta = 0 is -sum_j K_ij g_j",
                _first_order_residual(_generic_encoder(), (0, 1), "first"),
            ),
            Check(
                "curved encoder b sigma(a x): remainder (eta^2/2) u^T Hess(z_i) u + O(eta^3)",
                _second_order_residual(),
                kind="leading_order",
                small=s.eta,
                order=3,
            ),
            Check(
                "linear encoder (sum of path features): the kernel change is exact",
                _exact_change_residual(linear, "linear"),
            ),
            Check("blocks are symmetric: K_ji = K_ij^T", symmetry),
            Check(
                "positive semidefinite: sum_ij g_i^T K_ij g_j = sum_k p_k (sum_j J_j^T g_j)_k^2",
                psd,
            ),
        ),
        fn=kernel_change,
    )


# --- the self / cross / rest split -------------------------------------------------------


@functools.cache
def split_terms() -> tuple[GramBasis, dict[str, sp.Expr]]:
    """Gram basis {z, k_s, k_c, k_r} and the six parts of item 12's drift and heat."""
    basis = GramBasis.of(
        {name: _components(sp.IndexedBase(name)) for name in ("z", "k_s", "k_c", "k_r")}
    )
    one = sp.Integer(1)
    shrink = 1 - s.eta * s.lam
    heat_s = basis.norm_squared({"k_s": one})
    heat_sc = basis.norm_squared({"k_s": one, "k_c": one})
    heat_all = basis.norm_squared({"k_s": one, "k_c": one, "k_r": one})
    terms = {
        "drift_self": 2 * shrink * basis.gram[("z", "k_s")],
        "drift_cross": 2 * shrink * basis.gram[("z", "k_c")],
        "drift_rest": 2 * shrink * basis.gram[("z", "k_r")],
        "heat_self": heat_s,
        "heat_cross": sp.expand(heat_sc - heat_s),
        "heat_rest": sp.expand(heat_all - heat_sc),
    }
    return basis, terms


def kernel_split(
    K: jax.Array,
    z: jax.Array,
    g: jax.Array,
    eta: jax.Array,
    own: jax.Array | None = None,
    rest: jax.Array | None = None,
    eta_lam: jax.Array | float = 0.0,
) -> dict[str, jax.Array]:
    """Self, cross and rest parts of every item's first-order drift and heat.

    K (I, I, d, d) the kernel over the I probed items, z (I, d) their embeddings.
    g (B, d): loss-gradient rows, row b taken at item own[b] (own (B,) ints in [0, I));
    own=None means g (I, d) with row i at item i. A row is "self" for the item it belongs
    to (several rows may belong to one item) and "cross" for every other item.
    rest (I, d): the non-kernel part of the kick (momentum buffer, ...), default 0.
    eta_lam: eta * lam of the step's weight decay; drift is taken along (1 - eta lam) z.
    Returns drift_{self,cross,rest} and heat_{self,cross,rest}, each (I,); their sums are
    item 12's drift and heat of the kick k = k_self + k_cross + k_rest.
    """
    n = K.shape[0]
    own = jnp.arange(n) if own is None else jnp.asarray(own)
    contrib = -eta * jnp.einsum("ibxy,by->ibx", K[:, own], g)  # (I, B, d)
    is_self = (own[None, :] == jnp.arange(n)[:, None])[..., None]
    k_self = jnp.sum(jnp.where(is_self, contrib, 0.0), axis=1)
    k_cross = jnp.sum(jnp.where(is_self, 0.0, contrib), axis=1)
    k_rest = jnp.zeros_like(k_self) if rest is None else rest
    base = (1 - eta_lam) * z

    def sq(x):
        return jnp.sum(x * x, axis=-1)

    kernel_kick = k_self + k_cross
    return {
        "drift_self": 2 * jnp.sum(base * k_self, axis=-1),
        "drift_cross": 2 * jnp.sum(base * k_cross, axis=-1),
        "drift_rest": 2 * jnp.sum(base * k_rest, axis=-1),
        "heat_self": sq(k_self),
        "heat_cross": sq(kernel_kick) - sq(k_self),
        "heat_rest": sq(kernel_kick + k_rest) - sq(kernel_kick),
    }


def kernel_split_law() -> Law:
    basis, terms = split_terms()
    one = sp.Integer(1)
    total = sp.Add(*terms.values())
    shrink = 1 - s.eta * s.lam
    kick = {"k_s": one, "k_c": one, "k_r": one}
    change = sp.expand(basis.norm_squared({"z": shrink, **kick}) - basis.gram[("z", "z")])
    decay = (shrink**2 - 1) * basis.gram[("z", "z")]
    # Item 12's budget in its own Gram basis {z, k}, with k = k_s + k_c + k_r.
    b12, terms12, _ = budget_terms()
    as_parts = {
        b12.gram[("z", "z")]: basis.gram[("z", "z")],
        b12.gram[("z", "k")]: basis.contract(kick, "z"),
        b12.gram[("k", "k")]: basis.norm_squared(kick),
    }
    return Law(
        latex_names=LATEX,
        name="kernel_split",
        item=15,
        title="kernel split: drift and heat = self + cross + rest parts",
        lhs=s.N_next**2 - s.N**2 - sp.Symbol(r"\mathrm{decay}"),
        rhs=total,
        params=("K", "z", "g", "eta"),
        bounds={"eta": POSITIVE},
        exact=True,
        assumptions="z' = (1 - eta lam) z + k with the first-order kick k = k_self + k_cross "
        "+ k_rest: k_self from the item's own gradient rows through K_ii, k_cross from the "
        "other rows through K_ij, k_rest the non-kernel part (momentum buffer); heat parts "
        "nested so they add up exactly.",
        reference=REFERENCE,
        checks=(
            Check("parts plus decay sum to N'^2 - N^2", change - decay - total),
            Check(
                "drift parts sum to item 12's drift, heat parts to its heat",
                _contract(
                    (
                        terms12["drift"].xreplace(as_parts)
                        - sum(v for k, v in terms.items() if k.startswith("drift")),
                        terms12["heat"].xreplace(as_parts)
                        - sum(v for k, v in terms.items() if k.startswith("heat")),
                    ),
                    "budget",
                ),
            ),
            Check(
                "heat_cross = 2 k_s.k_c + k_c.k_c",
                terms["heat_cross"] - 2 * basis.gram[("k_s", "k_c")] - basis.gram[("k_c", "k_c")],
            ),
        ),
        fn=kernel_split,
    )


# --- Euler and the self drift ------------------------------------------------------------


def _tangent(z: sp.Matrix, h: sp.Matrix) -> sp.Matrix:
    """|z|^2 (I - z z^T / |z|^2) h: a general gradient obeying Euler (z . g = 0).

    Every vector orthogonal to z has this form for some h (the factor |z|^2 > 0 keeps the
    components polynomial, so the checks expand instead of simplifying fractions).
    """
    return z.dot(z) * h - z.dot(h) * z


def _isotropic_part(K: sp.Matrix) -> sp.Matrix:
    return K.trace() / K.shape[0] * sp.eye(K.shape[0])


def self_drift(K_ii: jax.Array, z: jax.Array, g: jax.Array, eta: jax.Array) -> jax.Array:
    """-2 eta z^T (K_ii - tr(K_ii)/d I) g: the self drift when z . g = 0.

    K_ii (..., d, d), z (..., d), g (..., d) -> (...).
    """
    d = K_ii.shape[-1]
    trace = jnp.trace(K_ii, axis1=-2, axis2=-1)[..., None, None]
    aniso = K_ii - trace / d * jnp.eye(d, dtype=K_ii.dtype)
    return -2 * eta * jnp.einsum("...a,...ab,...b->...", z, aniso, g)


def _two_layer_self_kernel() -> tuple[sp.Expr, sp.Expr]:
    """Linear net z = W2 W1 x (d = 2): the derived K_ii versus its closed form, and the drift.

    The drift identity needs only Euler, z . g = 0, so it is checked for any z.
    """
    W1 = sp.Matrix(2, 2, sp.symbols("V_0:4", real=True))
    W2 = sp.Matrix(2, 2, sp.symbols("W_0:4", real=True))
    x = _vector("x", 2)
    jac = (W2 * W1 * x).jacobian(list(W1) + list(W2))
    kernel = jac * jac.T
    hidden = W1 * x
    closed = hidden.dot(hidden) * sp.eye(2) + x.dot(x) * W2 * W2.T
    z = _vector("z", 2)
    g = _tangent(z, _vector("h", 2))
    drift = -2 * s.eta * (z.T * kernel * g)[0]
    stated = -2 * s.eta * x.dot(x) * (z.T * W2 * W2.T * g)[0]
    return _contract(kernel - closed, "mlp"), drift - stated


def euler_self_drift() -> Law:
    d = 3
    z, h = _vector("z", d), _vector("h", d)
    g = _tangent(z, h)
    J = sp.Matrix(d, 4, sp.symbols("J_0:12", real=True))
    K = J * sp.diag(*sp.symbols("p_0:4", positive=True)) * J.T
    c = sp.Symbol("c", real=True)
    drift = -2 * s.eta * (z.T * K * g)[0]
    aniso = -2 * s.eta * (z.T * (K - _isotropic_part(K)) * g)[0]
    mlp_kernel, mlp_drift = _two_layer_self_kernel()
    dim = sp.Symbol("d", integer=True, positive=True)
    Kd = sp.MatrixSymbol("K_ii", dim, dim)
    zv, gv = sp.MatrixSymbol("z_i", dim, 1), sp.MatrixSymbol("g_i", dim, 1)
    return Law(
        latex_names=LATEX,
        name="euler_self_drift",
        item=15,
        title="self drift: -2 eta z^T (K_ii - tr K_ii / d I) g, zero when K_ii = c I",
        lhs=sp.Symbol(r"\mathrm{drift}_{\mathrm{self}}"),
        rhs=-2 * s.eta * zv.T * (Kd - sp.Trace(Kd) / dim * sp.Identity(dim)) * gv,
        params=("K_ii", "z", "g", "eta"),
        bounds={"eta": POSITIVE},
        exact=True,
        assumptions="Scale-invariant loss, so z_i . g_i = 0 (item 1); first-order self kick "
        "k_self = -eta K_ii g_i (lam = 0; with decay multiply by 1 - eta lam).",
        reference=REFERENCE,
        checks=(
            Check("g = (z.z) h - (z.h) z obeys Euler", z.dot(g)),
            Check(
                "K_ii = c I: the self drift vanishes", (-2 * s.eta * (z.T * (c * sp.eye(d)) * g))[0]
            ),
            Check("K_ii = J P J^T: self drift = -2 eta z^T (K - tr K/d I) g", drift - aniso),
            Check("linear net W2 W1 x: K_ii = (W1 x).(W1 x) I + (x.x) W2 W2^T", mlp_kernel),
            Check(
                "linear net: self drift = -2 eta (x.x) z.(W2 W2^T g), from the first layer",
                mlp_drift,
            ),
        ),
        fn=self_drift,
    )


# --- compositional encoder: exact kernels --------------------------------------------------


def path_nodes(path: np.ndarray) -> set[int]:
    """The node ids on one padded ancestor path (dropping the -1 padding)."""
    return {int(n) for n in path if n >= 0}


def path_overlap(path_i: np.ndarray, path_j: np.ndarray) -> int:
    """m_ij = |path(i) and path(j) in common|: the features two items share."""
    return len(path_nodes(path_i) & path_nodes(path_j))


def _lca_depth(tree: CompleteTree, i: int, j: int) -> int:
    """Depth of the lowest common ancestor, by walking parents (independent of the paths)."""
    i, j = int(i), int(j)
    while i != j:
        if tree.depth[i] >= tree.depth[j]:
            i = int(tree.parent[i])
        else:
            j = int(tree.parent[j])
    return int(tree.depth[i])


@functools.cache
def _compositional_model(height: int, branching: int, generic_precond: bool) -> dict[str, Any]:
    """Features F (n_nodes x DIM symbols), z_i = sum of path features, J_i, and K_ij.

    The tree is complete_tree(height, branching); every node is a probed item.
    generic_precond: P = diag of positive symbols q (one per parameter), else P = I.
    """
    tree = complete_tree(height, branching)
    n = tree.num_nodes
    features = sp.Matrix(n, DIM, sp.symbols(f"F_0:{n * DIM}", real=True))
    theta = list(features)
    probes = [
        sum((features.row(f).T for f in path_nodes(tree.ancestors[i])), sp.zeros(DIM, 1))
        for i in range(n)
    ]
    q = sp.symbols(f"q_0:{n * DIM}", positive=True) if generic_precond else (1,) * (n * DIM)
    precond = sp.diag(*q)
    jacobians = [z.jacobian(theta) for z in probes]
    grads = [_vector(f"g{i}", DIM) for i in range(n)]
    step = -precond * sum(
        (j.T * g for j, g in zip(jacobians, grads, strict=True)), sp.zeros(n * DIM, 1)
    )
    return {
        "tree": tree,
        "theta": theta,
        "features": features,
        "probes": probes,
        "grads": grads,
        "precond": precond,
        "q": sp.Matrix(n, DIM, q),
        "jacobians": jacobians,
        "step": step,
        "kernel": _kernel_blocks(jacobians, precond),
    }


def compositional_kernel(paths: jax.Array, precond: jax.Array) -> jax.Array:
    """K_ij = sum over shared path features f of diag(precond_f).

    paths (I, depth + 1) ancestor ids padded with -1; precond (F, d) the diagonal
    preconditioner of each feature (ones for SGD, 1 / (sqrt(v) + eps) for Adam with
    b1 = 0) -> K (I, I, d, d).
    """
    onehot = jax.nn.one_hot(paths, precond.shape[0], dtype=precond.dtype)
    member = jnp.sum(jnp.where((paths >= 0)[..., None], onehot, 0), axis=-2)  # (I, F)
    diag = jnp.einsum("if,jf,fa->ija", member, member, precond)
    return diag[..., :, None] * jnp.eye(precond.shape[1], dtype=precond.dtype)


def compositional_sgd_kernel_fn(paths: jax.Array, dim: int) -> jax.Array:
    """K_ij = m_ij I under SGD. paths (I, depth + 1) padded with -1 -> (I, I, dim, dim)."""
    num_features = int(np.max(np.asarray(paths))) + 1
    ones = jnp.ones((num_features, dim), dtype=jnp.result_type(float))
    return compositional_kernel(paths, ones)


def compositional_sgd_kernel() -> Law:
    model = _compositional_model(TREE_DEPTH, TREE_BRANCHING, generic_precond=False)
    tree, kernel, n = model["tree"], model["kernel"], len(model["probes"])
    overlap = [
        [path_overlap(tree.ancestors[i], tree.ancestors[j]) for j in range(n)] for i in range(n)
    ]
    eye = sp.eye(DIM)
    mismatch = (e for i in range(n) for j in range(n) for e in kernel[i][j] - overlap[i][j] * eye)
    lca = (overlap[i][j] - (_lca_depth(tree, i, j) + 1) for i in range(n) for j in range(n))
    # Free table: three items, each its own parameter row.
    rows = sp.Matrix(3, DIM, sp.symbols(f"T_0:{3 * DIM}", real=True))
    table_jac = [rows.row(i).T.jacobian(list(rows)) for i in range(3)]
    table_kernel = _kernel_blocks(table_jac, sp.eye(3 * DIM))
    table_grads = [_vector(f"g{i}", DIM) for i in range(3)]
    table_cross = (
        e
        for i in range(3)
        for e in sum(
            (table_kernel[i][j] * table_grads[j] for j in range(3) if j != i), sp.zeros(DIM, 1)
        )
    )
    z, g = model["probes"], model["grads"]
    cross_drift = (
        2
        * z[i].dot(
            -s.eta * sum((kernel[i][j] * g[j] for j in range(n) if j != i), sp.zeros(DIM, 1))
        )
        - (-2 * s.eta * sum(overlap[i][j] * z[i].dot(g[j]) for j in range(n) if j != i))
        for i in range(n)
    )
    m = sp.IndexedBase("m")
    return Law(
        latex_names=LATEX,
        name="compositional_sgd_kernel",
        item=15,
        title="compositional kernel under SGD: K_ij = m_ij I, m_ij = depth(lca) + 1",
        lhs=sp.IndexedBase("K")[_i, _j, _a, _b],
        rhs=m[_i, _j] * sp.KroneckerDelta(_a, _b),
        params=("paths", "dim"),
        bounds={},
        exact=True,
        assumptions="z_i = sum of the feature vectors on i's root-to-node path; plain SGD "
        "(P = I). m_ij counts the features the two paths share. Checked on a complete tree "
        f"of depth {TREE_DEPTH}, branching {TREE_BRANCHING}, d = {DIM}.",
        reference=REFERENCE,
        checks=(
            Check("J_i J_j^T = m_ij I for every pair of nodes", _contract(mismatch, "comp")),
            Check("m_ij = depth of the lowest common ancestor + 1", _contract(lca, "lca")),
            Check(
                "free table: K_ij = delta_ij I, the cross kick is exactly 0",
                _contract(table_cross, "table"),
            ),
            Check(
                "cross drift = -2 eta sum_{j != i} m_ij z_i.g_j",
                _contract(cross_drift, "xdrift"),
            ),
        ),
        fn=compositional_sgd_kernel_fn,
    )


def self_heat_expr() -> sp.Expr:
    """eta^2 m_ii^2 |g|^2 with m_ii = depth + 1, derived from k_self = -eta m_ii g.

    A root-to-node path at depth k holds k + 1 features, so m_ii = depth + 1.
    """
    basis = GramBasis.of({"g": _components(sp.IndexedBase("g"))})
    m_ii = sp.Symbol("m_ii", positive=True)
    heat = basis.norm_squared({"g": -s.eta * m_ii})
    return sp.factor(heat.xreplace({basis.gram[("g", "g")]: gg, m_ii: depth + 1}))


def compositional_self_heat() -> Law:
    rhs = self_heat_expr()
    model = _compositional_model(TREE_DEPTH, TREE_BRANCHING, generic_precond=False)
    tree = model["tree"]
    per_node = []
    for i in range(len(model["probes"])):
        g = model["grads"][i]
        kick = -s.eta * model["kernel"][i][i] * g
        per_node.append(kick.dot(kick) - rhs.xreplace({depth: int(tree.depth[i]), gg: g.dot(g)}))
    gd_heat = gd_norm_step().rhs - s.N**2
    return scalar_law(
        latex_names=LATEX,
        name="compositional_self_heat",
        item=15,
        title="compositional self heat: eta^2 (depth + 1)^2 |g_i|^2",
        lhs=sp.Symbol(r"\mathrm{heat}_{\mathrm{self}}"),
        rhs=rhs,
        params=(s.eta, depth, gg),
        exact=True,
        assumptions="Compositional encoder under SGD, k_self = -eta K_ii g_i with K_ii = "
        "(depth_i + 1) I; first order (exact here, the encoder is linear).",
        reference=REFERENCE,
        checks=(
            Check(
                "equals the squared norm of eta K_ii g_i at every node of the tree",
                _contract(per_node, "heat"),
            ),
            Check(
                "depth 0 (a table row): the heat eta^2 G^2/N^2 of item 4",
                rhs.xreplace({depth: 0, gg: s.G2 / s.N**2}) - gd_heat,
            ),
        ),
    )


def compositional_adam_kernel() -> Law:
    model = _compositional_model(TREE_DEPTH, TREE_BRANCHING, generic_precond=True)
    tree, kernel, n = model["tree"], model["kernel"], len(model["probes"])
    v = sp.Matrix(tree.num_nodes, DIM, sp.symbols(f"v_0:{tree.num_nodes * DIM}", positive=True))
    adam = {q: 1 / (sp.sqrt(vq) + eps) for q, vq in zip(model["q"], v, strict=True)}

    def shared_sum(i: int, j: int, per_feature: Callable[[int], sp.Matrix]) -> sp.Matrix:
        shared = path_nodes(tree.ancestors[i]) & path_nodes(tree.ancestors[j])
        return sum((per_feature(f) for f in shared), sp.zeros(DIM, DIM))

    def adam_diag(f: int) -> sp.Matrix:
        return sp.diag(*(1 / (sp.sqrt(v[f, a]) + eps) for a in range(DIM)))

    stated = (
        e
        for i in range(n)
        for j in range(n)
        for e in kernel[i][j].xreplace(adam) - shared_sum(i, j, adam_diag)
    )
    v0 = sp.Symbol("v", positive=True)
    uniform = (
        e
        for i in range(n)
        for j in range(n)
        for e in kernel[i][j].xreplace({q: 1 / (sp.sqrt(v0) + eps) for q in model["q"]})
        - path_overlap(tree.ancestors[i], tree.ancestors[j]) / (sp.sqrt(v0) + eps) * sp.eye(DIM)
    )
    A, vb = sp.IndexedBase("A"), sp.IndexedBase("v")
    return Law(
        latex_names=LATEX,
        name="compositional_adam_kernel",
        item=15,
        title="compositional Adam kernel (b1 = 0): sum of shared diag(1/(sqrt(v_f) + eps))",
        lhs=sp.IndexedBase("K")[_i, _j, _a, _b],
        rhs=sp.KroneckerDelta(_a, _b)
        * sp.Sum(A[_i, _f] * A[_j, _f] / (sp.sqrt(vb[_f, _a]) + eps), (_f, 1, n_features)),
        params=("paths", "precond"),
        bounds={"precond": POSITIVE},
        exact=True,
        assumptions="Compositional encoder; Adam without the first moment's memory (b1 = 0), "
        "P = diag(1/(sqrt(v)+eps)) with v the second moment of each feature coordinate; "
        "A_if = 1 when feature f is on i's path. A feature's step g_f/(sqrt(v_f)+eps) is "
        "measured against its own gradient history, not the root's: a deep, rarely updated "
        "feature (small v_f) moves at least as far per update as the root (by about "
        "1/sqrt(p_f) if v_f ~ p_f g_f^2 for a feature updated in a fraction p_f of steps).",
        reference=REFERENCE,
        checks=(
            Check(
                "J_i P J_j^T = sum over shared path features of diag(1/(sqrt(v_f)+eps))",
                _contract(stated, "adam"),
            ),
            Check(
                "equal second moments v_f = v: the SGD kernel m_ij I / (sqrt(v) + eps)",
                _contract(uniform, "uniform"),
            ),
        ),
        fn=compositional_kernel,
    )


# --- the empirical kernel ----------------------------------------------------------------


def empirical_kernel(
    probe: Callable[[Any], jax.Array], params: Any, precond: Any | None = None
) -> jax.Array:
    """K_ij = J_i P J_j^T of any encoder, from jax.jacobian of the probe.

    probe(params) -> (I, d) embeddings of the probed items; params any pytree; precond a
    pytree like params of diagonal preconditioner values (default: identity, SGD).
    Returns K (I, I, d, d).
    """
    jac = jax.jacobian(probe)(params)
    leaves = jax.tree.leaves(jac)
    weights = [None] * len(leaves) if precond is None else jax.tree.leaves(precond)
    if len(weights) != len(leaves):
        raise ValueError("precond must be a pytree with the structure of params")
    total = 0.0
    for leaf, weight in zip(leaves, weights, strict=True):
        n, d = leaf.shape[:2]
        flat = leaf.reshape(n, d, -1)  # (I, d, p)
        scaled = flat if weight is None else flat * jnp.reshape(weight, (1, 1, -1))
        total = total + jnp.einsum("iap,jbp->ijab", scaled, flat)
    return total
