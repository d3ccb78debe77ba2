"""Out-of-distribution statistics that control for what the norm trivially tracks.

A query set is split into in-distribution (ID) and out-of-distribution (OOD) queries;
each confidence score should be higher for ID queries. A norm that separates them may
only be reading length or frequency: a multi-word lemma has more word pieces than a
common noun, and in MiniLM more pieces lower the norm. So every AUROC here stands
beside the trivial baselines, oriented before looking at the data (fewer word pieces,
fewer characters, higher log frequency = in distribution), and is also computed

- within strata of word-piece count: the probability that an ID query outscores an OOD
  query *with the same number of pieces* (Mann-Whitney over the pairs of each stratum,
  pooled over strata; pieces above `CAP` share one stratum);
- on a length-matched sample: in each stratum, the larger class is subsampled (seeded)
  to the size of the smaller, so both classes have the same piece-count distribution;
- by a 5-fold logistic regression on the baselines with and without the norm
  (`confidence.logistic_cv`, out-of-fold): what the norm adds once they are in.

Pure NumPy on arrays; records are plain dicts ready for JSON. AUROC > 0.5: ID queries
score higher; < 0.5: the score ranks OOD queries higher.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from normtheory import confidence

__all__ = [
    "BASELINES",
    "CAP",
    "analyse",
    "baseline_scores",
    "matched_indices",
    "strata_of",
    "top_scores",
    "within_strata_auroc",
]

CAP = 5
# The smallest gain in AUROC from adding the norm to the baselines that counts as the
# norm adding something (a gain is in AUROC points: 0.005 = half a point).
MIN_GAIN = 0.005
BASELINES = ("word pieces", "characters", "log frequency")
_MIN_PER_CLASS = 5


def strata_of(pieces: np.ndarray, cap: int = CAP) -> np.ndarray:
    """Piece count per query with counts above `cap` pooled at cap: int64 (n,)."""
    return np.minimum(np.asarray(pieces, dtype=np.int64), cap)


def baseline_scores(
    pieces: np.ndarray, chars: np.ndarray, log_frequency: np.ndarray
) -> dict[str, np.ndarray]:
    """The trivial scores, oriented a priori: -pieces, -characters, +log frequency."""
    return {
        "word pieces": -np.asarray(pieces, dtype=np.float64),
        "characters": -np.asarray(chars, dtype=np.float64),
        "log frequency": np.asarray(log_frequency, dtype=np.float64),
    }


def top_scores(query_unit: np.ndarray, gallery_unit: np.ndarray) -> dict[str, np.ndarray]:
    """Top-1 cosine and margin (top-1 minus top-2 cosine) of each query against a
    gallery. query_unit (n, d), gallery_unit (m, d) unit vectors, m >= 2; returns two
    (n,) arrays."""
    cosine = query_unit @ gallery_unit.T
    top = -np.partition(-cosine, 1, axis=1)[:, :2]
    return {"top1_cosine": top[:, 0], "margin": top[:, 0] - top[:, 1]}


def _pair_counts(score: np.ndarray, is_id: np.ndarray, strata: np.ndarray) -> tuple[float, float]:
    """(Mann-Whitney count of ID-over-OOD wins, ties one half; number of pairs), summed
    over strata; pairs are formed within a stratum only."""
    from scipy import stats

    wins = pairs = 0.0
    for s in np.unique(strata):
        rows = strata == s
        c = is_id[rows]
        n_pos, n_neg = int(c.sum()), int((~c).sum())
        if n_pos == 0 or n_neg == 0:
            continue
        ranks = stats.rankdata(score[rows])
        wins += float(ranks[c].sum()) - 0.5 * n_pos * (n_pos + 1)
        pairs += n_pos * n_neg
    return wins, pairs


def within_strata_auroc(score: np.ndarray, is_id: np.ndarray, strata: np.ndarray) -> float:
    """P(ID query outscores OOD query | same stratum), ties one half.

    Args: score (n,), is_id (n,) bool, strata (n,) integer labels.
    Returns: the pooled within-stratum AUROC. Raises ValueError if no stratum holds
    both classes.
    """
    wins, pairs = _pair_counts(np.asarray(score, float), np.asarray(is_id, bool), strata)
    if pairs == 0:
        raise ValueError("no stratum holds both ID and OOD queries")
    return wins / pairs


def matched_indices(is_id: np.ndarray, strata: np.ndarray, seed: int = 0) -> np.ndarray:
    """Rows of a length-matched sample: in every stratum min(n_id, n_ood) queries of
    each class, drawn without replacement by `numpy.random.default_rng(seed)`.

    Returns: sorted int64 row indices; both classes have the same count in every
    stratum, so the same piece-count distribution.
    """
    is_id = np.asarray(is_id, bool)
    rng = np.random.default_rng(seed)
    keep = []
    for s in np.unique(strata):
        ids = np.flatnonzero((strata == s) & is_id)
        ood = np.flatnonzero((strata == s) & ~is_id)
        m = min(ids.size, ood.size)
        if m:
            keep += [rng.choice(ids, m, replace=False), rng.choice(ood, m, replace=False)]
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def _interval(value: float, lo: float | None, hi: float | None) -> dict:
    return {"value": value, "lo": lo, "hi": hi}


def _logistic(
    norm: np.ndarray, base: np.ndarray, is_id: np.ndarray, n_boot: int, seed: int
) -> dict:
    """Out-of-fold AUROC of logistic regression on the baselines, with and without the
    norm, and the paired bootstrap interval of the gain (fits are not redone)."""
    without = confidence.logistic_cv(base, is_id, seed=seed)
    with_norm = confidence.logistic_cv(np.column_stack([base, norm]), is_id, seed=seed)
    out = {}
    for key, p in (("without_norm", without), ("with_norm", with_norm)):
        lo, hi = confidence.auroc_bootstrap_ci(p, is_id, n_boot=n_boot, seed=seed)
        out[key] = _interval(confidence.auroc(p, is_id), lo, hi)

    def gain(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> float:
        return confidence.auroc(a, y) - confidence.auroc(b, y)

    lo, hi = confidence.bootstrap_ci(gain, with_norm, without, is_id, n_boot=n_boot, seed=seed)
    out["gain"] = _interval(gain(with_norm, without, is_id), lo, hi)
    return out


def _usable(base: Mapping[str, np.ndarray], rows: np.ndarray) -> list[str]:
    """Baselines that are not constant on `rows` (a constant one cannot be a feature)."""
    return [k for k, v in base.items() if np.ptp(v[rows]) > 0]


def analyse(
    scores: Mapping[str, np.ndarray],
    is_id: np.ndarray,
    pieces: np.ndarray,
    chars: np.ndarray,
    log_frequency: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Every OOD statistic of the module for one ID/OOD split.

    Args:
        scores: name -> (n,) confidence score, higher meaning "in distribution";
            must include "norm".
        is_id: (n,) bool, both classes present.
        pieces, chars, log_frequency: (n,) word pieces, characters and Zipf frequency of
            each query.
        n_boot, seed: bootstrap resamples; seed of resampling, matching and CV folds.

    Returns: a record with "n_id", "n_ood", "pieces" (mean per class and the share of
    single-piece queries), "raw" (`confidence.summarize` of the scores and baselines),
    "within_strata" (AUROC within piece strata, bootstrap interval), "strata" (per
    stratum: counts and AUROC of each score where both classes have >= 5 queries),
    "matched" (the summaries on the length-matched sample), "logistic" (baselines with
    and without the norm, on all queries and on the matched sample) and
    "norm_adds": the norm adds something once length and frequency are controlled,
    i.e. its within-strata AUROC interval excludes 0.5 *and* the logistic gain's
    interval on all queries lies above 0 with a gain of at least MIN_GAIN in AUROC
    (either alone can mislead: a norm that is a nonlinear function of length gains a
    little over the linear baselines, and a gain of 0.0002 over baselines that already
    score 0.999 is no use).
    """
    is_id = np.asarray(is_id, bool)
    if "norm" not in scores:
        raise ValueError("scores must include 'norm'")
    pieces = np.asarray(pieces, dtype=np.float64)
    strata = strata_of(pieces)
    base = baseline_scores(pieces, chars, log_frequency)
    everything = {**scores, **base}
    boot = {"n_boot": n_boot, "seed": seed}
    record: dict = {
        "n_id": int(is_id.sum()),
        "n_ood": int((~is_id).sum()),
        "orientation": "higher = in distribution; baselines: fewer word pieces, fewer "
        "characters, higher log frequency",
        "pieces": {
            "id_mean": float(pieces[is_id].mean()),
            "ood_mean": float(pieces[~is_id].mean()),
            "id_single": float(np.mean(pieces[is_id] == 1)),
            "ood_single": float(np.mean(pieces[~is_id] == 1)),
        },
        "raw": confidence.summarize(everything, is_id, **boot),
    }
    within = []
    for name, score in everything.items():
        score = np.asarray(score, dtype=np.float64)
        wins, pairs = _pair_counts(score, is_id, strata)
        entry = {"score": name, "pairs": int(pairs), "auroc": None, "lo": None, "hi": None}
        if pairs:
            entry["auroc"] = wins / pairs
            try:
                entry["lo"], entry["hi"] = confidence.bootstrap_ci(
                    within_strata_auroc, score, is_id, strata, **boot
                )
            except ValueError as error:
                entry["note"] = f"no bootstrap interval: {error}"
        within.append(entry)
    record["within_strata"] = within
    table = []
    for s in np.unique(strata):
        rows = strata == s
        n_id, n_ood = int(np.sum(is_id[rows])), int(np.sum(~is_id[rows]))
        row = {"pieces": f"{s}+" if s == CAP else str(s), "n_id": n_id, "n_ood": n_ood}
        if min(n_id, n_ood) >= _MIN_PER_CLASS:
            row["auroc"] = {k: confidence.auroc(v[rows], is_id[rows]) for k, v in scores.items()}
        table.append(row)
    record["strata"] = table
    rows = matched_indices(is_id, strata, seed)
    m = int(np.sum(is_id[rows]))
    record["matched"] = {"n_per_class": m}
    if m >= _MIN_PER_CLASS:
        matched = {k: np.asarray(v)[rows] for k, v in everything.items()}
        record["matched"]["scores"] = confidence.summarize(matched, is_id[rows], **boot)
    norm = np.asarray(scores["norm"], dtype=np.float64)
    logistic: dict = {}
    for part, sel in (("all", np.arange(is_id.size)), ("matched", rows)):
        if min(int(np.sum(is_id[sel])), int(np.sum(~is_id[sel]))) < 10:
            continue
        names = _usable(base, sel)
        if not names:
            continue
        features = np.column_stack([base[k][sel] for k in names])
        logistic[part] = {"features": names, **_logistic(norm[sel], features, is_id[sel], **boot)}
    record["logistic"] = logistic
    gain = logistic.get("all", {}).get("gain")
    inside = next(w for w in within if w["score"] == "norm")
    record["norm_adds"] = bool(
        gain
        and gain["lo"] is not None
        and gain["lo"] > 0
        and gain["value"] >= MIN_GAIN
        and inside["lo"] is not None
        and not inside["lo"] <= 0.5 <= inside["hi"]
    )
    return record
