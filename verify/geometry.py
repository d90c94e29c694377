"""Exact convex geometry with certificates: hull membership and vertices.

Every answer carries a certificate that is verified in exact arithmetic:

* ``x ∈ conv(P)``: convex weights ``λ ≥ 0``, ``Σλ = 1``, ``Σ λ_j p_j = x``;
* ``x ∉ conv(P)``: a separating hyperplane ``(w, b)`` with ``<w, p> ≤ b`` for
  every ``p ∈ P`` and ``<w, x> > b``.

Fast path: a float non-negative least-squares fit (SciPy) proposes the
support of ``λ``; the weights are then re-solved *exactly* on that support
and checked. Whenever that fails (degenerate or unlucky float answers), an
exact phase-I simplex with Bland's rule decides, and its final duals give
the Farkas certificate (the hyperplane). The float step only ever proposes;
only exactly verified certificates are returned.

The same code decides over a real number field: points whose coordinates are
:class:`~dynamics.number_field.FieldElement` (an algebraic run) take the same
exact elimination and simplex, whose every step is ``+ − × ÷`` and an exact
sign, and certificates with entries in that field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np
from scipy.optimize import nnls

from dynamics.floats import approx_float
from dynamics.number_field import FieldElement

Point = Sequence[Fraction]

__all__ = ["HullCertificate", "hull_membership", "is_vertex", "verify_certificate"]


@dataclass(frozen=True)
class HullCertificate:
    """Answer to ``x ∈ conv(P)?`` with its exact certificate.

    ``inside`` True: ``weights[j]`` are convex weights over ``P``.
    ``inside`` False: ``normal``/``offset`` separate, and ``margin`` =
    ``<w, x> - b > 0`` (scale-dependent; ``distance`` = margin/|w| as a float).
    """

    inside: bool
    weights: tuple[Fraction, ...] | None = None
    normal: tuple[Fraction, ...] | None = None
    offset: Fraction | None = None
    margin: Fraction | None = None

    @property
    def distance(self) -> float:
        """Euclidean distance of ``x`` beyond the separating hyperplane (0 if inside)."""
        if self.inside:
            return 0.0
        norm2 = sum(w * w for w in self.normal)
        return approx_float(self.margin * self.margin / norm2) ** 0.5 if norm2 else float("inf")


def _exact(x):
    return x if isinstance(x, FieldElement) else Fraction(x)


def _log2(v) -> int:
    """About ``log2 |v|`` for a nonzero exact number (to scale floats; only proposals depend on it)."""
    if isinstance(v, FieldElement):
        value = abs(float(v))
        return 1100 if value == math.inf else (math.frexp(value)[1] if value else -1100)
    return v.numerator.bit_length() - v.denominator.bit_length()


def _dot(u: Sequence[Fraction], v: Sequence[Fraction]) -> Fraction:
    return sum((a * b for a, b in zip(u, v)), Fraction(0))


def verify_certificate(points: Sequence[Point], x: Point, cert: HullCertificate) -> bool:
    """Check a certificate exactly (independent of how it was found)."""
    d = len(x)
    if cert.inside:
        w = cert.weights
        if w is None or len(w) != len(points) or any(l < 0 for l in w) or sum(w) != 1:
            return False
        return all(sum((l * p[k] for l, p in zip(w, points)), Fraction(0)) == x[k] for k in range(d))
    if cert.normal is None or cert.offset is None:
        return False
    return all(_dot(cert.normal, p) <= cert.offset for p in points) and _dot(cert.normal, x) > cert.offset


def _solve_exact(columns: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction] | None:
    """Exact solution of ``C λ = rhs`` for the given columns (least-squares-free; None if inconsistent).

    Gaussian elimination on the augmented system; free variables are set to 0.
    """
    rows, cols = len(rhs), len(columns)
    M = [[columns[j][i] for j in range(cols)] + [rhs[i]] for i in range(rows)]
    pivots = []
    r = 0
    for c in range(cols):
        pivot = next((i for i in range(r, rows) if M[i][c] != 0), None)
        if pivot is None:
            continue
        M[r], M[pivot] = M[pivot], M[r]
        inv = 1 / M[r][c]
        M[r] = [v * inv for v in M[r]]
        for i in range(rows):
            if i != r and M[i][c] != 0:
                f = M[i][c]
                M[i] = [a - f * b for a, b in zip(M[i], M[r])]
        pivots.append(c)
        r += 1
        if r == rows:
            break
    if any(all(v == 0 for v in M[i][:cols]) and M[i][cols] != 0 for i in range(rows)):
        return None
    solution = [Fraction(0)] * cols
    for i, c in enumerate(pivots):
        solution[c] = M[i][cols]
    return solution


def _float_proposal(points: Sequence[Point], x: Point) -> HullCertificate | None:
    """NNLS in floats proposes a support; weights are re-solved and checked exactly."""
    m, d = len(points), len(x)
    # Scale the coordinates by one power of two (λ is unchanged) so that the floats neither
    # overflow nor all underflow, whatever the magnitude of the exact numbers.
    top = max((_log2(v) for p in (*points, x) for v in p if v), default=0)
    scale = Fraction(2) ** -top
    A = np.empty((d + 1, m))
    A[:d] = np.array([[approx_float(v * scale) for v in p] for p in points]).T
    A[d] = 1.0
    b = np.array([approx_float(v * scale) for v in x] + [1.0])
    scale = max(1.0, float(np.abs(A).max()))
    weights, residual = nnls(A / scale, b / scale)
    if residual > 1e-6:
        return None
    support = [j for j in range(m) if weights[j] > 1e-12]
    if not support:
        return None
    columns = [list(points[j]) + [Fraction(1)] for j in support]
    exact = _solve_exact(columns, list(x) + [Fraction(1)])
    if exact is None or any(v < 0 for v in exact):
        return None
    full = [Fraction(0)] * m
    for j, v in zip(support, exact):
        full[j] = v
    cert = HullCertificate(inside=True, weights=tuple(full))
    return cert if verify_certificate(points, x, cert) else None


def _simplex(points: Sequence[Point], x: Point) -> HullCertificate:
    """Exact phase-I simplex (revised, Bland's rule) for ``[P; 1] λ = [x; 1]``, ``λ ≥ 0``.

    Infeasible: the optimal phase-I duals ``y`` satisfy ``yᵀ[p; 1] ≤ 0`` for
    every column and ``yᵀ[x; 1] > 0``; with ``y = (w, γ)`` the hyperplane
    ``<w, ·> = -γ`` separates ``x`` from ``P``.
    """
    m, d = len(points), len(x)
    r = d + 1
    A = [[_exact(p[i]) for p in points] for i in range(d)] + [[Fraction(1)] * m]
    b = [_exact(v) for v in x] + [Fraction(1)]
    sign = [1 if v >= 0 else -1 for v in b]
    A = [[sign[i] * v for v in A[i]] for i in range(r)]
    b = [sign[i] * b[i] for i in range(r)]
    # columns 0..m-1: λ; m..m+r-1: artificials (identity)
    cost = [Fraction(0)] * m + [Fraction(1)] * r

    def column(j: int) -> list[Fraction]:
        if j < m:
            return [A[i][j] for i in range(r)]
        return [Fraction(int(i == j - m)) for i in range(r)]

    basis = [m + i for i in range(r)]
    Binv = [[Fraction(int(i == k)) for k in range(r)] for i in range(r)]
    xB = list(b)
    while True:
        y = [sum((cost[basis[i]] * Binv[i][k] for i in range(r)), Fraction(0)) for k in range(r)]
        entering = None
        for j in range(m + r):
            if j in basis:
                continue
            reduced = cost[j] - sum((y[k] * v for k, v in enumerate(column(j))), Fraction(0))
            if reduced < 0:
                entering = j
                break
        if entering is None:
            break
        col = column(entering)
        u = [sum((Binv[i][k] * col[k] for k in range(r)), Fraction(0)) for i in range(r)]
        leaving, best = None, None
        for i in range(r):
            if u[i] > 0:
                ratio = xB[i] / u[i]
                if best is None or ratio < best or (ratio == best and basis[i] < basis[leaving]):
                    leaving, best = i, ratio
        if leaving is None:  # cannot happen: phase I is bounded below by 0
            raise RuntimeError("unbounded phase-I simplex")
        pivot = u[leaving]
        Binv[leaving] = [v / pivot for v in Binv[leaving]]
        xB[leaving] = xB[leaving] / pivot
        for i in range(r):
            if i != leaving and u[i] != 0:
                f = u[i]
                Binv[i] = [a - f * c for a, c in zip(Binv[i], Binv[leaving])]
                xB[i] -= f * xB[leaving]
        basis[leaving] = entering
    objective = sum((xB[i] for i in range(r) if basis[i] >= m), Fraction(0))
    if objective == 0:
        weights = [Fraction(0)] * m
        for i, j in enumerate(basis):
            if j < m:
                weights[j] = xB[i]
        return HullCertificate(inside=True, weights=tuple(weights))
    yy = [y[i] * sign[i] for i in range(r)]
    normal, gamma = tuple(yy[:d]), yy[d]
    offset = -gamma
    return HullCertificate(inside=False, normal=normal, offset=offset, margin=_dot(normal, x) - offset)


def hull_membership(points: Sequence[Point], x: Point) -> HullCertificate:
    """Decide ``x ∈ conv(points)`` exactly, with a verified certificate.

    Raises ``AssertionError`` only if a certificate fails its own exact check,
    which would be a bug in this module.
    """
    for j, p in enumerate(points):
        if tuple(p) == tuple(x):
            weights = [Fraction(0)] * len(points)
            weights[j] = Fraction(1)
            return HullCertificate(inside=True, weights=tuple(weights))
    cert = _float_proposal(points, x)
    if cert is None:
        cert = _simplex(points, x)
    if not verify_certificate(points, x, cert):
        raise AssertionError("hull certificate failed exact verification")
    return cert


def is_vertex(points: Sequence[Point], i: int, normal_hint: Point | None = None) -> HullCertificate:
    """Is ``points[i]`` a vertex (extreme point) of ``conv(points)``?

    Returns the certificate of ``points[i] ∈ conv(other distinct points)``:
    ``inside=False`` (with a hyperplane exposing ``points[i]`` alone) means it
    is a vertex. ``normal_hint``: a candidate exposing normal tried first
    (for a leader, ``A z_i``), accepted only if it verifies exactly.
    """
    x = tuple(points[i])
    others = [tuple(p) for p in points if tuple(p) != x]
    if not others:
        return HullCertificate(inside=False, normal=tuple(Fraction(0) for _ in x), offset=Fraction(-1),
                               margin=Fraction(1))
    if normal_hint is not None:
        w = tuple(_exact(v) for v in normal_hint)
        offset = max(_dot(w, p) for p in others)
        if _dot(w, x) > offset:
            return HullCertificate(inside=False, normal=w, offset=offset, margin=_dot(w, x) - offset)
    return hull_membership(others, x)
