"""Real structure for the toy: common English nouns on their WordNet hypernym paths.

The data family "wordnet" trains the hierarchy toy (anchors are concepts, positives are
contexts of their subtree) on the structure the real-model probe measures, rather than
on a complete synthetic tree:

- Words: the probe's nouns (`normtheory.lexicon.vocabulary`, wordfreq order, rules 1-4),
  keeping a word only if its first noun sense is not already taken by a more frequent
  chosen word ("car" is kept, the later "auto" skipped), until `num_words` are chosen.
  Each word sits at its first (most frequent) noun sense.
- Path rule: from that synset, repeatedly take the *first listed* hypernym of the
  current synset (the first ``@`` or ``@i`` pointer of its data.noun line) until a
  synset without hypernyms (in WordNet 3.0, entity.n.01). One path per word, so the
  union of the paths is a tree whose nodes are the synsets on them. A word's synset is
  a leaf, or an inner node when another word's path passes through it ("animal" above
  "dog"). The path depth can exceed the probe's depth (the shortest hypernym path over
  all hypernyms).
- Node ids: node w < W is the synset of word w (words in vocabulary order, most frequent
  first); the word-less synsets follow, by increasing data.noun offset.
- Frequencies: a word node is drawn as an anchor with its wordfreq frequency (the real
  Zipf). A word-less synset is drawn, in mode "coupled", with the summed frequency of
  the words of its subtree; in mode "decoupled", with one flat frequency for all of
  them, chosen so that their total is the coupled total (both modes then give words the
  same share of anchors and differ only in how the rest is spread over the synsets).
- Positives: the contexts are the words. A node's positive is a word of its subtree
  (the word itself included), drawn with probability proportional to its frequency;
  a leaf word's positive is itself, as a leaf's is in `normtheory.data.hierarchy`.

Words are laid out in depth-first preorder (`WordTree.contexts`), so the words under
any node are one contiguous range and a positive is one inverse-CDF draw.

Everything here is NumPy prepared outside jit (and cached per vocabulary size and
WordNet folder), shared by every seed; only `sample_word_batch` runs inside the step.
WordNet 3.0 is read from /usr/share/wordnet or $NORMTHEORY_WORDNET by the probe's own
reader; wordfreq comes with the probe extra. A missing one raises `DataMissing` with
one line naming what to install.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from normtheory.config import ConfigError
from normtheory.lexicon import vocabulary, wordnet

__all__ = [
    "INSTALL_EXTRA",
    "INSTALL_WORDNET",
    "DataMissing",
    "Sampler",
    "Vocabulary",
    "WordTree",
    "anchor_probabilities",
    "build_word_tree",
    "hypernym_path",
    "load_vocabulary",
    "load_word_tree",
    "make_sampler",
    "sample_word_batch",
]

INSTALL_WORDNET = "apt-get install wordnet-base"
INSTALL_EXTRA = "pip install -e '.[probe]'"
_FREQUENCIES = "wordfreq"  # the module of the probe extra this data family needs


class DataMissing(FileNotFoundError):
    """WordNet or wordfreq is absent; the one-line message says what to install."""


@dataclasses.dataclass(frozen=True, eq=False)
class WordTree:
    """The words' hypernym paths as one tree (numpy arrays, read-only).

    W words, N >= W nodes, H the largest path depth:
    - words (W,) str, most frequent first; frequency (W,) float64 > 0, their wordfreq
      frequencies (occurrences per word of English text).
    - synsets (N,) int64: the data.noun offset of each node; node w < W is word w's.
    - parent (N,) int32 (-1 for the root); depth (N,) int32, the path depth (root 0).
    - ancestors (N, H + 1) int32: node ids on the path root .. node, padded with -1
      (the input of `normtheory.models.compositional`).
    - contexts (W,) int32: word ids in depth-first preorder (children by node id).
    - first_context, context_count (N,) int32: the words of node i's subtree are
      contexts[first_context[i] : first_context[i] + context_count[i]].
    - context_cdf (W + 1,) float64: 0, then the cumulative normalised frequency of
      the words in `contexts` order (last entry 1).
    """

    words: tuple[str, ...]
    frequency: np.ndarray
    synsets: np.ndarray
    parent: np.ndarray
    depth: np.ndarray
    ancestors: np.ndarray
    contexts: np.ndarray
    first_context: np.ndarray
    context_count: np.ndarray
    context_cdf: np.ndarray

    @property
    def num_words(self) -> int:
        """W, the number of words (the contexts)."""
        return len(self.words)

    @property
    def num_nodes(self) -> int:
        """N, the number of synsets on the words' paths."""
        return self.parent.shape[0]

    @property
    def is_word(self) -> np.ndarray:
        """(N,) bool: the node is a word's synset (node id < W)."""
        return np.arange(self.num_nodes) < self.num_words

    def subtree_mass(self) -> np.ndarray:
        """(N,) float64: the summed normalised frequency of the words under each node."""
        end = self.first_context + self.context_count
        return self.context_cdf[end] - self.context_cdf[self.first_context]


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def hypernym_path(synset: int, hypernyms: Mapping[int, Sequence[int]]) -> list[int]:
    """The synset and its first-listed-hypernym chain up to a root: [synset, ..., root].

    hypernyms maps an offset to its hypernym offsets in the order of the data.noun line
    (`normtheory.lexicon.wordnet.Synset.hypernyms`); a root has none. Raises ValueError
    on a cycle or an offset absent from `hypernyms`.
    """
    path = [synset]
    seen = {synset}
    while True:
        if path[-1] not in hypernyms:
            raise ValueError(f"synset {path[-1]} is not in the database")
        ups = hypernyms[path[-1]]
        if not ups:
            return path
        if ups[0] in seen:
            raise ValueError(f"hypernym cycle through synset {ups[0]}")
        seen.add(ups[0])
        path.append(ups[0])


def build_word_tree(
    words: Sequence[str],
    senses: Sequence[int],
    frequency: Sequence[float],
    hypernyms: Mapping[int, Sequence[int]],
) -> WordTree:
    """Place `words` at their synsets and join their first-hypernym paths into one tree.

    Args:
        words: (W,) distinct words, in the order that becomes their node ids.
        senses: (W,) the synset offset of each word (its first noun sense), distinct.
        frequency: (W,) positive frequencies of the words.
        hypernyms: offset -> hypernym offsets in listed order (see `hypernym_path`).

    Returns:
        The `WordTree` (see the module docstring for the rules).

    Raises ValueError for repeated words or synsets, a non-positive frequency, or paths
    that end at more than one root.
    """
    words = tuple(words)
    senses = [int(s) for s in senses]
    freq = np.asarray(frequency, dtype=np.float64)
    if len(words) < 1 or len(senses) != len(words) or freq.shape != (len(words),):
        raise ValueError("words, senses and frequency must be non-empty and of one length")
    if len(set(words)) != len(words) or len(set(senses)) != len(senses):
        raise ValueError("words and their synsets must be distinct (one word per synset)")
    if not np.all(np.isfinite(freq) & (freq > 0)):
        raise ValueError("every word frequency must be finite and > 0")
    paths = [hypernym_path(s, hypernyms) for s in senses]
    roots = {path[-1] for path in paths}
    if len(roots) != 1:
        raise ValueError(f"the words' paths end at {len(roots)} roots {sorted(roots)}; need one")
    wordless = sorted({s for path in paths for s in path} - set(senses))
    synsets = np.asarray(senses + wordless, dtype=np.int64)
    node = {s: i for i, s in enumerate(synsets.tolist())}
    n = len(synsets)
    parent = np.full(n, -1, dtype=np.int64)
    for path in paths:
        for child, up in itertools.pairwise(path):
            parent[node[child]] = node[up]
    chains = []
    for i in range(n):
        chain = [i]
        while parent[chain[-1]] >= 0:
            chain.append(int(parent[chain[-1]]))
        chains.append(chain[::-1])
    height = max(len(c) for c in chains) - 1
    ancestors = np.full((n, height + 1), -1, dtype=np.int64)
    for i, chain in enumerate(chains):
        ancestors[i, : len(chain)] = chain
    depth = np.array([len(c) - 1 for c in chains], dtype=np.int64)

    children: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        if parent[i] >= 0:
            children[parent[i]].append(i)
    root = node[roots.pop()]
    contexts: list[int] = []
    first = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    stack: list[tuple[int, bool]] = [(root, False)]
    while stack:  # iterative preorder; a node's count is closed on its second visit
        i, done = stack.pop()
        if done:
            count[i] = len(contexts) - first[i]
            continue
        first[i] = len(contexts)
        if i < len(words):
            contexts.append(i)
        stack.append((i, True))
        stack.extend((c, False) for c in sorted(children[i], reverse=True))
    order = np.asarray(contexts, dtype=np.int64)
    cdf = np.concatenate([[0.0], np.cumsum(freq[order])])
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return WordTree(
        words=words,
        frequency=_frozen(freq.copy()),
        synsets=_frozen(synsets),
        parent=_frozen(parent.astype(np.int32)),
        depth=_frozen(depth.astype(np.int32)),
        ancestors=_frozen(ancestors.astype(np.int32)),
        contexts=_frozen(order.astype(np.int32)),
        first_context=_frozen(first.astype(np.int32)),
        context_count=_frozen(count.astype(np.int32)),
        context_cdf=_frozen(cdf),
    )


def anchor_probabilities(tree: WordTree, mode: str) -> np.ndarray:
    """Anchor probability of every node, (N,) float64, summing to 1.

    A word node has its word's frequency. A word-less synset has, under "coupled", the
    summed frequency of the words of its subtree; under "decoupled", the mean of those
    sums over the word-less synsets (one flat value, the same total mass).
    """
    if mode not in ("coupled", "decoupled"):
        raise ValueError(f"mode must be 'coupled' or 'decoupled', got {mode!r}")
    words = tree.frequency / tree.frequency.sum()
    summed = tree.subtree_mass()[tree.num_words :]
    rest = summed if mode == "coupled" else np.full_like(summed, summed.mean())
    weights = np.concatenate([words, rest])
    return weights / weights.sum()


class Sampler(NamedTuple):
    """The arrays a batch is drawn from (a pytree of jax arrays in the run's dtype).

    anchor_cdf (N,): cumulative anchor probabilities; first_context, context_count (N,)
    int32; context_cdf (W + 1,); contexts (W,) int32 (see `WordTree`).
    """

    anchor_cdf: jax.Array
    first_context: jax.Array
    context_count: jax.Array
    context_cdf: jax.Array
    contexts: jax.Array


def make_sampler(tree: WordTree, probs: np.ndarray, dtype: Any) -> Sampler:
    """The `Sampler` of `tree` with anchor probabilities probs (N,); cumulative sums are
    taken in float64 and then cast to `dtype`."""
    anchor_cdf = np.cumsum(np.asarray(probs, dtype=np.float64))
    return Sampler(
        anchor_cdf=jnp.asarray(anchor_cdf / anchor_cdf[-1], dtype=dtype),
        first_context=jnp.asarray(tree.first_context),
        context_count=jnp.asarray(tree.context_count),
        context_cdf=jnp.asarray(tree.context_cdf, dtype=dtype),
        contexts=jnp.asarray(tree.contexts),
    )


def sample_word_batch(key: jax.Array, sampler: Sampler, batch: int) -> tuple[jax.Array, jax.Array]:
    """Draw B anchors and, for each, a positive word of its subtree (frequency-weighted).

    Returns (anchor node ids (B,), positive word ids (B,)), both int32; word w is node w.
    Jit-compatible with `batch` static.
    """
    k_anchor, k_positive = jax.random.split(key)
    cdf = sampler.anchor_cdf
    u = jax.random.uniform(k_anchor, (batch,), dtype=cdf.dtype)
    anchors = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), cdf.shape[0] - 1)
    start = sampler.first_context[anchors]
    stop = start + sampler.context_count[anchors]
    lo, hi = sampler.context_cdf[start], sampler.context_cdf[stop]
    v = jax.random.uniform(k_positive, (batch,), dtype=cdf.dtype)
    at = jnp.searchsorted(sampler.context_cdf, lo + v * (hi - lo), side="right") - 1
    at = jnp.clip(at, start, stop - 1)  # rounding can step just outside the range
    return anchors.astype(jnp.int32), sampler.contexts[at].astype(jnp.int32)


@dataclasses.dataclass(frozen=True, eq=False)
class Vocabulary:
    """The chosen words, their first noun senses and wordfreq frequencies (W,), and the
    WordNet noun database they come from (`normtheory.lexicon.wordnet.NounDatabase`)."""

    words: tuple[str, ...]
    senses: tuple[int, ...]
    frequency: np.ndarray
    database: Any


def _wordnet_folder(directory: Path | str | None) -> Path:
    return wordnet.wordnet_dir(directory).resolve()


@functools.lru_cache(maxsize=4)
def _database(folder: Path) -> Any:
    try:
        return wordnet.load(folder)
    except wordnet.WordNetMissing as error:
        raise DataMissing(
            f"data='wordnet' needs the WordNet 3.0 noun database in {folder}: "
            f"{INSTALL_WORDNET} (or set ${wordnet.ENV_VAR} to its folder)"
        ) from error


def _require_wordfreq() -> None:
    if importlib.util.find_spec(_FREQUENCIES) is None:
        raise DataMissing(f"data='wordnet' needs wordfreq (the probe extra): {INSTALL_EXTRA}")


@functools.lru_cache(maxsize=8)
def _vocabulary(num_words: int, folder: Path) -> Vocabulary:
    from wordfreq import word_frequency  # the probe extra, checked by _require_wordfreq

    db = _database(folder)
    other = {pos: wordnet.load_pos_index(folder, pos) for pos in vocabulary.OTHER_POS}
    ranked = vocabulary.ranked_english_words()
    want = num_words + num_words // 5 + 10
    while True:
        nouns = vocabulary.choose_nouns(ranked, want, db, other)
        words, senses = [], []
        taken: set[int] = set()
        for word in nouns:
            sense = db.senses[word][0]
            if sense not in taken:
                taken.add(sense)
                words.append(word)
                senses.append(sense)
            if len(words) == num_words:
                break
        if len(words) == num_words:
            break
        if len(nouns) < want:
            raise ConfigError(
                f"num_items={num_words}: only {len(words)} nouns with distinct first senses "
                "pass the probe's vocabulary rules"
            )
        want *= 2
    frequency = np.array([word_frequency(w, "en") for w in words], dtype=np.float64)
    return Vocabulary(tuple(words), tuple(senses), _frozen(frequency), db)


def load_vocabulary(num_words: int, directory: Path | str | None = None) -> Vocabulary:
    """The `num_words` most frequent probe nouns with distinct first noun senses.

    Args:
        num_words: W >= 1.
        directory: WordNet folder (default $NORMTHEORY_WORDNET, else /usr/share/wordnet).

    Returns:
        The `Vocabulary` (cached per size and folder).

    Raises DataMissing (WordNet or wordfreq absent) and ConfigError (not enough nouns).
    """
    _require_wordfreq()
    return _vocabulary(int(num_words), _wordnet_folder(directory))


@functools.lru_cache(maxsize=8)
def _tree(num_words: int, folder: Path) -> WordTree:
    vocab = _vocabulary(num_words, folder)
    hypernyms = {o: s.hypernyms for o, s in vocab.database.synsets.items()}
    return build_word_tree(vocab.words, vocab.senses, vocab.frequency, hypernyms)


def load_word_tree(num_words: int, directory: Path | str | None = None) -> WordTree:
    """The `WordTree` of `load_vocabulary(num_words, directory)` (cached)."""
    _require_wordfreq()
    return _tree(int(num_words), _wordnet_folder(directory))
