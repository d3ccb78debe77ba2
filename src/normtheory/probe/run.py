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

4. Out of distribution (`probe.ood`, `probe.unseen`): the retrieval gallery keeps only
   the definitions of the in-distribution words; held-out WordNet subtrees of the
   vocabulary (about 20% of its words), rarer nouns and multi-word lemmas (each a tenth
   of the vocabulary) are the OOD queries. Each score's AUROC for "query is in
   distribution" stands beside word-piece count, character length and log frequency,
   within piece-count strata, on a length-matched sample, and as what the norm adds to
   a logistic regression on those baselines.

The encoder is chosen by name (`probe.encoders`; default "minilm-l6"). Without
WordNet only the log-frequency part of 1 runs, on the most frequent plain words; the
reason is recorded in the result.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from normtheory._version import __version__
from normtheory.lexicon import vocabulary, wordnet
from normtheory.probe import analysis, encoders, ood, unseen

__all__ = ["DEFAULT_FRAMES", "ProbeResult", "run_probe"]

from normtheory.probe.frames import DEFAULT_FRAMES

_DISTRIBUTIONS = ("normtheory", "wordfreq", "numpy")
HELD_OUT_FRACTION = 0.2


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


def _versions(encoder: encoders.Encoder) -> dict[str, str | None]:
    found = {}
    for name in (*_DISTRIBUTIONS[:1], *encoder.distributions, *_DISTRIBUTIONS[1:]):
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
    model_name: str = encoders.DEFAULT,
    ood_test: bool = True,
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
        seed: seed of the bootstrap, the held-out subtrees and the matched samples.
        model_name: the encoder (`probe.encoders.names()`).
        ood_test: run the out-of-distribution part (4).
        progress: print progress through `log`.
        log: where progress and skip messages go.

    Returns:
        The ProbeResult: the JSON record (correlations with intervals, the sign test per
        frame, retrieval AUROCs) and the per-word arrays the figure draws.

    Raises `model.ProbeExtraMissing` if the probe extra is not installed, ValueError for
    a bad argument (`encoders.UnknownModel` for an unknown model name). A missing
    WordNet is not an error: its message goes to `log` and into record["skipped"], and
    only the frequency analysis runs.
    """
    if words < 10:
        raise ValueError(f"words must be at least 10, got {words}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    frames = _check_frames(frames)
    encoders.require(model_name)
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
        rule = "WordNet nouns, noun use dominant (normtheory.lexicon.vocabulary rules 1-4)"
    else:
        vocab = vocabulary.frequency_words(ranked, words)
        rule = "most frequent plain words (rule 1 only: WordNet missing)"
    log(f"vocabulary: {len(vocab)} words; loading {encoders.model_name(model_name)}")
    encoder = encoders.load(model_name)

    def embed(texts: list[str], desc: str) -> tuple[np.ndarray, np.ndarray]:
        return encoders.embed_norms(encoder, texts, batch_size, progress=progress, desc=desc)

    log_freq = np.array([zipf_frequency(w, "en") for w in vocab])
    pieces = encoder.tokenize_counts(vocab).astype(np.float64)
    norm, unit = embed(vocab, "bare words")
    boot = {"n_boot": n_boot, "seed": seed}
    correlations = [
        analysis.correlation("norm ~ log frequency", norm, log_freq, **boot),
        analysis.correlation(
            "norm ~ log frequency", norm, log_freq, pieces[:, None], ["word pieces"], **boot
        ),
    ]
    record: dict = {
        "model": encoder.model_name,
        "encoder": encoder.name,
        "quantity": encoder.quantity,
        "versions": _versions(encoder),
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
        for part in ("depth_generality", "sign_test", "retrieval", "ood"):
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
    if ood_test:
        base = {"norm": norm, "unit": unit, "log_frequency": log_freq, "pieces": pieces}
        record["ood"] = _ood(db, vocab, first, base, gallery, position, encoder, embed,
                             zipf_frequency, n_boot=n_boot, seed=seed)  # fmt: skip
    record["depth"] = {
        "mean_norm_by_depth": {
            str(int(d)): float(norm[depth == d].mean()) for d in np.unique(depth)
        },
        "words_by_depth": {str(int(d)): int(np.sum(depth == d)) for d in np.unique(depth)},
    }
    return ProbeResult(record, tuple(vocab), norm, log_freq, depth, hyponyms, scores, correct)


def _ood(
    db: wordnet.NounDatabase,
    vocab: list[str],
    first: list[int],
    base: dict[str, np.ndarray],
    gallery: np.ndarray,
    position: dict[int, int],
    encoder: encoders.Encoder,
    embed: Callable[[list[str], str], tuple[np.ndarray, np.ndarray]],
    zipf: Callable[[str, str], float],
    *,
    n_boot: int,
    seed: int,
) -> dict:
    """Part 4: held-out subtrees, rarer nouns and multi-word lemmas against the
    in-distribution words, with a gallery of the in-distribution definitions only.

    base holds the vocabulary's "norm" (n,), "unit" (n, d), "log_frequency" (n,) and
    "pieces" (n,); gallery (m, d) the definitions' unit vectors, `position` a synset's
    row in it.
    """
    held, roots = unseen.held_out_subtrees(db, vocab, HELD_OUT_FRACTION, seed=seed)
    n_unseen = max(1, len(vocab) // 10)
    rare, multi = unseen.choose_unseen(db, set(first), n_unseen, n_unseen)
    texts = [*rare, *(m.replace("_", " ") for m in multi)]
    extra_norm, extra_unit = embed(texts, "OOD queries")
    id_senses = sorted({first[i] for i in np.flatnonzero(~held)})
    id_gallery = gallery[[position[s] for s in id_senses]]
    scores = {
        "norm": np.concatenate([base["norm"], extra_norm]),
        **ood.top_scores(np.vstack([base["unit"], extra_unit]), id_gallery),
    }
    pieces = np.concatenate([base["pieces"], encoder.tokenize_counts(texts)])
    chars = np.array([len(t) for t in [*vocab, *texts]], dtype=np.float64)
    log_freq = np.concatenate([base["log_frequency"], [zipf(t, "en") for t in texts]])
    kind = np.array(["id"] * len(vocab) + ["rare"] * len(rare) + ["multiword"] * len(multi))
    kind[: len(vocab)][held] = "held_out"
    kinds = ("id", "held_out", "rare", "multiword")
    record: dict = {
        "rule": {
            "gallery": "definitions of the first noun senses of the in-distribution words "
            "(quoted examples removed)",
            "held_out": f"WordNet subtrees of the vocabulary, about {HELD_OUT_FRACTION:.0%} of "
            "its words, withheld from the gallery (normtheory.probe.unseen)",
            "rare": f"probe nouns (rules 1-4) with Zipf frequency < {unseen.RARE_ZIPF}, most "
            "frequent first",
            "multiword": "WordNet noun lemmas of several lower-case words whose first sense "
            "lists them, most attested first; embedded with spaces",
            "strata": f"word pieces; {ood.CAP} or more share a stratum",
        },
        "counts": {k: int(np.sum(kind == k)) for k in kinds},
        "held_out_roots": [db.synsets[r].words[0] for r in roots],
        "examples": {
            "held_out": [w for w, h in zip(vocab, held, strict=True) if h][:10],
            "rare": rare[:10],
            "multiword": multi[:10],
        },
        "mean_norm": {
            k: float(np.mean(scores["norm"][kind == k])) if np.any(kind == k) else None
            for k in kinds
        },
        "mean_pieces": {
            k: float(np.mean(pieces[kind == k])) if np.any(kind == k) else None for k in kinds
        },
        "splits": {},
    }
    for name in kinds[1:]:
        rows = (kind == "id") | (kind == name)
        if np.sum(kind == name) < 10:
            continue
        record["splits"][name] = ood.analyse(
            {k: v[rows] for k, v in scores.items()},
            kind[rows] == "id",
            pieces[rows],
            chars[rows],
            log_freq[rows],
            n_boot=n_boot,
            seed=seed,
        )
    return record
