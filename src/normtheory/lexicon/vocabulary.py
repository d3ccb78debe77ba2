"""The vocabulary of the probe and of the WordNet toys: common English nouns in frequency order.

Words come from wordfreq's English list, most frequent first (Speer, "wordfreq",
Zenodo 10.5281/zenodo.7199437, 2022). `choose_nouns` keeps a word when

1. it is a plain word: lower-case ASCII letters only, at least 3 of them;
2. it is a WordNet noun (a lemma of index.noun) and its first (most frequent) noun
   sense lists it in lower case, so the sense is a common noun and not a name or an
   acronym ("may" is May, "us" is the US: both dropped);
3. it is not an inflected form of another noun: no other lemma of index.noun is a base
   form of it by Morphy's exception list and rules of detachment (morphy(7WN)), so
   "years" (year), "men" (man) and "things" (thing) are dropped, "news" is kept;
4. its noun use dominates: the noun tag-sense count of index.noun (how many senses are
   attested in the semantic concordances, wndb(5WN)) is at least the tag-sense count of
   every verb, adjective and adverb lemma it can be a form of (the word itself or a
   Morphy base form; 0 where there is none). "going" (verb go), "are" (verb be) and
   "best" (adjective good) are dropped; ties keep the word ("dog": 1 noun, 1 verb).

Rule 4 compares counts of attested senses, not usage counts, so a few mostly-noun words
with many verb senses are dropped ("meeting": 4 noun senses, 10 for the verb meet) and a
few function words with a rare noun sense pass ("why", "while").

Without WordNet, `frequency_words` keeps rule 1 only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from normtheory.lexicon.wordnet import NounDatabase, PosIndex, base_forms

__all__ = [
    "OTHER_POS",
    "choose_nouns",
    "frequency_words",
    "is_plain_word",
    "noun_dominates",
    "ranked_english_words",
]

OTHER_POS = ("verb", "adj", "adv")


def is_plain_word(word: str) -> bool:
    """Rule 1: lower-case ASCII letters only, length >= 3."""
    return len(word) >= 3 and word.isascii() and word.isalpha() and word.islower()


def noun_dominates(word: str, db: NounDatabase, other: Mapping[str, PosIndex]) -> bool:
    """Rules 2-4 for a plain word. `other` maps a part of speech (verb, adj, adv) to its
    index (`wordnet.load_pos_index`)."""
    senses = db.senses.get(word)
    if not senses or word not in db.synsets[senses[0]].words:
        return False
    if base_forms(word, "noun", db.senses, db.exceptions) != (word,):
        return False
    noun = db.tagsense[word]
    for pos, index in other.items():
        for base in base_forms(word, pos, index.tagsense, index.exceptions):
            if index.tagsense[base] > noun:
                return False
    return True


def choose_nouns(
    ranked: Iterable[str], n: int, db: NounDatabase, other: Mapping[str, PosIndex]
) -> list[str]:
    """The first `n` words of `ranked` (most frequent first) that pass rules 1-4.

    Returns fewer than n only if `ranked` runs out; duplicates are skipped."""
    chosen: list[str] = []
    seen = set()
    for word in ranked:
        if len(chosen) == n:
            break
        if word in seen or not is_plain_word(word):
            continue
        seen.add(word)
        if noun_dominates(word, db, other):
            chosen.append(word)
    return chosen


def frequency_words(ranked: Iterable[str], n: int) -> list[str]:
    """The first `n` distinct plain words (rule 1 only): the vocabulary without WordNet."""
    chosen: list[str] = []
    seen = set()
    for word in ranked:
        if len(chosen) == n:
            break
        if is_plain_word(word) and word not in seen:
            seen.add(word)
            chosen.append(word)
    return chosen


def ranked_english_words() -> list[str]:
    """wordfreq's whole English word list, most frequent first (needs the probe extra)."""
    from wordfreq import top_n_list

    return top_n_list("en", 10**6)
