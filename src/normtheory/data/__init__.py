"""Synthetic data for the norm experiments: frequencies, hierarchies, ambiguity, imbalance.

Every sampler is a pure function of an explicit `jax.random` key; sizes are Python ints so
jitted callers compile once. Ids and labels are int32.
"""

from normtheory.data.ambiguity import (
    AmbiguityData,
    continuous_inputs,
    label_entropy,
    make_ambiguity_data,
    sample_positive_classes,
    soft_labels,
)
from normtheory.data.frequency import (
    direction_views,
    sample_ids,
    zipf_probabilities,
)
from normtheory.data.hierarchy import (
    Tree,
    anchor_probabilities,
    make_tree,
    sample_hierarchy_batch,
)
from normtheory.data.imbalance import (
    ImbalanceProblem,
    make_imbalance_problem,
    sample_imbalance_batch,
)

__all__ = [
    "AmbiguityData",
    "ImbalanceProblem",
    "Tree",
    "anchor_probabilities",
    "continuous_inputs",
    "direction_views",
    "label_entropy",
    "make_ambiguity_data",
    "make_imbalance_problem",
    "make_tree",
    "sample_hierarchy_batch",
    "sample_ids",
    "sample_imbalance_batch",
    "sample_positive_classes",
    "soft_labels",
    "zipf_probabilities",
]
