"""normtheory: why the norms of scale-invariant contrastive embeddings carry meaning.

Public surface:
- `laws`: the laws of THEORY.md as derived SymPy expressions with JAX twins.
- `losses`: InfoNCE losses on cosine similarity (one-sided, symmetric, supervised).
- `testing` (needs the `test` extra): hypothesis strategies and checkers for
  scale-invariant losses.
"""

from normtheory import laws, losses
from normtheory._version import __version__
from normtheory.losses import cosine_matrix, infonce, supervised_infonce, symmetric_infonce

__all__ = [
    "__version__",
    "cosine_matrix",
    "infonce",
    "laws",
    "losses",
    "supervised_infonce",
    "symmetric_infonce",
]
