"""THEORY.md item 15: the kernel norm budget of shared encoders.

The symbolic laws of normtheory.laws.kernel are checked against their numeric twins on
the package's encoders: the empirical kernel of a free table is delta_ij I, of a
compositional encoder on a random tree m_ij I (Adam: the sum of the shared features'
preconditioners), of an MLP a symmetric PSD, anisotropic block matrix; the first-order
change has an O(eta^2) error (none for linear encoders); the self/cross/rest split closes;
and deliberately broken formulas make the named symbolic check fail.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from normtheory import laws
from normtheory.data import make_tree
from normtheory.laws import kernel
from normtheory.models import compositional, mlp, table

KERNEL_LAWS = [name for name in laws.names() if laws.get(name).item == 15]
F64 = jnp.float64

seeds = st.integers(0, 2**31 - 1)
table_sizes = st.sampled_from([(2, 2), (3, 2), (5, 3)])  # (items, d)
tree_sizes = st.sampled_from([(4, 2), (7, 3)])  # (nodes, d)
mlp_sizes = st.sampled_from([(3, 2, 4, 2), (4, 3, 5, 3)])  # (items, input, width, d)


def _random_tree(rng: np.random.Generator, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """(parent (n,), padded ancestor paths (n, max depth + 1)) of a random rooted tree."""
    parent = np.array([-1] + [int(rng.integers(0, k)) for k in range(1, num_nodes)])
    chains = []
    for node in range(num_nodes):
        chain = [node]
        while parent[chain[-1]] >= 0:
            chain.append(int(parent[chain[-1]]))
        chains.append(chain[::-1])
    paths = np.full((num_nodes, max(map(len, chains))), -1, dtype=np.int32)
    for node, chain in enumerate(chains):
        paths[node, : len(chain)] = chain
    return parent, paths


def _shared_ancestors(parent: np.ndarray) -> np.ndarray:
    """m_ij counted from ancestor sets built by walking parents (the test's own oracle)."""
    n = parent.shape[0]
    ancestors = []
    for node in range(n):
        found = {node}
        while parent[node] >= 0:
            node = int(parent[node])
            found.add(node)
        ancestors.append(found)
    return np.array([[len(ancestors[i] & ancestors[j]) for j in range(n)] for i in range(n)])


def _tangent(z: jax.Array, h: jax.Array) -> jax.Array:
    """Rows of h projected orthogonal to the rows of z (a gradient that obeys Euler)."""
    return h - jnp.sum(z * h, axis=-1, keepdims=True) / jnp.sum(z * z, axis=-1, keepdims=True) * z


def _mlp_setup(seed: int, sizes: tuple[int, int, int, int]):
    items, n_in, width, d = sizes
    k_param, k_x = jax.random.split(jax.random.key(seed))
    params = mlp.init(k_param, (n_in, width, width, d), "tanh", F64)
    x = jax.random.normal(k_x, (items, n_in), dtype=F64)
    return params, (lambda p: mlp.embed(p, x, "tanh"))


def _comp_setup(seed: int, sizes: tuple[int, int]):
    num_nodes, d = sizes
    parent, paths = _random_tree(np.random.default_rng(seed), num_nodes)
    params = compositional.init(jax.random.key(seed), num_nodes, d, 1.0, F64)
    paths_j = jnp.asarray(paths)
    return parent, paths, params, (lambda p: compositional.embed(p, paths_j))


def _pullback(probe, params, g):
    """sum_j J_j^T g_j as a pytree like params."""
    _, vjp = jax.vjp(probe, params)
    return vjp(g)[0]


# --- (a) the symbolic checks ---------------------------------------------------------------


def test_item_15_has_the_kernel_laws_in_theory_order():
    assert KERNEL_LAWS == [
        "kernel_first_order",
        "kernel_split",
        "euler_self_drift",
        "compositional_sgd_kernel",
        "compositional_self_heat",
        "compositional_adam_kernel",
    ]
    assert laws.names().index("kernel_first_order") > laws.names().index("drift_heat_equilibrium")


@pytest.mark.parametrize("name", KERNEL_LAWS)
def test_kernel_law_symbolic_checks_reduce_to_zero(name):
    law = laws.get(name)
    assert len(law.checks) >= 2
    for check, residual in law.verify():
        assert residual == 0, f"{name}: check {check.name!r} leaves {residual}"


# --- (b) empirical kernels --------------------------------------------------------------------


@given(seeds, table_sizes)
def test_free_table_kernel_is_delta_identity(seed, sizes):
    items, d = sizes
    params = table.init(jax.random.key(seed), items + 2, d, 1.0, F64)
    ids = jnp.arange(items)
    K = kernel.empirical_kernel(lambda p: table.embed(p, ids), params)
    expected = np.eye(items)[:, :, None, None] * np.eye(d)
    np.testing.assert_array_equal(np.asarray(K), expected)


@given(seeds, tree_sizes)
def test_compositional_kernel_is_shared_path_count_times_identity(seed, sizes):
    parent, paths, params, probe = _comp_setup(seed, sizes)
    d = sizes[1]
    K = np.asarray(kernel.empirical_kernel(probe, params))
    expected = _shared_ancestors(parent)[:, :, None, None] * np.eye(d)
    np.testing.assert_array_equal(K, expected)
    sgd = laws.get("compositional_sgd_kernel")(paths=paths, dim=d)
    np.testing.assert_array_equal(np.asarray(sgd), expected)


@given(seeds, tree_sizes)
def test_compositional_adam_kernel_sums_the_shared_preconditioners(seed, sizes):
    parent, paths, params, probe = _comp_setup(seed, sizes)
    v = jax.random.uniform(jax.random.key(seed + 1), params["features"].shape, F64, 1e-6, 1.0)
    precond = 1 / (jnp.sqrt(v) + 1e-8)
    K = kernel.empirical_kernel(probe, params, {"features": precond})
    twin = laws.get("compositional_adam_kernel")(paths=paths, precond=precond)
    np.testing.assert_allclose(np.asarray(K), np.asarray(twin), rtol=1e-13, atol=0)
    # The oracle: for every pair, the preconditioners of the shared ancestors, summed.
    m = _shared_ancestors(parent)
    i, j = np.unravel_index(np.argmax(m - np.eye(len(m), dtype=int) * m), m.shape)
    shared = set(paths[i][paths[i] >= 0]) & set(paths[j][paths[j] >= 0])
    diag = np.sum(np.asarray(precond)[sorted(shared)], axis=0)
    np.testing.assert_allclose(np.asarray(K)[i, j], np.diag(diag), rtol=1e-13)


@given(seeds, mlp_sizes)
def test_mlp_kernel_is_symmetric_psd_and_anisotropic(seed, sizes):
    items, _, _, d = sizes
    params, probe = _mlp_setup(seed, sizes)
    K = np.asarray(kernel.empirical_kernel(probe, params))
    flat = K.transpose(0, 2, 1, 3).reshape(items * d, items * d)  # rows (i a), columns (j b)
    np.testing.assert_allclose(flat, flat.T, rtol=0, atol=1e-12 * np.abs(flat).max())
    assert np.linalg.eigvalsh(flat).min() >= -1e-10 * np.abs(flat).max()
    for i in range(items):
        block = K[i, i]
        aniso = block - np.trace(block) / d * np.eye(d)
        assert np.linalg.norm(aniso) > 1e-3 * np.linalg.norm(block)


@given(seeds, mlp_sizes, st.sampled_from(["tanh", "relu", "gelu"]), st.booleans())
def test_mlp_kernel_vector_is_the_empirical_kernel_block_times_c(seed, sizes, act, precond):
    """The engine's structured J_i D J_i^T c against jax.jacobian's K_ii (kernel.py)."""
    items, n_in, width, d = sizes
    k_param, k_x, k_c, k_p = jax.random.split(jax.random.key(seed), 4)
    params = mlp.init(k_param, (n_in, width, width, d), act, F64)
    x = jax.random.normal(k_x, (items, n_in), dtype=F64)
    c = jax.random.normal(k_c, (items, d), dtype=F64)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(k_p, len(leaves))
    diag = jax.tree.unflatten(
        tree,
        [jax.random.uniform(k, leaf.shape, F64, 0.1, 2.0) if precond else jnp.ones_like(leaf)
         for k, leaf in zip(keys, leaves, strict=True)],
    )  # fmt: skip
    K = kernel.empirical_kernel(lambda p: mlp.embed(p, x, act), params, diag)
    expected = np.einsum("iab,ib->ia", np.asarray(K)[np.arange(items), np.arange(items)], c)
    got = jax.vmap(lambda xi, ci: mlp.kernel_vector(params, xi, ci, diag, act))(x, c)
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-13 * np.abs(expected).max())


# --- (c) the first-order change ---------------------------------------------------------------


@given(seeds, mlp_sizes, st.booleans())
def test_first_order_change_error_scales_as_eta_squared(seed, sizes, adam_like):
    params, probe = _mlp_setup(seed, sizes)
    items, _, _, d = sizes
    g = jax.random.normal(jax.random.key(seed + 1), (items, d), dtype=F64)
    precond = (
        jax.tree.map(
            lambda p: jnp.exp(jax.random.normal(jax.random.key(seed + 2), p.shape)), params
        )
        if adam_like
        else jax.tree.map(jnp.ones_like, params)
    )
    K = kernel.empirical_kernel(probe, params, precond)
    pulled = _pullback(probe, params, g)
    z0 = probe(params)
    law = laws.get("kernel_first_order")

    def error(eta):
        moved = jax.tree.map(lambda p, w, u: p - eta * w * u, params, precond, pulled)
        predicted = law(K=K, g=g, eta=eta)
        return float(jnp.linalg.norm(probe(moved) - z0 - predicted)), float(
            jnp.linalg.norm(predicted)
        )

    (e1, size1), (e2, _) = error(1e-4), error(5e-5)
    assert e1 < 1e-2 * size1  # the kernel change is the leading part
    assert 3.5 < e1 / e2 < 4.5  # and what it misses is O(eta^2)


@given(seeds, tree_sizes)
def test_first_order_change_is_exact_for_the_compositional_encoder(seed, sizes):
    _, _, params, probe = _comp_setup(seed, sizes)
    g = jax.random.normal(jax.random.key(seed + 1), (sizes[0], sizes[1]), dtype=F64)
    K = kernel.empirical_kernel(probe, params)
    eta = 0.1
    moved = jax.tree.map(lambda p, u: p - eta * u, params, _pullback(probe, params, g))
    change = probe(moved) - probe(params)
    predicted = kernel.kernel_change(K, g, eta)
    np.testing.assert_allclose(np.asarray(change), np.asarray(predicted), rtol=0, atol=1e-13)


# --- (d) the split ----------------------------------------------------------------------------


def _split_closes(parts, z, k, eta_lam):
    drift = parts["drift_self"] + parts["drift_cross"] + parts["drift_rest"]
    heat = parts["heat_self"] + parts["heat_cross"] + parts["heat_rest"]
    np.testing.assert_allclose(drift, 2 * (1 - eta_lam) * np.sum(z * k, axis=-1), atol=1e-12)
    np.testing.assert_allclose(heat, np.sum(k * k, axis=-1), atol=1e-12)


@given(seeds, mlp_sizes, st.sampled_from([0.0, 1e-3]))
def test_split_closes_for_an_mlp_with_a_momentum_part(seed, sizes, eta_lam):
    params, probe = _mlp_setup(seed, sizes)
    items, _, _, d = sizes
    z = probe(params)
    keys = jax.random.split(jax.random.key(seed + 1))
    g = _tangent(z, jax.random.normal(keys[0], (items, d), dtype=F64))
    rest = 0.01 * jax.random.normal(keys[1], (items, d), dtype=F64)
    K, eta = kernel.empirical_kernel(probe, params), 0.05
    parts = kernel.kernel_split(K, z, g, eta, rest=rest, eta_lam=eta_lam)
    k = kernel.kernel_change(K, g, eta) + rest
    _split_closes(
        {n: np.asarray(v) for n, v in parts.items()}, np.asarray(z), np.asarray(k), eta_lam
    )
    # Self drift: nonzero for an MLP, and the anisotropic formula of the law (Euler holds).
    diag = jnp.einsum("iiab->iab", K)
    law = (1 - eta_lam) * laws.get("euler_self_drift")(K_ii=diag, z=z, g=g, eta=eta)
    np.testing.assert_allclose(np.asarray(parts["drift_self"]), np.asarray(law), atol=1e-14)
    assert np.max(np.abs(np.asarray(parts["drift_self"]))) > 1e-6
    # The law needs Euler: with the radial part of the gradient left in, it misses.
    h = jax.random.normal(keys[0], (items, d), dtype=F64)
    radial = kernel.kernel_split(K, z, h, eta)["drift_self"]
    assert np.max(np.abs(np.asarray(radial - kernel.self_drift(diag, z, h, eta)))) > 1e-6


@given(seeds, table_sizes)
def test_split_of_a_free_table_has_exactly_zero_cross_part(seed, sizes):
    items, d = sizes
    params = table.init(jax.random.key(seed), items, d, 1.0, F64)
    ids = jnp.arange(items)
    z = table.embed(params, ids)
    g = _tangent(z, jax.random.normal(jax.random.key(seed + 1), (items, d), dtype=F64))
    K = kernel.empirical_kernel(lambda p: table.embed(p, ids), params)
    parts = {n: np.asarray(v) for n, v in kernel.kernel_split(K, z, g, 0.1).items()}
    assert np.all(parts["drift_cross"] == 0) and np.all(parts["heat_cross"] == 0)
    assert np.all(np.abs(parts["drift_self"]) <= 1e-14)  # Euler, K_ii = I
    np.testing.assert_allclose(parts["heat_self"], 0.01 * np.sum(np.asarray(g) ** 2, -1), 1e-13)


@given(seeds, tree_sizes)
def test_compositional_split_self_drift_vanishes_and_self_heat_is_the_law(seed, sizes):
    parent, paths, params, probe = _comp_setup(seed, sizes)
    z = probe(params)
    g = _tangent(z, jax.random.normal(jax.random.key(seed + 1), sizes, dtype=F64))
    K, eta = kernel.empirical_kernel(probe, params), 0.1
    parts = {n: np.asarray(v) for n, v in kernel.kernel_split(K, z, g, eta).items()}
    k = np.asarray(kernel.kernel_change(K, g, eta))
    _split_closes(parts, np.asarray(z), k, 0.0)
    assert np.max(np.abs(parts["drift_self"])) <= 1e-12
    depth = np.sum(paths >= 0, axis=1).astype(np.float64) - 1
    law = laws.get("compositional_self_heat")(eta=eta, depth=depth, gg=jnp.sum(g * g, axis=-1))
    np.testing.assert_allclose(parts["heat_self"], np.asarray(law), rtol=1e-12)
    # Cross drift: -2 eta sum_{j != i} m_ij z_i . g_j.
    m = _shared_ancestors(parent) * (1 - np.eye(sizes[0], dtype=int))
    cross = -2 * eta * np.einsum("ij,ia,ja->i", m, np.asarray(z), np.asarray(g))
    np.testing.assert_allclose(parts["drift_cross"], cross, rtol=1e-11, atol=1e-13)


@given(seeds, mlp_sizes)
def test_split_by_batch_rows_equals_split_by_summed_item_gradients(seed, sizes):
    params, probe = _mlp_setup(seed, sizes)
    items, _, _, d = sizes
    z = probe(params)
    rng = np.random.default_rng(seed)
    own = jnp.asarray(rng.integers(0, items, size=2 * items))
    rows = jax.random.normal(jax.random.key(seed + 1), (2 * items, d), dtype=F64)
    summed = jax.ops.segment_sum(rows, own, num_segments=items)
    K = kernel.empirical_kernel(probe, params)
    by_rows = kernel.kernel_split(K, z, rows, 0.05, own=own)
    by_item = laws.get("kernel_split")(K=K, z=z, g=summed, eta=0.05)
    for name, value in by_item.items():
        np.testing.assert_allclose(np.asarray(by_rows[name]), np.asarray(value), atol=1e-13)


# --- (e) broken formulas are caught ---------------------------------------------------------


def _check(law, name):
    (check,) = [c for c in law.checks if c.name == name]
    return check.reduce()


def test_overlap_off_by_one_fails_the_kernel_check(monkeypatch):
    name = "J_i J_j^T = m_ij I for every pair of nodes"
    assert _check(kernel.compositional_sgd_kernel(), name) == 0
    original = kernel.path_overlap
    monkeypatch.setattr(kernel, "path_overlap", lambda a, b: original(a, b) - 1)
    assert _check(kernel.compositional_sgd_kernel(), name) != 0


def test_self_heat_linear_in_depth_fails_the_per_node_check(monkeypatch):
    law = kernel.compositional_self_heat()
    eta, depth, gg = (law.symbols[p] for p in ("eta", "depth", "gg"))
    assert sp.expand(law.rhs - eta**2 * (depth + 1) ** 2 * gg) == 0
    monkeypatch.setattr(kernel, "self_heat_expr", lambda: eta**2 * (depth + 1) * gg)
    broken = kernel.compositional_self_heat()
    assert _check(broken, "equals the squared norm of eta K_ii g_i at every node of the tree") != 0
    # The depth-0 check cannot see the difference: each check tests what it names.
    assert _check(broken, "depth 0 (a table row): the heat eta^2 G^2/N^2 of item 4") == 0


def test_non_nested_heat_split_would_not_close():
    """Plain |k_cross|^2 as the cross heat misses the 2 k_self.k_cross term."""
    basis, terms = kernel.split_terms()
    naive = basis.gram[("k_c", "k_c")]
    assert sp.expand(terms["heat_cross"] - naive) != 0


def test_kernel_laws_refuse_a_nonpositive_step():
    K = np.eye(2)[:, :, None, None] * np.eye(2)
    with pytest.raises(ValueError, match="'eta'"):
        laws.get("kernel_first_order")(K=K, g=np.ones((2, 2)), eta=-0.1)


@pytest.mark.parametrize("shape", [(1, 2), (2, 2), (2, 3), (3, 2)])
def test_the_derivations_tree_is_the_samplers_tree(shape):
    """The laws build their explicit trees without normtheory.data; node for node they are
    the trees the hierarchy data samples from, so a derivation's node i is the data's."""
    ours, theirs = kernel.complete_tree(*shape), make_tree(*shape)
    assert ours.num_nodes == theirs.num_nodes
    np.testing.assert_array_equal(ours.parent, theirs.parent)
    np.testing.assert_array_equal(ours.depth, theirs.depth)
    for node in range(theirs.num_nodes):
        assert ours.ancestors[node] == tuple(int(a) for a in theirs.ancestors[node] if a >= 0)
    # The law's twin over the data's padded paths is the count over the derivation's tree.
    overlap = [[kernel.path_overlap(a, b) for b in ours.ancestors] for a in ours.ancestors]
    twin = laws.get("compositional_sgd_kernel")(paths=jnp.asarray(theirs.ancestors), dim=2)
    np.testing.assert_array_equal(np.asarray(twin)[..., 0, 0], overlap)


@pytest.mark.parametrize(("shape", "field"), [((0, 2), "height"), ((2, 1), "branching")])
def test_a_degenerate_derivation_tree_is_refused_by_name(shape, field):
    with pytest.raises(ValueError, match=field):
        kernel.complete_tree(*shape)
