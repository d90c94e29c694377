"""Deliberately naive reference implementations: test oracles and benchmark baselines.

These are *not* engines of the project (``dynamics`` has exactly one
implementation per backend). They exist to be compared against:

* :func:`fraction_step` — the dynamics written the obvious way with
  ``fractions.Fraction``, straight from the formulas of SPEC §1. It shares no
  code with the exact engine (no common denominator, no FLINT), so agreement
  between the two is independent evidence; it is also the ``Fraction`` baseline
  of the exact-engine benchmark.
* :func:`paper_loop` — a faithful re-implementation of the paper's float code
  style: one review at a time, one token at a time, a Python loop over layers,
  ties decided by ``==`` on floats. The batched torch path is measured against it.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import numpy as np

Matrix = list[list[Fraction]]


def fraction_scores(Z: Matrix, A: Matrix) -> Matrix:
    """``s_ij = <A z_i, z_j>`` in ``Fraction`` arithmetic."""
    d = len(Z[0])
    AZ = [[sum((A[r][k] * z[k] for k in range(d)), Fraction(0)) for r in range(d)] for z in Z]
    return [[sum((a[k] * z[k] for k in range(d)), Fraction(0)) for z in Z] for a in AZ]


def fraction_follow(Z: Matrix, A: Matrix) -> list[tuple[int, ...]]:
    """``C_i = argmax_j s_ij`` (all maximisers)."""
    out = []
    for row in fraction_scores(Z, A):
        best = max(row)
        out.append(tuple(j for j, s in enumerate(row) if s == best))
    return out


def fraction_step(Z: Matrix, heads: Sequence[tuple[Matrix, Fraction]]) -> tuple[Matrix, list]:
    """One layer ``z_i+ = (z_i + Σ_h α_h mean_{C^h_i} z) / (1 + Σ_h α_h)``; returns (Z+, per-head C)."""
    d = len(Z[0])
    total = 1 + sum(alpha for _, alpha in heads)
    follows = [fraction_follow(Z, A) for A, _ in heads]
    new = []
    for i, z in enumerate(Z):
        acc = list(z)
        for (_, alpha), follow in zip(heads, follows):
            c = follow[i]
            for k in range(d):
                acc[k] += alpha * sum((Z[j][k] for j in c), Fraction(0)) / len(c)
        new.append([x / total for x in acc])
    return new, follows


def fraction_trajectory(Z: Matrix, heads, steps: int) -> tuple[list[Matrix], list[list]]:
    """States ``Z^0 … Z^K`` and per-step per-head follow sets ``C(Z^0) … C(Z^{K-1})``."""
    states, follows = [Z], []
    for _ in range(steps):
        Z, f = fraction_step(Z, heads)
        states.append(Z)
        follows.append(f)
    return states, follows


def paper_loop(batch: np.ndarray, alpha: float, layers: int, A: np.ndarray | None = None) -> np.ndarray:
    """The paper's style: for each review, for each layer, for each token, a Python loop.

    Parameters
    ----------
    batch
        ``(B, n, d)`` float array of token embeddings.
    alpha
        Step size.
    layers
        Number of layers.
    A
        Score matrix (identity if ``None``).
    """
    out = np.empty_like(batch)
    d = batch.shape[2]
    A = np.eye(d, dtype=batch.dtype) if A is None else A
    for b in range(batch.shape[0]):
        Z = batch[b].copy()
        for _ in range(layers):
            new = np.empty_like(Z)
            for i in range(Z.shape[0]):
                scores = Z @ (A @ Z[i])
                winners = np.where(scores == scores.max())[0]
                new[i] = (Z[i] + alpha * Z[winners].mean(axis=0)) / (1 + alpha)
            Z = new
        out[b] = Z
    return out


def paper_loop_torch(batch, alpha: float, layers: int, A=None):
    """The same per-review, per-token loop written with torch tensors (the paper's framework).

    ``batch`` is a ``(B, n, d)`` tensor; one small torch op per token per layer.
    """
    import torch

    out = torch.empty_like(batch)
    d = batch.shape[2]
    A = torch.eye(d, dtype=batch.dtype) if A is None else A
    with torch.no_grad():
        for b in range(batch.shape[0]):
            Z = batch[b].clone()
            for _ in range(layers):
                new = torch.empty_like(Z)
                for i in range(Z.shape[0]):
                    scores = Z @ (A @ Z[i])
                    winners = torch.nonzero(scores == scores.max()).flatten()
                    new[i] = (Z[i] + alpha * Z[winners].mean(dim=0)) / (1 + alpha)
                Z = new
            out[b] = Z
    return out
