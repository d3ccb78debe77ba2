"""The real encoders behind one small interface, found by name.

Each module of this package (other than this one) is one encoder: it defines `NAME`
(the registry name, the module name with "-" for "_"), `MODEL_NAME` (where the weights
come from), `require()` (raise `ProbeExtraMissing` naming what is not installed) and
`load() -> Encoder`. A new encoder is one new file here; `names()` finds it.

An `Encoder` gives the two things the probe and the bridge measure: `embed(texts)`, the
pooled vector of each text *before* any final normalisation, float32 (n, d); and
`tokenize_counts(texts)`, the number of word pieces of each text without the special
tokens. `embed_norms` turns the first into (norm, unit vector) pairs. Importing this
package imports none of the model libraries; `load` does, and keeps the loaded model.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT",
    "Encoder",
    "UnknownModel",
    "embed_norms",
    "load",
    "model_name",
    "names",
    "require",
]

DEFAULT = "minilm-l6"


class UnknownModel(ValueError):
    """A model name that no module of `normtheory.probe.encoders` defines."""


@dataclass(frozen=True, eq=False)
class Encoder:
    """A loaded text encoder.

    Fields: name (registry name); model_name (the checkpoint, e.g.
    "sentence-transformers/all-MiniLM-L6-v2"); dim (width d of the pooled vector);
    quantity (what `embed` returns, in words); distributions (installed packages whose
    versions a record should give); pooled_batch maps a list of texts to their pooled
    vectors, float32 (len, d), before normalisation; piece_ids maps a list of texts to
    their word-piece ids without special tokens (one list per text).
    """

    name: str
    model_name: str
    dim: int
    quantity: str
    distributions: tuple[str, ...]
    pooled_batch: Callable[[list[str]], np.ndarray]
    piece_ids: Callable[[list[str]], list[list[int]]]

    def tokenize_counts(self, texts: Sequence[str]) -> np.ndarray:
        """Word pieces of each text, [CLS] and [SEP] excluded: int64 (len(texts),)."""
        return np.array([len(row) for row in self.piece_ids(list(texts))], dtype=np.int64)

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 256,
        *,
        progress: bool = False,
        desc: str = "embedding",
    ) -> np.ndarray:
        """Pooled vectors before normalisation, float32 (len(texts), dim), input order.

        Texts are batched longest first (less padding); each batch goes through
        `pooled_batch`. Deterministic on a given machine.
        """
        from tqdm.auto import tqdm

        texts = list(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = np.argsort(-self.tokenize_counts(texts), kind="stable")
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
            rows = order[start : start + batch_size]
            pooled = np.asarray(self.pooled_batch([texts[i] for i in rows]))
            if pooled.shape != (len(rows), self.dim):
                raise RuntimeError(
                    f"{self.name}: pooled batch has shape {pooled.shape}, "
                    f"expected {(len(rows), self.dim)}"
                )
            out[rows] = pooled
        return out


def names() -> tuple[str, ...]:
    """Every registered encoder name, sorted: one per module of this package."""
    return tuple(sorted(info.name.replace("_", "-") for info in pkgutil.iter_modules(__path__)))


def _module(name: str):
    if not isinstance(name, str) or name not in names():
        raise UnknownModel(f"unknown model {name!r}; known: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")


def model_name(name: str) -> str:
    """The checkpoint behind registry name `name` (no model library is imported)."""
    return _module(name).MODEL_NAME


def require(name: str) -> None:
    """Raise UnknownModel for an unregistered name, `model.ProbeExtraMissing` if a
    package the encoder needs is absent."""
    _module(name).require()


@functools.cache
def load(name: str = DEFAULT) -> Encoder:
    """The encoder registered as `name`, loaded offline on the CPU (cached)."""
    module = _module(name)
    module.require()
    return module.load()


def embed_norms(
    encoder: Encoder,
    texts: Sequence[str],
    batch_size: int = 256,
    *,
    progress: bool = False,
    desc: str = "embedding",
) -> tuple[np.ndarray, np.ndarray]:
    """(norms (n,), unit vectors (n, d)), float64, of the pooled vectors of `texts`.

    norms[i] is the L2 norm of the pooled vector before normalisation; unit[i] is that
    vector divided by its norm (what a final Normalize makes of it).
    """
    pooled = encoder.embed(texts, batch_size, progress=progress, desc=desc).astype(np.float64)
    norms = np.linalg.norm(pooled, axis=1)
    return norms, pooled / np.maximum(norms, 1e-12)[:, None]
