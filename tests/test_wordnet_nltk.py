"""normtheory.lexicon.wordnet against nltk's WordNet reader on the system's WordNet 3.0.

We keep our own small reader so the probe does not depend on nltk; this test checks it
against nltk's reader on a few thousand random nouns of Debian's wordnet-base files
(/usr/share/wordnet, or $NORMTHEORY_WORDNET): the sense order of each lemma (so the
first sense), the words, lexicographer file, direct hypernyms and hyponyms of the first
sense, its depth (shortest hypernym path to the root) and the size of its hyponym
closure.

nltk expects a corpus folder with two files Debian does not ship: `lexnames` (written
here from the table of lexnames(5WN)) and `index.sense` (needed only to map sense keys
between WordNet versions; an empty one is enough). The folder holds copies of Debian's
files, not symlinks: nltk's path sandbox (nltk.pathsec) resolves links and refuses a
file outside the corpus folder.

Skips when the database or nltk (the `test` extra) is absent, and fails instead when
NORMTHEORY_REQUIRE_PROBE=1, as tests/test_probe.py does.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from normtheory.lexicon import wordnet

REQUIRED = os.environ.get("NORMTHEORY_REQUIRE_PROBE") == "1"
N_NOUNS = 3000

# lexnames(5WN): lexicographer file number -> name; the third column is the part of speech.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute"
    " noun.body noun.cognition noun.communication noun.event noun.feeling noun.food"
    " noun.group noun.location noun.motive noun.object noun.person noun.phenomenon"
    " noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape"
    " noun.state noun.substance noun.time verb.body verb.change verb.cognition"
    " verb.communication verb.competition verb.consumption verb.contact verb.creation"
    " verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative"
    " verb.weather adj.ppl"
).split()
POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
# What nltk's reader opens; lexnames and index.sense are generated instead.
DEBIAN_FILES = [
    f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")
] + [f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")]


def require(available: bool, reason: str) -> None:
    """Skip when `available` is false, or fail if NORMTHEORY_REQUIRE_PROBE=1."""
    if available:
        return
    if REQUIRED:
        pytest.fail(f"NORMTHEORY_REQUIRE_PROBE=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def system_wordnet() -> Path:
    path = wordnet.wordnet_dir()
    require((path / "data.noun").exists(), f"no WordNet in {path}: apt-get install wordnet-base")
    return path


@pytest.fixture(scope="module")
def nltk_reader(system_wordnet: Path, tmp_path_factory):
    require(importlib.util.find_spec("nltk") is not None, "nltk missing: pip install -e '.[test]'")
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    data = tmp_path_factory.mktemp("nltk_data")
    corpus = data / "corpora" / "wordnet"
    corpus.mkdir(parents=True)
    for name in DEBIAN_FILES:
        shutil.copyfile(system_wordnet / name, corpus / name)
    (corpus / "lexnames").write_text(
        "".join(
            f"{i:02d}\t{name}\t{POS_NUMBER[name.split('.')[0]]}\n"
            for i, name in enumerate(LEXNAMES)
        )
    )
    (corpus / "index.sense").write_text("")
    # nltk reads only below its data path; the version mapping looks up "wordnet" there.
    nltk.data.path.insert(0, str(data))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The multilingual functions")
            reader = WordNetCorpusReader(str(corpus), None)
        yield reader
    finally:
        nltk.data.path.remove(str(data))


def test_reader_agrees_with_nltk_on_random_nouns(system_wordnet: Path, nltk_reader) -> None:
    db = wordnet.load(system_wordnet)
    lemmas = sorted(db.senses)
    rng = np.random.default_rng(0)
    sample = [lemmas[i] for i in rng.choice(len(lemmas), size=N_NOUNS, replace=False)]

    def down(synset):
        return synset.hyponyms() + synset.instance_hyponyms()

    mismatches = []
    depths, sizes = [], []
    for lemma in sample:
        ours = db.senses[lemma]
        # check_exceptions=False: the lemma's own senses first, in index.noun's order
        theirs = nltk_reader.synsets(lemma, "n", check_exceptions=False)[: len(ours)]
        if tuple(s.offset() for s in theirs) != ours:
            mismatches.append((lemma, "senses", ours, [s.offset() for s in theirs]))
            continue
        first, synset = theirs[0], db.synsets[ours[0]]
        up = {s.offset() for s in first.hypernyms() + first.instance_hypernyms()}
        depth = wordnet.depth(db, synset.offset)
        size = wordnet.generality(db, synset.offset)
        checks = {
            "words": (synset.words, tuple(first.lemma_names())),
            "lexname": (LEXNAMES[synset.lex_filenum], first.lexname()),
            "hypernyms": (set(synset.hypernyms), up),
            "hyponyms": (set(synset.hyponyms), {s.offset() for s in down(first)}),
            "depth": (depth, first.min_depth()),
            "generality": (size, len(set(first.closure(down)))),
        }
        mismatches += [(lemma, key, a, b) for key, (a, b) in checks.items() if a != b]
        depths.append(depth)
        sizes.append(size)
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:5]}"
    # the sample reaches deep synsets and synsets with large closures, not only leaves
    assert len(depths) == N_NOUNS and max(depths) >= 12 and max(sizes) >= 100
