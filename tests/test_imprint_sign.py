"""THEORY.md item 16: the imprint signs predicted from the kernel law.

The symbolic laws of normtheory.laws.imprint_sign against their twins and independent
oracles (explicit orthonormal targets, counted trees, the expectation of a quadratic form
as a trace); deliberately wrong formulas caught by the named symbolic checks; the mean
field of normtheory.mean_field against law 6 where they coincide; and the regime maps'
verdicts following the predicted sign, including a flipped and a zero prediction.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from normtheory import laws
from normtheory import mean_field as mf
from normtheory.data import make_tree, soft_labels
from normtheory.laws import imprint_sign as imp
from normtheory.laws._law import Check
from normtheory.laws.kernel import path_overlap
from normtheory.regimes import AMBIGUITY, HIERARCHY
from normtheory.verify import run_checks, structure

IMPRINT_LAWS = [name for name in laws.names() if laws.get(name).item == 16]
seeds = st.integers(0, 2**31 - 1)


def test_item_16_laws_are_registered_after_the_kernel_laws():
    assert IMPRINT_LAWS == [
        "soft_label_gini",
        "adam_draw_displacement",
        "kernel_mean_heat",
        "path_overlap_sum",
    ]
    assert laws.names().index("soft_label_gini") > laws.names().index("compositional_adam_kernel")


@pytest.mark.parametrize("name", IMPRINT_LAWS)
def test_imprint_law_symbolic_checks_reduce_to_zero(name):
    for check, residual in laws.get(name).verify():
        assert residual == 0, f"{name}: check {check.name!r} leaves {residual}"


# --- SymPy expression, twin and oracle agree ------------------------------------------------


@given(st.floats(0, 1), st.sampled_from([2, 3, 4, 8]), seeds)
def test_soft_label_gini_matches_its_twin_and_the_labels(a, num_classes, seed):
    law = laws.get("soft_label_gini")
    symbolic = float(law.rhs.xreplace({imp.a_sym: sp.Float(a), imp.K_sym: num_classes}))
    labels, _ = soft_labels(jax.random.key(seed % 1000), 1, num_classes, np.array([a]))
    oracle = 1 - float(np.sum(np.asarray(labels) ** 2))
    np.testing.assert_allclose(float(law(a=a, K=num_classes)), symbolic, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(imp.gini(a, num_classes), symbolic, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(oracle, symbolic, rtol=1e-9, atol=1e-12)


def test_gini_orders_the_ambiguity_levels_like_the_entropy():
    a = np.linspace(0, 1, 9)
    labels, _ = soft_labels(jax.random.key(0), 9, 4, a)
    from normtheory.data import label_entropy

    entropy = np.asarray(label_entropy(labels))
    assert np.all(np.diff(imp.gini(a, 4)) > 0) and np.all(np.diff(entropy) > 0)


@given(st.floats(1e-4, 1.0), st.floats(0.0, 0.95), st.floats(0.95, 0.9999))
def test_adam_draw_displacement_matches_its_twin(q, b1, b2):
    law = laws.get("adam_draw_displacement")
    point = {imp.q_sym: sp.Float(q), law.symbols["b1"]: sp.Float(b1), imp.b2_sym: sp.Float(b2)}
    symbolic = float(law.rhs.xreplace(point))
    np.testing.assert_allclose(imp.draw_displacement(q, b1, b2), symbolic, rtol=1e-12)
    np.testing.assert_allclose(float(law(q=q, b1=b1, b2=b2)), symbolic, rtol=1e-10)


def test_adam_moves_a_rare_parameter_further_per_draw_than_a_frequent_one():
    rare, frequent = imp.draw_displacement(np.array([1e-4, 0.5]), 0.9, 0.999)
    tail = (1 - 0.9) / (1 - 0.9 / np.sqrt(0.999))
    assert rare > 100 * frequent
    np.testing.assert_allclose(rare, tail**2 / (1 - 0.999 + 0.999e-4), rtol=1e-12)
    # The heat per step, q times the draw's, is nearly rate-free once q >> 1 - b2.
    q = np.array([0.05, 0.5, 1.0])
    per_step = q * imp.draw_displacement(q, 0.9, 0.999)
    assert per_step.max() / per_step.min() < 1.03


@given(st.integers(1, 4), st.integers(2, 4))
def test_path_overlap_sum_matches_counting_on_the_tree(height, branching):
    tree = make_tree(height, branching)
    law = laws.get("path_overlap_sum")
    for r in (1, 2):
        counted = [
            sum(path_overlap(tree.ancestors[i], tree.ancestors[j]) ** r
                for j in range(tree.num_nodes))
            for i in range(tree.num_nodes)
        ]  # fmt: skip
        twin = law(D=height, b=branching, k=np.asarray(tree.depth), r=r)
        np.testing.assert_allclose(twin, counted, rtol=1e-12)


@given(seeds, st.sampled_from([(2, 2), (3, 3), (4, 2)]))
def test_kernel_mean_heat_is_the_trace_of_the_kick_covariance(seed, sizes):
    items, d = sizes
    rng = np.random.default_rng(seed)
    K = rng.normal(size=(items, items, d, d))
    w = rng.uniform(0.0, 2.0, size=items)
    eta = 0.3
    law = laws.get("kernel_mean_heat")
    twin = np.asarray(law(K=jnp.asarray(K), w=jnp.asarray(w), eta=eta))
    for i in range(items):
        row = np.concatenate([K[i, j] for j in range(items)], axis=1)  # (d, items d)
        cov = np.diag(np.repeat(w / d, d))
        np.testing.assert_allclose(twin[i], eta**2 * np.trace(row @ cov @ row.T), rtol=1e-12)


def test_leaf_positive_noise_matches_explicit_orthonormal_leaves():
    tree = make_tree(3, 3)
    leaves = np.asarray(tree.leaf_count, float)
    basis = np.eye(tree.num_leaves)
    direction = np.asarray(tree.subtree_leaves, float) @ basis
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    leaf = int(tree.leaf_ids[5])
    path = [int(a) for a in tree.ancestors[leaf] if a >= 0]
    weights = 1 / leaves[path]
    e = direction[leaf]
    pulls = np.array([direction[a] - (direction[a] @ e) * e for a in path])
    w = weights / weights.sum()
    mean = w @ pulls
    oracle = float(w @ np.sum((pulls - mean) ** 2, axis=1))
    np.testing.assert_allclose(mf.leaf_positive_noise(leaves[path], weights), oracle, rtol=1e-12)


# --- wrong formulas are caught -----------------------------------------------------------------


def test_a_wrong_adam_tail_is_caught_by_the_tail_check():
    law = laws.get("adam_draw_displacement")
    (check,) = [c for c in law.checks if c.name.startswith("the tail sums")]
    b1 = law.symbols["b1"]
    wrong = Check(check.name, imp.tail_factor_expr() - (1 - b1) / (1 - b1))  # sqrt(b2) dropped
    assert wrong.reduce() != 0
    assert check.reduce() == 0


def test_a_wrong_gini_is_caught_by_the_impurity_check():
    law = laws.get("soft_label_gini")
    (check,) = [c for c in law.checks if c.name.startswith("the soft labels' impurity")]
    wrong_rhs = imp.a_sym * (imp.K_sym - 1) / imp.K_sym  # linear in a: the entropy's slope at 0
    residual = (
        check.residual + law.rhs.xreplace({imp.K_sym: 3}) - wrong_rhs.xreplace({imp.K_sym: 3})
    )
    assert Check(check.name, residual).reduce() != 0


def test_a_wrong_kernel_heat_is_caught_by_the_compositional_check(monkeypatch):
    """Weights m_ij (each feature's own heat, no correlation between path features) in
    place of m_ij^2 leave the compositional check nonzero."""
    from normtheory.laws import kernel

    (check,) = [c for c in laws.get("kernel_mean_heat").checks if "compositional" in c.name]
    assert check.reduce() == 0
    real = kernel.path_overlap
    monkeypatch.setattr(kernel, "path_overlap", lambda a, b: sp.sqrt(real(a, b)))
    (bad,) = [c for c in imp.kernel_mean_heat().checks if "compositional" in c.name]
    assert bad.reduce() != 0


# --- the mean field ----------------------------------------------------------------------------


def test_mean_field_of_a_table_under_sgd_is_law_6():
    """Constant energy, no transient: N_T^4 = N_0^4 + 2 eta^2 c^2 n f T (the N^4 law)."""
    cfg = HIERARCHY.replace(model="table", optimizer="sgd", lr=0.5, steps=3000)
    n = 3
    stats = mf.ItemStats(
        occurrences=np.stack([np.array([0.2, 0.5, 1.0]), np.zeros(n)]),
        floor=np.stack([np.full(n, 0.7), np.zeros(n)]),
        start=np.stack([np.full(n, 0.7), np.zeros(n)]),
        feature=np.arange(n, dtype=float),
        incidence=np.eye(n),
        block_rate=np.full(n, 0.5),
    )
    n0 = np.array([0.8, 1.0, 1.3])
    growth = mf._integrate(cfg, stats, n0, None, chunks=3000)
    c2 = 1 / (cfg.tau * cfg.batch) ** 2
    law6 = 0.25 * np.log(1 + 2 * cfg.lr**2 * c2 * 0.7 * stats.occurrences[0] * cfg.steps / n0**4)
    np.testing.assert_allclose(growth, law6, rtol=2e-3)


def test_generic_nodes_of_a_table_are_predicted_longer_under_sgd():
    """Free table, SGD, equal frequency: generic nodes keep the impurity 1 - 1/L."""
    sign, rho = mf.predicted_sign(HIERARCHY.replace(model="table", frequency_mode="decoupled"))
    assert sign == -1 and rho < -0.3


def test_ambiguous_inputs_of_a_table_are_predicted_longer_under_sgd():
    """Ambiguity table under SGD: the Gini impurity rises with the entropy."""
    cfg = AMBIGUITY.replace(model="table", num_items=60, steps=600, stride=100)
    sign, rho = mf.predicted_sign(cfg)
    assert sign == 1 and rho > 0.3


def test_predicted_sign_is_zero_below_the_margin(monkeypatch):
    growth = np.random.default_rng(0).normal(size=101)
    feature = np.r_[np.zeros(50), np.ones(51)]
    monkeypatch.setattr(mf, "predicted_growth", lambda cfg, seeds=2, **kw: (growth, feature))
    sign, rho = mf.predicted_sign(HIERARCHY)
    assert abs(rho) < 2 / np.sqrt(100) and sign == 0
    monkeypatch.setattr(
        mf, "predicted_growth", lambda cfg, seeds=2, **kw: (growth + 3 * feature, feature)
    )
    assert mf.predicted_sign(HIERARCHY)[0] == 1


# --- the regime map follows the predicted sign ------------------------------------------------

TINY_TREE = ["depth=3", "branching=3", "steps=600", "dim=8", "batch=32", "model=table",
             "frequency_mode=decoupled"]  # fmt: skip


def test_a_map_cell_verdict_follows_the_predicted_sign(monkeypatch):
    monkeypatch.setattr(structure, "OPTIMIZERS", {"sgd": structure.OPTIMIZERS["sgd"]})
    results, crashes = run_checks(["specificity"], TINY_TREE)
    assert not crashes, crashes
    (cell,) = results
    se = cell.spread
    assert abs(cell.measured) > 2 * se, "the tiny regime must give a significant sign"
    truth = int(np.sign(cell.measured))
    for sign, verdict in ((truth, "holds"), (-truth, "fails"), (0, "fails")):
        monkeypatch.setattr(structure, "predicted_sign", lambda cfg, seeds, s=sign: (s, 0.5 * s))
        (patched,) = run_checks(["specificity"], TINY_TREE)[0]
        assert patched.verdict == verdict, (sign, patched)
        assert patched.predicted == sign and f"predicted sign {sign:+d}" in patched.quantity


def test_a_cell_predicted_zero_holds_only_by_equivalence():
    se = 0.1
    # Not significant, but the interval [-0.05, 0.35] reaches past the margin: no verdict.
    assert structure._verdict(0.15, 0, se) == "inconclusive"
    assert structure._verdict(0.0, 0, structure.EQUIVALENCE_MARGIN / 4) == "holds"
    assert structure._verdict(-0.25, 0, se) == "fails"
    assert structure._verdict(0.15, 1, se) == "partial"
    assert structure._verdict(-0.25, 1, se) == "fails"
    assert structure._verdict(0.25, 1, se) == "holds"


def test_the_family_rule_is_reported_not_judged(monkeypatch):
    monkeypatch.setattr(structure, "OPTIMIZERS", {"sgd": structure.OPTIMIZERS["sgd"]})
    monkeypatch.setattr(structure, "predicted_sign", lambda cfg, seeds: (-1, -0.5))
    first = run_checks(["specificity"], TINY_TREE)[0][0]
    monkeypatch.setattr(structure, "SPECIFICITY_SIGNS", {"table": +1, "compositional": -1})
    second = run_checks(["specificity"], TINY_TREE)[0][0]
    assert first.verdict == second.verdict and "says -1" in first.note and "says +1" in second.note


def test_the_self_closure_drops_only_the_cross_heat():
    """For a free table K is diagonal, so both closures agree; for the compositional encoder
    the kernel closure adds the cross heat, never less."""
    table = HIERARCHY.replace(model="table", frequency_mode="decoupled", steps=600, stride=100)
    np.testing.assert_allclose(
        mf.predicted_growth(table, closure="self")[0], mf.predicted_growth(table)[0], rtol=1e-12
    )
    comp = table.replace(model="compositional")
    assert np.all(mf.predicted_growth(comp)[0] >= mf.predicted_growth(comp, closure="self")[0])
    with pytest.raises(ValueError, match="closure"):
        mf.predicted_growth(comp, closure="cross")


def test_predicted_heat_is_the_integration_behind_the_predicted_growth():
    """predicted_heat's growths are predicted_growth's; its cross heat (kernel - self) is
    0 for a free table and positive for a compositional encoder; heavy ball's heats
    carry the squared momentum gain."""
    table = HIERARCHY.replace(model="table", frequency_mode="decoupled", steps=600, stride=100)
    comp = table.replace(model="compositional")
    heats = {}
    for config in (table, comp):
        heats[config.model] = heat = mf.predicted_heat(config, seeds=1)
        for closure in ("self", "kernel"):
            np.testing.assert_array_equal(
                heat[f"growth_{closure}"], mf.predicted_growth(config, 1, closure=closure)[0]
            )
        assert heat["self"].shape == heat["feature"].shape and float(heat["gain2"]) == 1.0
    np.testing.assert_array_equal(heats["table"]["kernel"], heats["table"]["self"])
    assert np.all(heats["compositional"]["kernel"] > heats["compositional"]["self"])
    momentum = mf.predicted_heat(comp.replace(optimizer="momentum", lr=0.05), seeds=1)
    assert float(momentum["gain2"]) == pytest.approx(1 / (1 - comp.momentum) ** 2)


# --- item 18: the self-heat closure ------------------------------------------------------------


@given(seeds, st.sampled_from([(2, 2), (3, 3), (4, 2)]))
def test_self_mean_heat_is_the_kernel_heat_of_the_diagonal_blocks(seed, sizes):
    items, d = sizes
    rng = np.random.default_rng(seed)
    K = rng.normal(size=(items, items, d, d))
    w = rng.uniform(0.0, 2.0, size=items)
    own = K[np.arange(items), np.arange(items)]
    twin = np.asarray(
        laws.get("self_mean_heat")(K_self=jnp.asarray(own), w=jnp.asarray(w), eta=0.3)
    )
    diagonal = np.zeros_like(K)
    diagonal[np.arange(items), np.arange(items)] = own
    whole = laws.get("kernel_mean_heat")(K=jnp.asarray(diagonal), w=jnp.asarray(w), eta=0.3)
    np.testing.assert_allclose(twin, np.asarray(whole), rtol=1e-12)
    # With the cross blocks in, the whole kernel heat is larger: the closure drops them.
    assert np.all(
        np.asarray(laws.get("kernel_mean_heat")(K=jnp.asarray(K), w=jnp.asarray(w), eta=0.3))
        >= twin
    )


def test_a_wrong_self_heat_is_caught_by_the_compositional_check(monkeypatch):
    """(depth + 1) in place of (depth + 1)^2, the incoherent sum of the path features' own
    heats, leaves the compositional check nonzero."""
    (check,) = [c for c in laws.get("self_mean_heat").checks if "compositional" in c.name]
    assert check.reduce() == 0
    from normtheory.laws import kernel

    real = kernel._compositional_model

    def halved(height, branching, generic_precond):
        model = dict(real(height, branching, generic_precond))
        n = len(model["probes"])
        model["kernel"] = [
            [model["kernel"][i][j] / sp.sqrt(int(model["tree"].depth[i]) + 1) for j in range(n)]
            for i in range(n)
        ]
        return model

    monkeypatch.setattr(kernel, "_compositional_model", halved)
    (bad,) = [c for c in imp.self_mean_heat().checks if "compositional" in c.name]
    assert bad.reduce() != 0
