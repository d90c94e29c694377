"""Encoded reviews with an on-disk cache, so a second run starts in seconds.

The cache holds ``encoded.npz`` (token ids and labels; NumPy arrays, no
pickles) and ``vocab.json`` under a key derived from the data files (path,
size, modification time), the preprocessing options and the vocabulary
parameters. Files are written atomically. A cache entry that cannot be read
or does not hold what it should (a truncated or garbage ``encoded.npz``, a
bad ``vocab.json``, arrays of the wrong shape) is reported in one line on
stderr and rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from dynamics.cli import write_atomic

from .data import HUB_NAME, check_data_dir, load_imdb
from .text import Preprocessor, Vocabulary

__all__ = ["Encoded", "encode_imdb", "DEFAULT_CACHE", "VOCAB_ON"]

DEFAULT_CACHE = os.path.join(".cache", "sentiment")
#: Which texts the vocabulary is built on: the training reviews (ours) or all 50k (the paper's protocol).
VOCAB_ON = ("train", "all")


@dataclass
class Encoded:
    vocab: Vocabulary
    train_ids: np.ndarray
    train_labels: np.ndarray
    test_ids: np.ndarray
    test_labels: np.ndarray
    train_review_ids: np.ndarray | None
    source: str
    from_cache: bool
    seconds: float


def _source_identity(folder: str | None) -> dict:
    if folder is None:
        return {"hub": HUB_NAME}
    out = {}
    for split in ("train", "test"):
        path = os.path.join(folder, f"{split}.parquet")
        stat = os.stat(path)
        out[split] = [os.path.abspath(path), stat.st_size, int(stat.st_mtime)]
    return out


class _BadCache(Exception):
    """A cache entry that cannot be used (``file``: the bad file, ``reason``: one line)."""

    def __init__(self, file: str, reason: str):
        super().__init__(f"{file}: {reason}")


def _check_ids(arrays, name: str, length: int, vocab_size: int, file: str) -> np.ndarray:
    """``arrays[name]``: a 2-D integer array of ``length`` columns with ids below ``vocab_size``."""
    ids = arrays[name]
    if ids.ndim != 2 or ids.shape[1] != length or ids.dtype.kind not in "iu":
        raise _BadCache(file, f"{name} has shape {ids.shape} and dtype {ids.dtype} (expected (N, {length}) integers)")
    if ids.size and not (0 <= ids.min() and ids.max() < vocab_size):
        raise _BadCache(file, f"{name} holds ids outside [0, {vocab_size}) (the vocabulary size)")
    return ids


def _check_labels(arrays, name: str, rows: int, file: str) -> np.ndarray:
    """``arrays[name]``: ``rows`` labels in {0, 1}."""
    labels = arrays[name]
    if labels.shape != (rows,) or labels.dtype.kind not in "iu" or not np.isin(labels, (0, 1)).all():
        raise _BadCache(file, f"{name} has shape {labels.shape} (expected {rows} labels 0/1)")
    return labels


def _read_cache(where: str, length: int, source: str, start: float) -> Encoded:
    """The cached encoding in folder ``where``, checked; :class:`_BadCache` if it is unusable."""
    vocab_file, arrays_file = os.path.join(where, "vocab.json"), os.path.join(where, "encoded.npz")
    try:
        with open(vocab_file, encoding="utf-8") as handle:
            vocab = Vocabulary(json.load(handle))
    except Exception as exc:  # any unreadable or invalid vocabulary: rebuild
        raise _BadCache(vocab_file, f"{type(exc).__name__}: {exc}") from None
    try:
        with np.load(arrays_file, allow_pickle=False) as arrays:
            train_ids = _check_ids(arrays, "train_ids", length, len(vocab), arrays_file)
            test_ids = _check_ids(arrays, "test_ids", length, len(vocab), arrays_file)
            train_labels = _check_labels(arrays, "train_labels", len(train_ids), arrays_file)
            test_labels = _check_labels(arrays, "test_labels", len(test_ids), arrays_file)
            review_ids = arrays["train_review_ids"]
    except _BadCache:
        raise
    except Exception as exc:  # zip, zlib, format and missing-key errors alike: rebuild
        raise _BadCache(arrays_file, f"{type(exc).__name__}: {exc}") from None
    if review_ids.size and review_ids.shape != (len(train_ids),):
        raise _BadCache(arrays_file, f"train_review_ids has shape {review_ids.shape} (expected ({len(train_ids)},))")
    return Encoded(vocab, train_ids, train_labels, test_ids, test_labels, review_ids if review_ids.size else None,
                   source, True, time.perf_counter() - start)


def _warn_rebuilding(problem: _BadCache) -> None:
    """One line on stderr: the cache entry is bad and is being rebuilt."""
    message = " ".join(str(problem).split())
    print(f"sentiment: warning: {message[:300]} (unusable cached encoding); rebuilding it", file=sys.stderr)


def encode_imdb(data_dir: str | None = None, preprocessor: Preprocessor = Preprocessor(), min_count: int = 2,
                max_vocab: int | None = None, length: int = 128, cache_dir: str | None = DEFAULT_CACHE,
                truncate: str = "head", vocab_on: str = "train") -> Encoded:
    """Preprocess, build the vocabulary, and encode both splits (cached).

    ``vocab_on="train"`` builds the vocabulary on the training texts only (a test word unseen in training
    is ``<UNK>``); ``"all"`` builds it on the training and test texts together, as the paper's protocol
    does (:func:`sentiment.train.paper_split` then pools the 50k reviews). A cache entry that cannot be
    used is reported on stderr (one line) and rebuilt.
    """
    if vocab_on not in VOCAB_ON:
        raise ValueError(f"vocab_on: {vocab_on!r} (expected one of {', '.join(VOCAB_ON)})")
    start = time.perf_counter()
    folder = check_data_dir(data_dir)
    key = json.dumps({"source": _source_identity(folder), "pre": preprocessor.describe(), "min_count": min_count,
                      "max_vocab": max_vocab, "length": length, "truncate": truncate, "version": 2}
                     | ({"vocab_on": vocab_on} if vocab_on != "train" else {}), sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    where = os.path.join(cache_dir, digest) if cache_dir else None
    if where and os.path.exists(os.path.join(where, "encoded.npz")):
        try:
            return _read_cache(where, length, folder or HUB_NAME, start)
        except _BadCache as problem:
            _warn_rebuilding(problem)
    data = load_imdb(data_dir)
    train_tokens = preprocessor.tokens(data["train"]["text"])
    test_tokens = preprocessor.tokens(data["test"]["text"])
    vocab = Vocabulary.build(train_tokens + test_tokens if vocab_on == "all" else train_tokens, min_count=min_count,
                             max_size=max_vocab)
    review_ids = (np.asarray(data["train"]["review_id"], dtype=np.int64)
                  if "review_id" in data["train"].column_names else None)
    encoded = Encoded(vocab, vocab.encode(train_tokens, length, truncate),
                      np.asarray(data["train"]["label"], dtype=np.int64),
                      vocab.encode(test_tokens, length, truncate), np.asarray(data["test"]["label"], dtype=np.int64),
                      review_ids, folder or HUB_NAME, False, 0.0)
    if where:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, train_ids=encoded.train_ids, train_labels=encoded.train_labels,
                            test_ids=encoded.test_ids, test_labels=encoded.test_labels,
                            train_review_ids=review_ids if review_ids is not None else np.zeros(0, np.int64))
        write_atomic(os.path.join(where, "vocab.json"), json.dumps(vocab.to_json()))
        write_atomic(os.path.join(where, "encoded.npz"), buffer.getvalue())
    encoded.seconds = time.perf_counter() - start
    return encoded
