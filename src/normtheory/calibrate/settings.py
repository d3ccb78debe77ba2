"""The calibration's regimes: data families x model families x optimizers, and their
calibration runs.

Kept apart from `run` so that the command line can list and build them without
importing the engine (jax). The base configs are `normtheory.regimes`'
RETRIEVAL_AMBIGUITY and RETRIEVAL_HIERARCHY. `calibration_config` gives the runs that
feed a regime's prediction: the same regime at seeds disjoint from the judged ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from normtheory.config import ConfigError, SimConfig
from normtheory.regimes import RETRIEVAL_AMBIGUITY, RETRIEVAL_HIERARCHY

__all__ = [
    "FAMILIES",
    "OPTIMIZERS",
    "SGD_LR",
    "THEORY_SIGN",
    "Regime",
    "calibration_config",
    "regimes",
]

OPTIMIZERS = {
    "sgd": {"optimizer": "sgd", "weight_decay": 0.0},
    "sgd+wd": {"optimizer": "sgd", "weight_decay": 5e-3},
    "adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1},
}
SGD_LR = {"table": 0.5, "compositional": 0.5, "mlp": 0.05}
FAMILIES = {"ambiguity": ("table", "mlp"), "hierarchy": ("table", "compositional")}
_BASE = {"ambiguity": RETRIEVAL_AMBIGUITY, "hierarchy": RETRIEVAL_HIERARCHY}

# Items 13-14's rule by model family for the sign of the norm's correlation with the
# regime's feature (entropy for ambiguity, depth for the hierarchy), 0 under AdamW (item
# 11). Superseded by item 18's mean field (`analysis.Prediction`); kept only so that the
# calibration record can show the old rule's side beside the derivation's.
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
    def rule_sign(self) -> int:
        """The rule by model family's sign of corr(norm, feature): +1, -1 or 0 (AdamW)."""
        if self.config.optimizer == "adamw":
            return 0
        return THEORY_SIGN[(self.config.data, self.config.model)]


def calibration_config(config: SimConfig, judged_seeds: int) -> SimConfig:
    """The calibration runs of a regime judged at seeds config.seed + [0, judged_seeds).

    Args:
        config: the judged regime's config (its seeds are config.seed + s).
        judged_seeds: how many seeds the judged run has (>= 1).

    Returns:
        The same config started `judged_seeds` later: trained for `judged_seeds` seeds it
        runs seeds config.seed + [judged_seeds, 2 judged_seeds), disjoint from the judged
        ones; the data (`data_seed`) are the same.
    """
    if judged_seeds < 1:
        raise ConfigError(f"judged_seeds={judged_seeds} must be >= 1")
    return config.replace(seed=config.seed + judged_seeds)


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
