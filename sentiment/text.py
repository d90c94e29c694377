"""Text preprocessing as close to the paper's as possible without downloads (SPEC §6).

The paper cleans links, HTML, punctuation and numbers, drops NLTK's English
stop words, lemmatises with NLTK's WordNet lemmatiser, builds a vocabulary by
frequency, and truncates or pads every review to 128 tokens with ``<PAD>``.
NLTK's data are downloads, so here:

* stop words: scikit-learn's ``ENGLISH_STOP_WORDS`` (318 words, shipped with
  the package; NLTK's list has 179). Both contain negations ("not", "no");
  ``keep_negations=True`` keeps those, as an improvement over the paper;
* lemmas: ``simplemma`` (its English data ship inside the package). It is a
  dictionary lemmatiser, like WordNet's, and has its own quirks (for example
  "worse" -> "wrong").

Vocabulary: ``<PAD>`` is id 0 (one trainable embedding shared by every pad),
``<UNK>`` is id 1, then words by decreasing frequency (ties alphabetical) with
at least ``min_count`` occurrences in the training texts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from dynamics.errors import InputError

__all__ = ["clean", "Preprocessor", "Vocabulary", "PAD", "UNK", "NEGATIONS", "TRUNCATIONS"]

PAD, UNK = "<PAD>", "<UNK>"
TRUNCATIONS = ("head", "tail")
NEGATIONS = frozenset({"not", "no", "nor", "never", "none", "nothing", "neither", "nobody", "nowhere",
                       "cannot", "without"})

_URL = re.compile(r"(https?://\S+|www\.\S+)")
_HTML = re.compile(r"<[^>]+>")
_NON_LETTERS = re.compile(r"[^a-z]+")


def clean(text: str) -> str:
    """Lower-case; remove links, HTML tags, punctuation and numbers (a single space between words)."""
    text = _HTML.sub(" ", _URL.sub(" ", text)).lower()
    return _NON_LETTERS.sub(" ", text.replace("'", "")).strip()


@dataclass(frozen=True)
class Preprocessor:
    """Cleaning, stop-word removal and lemmatisation (deterministic)."""

    lemmatize: bool = True
    keep_negations: bool = False

    def describe(self) -> dict:
        return {"stop_words": "sklearn.ENGLISH_STOP_WORDS", "lemmatizer": "simplemma" if self.lemmatize else None,
                "keep_negations": self.keep_negations}

    def _stop_words(self) -> frozenset[str]:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        words = frozenset(ENGLISH_STOP_WORDS)
        return words - NEGATIONS if self.keep_negations else words

    def tokens(self, texts: Iterable[str]) -> list[list[str]]:
        """Token lists of many texts (the lemma cache makes repeated words cheap)."""
        import simplemma

        stop = self._stop_words()
        cache: dict[str, str] = {}
        out = []
        for text in texts:
            words = []
            for word in clean(text).split():
                if word in stop or len(word) < 2:
                    continue
                if self.lemmatize:
                    lemma = cache.get(word)
                    if lemma is None:
                        lemma = cache[word] = simplemma.lemmatize(word, lang="en").lower()
                    word = lemma
                    if word in stop:
                        continue
                words.append(word)
            out.append(words)
        return out


class Vocabulary:
    """Words by frequency; ``<PAD>`` = 0, ``<UNK>`` = 1."""

    def __init__(self, words: Sequence[str]):
        if list(words[:2]) != [PAD, UNK]:
            raise InputError("a vocabulary starts with <PAD>, <UNK>")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_count: int = 2, max_size: int | None = None):
        counts = Counter(w for tokens in token_lists for w in tokens)
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if max_size is not None:
            ranked = ranked[: max(0, max_size - 2)]
        return cls([PAD, UNK] + ranked)

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, token_lists: Sequence[Sequence[str]], length: int = 128, truncate: str = "head") -> np.ndarray:
        """``(N, length)`` int64 ids, unknown words -> 1, padded with 0 at the end.

        A review longer than ``length`` keeps its first ``length`` tokens
        (``truncate="head"``, the paper's choice) or its last ones (``"tail"``:
        reviews tend to end with the verdict).
        """
        if truncate not in TRUNCATIONS:
            raise InputError(f"truncate must be one of {', '.join(TRUNCATIONS)}, got {truncate!r}")
        out = np.zeros((len(token_lists), length), dtype=np.int64)
        for r, tokens in enumerate(token_lists):
            kept = tokens[:length] if truncate == "head" else tokens[-length:] if length else []
            ids = [self.index.get(w, 1) for w in kept]
            out[r, : len(ids)] = ids
        return out

    def to_json(self) -> list[str]:
        return list(self.words)
