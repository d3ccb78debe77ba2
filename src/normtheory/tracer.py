"""Trace your own model: the exact per-item norm budget of any encoder and optax optimizer.

A `Model` is five pure functions (and an optional sixth) over a parameter pytree:

    init(key) -> params            sample(key) -> batch
    embed(params, batch) -> (R, d) embeddings the loss sees (R rows)
    loss(z, batch) -> scalar       probe(params) -> (I, d) the tracked items' embeddings
    own_rows(batch) -> (R,) int    which tracked item each row embeds, or -1 (optional)

`trace(model, optimizer, steps=...)` trains it with any `optax.GradientTransformation`
under jit (lax.scan, `stride` steps a window, seeds vmapped) and returns the engine's
`Trajectory`: per tracked item and window, the norm and the exact budget
N'^2 - N^2 = decay + drift + heat + remainder (THEORY.md item 12; decay is 0 here:
the engine cannot tell an optimizer's own weight decay from the rest of its update,
so any decay shows up in drift). With `own_rows`, also the gradient energy
G^2 = N^2 |dL/dz_i|^2 (summed over the item's rows); without it g2 is NaN. The kernel
split (self, cross, rest; item 15) needs the optimizer's g-linear update, which an
arbitrary optax transformation does not expose: those fields are NaN here (the named
experiments of `normtheory.simulate` trace them).

User runs are not cached: functions have no identity the cache could key on.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import engine
from normtheory import execution as _execution
from normtheory.config import ConfigError
from normtheory.problems import Problem

__all__ = ["Model", "trace"]


@dataclasses.dataclass(frozen=True)
class Model:
    """A user's encoder, data and loss as pure functions (see the module docstring)."""

    init: Callable[[jax.Array], Any]
    sample: Callable[[jax.Array], Any]
    embed: Callable[[Any, Any], jax.Array]
    loss: Callable[[jax.Array, Any], jax.Array]
    probe: Callable[[Any], jax.Array]
    own_rows: Callable[[Any], jax.Array] | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None and field.name == "own_rows":
                continue
            if not callable(value):
                raise ConfigError(
                    f"Model.{field.name}: expected a function, got {type(value).__name__}"
                )


def _shapes(model: Model) -> tuple[int, int, Any]:
    """(rows R, tracked items I, dtype), checking every function's output shape."""
    key = jax.random.key(0)
    params = jax.eval_shape(model.init, key)
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise ConfigError(
                f"Model.init must return floating-point parameters; "
                f"params{jax.tree_util.keystr(path)} is {leaf.dtype}"
            )
    batch = jax.eval_shape(model.sample, key)
    z = jax.eval_shape(model.embed, params, batch)
    if not hasattr(z, "shape") or len(z.shape) != 2:
        found = getattr(z, "shape", type(z).__name__)
        raise ConfigError(f"Model.embed must return one (rows, dim) array; got {found}")
    probe = jax.eval_shape(model.probe, params)
    if not hasattr(probe, "shape") or len(probe.shape) != 2 or probe.shape[1] != z.shape[1]:
        found = getattr(probe, "shape", type(probe).__name__)
        raise ConfigError(f"Model.probe must return (items, {z.shape[1]}); got {found}")
    loss = jax.eval_shape(model.loss, z, batch)
    if getattr(loss, "shape", None) != ():
        raise ConfigError(f"Model.loss must return a scalar; got {getattr(loss, 'shape', loss)}")
    if model.own_rows is not None:
        own = jax.eval_shape(model.own_rows, batch)
        if getattr(own, "shape", None) != (z.shape[0],) or not jnp.issubdtype(
            own.dtype, jnp.integer
        ):
            raise ConfigError(
                f"Model.own_rows must return ({z.shape[0]},) integers; "
                f"got {getattr(own, 'shape', own)} {getattr(own, 'dtype', '')}"
            )
    return z.shape[0], probe.shape[0], z.dtype


def _check_optimizer(optimizer: Any) -> None:
    """optax's calling convention: init(params) and update(updates, state, params)."""
    for name, args in (("init", ("params",)), ("update", ("updates", "state", "params"))):
        try:
            inspect.signature(getattr(optimizer, name)).bind(*args)
        except TypeError as error:
            raise ConfigError(
                f"optimizer.{name} must accept ({', '.join(args)}) as an optax "
                f"GradientTransformation's does; {error}"
            ) from None
        except ValueError:  # a builtin without a signature: nothing to check
            continue


def _check_own_rows(model: Model, n_items: int, seed: int, seeds: int) -> None:
    """own_rows on each seed's first batch must lie in [-1, n_items)."""
    if model.own_rows is None:
        return
    for s in range(seed, seed + min(seeds, 4)):
        own = np.asarray(model.own_rows(model.sample(jax.random.key(s))))
        bad = own[(own < -1) | (own >= n_items)]
        if bad.size:
            raise ConfigError(
                f"Model.own_rows returned {int(bad[0])}: ids must be tracked items in "
                f"[0, {n_items}) or -1 for a row of no tracked item"
            )


def _problem(model: Model, n_items: int, dtype: Any) -> Problem:
    def item_grads(grads, cot, batch):
        if model.own_rows is None:
            return jnp.full((n_items, cot[0].shape[-1]), jnp.nan, dtype)
        own = model.own_rows(batch)
        valid = own >= 0
        rows = jnp.where(valid[:, None], cot[0], jnp.zeros_like(cot[0]))
        grads = jax.ops.segment_sum(rows, jnp.where(valid, own, 0), num_segments=n_items)
        # An id outside [-1, I) in a later batch poisons g2 (NaN), never a silent 0.
        stray = jnp.any((own < -1) | (own >= n_items))
        return jnp.where(stray, jnp.nan, grads)

    return Problem(
        num_items=n_items,
        items=np.arange(n_items),
        info={},
        rate=np.full(n_items, np.nan),
        linear=False,
        init=model.init,
        sample=model.sample,
        embed=lambda params, batch, hp: (model.embed(params, batch), None),
        loss=lambda zw, batch, hp: model.loss(zw[0], batch),
        alignment=lambda zw, batch: jnp.asarray(jnp.nan, dtype),
        probe=model.probe,
        item_grads=item_grads,
        own_rows=None if model.own_rows is None else lambda b: (model.own_rows(b), None),
    )


def trace(
    model: Model,
    optimizer: Any,
    *,
    steps: int,
    stride: int = 10,
    seeds: int = 1,
    seed: int = 0,
    chunk: int | None = None,
    progress: bool = True,
    record_divergence: bool = False,
) -> engine.Trajectory:
    """Train `model` with `optimizer` for `steps` steps and trace the norm budget.

    Args:
        model: the user's functions (`Model`).
        optimizer: an `optax.GradientTransformation` (anything with init and update).
        steps: optimizer steps, a multiple of `stride`.
        stride: steps per recorded window.
        seeds: runs vmapped together, with keys seed, seed + 1, ... (below 2**32).
        chunk, progress, record_divergence: as `normtheory.simulate`, validated alike
            (`normtheory.execution`).

    Returns:
        A `Trajectory` with a leading seed axis (config None, items 0..I-1): norm, g2,
        heat, drift, decay (0), remainder (..., W, I); loss, uniformity (..., W);
        alignment and the kernel split NaN (see the module docstring); params.
    """
    if not isinstance(model, Model):
        raise ConfigError(f"model: expected a normtheory.tracer.Model, got {type(model).__name__}")
    if not (
        callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))
    ):
        raise ConfigError(
            f"optimizer: expected an optax.GradientTransformation (with init and update), "
            f"got {type(optimizer).__name__}"
        )
    for name, value in (("steps", steps), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}={value!r} must be an integer >= 1")
    if steps % stride:
        raise ConfigError(f"steps={steps} must be a multiple of stride={stride}")
    _execution.check_seeds(seeds, seed)
    _execution.check_flag("record_divergence", record_divergence)
    _execution.check_flag("progress", progress)
    chunk = _execution.check_chunk(chunk, steps, stride)
    _, n_items, dtype = _shapes(model)
    _check_optimizer(optimizer)
    _check_own_rows(model, n_items, seed, seeds)
    problem = _problem(model, n_items, dtype)
    init, run_windows = engine.build_windows(
        problem, lambda hp: optimizer, stride=stride, dtype=dtype, trace_budget=True
    )
    runner = jax.jit(
        jax.vmap(run_windows, in_axes=(0, None, None)), static_argnums=2, donate_argnums=0
    )
    keys = jax.vmap(jax.random.key)(jnp.arange(seed, seed + seeds, dtype=jnp.uint32))
    state, norm0, records = engine.drive(
        jax.jit(jax.vmap(init, in_axes=(0, None))),
        runner,
        problem,
        keys,
        {},
        n_runs=seeds,
        steps=steps,
        stride=stride,
        chunk=chunk,
        progress=progress,
        record_divergence=record_divergence,
        undefined=("alignment", *engine.SPLIT_FIELDS) + (("g2",) if model.own_rows is None else ()),
    )
    return engine.Trajectory(
        config=None,
        grid={},
        step=np.arange(1, steps // stride + 1) * stride,
        items=np.arange(n_items),
        rate=problem.rate,
        info={},
        norm0=norm0,
        params=jax.tree.map(np.asarray, state.params),
        **{k: records[k] for k in engine.TRACE_FIELDS + engine.SCALAR_FIELDS},
    )
