"""Training and the retrieval arrays of each calibration regime, cached by config.

`retrieval(config, seeds)` trains `config` and returns the pooled per-query arrays
(norm, top-1 cosine, margin, correctness, feature, seed); `cached_retrieval` does the
same through the results cache, keyed by the config, the seeds, the retrieval protocol
and the code identity of the engine plus this module; `calibrate(regimes, seeds)`
scores every regime (`normtheory.calibrate.analysis.evaluate`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import cache
from normtheory import data as D
from normtheory.calibrate.analysis import RegimeResult, evaluate
from normtheory.calibrate.settings import FAMILIES, Regime, regimes
from normtheory.config import ConfigError, SimConfig
from normtheory.engine import train
from normtheory.models import mlp
from normtheory.problems import ambiguity_data, make_problem

__all__ = ["CODE", "PROTOCOL", "VIEWS", "cached_retrieval", "calibrate", "retrieval"]

VIEWS = 4  # held-out views per input for MLP queries
# Code identity of the cached retrieval arrays: the engine plus this module.
CODE = cache.code_identity("calibrate/run.py")
PROTOCOL = 1  # bump when the retrieval protocol changes (part of the cache key)


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
    for s in range(seeds):
        p = _seed(params, s)
        key = jax.random.fold_in(jax.random.key(config.seed + s), 0x43414C)  # held-out draws
        k_views, k_labels = jax.random.split(key)
        if config.model == "table":
            ids = np.arange(config.num_items)
            z = np.asarray(p["inputs"]["table"])
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
        annotator = np.asarray(D.sample_positive_classes(k_labels, labels, jnp.asarray(ids)))
        top, first, margin = _top_two(*_ranking(z, np.asarray(p["classes"]["table"])))
        out["norm"].append(np.linalg.norm(z, axis=-1))
        out["top1"].append(first)
        out["margin"].append(margin)
        out["correct"].append(top == annotator)
        out["feature"].append(np.asarray(data.entropy)[ids])
        out["seed"].append(np.full(len(ids), s))
    return {k: np.concatenate(v) for k, v in out.items()}


def _hierarchy_queries(config: SimConfig, params, seeds: int) -> dict[str, np.ndarray]:
    tree = D.make_tree(config.depth, config.branching)
    nodes = np.arange(1, tree.num_nodes)
    if config.towers == 1:
        nodes = nodes[~tree.is_leaf[nodes]]  # a leaf would retrieve itself
    everything = dataclasses.replace(config, tracked=0)
    probe = _anchor_probe(everything)
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
    return {k: np.concatenate(v) for k, v in out.items()}


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
    seed. Data "ambiguity" or "hierarchy" only.
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


def calibrate(
    selected: Sequence[Regime] | None = None,
    seeds: int = 3,
    *,
    n_boot: int = 1000,
    use_cache: bool = True,
    progress: bool = True,
    log=print,
) -> list[RegimeResult]:
    """Train and score every regime (default: `regimes()`); a line of progress per regime.

    Args:
        selected: the regimes to run (default: every regime of `regimes()`).
        seeds: training seeds per regime (>= 1); queries are pooled over seeds.
        n_boot: bootstrap resamples of each AUROC's 95% interval.
        use_cache: reuse the results cache's retrieval arrays (trained float32 runs).
        progress: print one line per regime through `log`.
        log: where progress and cache messages go.

    Returns:
        One RegimeResult per regime, in order: accuracy, each score's AUROC with its
        interval, AURC, the norm's Spearman correlation with the regime's feature, the
        theory's predicted side and the verdict, and the curves the figure draws.

    Raises:
        ConfigError: seeds below 1.
    """
    if seeds < 1:
        raise ConfigError(f"seeds={seeds} must be >= 1")
    selected = regimes() if selected is None else list(selected)
    results = []
    for i, regime in enumerate(selected, 1):
        if progress:
            log(f"[{i}/{len(selected)}] {regime.name}")
        arrays = cached_retrieval(regime.config, seeds, use_cache=use_cache, log=log)
        results.append(evaluate(regime, arrays, n_boot=n_boot))
    return results
