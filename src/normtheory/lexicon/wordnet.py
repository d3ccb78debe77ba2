"""A small reader of the WordNet 3.0 noun database (no nltk).

Reads the plain-text files `index.noun` and `data.noun` (and the lemma / tag-sense
columns of `index.verb`, `index.adj`, `index.adv`) in the format of the WordNet manual
page wndb(5WN) (Princeton University, "WordNet 3.0 file formats", 2006; Miller,
Commun. ACM 38(11), 1995; Fellbaum (ed.), WordNet, MIT Press 1998):

- index line: ``lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt
  synset_offset [synset_offset...]``; offsets are in sense order, most frequent first;
- data line: ``synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...]
  p_cnt [ptr...] | gloss`` with w_cnt two hex digits, lex_id one hex digit, p_cnt three
  decimal digits and each pointer ``symbol offset pos source/target``.

Header lines (licence) begin with two spaces and are skipped. Only the relations the
probe needs are kept: hypernym ``@`` and instance hypernym ``@i`` (upwards), hyponym
``~`` and instance hyponym ``~i`` (downwards), all to other noun synsets.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_DIR",
    "DETACHMENT",
    "ENV_VAR",
    "NounDatabase",
    "PosIndex",
    "Synset",
    "WordNetMissing",
    "base_forms",
    "closure",
    "definition",
    "depth",
    "generality",
    "hypernym_pairs",
    "load",
    "load_pos_index",
    "wordnet_dir",
]

DEFAULT_DIR = Path("/usr/share/wordnet")
ENV_VAR = "NORMTHEORY_WORDNET"
_UP = frozenset({"@", "@i"})
_DOWN = frozenset({"~", "~i"})
_QUOTED = re.compile(r'"[^"]*"')

# Morphy's rules of detachment, morphy(7WN): (suffix, ending) per part of speech.
DETACHMENT: dict[str, tuple[tuple[str, str], ...]] = {
    "noun": (
        ("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"),
        ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y"),
    ),
    "verb": (
        ("s", ""), ("ies", "y"), ("es", "e"), ("es", ""),
        ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""),
    ),
    "adj": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "adv": (),
}  # fmt: skip


class WordNetMissing(FileNotFoundError):
    """The WordNet 3.0 noun database is absent or cannot be parsed; says what to install."""


@dataclass(frozen=True)
class Synset:
    """One noun synset: its byte offset in data.noun, lexicographer file number, words
    (as written, case kept), direct hypernyms (@ and @i) and hyponyms (~ and ~i) as
    offsets, and the raw gloss text."""

    offset: int
    lex_filenum: int
    words: tuple[str, ...]
    hypernyms: tuple[int, ...]
    hyponyms: tuple[int, ...]
    gloss: str


@dataclass(frozen=True)
class NounDatabase:
    """The noun part of WordNet: synsets by offset, each lemma's synsets in sense order
    (index.noun), the noun tag-sense count of each lemma, and the noun exception list
    (noun.exc: inflected form -> base forms; empty if the file is absent)."""

    path: Path
    synsets: Mapping[int, Synset]
    senses: Mapping[str, tuple[int, ...]]
    tagsense: Mapping[str, int]
    exceptions: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class PosIndex:
    """The lemmas of one part of speech with their tag-sense counts (index.<pos>) and
    its exception list (<pos>.exc); both empty where the files are absent."""

    tagsense: Mapping[str, int]
    exceptions: Mapping[str, tuple[str, ...]]


def wordnet_dir(directory: Path | str | None = None) -> Path:
    """The database folder: `directory`, else $NORMTHEORY_WORDNET, else /usr/share/wordnet."""
    if directory is not None:
        return Path(directory)
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)


def _missing(directory: Path, detail: str) -> WordNetMissing:
    return WordNetMissing(
        f"WordNet 3.0 database not found in {directory}: install Debian's wordnet-base "
        f"(apt-get install wordnet-base) or pass --wordnet DIR ({detail})"
    )


def _content_lines(path: Path) -> Iterable[str]:
    with path.open(encoding="latin-1") as handle:
        for line in handle:
            if line.startswith("  ") or not line.strip():
                continue
            yield line.rstrip("\n")


def _parse_index_line(line: str) -> tuple[str, int, tuple[int, ...]]:
    fields = line.split()
    p_cnt = int(fields[3])
    tagsense = int(fields[5 + p_cnt])
    offsets = tuple(int(f) for f in fields[6 + p_cnt :])
    if len(offsets) != int(fields[2]):
        raise ValueError(f"synset_cnt {fields[2]} but {len(offsets)} offsets")
    return fields[0], tagsense, offsets


def _parse_data_line(line: str) -> Synset:
    head, _, gloss = line.partition("|")
    fields = head.split()
    w_cnt = int(fields[3], 16)
    words = tuple(fields[4 + 2 * i] for i in range(w_cnt))
    at = 4 + 2 * w_cnt
    p_cnt = int(fields[at])
    up, down = [], []
    for i in range(p_cnt):
        symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
        if pos != "n":
            continue
        if symbol in _UP:
            up.append(int(target))
        elif symbol in _DOWN:
            down.append(int(target))
    return Synset(int(fields[0]), int(fields[1]), words, tuple(up), tuple(down), gloss.strip())


def load(directory: Path | str | None = None) -> NounDatabase:
    """Parse index.noun and data.noun in `directory` (see `wordnet_dir`).

    Raises WordNetMissing, naming the package to install, if a file is absent,
    unreadable or not in the wndb(5WN) format.
    """
    root = wordnet_dir(directory)
    current = root / "index.noun"
    try:
        senses, tagsense = {}, {}
        for line in _content_lines(current):
            lemma, tags, offsets = _parse_index_line(line)
            senses[lemma] = offsets
            tagsense[lemma] = tags
        current = root / "data.noun"
        synsets = {}
        for line in _content_lines(current):
            synset = _parse_data_line(line)
            synsets[synset.offset] = synset
    except OSError as error:
        raise _missing(root, f"{current.name}: {error.strerror or error}") from error
    except (ValueError, IndexError) as error:
        raise _missing(root, f"{current.name} is not in the wndb(5WN) format: {error}") from error
    if not synsets or not senses:
        raise _missing(root, "index.noun or data.noun is empty")
    dangling = next((o for s in senses.values() for o in s if o not in synsets), None)
    if dangling is not None:
        raise _missing(root, f"index.noun points to offset {dangling} absent from data.noun")
    return NounDatabase(root, synsets, senses, tagsense, _exceptions(root / "noun.exc"))


def _exceptions(path: Path) -> dict[str, tuple[str, ...]]:
    if not path.exists():
        return {}
    table = {}
    for line in _content_lines(path):
        inflected, *bases = line.split()
        table[inflected] = tuple(bases)
    return table


def load_pos_index(directory: Path | str | None, pos: str) -> PosIndex:
    """Tag-sense counts (lemma -> tagsense_cnt, senses seen in the semantic
    concordances) of index.<pos> and the exceptions of <pos>.exc, pos one of noun, verb,
    adj, adv. Missing files give empty mappings."""
    root = wordnet_dir(directory)
    counts = {}
    if (root / f"index.{pos}").exists():
        for line in _content_lines(root / f"index.{pos}"):
            lemma, tags, _ = _parse_index_line(line)
            counts[lemma] = tags
    return PosIndex(counts, _exceptions(root / f"{pos}.exc"))


def base_forms(
    word: str, pos: str, lemmas: Container[str], exceptions: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """Every lemma of `pos` that `word` can be an inflection of, in the manner of Morphy
    (morphy(7WN)): the word itself, its exception-list bases and the results of the rules
    of detachment, each kept only if it is in `lemmas`. Unlike Morphy, which stops at the
    exception list when the word is there, both sources are used. In order, no repeats."""
    candidates = [word, *exceptions.get(word, ())]
    for suffix, ending in DETACHMENT[pos]:
        if word.endswith(suffix):
            candidates.append(word[: len(word) - len(suffix)] + ending)
    return tuple(dict.fromkeys(c for c in candidates if c and c in lemmas))


def depth(db: NounDatabase, offset: int) -> int:
    """Shortest number of hypernym links (@ or @i) from the synset up to a root (a synset
    with no hypernym; in WordNet 3.0 the only noun root is entity.n.01, depth 0)."""
    seen = {offset}
    frontier = deque([(offset, 0)])
    while frontier:
        current, d = frontier.popleft()
        ups = db.synsets[current].hypernyms
        if not ups:
            return d
        for up in ups:
            if up not in seen:
                seen.add(up)
                frontier.append((up, d + 1))
    raise ValueError(f"synset {offset} has no path to a root (hypernym cycle)")


def closure(db: NounDatabase, offset: int, links: str) -> frozenset[int]:
    """The synset and every synset reachable from it along `links` ("hypernyms": @ and @i,
    upward; "hyponyms": ~ and ~i, downward), each counted once."""
    if links not in ("hypernyms", "hyponyms"):
        raise ValueError(f"links={links!r}: expected 'hypernyms' or 'hyponyms'")
    seen = {offset}
    stack = [offset]
    while stack:
        for nxt in getattr(db.synsets[stack.pop()], links):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return frozenset(seen)


def generality(db: NounDatabase, offset: int) -> int:
    """Number of distinct synsets below this one: the transitive closure of hyponym and
    instance-hyponym links (~, ~i), the synset itself not counted."""
    return len(closure(db, offset, "hyponyms")) - 1


def definition(gloss: str) -> str:
    """The definition part of a gloss: the text before the first ';' with quoted example
    sentences removed. A gloss made only of examples (rare) gives the first segment that
    still has text once quotes are removed, else the empty string."""
    for segment in gloss.split(";"):
        text = " ".join(_QUOTED.sub(" ", segment).split())
        if text:
            return text
    return ""


def hypernym_pairs(db: NounDatabase, words: Iterable[str]) -> list[tuple[str, str]]:
    """(hypernym word, hyponym word) pairs among `words` by first senses: the first noun
    sense of the hypernym word is a direct hypernym (@ or @i) of the first noun sense of
    the hyponym word. Words sharing a first sense (synonyms) do not pair. Sorted."""
    words = list(words)
    by_first: dict[int, list[str]] = {}
    for word in words:
        by_first.setdefault(db.senses[word][0], []).append(word)
    pairs = set()
    for word in words:
        for up in db.synsets[db.senses[word][0]].hypernyms:
            for general in by_first.get(up, ()):
                pairs.add((general, word))
    return sorted(pairs)
