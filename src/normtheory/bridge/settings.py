"""The bridge's regimes: the base WordNet config (regimes.WORDNET), optimizers, models, modes.

Kept apart from `run` so that the command line can offer them as defaults without
importing the statistics (scipy) or the engine (jax).
"""

from __future__ import annotations

from typing import Any

from normtheory.regimes import WORDNET as BASE

__all__ = ["BASE", "MODELS", "MODES", "OPTIMIZERS"]

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
