"""Exact helpers shared by the example lemma files (not a lemma file itself).

Everything here is plain :class:`fractions.Fraction` arithmetic written for
these examples, independent of the library's own geometry code, so that a
lemma checks the run with reasoning of its own.

Each lemma file imports it by name (``load_lemma_file`` puts the file's
folder on ``sys.path`` while importing it, as when running a script)::

    import lemma_helpers as X
"""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from typing import Iterable, Sequence

Vec = tuple[Fraction, ...]
Mat = Sequence[Sequence[Fraction]]

ZERO = Fraction(0)


# --------------------------------------------------------------------------- formatting
def s(x) -> str:
    """One exact number as a string ``"p/q"`` (``str(Fraction)``)."""
    return str(Fraction(x))


def sv(v: Iterable) -> list[str]:
    """A vector as a list of exact strings."""
    return [s(x) for x in v]


def sm(M: Mat | None, d: int | None = None) -> list[list[str]]:
    """A matrix as lists of exact strings (``None`` = the identity of size ``d``)."""
    if M is None:
        M = identity(d)
    return [sv(row) for row in M]


# --------------------------------------------------------------------------- linear algebra
def identity(d: int) -> tuple[tuple[Fraction, ...], ...]:
    return tuple(tuple(Fraction(int(i == j)) for j in range(d)) for i in range(d))


def value_matrix(head, d: int):
    """``V`` of a head with ``None`` (the identity) written out."""
    return head.V if head.V is not None else identity(d)


def matvec(M: Mat, v: Sequence[Fraction]) -> Vec:
    return tuple(sum((Fraction(M[r][c]) * v[c] for c in range(len(v))), ZERO) for r in range(len(M)))


def dot(u: Sequence[Fraction], v: Sequence[Fraction]) -> Fraction:
    return sum((a * b for a, b in zip(u, v)), ZERO)


def sub(u, v) -> Vec:
    return tuple(a - b for a, b in zip(u, v))


def add(u, v) -> Vec:
    return tuple(a + b for a, b in zip(u, v))


def scale(c, v) -> Vec:
    return tuple(c * a for a in v)


def mean(points: Sequence[Sequence[Fraction]]) -> Vec:
    n = len(points)
    return tuple(sum((p[c] for p in points), ZERO) / n for c in range(len(points[0])))


def quad(M: Mat, z) -> Fraction:
    """``<M z, z>``."""
    return dot(matvec(M, z), z)


def parallel_factor(delta: Sequence[Fraction], w: Sequence[Fraction]):
    """``c`` with ``delta = c w`` exactly, or ``None`` when no such ``c`` exists.

    ``w = 0`` admits ``c = 0`` only when ``delta = 0`` (returned as ``0``).
    """
    pivot = next((r for r, x in enumerate(w) if x != 0), None)
    if pivot is None:
        return ZERO if all(x == 0 for x in delta) else None
    c = delta[pivot] / w[pivot]
    return c if all(a == c * b for a, b in zip(delta, w)) else None


def det(M: Mat) -> Fraction:
    n = len(M)
    M = [[Fraction(x) for x in row] for row in M]
    out = Fraction(1)
    for k in range(n):
        p = next((r for r in range(k, n) if M[r][k] != 0), None)
        if p is None:
            return ZERO
        if p != k:
            M[k], M[p] = M[p], M[k]
            out = -out
        out *= M[k][k]
        for r in range(k + 1, n):
            f = M[r][k] / M[k][k]
            for c in range(k, n):
                M[r][c] -= f * M[k][c]
    return out


def is_symmetric(A: Mat) -> bool:
    d = len(A)
    return all(A[i][j] == A[j][i] for i in range(d) for j in range(i))


def is_positive_definite(A: Mat) -> bool:
    """Symmetric and every leading principal minor > 0 (Sylvester), exactly."""
    return is_symmetric(A) and all(det([row[:k] for row in A[:k]]) > 0 for k in range(1, len(A) + 1))


def is_psd(A: Mat) -> bool:
    """Symmetric and every principal minor ≥ 0 (the exact test for semidefiniteness)."""
    if not is_symmetric(A):
        return False
    d = len(A)
    for size in range(1, d + 1):
        for rows in combinations(range(d), size):
            if det([[A[i][j] for j in rows] for i in rows]) < 0:
                return False
    return True


def neg(A: Mat) -> tuple[tuple[Fraction, ...], ...]:
    return tuple(tuple(-Fraction(x) for x in row) for row in A)


def is_negative_definite(A: Mat) -> bool:
    return is_positive_definite(neg(A))


def is_nsd(A: Mat) -> bool:
    return is_psd(neg(A))


def rank(M: Mat) -> int:
    rows = [[Fraction(x) for x in row] for row in M]
    if not rows:
        return 0
    r, cols = 0, len(rows[0])
    for c in range(cols):
        p = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if p is None:
            continue
        rows[r], rows[p] = rows[p], rows[r]
        for i in range(len(rows)):
            if i != r and rows[i][c] != 0:
                f = rows[i][c] / rows[r][c]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r])]
        r += 1
        if r == len(rows):
            break
    return r


def _solve_unique(cols: list[Vec], rhs: Vec):
    """The unique ``mu`` with ``sum mu_t cols[t] = rhs`` (cols independent), or ``None`` if inconsistent."""
    d, m = len(rhs), len(cols)
    aug = [[cols[t][r] for t in range(m)] + [rhs[r]] for r in range(d)]
    row = 0
    where = []
    for c in range(m):
        p = next((i for i in range(row, d) if aug[i][c] != 0), None)
        if p is None:
            return None  # dependent columns: caller skips
        aug[row], aug[p] = aug[p], aug[row]
        piv = aug[row][c]
        aug[row] = [x / piv for x in aug[row]]
        for i in range(d):
            if i != row and aug[i][c] != 0:
                f = aug[i][c]
                aug[i] = [a - f * b for a, b in zip(aug[i], aug[row])]
        where.append(row)
        row += 1
    if any(aug[i][m] != 0 for i in range(row, d)):
        return None  # rhs outside the span
    return [aug[where[t]][m] for t in range(m)]


def affine_dimension(points: Sequence[Vec]) -> int:
    if len(points) <= 1:
        return 0
    p0 = points[0]
    return rank([sub(p, p0) for p in points[1:]])


def hull_certificate(points: Sequence[Sequence[Fraction]], x: Sequence[Fraction]):
    """Exact convex-hull membership: ``(indices, weights)`` with ``x = Σ w_t points[idx_t]``, ``w ≥ 0``,
    ``Σ w = 1``, or ``None`` when ``x ∉ conv(points)``.

    Carathéodory: if ``x`` is in the hull of points whose affine hull has
    dimension ``r``, it is in a closed ``r``-simplex with vertices among the
    points; every affinely independent ``(r+1)``-subset is tried (the
    barycentric coordinates are unique there) and the weights verified. A
    bounding-box test rejects most outside points first.
    """
    x = tuple(Fraction(c) for c in x)
    distinct: dict[Vec, int] = {}
    for i, p in enumerate(points):
        distinct.setdefault(tuple(Fraction(c) for c in p), i)
    P = list(distinct)
    if x in distinct:
        return [distinct[x]], [Fraction(1)]
    d = len(x)
    for c in range(d):
        if not min(p[c] for p in P) <= x[c] <= max(p[c] for p in P):
            return None
    r = affine_dimension(P)
    if r == 0:
        return None
    for subset in combinations(range(len(P)), r + 1):
        base = P[subset[-1]]
        cols = [sub(P[t], base) for t in subset[:-1]]
        mu = _solve_unique(cols, sub(x, base))
        if mu is None or any(m < 0 for m in mu) or sum(mu) > 1:
            continue
        weights = list(mu) + [1 - sum(mu)]
        # verify the certificate exactly
        combo = tuple(sum((w * P[t][c] for w, t in zip(weights, subset)), ZERO) for c in range(d))
        if combo == x:
            return [distinct[P[t]] for t in subset], weights
    return None


def is_vertex(points: Sequence[Sequence[Fraction]], j: int) -> bool:
    """Exactly: is ``points[j]`` a vertex of ``conv(points)`` (not in the hull of the other values)?"""
    x = tuple(points[j])
    others = [p for p in points if tuple(p) != x]
    return not others or hull_certificate(others, x) is None


def distinct_values(state) -> int:
    return len({tuple(z) for z in state})
