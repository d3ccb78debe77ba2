"""The calibration's regimes: data families x model families x optimizers, and theory's signs.

Kept apart from `run` so that the command line can list and build them without
importing the engine (jax). The base configs are `normtheory.regimes`'
RETRIEVAL_AMBIGUITY and RETRIEVAL_HIERARCHY.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from normtheory.config import ConfigError, SimConfig
from normtheory.regimes import RETRIEVAL_AMBIGUITY, RETRIEVAL_HIERARCHY

__all__ = ["FAMILIES", "OPTIMIZERS", "SGD_LR", "THEORY_SIGN", "Regime", "regimes"]

OPTIMIZERS = {
    "sgd": {"optimizer": "sgd", "weight_decay": 0.0},
    "sgd+wd": {"optimizer": "sgd", "weight_decay": 5e-3},
    "adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1},
}
SGD_LR = {"table": 0.5, "compositional": 0.5, "mlp": 0.05}
FAMILIES = {"ambiguity": ("table", "mlp"), "hierarchy": ("table", "compositional")}
_BASE = {"ambiguity": RETRIEVAL_AMBIGUITY, "hierarchy": RETRIEVAL_HIERARCHY}

# THEORY.md's sign of the norm's correlation with the regime's feature (entropy for
# ambiguity, depth for the hierarchy); 0 where it predicts no dependence (AdamW).
THEORY_SIGN = {
    ("ambiguity", "table"): +1,
    ("ambiguity", "mlp"): -1,
    ("hierarchy", "table"): -1,
    ("hierarchy", "compositional"): +1,
}


@dataclasses.dataclass(frozen=True)
class Regime:
    """One trained setting: data family, model family and optimizer, as a config."""

    name: str
    config: SimConfig

    @property
    def theory_sign(self) -> int:
        """THEORY.md's sign of corr(norm, feature): +1, -1, or 0 (no dependence)."""
        if self.config.optimizer == "adamw":
            return 0
        return THEORY_SIGN[(self.config.data, self.config.model)]


def regimes(
    data: Sequence[str] = ("ambiguity", "hierarchy"),
    optimizers: Sequence[str] = tuple(OPTIMIZERS),
    changes: Mapping[str, object] | None = None,
) -> list[Regime]:
    """The default regimes: each data family x its two model families x the optimizers.

    `changes` (field -> value) is applied to every regime last, so a user can move all
    of them (for example steps or dim) and keep the comparison.
    """
    out = []
    for name in data:
        if name not in FAMILIES:
            raise ConfigError(f"calibration supports data {sorted(FAMILIES)}, not {name!r}")
        for model in FAMILIES[name]:
            for opt in optimizers:
                if opt not in OPTIMIZERS:
                    raise ConfigError(
                        f"unknown optimizer regime {opt!r}; known: {list(OPTIMIZERS)}"
                    )
                settings = {"lr": SGD_LR[model], **OPTIMIZERS[opt]}
                cfg = _BASE[name].replace(model=model, **settings, **dict(changes or {}))
                out.append(Regime(f"{name}/{model}/{opt}", cfg))
    return out
