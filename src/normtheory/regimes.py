"""The canonical regimes: the base configs that verify, the figures and calibrate share.

A regime here is a `SimConfig` a consumer starts from; a check's or a figure's own rows
(an optimizer, a model, a run length) are applied on top with `replace`. Each regime
says who uses it and why it has its values. Where two consumers need different values
for what looks like the same data family, they are two regimes with two names (the
verify maps and the calibration both use hierarchies and ambiguous inputs, for
different questions).

The values are the science of the runs, so they enter the results cache's key through
the config itself; this module holds nothing else (see `normtheory.cache._NOT_NUMERIC`).
"""

from __future__ import annotations

from normtheory.config import SimConfig

__all__ = [
    "ADAMW",
    "AMBIGUITY",
    "EXACT_FACTS",
    "FREE_TABLE",
    "HEAVY_BALL",
    "HIERARCHY",
    "KERNEL_SPLIT",
    "PARAMETER_NORM",
    "RETRIEVAL_AMBIGUITY",
    "RETRIEVAL_HIERARCHY",
    "SGD_L2",
    "WORDNET",
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
