"""Exact arithmetic for the checkers, independent of the engines.

The checkers must not re-use the engines' reasoning, so scores, follow sets
and leaders are recomputed here from the *states* alone, in integers (the
score products with FLINT ``fmpz_mat``, everything else in Python integers; no
common code with ``dynamics.backends``):

    state  Z = N / D  (N integer rows, D > 0 a common denominator)
    A      = M / a    (M integer, a > 0)
    s_ij   = <A z_i, z_j> = (M N_i) · N_j / (a D²)

so within row ``i`` the integer ``(M N_i) · N_j`` orders the scores exactly.

Float states are exact dyadic rationals (every IEEE double is), so a float
trajectory is checked exactly too: the checkers judge the float states that
the float code actually produced.

States of the algebraic engine in an irrational field ``K = Q(θ)`` are rows of
:class:`~dynamics.number_field.FieldElement` (exact ``+ − × ÷``, exact ``==`` and exact order).
They take the same code with the denominator ``D = 1`` and the "integers" being field elements:
scores are products in ``K``, and ``max``/``==`` on them are exact comparisons, ties included.
(A field's Python products replace FLINT's integer matrices there.)
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from dynamics.errors import InputError
from dynamics.number_field import FieldElement
from dynamics.rational import RationalMatrix

Rows = list[list[Fraction]]

__all__ = [
    "exact",
    "exact_rows",
    "is_field_valued",
    "IntState",
    "ScoreMatrix",
    "integer_matrix",
    "follow_sets",
    "leaders_of",
    "is_symmetric",
    "is_positive_definite",
    "satisfies_H",
]


def require_finite(traj) -> None:
    """Refuse (one line) a float trajectory whose tokens overflowed to inf/NaN: no exact value to judge."""
    for k, state in enumerate(traj.states):
        if isinstance(state, np.ndarray) and not np.isfinite(state).all():
            dtype = traj.info.get("dtype", "float")
            raise InputError(f"the {traj.backend} {dtype} run overflowed: its tokens are not finite from step {k} "
                             "on, so it cannot be judged exactly (use the exact or certified backend, or smaller "
                             "tokens)")


def exact(x: Any):
    """``x`` as an exact number: a field element as it is, anything else as a :class:`~fractions.Fraction`."""
    return x if isinstance(x, FieldElement) else Fraction(x)


def is_field_valued(rows) -> bool:
    """True if the rows hold number-field elements (an algebraic state or matrix) rather than rationals."""
    return any(isinstance(x, FieldElement) for row in rows for x in row)


def exact_rows(state: Any) -> list[list]:
    """The exact value of a state from any backend except interval: rows of Fractions, or of field
    elements for an algebraic state in an irrational field (in ``Q`` they are read as Fractions)."""
    if isinstance(state, RationalMatrix):
        return state.fractions()
    if isinstance(state, np.ndarray):
        return [[Fraction(float(x)) for x in row] for row in state]
    if isinstance(state, tuple) and state and isinstance(state[0][0], FieldElement):
        if state[0][0].field.degree <= 1:
            return [[x.to_fraction() for x in row] for row in state]
        return [list(row) for row in state]
    raise TypeError("interval states are enclosures, not exact values; check exact or float trajectories")


class IntState:
    """A state as integer rows over a common denominator (computed here, independently); a state over a
    number field keeps its elements as the "integers", over ``den = 1``."""

    __slots__ = ("rows", "den", "fractions")

    def __init__(self, rows: Rows):
        self.fractions = rows
        if is_field_valued(rows):
            self.rows, self.den = [list(row) for row in rows], 1
            return
        den = 1
        for row in rows:
            for x in row:
                den = math.lcm(den, x.denominator)
        self.den = den
        self.rows = [[x.numerator * (den // x.denominator) for x in row] for row in rows]

    @classmethod
    def from_ints(cls, rows, den: int) -> "IntState":
        """A state given as integer rows over a positive common denominator (no Fractions built)."""
        state = cls.__new__(cls)
        state.rows, state.den, state.fractions = [list(r) for r in rows], int(den), None
        return state

    def key(self, i: int) -> tuple[int, ...]:
        return tuple(self.rows[i])


def integer_matrix(A: Sequence[Sequence[Fraction]]) -> list[list[int]]:
    """``A`` times the lcm of its denominators (a positive factor); a matrix over a number field as it is
    (the factor 1: its entries are the exact "integers" of :class:`IntState` over a field)."""
    if is_field_valued(A):
        return [list(row) for row in A]
    scale = 1
    for row in A:
        for x in row:
            scale = math.lcm(scale, Fraction(x).denominator)
    return [[int(Fraction(x) * scale) for x in row] for row in A]


def score_rows(state: IntState, M) -> list:
    """Integer scores proportional (per row, positive factor) to ``<A z_i, z_j>``: ``(N Mᵀ) Nᵀ``, exactly.

    ``M`` is integer rows or a :class:`ScoreMatrix`. Computed as FLINT integer matrix products
    (3-5× faster than Python loops at n = 12); the entries are exact integers (``fmpz``),
    compared exactly by the callers.
    """
    from flint import fmpz_mat

    if isinstance(M, ScoreMatrix) and M.field or not isinstance(M, ScoreMatrix) and is_field_valued(M) \
            or is_field_valued(state.rows):
        return _field_scores(state.rows, M.rows if isinstance(M, ScoreMatrix) else M)
    MT = M.transposed if isinstance(M, ScoreMatrix) else fmpz_mat(M).transpose()
    N = fmpz_mat(state.rows)
    rows = N if MT is None else N * MT
    return (rows * N.transpose()).tolist()


def _dot(u, v):
    total = u[0] * v[0]
    for a, b in zip(u[1:], v[1:]):
        total = total + a * b
    return total


def _field_scores(rows, M) -> list:
    """``(N Mᵀ) Nᵀ`` in exact Python arithmetic (entries of a number field, or integers mixed with them)."""
    d = len(M)
    scalar = all(M[i][j] == (M[0][0] if i == j else 0) for i in range(d) for j in range(d))
    if scalar and M[0][0] == 1:
        queries = rows
    else:
        queries = [[_dot(M[r], z) for r in range(d)] for z in rows]
    return [[_dot(q, w) for w in rows] for q in queries]


class ScoreMatrix:
    """An integer score matrix ``M`` (a positive multiple of ``A``) with its FLINT transpose built once
    (``transposed`` is ``None`` for a positive multiple of the identity: no product needed)."""

    __slots__ = ("rows", "transposed", "field")

    def __init__(self, rows: list[list[int]]):
        from flint import fmpz_mat

        self.rows = rows
        self.field = is_field_valued(rows)
        if self.field:  # entries of a number field: products in Python (_field_scores)
            self.transposed = None
            return
        d = len(rows)
        scalar = rows[0][0] > 0 and all(rows[i][j] == (rows[0][0] if i == j else 0)
                                        for i in range(d) for j in range(d))
        self.transposed = None if scalar else fmpz_mat(rows).transpose()


def follow_sets(state: IntState, Ms: Sequence, diagonals: list | None = None
                ) -> list[tuple[tuple[int, ...], ...]]:
    """Per head, ``C^h_i = argmax_j s^h_ij`` exactly (``Ms``: integer rows or :class:`ScoreMatrix` per head).

    ``diagonals``, if given, receives per head the integer self-scores ``<M N_i, N_i>`` (a positive
    multiple ``a D²`` of ``<A z_i, z_i>``), which the scores already hold.
    """
    out = []
    for M in Ms:
        follow = []
        rows = score_rows(state, M)
        for row in rows:
            best = max(row)
            follow.append((row.index(best),) if row.count(best) == 1 else
                          tuple(j for j, s in enumerate(row) if s == best))
        out.append(tuple(follow))
        if diagonals is not None:
            diagonals.append([rows[i][i] for i in range(len(rows))])
    return out


def leaders_of(state: IntState, per_head) -> tuple[int, ...]:
    """Tokens whose follow sets (every head) hold only copies of themselves."""
    n = len(state.rows)
    rows = state.rows
    if len(per_head) == 1:
        return tuple(i for i, c in enumerate(per_head[0]) if c == (i,) or all(rows[j] == rows[i] for j in c))
    return tuple(
        i for i in range(n)
        if all(j == i or rows[j] == rows[i] for follow in per_head for j in follow[i])
    )


def is_symmetric(A: Sequence[Sequence[Fraction]]) -> bool:
    d = len(A)
    return all(A[i][j] == A[j][i] for i in range(d) for j in range(i))


def is_positive_definite(A: Sequence[Sequence[Fraction]]) -> bool:
    """Exact test for a symmetric ``A``: all pivots of Gaussian elimination (LDLᵀ) positive."""
    d = len(A)
    M = [[exact(x) for x in row] for row in A]
    for k in range(d):
        if M[k][k] <= 0:
            return False
        for i in range(k + 1, d):
            factor = M[i][k] / M[k][k]
            for j in range(k, d):
                M[i][j] -= factor * M[k][j]
    return True


def satisfies_H(heads) -> bool:
    """Hypothesis H: every head's ``A`` symmetric positive definite and ``alpha > 0``."""
    return all(
        is_symmetric(h.A) and is_positive_definite(h.A) and exact(h.alpha) > 0 for h in heads
    )
