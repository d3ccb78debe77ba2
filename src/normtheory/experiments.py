"""Named experiments: frozen configurations that `normtheory simulate NAME` runs.

Each is a `SimConfig`; `--set key=value` changes any field of it. The names say what
law they are built to test; at least one per data family and per model family.
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
    "hierarchy": (
        SimConfig(data="hierarchy", depth=3, branching=3, lr=0.5, steps=3000),
        "concept tree, free table, generality-coupled frequency: specificity sign (13)",
    ),
    "hierarchy_decoupled": (
        SimConfig(data="hierarchy", frequency_mode="decoupled", lr=0.5, steps=3000),
        "concept tree, free table, equal frequency per node: specificity without frequency",
    ),
    "hierarchy_compositional": (
        SimConfig(data="hierarchy", model="compositional", lr=0.5, steps=3000),
        "concept tree, sum of path features: shared-encoder specificity (13)",
    ),
    "ambiguity": (
        SimConfig(data="ambiguity", loss="prototype", num_items=500, lr=0.5, steps=3000),
        "soft labels of graded entropy, free table: norm versus uncertainty (14)",
    ),
    "ambiguity_mlp": (
        SimConfig(
            data="ambiguity", model="mlp", loss="prototype", num_items=500, lr=0.05, steps=3000
        ),
        "soft labels of graded entropy, MLP encoder: norm versus uncertainty (14)",
    ),
    "imbalance": (
        SimConfig(
            data="imbalance",
            model="mlp",
            loss="supervised",
            num_classes=4,
            latent_dim=10,
            input_dim=64,
            width=64,
            layers=1,
            dim=10,
            tau=1.0,
            lr=0.01,
            batch=128,
            steps=5000,
        ),
        "THEORY.md class-imbalance reference: 1:2:4:8 classes, MLP 64-64-10, SupCon tau=1",
    ),
}


def get_experiment(name: str) -> SimConfig:
    try:
        return EXPERIMENTS[name][0]
    except KeyError:
        known = ", ".join(EXPERIMENTS)
        raise ConfigError(f"unknown experiment {name!r}; known: {known}") from None
