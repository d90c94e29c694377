"""Certified limits (SPEC §4) and membership of the limit points in S (P5).

Suppose that at step ``k`` every token follows only *fixed* tokens: there is a
set ``F`` (the leaders, plus any token sitting exactly at the mean of the face
it exposes) whose tokens are their own targets and follow only tokens of
``F``, and ``C^h_i ⊆ F`` for every token and head. While the pattern holds the
tokens of ``F`` never move, so each other token's targets ``m^h_i`` are fixed
and, writing
``c_0 = 1/(1 + Σ α_h)``, ``m_i = Σ_h c_h m^h_i / (1 - c_0)``::

    z_i^{k+t} = m_i + λ (z_i^k - m_i),    λ = c_0^t ∈ (0, 1].

Along this straight-line motion every score is a polynomial of degree ≤ 2 in λ,

    s_ij(λ) = <A m_i, m_j> + λ (<A m_i, e_j> + <A e_i, m_j>) + λ² <A e_i, e_j>,
    e_i = z_i^k - m_i   (e_i = 0 for leaders),

and the pattern is **frozen** if, for every row, the followed scores stay
identically equal and strictly above every other score for all
``λ ∈ (0, 1]``. That is decided exactly (a quadratic's sign on an interval),
and then it holds for all later steps by induction, so the limit is exact:
``m_i`` for followers and ``z_i^k`` for the tokens of ``F``.

P5 then asks, for every limit point ``x``, whether ``x ∈ S``: ``x ∈ K =
conv(leaders)`` (an exact hull certificate) and ``<A x, x> = max_{y ∈ K} <A x, y>
= max_l <A x, z_l>`` over the leaders (the maximum of a linear function over a
polytope is attained at a vertex).

A config with irrational algebraic entries (``sqrt(2)``, ``cos(2*pi/5)``) runs on the
algebraic engine over its number field ``K``: every quantity above is then an element of ``K``,
and every test (equal coefficients, the quadratic's sign on ``(0, 1]``, hull membership, the
maximum over the leaders) is the same exact test over ``K`` (exact ``+ − × ÷`` and exact signs,
:mod:`dynamics.number_field`). The limit is exact in ``K``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

from dynamics.backends.exact import ExactEngine
from dynamics.budget import check_memory
from dynamics.engine import iterate_layers
from dynamics.config import Config
from dynamics.errors import InputError
from dynamics.floats import approx_float, json_number
from dynamics.numbers import format_exact
from dynamics.rules import leaders as leaders_rule
from dynamics.rules import step_weights, union_follow

from .exact import exact_rows
from .geometry import hull_membership

__all__ = ["LimitResult", "certified_limit", "positive_on_unit_interval"]


def positive_on_unit_interval(a: Fraction, b: Fraction, c: Fraction) -> bool:
    """Exactly: is ``a λ² + b λ + c > 0`` for every ``λ ∈ (0, 1]``?

    Exact for coefficients in ``Q`` or in any real number field (only ``+ − × ÷`` and exact
    comparisons): ``q(1) > 0``; ``q(0⁺) ≥ 0`` from ``c``, then ``b``, then ``a``; and for a
    convex ``q`` whose vertex ``-b/2a`` lies in ``(0, 1)``, ``q(vertex) = c - b²/4a > 0``. A
    concave or linear ``q`` has its minimum over ``[0, 1]`` at an end.
    """
    if a + b + c <= 0:  # λ = 1
        return False
    if c < 0:  # negative just right of 0
        return False
    if c == 0 and (b < 0 or (b == 0 and a <= 0)):
        return False
    if a > 0:  # convex: check the vertex if it lies inside (0, 1)
        vertex = -b / (2 * a)
        if 0 < vertex < 1 and c - b * b / (4 * a) <= 0:
            return False
    return True


@dataclass
class LimitResult:
    """Outcome of :func:`certified_limit`."""

    certified: bool
    certified_at: int | None
    steps_run: int
    limit: list[list[Fraction]] | None = None  # Fractions, or number-field elements for an algebraic config
    clusters: list[list[int]] | None = None
    leaders: tuple[int, ...] = ()
    in_S: list[bool] | None = None
    reason: str = ""
    elapsed_s: float = 0.0
    gaps: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "certified": self.certified,
            "certified_at": self.certified_at,
            "steps_run": self.steps_run,
            "limit": None if self.limit is None else [[format_exact(x) for x in row] for row in self.limit],
            "clusters": self.clusters,
            "leaders": list(self.leaders),
            "in_S": self.in_S,
            "reason": self.reason,
            "max_gap_by_step": [json_number(g) for g in self.gaps],
            "elapsed_s": round(self.elapsed_s, 6),
        }


def _matvec(A, z) -> list[Fraction]:
    return [sum((A[r][c] * z[c] for c in range(len(z))), Fraction(0)) for r in range(len(A))]


def _dot(u, v) -> Fraction:
    return sum((x * y for x, y in zip(u, v)), Fraction(0))


def _mean(points: Sequence[Sequence[Fraction]]) -> list[Fraction]:
    return [sum(col, Fraction(0)) / len(points) for col in zip(*points)]


def _targets(Z, per_head, c0, ch) -> list[list[Fraction]]:
    """``m_i = Σ_h c_h mean(C^h_i) / (1 - c_0)``: the point token ``i`` moves toward this step."""
    out = []
    for i in range(len(Z)):
        acc = [Fraction(0)] * len(Z[0])
        for c, follow in zip(ch, per_head):
            m = _mean([Z[j] for j in follow[i]])
            acc = [x + c * y for x, y in zip(acc, m)]
        out.append([x / (1 - c0) for x in acc])
    return out


def fixed_set(Z, per_head, targets) -> set[int]:
    """The largest set F of tokens that are their own targets and follow only tokens of F.

    Leaders are in F; so is a token sitting exactly at the mean of the face it
    exposes (it ties with itself and others on that face and never moves).
    """
    F = {i for i in range(len(Z)) if targets[i] == list(Z[i])}
    changed = True
    while changed:
        changed = False
        for i in list(F):
            if any(j not in F for follow in per_head for j in follow[i]):
                F.discard(i)
                changed = True
    return F


def _score_coefficients(Am_i, Ae_i, m_j, e_j) -> tuple[Fraction, Fraction, Fraction]:
    """``(a, b, c)`` with ``s_ij(λ) = a λ² + b λ + c`` for ``z_i = m_i + λ e_i``, ``z_j = m_j + λ e_j``."""
    return _dot(Ae_i, e_j), _dot(Am_i, e_j) + _dot(Ae_i, m_j), _dot(Am_i, m_j)


def _frozen(Z, per_head, F, targets, heads) -> bool:
    """Is the follow pattern of this state frozen for all later steps (SPEC §4)?

    Tokens of ``F`` stay fixed while the pattern holds; every other token
    follows only tokens of ``F`` and moves on ``m_i + λ e_i``. Checks exactly
    that every row's followed scores stay identical and strictly above the
    others for all ``λ ∈ (0, 1]``.
    """
    n = len(Z)
    E = [[z - m for z, m in zip(Z[i], targets[i])] for i in range(n)]
    limit = [list(Z[i]) if i in F else targets[i] for i in range(n)]
    for head, follow in zip(heads, per_head):
        A = head.A
        AM = [_matvec(A, m) for m in limit]
        AE = [_matvec(A, e) for e in E]
        for i in range(n):
            C = follow[i]
            best = _score_coefficients(AM[i], AE[i], limit[C[0]], E[C[0]])
            if any(_score_coefficients(AM[i], AE[i], limit[j], E[j]) != best for j in C[1:]):
                return False
            chosen = set(C)
            for l in range(n):
                if l in chosen:
                    continue
                other = _score_coefficients(AM[i], AE[i], limit[l], E[l])
                if not positive_on_unit_interval(*(x - y for x, y in zip(best, other))):
                    return False
    return True


def _in_S(x, leader_points, A) -> bool:
    cert = hull_membership(leader_points, x)
    if not cert.inside:
        return False
    Ax = _matvec(A, x)
    return _dot(Ax, x) == max(_dot(Ax, y) for y in leader_points)


def _engine(config: Config):
    """The exact engine for a rational config, the algebraic one over its number field for an algebraic one."""
    if config.is_rational:
        return ExactEngine(config)
    from dynamics.backends.algebraic import AlgebraicEngine

    return AlgebraicEngine(config)


def certified_limit(config: Config, max_steps: int = 200, max_memory: int | None = None) -> LimitResult:
    """Run the exact engine until the follow pattern is provably frozen, then return the exact limit.

    Parameters
    ----------
    config
        A configuration with rational entries (run on the exact engine) or real algebraic ones
        (``sqrt(2)``, ``cos(2*pi/5)``: run on the algebraic engine, the limit exact in their number
        field); any A (``in_S`` is evaluated for one head), every ``V = I`` and every ``alpha > 0``. With a layer schedule of
        ``L`` entries the pattern is tested from layer ``L - 1`` on (the
        layers are the same from there), with the last entry's parameters.
    max_steps
        Step budget. If the pattern is not frozen by then, ``certified`` is
        False and ``reason`` says so.
    max_memory
        Bytes the run may use (default: what is available). The exact numbers
        grow with the steps; a budget whose last state could not fit is
        refused before the work (:func:`dynamics.budget.check_memory`).
    """
    engine = _engine(config)
    exact = getattr(engine, "exact_config", config)  # entries in the number field for the algebraic engine
    if not config.identity_values:
        raise InputError(f"{config.source}: a certified limit needs V = I in every head (with a value matrix the "
                         "fixed tokens move, so the straight-line argument of SPEC §4 does not apply)")
    if any(h.alpha <= 0 for _, h in exact.all_heads()):
        # λ = c_0^t ∈ (0, 1] and the convex motion toward m_i need every alpha > 0.
        raise InputError(f"{config.source}: a certified limit needs every alpha > 0 (the motion toward the "
                         "limit is a contraction only then)")
    check_memory(config, max_steps, engine.backend, max_memory, keep_states=False)
    start = time.perf_counter()
    last_entry = len(config.schedule) - 1  # from layer L-1 on, every layer is the same
    gaps: list[float] = []
    none_fixed = True
    for item in iterate_layers(engine, max_steps):
        k, state, per_head = item.k, item.state, item.follow_by_head
        heads = exact.heads_at(k)
        union = union_follow(per_head)
        keys = engine.keys(state)
        leader_set = set(leaders_rule(union, keys))
        Z = exact_rows(state)
        gaps.append(_max_gap(Z, heads[0].A, per_head[0]))
        if k < last_entry:
            continue
        c0, ch = step_weights([h.alpha for h in heads])
        targets = _targets(Z, per_head, c0, ch)
        F = fixed_set(Z, per_head, targets)
        none_fixed = not F
        if F and all(all(j in F for j in union[i]) for i in range(len(Z))) \
                and _frozen(Z, per_head, F, targets, heads):
            limit = [list(Z[i]) if i in F else targets[i] for i in range(len(Z))]
            groups: dict[tuple, list[int]] = {}
            for i, x in enumerate(limit):
                groups.setdefault(tuple(x), []).append(i)
            leader_points = [tuple(Z[i]) for i in sorted(leader_set)]
            in_S = None
            if len(heads) == 1 and leader_points:
                in_S = [_in_S(x, leader_points, heads[0].A) for x in limit]
            return LimitResult(
                certified=True, certified_at=k, steps_run=k, limit=limit,
                clusters=list(groups.values()), leaders=tuple(sorted(leader_set)), in_S=in_S,
                reason="" if in_S is not None else "several heads (S is defined for one head) or no leader",
                elapsed_s=time.perf_counter() - start, gaps=gaps,
            )
    return LimitResult(
        certified=False, certified_at=None, steps_run=max_steps,
        reason=f"follow pattern not provably frozen within {max_steps} steps"
               + ("; no token is fixed at the last step (no leader and no token at its own target), so the "
                  "certificate, which extends from fixed tokens, cannot start" if none_fixed else ""),
        elapsed_s=time.perf_counter() - start, gaps=gaps,
    )


def _max_gap(Z, A, follow) -> float:
    """``max_i g_i = max_i (max_j s_ij - s_ii)`` as a float (g_i ≥ 0; → 0 for tokens that converge into S)."""
    worst = Fraction(0)
    for i, z in enumerate(Z):
        Az = _matvec(A, z)
        worst = max(worst, _dot(Az, Z[follow[i][0]]) - _dot(Az, z))
    return approx_float(worst)
