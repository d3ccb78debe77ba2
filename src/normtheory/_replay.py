"""Replay a run step by step in float64, recording what a diagnostic needs per step.

`simulate` compiles windows of `stride` steps and records window sums. The parameter
budget (item 17) and the kernel budget (items 12 and 15) need per-step quantities the
engine does not keep; `replay` makes the same steps as `simulate` (the engine's problem,
optimizer and key sequence) and hands each step to a recording function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from normtheory.config import SimConfig
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
    opt = make_optimizer(config, hp)
    key, k_init = jax.random.split(jax.random.key(config.seed if seed is None else seed))
    params = problem.init(k_init)

    def step(carry, _):
        params, opt_state, key = carry
        key, k_batch = jax.random.split(key)
        batch = problem.sample(k_batch)
        zw, pullback = jax.vjp(lambda p: problem.embed(p, batch, hp), params)
        cot = jax.grad(lambda zw: problem.loss(zw, batch, hp))(zw)
        (grads,) = pullback(cot)
        with jax.numpy_dtype_promotion("standard"):  # optax's int32 step counts
            updates, opt_state = opt.update(grads, opt_state, params)
        new = optax.apply_updates(params, updates)
        return (new, opt_state, key), record(problem, Step(params, new, grads, updates, cot, batch))

    run = jax.jit(lambda c: jax.lax.scan(step, c, None, length=config.steps))
    (final, _, _), records = run((params, opt.init(params), key))
    return problem, params, final, records
