"""Embedding models: a free per-item table, a compositional encoder, an MLP.

Each model is a pair of pure functions: `init(key, ...) -> params` (a pytree) and
`embed(params, inputs) -> (B, d)`.
"""

from normtheory.models import compositional, mlp, table

__all__ = ["compositional", "mlp", "table"]
