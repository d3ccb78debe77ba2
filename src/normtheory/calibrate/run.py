"""Training and the retrieval arrays of each calibration regime, cached by config.

`retrieval(config, seeds)` trains `config` and returns the pooled per-query arrays
(norm, top-1 cosine, margin, correctness, feature, seed), and the arrays of the
out-of-distribution test: the same scores for seen items and for unseen ones, with the
item facts that need no training (`unseen`, below); `cached_retrieval` does the same
through the results cache, keyed by the config, the seeds, the retrieval protocol and
the code identity of this module's import closure (the engine's included; not the
scoring, so editing `analysis` never retrains). `normtheory.calibrate.analysis.calibrate`
scores every regime on these arrays.

Unseen items are items the trained model has never seen, of the same kind as the
training items, embedded by the trained parameters without any further training:

- hierarchy: one new leaf under every node of depth `depth - 1` (unseen leaves; the
  tree is complete, so these are the only new items of the same kind). Its own
  parameter is a fresh draw of the initialisation: for the free table its row, for the
  compositional encoder its feature, added to the trained features of its ancestors.
  Seen items: every node but the root. Item facts: depth, leaves below, and draw
  probability (an unseen leaf gets a leaf's probability; with coupled frequencies all
  three rank the nodes alike).
- ambiguity, free table: fresh rows of the initialisation (an unseen input has no row
  that training moved), with the ambiguity levels of the training inputs.
- ambiguity, MLP: inputs of an unseen class, a new centre uniform on the latent sphere,
  with the soft labels of the training inputs over K + 1 classes (the new class
  primary) and the same noise and lift. Item facts: ambiguity level and, for the MLP,
  the norm of the input itself (the toy's analogue of a word's length).

Unseen classes are not possible for the free table (nothing maps a new class to a
row) and unseen leaves are not possible for the ambiguity data (it has no tree), hence
the two kinds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import cache
from normtheory import data as D
from normtheory.calibrate.settings import FAMILIES
from normtheory.config import ConfigError, SimConfig
from normtheory.engine import train
from normtheory.models import mlp
from normtheory.problems import ambiguity_data, make_problem

__all__ = ["CODE", "PROTOCOL", "VIEWS", "cached_retrieval", "retrieval"]

VIEWS = 4  # held-out views per input for MLP queries
# Code identity of the cached retrieval arrays: the engine plus this module.
CODE = cache.code_identity("calibrate/run.py")
PROTOCOL = 2  # bump when the retrieval protocol changes (part of the cache key)
_UNSEEN = 0x554E53  # folded into a seed's key for the unseen items' draws


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _ranking(queries: np.ndarray, gallery: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cosines (Q, G), gallery indices of each query by decreasing cosine (Q, G))."""
    cos = _unit(queries) @ _unit(gallery).T
    return cos, np.argsort(-cos, axis=1, kind="stable")


def _top_two(cos: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, ...]:
    """(top-1 index, top-1 cosine, top-1 minus top-2 cosine) of each query (`_ranking`)."""
    rows = np.arange(len(cos))
    first, second = cos[rows, order[:, 0]], cos[rows, order[:, 1]]
    return order[:, 0], first, first - second


def _seed(params, s: int):
    return jax.tree.map(lambda x: jnp.asarray(x[s]), params)


def _ambiguity_queries(config: SimConfig, params, seeds: int) -> dict[str, np.ndarray]:
    data = ambiguity_data(config)
    dtype = jnp.dtype(config.dtype)
    labels = jnp.asarray(data.labels, dtype=dtype)
    out = {k: [] for k in ("norm", "top1", "margin", "correct", "feature", "seed")}
    seen, unseen = [], []
    for s in range(seeds):
        p = _seed(params, s)
        key = jax.random.fold_in(jax.random.key(config.seed + s), 0x43414C)  # held-out draws
        k_views, k_labels = jax.random.split(key)
        if config.model == "table":
            ids = np.arange(config.num_items)
            z = np.asarray(p["inputs"]["table"])
            facts = {"ambiguity": np.asarray(data.ambiguity, float)[ids]}
        else:
            ids = np.tile(np.arange(config.num_items), VIEWS)
            x = D.continuous_inputs(
                k_views,
                labels[ids],
                jnp.asarray(data.centers, dtype),
                config.noise,
                jnp.asarray(data.lift, dtype),
            )
            z = np.asarray(mlp.embed(p["inputs"], x, config.activation))
            facts = {
                "ambiguity": np.asarray(data.ambiguity, float)[ids],
                "input_norm": np.linalg.norm(np.asarray(x, float), axis=-1),
            }
        gallery = np.asarray(p["classes"]["table"])
        annotator = np.asarray(D.sample_positive_classes(k_labels, labels, jnp.asarray(ids)))
        top, first, margin = _top_two(*_ranking(z, gallery))
        out["norm"].append(np.linalg.norm(z, axis=-1))
        out["top1"].append(first)
        out["margin"].append(margin)
        out["correct"].append(top == annotator)
        out["feature"].append(np.asarray(data.entropy)[ids])
        out["seed"].append(np.full(len(ids), s))
        seen.append(_scored(z, gallery, facts, s))
        u_key = jax.random.fold_in(jax.random.key(config.seed + s), _UNSEEN)
        z_new, new_facts = _ambiguity_unseen(config, data, p, u_key)
        unseen.append(_scored(z_new, gallery, new_facts, s))
    arrays = {k: np.concatenate(v) for k, v in out.items()}
    return arrays | _pooled("seen", seen) | _pooled("unseen", unseen)


def _ambiguity_unseen(config: SimConfig, data, p, key) -> tuple[np.ndarray, dict]:
    """Embeddings (num_items, d) of unseen inputs and their facts (see the module)."""
    dtype = jnp.dtype(config.dtype)
    levels = np.asarray(data.ambiguity, float)
    k_rows, k_center, k_noise = jax.random.split(key, 3)
    if config.model == "table":
        shape = (config.num_items, config.dim)
        rows = jax.random.normal(k_rows, shape, dtype) * (config.init_scale / config.dim**0.5)
        return np.asarray(rows), {"ambiguity": levels}
    centers = jnp.asarray(data.centers, dtype)
    new = jax.random.normal(k_center, (1, centers.shape[1]), dtype)
    centers = jnp.concatenate([centers, new / jnp.linalg.norm(new)], axis=0)
    k = centers.shape[0]
    a = jnp.asarray(levels, dtype)[:, None]
    labels = (1.0 - a) * jax.nn.one_hot(jnp.full(len(levels), k - 1), k, dtype=dtype) + a / k
    x = D.continuous_inputs(k_noise, labels, centers, config.noise, jnp.asarray(data.lift, dtype))
    z = np.asarray(mlp.embed(p["inputs"], x, config.activation))
    return z, {"ambiguity": levels, "input_norm": np.linalg.norm(np.asarray(x, float), axis=-1)}


def _scored(z: np.ndarray, gallery: np.ndarray, facts: dict, seed: int) -> dict:
    """Norm, top-1 cosine and margin of queries z (Q, d) against gallery (G, d), with
    their facts (name -> (Q,)) under "fact_<name>" and the seed."""
    _, first, margin = _top_two(*_ranking(z, gallery))
    return {
        "norm": np.linalg.norm(z, axis=-1),
        "top1": first,
        "margin": margin,
        "seed": np.full(len(z), seed),
        **{f"fact_{name}": np.asarray(v, float) for name, v in facts.items()},
    }


def _pooled(prefix: str, parts: list[dict]) -> dict[str, np.ndarray]:
    """`_scored` records of every seed, concatenated, keys prefixed ("seen_norm", ...)."""
    return {f"{prefix}_{k}": np.concatenate([part[k] for part in parts]) for k in parts[0]}


def _hierarchy_queries(config: SimConfig, params, seeds: int) -> dict[str, np.ndarray]:
    tree = D.make_tree(config.depth, config.branching)
    nodes = np.arange(1, tree.num_nodes)
    if config.towers == 1:
        nodes = nodes[~tree.is_leaf[nodes]]  # a leaf would retrieve itself
    everything = dataclasses.replace(config, tracked=0)
    probe = _anchor_probe(everything)
    probability = np.asarray(D.anchor_probabilities(tree, config.frequency_mode), float)
    others = np.arange(1, tree.num_nodes)  # every seen item: all nodes but the root
    parents = np.flatnonzero(tree.depth == config.depth - 1)  # one unseen leaf under each
    leaf_p = probability[tree.leaf_ids[0]]
    facts = {
        "depth": tree.depth[others].astype(float),
        "leaves": tree.leaf_count[others].astype(float),
        "probability": probability[others],
    }
    new_facts = {
        "depth": np.full(len(parents), float(config.depth)),
        "leaves": np.ones(len(parents)),
        "probability": np.full(len(parents), leaf_p),
    }
    seen, unseen = [], []
    out = {k: [] for k in ("norm", "top1", "margin", "correct", "feature", "seed")}
    for s in range(seeds):
        p = _seed(params, s)
        anchors = np.asarray(probe(p))
        gallery = (
            np.asarray(p["context"]["table"]) if config.towers == 2 else anchors[tree.leaf_ids]
        )
        z = anchors[nodes]
        cos, order = _ranking(z, gallery)
        _, first, margin = _top_two(cos, order)
        out["norm"].append(np.linalg.norm(z, axis=-1))
        out["top1"].append(first)
        out["margin"].append(margin)
        out["correct"].append(_subtree_retrieved(tree, nodes, order))
        out["feature"].append(tree.depth[nodes].astype(float))
        out["seed"].append(np.full(len(nodes), s))
        seen.append(_scored(anchors[others], gallery, facts, s))
        u_key = jax.random.fold_in(jax.random.key(config.seed + s), _UNSEEN)
        own = jax.random.normal(u_key, (len(parents), config.dim), jnp.dtype(config.dtype))
        own = np.asarray(own) * (config.init_scale / config.dim**0.5)
        # the free table's new row is its own parameter alone; the compositional
        # encoder adds the new feature to the trained features of the leaf's ancestors
        z_new = own if config.model == "table" else anchors[parents] + own
        unseen.append(_scored(z_new, gallery, new_facts, s))
    arrays = {k: np.concatenate(v) for k, v in out.items()}
    return arrays | _pooled("seen", seen) | _pooled("unseen", unseen)


def _subtree_retrieved(tree, nodes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Whether the m nearest leaves of each node are exactly its m subtree leaves.

    `order`: each node's leaves by decreasing cosine (`_ranking`). For a leaf (m = 1)
    this is top-1 retrieval of its own context; for an inner node it asks the concept to
    rank all its instances above every other leaf.
    """
    counts = tree.leaf_count[nodes]
    ranked_in = np.take_along_axis(tree.subtree_leaves[nodes], order, axis=1)
    hits = np.cumsum(ranked_in, axis=1)[np.arange(len(nodes)), counts - 1]
    return hits == counts


def _anchor_probe(config: SimConfig) -> Callable:
    return make_problem(config, jnp.dtype(config.dtype)).probe


def retrieval(config: SimConfig, seeds: int, *, progress: bool = False) -> dict[str, np.ndarray]:
    """Train `config` for `seeds` seeds and return the pooled per-query arrays.

    Keys: norm, top1 (cosine), margin, correct (bool), feature (entropy or depth),
    seed, all (Q,) for the Q retrieval queries; and for the out-of-distribution test
    (see the module) seen_norm, seen_top1, seen_margin, seen_seed, seen_fact_<name>
    (S,) for the S seen items and the same with "unseen_" for the U unseen ones, the
    facts being depth, leaves and probability (hierarchy) or ambiguity and, for the
    MLP, input_norm. Data "ambiguity" or "hierarchy" only.
    """
    if config.data not in FAMILIES:
        raise ConfigError(f"retrieval is defined for data {sorted(FAMILIES)}, not {config.data!r}")
    params, _ = train(config, seeds, progress=progress)
    if config.data == "ambiguity":
        return _ambiguity_queries(config, params, seeds)
    return _hierarchy_queries(config, params, seeds)


def cached_retrieval(
    config: SimConfig, seeds: int, *, use_cache: bool = True, progress: bool = False, log=print
) -> dict[str, np.ndarray]:
    """`retrieval` through the results cache (keyed by config, seeds and protocol)."""
    if not use_cache:
        return retrieval(config, seeds, progress=progress)
    spec = {
        "computation": "calibration",
        "protocol": PROTOCOL,
        "views": VIEWS,
        "seeds": seeds,
        "config": dataclasses.asdict(config),
    }
    return cache.cached_arrays(
        spec, lambda: retrieval(config, seeds, progress=progress), "calibrate/run.py", log=log
    )
