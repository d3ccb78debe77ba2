"""The toy on real structure: train the hierarchy toy on the probe's nouns and their
WordNet hypernym paths (data family "wordnet"), and compare its norms word by word with
all-MiniLM-L6-v2's norms before normalisation, next to predictors that need no
training dynamics (THEORY.md items 13-14).

Public surface: `regimes(...)` -> list of `Regime`; `run_bridge(regimes, seeds, ...)`
-> `BridgeResult`. Modules: `run` (training and the record), `analysis` (the
statistics), `ood` (the real model's norm as an out-of-distribution filter), `table`
(Markdown), `figure`, `cli`. Needs the `probe` extra and WordNet; importing this package
does not import them.
"""

# Loaded on first use, so that the command line can import the package cheaply.
_MODULE = "normtheory.bridge.run"
__all__ = ["BridgeResult", "Regime", "regimes", "run_bridge"]


def __getattr__(name: str):
    import importlib

    if name in __all__:
        return getattr(importlib.import_module(_MODULE), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
