"""A complete concept tree: anchors are concepts, positives are leaves of their subtree.

THEORY.md law 13 and the hierarchy reference setup: a generic concept (near the root) has
many different positives, a specific one (a leaf) only itself. Frequency is either coupled
to generality (as for words) or held equal, to separate the two effects.

Nodes are numbered in breadth-first order, so node i has children b i + 1 .. b i + b and the
root is node 0. Leaves are the nodes of the last level, in order; leaf index j (0..n_leaves-1)
is node leaf_ids[j]. The leaves under any node are then a contiguous range of leaf indices,
first_leaf[i] .. first_leaf[i] + leaf_count[i] - 1, which makes positive sampling O(1).
A Tree is a pytree (its arrays are the leaves, height and branching are static), so it can
be passed to jitted functions.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from normtheory.data.frequency import sample_ids

__all__ = ["Tree", "anchor_probabilities", "make_tree", "sample_hierarchy_batch"]


@dataclasses.dataclass(frozen=True, eq=False)
class Tree:
    """A complete tree with `height` levels below the root and `branching` children per node.

    Arrays (numpy, read-only):
    - parent (n_nodes,) int32: parent node id, -1 for the root.
    - depth (n_nodes,) int32: level of the node, root 0, leaves `height`.
    - is_leaf (n_nodes,) bool.
    - ancestors (n_nodes, height + 1) int32: node ids on the path root .. node (inclusive),
      padded with -1 after the node. A compositional encoder embeds node i as the sum of the
      feature vectors of ancestors[i] (ignoring -1).
    - leaf_ids (n_leaves,) int32: node id of each leaf index.
    - subtree_leaves (n_nodes, n_leaves) bool: leaf index j lies in the subtree of node i.
    - first_leaf, leaf_count (n_nodes,) int32: the same subtrees as contiguous ranges of leaf
      indices; leaf_count is branching^(height - depth).
    """

    parent: np.ndarray
    depth: np.ndarray
    is_leaf: np.ndarray
    ancestors: np.ndarray
    leaf_ids: np.ndarray
    subtree_leaves: np.ndarray
    first_leaf: np.ndarray
    leaf_count: np.ndarray
    height: int
    branching: int

    @property
    def num_nodes(self) -> int:
        """Number of nodes, sum_{k=0..height} branching^k."""
        return self.parent.shape[0]

    @property
    def num_leaves(self) -> int:
        """Number of leaves, branching^height."""
        return self.leaf_ids.shape[0]


jax.tree_util.register_dataclass(
    Tree,
    data_fields=[
        "parent",
        "depth",
        "is_leaf",
        "ancestors",
        "leaf_ids",
        "subtree_leaves",
        "first_leaf",
        "leaf_count",
    ],
    meta_fields=["height", "branching"],
)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def make_tree(depth: int, branching: int) -> Tree:
    """Build the complete tree with `depth` >= 1 levels below the root, `branching` >= 2."""
    if int(depth) != depth or depth < 1:
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    if int(branching) != branching or branching < 2:
        raise ValueError(f"branching must be an int >= 2, got {branching!r}")
    depth, branching = int(depth), int(branching)
    num_nodes = (branching ** (depth + 1) - 1) // (branching - 1)
    nodes = np.arange(num_nodes)
    parent = np.where(nodes == 0, -1, (nodes - 1) // branching)

    levels = np.zeros(num_nodes, dtype=np.int64)
    ancestors = np.full((num_nodes, depth + 1), -1, dtype=np.int64)
    ancestors[0, 0] = 0
    for node in range(1, num_nodes):
        levels[node] = levels[parent[node]] + 1
        ancestors[node] = ancestors[parent[node]]
        ancestors[node, levels[node]] = node

    is_leaf = levels == depth
    leaf_ids = nodes[is_leaf]
    subtree = np.zeros((num_nodes, leaf_ids.shape[0]), dtype=bool)
    for j, leaf in enumerate(leaf_ids):
        subtree[ancestors[leaf], j] = True

    return Tree(
        parent=_frozen(parent.astype(np.int32)),
        depth=_frozen(levels.astype(np.int32)),
        is_leaf=_frozen(is_leaf),
        ancestors=_frozen(ancestors.astype(np.int32)),
        leaf_ids=_frozen(leaf_ids.astype(np.int32)),
        subtree_leaves=_frozen(subtree),
        first_leaf=_frozen(np.argmax(subtree, axis=1).astype(np.int32)),
        leaf_count=_frozen(np.sum(subtree, axis=1).astype(np.int32)),
        height=depth,
        branching=branching,
    )


def anchor_probabilities(tree: Tree, mode: str) -> jax.Array:
    """Anchor frequency of every node, (n_nodes,), summing to 1.

    "coupled": proportional to the number of leaves in the node's subtree (generic concepts
    are frequent, like generic words); every level then carries the same total mass.
    "decoupled": every node equally frequent, so generality and frequency separate.
    """
    if mode == "coupled":
        weights = np.asarray(tree.leaf_count, dtype=np.float64)
    elif mode == "decoupled":
        weights = np.ones(tree.num_nodes)
    else:
        raise ValueError(f"mode must be 'coupled' or 'decoupled', got {mode!r}")
    weights = jnp.asarray(weights, dtype=jnp.result_type(float))
    return weights / jnp.sum(weights)


def sample_hierarchy_batch(
    key: jax.Array, tree: Tree, probs: jax.Array, batch: int
) -> tuple[jax.Array, jax.Array]:
    """Draw B anchors from probs (n_nodes,) and, for each, a positive leaf uniform in its subtree.

    Returns (anchor node ids (B,), positive leaf indices (B,) into tree.leaf_ids), both
    int32; the positive's node id is tree.leaf_ids[positive]. A leaf anchor's positive is
    itself. Jit-compatible with `batch` static (the tree may be a traced argument).
    """
    if int(batch) != batch or batch < 0:
        raise ValueError(f"batch must be a nonnegative int, got {batch!r}")
    return _sample(key, tree.first_leaf, tree.leaf_count, jnp.asarray(probs), int(batch))


@functools.partial(jax.jit, static_argnums=4)
def _sample(
    key: jax.Array, first_leaf: jax.Array, leaf_count: jax.Array, probs: jax.Array, batch: int
) -> tuple[jax.Array, jax.Array]:
    anchor_key, positive_key = jax.random.split(key)
    anchors = sample_ids(anchor_key, probs, batch)
    start = jnp.asarray(first_leaf)[anchors]
    stop = start + jnp.asarray(leaf_count)[anchors]
    positives = jax.random.randint(positive_key, (batch,), start, stop, dtype=jnp.int32)
    return anchors, positives
