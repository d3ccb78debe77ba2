"""The real model's norm as an out-of-distribution filter (THEORY.md item 14).

In-distribution queries are the bridge's common nouns. Out-of-distribution queries are
nouns the vocabulary leaves out, half of each kind:

- rarer nouns, excluded by frequency: the most frequent words that pass the probe's
  vocabulary rules 1-4 (`normtheory.lexicon.vocabulary`) among words of Zipf frequency
  below `RARE_ZIPF` (fewer than one occurrence per million words);
- multi-word lemmas of WordNet: lemmas of index.noun made of lower-case ASCII words
  joined by "_", whose first noun sense lists them in lower case; the most attested
  first (tag-sense count, then wordfreq's frequency of the phrase, then the lemma);
  embedded with spaces ("high school").

Every query has a distinct first noun sense (a query whose sense another query already
has is skipped; the selection is `normtheory.probe.unseen.choose_unseen`). Three
questions, with bootstrap intervals:

1. ID versus OOD: AUROC of each score (norm, top-1 cosine, margin, and their 5-fold
   logistic combination, all out-of-fold) for "the query is in distribution", on all
   queries and against each OOD kind alone;
2. word -> definition retrieval on the mixed set (gallery: the definitions of every
   query's first sense): selective accuracy against coverage, AUROC for "top-1 is
   correct" and AURC, by norm, top-1 cosine, margin and combination
   (`probe.analysis.retrieval`);
3. the same separation controlled for what the norm trivially tracks
   (`probe.ood.analyse`, under "controlled"): every AUROC beside word-piece count,
   character length and log frequency, within word-piece strata, on a length-matched
   sample, and what the norm adds to a logistic regression on those baselines; for
   each OOD kind alone and for both together.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from normtheory import confidence
from normtheory.probe import analysis as probe_analysis
from normtheory.probe import ood as probe_ood
from normtheory.probe.unseen import RARE_ZIPF

__all__ = ["RARE_ZIPF", "OodResult", "choose_ood", "run_ood", "separation"]


@dataclasses.dataclass(frozen=True, eq=False)
class OodResult:
    """The OOD record and its per-query arrays (n = ID + OOD queries): queries (n,);
    kind (n,) "id", "rare" or "multiword"; scores maps a score name to (n,) values;
    correct (n,) bool, top-1 definition is the query's own."""

    record: dict
    queries: tuple[str, ...]
    kind: np.ndarray
    scores: dict[str, np.ndarray]
    correct: np.ndarray


def choose_ood(vocab: Any, n_rare: int, n_multi: int) -> tuple[list[str], list[str]]:
    """(rare nouns, multi-word lemmas with "_"), each as long as asked when WordNet and
    wordfreq have enough, by the module's rules; `vocab` is the in-distribution
    `normtheory.data.wordnet.Vocabulary` (its senses are not reused)."""
    from normtheory.probe import unseen

    return unseen.choose_unseen(vocab.database, set(vocab.senses), n_rare, n_multi)


def separation(
    scores: dict[str, np.ndarray], is_id: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> list[dict]:
    """AUROC with bootstrap interval of each score for "the query is in distribution".

    Args: scores maps names to (n,) arrays; is_id (n,) bool with both classes.
    Returns: `confidence.summarize` records (AUROC > 0.5: ID queries score higher).
    """
    return confidence.summarize(scores, is_id, n_boot=n_boot, seed=seed)


def run_ood(
    vocab: Any, encoder: Any, *, n_boot: int = 1000, seed: int = 0, progress: bool = False
) -> OodResult:
    """Embed ID and OOD queries and their definitions; return both analyses.

    Args:
        vocab: the in-distribution `normtheory.data.wordnet.Vocabulary` (W words).
        encoder: a `probe.encoders.Encoder`, an encoder name ("minilm-l6", ...), or the
            SentenceTransformer of `probe.model.load_model()` (the minilm-l6 encoder).
        n_boot, seed: bootstrap resamples, bootstrap and CV seed.
        progress: progress bars while embedding.

    Returns:
        The `OodResult`; W / 2 rare nouns and W - W / 2 multi-word lemmas are asked for.
    """
    from wordfreq import zipf_frequency

    from normtheory.lexicon import wordnet
    from normtheory.probe import encoders

    if isinstance(encoder, str):
        encoder = encoders.load(encoder)
    elif not isinstance(encoder, encoders.Encoder):
        encoder = encoders.load(encoders.DEFAULT)
    db = vocab.database
    n = len(vocab.words)
    rare, multi = choose_ood(vocab, n // 2, n - n // 2)
    texts = [*vocab.words, *rare, *(m.replace("_", " ") for m in multi)]
    lemmas = [*vocab.words, *rare, *multi]
    kind = np.array(["id"] * n + ["rare"] * len(rare) + ["multiword"] * len(multi))
    norm, unit = encoders.embed_norms(encoder, texts, progress=progress, desc="OOD queries")
    senses = [db.senses[lemma][0] for lemma in lemmas]
    glosses = [wordnet.definition(db.synsets[s].gloss) or db.synsets[s].gloss for s in senses]
    _, gallery = encoders.embed_norms(encoder, glosses, progress=progress, desc="definitions")
    target = np.arange(len(texts))
    retrieval, scores, correct = probe_analysis.retrieval(
        unit, norm, gallery, target, n_boot=n_boot, seed=seed
    )
    retrieval["gallery"] = "definition of each query's first noun sense, quoted examples removed"
    retrieval["accuracy_by_kind"] = {
        k: float(np.mean(correct[kind == k])) for k in ("id", "rare", "multiword")
    }
    is_id = kind == "id"
    base = {k: scores[k] for k in ("norm", "top1_cosine", "margin")}
    features = np.column_stack(list(base.values()))
    id_scores = {**base, "combined": confidence.logistic_cv(features, is_id, seed=seed)}
    split = {}
    for other in ("rare", "multiword"):
        keep = is_id | (kind == other)
        split[other] = separation(
            {k: v[keep] for k, v in base.items()}, is_id[keep], n_boot=n_boot, seed=seed
        )
    record = {
        "rule": {
            "in_distribution": "the bridge's common nouns",
            "rare": f"probe nouns (rules 1-4) with Zipf frequency < {RARE_ZIPF}, most frequent "
            "first",
            "multiword": "WordNet noun lemmas of several lower-case words whose first sense "
            "lists them, most attested first; embedded with spaces",
        },
        "counts": {"id": n, "rare": len(rare), "multiword": len(multi)},
        "examples": {"rare": rare[:10], "multiword": multi[:10]},
        "id_vs_ood": separation(id_scores, is_id, n_boot=n_boot, seed=seed),
        "id_vs_rare": split["rare"],
        "id_vs_multiword": split["multiword"],
        "mean_norm": {k: float(np.mean(norm[kind == k])) for k in ("id", "rare", "multiword")},
        "retrieval": retrieval,
        "model": encoder.model_name,
        "controlled": _controlled(base, kind, texts, encoder, zipf_frequency, n_boot, seed),
    }
    return OodResult(record, tuple(texts), kind, scores, correct)


def _controlled(
    scores: dict[str, np.ndarray],
    kind: np.ndarray,
    texts: list[str],
    encoder: Any,
    zipf: Any,
    n_boot: int,
    seed: int,
) -> dict:
    """`probe.ood.analyse` for ID against each OOD kind and against both: scores maps
    names to (n,) arrays (with "norm"); kind (n,) "id", "rare" or "multiword"."""
    pieces = encoder.tokenize_counts(texts).astype(np.float64)
    chars = np.array([len(t) for t in texts], dtype=np.float64)
    log_freq = np.array([zipf(t, "en") for t in texts])
    out = {}
    for name, other in (
        ("all", ("rare", "multiword")),
        ("rare", ("rare",)),
        ("multiword", ("multiword",)),
    ):
        rows = (kind == "id") | np.isin(kind, other)
        if min(int(np.sum(kind == "id")), int(np.sum(rows)) - int(np.sum(kind == "id"))) < 2:
            continue
        out[name] = probe_ood.analyse(
            {k: v[rows] for k, v in scores.items()},
            kind[rows] == "id",
            pieces[rows],
            chars[rows],
            log_freq[rows],
            n_boot=n_boot,
            seed=seed,
        )
    return out
