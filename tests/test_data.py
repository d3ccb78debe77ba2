"""The synthetic data of `normtheory.data`: exact structure, sampling frequencies, errors.

Frequencies are checked with a chi-square statistic on a large sample drawn from a fixed key,
against a bound of dof + 6 sqrt(2 dof) (about six standard deviations).
"""

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from normtheory import data

KEY = jax.random.key(0)
# Shared by the property tests and the determinism test, so that each sampler compiles once.
ZIPF = data.zipf_probabilities(20, 1.0)
DIRECTIONS = jax.random.normal(jax.random.key(1), (2000, 8))
TREE = data.make_tree(3, 3)
AMBIGUITY = (0.0, 0.5, 1.0)
SAMPLES = 60_000


def assert_frequencies(samples, probs, num_cells=None):
    """Chi-square check that integer samples follow probs (cells with probability 0 empty)."""
    samples = np.asarray(samples).ravel()
    probs = np.asarray(probs, dtype=np.float64).ravel()
    counts = np.bincount(samples, minlength=num_cells or probs.shape[0])
    expected = probs * samples.shape[0]
    assert np.all(counts[expected == 0] == 0)
    live = expected > 0
    chi2 = np.sum((counts[live] - expected[live]) ** 2 / expected[live])
    dof = max(int(live.sum()) - 1, 1)
    assert chi2 < dof + 6 * math.sqrt(2 * dof), (chi2, dof)


# --- frequency ------------------------------------------------------------------------------


@pytest.mark.parametrize("num_items", [1, 5, 50])
@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 2.0])
def test_zipf_is_a_normalised_power_law(num_items, exponent):
    probs = np.asarray(data.zipf_probabilities(num_items, exponent))
    assert probs.dtype == np.float64 and probs.shape == (num_items,)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-14)
    ranks = np.arange(1, num_items + 1, dtype=np.float64)
    np.testing.assert_allclose(probs[0] / probs, ranks**exponent, rtol=1e-12)


def test_sample_ids_follow_probabilities():
    ids = data.sample_ids(KEY, ZIPF, SAMPLES)
    assert ids.dtype == jnp.int32 and ids.shape == (SAMPLES,)
    assert_frequencies(ids, ZIPF)


def test_direction_views_are_unit_scale_invariant_and_spread_with_sigma():
    directions = DIRECTIONS
    views = data.direction_views(KEY, directions, 0.05)
    np.testing.assert_allclose(jnp.linalg.norm(views, axis=-1), 1.0, rtol=1e-13)
    np.testing.assert_array_equal(views, data.direction_views(KEY, 4.0 * directions, 0.05))
    np.testing.assert_allclose(views, data.direction_views(KEY, 3.7 * directions, 0.05), rtol=1e-12)
    units = directions / jnp.linalg.norm(directions, axis=-1, keepdims=True)
    mean_cos = [
        float(jnp.mean(jnp.sum(units * data.direction_views(KEY, directions, s), axis=-1)))
        for s in (0.0, 0.02, 0.1, 0.3, 1.0, 3.0)
    ]
    assert mean_cos[0] == pytest.approx(1.0, abs=1e-14)
    assert all(a > b for a, b in itertools.pairwise(mean_cos))
    assert mean_cos[1] == pytest.approx(1 - 7 * 0.02**2 / 2, abs=1e-4)


# --- hierarchy ------------------------------------------------------------------------------


@given(depth=st.sampled_from([1, 2, 3]), branching=st.sampled_from([2, 3, 4]))
def test_tree_structure(depth, branching):
    tree = data.make_tree(depth, branching)
    assert tree.num_nodes == sum(branching**k for k in range(depth + 1))
    assert tree.num_leaves == branching**depth
    assert tree.parent[0] == -1 and tree.depth[0] == 0
    assert np.all(np.diff(tree.depth) >= 0) and np.all(np.diff(tree.parent[1:]) >= 0)
    nodes = np.arange(1, tree.num_nodes)
    np.testing.assert_array_equal(tree.depth[nodes], tree.depth[tree.parent[nodes]] + 1)
    np.testing.assert_array_equal(tree.leaf_ids, np.flatnonzero(tree.is_leaf))
    np.testing.assert_array_equal(tree.is_leaf, tree.depth == depth)
    assert tree.ancestors.shape == (tree.num_nodes, depth + 1)
    for node in range(tree.num_nodes):
        level = tree.depth[node]
        path = tree.ancestors[node]
        assert path[0] == 0 and path[level] == node and np.all(path[level + 1 :] == -1)
        if node:
            np.testing.assert_array_equal(path[:level], tree.ancestors[tree.parent[node]][:level])
    subtree = tree.subtree_leaves
    assert subtree.shape == (tree.num_nodes, tree.num_leaves) and subtree.dtype == bool
    assert np.all(subtree[0])
    np.testing.assert_array_equal(subtree[tree.leaf_ids], np.eye(tree.num_leaves, dtype=bool))
    np.testing.assert_array_equal(subtree.sum(axis=1), branching ** (depth - tree.depth))
    for node in range(1, tree.num_nodes):
        assert np.all(subtree[tree.parent[node]] >= subtree[node])
    leaves = np.arange(tree.num_leaves)
    ranges = (leaves >= tree.first_leaf[:, None]) & (
        leaves < (tree.first_leaf + tree.leaf_count)[:, None]
    )
    np.testing.assert_array_equal(ranges, subtree)


def test_anchor_probabilities_coupled_and_decoupled():
    tree = TREE
    coupled = np.asarray(data.anchor_probabilities(tree, "coupled"))
    decoupled = np.asarray(data.anchor_probabilities(tree, "decoupled"))
    np.testing.assert_allclose([coupled.sum(), decoupled.sum()], 1.0, rtol=1e-14)
    np.testing.assert_allclose(decoupled, 1.0 / tree.num_nodes, rtol=1e-14)
    sizes = tree.subtree_leaves.sum(axis=1)
    np.testing.assert_allclose(coupled / coupled[-1], sizes, rtol=1e-12)
    per_level = np.bincount(tree.depth, weights=coupled)
    np.testing.assert_allclose(per_level, 1.0 / 4, rtol=1e-12)


def test_hierarchy_positives_lie_in_the_anchor_subtree():
    tree = TREE
    probs = data.anchor_probabilities(tree, "decoupled")
    sample = jax.jit(data.sample_hierarchy_batch, static_argnums=3)  # the tree is traced
    anchors, positives = sample(KEY, tree, probs, SAMPLES)
    assert anchors.dtype == positives.dtype == jnp.int32
    anchors, positives = np.asarray(anchors), np.asarray(positives)
    assert np.all(tree.subtree_leaves[anchors, positives])
    assert_frequencies(anchors, probs)
    leaf_anchors = tree.is_leaf[anchors]
    np.testing.assert_array_equal(tree.leaf_ids[positives[leaf_anchors]], anchors[leaf_anchors])
    assert_frequencies(positives[anchors == 0], np.full(tree.num_leaves, 1 / tree.num_leaves))


# --- ambiguity ------------------------------------------------------------------------------


@given(num_classes=st.sampled_from([2, 3, 10]))
def test_soft_label_entropy_rises_from_zero_to_log_k(num_classes):
    levels = jnp.linspace(0.0, 1.0, 21)
    labels, primary = data.soft_labels(KEY, 21, num_classes, levels)
    assert labels.shape == (21, num_classes) and primary.dtype == jnp.int32
    np.testing.assert_allclose(labels.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(jnp.argmax(labels[:-1], axis=-1), primary[:-1])
    entropy = np.asarray(data.label_entropy(labels))
    assert entropy[0] == 0.0
    assert entropy[-1] == pytest.approx(math.log(num_classes), rel=1e-13)
    assert np.all(np.diff(entropy) > 0)


def test_sample_positive_classes_follow_soft_labels():
    labels, _ = data.soft_labels(KEY, 3, 4, jnp.asarray(AMBIGUITY))
    ids = jnp.repeat(jnp.arange(3, dtype=jnp.int32), SAMPLES // 3)
    classes = np.asarray(data.sample_positive_classes(jax.random.key(1), labels, ids))
    assert classes.dtype == np.int32
    for i in range(3):
        assert_frequencies(classes[np.asarray(ids) == i], labels[i])


def test_continuous_inputs_and_ambiguity_data():
    made = data.make_ambiguity_data(KEY, 10, 3, 5, 16, 0.1, AMBIGUITY)
    assert made.labels.shape == (10, 3) and made.inputs.shape == (10, 16)
    assert made.centers.shape == (3, 5) and made.lift.shape == (5, 16)
    np.testing.assert_allclose(jnp.linalg.norm(made.centers, axis=-1), 1.0, rtol=1e-13)
    np.testing.assert_array_equal(made.ambiguity, np.resize([0.0, 0.5, 1.0], 10))
    np.testing.assert_array_equal(made.entropy, data.label_entropy(made.labels))
    clean = data.continuous_inputs(KEY, made.labels[::3], made.centers, 0.0, made.lift)
    expected = made.centers[made.primary[::3]] @ made.lift
    np.testing.assert_allclose(clean, expected, rtol=1e-12, atol=1e-12)


# --- imbalance ------------------------------------------------------------------------------


def test_imbalance_problem_and_class_frequencies():
    problem = data.make_imbalance_problem(KEY)
    assert problem.centers.shape == (4, 10) and problem.lift.shape == (10, 64)
    np.testing.assert_allclose(problem.class_probs, np.asarray([1, 2, 4, 8]) / 15, rtol=1e-14)
    np.testing.assert_allclose(jnp.linalg.norm(problem.centers, axis=-1), 1.0, rtol=1e-13)
    inputs, labels = data.sample_imbalance_batch(KEY, problem, SAMPLES)
    assert inputs.shape == (SAMPLES, 64) and labels.dtype == jnp.int32
    assert_frequencies(labels, problem.class_probs)
    quiet = data.make_imbalance_problem(KEY, noise=0.0)
    inputs, labels = data.sample_imbalance_batch(KEY, quiet, SAMPLES)
    np.testing.assert_allclose(inputs, quiet.centers[labels] @ quiet.lift, rtol=1e-12)


# --- determinism and errors -----------------------------------------------------------------

SAMPLERS = {
    "ids": lambda k: data.sample_ids(k, ZIPF, SAMPLES),
    "views": lambda k: data.direction_views(k, DIRECTIONS, 0.3),
    "hierarchy": lambda k: data.sample_hierarchy_batch(
        k, TREE, data.anchor_probabilities(TREE, "coupled"), SAMPLES
    ),
    "soft": lambda k: data.soft_labels(k, 21, 3, jnp.linspace(0.0, 1.0, 21)),
    "classes": lambda k: data.sample_positive_classes(
        k, jnp.full((3, 4), 0.25), jnp.zeros(SAMPLES, dtype=jnp.int32)
    ),
    "ambiguity": lambda k: data.make_ambiguity_data(k, 10, 3, 5, 16, 0.1, AMBIGUITY),
    "imbalance": lambda k: data.sample_imbalance_batch(k, data.make_imbalance_problem(k), SAMPLES),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_key_same_arrays(name):
    first, again = SAMPLERS[name](KEY), SAMPLERS[name](KEY)
    other = SAMPLERS[name](jax.random.key(7))
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(other), strict=True)
    )


ERRORS = [
    ("num_items", functools.partial(data.zipf_probabilities, 0, 1.0)),
    ("exponent", functools.partial(data.zipf_probabilities, 5, -1.0)),
    ("exponent", functools.partial(data.zipf_probabilities, 5, math.nan)),
    ("batch", functools.partial(data.sample_ids, KEY, jnp.full(3, 1 / 3), -1)),
    ("depth", functools.partial(data.make_tree, 0, 2)),
    ("depth", functools.partial(data.make_tree, 1.5, 2)),
    ("branching", functools.partial(data.make_tree, 2, 1)),
    ("mode", functools.partial(data.anchor_probabilities, TREE, "frequent")),
    ("batch", functools.partial(data.sample_hierarchy_batch, KEY, TREE, jnp.ones(40) / 40, -2)),
    ("num_inputs", functools.partial(data.soft_labels, KEY, 0, 3, jnp.zeros(0))),
    ("num_classes", functools.partial(data.soft_labels, KEY, 2, 1, jnp.zeros(2))),
    ("ambiguity", functools.partial(data.soft_labels, KEY, 2, 3, jnp.zeros(3))),
    ("ambiguity", functools.partial(data.soft_labels, KEY, 2, 3, jnp.asarray([0.5, 1.5]))),
    ("ambiguity_levels", functools.partial(data.make_ambiguity_data, KEY, 4, 3, 2, 5, 0.1, ())),
    ("num_inputs", functools.partial(data.make_ambiguity_data, KEY, -1, 3, 2, 5, 0.1, (0.5,))),
    ("latent_dim", functools.partial(data.make_ambiguity_data, KEY, 4, 3, 0, 5, 0.1, (0.5,))),
    ("input_dim", functools.partial(data.make_ambiguity_data, KEY, 4, 3, 2, 0, 0.1, (0.5,))),
    ("noise", functools.partial(data.make_ambiguity_data, KEY, 4, 3, 2, 5, -0.1, (0.5,))),
    ("weights", functools.partial(data.make_imbalance_problem, KEY, (1.0, 0.0))),
    ("weights", functools.partial(data.make_imbalance_problem, KEY, (1.0, -2.0))),
    ("weights", functools.partial(data.make_imbalance_problem, KEY, (1.0, math.inf))),
    ("weights", functools.partial(data.make_imbalance_problem, KEY, ())),
    ("latent_dim", functools.partial(data.make_imbalance_problem, KEY, latent_dim=0)),
    ("input_dim", functools.partial(data.make_imbalance_problem, KEY, input_dim=0)),
    ("noise", functools.partial(data.make_imbalance_problem, KEY, noise=-1.0)),
]


@pytest.mark.parametrize(
    ("name", "call"), ERRORS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ERRORS)]
)
def test_value_errors_name_the_argument(name, call):
    with pytest.raises(ValueError, match=name):
        call()
