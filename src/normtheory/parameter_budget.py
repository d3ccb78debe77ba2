"""The norm budget of the parameters, row by row (THEORY.md item 17).

The engine traces the budget of the embeddings (item 12). For a shared encoder the
parameters have a budget of their own: each row r of a parameter array (a feature of
the compositional encoder, a table row) changes by

    |theta_r'|^2 - |theta_r|^2 = 2 theta_r . d theta_r + |d theta_r|^2
                              = drift_r + heat_r,

with the decay's shrink counted in the drift here. Summed over every row, SGD's drift
is exactly the shrink's -2 eta lam |theta|^2 for a homogeneous encoder (item 17: the
gradient's share, -2 eta theta . grad_theta L, vanishes); row by row it does not: the
gradient moves norm between rows, which is what item 15's cross drift looks like from
the parameters' side.

`trace_parameters` replays a run with the engine's problem, optimizer and key sequence
(`simulate` with the same config and seed makes the same steps) and returns these
quantities per step and row. It is a float64 diagnostic for a single seed, not part of
the engine's compiled windows. For the compositional encoder, `path_parts` splits a
node's growth into its path features' growth and their alignment, and `path_summary`
caches that split with the features' budget (figure 14, simulations/path_features.py).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from normtheory._replay import replay
from normtheory.config import SimConfig

__all__ = [
    "FIELDS",
    "path_membership",
    "path_parts",
    "path_summary",
    "row_names",
    "trace_parameters",
]

FIELDS = ("norm2", "drift", "heat", "grad2")


def _rows(tree) -> jax.Array:
    """Every leaf as rows: (rows,) squared norms per row of each leaf, concatenated."""
    parts = [jnp.sum(jnp.reshape(x, (x.shape[0], -1)) ** 2, -1) if x.ndim else x[None] ** 2
             for x in jax.tree.leaves(tree)]  # fmt: skip
    return jnp.concatenate(parts)


def _row_dots(a, b) -> jax.Array:
    parts = [
        jnp.sum(jnp.reshape(x * y, (x.shape[0], -1)), -1) if x.ndim else (x * y)[None]
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    ]
    return jnp.concatenate(parts)


def row_names(params) -> list[str]:
    """'leaf path[row]' for every row `trace_parameters` reports, in its order."""
    names = []
    for path, x in jax.tree_util.tree_leaves_with_path(params):
        label = jax.tree_util.keystr(path)
        names += [f"{label}[{r}]" for r in range(x.shape[0])] if x.ndim else [label]
    return names


def trace_parameters(config: SimConfig, seed: int | None = None) -> dict[str, np.ndarray]:
    """Per step and parameter row: the row's budget over a run of `config`, in float64.

    Args:
        config: the run (any data family, model and optimizer `simulate` accepts); its
            `steps` steps are replayed.
        seed: the seed (default `config.seed`); the keys are `simulate`'s.

    Returns:
        {"norm2": |theta_r|^2 before each step, "drift": 2 theta_r . d theta_r, "heat":
        |d theta_r|^2, "grad2": |dL/d theta_r|^2}, each (T, R) for the R rows of every
        parameter array (first axis; a scalar is one row), rows in `row_names` order;
        "after": |theta_r|^2 after each step, (T, R), measured from the parameters the
        step produced (not from drift + heat); "initial" and "final": the parameters
        before the first and after the last step (pytrees of arrays).
    """

    def record(problem, step):
        p, u, g = step.params, step.updates, step.grads
        return (_rows(p), 2 * _row_dots(p, u), _rows(u), _rows(g))

    _, params, final, records = replay(config, seed, record)
    out = {name: np.asarray(x) for name, x in zip(FIELDS, records, strict=True)}
    out["after"] = np.concatenate([out["norm2"][1:], np.asarray(_rows(final))[None]])
    return out | {
        "initial": jax.tree.map(np.asarray, params),
        "final": jax.tree.map(np.asarray, final),
    }


def path_membership(ancestors: np.ndarray) -> np.ndarray:
    """(I, F) 0/1: feature f lies on node i's path; ancestors (I, depth + 1) padded with -1."""
    ancestors = np.asarray(ancestors)
    member = np.zeros((ancestors.shape[0], int(ancestors.max()) + 1))
    for node, path in enumerate(ancestors):
        member[node, path[path >= 0]] = 1.0
    return member


def path_parts(initial: np.ndarray, final: np.ndarray, member: np.ndarray) -> dict[str, np.ndarray]:
    """Per node of a compositional encoder, growth = feature part + alignment part, exactly.

    A node is the sum of its path's features, so N^2 = a S with S = sum_f |theta_f|^2 over
    the path and a the alignment factor (1 for mutually orthogonal features, below 1 when
    they cancel), and log(N_T / N_0) = (1/2) log(S_T / S_0) + (1/2) log(a_T / a_0).

    Args:
        initial, final: (F, d) the features before and after training.
        member: (I, F) `path_membership`.

    Returns:
        {"growth", "feature", "alignment"}, each (I,).
    """
    ends = {}
    for name, theta in (("0", initial), ("T", final)):
        ends["n2" + name] = np.sum((member @ theta) ** 2, axis=-1)
        ends["s" + name] = member @ np.sum(theta**2, axis=-1)
    feature = 0.5 * np.log(ends["sT"] / ends["s0"])
    growth = 0.5 * np.log(ends["n2T"] / ends["n20"])
    return {"growth": growth, "feature": feature, "alignment": growth - feature}


def path_summary(config: SimConfig, seed: int | None = None) -> dict[str, np.ndarray]:
    """`path_parts` and the features' budget of one run of a compositional hierarchy.

    Through the results cache (keyed by the config, the seed and the code), so a figure
    or a diagnostic never recomputes a run it has.

    Args:
        config: a run with data "hierarchy" and model "compositional".
        seed: the seed (default `config.seed`).

    Returns:
        {"growth", "feature", "alignment", "depth"}: per node (I,); {"drift", "heat"}:
        per feature (F,, the feature of node f), 2 theta_f . d theta_f and
        |d theta_f|^2 summed over the run.
    """
    from normtheory import cache

    if config.data != "hierarchy" or config.model != "compositional":
        raise ValueError(
            "path_summary needs data='hierarchy' and model='compositional', got "
            f"data={config.data!r}, model={config.model!r}"
        )
    seed = config.seed if seed is None else int(seed)
    spec = {"computation": "path_summary", "config": dataclasses.asdict(config), "seed": seed}

    def compute():
        from normtheory.data.hierarchy import make_tree

        tree = make_tree(config.depth, config.branching)
        trace = trace_parameters(config, seed)
        rows = [
            i for i, name in enumerate(row_names(trace["initial"]))
            if name.startswith("['anchor']['features']")
        ]  # fmt: skip
        parts = path_parts(
            trace["initial"]["anchor"]["features"],
            trace["final"]["anchor"]["features"],
            path_membership(tree.ancestors),
        )
        budget = {k: trace[k][:, rows].sum(axis=0) for k in ("drift", "heat")}
        return parts | budget | {"depth": np.asarray(tree.depth, np.float64)}

    return cache.cached_arrays(spec, compute, "parameter_budget.py")
