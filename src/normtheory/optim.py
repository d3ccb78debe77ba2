"""optax optimizers for the simulations, built from a config and (possibly traced) numbers.

The hyper-parameters arrive as a dict of scalars so that a grid of them can be vmapped
inside one jit. Weight decay is coupled (added to the gradient, L2) for "sgd",
"momentum", "nesterov" and "adam", and decoupled for "adamw"; in every case the step
has the form z' = (1 - lr * weight_decay) z + k, which is what the norm budget of
`normtheory.laws.budget` splits.

Sparse rows. optax updates are dense: a row absent from a batch has zero gradient, but
momentum, Adam's moments and weight decay still move it. Plain SGD without decay leaves
it unchanged, so only under SGD is "updated in a fraction p of steps" literal; with decay
every row shrinks every step (the sparse equilibrium law assumes exactly this), and with
momentum or Adam absent rows keep drifting on their stored velocity. The engine uses
this: under plain SGD it skips optax and updates only the drawn rows (normtheory._step.sparse_step).
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import optax

from normtheory.config import SimConfig


def make_optimizer(config: SimConfig, hp: Mapping[str, jax.Array]) -> optax.GradientTransformation:
    """The optax transformation for `config.optimizer` with hyper-parameters `hp`."""
    lr, wd = hp["lr"], hp["weight_decay"]
    kind = config.optimizer
    if kind == "adamw":
        return optax.adamw(lr, b1=hp["b1"], b2=hp["b2"], eps=config.eps, weight_decay=wd)
    if kind == "sgd":
        base = optax.sgd(lr)
    elif kind == "momentum":
        base = optax.sgd(lr, momentum=hp["momentum"])
    elif kind == "nesterov":
        base = optax.sgd(lr, momentum=hp["momentum"], nesterov=True)
    elif kind == "adam":
        base = optax.adam(lr, b1=hp["b1"], b2=hp["b2"], eps=config.eps)
    else:  # validated in SimConfig; kept for a clear error if called directly
        raise ValueError(f"optimizer={kind!r} is not supported")
    return optax.chain(optax.add_decayed_weights(wd), base)
