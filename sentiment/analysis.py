"""Evaluation, interpretability and exact cross-validation of a trained run (SPEC §6).

* :func:`evaluate` — test accuracy of the softmax model and of the *hardmax*
  dynamics with the same weights, and how often the two agree.
* :func:`leaders_report` — leaders per review under the hardmax dynamics
  (distinct leader words at the last layer: mean, std, min, max; the fraction
  already leaders at layer 0) and the leader words of confidently classified
  reviews (``|v·z̄ + b| > 2``): most frequent, and by lift (:func:`leader_lift`).
* :func:`plots` — a bar chart of the words by lift with their raw counts, and for
  ``d = 2`` a review's tokens moving through the layers (into ``args.output_dir``).
* :func:`exact_crosscheck` — each test review's hardmax dynamics run in exact
  arithmetic (the trained float32 weights are exact dyadic rationals) by the
  certified engine, compared with the float path: predictions, leader sets and
  clusters that the floats get wrong, and how common exact ties are.

Every result names the ``model_sha256`` of the ``model.pt`` it comes from.

A leader (SPEC §1) is a token whose follow set holds only copies of itself; in
a review, copies are repeated words and the ``<PAD>`` tokens.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from fractions import Fraction

import numpy as np
import torch

from dynamics.cli import write_atomic
from dynamics.errors import InputError

from .model import ClusteringClassifier
from .text import Preprocessor, Vocabulary
from .train import accuracy, load_model, predict_logits

__all__ = ["evaluate", "leaders_report", "plots", "leader_words_figure", "exact_crosscheck", "test_set"]


def test_set(meta: dict, data_dir: str | None, limit: int | None):
    """The run's test reviews encoded with its own vocabulary (first ``limit`` after a seeded shuffle).

    Under our protocol these are the 25k test reviews; under the paper's (``protocol="paper"`` in the
    run's options) the last 30 % of the pooled 50k (:func:`sentiment.train.paper_split`, same seed).
    """
    from .features import Encoded, encode_imdb
    from .train import paper_split, vocab_on

    vocab = Vocabulary(meta["vocab"])
    train_cfg = meta["train"]
    protocol = train_cfg.get("protocol", "ours")
    truncate = train_cfg.get("truncate", "head")
    pre = Preprocessor(lemmatize=train_cfg.get("lemmatize", True),
                       keep_negations=train_cfg.get("keep_negations", False))
    encoded = encode_imdb(data_dir, pre, min_count=train_cfg["min_count"], max_vocab=train_cfg["max_vocab"],
                          cache_dir=train_cfg.get("cache_dir"), truncate=truncate, vocab_on=vocab_on(protocol))
    if encoded.vocab.words != vocab.words:  # data or preprocessing changed since: encode with the run's words
        from .data import load_imdb

        texts = load_imdb(data_dir)
        needed = ("train", "test") if protocol == "paper" else ("test",)  # the paper's test set is in the pool
        splits = {s: (vocab.encode(pre.tokens(texts[s]["text"]), truncate=truncate),
                      np.asarray(texts[s]["label"], dtype=np.int64)) for s in needed}
        empty = (np.zeros((0, encoded.test_ids.shape[1]), np.int64), np.zeros(0, np.int64))
        encoded = Encoded(vocab, *splits.get("train", empty), *splits["test"], None, encoded.source, False, 0.0)
    if protocol == "paper":
        encoded = paper_split(encoded, train_cfg.get("seed", 0))
    ids, labels = encoded.test_ids, encoded.test_labels
    if limit is not None and limit < len(ids):
        pick = np.random.default_rng(12345).permutation(len(ids))[:limit]
        ids, labels = ids[pick], labels[pick]
    return vocab, ids, labels


def evaluate(args) -> dict:
    model, meta = load_model(args.run)
    _, ids, labels = test_set(meta, args.data_dir, args.limit)
    soft = predict_logits(model, ids, "softmax")
    hard = predict_logits(model, ids, "hardmax")
    return {"dim": model.dim, "test_reviews": len(ids), "test_accuracy": accuracy(soft, labels),
            "hardmax_test_accuracy": accuracy(hard, labels),
            "agreement": float(((soft > 0) == (hard > 0)).mean()), "val_accuracy": meta["val_accuracy"],
            "alpha": meta["alpha"], "epochs_best": meta["best_epoch"], "model_sha256": meta["model_sha256"]}


def _leader_masks(model: ClusteringClassifier, ids: torch.Tensor) -> list[torch.Tensor]:
    """Per layer, the boolean ``(B, n)`` leader masks of the hardmax dynamics."""
    _, winners = model.trajectory(ids, rule="hardmax")
    copies = ids[:, :, None] == ids[:, None, :]
    return [~(W & ~copies).any(dim=-1) for W in winners]


@torch.no_grad()
def leaders_report(args, batch_size: int = 256) -> dict:
    model, meta = load_model(args.run)
    vocab, ids, labels = test_set(meta, args.data_dir, args.limit)
    counts, at_start, words = [], [], {"positive": Counter(), "negative": Counter()}
    present = {"positive": Counter(), "negative": Counter()}  # confident reviews that contain each word
    confident = 0
    for start in range(0, len(ids), batch_size):
        batch = torch.from_numpy(ids[start:start + batch_size])
        masks = _leader_masks(model, batch)
        logits = model(batch, rule="hardmax").numpy()
        first, last = masks[0].numpy(), masks[-1].numpy()
        for r in range(len(batch)):
            row = batch[r].numpy()
            final_words = set(row[last[r]].tolist())
            counts.append(len(final_words))
            at_start.append(len(final_words & set(row[first[r]].tolist())) / max(len(final_words), 1))
            if abs(logits[r]) > 2:
                confident += 1
                side = "positive" if logits[r] > 0 else "negative"
                words[side].update(vocab.words[w] for w in final_words)
                present[side].update(vocab.words[w] for w in set(row.tolist()) if w != 0)
    counts_arr = np.array(counts)
    return {
        "dim": model.dim, "test_reviews": len(ids),
        "leaders_per_review": {"mean": float(counts_arr.mean()), "std": float(counts_arr.std()),
                               "min": int(counts_arr.min()), "max": int(counts_arr.max())},
        "fraction_leaders_at_layer_0": float(np.mean(at_start)),
        "confident_reviews": confident,
        "top_leader_words": {side: c.most_common(20) for side, c in words.items()},
        "top_leader_words_by_lift": {side: leader_lift(words[side], present[side]) for side in words},
        "model_sha256": meta["model_sha256"],
    }


#: Words in fewer confident reviews of a side than this are left out of the lift ranking (too few to tell).
MIN_LIFT_SUPPORT = 20


def leader_lift(as_leader: Counter, in_reviews: Counter, top: int = 20,
                min_reviews: int = MIN_LIFT_SUPPORT) -> list[list]:
    """Words ranked by **lift** = share as leader ÷ share in reviews, with the raw counts beside it:
    ``[word, lift, reviews where it is a final leader, reviews that contain it]``.

    ``share as leader = as_leader[w] / Σ as_leader`` and ``share in reviews = in_reviews[w] / Σ in_reviews``,
    so lift 1 is a word that leads as often as the average word where it occurs, and the largest possible
    lift, ``Σ in_reviews / Σ as_leader``, is a word that leads in every review containing it. A raw leader
    count follows word frequency; the lift does not. Words in fewer than ``min_reviews`` reviews are left out.
    """
    total_lead, total_present = sum(as_leader.values()), sum(in_reviews.values())
    if not total_lead or not total_present:
        return []
    scale = total_present / total_lead
    ranked = sorted(((w, as_leader[w] / n * scale, as_leader[w], n) for w, n in in_reviews.items() if n >= min_reviews),
                    key=lambda t: (-t[1], -t[3], t[0]))
    return [[w, round(lift, 4), lead, n] for w, lift, lead, n in ranked[:top]]


def leader_words_figure(by_lift: dict[str, list], title: str):
    """The bar chart of leader words by lift (:func:`leader_lift`) for the negative and positive sides, the
    raw counts beside each bar, and the definition of lift once under both panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    for ax, side, color in zip(axes, ("negative", "positive"), ("tab:red", "tab:green")):
        top = by_lift.get(side, [])[:15][::-1]
        bars = ax.barh([w for w, *_ in top], [lift for _, lift, *_ in top], color=color)
        for bar, (_, _, lead, n) in zip(bars, top):  # the raw counts beside each bar
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {lead}/{n}", va="center", fontsize=7)
        ax.set_xlim(0, 1.2 * max([lift for _, lift, *_ in top] + [1.0]))
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{title}: leader words of confident {side} reviews,\nby lift", fontsize=9)
        ax.set_xlabel("lift", fontsize=8)
    fig.text(0.5, 0.005, "lift = share among leader words ÷ share among review words (1, dashed: as often as an "
                         "average word)\nlabels: reviews where the word leads / reviews that contain it (words in "
                         f"≥ {MIN_LIFT_SUPPORT} reviews)", ha="center", va="bottom", fontsize=8)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plots(args) -> dict:
    """Write the leader-word bar chart, and for d = 2 the token trajectory of one review."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .results import describe, file_tag, run_key

    model, meta = load_model(args.run)
    key = run_key(model.dim, meta)
    if model.dim == 2:  # check the review index before any figure is written
        vocab, ids, _ = test_set(meta, args.data_dir, None)
        if args.review >= len(ids):
            raise InputError(f"--review: {args.review} (expected a test review index below {len(ids)})")
    report = leaders_report(args)
    os.makedirs(args.output_dir, exist_ok=True)
    written = []
    fig = leader_words_figure(report["top_leader_words_by_lift"], describe(key))
    path = os.path.join(args.output_dir, f"leader_words_{file_tag(key)}.png")
    _save(fig, path)
    written.append(path)
    if model.dim == 2:
        review = torch.from_numpy(ids[args.review:args.review + 1])
        states, _ = model.trajectory(review, rule="hardmax")
        leaders = _leader_masks(model, review)
        layers = sorted({k for k in (0, 1, 2, 4, model.depth) if k <= model.depth})  # a shallow run has fewer
        fig, axes = plt.subplots(1, len(layers), figsize=(3.2 * len(layers), 3.6), squeeze=False)
        for ax, k in zip(axes[0], layers):
            Z = states[k][0].numpy()
            lead = leaders[k][0].numpy()
            ax.scatter(Z[~lead, 0], Z[~lead, 1], s=10, color="tab:blue")
            ax.scatter(Z[lead, 0], Z[lead, 1], s=60, marker="*", color="tab:red")
            for i in np.flatnonzero(lead)[:12]:
                ax.annotate(vocab.words[int(review[0, i])], Z[i], fontsize=7)
            ax.set_title(f"layer {k}", fontsize=9)
        fig.suptitle(f"test review {args.review}: tokens through the hardmax layers (leaders ★)", fontsize=10)
        path = os.path.join(args.output_dir, f"review_{args.review}_{file_tag(key)}.png")
        _save(fig, path)
        written.append(path)
    return {"dim": model.dim, "figures": written, "model_sha256": meta["model_sha256"]}


def _save(fig, path: str) -> None:
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_atomic(path, buffer.getvalue())


def _exact_reviews(token_arrays: list[np.ndarray], heads: tuple, depth: int, v, b):
    """The exact hardmax runs of many reviews: ``(signs of the logits, CertifiedBatch)``.

    The stacked certified filter (:class:`~dynamics.backends.certified_batch.CertifiedBatch`)
    decides every follow set exactly; the signs of the logits ``vᵀ mean_i z_i^K + b``, the leaders
    and the final clusters are read off its float states with their enclosures, and from exact
    states only where those cannot decide. ``heads``: one tuple of :class:`~dynamics.config.Head`
    for every review (the engines' parameters are cached by its identity).
    """
    from dynamics.backends.certified_batch import CertifiedBatch
    from dynamics.config import Config, DyadicTokens

    batch = CertifiedBatch([Config(tokens=DyadicTokens(t), heads=heads) for t in token_arrays], depth)
    return batch.mean_functional_signs([float(x) for x in v], float(b)), batch


@torch.no_grad()
def _crosscheck_reviews(run: str, data_dir: str | None, limit: int | None, part: int, parts: int) -> dict:
    """Exact-vs-float counts for every ``parts``-th test review starting at ``part`` (one worker's share)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # the filter's products are small: a second BLAS thread only contends
        return _crosscheck_share(run, data_dir, limit, part, parts)


#: Reviews per float batch (sorted by length, so the padding is short) and per stacked exact batch.
FLOAT_BATCH, EXACT_BATCH = 64, 512


def _crosscheck_share(run: str, data_dir: str | None, limit: int | None, part: int, parts: int) -> dict:
    """The float path is the model's own batched hardmax run (``model.trajectory``), reviews of similar
    length together and cut after the last real token; with ``mask_pads`` the padding are masked keys,
    so the real tokens' float states and follow sets are those of the unpadded review (the logit's
    last bits may depend on the batch, through BLAS; the prediction is its sign)."""
    torch.set_num_threads(1)
    model, meta = load_model(run)
    _, ids, _ = test_set(meta, data_dir, limit)
    from dynamics.config import Head, identity

    heads = (Head(A=identity(model.dim), alpha=Fraction(float(model.alpha.detach()))),)  # one object for every review
    v = [float(x) for x in model.decoder.weight.detach()[0]]
    b = float(model.decoder.bias.detach()[0])
    mine = np.arange(part, len(ids), parts)
    real = (ids[mine] != 0) if model.mask_pads else np.ones(ids[mine].shape, dtype=bool)
    width = np.where(real.any(axis=1), ids.shape[1] - np.argmax(real[:, ::-1], axis=1), 0)  # after the last real token
    mine, real, width = mine[np.argsort(width, kind="stable")], real[np.argsort(width, kind="stable")], np.sort(width)
    counts = Counter()
    for g0 in range(0, len(mine), EXACT_BATCH):
        tokens, float_answers = [], []
        for f0 in range(g0, min(g0 + EXACT_BATCH, len(mine)), FLOAT_BATCH):
            f1 = min(f0 + FLOAT_BATCH, g0 + EXACT_BATCH, len(mine))
            w = int(width[f1 - 1])
            batch = torch.from_numpy(ids[mine[f0:f1], :w])
            states, winners = model.trajectory(batch, rule="hardmax")
            logits = model.decoder(model.pooled(states[-1], batch)).squeeze(-1).numpy()
            emb = states[0].numpy()
            final = states[-1].numpy()
            copies = batch[:, :, None] == batch[:, None, :]
            lead = (~(winners[-1] & ~copies).any(dim=-1)).numpy()
            for r in range(f1 - f0):
                keep = real[f0 + r, :w]
                tokens.append(emb[r][keep])
                float_answers.append((logits[r] > 0, tuple(np.flatnonzero(lead[r][keep]).tolist()),
                                      sorted(sorted(g) for g in _groups([row.tobytes() for row in final[r][keep]]))))
        signs, exact = _exact_reviews(tokens, heads, model.depth, v, b)
        for r, (positive, float_leaders, float_groups) in enumerate(float_answers):
            counts["wrong_predictions"] += (signs[r] > 0) != positive
            counts["wrong_leader_sets"] += float_leaders != exact.leaders(r)
            counts["wrong_clusters"] += float_groups != sorted(sorted(g) for g in exact.exact_classes(r))
            info = exact.info(r)["filter"]
            counts["rows_decided_exactly"] += info["decided_exactly"]
            counts["rows"] += info["rows"]
            counts["reviews_needing_exact_rows"] += info["decided_exactly"] > 0
            counts["test_reviews"] += 1
    return dict(counts)


def exact_crosscheck(args) -> dict:
    """Compare the float hardmax dynamics of test reviews with the exact dynamics of the same weights."""
    from dynamics.parallel import worker_pool

    model, meta = load_model(args.run)
    workers = max(1, getattr(args, "workers", 1))
    start = time.perf_counter()
    jobs = [(args.run, args.data_dir, args.limit, part, workers) for part in range(workers)]
    if workers == 1:
        parts = [_crosscheck_reviews(*jobs[0])]
    else:
        with worker_pool(workers) as pool:
            parts = list(pool.map(_crosscheck_reviews, *zip(*jobs)))
    total = Counter()
    for part in parts:
        total.update(part)
    keys = ("test_reviews", "wrong_predictions", "wrong_leader_sets", "wrong_clusters",
            "reviews_needing_exact_rows", "rows_decided_exactly", "rows")
    return {"dim": model.dim, "layers": model.depth, "alpha": float(model.alpha.detach())} | {
        k: int(total[k]) for k in keys} | {
        "seconds": time.perf_counter() - start, "workers": workers, "model_sha256": meta["model_sha256"],
        "note": "rows decided exactly = argmax rows the float filter could not certify (ties between "
                "different tokens, or gaps below the rounding bound); copies (pads, repeated words) tie "
                "exactly and are decided by the filter",
    }


def _groups(keys) -> list[list[int]]:
    out: dict = {}
    for i, k in enumerate(keys):
        out.setdefault(k, []).append(i)
    return list(out.values())
