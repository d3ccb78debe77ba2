"""The norm as a free confidence score for retrieval, measured in the simulations.

After training, every query is retrieved against a gallery by cosine (top-1), and four
per-query scores are asked to predict whether the top-1 is correct: the query's norm
(which cosine throws away), the top-1 cosine and the margin between the top two (the
usual baselines), and a cross-validated logistic combination of the three; the same
combination without the norm says whether the norm adds anything to the baselines.

Retrieval tasks:
- ambiguity data: queries are the inputs (free table: the trained rows; MLP: fresh,
  held-out views of every input, `VIEWS` per input); the gallery is the learned class
  prototypes. The reference label of a query is one annotator's label, drawn from the
  input's soft label (as a human label is one draw from the annotators' disagreement),
  so an input of entropy log K is right by chance only. The feature the norm should
  track is the soft-label entropy (THEORY.md item 14).
- hierarchy data: queries are all nodes but the root (leaves too when a separate leaf
  tower gives the gallery); the gallery is the leaves' context embeddings. A node with
  m leaves below it is right when its m nearest leaves are exactly those (for a leaf:
  its own context is the top-1); plain top-1-in-subtree is almost always right for inner
  nodes and would leave nothing to predict. The feature is the depth (item 13).

Theory's side of 0.5 for the norm's AUROC (> 0.5: longer queries are more often right)
is derived, not set by model family (`analysis.Prediction`): item 18's mean field gives
the sign and size rho_18 of the correlation between an item's norm growth and its feature
from the configuration and the model at initialisation (`normtheory.mean_field`); the
link, Spearman(feature, correct), is measured in calibration runs of the same regime at
seeds disjoint from the judged ones (`settings.calibration_config`, cached like the judged
runs). If the norm tells correctness only through the feature, the AUROC lies on the side
sign(rho_18) x sign(link); item 18's 0 predicts 0.5 (judged by an equivalence test), a
link whose interval holds 0 gives no side. Its size under a Gaussian copula is
`analysis.copula_auroc`. The judged run gives only its seed count. The rule by model
family used before (free table: generic and ambiguous items longer; MLP: ambiguous
shorter; compositional: specific longer; AdamW: flat; in the hierarchy times the judged
run's own correctness-depth correlation) is kept in each record as `rule_by_family`.

Out of distribution: for every regime the norm, top-1 cosine and margin of seen items
are set against those of unseen items (unseen leaves of the tree; fresh rows of the
free table; inputs of an unseen class for the MLP; `run` says why these), beside the
item facts that need no training (depth, leaves below, draw probability; ambiguity
level, input norm), within strata of the strongest fact, on a sample matched on it, and
as the gain of the norm over a logistic regression on the facts (`analysis.ood`).

Simulations run in float32 (the metrics in float64); each regime's retrieval arrays are
cached by config like simulation runs.

Public surface: `regimes(...)` -> [`Regime`]; `calibrate(regimes, seeds)` ->
[`RegimeResult`]; `records(results)` (JSON-ready); `format_table(records)` (Markdown,
with `format_ood`'s table of unseen items); `ood(arrays)` (the out-of-distribution record);
`draw(results, path)` (figure 9). Modules: `settings` (the regimes: optimizers, model
families, the calibration runs, the old rule's signs), `run` (training and the cached
retrieval arrays), `analysis` (the scores and the derived side), `table`, `figure`.
Importing this package imports none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load on first use
    from normtheory.calibrate.analysis import SCORES as SCORES
    from normtheory.calibrate.analysis import RegimeResult as RegimeResult
    from normtheory.calibrate.analysis import calibrate as calibrate
    from normtheory.calibrate.analysis import evaluate as evaluate
    from normtheory.calibrate.analysis import ood as ood
    from normtheory.calibrate.analysis import records as records
    from normtheory.calibrate.figure import draw as draw
    from normtheory.calibrate.run import VIEWS as VIEWS
    from normtheory.calibrate.run import cached_retrieval as cached_retrieval
    from normtheory.calibrate.run import retrieval as retrieval
    from normtheory.calibrate.settings import FAMILIES as FAMILIES
    from normtheory.calibrate.settings import OPTIMIZERS as OPTIMIZERS
    from normtheory.calibrate.settings import Regime as Regime
    from normtheory.calibrate.settings import regimes as regimes
    from normtheory.calibrate.table import format_ood as format_ood
    from normtheory.calibrate.table import format_table as format_table

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "SCORES": "normtheory.calibrate.analysis",
    "RegimeResult": "normtheory.calibrate.analysis",
    "evaluate": "normtheory.calibrate.analysis",
    "ood": "normtheory.calibrate.analysis",
    "records": "normtheory.calibrate.analysis",
    "draw": "normtheory.calibrate.figure",
    "VIEWS": "normtheory.calibrate.run",
    "cached_retrieval": "normtheory.calibrate.run",
    "calibrate": "normtheory.calibrate.analysis",
    "retrieval": "normtheory.calibrate.run",
    "FAMILIES": "normtheory.calibrate.settings",
    "OPTIMIZERS": "normtheory.calibrate.settings",
    "Regime": "normtheory.calibrate.settings",
    "regimes": "normtheory.calibrate.settings",
    "format_ood": "normtheory.calibrate.table",
    "format_table": "normtheory.calibrate.table",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
