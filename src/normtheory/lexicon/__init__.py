"""English nouns and WordNet 3.0, read without nltk, for whatever needs them.

`wordnet` reads the WordNet 3.0 noun database (and the other parts of speech' index
files); `vocabulary` chooses common English nouns in wordfreq's frequency order. The
real-model probe (`normtheory.probe`), the toy bridge (`normtheory.bridge`) and the
WordNet data family (`normtheory.data.wordnet`) all read their words and trees here, so
the toy and the real model see the same nouns. Below `data` in the import layers: it
imports nothing else of normtheory.
"""
