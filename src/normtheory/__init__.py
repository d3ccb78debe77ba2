"""normtheory: why the norms of scale-invariant contrastive embeddings carry meaning.

Public surface:
- `laws`: the laws of THEORY.md as derived SymPy expressions with JAX twins.
- `losses`: InfoNCE losses on cosine similarity (one-sided, symmetric, supervised,
  prototype).
- `SimConfig`, `get_experiment`, `simulate`, `run`, `merge`, `Trajectory`: simulations
  of toy InfoNCE models with exact norm-budget tracing, and their cached runs.
- `testing` (needs the `test` extra): hypothesis strategies and checkers for
  scale-invariant losses.
"""

from normtheory import laws, losses
from normtheory._version import __version__
from normtheory.config import ConfigError, SimConfig
from normtheory.engine import Trajectory, simulate
from normtheory.experiments import get_experiment
from normtheory.losses import (
    cosine_matrix,
    infonce,
    prototype_infonce,
    supervised_infonce,
    symmetric_infonce,
)
from normtheory.runs import merge, run

__all__ = [
    "ConfigError",
    "SimConfig",
    "Trajectory",
    "__version__",
    "cosine_matrix",
    "get_experiment",
    "infonce",
    "laws",
    "losses",
    "merge",
    "prototype_infonce",
    "run",
    "simulate",
    "supervised_infonce",
    "symmetric_infonce",
]
