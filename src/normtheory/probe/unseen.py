"""Which queries are out of distribution: unseen kinds of noun and held-out concepts.

Two ways to leave the distribution of a vocabulary of common nouns (`vocabulary`):

- unseen kinds (`choose_unseen`): rarer nouns, the most frequent words that pass the
  vocabulary rules 1-4 among words of Zipf frequency below `RARE_ZIPF` (fewer than one
  occurrence per million words); and multi-word lemmas of WordNet, lemmas of
  index.noun made of lower-case ASCII words joined by "_" whose first noun sense lists
  them in lower case, most attested first (tag-sense count, then wordfreq's frequency
  of the phrase, then the lemma). These differ from the vocabulary in kind *and* in
  length: most have several word pieces.
- held-out concepts (`held_out_subtrees`): whole WordNet subtrees of the vocabulary
  itself, withheld from a retrieval gallery, so their queries are common nouns of the
  same kind (mostly one word piece) whose concept, and every concept under it, is
  missing from the gallery.

Every chosen query has a first noun sense that no other query has.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

import numpy as np

from normtheory.lexicon import vocabulary, wordnet

__all__ = ["RARE_ZIPF", "ancestors", "choose_unseen", "held_out_subtrees"]

RARE_ZIPF = 3.0


def choose_unseen(
    db: wordnet.NounDatabase, taken: Container[int], n_rare: int, n_multi: int
) -> tuple[list[str], list[str]]:
    """(rare nouns, multi-word lemmas with "_"), at most n_rare and n_multi, whose first
    noun senses are not in `taken` (nor shared with each other), by the module's rules.
    Needs wordfreq (the probe extra)."""
    from wordfreq import word_frequency, zipf_frequency

    used = set()
    other = {pos: wordnet.load_pos_index(db.path, pos) for pos in vocabulary.OTHER_POS}
    ranked = vocabulary.ranked_english_words()
    rare_pool = (w for w in ranked if zipf_frequency(w, "en") < RARE_ZIPF)
    rare = []
    for word in vocabulary.choose_nouns(rare_pool, 4 * n_rare + 50, db, other):
        sense = db.senses[word][0]
        if sense not in taken and sense not in used and len(rare) < n_rare:
            used.add(sense)
            rare.append(word)

    def plain_multiword(lemma: str) -> bool:
        parts = lemma.split("_")
        return (
            len(parts) >= 2
            and all(p.isascii() and p.isalpha() and p.islower() for p in parts)
            and lemma in db.synsets[db.senses[lemma][0]].words
        )

    candidates = [lemma for lemma in db.senses if plain_multiword(lemma)]
    candidates.sort(key=lambda m: (-db.tagsense[m], -word_frequency(m.replace("_", " "), "en"), m))
    multi: list[str] = []
    for lemma in candidates:
        if len(multi) == n_multi:
            break
        sense = db.senses[lemma][0]
        if sense not in taken and sense not in used:
            used.add(sense)
            multi.append(lemma)
    return rare, multi


def ancestors(db: wordnet.NounDatabase, offset: int) -> frozenset[int]:
    """The synset and every synset above it along any hypernym link (@, @i)."""
    return wordnet.closure(db, offset, "hypernyms")


def held_out_subtrees(
    db: wordnet.NounDatabase,
    words: Sequence[str],
    fraction: float = 0.2,
    *,
    min_size: int = 3,
    max_size: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, list[int]]:
    """Withhold whole WordNet subtrees of the vocabulary, about `fraction` of its words.

    A candidate root is any synset above (or at) some word's first noun sense with
    between `min_size` and `max_size` (default max(min_size, len(words) // 50)) words of
    `words` at or below it. Candidates are visited in a random order
    (`numpy.random.default_rng(seed)`); one is taken if none of its words is held out
    already, until at least fraction * len(words) words are held out or the candidates
    run out. Words sharing a first sense are always on the same side.

    Returns: (held (len(words),) bool, the chosen root offsets in the order taken).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    n = len(words)
    max_size = max(min_size, n // 50) if max_size is None else max_size
    under: dict[int, list[int]] = {}
    for i, word in enumerate(words):
        for a in ancestors(db, db.senses[word][0]):
            under.setdefault(a, []).append(i)
    roots = sorted(a for a, rows in under.items() if min_size <= len(rows) <= max_size)
    order = np.random.default_rng(seed).permutation(len(roots))
    held = np.zeros(n, dtype=bool)
    chosen = []
    for k in order:
        if held.sum() >= fraction * n:
            break
        rows = under[roots[k]]
        if not held[rows].any():
            held[rows] = True
            chosen.append(roots[k])
    return held, chosen
