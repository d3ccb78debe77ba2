"""The bridge's regimes: the base WordNet config (regimes.WORDNET), optimizers, models, modes.

Kept apart from `run` so that the command line can offer them as defaults without
importing the statistics (scipy) or the engine (jax).
"""

from __future__ import annotations

from typing import Any

from normtheory.regimes import WORDNET as BASE

__all__ = [
    "BASE",
    "MODELS",
    "MODES",
    "OPTIMIZERS",
    "SIGN_MODE",
    "SIGN_OPTIMIZERS",
    "SIGN_SEEDS",
    "SIGN_STEPS",
    "SIGN_WORDS",
]

# Learning rates chosen for training alone (the loss has levelled off by step 3000 in
# every regime), never by agreement with the real model. Heavy ball at lr 0.2 and
# momentum 0.9 has the step of SGD at lr 2.
OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {"optimizer": "sgd", "lr": 2.0, "weight_decay": 0.0},
    "momentum": {"optimizer": "momentum", "lr": 0.2, "momentum": 0.9, "weight_decay": 0.0},
    "adam": {"optimizer": "adam", "lr": 0.01, "weight_decay": 0.0},
    "adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1},
}
MODELS = ("table", "compositional")
MODES = ("coupled", "decoupled")

# The frequency-sign sweep (`run.frequency_signs`): which toy regimes give frequent
# words smaller norms, as three of four real encoders do, and the budget terms behind
# each sign. Each optimizer with and without weight decay (coupled L2 for SGD and heavy
# ball at lambda = 5e-3: lr * lambda = 0.01 per step for SGD; AdamW's decoupled 0.1),
# on the first SIGN_WORDS nouns for SIGN_STEPS steps, traced with the budget.
SIGN_OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": OPTIMIZERS["sgd"],
    "sgd+wd": {**OPTIMIZERS["sgd"], "weight_decay": 5e-3},
    "momentum": OPTIMIZERS["momentum"],
    "momentum+wd": {**OPTIMIZERS["momentum"], "weight_decay": 5e-3},
    "adam": OPTIMIZERS["adam"],
    "adamw": OPTIMIZERS["adamw"],
}
SIGN_WORDS = 200
SIGN_STEPS = 1000
SIGN_SEEDS = 4
SIGN_MODE = "coupled"
