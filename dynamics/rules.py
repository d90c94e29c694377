"""The model's rules, stated once and shared by every backend (SPEC §1).

For tokens ``Z = (z_1, ..., z_n)`` and heads ``(A_h, alpha_h)``:

* score ``s^h_ij = <A_h z_i, z_j>``;
* follow set ``C^h_i = {j : s^h_ij = max_l s^h_il}`` (all maximisers);
* hardmax attention ``P^h_ij = 1/|C^h_i|`` on ``C^h_i``, 0 elsewhere;
* one layer::

      z_i+ = (z_i + sum_h alpha_h * mean_{j in C^h_i} z_j) / (1 + sum_h alpha_h)
           = c_0 z_i + sum_h c_h m^h_i,   c_0 = 1/(1+sum alpha),  c_h = alpha_h/(1+sum alpha)

* leader: token ``i`` whose follow sets (all heads) hold only copies of itself,
  ``C_i ⊆ {j : z_j = z_i}``; such a token does not move in that step.

With several heads the follow set reported for token ``i`` is the union over
heads, ``C_i = ∪_h C^h_i``; a leader is a leader of every head.

The backends differ only in arithmetic (exact integers, intervals, floats);
the bookkeeping below (step weights, follow sets, leaders, clusters) is
common to all of them.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Hashable, Iterable, Sequence

FollowSets = tuple[tuple[int, ...], ...]
"""``follow[i]`` is the sorted tuple of indices ``C_i``."""

__all__ = [
    "FollowSets",
    "step_weights",
    "union_follow",
    "leaders",
    "clusters",
]


def step_weights(alphas: Sequence[Fraction]) -> tuple[Fraction, tuple[Fraction, ...]]:
    """Weights ``(c_0, (c_1, ..., c_H))`` of the layer update.

    ``z_i+ = c_0 z_i + sum_h c_h m^h_i`` with ``c_0 = 1/(1 + sum alpha_h)`` and
    ``c_h = alpha_h/(1 + sum alpha_h)``; the weights sum to 1, so each token
    moves to a convex combination of itself and the face means when every
    ``alpha_h > 0``. Exact for rational alphas (Fractions) and for alphas in a number field
    (:class:`~dynamics.number_field.FieldElement`), whose weights are elements of that field.
    """
    total = 1 + sum(alphas, Fraction(0))
    if total == 0:
        raise ValueError("1 + sum(alpha) is 0: the normalisation is undefined")
    return 1 / total, tuple(a / total for a in alphas)


def union_follow(per_head: Sequence[FollowSets]) -> FollowSets:
    """``C_i = ∪_h C^h_i`` for every token (identity for a single head)."""
    if len(per_head) == 1:
        return per_head[0]
    n = len(per_head[0])
    return tuple(tuple(sorted(set().union(*(f[i] for f in per_head)))) for i in range(n))


def leaders(follow: FollowSets, keys: Sequence[Hashable]) -> tuple[int, ...]:
    """Leaders: tokens whose follow set holds only copies of themselves.

    Parameters
    ----------
    follow
        ``follow[i] = C_i`` (union over heads).
    keys
        ``keys[i] == keys[j]`` exactly when ``z_i = z_j`` (in the backend's
        arithmetic: exact for the exact engine, bitwise for floats).
    """
    uniform: dict[tuple, Hashable] = {}  # per distinct follow set: the key all its tokens share, or _MIXED
    out = []
    for i, c in enumerate(follow):
        if c == (i,) or not len(c):
            out.append(i)
            continue
        if type(c) is not tuple:
            c = tuple(c)
        if c not in uniform:
            first = keys[c[0]]
            uniform[c] = first if all(keys[j] == first for j in c) else _MIXED
        if uniform[c] == keys[i]:
            out.append(i)
    return tuple(out)


_MIXED = object()  # a follow set whose tokens are not all equal: no token's key equals it


def clusters(keys: Iterable[Hashable]) -> list[list[int]]:
    """Groups of indices with equal keys, in order of first appearance."""
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return list(groups.values())
