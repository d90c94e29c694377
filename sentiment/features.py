"""Encoded reviews with an on-disk cache, so a second run starts in seconds.

The cache holds ``encoded.npz`` (token ids and labels; NumPy arrays, no
pickles) and ``vocab.json`` under a key derived from the data files (path,
size, modification time), the preprocessing options and the vocabulary
parameters. Files are written atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from dataclasses import dataclass

import numpy as np

from dynamics.cli import write_atomic

from .data import HUB_NAME, load_imdb, resolve_data_dir
from .text import Preprocessor, Vocabulary

__all__ = ["Encoded", "encode_imdb", "DEFAULT_CACHE"]

DEFAULT_CACHE = os.path.join(".cache", "sentiment")


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


def encode_imdb(data_dir: str | None = None, preprocessor: Preprocessor = Preprocessor(), min_count: int = 2,
                max_vocab: int | None = None, length: int = 128, cache_dir: str | None = DEFAULT_CACHE,
                truncate: str = "head") -> Encoded:
    """Preprocess, build the vocabulary on the training texts, and encode both splits (cached)."""
    start = time.perf_counter()
    folder = resolve_data_dir(data_dir)
    key = json.dumps({"source": _source_identity(folder), "pre": preprocessor.describe(), "min_count": min_count,
                      "max_vocab": max_vocab, "length": length, "truncate": truncate, "version": 2}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    where = os.path.join(cache_dir, digest) if cache_dir else None
    if where and os.path.exists(os.path.join(where, "encoded.npz")):
        with open(os.path.join(where, "vocab.json"), encoding="utf-8") as handle:
            vocab = Vocabulary(json.load(handle))
        with np.load(os.path.join(where, "encoded.npz"), allow_pickle=False) as arrays:
            review_ids = arrays["train_review_ids"] if arrays["train_review_ids"].size else None
            return Encoded(vocab, arrays["train_ids"], arrays["train_labels"], arrays["test_ids"],
                           arrays["test_labels"], review_ids, folder or HUB_NAME, True, time.perf_counter() - start)
    data = load_imdb(data_dir)
    train_tokens = preprocessor.tokens(data["train"]["text"])
    test_tokens = preprocessor.tokens(data["test"]["text"])
    vocab = Vocabulary.build(train_tokens, min_count=min_count, max_size=max_vocab)
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
