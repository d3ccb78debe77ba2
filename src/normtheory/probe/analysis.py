"""The probe's three analyses on arrays: rank correlations, hypernym sign tests, and
norm as a confidence score for word -> definition retrieval (THEORY.md items 13-14).

Pure NumPy; every statistic comes from `normtheory.confidence`. Records are plain
dicts of floats and ints, ready for JSON.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from normtheory import confidence

__all__ = [
    "COVERAGES",
    "correlation",
    "fill_frame",
    "retrieval",
    "sign_test",
]

COVERAGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
_VOWELS = frozenset("aeiou")


def correlation(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    controls: np.ndarray | None = None,
    control_names: Sequence[str] = (),
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Spearman rho of x and y, or the partial Spearman rho given `controls` (n, k),
    with a percentile-bootstrap 95% interval over words (resampled jointly).

    A constant control (every word one word piece, in a small vocabulary) controls for
    nothing: it is dropped and listed under "dropped". If the bootstrap fails (too
    many resamples with a constant column) the interval is None and "note" says why.
    """
    names = list(control_names)
    dropped = []
    if controls is not None:
        keep = [j for j in range(controls.shape[1]) if np.ptp(controls[:, j]) > 0]
        dropped = [names[j] for j in range(controls.shape[1]) if j not in keep]
        controls, names = controls[:, keep], [names[j] for j in keep]
    record = {"name": name, "controls": names, "dropped": dropped, "n": int(np.size(x))}
    if controls is None or not names:
        statistic, arrays = confidence.spearman, (x, y)
    else:
        statistic, arrays = confidence.partial_spearman, (x, y, controls)
    record["rho"] = statistic(*arrays)
    try:
        record["lo"], record["hi"] = confidence.bootstrap_ci(
            statistic, *arrays, n_boot=n_boot, seed=seed
        )
    except ValueError as error:
        record["lo"] = record["hi"] = None
        record["note"] = f"no bootstrap interval: {error}"
    return record


def fill_frame(frame: str, word: str) -> str:
    """Put `word` into `frame` at "{w}"; "a {w}" becomes "an {w}" before a vowel letter
    (a spelling rule: "an hour" and "a unit" are not special-cased)."""
    if word[:1] in _VOWELS:
        frame = frame.replace("a {w}", "an {w}").replace("A {w}", "An {w}")
    return frame.replace("{w}", word)


def _sign(wins: int, n: int) -> dict:
    return {
        "n": n,
        "wins": wins,
        "fraction": wins / n if n else None,
        "p": confidence.sign_test(wins, n) if n else None,
    }


def sign_test(norm: np.ndarray, pairs: np.ndarray, log_frequency: np.ndarray) -> dict:
    """How often the hyponym (the more specific word) of a (hypernym, hyponym) pair has
    the larger norm, with the exact two-sided sign test; ties are dropped.

    norm (n_words,), pairs (n_pairs, 2) of word indices (hypernym, hyponym),
    log_frequency (n_words,). Also split by frequency: pairs whose hyponym is rarer
    than its hypernym ("hyponym_rarer") and those where it is more frequent
    ("hyponym_more_frequent"); pairs of equal frequency are in neither. Pairs share
    words, so they are not independent draws: read p as descriptive.
    """
    general, specific = pairs[:, 0], pairs[:, 1]
    diff = norm[specific] - norm[general]
    decided = diff != 0
    win = diff > 0
    rarer = log_frequency[specific] < log_frequency[general]
    commoner = log_frequency[specific] > log_frequency[general]
    out = _sign(int(np.sum(win & decided)), int(np.sum(decided)))
    out["ties"] = int(np.sum(~decided))
    for key, mask in (("hyponym_rarer", rarer), ("hyponym_more_frequent", commoner)):
        out[key] = _sign(int(np.sum(win & decided & mask)), int(np.sum(decided & mask)))
    return out


def retrieval(
    query_unit: np.ndarray,
    query_norm: np.ndarray,
    gallery_unit: np.ndarray,
    target: np.ndarray,
    *,
    n_bins: int = 20,
    min_count: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[dict, dict[str, np.ndarray], np.ndarray]:
    """Top-1 retrieval by cosine and five confidence scores for "top-1 is correct".

    query_unit (n, d) and gallery_unit (m, d) unit vectors; query_norm (n,) the
    pre-normalisation norm of each query; target (n,) the index of each query's right
    gallery item. Scores: "norm", "top1_cosine", "margin" (top-1 minus top-2 cosine),
    "combined", the out-of-fold probability of a 5-fold logistic regression on the
    three (`confidence.logistic_cv`), and "combined_without_norm", the same on top-1
    cosine and margin only: what the norm adds to them. Returns (record, scores,
    correct): the record holds `confidence.summarize` per score plus the oracle AURC,
    selective accuracy at `COVERAGES` and accuracy per bin of the min-max normalised
    score.
    """
    cosine = query_unit @ gallery_unit.T
    top2 = np.argsort(-cosine, axis=1, kind="stable")[:, :2]
    rows = np.arange(cosine.shape[0])
    first, second = cosine[rows, top2[:, 0]], cosine[rows, top2[:, 1]]
    correct = top2[:, 0] == target
    scores = {"norm": query_norm, "top1_cosine": first, "margin": first - second}
    features = np.column_stack(list(scores.values()))
    scores["combined"] = confidence.logistic_cv(features, correct, seed=seed)
    scores["combined_without_norm"] = confidence.logistic_cv(features[:, 1:], correct, seed=seed)
    records = confidence.summarize(scores, correct, n_boot=n_boot, seed=seed)
    for record in records:
        score = scores[record["score"]]
        bins = confidence.accuracy_by_bin(score, correct, n_bins=n_bins, min_count=min_count)
        record["selective_accuracy"] = {
            f"{c:g}": confidence.selective_accuracy(score, correct, c) for c in COVERAGES
        }
        record["bins"] = {
            "edges": bins.edges.tolist(),
            "count": bins.count.tolist(),
            "accuracy": [
                None if not v else float(a) for a, v in zip(bins.accuracy, bins.valid, strict=True)
            ],
            "score_min": float(np.min(score)),
            "score_max": float(np.max(score)),
        }
    record = {
        "n_queries": int(correct.size),
        "gallery_size": int(gallery_unit.shape[0]),
        "accuracy": float(np.mean(correct)),
        "optimal_aurc": confidence.optimal_aurc(correct),
        "scores": records,
    }
    return record, scores, correct
