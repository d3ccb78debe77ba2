"""A simulation problem: data family + model + loss, as pure functions the engine runs.

`make_problem(config)` returns a `Problem`:
- init(key) -> params; sample(key) -> batch (a dict of arrays);
- embed(params, batch, hp) -> (anchors Z, positives W): the rows the loss sees; W may be
  constant (direction views) or learned (a context tower, class prototypes) or None;
- loss((Z, W), batch, hp) -> scalar; alignment((Z, W), batch) -> scalar;
- probe(params) -> (I, d): the embeddings of the tracked items (rows of a table, the
  encoder applied to fixed probe inputs);
- item_grads(grads, (gZ, gW), batch) -> (I, d): gradient of the loss with respect to each
  tracked item's embedding, summed over its occurrences in the batch;
- own_rows(batch) -> (slots of Z rows, slots of W rows or None): for every row the loss
  sees, the tracked item it embeds (its index in `items`), or -1: the "self" rows of
  the kernel split (for the imbalance data, the samples of the item's class);
- probe_one(params, slot) -> (d,): the embedding of one tracked item (row `slot` of
  probe), so that per-item kernels cost one row, not the whole probe; None: take the row
  of `probe`;
- rows_share_probe: True when every row that own_rows assigns to a tracked item is
  computed from the parameters exactly as that item's probe row (same input), so its
  Jacobian is the item's J_i and the item's own gradient is J_i^T (its rows' summed
  cotangents) (tables, trees, the ambiguity inputs; not the imbalance samples);
- self_kernel(params, slot, c (d,), diag) -> (d,): J_i diag J_i^T c for a diagonal
  preconditioner `diag` (a pytree like params), computed from the model's structure;
  None: the engine pulls back and pushes forward the probe row (same numbers, slower);
- linear: True for free tables, whose probe is a row of the parameters (the norm budget
  is then computed directly from the rows, with no remainder);
- rows: for problems whose parameters are one table of which a batch reads a few rows
  (frequency; hierarchy tables with one tower), how to embed from the gathered rows
  (`Rows`), which lets plain SGD update and trace only those rows (`normtheory._step.sparse_step`);
  None otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import data as D
from normtheory import losses
from normtheory.config import SimConfig
from normtheory.data import wordnet as words_data
from normtheory.models import compositional, mlp, table


class Rows(NamedTuple):
    """The sparse-row capability of a problem whose parameters are one table (V, d).

    ids(batch) -> (R,) int: the table rows the batch reads (repeats allowed);
    embed(rows (R, d), batch, hp) -> (Z, W): what Problem.embed(params, batch, hp) gives
    when rows = table[ids]. Tracked item i is row i of the table.
    """

    ids: Callable[[Mapping[str, jax.Array]], jax.Array]
    embed: Callable[..., tuple[jax.Array, jax.Array | None]]


@dataclasses.dataclass(frozen=True)
class Problem:
    num_items: int
    items: np.ndarray
    info: dict[str, np.ndarray]
    rate: np.ndarray
    linear: bool
    init: Callable[[jax.Array], Any]
    sample: Callable[[jax.Array], dict[str, jax.Array]]
    embed: Callable[..., tuple[jax.Array, jax.Array | None]]
    loss: Callable[..., jax.Array]
    alignment: Callable[..., jax.Array]
    probe: Callable[[Any], jax.Array]
    item_grads: Callable[..., jax.Array]
    own_rows: Callable[[dict], Any] | None = None
    rows: Rows | None = None
    probe_one: Callable[[Any, jax.Array], jax.Array] | None = None
    rows_share_probe: bool = False
    self_kernel: Callable[..., jax.Array] | None = None


def tracked_items(config: SimConfig) -> np.ndarray:
    """All items, or `tracked` ids spaced geometrically over 1..n (even in log rank)."""
    n = config.num_tracked_max
    if config.tracked in (0, n):
        return np.arange(n)
    ranks = np.unique(np.geomspace(1, n, 4 * config.tracked).astype(int) - 1)
    picks = np.linspace(0, len(ranks) - 1, min(config.tracked, len(ranks))).round().astype(int)
    chosen = np.unique(ranks[picks])
    if len(chosen) < config.tracked:
        rest = np.setdiff1d(np.arange(n), chosen)[: config.tracked - len(chosen)]
        chosen = np.sort(np.concatenate([chosen, rest]))
    return chosen


def every_row(items: np.ndarray, num_rows: int) -> bool:
    """Whether `items` are all `num_rows` rows in order (then no gather selects them)."""
    return len(items) == num_rows and np.array_equal(items, np.arange(num_rows))


def _slots(items: np.ndarray, n: int) -> jax.Array:
    """(n,) map from item id to its index among the tracked `items`, -1 if untracked."""
    slot = np.full(n, -1, dtype=np.int32)
    slot[items] = np.arange(len(items), dtype=np.int32)
    return jnp.asarray(slot)


def _cdf_sampler(probs: jax.Array) -> Callable[[jax.Array, int], jax.Array]:
    """Inverse-CDF sampling: O(B log V) per batch."""
    cdf = jnp.cumsum(probs)

    def sample(key: jax.Array, batch: int) -> jax.Array:
        u = jax.random.uniform(key, (batch,), dtype=cdf.dtype) * cdf[-1]
        idx = jnp.searchsorted(cdf, u, side="right")
        return jnp.minimum(idx, probs.shape[0] - 1).astype(jnp.int32)

    return sample


def _pair_loss(config: SimConfig, shared_exp: bool) -> Callable[..., jax.Array]:
    if config.loss == "symmetric":
        return lambda zw, batch, hp: losses.symmetric_infonce(
            zw[0], zw[1], hp["tau"], shared_exp=shared_exp
        )
    return lambda zw, batch, hp: losses.batch_infonce(zw[0], zw[1], hp["tau"])


def _pair_alignment(zw, batch):
    return losses.alignment(zw[0], zw[1])


def _segment(rows: jax.Array, ids: jax.Array, n: int) -> jax.Array:
    return jax.ops.segment_sum(rows, ids, num_segments=n)


def _rates(probs: np.ndarray, batch: int) -> np.ndarray:
    """Probability that an item is in a batch of `batch` draws: 1 - (1 - p)^B."""
    return 1 - (1 - probs) ** batch


def _frequency(config: SimConfig, dtype, shared_exp: bool) -> Problem:
    probs = D.zipf_probabilities(config.num_items, config.zipf).astype(dtype)
    sample_ids = _cdf_sampler(probs)
    items = tracked_items(config)
    slot = _slots(items, config.num_items)
    all_rows = every_row(items, config.num_items)  # then the probe needs no gather

    def sample(key):
        k_ids, k_view = jax.random.split(key)
        return {"ids": sample_ids(k_ids, config.batch), "view_key": k_view}

    def embed_rows(z, batch, hp):
        views = D.direction_views(batch["view_key"], jax.lax.stop_gradient(z), hp["view_noise"])
        return z, views

    def embed(params, batch, hp):
        return embed_rows(table.embed(params, batch["ids"]), batch, hp)

    p = np.asarray(probs, dtype=np.float64)
    return Problem(
        num_items=config.num_items,
        items=items,
        info={"probability": p[items]},
        rate=_rates(p, config.batch)[items],
        linear=True,
        init=lambda key: table.init(key, config.num_items, config.dim, config.init_scale, dtype),
        sample=sample,
        embed=embed,
        loss=_pair_loss(config, shared_exp),
        alignment=_pair_alignment,
        probe=lambda params: params["table"] if all_rows else params["table"][items],
        item_grads=lambda grads, cot, batch: grads["table"][items],
        own_rows=lambda batch: (slot[batch["ids"]], jnp.full(config.batch, -1, jnp.int32)),
        rows=Rows(ids=lambda batch: batch["ids"], embed=embed_rows),
    )


def _tree_problem(
    config: SimConfig,
    shared_exp: bool,
    *,
    num_nodes: int,
    ancestors: np.ndarray,
    num_contexts: int,
    sample: Callable[[jax.Array], dict[str, jax.Array]],
    positive_nodes: Callable[[dict], jax.Array],
    context_ids: Callable[[dict], jax.Array],
    probs: np.ndarray,
    info: dict[str, np.ndarray],
    dtype,
) -> Problem:
    """A concept-tree problem: nodes are items, anchored by `sample`'s "nodes"; a node's
    positive is the node `positive_nodes(batch)` (same model, `towers` = 1) or the row
    `context_ids(batch)` of a separate context table of `num_contexts` rows (`towers` = 2).
    Models: a free table of nodes, or the compositional sum of the features on the
    root-to-node path (`ancestors`, (num_nodes, max depth + 1), padded with -1).
    """
    n = num_nodes
    items = tracked_items(config)
    slot = _slots(items, n)
    ancestors = jnp.asarray(ancestors)
    is_table = config.model == "table"

    def anchor_embed(params, nodes):
        if is_table:
            return table.embed(params["anchor"], nodes)
        return compositional.embed(params["anchor"], ancestors[nodes])

    def init(key):
        k_a, k_c = jax.random.split(key)
        model = table if is_table else compositional
        params = {"anchor": model.init(k_a, n, config.dim, config.init_scale, dtype)}
        if config.towers == 2:
            params["context"] = table.init(k_c, num_contexts, config.dim, config.init_scale, dtype)
        return params

    def embed(params, batch, hp):
        z = anchor_embed(params, batch["nodes"])
        if config.towers == 2:
            return z, table.embed(params["context"], context_ids(batch))
        return z, anchor_embed(params, positive_nodes(batch))

    def row_ids(batch):  # anchors, then positives: rows of the one anchor table
        return jnp.concatenate([batch["nodes"], positive_nodes(batch)])

    def embed_rows(rows, batch, hp):
        return rows[: config.batch], rows[config.batch :]

    def item_grads(grads, cot, batch):
        g = _segment(cot[0], batch["nodes"], n)
        if config.towers == 1:
            g = g + _segment(cot[1], positive_nodes(batch), n)
        return g[items]

    def own_rows(batch):
        if config.towers == 2:
            return slot[batch["nodes"]], jnp.full(config.batch, -1, jnp.int32)
        return slot[batch["nodes"]], slot[positive_nodes(batch)]

    p = np.asarray(probs, dtype=np.float64)
    return Problem(
        num_items=n,
        items=items,
        info={name: np.asarray(values)[items] for name, values in info.items()}
        | {"probability": p[items]},
        rate=_rates(p, config.batch)[items],
        linear=is_table,
        init=init,
        sample=sample,
        embed=embed,
        loss=_pair_loss(config, shared_exp),
        alignment=_pair_alignment,
        probe=lambda params: anchor_embed(params, jnp.asarray(items)),
        item_grads=item_grads,
        own_rows=own_rows,
        rows=Rows(row_ids, embed_rows) if is_table and config.towers == 1 else None,
        probe_one=lambda params, slot: anchor_embed(params, jnp.asarray(items)[slot][None])[0],
        rows_share_probe=True,
        # A sum of features: J_i diag J_i^T c = (sum of diag over i's features) * c.
        self_kernel=lambda params, slot, c, diag: (
            anchor_embed(diag, jnp.asarray(items)[slot][None])[0] * c
        ),
    )


def _hierarchy(config: SimConfig, dtype, shared_exp: bool) -> Problem:
    tree = D.make_tree(config.depth, config.branching)
    probs = D.anchor_probabilities(tree, config.frequency_mode).astype(dtype)
    leaf_nodes = jnp.asarray(tree.leaf_ids)

    def sample(key):
        nodes, leaves = D.sample_hierarchy_batch(key, tree, probs, config.batch)
        return {"nodes": nodes, "leaves": leaves}

    return _tree_problem(
        config,
        shared_exp,
        num_nodes=tree.num_nodes,
        ancestors=tree.ancestors,
        num_contexts=tree.num_leaves,
        sample=sample,
        positive_nodes=lambda batch: leaf_nodes[batch["leaves"]],
        context_ids=lambda batch: batch["leaves"],
        probs=probs,
        info={"depth": tree.depth, "leaves": tree.leaf_count},
        dtype=dtype,
    )


def ambiguity_data(config: SimConfig) -> D.AmbiguityData:
    """The fixed data set (soft labels, geometry, inputs) of an ambiguity config."""
    return D.make_ambiguity_data(
        jax.random.key(config.data_seed),
        config.num_items,
        config.num_classes,
        config.latent_dim,
        config.input_dim,
        config.noise,
        np.linspace(0.0, 1.0, config.ambiguity_levels),
    )


def _ambiguity(config: SimConfig, dtype, shared_exp: bool) -> Problem:
    data = ambiguity_data(config)
    labels = jnp.asarray(data.labels, dtype=dtype)
    inputs = jnp.asarray(data.inputs, dtype=dtype)
    items = tracked_items(config)
    is_table = config.model == "table"
    sizes = (config.input_dim,) + (config.width,) * config.layers + (config.dim,)

    def encode(params, ids):
        if is_table:
            return table.embed(params["inputs"], ids)
        return mlp.embed(params["inputs"], inputs[ids], config.activation)

    def init(key):
        k_a, k_c = jax.random.split(key)
        encoder = (
            table.init(k_a, config.num_items, config.dim, config.init_scale, dtype)
            if is_table
            else mlp.init(k_a, sizes, config.activation, dtype)
        )
        prototypes = table.init(k_c, config.num_classes, config.dim, config.init_scale, dtype)
        return {"inputs": encoder, "classes": prototypes}

    def sample(key):
        k_ids, k_cls = jax.random.split(key)
        ids = jax.random.randint(k_ids, (config.batch,), 0, config.num_items, dtype=jnp.int32)
        return {"ids": ids, "classes": D.sample_positive_classes(k_cls, labels, ids)}

    def embed(params, batch, hp):
        return encode(params, batch["ids"]), params["classes"]["table"]

    def loss(zw, batch, hp):
        return losses.prototype_infonce(zw[0], zw[1], batch["classes"], hp["tau"])

    def alignment(zw, batch):
        return losses.alignment(zw[0], zw[1][batch["classes"]])

    def self_kernel(params, slot, c, diag):  # the MLP's NTK block, preconditioned, times c
        x = inputs[jnp.asarray(items)[slot]]
        return mlp.kernel_vector(params["inputs"], x, c, diag["inputs"], config.activation)

    uniform = np.full(config.num_items, 1.0 / config.num_items)
    return Problem(
        num_items=config.num_items,
        items=items,
        info={
            "entropy": np.asarray(data.entropy)[items],
            "ambiguity": np.asarray(data.ambiguity)[items],
            "primary": np.asarray(data.primary)[items],
        },
        rate=_rates(uniform, config.batch)[items],
        linear=is_table,
        init=init,
        sample=sample,
        embed=embed,
        loss=loss,
        alignment=alignment,
        probe=lambda params: encode(params, jnp.asarray(items)),
        item_grads=lambda grads, cot, batch: _segment(cot[0], batch["ids"], config.num_items)[
            items
        ],
        own_rows=lambda batch: (
            _slots(items, config.num_items)[batch["ids"]],
            jnp.full(config.num_classes, -1, jnp.int32),
        ),
        probe_one=lambda params, slot: encode(params, jnp.asarray(items)[slot][None])[0],
        rows_share_probe=True,
        self_kernel=None if is_table else self_kernel,
    )


def _imbalance(config: SimConfig, dtype, shared_exp: bool) -> Problem:
    weights = tuple(2.0**k for k in range(config.num_classes))
    spec = D.make_imbalance_problem(
        jax.random.key(config.data_seed),
        weights=weights,
        latent_dim=config.latent_dim,
        input_dim=config.input_dim,
        noise=config.noise,
    )
    centers = jnp.asarray(spec.centers, dtype=dtype) @ jnp.asarray(spec.lift, dtype=dtype)
    items = tracked_items(config)
    sizes = (config.input_dim,) + (config.width,) * config.layers + (config.dim,)

    def sample(key):
        x, y = D.sample_imbalance_batch(key, spec, config.batch)
        return {"x": x.astype(dtype), "labels": y}

    def alignment(zw, batch):
        u = zw[0] / jnp.linalg.norm(zw[0], axis=-1, keepdims=True)
        same = (batch["labels"][:, None] == batch["labels"][None, :]) & ~jnp.eye(
            config.batch, dtype=bool
        )
        sq = jnp.maximum(2.0 - 2.0 * (u @ u.T), 0.0)
        return jnp.sum(jnp.where(same, sq, 0.0)) / jnp.maximum(jnp.sum(same), 1).astype(u.dtype)

    probs = np.asarray(spec.class_probs, dtype=np.float64)
    return Problem(
        num_items=config.num_classes,
        items=items,
        info={"class_probability": probs[items]},
        rate=_rates(probs, config.batch)[items],
        linear=False,
        init=lambda key: {"encoder": mlp.init(key, sizes, config.activation, dtype)},
        sample=sample,
        embed=lambda params, batch, hp: (
            mlp.embed(params["encoder"], batch["x"], config.activation),
            None,
        ),
        loss=lambda zw, batch, hp: losses.supervised_infonce(zw[0], batch["labels"], hp["tau"]),
        alignment=alignment,
        probe=lambda params: mlp.embed(params["encoder"], centers[items], config.activation),
        item_grads=lambda grads, cot, batch: _segment(cot[0], batch["labels"], config.num_classes)[
            items
        ],
        own_rows=lambda batch: (_slots(items, config.num_classes)[batch["labels"]], None),
        probe_one=lambda params, slot: mlp.embed(
            params["encoder"], centers[items][slot][None], config.activation
        )[0],
    )


def _wordnet(config: SimConfig, dtype, shared_exp: bool) -> Problem:
    """The hierarchy problem on the probe's nouns and their WordNet hypernym paths.

    As `_hierarchy`, with the tree, anchor frequencies and frequency-weighted positives
    of `normtheory.data.wordnet`; the tracked items are words (node w is word w).
    """
    tree = words_data.load_word_tree(config.num_items)
    probs = words_data.anchor_probabilities(tree, config.frequency_mode)
    sampler = words_data.make_sampler(tree, probs, dtype)

    def sample(key):
        nodes, positives = words_data.sample_word_batch(key, sampler, config.batch)
        return {"nodes": nodes, "positives": positives}

    return _tree_problem(
        config,
        shared_exp,
        num_nodes=tree.num_nodes,
        ancestors=tree.ancestors,
        num_contexts=tree.num_words,
        sample=sample,
        positive_nodes=lambda batch: batch["positives"],
        context_ids=lambda batch: batch["positives"],
        probs=probs,
        info={"depth": tree.depth, "leaves": tree.context_count, "frequency": tree.frequency},
        dtype=dtype,
    )


BUILDERS = {
    "frequency": _frequency,
    "hierarchy": _hierarchy,
    "ambiguity": _ambiguity,
    "imbalance": _imbalance,
    "wordnet": _wordnet,
}


def make_problem(config: SimConfig, dtype, *, shared_exp: bool = False) -> Problem:
    """The problem of `config` in `dtype`.

    `shared_exp=True` promises tau >= losses.shared_exp_min_tau(dtype) in every run: the
    symmetric pair loss then takes its one-exponential form (the prototype and supervised
    losses have none and ignore it).
    """
    return BUILDERS[config.data](config, dtype, shared_exp)
