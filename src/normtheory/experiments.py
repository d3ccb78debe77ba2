"""Named experiments: frozen configurations that `normtheory simulate NAME` runs.

Each is a `SimConfig`; `--set key=value` changes any field of it. The names say what
law they are built to test.
"""

from __future__ import annotations

from normtheory.config import ConfigError, SimConfig

EXPERIMENTS: dict[str, tuple[SimConfig, str]] = {
    "frequency": (
        SimConfig(),
        "free table, Zipf(1.1) items, plain SGD: accumulation and frequency imprint (6-8)",
    ),
    "frequency_decay": (
        SimConfig(weight_decay=1e-3, steps=4000),
        "free table, SGD + coupled L2: equilibrium N*^4 and p^(1/4) imprint (9)",
    ),
    "frequency_momentum": (
        SimConfig(optimizer="momentum", lr=0.05, weight_decay=1e-2, steps=4000),
        "free table, heavy-ball + L2: momentum equilibrium, drift (9, 12)",
    ),
    "frequency_adamw": (
        SimConfig(optimizer="adamw", lr=1e-2, weight_decay=0.1, steps=4000),
        "free table, AdamW: random-walk equilibrium, erased imprint (11)",
    ),
}


def get_experiment(name: str) -> SimConfig:
    try:
        return EXPERIMENTS[name][0]
    except KeyError:
        known = ", ".join(EXPERIMENTS)
        raise ConfigError(f"unknown experiment {name!r}; known: {known}") from None
