"""Replay a run step by step, recording what a diagnostic needs per step.

`simulate` compiles windows of `stride` steps and records window sums. The parameter
budget (item 17) and the kernel budget (items 12 and 15) need per-step quantities the
engine does not keep; `replay` scans the engine's own step (`normtheory._step.dense_step`,
same problem, optimizer and keys) and hands each step to a recording function.
`replay_inputs` gives the random inputs of a frequency run, for implementations outside
the package that must reproduce the engine's trajectory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import _step
from normtheory.config import ConfigError, SimConfig
from normtheory.optim import make_optimizer
from normtheory.problems import Problem, make_problem


class Step(NamedTuple):
    """One step as `replay` hands it to the recorder.

    params and new: the parameters before and after the step; grads: dL/dtheta;
    updates: the optimizer's parameter step (new = params + updates); cot: dL/d(the
    embedded rows), as `Problem.embed` returns them; batch: the step's batch.
    """

    params: Any
    new: Any
    grads: Any
    updates: Any
    cot: Any
    batch: Any


def replay(
    config: SimConfig, seed: int | None, record: Callable[[Problem, Step], Any]
) -> tuple[Problem, Any, Any, Any]:
    """Run `config.steps` steps of `config` under one jit'd scan, recording each.

    Args:
        config: the run; float64 regardless of `config.dtype` (a diagnostic's precision).
        seed: the seed (None: `config.seed`); the keys are `simulate`'s.
        record: (problem, Step) -> a pytree of arrays, stacked over steps.

    Returns:
        (problem, initial params, final params, records with a leading (T,) axis).
    """
    if not jax.config.jax_enable_x64:
        raise ValueError("this diagnostic replays runs in float64: enable jax_enable_x64 first")
    problem = make_problem(config, jnp.float64)
    hp = {k: jnp.asarray(v, jnp.float64) for k, v in config.hyperparameters().items()}
    init, step = _step.dense_step(problem, lambda hp: make_optimizer(config, hp))
    state = init(jax.random.key(config.seed if seed is None else seed), hp)

    def body(state, _):
        state, rec = step(state, hp)
        return state, record(
            problem, Step(rec.params, rec.new, rec.grads, rec.updates, rec.cot, rec.batch)
        )

    run = jax.jit(lambda s: jax.lax.scan(body, s, None, length=config.steps))
    final, records = run(state)
    return problem, state.params, final.params, records


def replay_inputs(
    config: SimConfig, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The initial table, batch ids and view noise a frequency/table run of `config` uses.

    Returns (table0 (V, d), ids (T, B), noise (T, B, d)) for seed `seed` (default
    `config.seed`), drawn with exactly the key sequence of `simulate`, so an independent
    implementation fed these inputs must reproduce the engine's trajectory: the view of
    anchor row u is normalize(u / |u| + view_noise * noise).
    """
    if config.data != "frequency":
        raise ConfigError(f"replay_inputs supports data='frequency', not {config.data!r}")
    dtype = _step.dtype_of(config)
    problem = make_problem(config, dtype)
    key, params = _step.start(problem, jax.random.key(config.seed if seed is None else seed))

    def draw(key, _):
        key, batch = _step.draw(problem, key)
        noise = jax.random.normal(batch["view_key"], (config.batch, config.dim), dtype=dtype)
        return key, (batch["ids"], noise)

    _, (ids, noise) = jax.jit(lambda k: jax.lax.scan(draw, k, None, length=config.steps))(key)
    return np.asarray(params["table"]), np.asarray(ids), np.asarray(noise)
