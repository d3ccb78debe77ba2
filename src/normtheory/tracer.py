"""Trace your own model: the exact per-item norm budget of any encoder and optax optimizer.

A `Model` is five pure functions (and an optional sixth) over a parameter pytree:

    init(key) -> params            sample(key) -> batch
    embed(params, batch) -> (R, d) embeddings the loss sees (R rows)
    loss(z, batch) -> scalar       probe(params) -> (I, d) the tracked items' embeddings
    own_rows(batch) -> (R,) int    which tracked item each row embeds, or -1 (optional)

The loss may also take the parameters, `loss(z, batch, params)` (detected from its
signature): a learnable temperature, logit scale or margin is then a parameter leaf,
trained with the rest (its gradient reaches it both through the embeddings and
directly).

`trace(model, optimizer, steps=...)` trains it with any `optax.GradientTransformation`
under jit (lax.scan, `stride` steps a window, seeds vmapped) and returns the engine's
`Trajectory`: per tracked item and window, the norm and the exact budget
N'^2 - N^2 = decay + drift + heat + remainder (THEORY.md item 12). Decay is the part
of the step made by the optimizer's uniform shrink theta -> (1 - eta lambda) theta
(`optax.adamw`, `optax.add_decayed_weights`), found by `shrink_per_step` or given as
`weight_decay=`; the rest of the update is drift and heat. With `items=`, per-item
columns (draw probability, depth, ...) ride along in `Trajectory.info`, so that
`normtheory.analysis` applies to the run. With `own_rows`, also the gradient energy
G^2 = N^2 |dL/dz_i|^2 (summed over the item's rows); without it g2 is NaN. The kernel
split (self, cross, rest; item 15) needs the optimizer's g-linear update, which an
arbitrary optax transformation does not expose: those fields are NaN here (the named
experiments of `normtheory.simulate` trace them).

User runs are not cached: functions have no identity the cache could key on.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import _drive, _step, _trace, engine
from normtheory import execution as _execution
from normtheory.config import ConfigError
from normtheory.problems import Problem

__all__ = ["Model", "Shrink", "shrink_per_step", "trace"]


@dataclasses.dataclass(frozen=True)
class Model:
    """A user's encoder, data and loss as pure functions (see the module docstring)."""

    init: Callable[[jax.Array], Any]
    sample: Callable[[jax.Array], Any]
    embed: Callable[[Any, Any], jax.Array]
    loss: Callable[..., jax.Array]
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


def _loss_takes_params(loss: Callable[..., Any]) -> bool:
    """Whether `loss` accepts a third positional argument (the parameters)."""
    try:
        inspect.signature(loss).bind(None, None, None)
    except TypeError:
        return False
    except ValueError:  # a builtin without a signature: the two-argument form
        return False
    return True


def _call_loss(model: Model, z, batch, params):
    return model.loss(z, batch, params) if _loss_takes_params(model.loss) else model.loss(z, batch)


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
    loss = jax.eval_shape(lambda p, z, b: _call_loss(model, z, b, p), params, z, batch)
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
    keys = _step.seed_keys(np.arange(seed, seed + min(seeds, 4)))

    def first_own_rows(key):
        run_key, _ = _step.split_init(key)
        return model.own_rows(model.sample(_step.split_batch(run_key)[1]))

    own = np.asarray(jax.jit(jax.vmap(first_own_rows))(keys))
    bad = own[(own < -1) | (own >= n_items)]
    if bad.size:
        raise ConfigError(
            f"Model.own_rows returned {int(bad[0])}: ids must be tracked items in "
            f"[0, {n_items}) or -1 for a row of no tracked item"
        )


def _item_columns(items: Any, n_items: int) -> dict[str, np.ndarray]:
    """Validated per-item columns: name -> (I,) float64, finite; rate/probability in [0, 1]."""
    if items is None:
        return {}
    if not isinstance(items, Mapping):
        raise ConfigError(
            f"items: expected a mapping of column name -> ({n_items},) array, "
            f"got {type(items).__name__}"
        )
    columns = {}
    for name, values in items.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"items: column names must be non-empty strings, got {name!r}")
        array = np.asarray(values)
        if array.dtype.kind not in "biuf":
            raise ConfigError(f"items[{name!r}]: expected real numbers, got dtype {array.dtype}")
        if array.shape != (n_items,):
            raise ConfigError(
                f"items[{name!r}] has shape {array.shape}; expected ({n_items},), one value "
                f"per tracked item (the rows of Model.probe)"
            )
        array = array.astype(np.float64)
        if not np.all(np.isfinite(array)):
            raise ConfigError(f"items[{name!r}] has non-finite values (NaN or inf)")
        if name in ("rate", "probability") and not np.all((array >= 0) & (array <= 1)):
            raise ConfigError(f"items[{name!r}] must lie in [0, 1] (a probability)")
        columns[name] = array
    return columns


class Shrink(NamedTuple):
    """What `shrink_per_step` found: `value` the uniform per-step shrink eta * lambda
    (0.0: none), or None with `reason` (one line) when no single shrink describes the
    optimizer; `per_leaf` is True when the leaves shrink at different constant rates."""

    value: float | None
    reason: str = ""
    per_leaf: bool = False


def shrink_per_step(optimizer: Any, params: Any, steps: int) -> Shrink:
    """The optimizer's uniform per-step shrink eta * lambda, found at zero gradient.

    At zero gradient and from a fresh state, `optax.adamw(lr, weight_decay=lam)` and
    `optax.chain(..., optax.add_decayed_weights(lam), ..., optax.scale(-lr))` update the
    parameters by exactly -eta lambda theta (Adam's moments and a momentum buffer stay
    0 until then), and an optimizer without decay by 0. The optimizer is stepped `steps`
    times at zero gradient on random parameters of the shapes of `params` (never the
    user's values, so no leaf is 0 by accident), and each step's update is compared with
    -c theta, leaf by leaf, to 1000 units of rounding of the parameters' dtype.

    Args:
        optimizer: an optax GradientTransformation.
        params: a parameter pytree (arrays or `jax.ShapeDtypeStruct`s).
        steps: how many steps the run takes (the shrink must be constant over them).

    Returns:
        A `Shrink`: value c >= 0 when every step's update is -c theta on every leaf with
        one c (0.0: no shrink); otherwise value None and the reason: the leaves shrink
        at different rates (a mask; per_leaf True), the shrink changes over the run (a
        schedule, momentum carrying the decay, gradient accumulation), or the update at
        zero gradient is not a shrink at all.
    """
    leaves, tree = jax.tree.flatten(params)
    if not leaves:
        return Shrink(0.0)
    keys = jax.random.split(jax.random.key(12345), max(len(leaves), 1))
    probe = jax.tree.unflatten(
        tree, [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves, strict=False)]
    )
    out_dtype = jnp.result_type(float)
    eps = max(float(jnp.finfo(x.dtype).eps) for x in leaves)

    def body(state, _):
        zeros = jax.tree.map(jnp.zeros_like, probe)
        updates, state = optimizer.update(zeros, state, probe)
        rows = []
        for u, p in zip(jax.tree.leaves(updates), jax.tree.leaves(probe), strict=True):
            u = u.astype(p.dtype)
            c = -jnp.sum(u * p) / jnp.sum(p * p)
            miss = jnp.max(jnp.abs(u + c * p)) / jnp.max(jnp.abs(p))
            rows.append(jnp.stack([c, miss]).astype(out_dtype))
        return state, jnp.stack(rows)

    with jax.numpy_dtype_promotion("standard"):  # optax mixes int32 counts with floats
        _, found = jax.jit(lambda s: jax.lax.scan(body, s, None, length=steps))(
            optimizer.init(probe)
        )
    found = np.asarray(found, np.float64)  # (steps, leaves, [c, miss])
    c, miss = found[..., 0], found[..., 1]
    scale, tol = float(np.max(np.abs(c))), 1e3 * eps
    if not np.all(np.isfinite(found)):
        return Shrink(None, "its update at zero gradient is not finite")
    if np.max(miss) > tol * scale:
        return Shrink(None, "its update at zero gradient is not a uniform shrink")
    if scale <= tol:
        return Shrink(0.0)
    if np.ptp(c[0]) > tol * scale:
        return Shrink(None, "it shrinks some parameter leaves and not others (a mask)", True)
    if np.ptp(c) > tol * scale:
        return Shrink(
            None,
            "its shrink changes over the run (a schedule, momentum carrying the decay, "
            "or gradient accumulation)",
        )
    if c[0, 0] < 0:
        return Shrink(None, "its update at zero gradient grows the parameters")
    return Shrink(float(c[0, 0]))


def _shrink(optimizer: Any, params: Any, steps: int, weight_decay: Any) -> float:
    """The per-step shrink the budget books as decay (see `trace`'s weight_decay)."""
    if weight_decay is not None and (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, numbers.Real)
        or not 0 <= weight_decay < 1
    ):
        raise ConfigError(
            f"weight_decay={weight_decay!r} must be None (detect) or the per-step shrink "
            f"eta * lambda, a number in [0, 1)"
        )
    if weight_decay == 0:
        return 0.0
    found = shrink_per_step(optimizer, params, steps)
    if weight_decay is None:
        if found.value is None:
            raise ConfigError(
                f"weight_decay: cannot separate the optimizer's decay ({found.reason}); "
                f"pass weight_decay=eta*lambda of its per-step shrink, or 0 to count it "
                f"in drift"
            )
        return found.value
    if found.value is not None and abs(found.value - weight_decay) > 1e-6 * weight_decay:
        raise ConfigError(
            f"weight_decay={weight_decay!r}, but the optimizer shrinks the parameters by "
            f"{found.value:.6g} per step at zero gradient (its eta * lambda); pass that, "
            f"or None"
        )
    if found.per_leaf:
        raise ConfigError(
            "weight_decay: the optimizer shrinks some parameter leaves and not others (a "
            "mask); the budget separates only a uniform shrink: pass weight_decay=0 to "
            "count the decay in drift"
        )
    return float(weight_decay)


def _problem(model: Model, n_items: int, dtype: Any, columns: dict[str, np.ndarray]) -> Problem:
    with_params = _loss_takes_params(model.loss)

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

    # A loss that reads the parameters sees them as a second output of embed, so the
    # engine's pullback through embed carries the loss's direct gradient to them too.
    def embed(params, batch, hp):
        return model.embed(params, batch), (params if with_params else None)

    def loss(zw, batch, hp):
        return model.loss(zw[0], batch, zw[1]) if with_params else model.loss(zw[0], batch)

    rate = columns.get("rate", columns.get("probability", np.full(n_items, np.nan)))
    return Problem(
        num_items=n_items,
        items=np.arange(n_items),
        info=dict(columns),
        rate=rate,
        linear=False,
        init=model.init,
        sample=model.sample,
        embed=embed,
        loss=loss,
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
    items: Mapping[str, Any] | None = None,
    weight_decay: float | None = None,
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
        items: per tracked item metadata, column name -> (I,) real numbers (draw
            probability, frequency, depth, label entropy, any column of yours), stored
            as float64 in `Trajectory.info`. A column "rate" (else "probability"), in
            [0, 1], also becomes `Trajectory.rate`; the tracer does not know how a batch
            draws items, so a per-draw probability is not turned into a per-batch rate.
        weight_decay: the optimizer's per-step uniform shrink eta * lambda, booked as
            decay. None (default): detected by `shrink_per_step` (`optax.adamw` and
            `optax.add_decayed_weights` at a constant rate; 0 for an optimizer without
            decay); where no single shrink describes the optimizer (a decay schedule,
            a mask, momentum carrying the decay), a ConfigError asks for it: give the
            instantaneous eta * lambda explicitly (the momentum's memory of past decay
            then counts as drift, as for the named experiments), or 0 to count all
            decay in drift. A value that contradicts the detected shrink is refused.

    Returns:
        A `Trajectory` with a leading seed axis (config None, items 0..I-1): norm, g2,
        heat, drift, decay, remainder (..., W, I); loss, uniformity (..., W);
        alignment and the kernel split NaN (see the module docstring); params; info the
        `items` columns and rate their "rate" or "probability" column (NaN without).
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
    columns = _item_columns(items, n_items)
    _check_optimizer(optimizer)
    _check_own_rows(model, n_items, seed, seeds)
    eta_lam = _shrink(optimizer, jax.eval_shape(model.init, jax.random.key(0)), steps, weight_decay)
    problem = _problem(model, n_items, dtype, columns)
    init, run_windows = engine.build_windows(
        problem,
        lambda hp: optimizer,
        stride=stride,
        dtype=dtype,
        trace_budget=True,
        eta_lam_of=lambda hp: jnp.asarray(eta_lam, dtype),
    )
    runner = jax.jit(
        jax.vmap(run_windows, in_axes=(0, None, None)), static_argnums=2, donate_argnums=0
    )
    keys = _step.seed_keys(np.arange(seed, seed + seeds))
    state, norm0, records = _drive.drive(
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
        undefined=("alignment", *_trace.SPLIT_FIELDS) + (("g2",) if model.own_rows is None else ()),
    )
    return engine.Trajectory(
        config=None,
        grid={},
        step=np.arange(1, steps // stride + 1) * stride,
        items=np.arange(n_items),
        rate=problem.rate,
        info=dict(problem.info),
        norm0=norm0,
        params=jax.tree.map(np.asarray, state.params),
        **{k: records[k] for k in engine.TRACE_FIELDS + engine.SCALAR_FIELDS},
    )
