"""Training the classifier (``python -m sentiment train``).

Adam, binary cross-entropy on logits, gradient clipping, fixed seeds. A
validation split is carved from the training reviews and used for model
selection and early stopping (the paper selected on the test set; we don't).
Checkpoints are ``state_dict`` files written atomically and read back with
``torch.load(weights_only=True)``; metadata (vocabulary, config, α, metrics)
are JSON. An interrupted run resumes from ``last.pt`` with ``--resume``.

Beyond the paper (all off by default, so the defaults are the paper's recipe):

* ``token_dropout`` p: during training each word is replaced by ``<PAD>``
  with probability p (with ``mask_pads`` it leaves the review);
* ``lr_decay`` γ: the learning rate of epoch k is ``lr · γ^k``;
* ``weight_decay`` λ: decoupled (AdamW) decay ``θ ← θ − lr·λ·θ`` per step;
* ``truncate="tail"``: long reviews keep their last 128 tokens;
* ``lemmatize=False``: words as written (no ``simplemma`` lemmas).
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from dynamics.cli import write_atomic

from .features import DEFAULT_CACHE, Encoded, encode_imdb
from .model import ClusteringClassifier
from .text import Preprocessor

__all__ = ["TrainConfig", "train", "load_model", "accuracy", "split_indices", "drop_tokens"]


@dataclass
class TrainConfig:
    dim: int = 16
    depth: int = 8
    tau: float = 1e-3
    mask_pads: bool = False
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    token_dropout: float = 0.0
    lr_decay: float = 1.0
    clip: float = 5.0
    patience: int = 5
    val_fraction: float = 0.1
    val_split: str = "movies"
    seed: int = 0
    limit: int | None = None
    eval_limit: int | None = None
    min_count: int = 2
    max_vocab: int | None = None
    keep_negations: bool = False
    lemmatize: bool = True
    truncate: str = "head"
    threads: int | None = None
    out_dir: str = "runs/sentiment-d16"
    data_dir: str | None = None
    cache_dir: str | None = DEFAULT_CACHE
    track_test: bool = False
    resume: bool = False
    progress: bool = True


def split_indices(n: int, val_fraction: float, seed: int, labels: np.ndarray | None = None,
                  review_ids: np.ndarray | None = None, block: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) indices.

    With ``review_ids`` (the IMDb file numbers, where reviews of one movie are
    consecutive), whole blocks of ``block`` consecutive ids per label go to
    validation. Validation movies are then (nearly) disjoint from training
    movies, as the test movies are: a random split leaks movie-specific words
    (names) and makes validation accuracy optimistic. Without ids: a random split.
    """
    rng = np.random.default_rng(seed)
    if review_ids is None or labels is None:
        order = rng.permutation(n)
        n_val = int(round(n * val_fraction))
        return order[n_val:], order[:n_val]
    groups = labels.astype(np.int64) * (int(review_ids.max()) // block + 1) + review_ids // block
    unique = np.unique(groups)
    chosen = rng.choice(unique, size=int(round(len(unique) * val_fraction)), replace=False)
    is_val = np.isin(groups, chosen)
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    return rng.permutation(train_idx), rng.permutation(val_idx)


@torch.no_grad()
def predict_logits(model: ClusteringClassifier, ids: np.ndarray, rule: str = "softmax",
                   batch_size: int = 512) -> np.ndarray:
    model.eval()
    out = []
    for start in range(0, len(ids), batch_size):
        out.append(model(torch.from_numpy(ids[start:start + batch_size]), rule=rule).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(((logits > 0).astype(np.int64) == labels).mean()) if len(labels) else float("nan")


def _save_state(path: str, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(path, buffer.getvalue())


def load_model(out_dir: str) -> tuple[ClusteringClassifier, dict]:
    """The best model of a run folder and its metadata (``weights_only=True``: no code is run)."""
    meta_path = os.path.join(out_dir, "meta.json")
    model_path = os.path.join(out_dir, "model.pt")
    if not (os.path.isfile(meta_path) and os.path.isfile(model_path)):
        raise ValueError(f"{out_dir}: not a trained run (needs model.pt and meta.json; run `python -m sentiment train`)")
    with open(meta_path, encoding="utf-8") as handle:
        meta = json.load(handle)
    model = ClusteringClassifier(**meta["model"])
    model.load_state_dict(torch.load(model_path, weights_only=True))
    model.eval()
    return model, meta


def drop_tokens(ids: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Token dropout: each real token becomes ``<PAD>`` (id 0) with probability ``p``.

    With ``mask_pads`` a dropped word simply leaves the review (a regulariser
    for bag-of-words-like models). A review that would lose every token keeps
    them all, so that no attention row is left without keys.
    """
    if p <= 0:
        return ids
    drop = torch.rand(ids.shape, generator=generator) < p
    emptied = ((ids == 0) | drop).all(dim=1, keepdim=True)
    return ids.masked_fill(drop & ~emptied, 0)


def _subset(ids: np.ndarray, labels: np.ndarray, limit: int | None, seed: int):
    if limit is None or limit >= len(ids):
        return ids, labels
    pick = np.random.default_rng(seed).permutation(len(ids))[:limit]
    return ids[pick], labels[pick]


def train(cfg: TrainConfig, encoded: Encoded | None = None) -> dict:
    """Train one model; returns the JSON summary (also written to ``out_dir/summary.json``)."""
    from tqdm import tqdm

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    preprocessor = Preprocessor(lemmatize=cfg.lemmatize, keep_negations=cfg.keep_negations)
    encoded = encoded or encode_imdb(cfg.data_dir, preprocessor,
                                     min_count=cfg.min_count, max_vocab=cfg.max_vocab, cache_dir=cfg.cache_dir,
                                     truncate=cfg.truncate)
    train_idx, val_idx = split_indices(len(encoded.train_ids), cfg.val_fraction, cfg.seed, encoded.train_labels,
                                       encoded.train_review_ids if cfg.val_split == "movies" else None)
    if cfg.limit is not None:
        train_idx = train_idx[: cfg.limit]
    val_ids, val_labels = encoded.train_ids[val_idx], encoded.train_labels[val_idx]
    val_ids, val_labels = _subset(val_ids, val_labels, cfg.eval_limit, cfg.seed + 1)
    test_ids, test_labels = _subset(encoded.test_ids, encoded.test_labels, cfg.eval_limit, cfg.seed + 2)
    X = torch.from_numpy(encoded.train_ids[train_idx])
    y = torch.from_numpy(encoded.train_labels[train_idx]).float()

    model = ClusteringClassifier(len(encoded.vocab), cfg.dim, cfg.depth, cfg.tau, cfg.mask_pads)
    # AdamW: decoupled weight decay (with weight_decay = 0, the paper's Adam exactly)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # lr_k = lr * lr_decay**k in epoch k (1.0: constant, the paper)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=cfg.lr_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    os.makedirs(cfg.out_dir, exist_ok=True)
    last_path = os.path.join(cfg.out_dir, "last.pt")
    history: list[dict] = []
    start_epoch, best_val, best_epoch, stale = 0, -1.0, 0, 0
    if cfg.resume and os.path.exists(last_path):
        state = torch.load(last_path, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        if "scheduler" in state:
            scheduler.load_state_dict(state["scheduler"])
        start_epoch, best_val, best_epoch, stale = (int(state["epoch"]), float(state["best_val"]),
                                                    int(state["best_epoch"]), int(state["stale"]))
        history = json.loads(state["history"])
    meta = {"model": model.config(), "train": asdict(cfg), "vocab": encoded.vocab.to_json(),
            "preprocessing": preprocessor.describe(),
            "data": encoded.source, "train_reviews": len(train_idx), "val_reviews": len(val_ids)}
    for epoch in range(start_epoch, cfg.epochs):
        if stale >= cfg.patience:
            break
        model.train()
        order = torch.from_numpy(np.random.default_rng([cfg.seed, epoch]).permutation(len(X)))
        batches = math.ceil(len(X) / cfg.batch_size)
        bar = tqdm(range(batches), desc=f"d={cfg.dim} epoch {epoch + 1}", unit="batch", leave=False,
                   disable=not cfg.progress or None)
        generator = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        lr = optimiser.param_groups[0]["lr"]
        started = time.perf_counter()
        total = 0.0
        for b in bar:
            pick = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(drop_tokens(X[pick], cfg.token_dropout, generator)), y[pick])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            optimiser.step()
            total += float(loss.detach()) * len(pick)
        scheduler.step()
        seconds = time.perf_counter() - started
        val_acc = accuracy(predict_logits(model, val_ids), val_labels)
        alpha = float(model.alpha.detach())
        history.append({"epoch": epoch + 1, "lr": lr,
                        "loss": total / len(X), "val_accuracy": val_acc,
                        "alpha": alpha, "seconds": seconds})
        if cfg.track_test:  # a diagnostic only: never used for model selection
            history[-1]["test_accuracy"] = accuracy(predict_logits(model, test_ids), test_labels)
        if val_acc > best_val:
            best_val, best_epoch, stale = val_acc, epoch + 1, 0
            _save_state(os.path.join(cfg.out_dir, "model.pt"), model.state_dict())
            write_atomic(os.path.join(cfg.out_dir, "meta.json"),
                         json.dumps(meta | {"best_epoch": best_epoch, "val_accuracy": best_val,
                                            "alpha": alpha}))
        else:
            stale += 1
        _save_state(last_path, {"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                                "scheduler": scheduler.state_dict(),
                                "epoch": epoch + 1, "best_val": best_val, "best_epoch": best_epoch,
                                "stale": stale, "history": json.dumps(history)})
        tracked = f", test {history[-1]['test_accuracy']:.4f}" if cfg.track_test else ""
        print(f"d={cfg.dim} epoch {epoch + 1}: loss {total / len(X):.4f}, val {val_acc:.4f}{tracked}, "
              f"alpha {alpha:.3f}, {seconds:.1f} s", file=sys.stderr, flush=True)
    best, meta_best = load_model(cfg.out_dir)
    test_soft = predict_logits(best, test_ids, "softmax")
    test_hard = predict_logits(best, test_ids, "hardmax")
    summary = {
        "dim": cfg.dim, "val_accuracy": meta_best["val_accuracy"],
        "test_accuracy": accuracy(test_soft, test_labels),
        "hardmax_test_accuracy": accuracy(test_hard, test_labels),
        "agreement": float(((test_soft > 0) == (test_hard > 0)).mean()) if len(test_labels) else None,
        "epochs": len(history), "best_epoch": meta_best["best_epoch"], "alpha": meta_best["alpha"],
        "train_reviews": len(train_idx), "val_reviews": len(val_ids), "test_reviews": len(test_ids),
        "train_seconds_per_epoch": float(np.mean([h["seconds"] for h in history])) if history else None,
        "torch_threads": torch.get_num_threads(), "history": history, "checkpoint": cfg.out_dir,
        "mask_pads": cfg.mask_pads, "keep_negations": cfg.keep_negations,
    }
    write_atomic(os.path.join(cfg.out_dir, "summary.json"), json.dumps(summary, indent=1))
    return summary
