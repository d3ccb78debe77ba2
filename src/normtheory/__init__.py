"""normtheory: why the norms of scale-invariant contrastive embeddings carry meaning.

Public surface (imported lazily: `import normtheory` and `normtheory --help` load
neither jax nor sympy; the first use of a name below does):
- `laws`: the laws of THEORY.md as derived SymPy expressions with JAX twins.
- `losses`: InfoNCE losses on cosine similarity (one-sided, symmetric, supervised,
  prototype).
- `SimConfig`, `ConfigError`, `get_experiment`: simulation configs, validated on
  construction, and the named experiments.
- `simulate`, `train`, `Trajectory`: simulations of toy InfoNCE models with exact
  norm-budget tracing; `run`, `merge`: the same through the results cache.
- `Model`, `trace`: the exact norm budget of your own encoder and optax optimizer.
- `analysis` (`imprint_slope`, `budget_shares`, `compare_law`, `plot_norms`,
  `plot_budget`): what the norms of a named experiment or a traced run encode.
- `testing` (needs the `test` extra): hypothesis strategies and checkers for
  scale-invariant losses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from normtheory._version import __version__ as __version__

if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load on first use
    from normtheory import analysis as analysis
    from normtheory import laws as laws
    from normtheory import losses as losses
    from normtheory.analysis import budget_shares as budget_shares
    from normtheory.analysis import compare_law as compare_law
    from normtheory.analysis import imprint_slope as imprint_slope
    from normtheory.analysis import plot_budget as plot_budget
    from normtheory.analysis import plot_norms as plot_norms
    from normtheory.config import ConfigError as ConfigError
    from normtheory.config import SimConfig as SimConfig
    from normtheory.engine import Trajectory as Trajectory
    from normtheory.engine import simulate as simulate
    from normtheory.engine import train as train
    from normtheory.losses import cosine_matrix as cosine_matrix
    from normtheory.losses import infonce as infonce
    from normtheory.losses import prototype_infonce as prototype_infonce
    from normtheory.losses import supervised_infonce as supervised_infonce
    from normtheory.losses import symmetric_infonce as symmetric_infonce
    from normtheory.regimes import get_experiment as get_experiment
    from normtheory.runs import merge as merge
    from normtheory.runs import run as run
    from normtheory.tracer import Model as Model
    from normtheory.tracer import trace as trace

# public name -> (module, attribute or None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "analysis": ("normtheory.analysis", None),
    "budget_shares": ("normtheory.analysis", "budget_shares"),
    "compare_law": ("normtheory.analysis", "compare_law"),
    "imprint_slope": ("normtheory.analysis", "imprint_slope"),
    "plot_budget": ("normtheory.analysis", "plot_budget"),
    "plot_norms": ("normtheory.analysis", "plot_norms"),
    "laws": ("normtheory.laws", None),
    "losses": ("normtheory.losses", None),
    "ConfigError": ("normtheory.config", "ConfigError"),
    "SimConfig": ("normtheory.config", "SimConfig"),
    "Trajectory": ("normtheory.engine", "Trajectory"),
    "simulate": ("normtheory.engine", "simulate"),
    "train": ("normtheory.engine", "train"),
    "get_experiment": ("normtheory.regimes", "get_experiment"),
    "cosine_matrix": ("normtheory.losses", "cosine_matrix"),
    "infonce": ("normtheory.losses", "infonce"),
    "prototype_infonce": ("normtheory.losses", "prototype_infonce"),
    "supervised_infonce": ("normtheory.losses", "supervised_infonce"),
    "symmetric_infonce": ("normtheory.losses", "symmetric_infonce"),
    "merge": ("normtheory.runs", "merge"),
    "run": ("normtheory.runs", "run"),
    "Model": ("normtheory.tracer", "Model"),
    "trace": ("normtheory.tracer", "trace"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'normtheory' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
