"""Training the classifier (``python -m sentiment train``).

Adam, binary cross-entropy on logits, gradient clipping, fixed seeds. A
validation split is carved from the training reviews and used for model
selection and early stopping (the paper selected on the test set; we don't).
Checkpoints are ``state_dict`` files written atomically and read back with
``torch.load(weights_only=True)``; metadata (vocabulary, config, α, metrics)
are JSON, and record the SHA-256 of the ``model.pt`` they describe.

One training at a time per run folder: :func:`train` holds an OS-level lock
(``flock`` on ``OUT_DIR/train.lock``, released by the OS when the process
ends) and a second process is refused at once. An interrupted run resumes
from ``last.pt`` with ``--resume``, with the same options: only those in
:data:`RESUMABLE` (how long to train, progress display, threads, where the
files are) may change; any other is refused, naming it.

Beyond the paper (all off by default, so the defaults are the paper's recipe):

* ``token_dropout`` p: during training each word is replaced by ``<PAD>``
  with probability p (with ``mask_pads`` it leaves the review);
* ``lr_decay`` γ: the learning rate of epoch k is ``lr · γ^k``;
* ``weight_decay`` λ: decoupled (AdamW) decay ``θ ← θ − lr·λ·θ`` per step;
* ``truncate="tail"``: long reviews keep their last 128 tokens;
* ``lemmatize=False``: words as written (no ``simplemma`` lemmas).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import torch
from torch import nn

from dynamics.cli import write_atomic
from dynamics.errors import InputError

from .checkpoint import ORIGIN, CheckpointError, check_state, load_model, load_state, read_json, save_state
from .data import check_data_dir
from .features import DEFAULT_CACHE, Encoded, encode_imdb
from .recipes import PROTOCOLS
from .model import ClusteringClassifier
from .runs import hold_lock, provenance
from .text import Preprocessor

__all__ = ["TrainConfig", "train", "load_model", "accuracy", "split_indices", "paper_split", "drop_tokens",
           "RESUMABLE", "LOCK_FILE", "check_resume_options", "PROTOCOLS", "PAPER_TRAIN_FRACTION"]

#: Training options that ``--resume`` may change: they decide how long to train and where files are, not
#: what a training step computes (``threads`` can change the last bits of float sums, nothing more).
RESUMABLE = frozenset({"epochs", "patience", "progress", "resume", "threads", "track_test", "out_dir",
                       "data_dir", "cache_dir", "recipe"})
#: The paper's protocol: the share of the pooled 50k reviews trained on (the rest is the test set).
PAPER_TRAIN_FRACTION = 0.7
#: The lock file inside a run folder.
LOCK_FILE = "train.lock"
#: TrainConfig fields that have no command-line option.
_NOT_OPTIONS = frozenset({"clip", "val_fraction"})


@dataclass
class TrainConfig:
    """The options of one training (the defaults are the paper's recipe under our protocol).

    ``protocol="ours"``: train on the 25k training reviews less a validation split of held-out movies
    (``val_split``), choose the epoch on that validation split, test once on the 25k test reviews.
    ``protocol="paper"``: the paper's code: the 50k reviews pooled (vocabulary on all of them, see
    :func:`paper_split`), the first 70 % trained on, the last 30 % tested on, and the epoch chosen on that
    same test set (its validation accuracy *is* its test accuracy). ``recipe`` only names the recipe the
    options started from (``sentiment.recipes``); the options themselves are the other fields.
    """

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
    protocol: str = "ours"
    recipe: str = "paper"
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


def paper_split(encoded: Encoded, seed: int, train_fraction: float = PAPER_TRAIN_FRACTION) -> Encoded:
    """The paper's protocol: the train and test reviews pooled, shuffled, split ``train_fraction`` / rest.

    The paper's code reads one file of all 50k reviews, trains on its first 70 % of rows and tests on
    the last 30 %. That file's row order is not known to us, so the pooled reviews are put in a seeded
    random order (``numpy.random.default_rng(seed)``) first. Movies (and so names) are shared between
    the two parts; ``encoded`` should have its vocabulary built on all reviews (``vocab_on="all"``), as
    the paper's was.

    Returns
    -------
    Encoded
        ``train_*`` the first ``round(train_fraction · N)`` pooled reviews, ``test_*`` the rest; no review ids.
    """
    ids = np.concatenate([encoded.train_ids, encoded.test_ids])
    labels = np.concatenate([encoded.train_labels, encoded.test_labels])
    order = np.random.default_rng(seed).permutation(len(ids))
    cut = int(round(train_fraction * len(ids)))
    first, rest = order[:cut], order[cut:]
    return replace(encoded, train_ids=ids[first], train_labels=labels[first], test_ids=ids[rest],
                   test_labels=labels[rest], train_review_ids=None)


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


#: TrainConfig fields set by a negative flag.
_NEGATED = {"lemmatize": "--no-lemmatize", "progress": "--no-progress"}


def _option(name: str) -> str:
    """The command-line option of a TrainConfig field (``lemmatize`` is ``--no-lemmatize``)."""
    if name in _NOT_OPTIONS:
        return f"TrainConfig.{name}"
    return _NEGATED.get(name, "--" + name.replace("_", "-"))


def _shown(name: str, value) -> str:
    """An option's value as the user gave it (flags: given / not given)."""
    if isinstance(value, bool) and name not in _NOT_OPTIONS:
        return "given" if value != (name in _NEGATED) else "not given"
    return json.dumps(value)


def check_resume_options(stored: dict, cfg: TrainConfig, where: str) -> None:
    """Refuse to resume with training options other than the interrupted run's.

    Parameters
    ----------
    stored : dict
        The interrupted run's ``TrainConfig`` as a dict (a field it lacks had
        its default value then).
    cfg : TrainConfig
        The options of this ``--resume``.
    where : str
        The file ``stored`` comes from (named in the message).

    Raises
    ------
    InputError
        The first option outside :data:`RESUMABLE` that differs, old and new value.
    """
    defaults = asdict(TrainConfig())
    for item in fields(TrainConfig):
        if item.name in RESUMABLE:
            continue
        old, new = stored.get(item.name, defaults[item.name]), getattr(cfg, item.name)
        if old != new:
            may = ", ".join(_option(name) for name in sorted(RESUMABLE - {"resume", "out_dir", "cache_dir"}))
            raise InputError(f"{where}: {_option(item.name)} was {_shown(item.name, old)} in the interrupted run, "
                             f"now {_shown(item.name, new)} (expected the same training options with --resume; "
                             f"only {may} may change; train into a new --out-dir to change it)")


#: Keys of last.pt (``config``, ``commands``, ``vocab_sha256`` and ``scheduler`` are optional: older files).
_LAST_KEYS = {"model": dict, "optimiser": dict, "epoch": int, "best_val": float, "best_epoch": int, "stale": int,
              "history": str}


@dataclass
class _Resumed:
    """The state of an interrupted run (``last.pt``), checked."""

    path: str
    state: dict
    history: list
    commands: list = field(default_factory=list)


def _json_field(state: dict, key: str, kind: type, path: str):
    """The JSON string ``state[key]`` of last.pt, parsed (``None`` if absent); it must hold a ``kind``."""
    if key not in state:
        return None
    try:
        value = json.loads(state[key])
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, kind):
        raise CheckpointError(f"{path}: {key!r} is not a JSON {kind.__name__} (expected the checkpoint {ORIGIN})")
    return value


def _read_resumed(cfg: TrainConfig, path: str) -> _Resumed:
    """``last.pt``, checked, after refusing changed options (:func:`check_resume_options`)."""
    state, _ = load_state(path, f"the checkpoint {ORIGIN}")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: a {type(state).__name__} (expected the checkpoint dict {ORIGIN})")
    for key, kind in _LAST_KEYS.items():
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            got = "missing" if key not in state else f"a {type(state[key]).__name__}"
            raise CheckpointError(f"{path}: key {key!r} is {got} (expected a {kind.__name__}; the checkpoint "
                                  f"{ORIGIN})")
    stored = _json_field(state, "config", dict, path)
    if stored is None:  # an older last.pt: the options are in meta.json
        meta_path = os.path.join(cfg.out_dir, "meta.json")
        if not os.path.isfile(meta_path):
            raise CheckpointError(f"{path}: no training options to compare with (expected 'config' in last.pt or "
                                  f"a meta.json beside it; train into a new --out-dir)")
        stored = read_json(meta_path, f"the JSON object {ORIGIN}").get("train")
    if not isinstance(stored, dict):
        raise CheckpointError(f"{path}: the stored training options are not an object (expected the checkpoint "
                              f"{ORIGIN})")
    check_resume_options(stored, cfg, path)
    return _Resumed(path, state, _json_field(state, "history", list, path),
                    _json_field(state, "commands", list, path) or [])


def _vocab_sha256(words: list[str]) -> str:
    """The identity of a vocabulary."""
    return hashlib.sha256(json.dumps(words).encode()).hexdigest()


def _restore(resumed: _Resumed, model: ClusteringClassifier, optimiser, scheduler, vocab_sha256: str) -> None:
    """Load the interrupted run's model, optimiser and scheduler; refuse data that changed since."""
    state, path = resumed.state, resumed.path
    if state.get("vocab_sha256", vocab_sha256) != vocab_sha256:
        raise InputError(f"{path}: the data now give another vocabulary than the interrupted run's (expected the "
                         f"same training data with --resume: --data-dir may move, not change)")
    check_state(state["model"], model, path, "this run's options and vocabulary")
    model.load_state_dict(state["model"])
    try:
        optimiser.load_state_dict(state["optimiser"])
        if "scheduler" in state:
            scheduler.load_state_dict(state["scheduler"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: unusable optimiser state ({type(exc).__name__}) (expected the checkpoint "
                              f"{ORIGIN})") from None


@dataclass
class _Splits:
    """Training tensors, validation and test arrays."""

    X: torch.Tensor
    y: torch.Tensor
    val_ids: np.ndarray
    val_labels: np.ndarray
    test_ids: np.ndarray
    test_labels: np.ndarray


def _splits(cfg: TrainConfig, encoded: Encoded) -> _Splits:
    """The seeded train / validation split (``limit``, ``eval_limit`` applied) and the test subset.

    Under the paper's protocol the reviews are pooled and split 70/30 (:func:`paper_split`), and the
    validation set is the test set: the epoch is chosen on test, as the paper's was.
    """
    if cfg.protocol == "paper":
        pooled = paper_split(encoded, cfg.seed)
        train_idx = np.random.default_rng(cfg.seed).permutation(len(pooled.train_ids))[: cfg.limit]
        test_ids, test_labels = _subset(pooled.test_ids, pooled.test_labels, cfg.eval_limit, cfg.seed + 2)
        return _Splits(torch.from_numpy(pooled.train_ids[train_idx]),
                       torch.from_numpy(pooled.train_labels[train_idx]).float(), test_ids, test_labels, test_ids,
                       test_labels)
    train_idx, val_idx = split_indices(len(encoded.train_ids), cfg.val_fraction, cfg.seed, encoded.train_labels,
                                       encoded.train_review_ids if cfg.val_split == "movies" else None)
    if cfg.limit is not None:
        train_idx = train_idx[: cfg.limit]
    if not len(train_idx) or not len(val_idx):
        raise InputError(f"{encoded.source}: {len(encoded.train_ids)} training reviews leave an empty "
                         f"{'validation' if len(train_idx) else 'training'} set (expected enough reviews for a "
                         f"{cfg.val_fraction:.0%} validation split)")
    val_ids, val_labels = encoded.train_ids[val_idx], encoded.train_labels[val_idx]
    val_ids, val_labels = _subset(val_ids, val_labels, cfg.eval_limit, cfg.seed + 1)
    test_ids, test_labels = _subset(encoded.test_ids, encoded.test_labels, cfg.eval_limit, cfg.seed + 2)
    return _Splits(torch.from_numpy(encoded.train_ids[train_idx]),
                   torch.from_numpy(encoded.train_labels[train_idx]).float(), val_ids, val_labels, test_ids,
                   test_labels)


def train(cfg: TrainConfig, encoded: Encoded | None = None, command: str | None = None) -> dict:
    """Train one model; returns the JSON summary (also written to ``out_dir/summary.json``).

    Parameters
    ----------
    cfg : TrainConfig
        The options.
    encoded : Encoded, optional
        Encoded reviews (default: :func:`~sentiment.features.encode_imdb` with ``cfg``'s options).
    command : str, optional
        The command line, kept in the summary with the commit, the date and the model's SHA-256.

    Raises
    ------
    BusyError
        Another process is training into ``cfg.out_dir``.
    InputError
        Bad data, or ``--resume`` with changed options or a bad ``last.pt``.
    """
    if encoded is None:
        check_data_dir(cfg.data_dir)  # bad data fail before the run folder is touched
    created = not os.path.isdir(cfg.out_dir)
    os.makedirs(cfg.out_dir, exist_ok=True)
    lock = os.path.join(cfg.out_dir, LOCK_FILE)
    with hold_lock(lock, f"{cfg.out_dir}: another process{{holder}} is training into this folder (expected one "
                         f"training per --out-dir: wait for it, or choose another --out-dir)"):
        try:
            return _train_locked(cfg, encoded, command)
        except BaseException:
            if created and os.listdir(cfg.out_dir) == [LOCK_FILE]:  # leave no empty run folder behind
                os.unlink(lock)
                os.rmdir(cfg.out_dir)
            raise


def _train_locked(cfg: TrainConfig, encoded: Encoded | None, command: str | None) -> dict:
    """:func:`train`, with the run folder's lock held."""
    from dynamics.cli import progress_bar

    last_path = os.path.join(cfg.out_dir, "last.pt")
    if cfg.resume and not os.path.exists(last_path):
        raise InputError(f"{cfg.out_dir}: --resume: no last.pt to resume from (expected a run folder written by "
                         "`python -m sentiment train`; drop --resume to start a new run)")
    resumed = _read_resumed(cfg, last_path) if cfg.resume else None
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    preprocessor = Preprocessor(lemmatize=cfg.lemmatize, keep_negations=cfg.keep_negations)
    encoded = encoded or encode_imdb(cfg.data_dir, preprocessor,
                                     min_count=cfg.min_count, max_vocab=cfg.max_vocab, cache_dir=cfg.cache_dir,
                                     truncate=cfg.truncate, vocab_on=vocab_on(cfg.protocol))
    data = _splits(cfg, encoded)
    X, y = data.X, data.y

    model = ClusteringClassifier(len(encoded.vocab), cfg.dim, cfg.depth, cfg.tau, cfg.mask_pads)
    # AdamW: decoupled weight decay (with weight_decay = 0, the paper's Adam exactly)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # lr_k = lr * lr_decay**k in epoch k (1.0: constant, the paper)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=cfg.lr_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    vocab_sha256 = _vocab_sha256(encoded.vocab.to_json())
    history: list[dict] = []
    earlier_commands: list = []
    start_epoch, best_val, best_epoch, stale = 0, -1.0, 0, 0
    if resumed is not None:
        _restore(resumed, model, optimiser, scheduler, vocab_sha256)
        state = resumed.state
        start_epoch, best_val, best_epoch, stale = (int(state["epoch"]), float(state["best_val"]),
                                                    int(state["best_epoch"]), int(state["stale"]))
        history, earlier_commands = resumed.history, resumed.commands
    commands = earlier_commands + [command]
    meta = {"model": model.config(), "train": asdict(cfg), "vocab": encoded.vocab.to_json(),
            "preprocessing": preprocessor.describe(),
            "data": encoded.source, "train_reviews": len(X), "val_reviews": len(data.val_ids)}
    for epoch in range(start_epoch, cfg.epochs):
        if stale >= cfg.patience:
            break
        model.train()
        order = torch.from_numpy(np.random.default_rng([cfg.seed, epoch]).permutation(len(X)))
        batches = math.ceil(len(X) / cfg.batch_size)
        bar = progress_bar(batches, f"d={cfg.dim} epoch {epoch + 1}", enabled=cfg.progress, unit="batch")
        generator = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        lr = optimiser.param_groups[0]["lr"]
        started = time.perf_counter()
        total = 0.0
        for b in range(batches):
            if bar is not None:
                bar.update(1)
            pick = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(drop_tokens(X[pick], cfg.token_dropout, generator)), y[pick])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            optimiser.step()
            total += float(loss.detach()) * len(pick)
        if bar is not None:
            bar.close()
        scheduler.step()
        seconds = time.perf_counter() - started
        val_acc = accuracy(predict_logits(model, data.val_ids), data.val_labels)
        alpha = float(model.alpha.detach())
        history.append({"epoch": epoch + 1, "lr": lr,
                        "loss": total / len(X), "val_accuracy": val_acc,
                        "alpha": alpha, "seconds": seconds})
        if cfg.track_test:  # a diagnostic only: never used for model selection
            history[-1]["test_accuracy"] = accuracy(predict_logits(model, data.test_ids), data.test_labels)
        if val_acc > best_val:
            best_val, best_epoch, stale = val_acc, epoch + 1, 0
            sha = save_state(os.path.join(cfg.out_dir, "model.pt"), model.state_dict())
            write_atomic(os.path.join(cfg.out_dir, "meta.json"),
                         json.dumps(meta | {"best_epoch": best_epoch, "val_accuracy": best_val,
                                            "alpha": alpha, "model_sha256": sha}))
        else:
            stale += 1
        save_state(last_path, {"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                               "scheduler": scheduler.state_dict(),
                               "epoch": epoch + 1, "best_val": best_val, "best_epoch": best_epoch,
                               "stale": stale, "history": json.dumps(history), "config": json.dumps(asdict(cfg)),
                               "commands": json.dumps(commands), "vocab_sha256": vocab_sha256})
        tracked = f", test {history[-1]['test_accuracy']:.4f}" if cfg.track_test else ""
        print(f"d={cfg.dim} epoch {epoch + 1}: loss {total / len(X):.4f}, val {val_acc:.4f}{tracked}, "
              f"alpha {alpha:.3f}, {seconds:.1f} s", file=sys.stderr, flush=True)
    summary = _summary(cfg, data, history, command)
    if earlier_commands:
        summary["earlier_commands"] = earlier_commands
    write_atomic(os.path.join(cfg.out_dir, "summary.json"), json.dumps(summary, indent=1))
    return summary


def vocab_on(protocol: str) -> str:
    """The texts a protocol builds its vocabulary on (:data:`sentiment.features.VOCAB_ON`)."""
    return "all" if protocol == "paper" else "train"


def _summary(cfg: TrainConfig, data: _Splits, history: list[dict], command: str | None) -> dict:
    """The best model's test figures, the training's bookkeeping and its provenance."""
    best, meta_best = load_model(cfg.out_dir)
    test_soft = predict_logits(best, data.test_ids, "softmax")
    test_hard = predict_logits(best, data.test_ids, "hardmax")
    return {
        "dim": cfg.dim, "val_accuracy": meta_best["val_accuracy"],
        "test_accuracy": accuracy(test_soft, data.test_labels),
        "hardmax_test_accuracy": accuracy(test_hard, data.test_labels),
        "agreement": float(((test_soft > 0) == (test_hard > 0)).mean()) if len(data.test_labels) else None,
        "epochs": len(history), "best_epoch": meta_best["best_epoch"], "alpha": meta_best["alpha"],
        "train_reviews": len(data.X), "val_reviews": len(data.val_ids), "test_reviews": len(data.test_ids),
        "train_seconds_per_epoch": float(np.mean([h["seconds"] for h in history])) if history else None,
        "torch_threads": torch.get_num_threads(), "history": history, "checkpoint": cfg.out_dir,
        "mask_pads": cfg.mask_pads, "keep_negations": cfg.keep_negations, "protocol": cfg.protocol,
        "recipe": cfg.recipe, "chosen_on": "test" if cfg.protocol == "paper" else "validation",
    } | provenance(command, meta_best["model_sha256"])
