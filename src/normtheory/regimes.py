"""The one registry of named configurations: the canonical regimes and the experiments.

Two kinds of name live here, both `SimConfig`s validated when they are built:

- The canonical regimes (upper-case constants: `FREE_TABLE`, `SGD_L2`, `HIERARCHY`, ...):
  the base configs that verify, the figures, calibrate and bridge start from. A check's
  or a figure's own rows (an optimizer, a model, a run length) are applied on top with
  `replace`. Each says who uses it and why it has its values. Where two consumers need
  different values for what looks like the same data family, they are two regimes with
  two names (the verify maps and the calibration both use hierarchies and ambiguous
  inputs, for different questions).
- The named experiments (`EXPERIMENTS`, looked up by `get_experiment`): what
  `normtheory simulate NAME` runs, each with a one-line summary; `--set key=value`
  changes any field. The names say what law they are built to test; at least one per
  data family and per model family.

The values are the science of the runs, so they enter the results cache's key through
the config itself; this module holds nothing else.
It imports only `normtheory.config`, so `normtheory simulate --list` answers without
loading jax.
"""

from __future__ import annotations

from typing import NamedTuple

from normtheory.config import ConfigError, SimConfig

__all__ = [
    "ADAMW",
    "AMBIGUITY",
    "CANONICAL",
    "EXACT_FACTS",
    "EXPERIMENTS",
    "FREE_TABLE",
    "HEAVY_BALL",
    "HIERARCHY",
    "KERNEL_SPLIT",
    "PARAMETER_NORM",
    "RETRIEVAL_AMBIGUITY",
    "RETRIEVAL_HIERARCHY",
    "SGD_L2",
    "WORDNET",
    "Experiment",
    "get_experiment",
]

FREE_TABLE = SimConfig(
    num_items=200,
    dim=16,
    batch=64,
    steps=1000,
    stride=1,
    dtype="float64",
    lr=0.5,
    zipf=1.1,
)
"""Free table, Zipf(1.1) frequencies, plain SGD, float64, recorded every step.

THEORY.md items 6-8 (verify.accumulation; figures 1 and 7): accumulation, effective
learning rate and frequency imprint need no decay and 1000 steps of norm growth.
"""

EXACT_FACTS = FREE_TABLE.replace(steps=60)
"""`FREE_TABLE` for 60 steps: THEORY.md's exact facts, items 1-5 (verify.exact).

Identities that hold step by step need only a few steps.
"""

SGD_L2 = FREE_TABLE.replace(steps=3000, stride=10, weight_decay=0.01)
"""`FREE_TABLE` under SGD with L2 decay (lam = 0.01) for 3000 steps (items 9-10).

verify.equilibria's SGD + L2 equilibrium and Li-Arora checks, figures 2, 3 and 6: the
first half of the run spans 15 relaxation times 1 / (2 eta lam) = 100 steps.
"""

ADAMW = SGD_L2.replace(optimizer="adamw", lr=0.01, weight_decay=0.1, steps=6000)
"""The free table under AdamW (lr 0.01, decoupled decay 0.1) for 6000 steps (item 11).

verify.equilibria's AdamW checks and figure 2; its relaxation time 1 / (2 eta lam) is
500 steps, five times SGD_L2's, hence the longer run.
"""

HEAVY_BALL = FREE_TABLE.replace(
    steps=4000,
    stride=10,
    optimizer="momentum",
    lr=0.05,
    momentum=0.9,
    weight_decay=0.01,
)
"""The free table under heavy ball (lr 0.05, momentum 0.9, L2 0.01) for 4000 steps.

verify.drift_heat (item 12) and figure 5: heavy ball has drift and heat of its own
(the velocity), which the drift-heat law must capture; the check's other rows move
the optimizer and model from here.
"""

HIERARCHY = SimConfig(
    data="hierarchy",
    depth=4,
    branching=3,
    dim=16,
    batch=64,
    steps=3000,
    stride=100,
    dtype="float64",
)
"""A concept tree of depth 4 and branching 3 (121 nodes), float64: the specificity map.

verify.structure (item 13) and figure 4 correlate norm growth with depth over the
nodes, per model, optimizer and frequency mode; every node is tracked.
"""

AMBIGUITY = SimConfig(
    data="ambiguity",
    loss="prototype",
    num_items=200,
    dim=16,
    batch=64,
    steps=3000,
    stride=100,
    dtype="float64",
    width=32,
)
"""200 inputs with soft labels over 4 classes, float64: the uncertainty map.

verify.structure (item 14) correlates norm growth with the soft-label entropy, per
model and optimizer; every input is tracked.
"""

RETRIEVAL_AMBIGUITY = SimConfig(
    data="ambiguity",
    loss="prototype",
    num_items=500,
    num_classes=4,
    ambiguity_levels=5,
    dim=16,
    batch=64,
    steps=3000,
    stride=500,
    tracked=1,
    width=32,
    noise=0.3,
)
"""Ambiguous inputs for the calibration (`normtheory calibrate`), float32.

Unlike `AMBIGUITY`, retrieval needs enough queries (500 inputs) and enough input noise
(0.3) that some top-1 retrievals are wrong; only the final parameters are used, so
one item is traced and the run records rarely.
"""

RETRIEVAL_HIERARCHY = SimConfig(
    data="hierarchy",
    depth=5,
    branching=3,
    towers=2,
    frequency_mode="coupled",
    dim=8,
    batch=64,
    steps=3000,
    stride=500,
    tracked=1,
)
"""A deeper tree (depth 5) with a separate leaf tower for the calibration, float32.

Unlike `HIERARCHY`, retrieval needs a gallery (the leaf tower's context embeddings)
and inner nodes with many leaves, whose subtree retrieval can fail; only the final
parameters are used.
"""

WORDNET = SimConfig(
    data="wordnet",
    num_items=1000,
    dim=32,
    batch=256,
    steps=3000,
    stride=500,
    tau=0.1,
    loss="symmetric",
    towers=1,
)
"""The hierarchy on real structure, 1000 WordNet nouns (`make bridge`), float32.

normtheory.bridge trains every model x optimizer x frequency mode from here and
compares the final norms with a real model's, word by word.
"""

KERNEL_SPLIT = SimConfig(
    data="hierarchy",
    model="compositional",
    depth=3,
    branching=3,
    frequency_mode="decoupled",
    dim=16,
    batch=64,
    steps=1500,
    stride=1,
    dtype="float64",
)
"""A compositional encoder on a depth-3 tree, frequency equal per node (figure 11).

The self/cross split of drift and heat per depth: with frequency decoupled, what
differs between depths is the sharing of path features, which the cross terms carry.
"""

PARAMETER_NORM = HIERARCHY.replace(model="compositional", steps=60, stride=1, weight_decay=0.01)
"""`HIERARCHY`'s tree, compositional encoder, SGD with L2 (lam = 0.01), 60 steps (item 17).

verify.exact's parameter-norm identity holds step by step, so a few steps suffice; the
compositional encoder is the shared, homogeneous encoder the identity is about, and
the decay puts the (1 - eta lam)^2 factor to the test.
"""


CANONICAL: dict[str, SimConfig] = {
    name: value
    for name, value in globals().items()
    if name.isupper() and isinstance(value, SimConfig)
}
"""Every canonical regime by its constant's name (the objects themselves, not copies)."""


class Experiment(NamedTuple):
    """A named experiment: the config `normtheory simulate NAME` runs and its summary.

    Attributes:
        config: the validated `SimConfig`.
        summary: one line saying what it tests (THEORY.md item numbers in brackets);
            `normtheory simulate --list` prints it.
    """

    config: SimConfig
    summary: str


EXPERIMENTS: dict[str, Experiment] = {
    "frequency": Experiment(
        SimConfig(),
        "free table, Zipf(1.1) items, plain SGD: accumulation and frequency imprint (6-8)",
    ),
    "frequency_decay": Experiment(
        SimConfig(weight_decay=1e-3, steps=4000),
        "free table, SGD + coupled L2: equilibrium N*^4 and p^(1/4) imprint (9)",
    ),
    "frequency_momentum": Experiment(
        SimConfig(optimizer="momentum", lr=0.05, weight_decay=1e-2, steps=4000),
        "free table, heavy-ball + L2: momentum equilibrium, drift (9, 12)",
    ),
    "frequency_adamw": Experiment(
        SimConfig(optimizer="adamw", lr=1e-2, weight_decay=0.1, steps=4000),
        "free table, AdamW: random-walk equilibrium, erased imprint (11)",
    ),
    "hierarchy": Experiment(
        SimConfig(data="hierarchy", depth=3, branching=3, lr=0.5, steps=3000),
        "concept tree, free table, generality-coupled frequency: specificity sign (13)",
    ),
    "hierarchy_decoupled": Experiment(
        SimConfig(data="hierarchy", frequency_mode="decoupled", lr=0.5, steps=3000),
        "concept tree, free table, equal frequency per node: specificity without frequency",
    ),
    "hierarchy_compositional": Experiment(
        SimConfig(data="hierarchy", model="compositional", lr=0.5, steps=3000),
        "concept tree, sum of path features: shared-encoder specificity (13)",
    ),
    "ambiguity": Experiment(
        SimConfig(data="ambiguity", loss="prototype", num_items=500, lr=0.5, steps=3000),
        "soft labels of graded entropy, free table: norm versus uncertainty (14)",
    ),
    "ambiguity_mlp": Experiment(
        SimConfig(
            data="ambiguity", model="mlp", loss="prototype", num_items=500, lr=0.05, steps=3000
        ),
        "soft labels of graded entropy, MLP encoder: norm versus uncertainty (14)",
    ),
    "imbalance": Experiment(
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
"""The named experiments of `normtheory simulate NAME`, in the order `--list` prints them."""


def get_experiment(name: str) -> SimConfig:
    """The config of the named experiment `name`.

    Args:
        name: a key of `EXPERIMENTS` (`normtheory simulate --list` shows them).

    Returns:
        Its `SimConfig` (frozen; change fields with `.replace` or `config.override`).

    Raises:
        ConfigError: `name` is not an experiment; the message lists the known names.
    """
    try:
        return EXPERIMENTS[name].config
    except KeyError:
        known = ", ".join(EXPERIMENTS)
        raise ConfigError(f"unknown experiment {name!r}; known: {known}") from None
