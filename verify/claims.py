"""Checkers for the claims of SPEC §2: a trajectory in, a verdict with a witness out.

Every checker reads a :class:`~dynamics.trajectory.Trajectory` from the exact,
float or torch backend and judges the *states* exactly: scores, follow sets
and leaders are recomputed independently (:mod:`verify.exact`), and the
geometric claims use certificates verified in exact arithmetic
(:mod:`verify.geometry`). On the exact backend a verdict is a proof about that
run; on a float backend it measures how rounding breaks the claim: every
checker scans the whole run and reports the number of violations and their
largest size, not only the first witness.

=====  ========================================================================
P1     hull monotonicity: every token of ``Z^{k+1}`` lies in ``conv(Z^k)``
P2     leader persistence: a leader at step k stays put and stays a leader
P3     every step has at least one leader
P4     hyperplane separation: ``C_i`` is exactly the set of tokens on the
       supporting hyperplane ``{x : <A z_i, x> = max_l <A z_i, z_l>}``
P5     convergence to S: certified limit, every limit point in S (limits.py)
D1     every leader is an exposed vertex of ``conv(Z^k)``
D2     ``<A z_i^{k+1}, z_i^{k+1}> >= <A z_i^k, z_i^k>`` (claimed under H)
D3     P2 outside H (nonsymmetric or indefinite A)
=====  ========================================================================
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from dynamics.config import Config
from dynamics.floats import approx_float
from dynamics.number_field import FieldElement
from dynamics.numbers import format_exact
from dynamics.trajectory import Trajectory

from .exact import integer_matrix
from .geometry import hull_membership, is_vertex
from .lemmas import Lemma, Registry, lemma, not_claimed
from .run import Run, Verdict

CLAIMS = ("P1", "P2", "P3", "P4", "P5", "D1", "D2", "D3")
FINITE_CLAIMS = ("P1", "P2", "P3", "P4", "D1", "D2", "D3")

__all__ = ["CLAIMS", "FINITE_CLAIMS", "BUILTIN_LEMMAS", "Verdict", "Run", "check", "check_all", "claimed_verdict",
           "evaluate"]

_NOT_H = ("symmetric", "indefinite", "nonsymmetric")


def _fmt(values) -> list[str]:
    return [format_exact(v) for v in values]


def builtin(name: str, title: str, statement: str, **declaration: Any):
    """Register a built-in claim: the same :func:`~verify.lemmas.lemma` as a user's, with source ``built-in``."""

    kind = declaration.pop("kind", "finite")

    def decorate(checker) -> Lemma:
        item = lemma(name, statement, **declaration)(checker)
        item.source, item.title, item.kind = "built-in", title, kind  # "limit": P5 alone (a certified limit)
        return item

    return decorate


@builtin("P1", "hull monotonicity", "conv(Z^{k+1}) ⊆ conv(Z^k); every token stays in conv(Z^0)",
         requires=("identity_values", "positive_alpha"), steps_needed=lambda w: w["step"])
def check_P1(a: Run) -> Verdict:
    """Each token of ``Z^{k+1}`` in ``conv(Z^k)``: first the certificate the update rule proposes
    (:func:`_update_certificates`, verified exactly in integers), else the exact LP of :mod:`verify.geometry`."""
    first, count, worst = None, 0, 0.0
    certified: list[bool] = []
    for k in range(a.steps):
        if not (k and a.repeats[k] and a.repeats[k + 1]):  # else (Z^k, Z^{k+1}) = (Z^{k-1}, Z^k): same answer
            certified = _update_certificates(a, k)
        for i in range(a.n):
            if certified[i]:
                continue
            x = a.states[k + 1][i]
            cert = hull_membership([tuple(p) for p in a.states[k]], x)
            if not cert.inside:
                count += 1
                worst = max(worst, cert.distance)
                if first is None:
                    first = {"step": k + 1, "token": i, "point": _fmt(x),
                             "separating_normal": _fmt(cert.normal), "offset": format_exact(cert.offset),
                             "distance_outside": cert.distance}
    return Verdict("P1", count == 0, witness=first, violations=count, max_violation=worst,
                   reason="" if count == 0 else "a token left the previous convex hull (distance in max_violation)")


def _update_weights(a: Run, k: int) -> tuple[int, int, list[list[int]]] | None:
    """The update rule's convex weights for step ``k`` as integers over one denominator ``q``:
    ``(q, p_0, p)`` with ``c_0 = p_0/q`` on the token itself and ``c_h/m = p[h][m]/q`` on each token of
    a follow set ``C^h_i`` of size ``m = 1 … n`` (the config's alphas; computed once per schedule
    entry). ``None`` when they are not convex weights (some α < 0)."""
    memo = a.__dict__.setdefault("_memo", {})
    key = ("update weights", a.config.layer_index(k))
    if key not in memo:
        memo[key] = _layer_weights(a.config.heads_at(k), a.n)
    return memo[key]


def _layer_weights(heads, n: int) -> tuple[int, int, list[list[int]]] | None:
    if not all(h.alpha >= 0 for h in heads):
        return None
    if any(isinstance(h.alpha, FieldElement) for h in heads):  # over a number field: q = 1, the weights themselves
        total = 1 + sum((h.alpha for h in heads), Fraction(0))
        return 1, 1 / total, [[Fraction(0)] + [h.alpha / total / m for m in range(1, n + 1)] for h in heads]
    total = 1 + sum((h.alpha for h in heads), Fraction(0))
    c0 = 1 / total
    shares = [[Fraction(0)] + [h.alpha / total / m for m in range(1, n + 1)] for h in heads]
    q = c0.denominator
    for share in (x for per in shares for x in per):
        q = q * share.denominator // math.gcd(q, share.denominator)
    return (q, c0.numerator * (q // c0.denominator),
            [[x.numerator * (q // x.denominator) for x in per] for per in shares])


def _update_certificates(a: Run, k: int) -> list[bool]:
    """For every token ``i``: is ``z_i^{k+1}`` exactly ``c_0 z_i^k + Σ_h c_h mean_{C^h_i} z^k``?

    With the weights of :func:`_update_weights`, in integers (``Z = N / D`` before, ``N' / D'``
    after), each follow set's coordinate sums computed once, the test is
    ``D' (p_0 N_i + Σ_h p_h Σ_{j ∈ C^h_i} N_j) = q D N'_i``, and ``p_0 + Σ_h p_h |C^h_i| = q`` with
    every ``p ≥ 0``. True is a proof that ``z_i^{k+1} ∈ conv(Z^k)``; False proves nothing.
    """
    proposal = _update_weights(a, k)
    if proposal is None:
        return [False] * a.n
    q, p0, shares = proposal
    if q <= 0 or p0 < 0 or any(v < 0 for per in shares for v in per):
        return [False] * a.n
    before, after = a.ints[k], a.ints[k + 1]
    rows = before.rows
    sums: dict[tuple[int, ...], list[int]] = {}

    def face_sum(c: tuple[int, ...]) -> list[int]:
        if len(c) == 1:
            return rows[c[0]]
        if c not in sums:
            sums[c] = [sum(column) for column in zip(*(rows[j] for j in c))]
        return sums[c]

    scale, den = after.den, q * before.den
    follow = a.follow_at(k)
    if len(follow) == 1:  # one head: the same test, unrolled
        per, weights = follow[0], shares[0]
        return [p0 + weights[len(c)] * len(c) == q
                and all(scale * (p0 * x + weights[len(c)] * y) == den * z
                        for x, y, z in zip(rows[i], face_sum(c), after.rows[i]))
                for i, c in enumerate(per)]
    out = []
    for i in range(a.n):
        acc = [p0 * x for x in rows[i]]
        mass = p0
        for h, per in enumerate(follow):
            c = per[i]
            p = shares[h][len(c)]
            mass += p * len(c)
            acc = [x + p * y for x, y in zip(acc, face_sum(c))]
        out.append(mass == q and all(scale * x == den * y for x, y in zip(acc, after.rows[i])))
    return out


@builtin("P2", "leader persistence", "a leader at step k stays put and stays a leader at every later step",
         under=("spd",), requires=("identity_values", "fixed_scores", "positive_alpha"),
         steps_needed=lambda w: w["broken_at"])
def check_P2(a: Run, claim: str = "P2") -> Verdict:
    memo = a.__dict__.setdefault("_memo", {})
    if "P2" not in memo:  # D3 is P2 on the same run: computed once
        memo["P2"] = _leader_persistence(a)
    count, first, worst = memo["P2"]
    return Verdict(claim, count == 0, witness=dict(first) if first else None, violations=count, max_violation=worst)


def _leader_persistence(a: Run) -> tuple[int, dict | None, float]:
    """Every (leader at k, first later step l where it moved or is no longer a leader) pair.

    The first break after ``k`` is found in O(n·K) overall, backwards: if token ``i`` is a
    leader at ``k`` and at ``k + 1`` and did not move, its first break after ``k`` is its first
    break after ``k + 1`` (the same position, the same leadership from then on).
    """
    K = a.steps
    leader_sets = [set(l) for l in a.leaders]
    breaks: dict[tuple[int, int], int] = {}  # (k, i) -> first l > k where leader i of step k broke
    for i in range(a.n):
        later: int | None = None  # first break after k + 1, when i is a leader at k + 1
        for k in range(K, -1, -1):
            if i not in leader_sets[k]:
                later = None
                continue
            if k == K:
                later = None
            elif i not in leader_sets[k + 1] or not a.same_token(k, k + 1, i):
                later = k + 1
            if later is not None:
                breaks[k, i] = later
    first, count, worst = None, 0, 0.0
    for k in range(K + 1):
        for i in a.leaders[k]:
            l = breaks.get((k, i))
            if l is None:
                continue
            moved = not a.same_token(k, l, i)
            lost = i not in leader_sets[l]
            count += 1
            worst = max(worst, approx_float(max(abs(x - y) for x, y in zip(a.states[l][i], a.states[k][i]))))
            if first is None:
                first = {"step": l, "leader_at": k, "token": i, "broken_at": l, "moved": moved,
                         "still_leader": not lost, "position_then": _fmt(a.states[k][i]),
                         "position_now": _fmt(a.states[l][i]), "follows_now": list(a.union_follow(l, i))}
    return count, first, worst


@builtin("P3", "leaders exist", "every step has at least one leader", under=("spd",), requires=("single_head",),
         steps_needed=lambda w: w["step"])
def check_P3(a: Run) -> Verdict:
    empty = [k for k in range(a.steps + 1) if not a.leaders[k]]
    witness = None
    if empty:
        k = empty[0]
        witness = {"step": k, "follow": [list(a.union_follow(k, i)) for i in range(len(a.states[k]))],
                   "tokens": [_fmt(z) for z in a.states[k]]}
        heads = a.follow_at(k)
        if len(heads) > 1:  # the union hides why nobody leads: each head's own follow sets show it
            witness["follow_by_head"] = [[list(f[i]) for i in range(len(a.states[k]))] for f in heads]
    return Verdict("P3", not empty, witness=witness, violations=len(empty),
                   extra={"steps_without_leader": empty[:20]})


@builtin("P4", "hyperplane separation",
         "C_i is exactly the set of tokens on the supporting hyperplane {x : <A z_i, x> = max_l <A z_i, z_l>}",
         steps_needed=lambda w: w["step"])
def check_P4(a: Run) -> Verdict:
    """The trajectory's follow sets against the exact supporting-hyperplane faces."""
    traj = a.trajectory
    first, count = None, 0
    available = min(len(traj.follow), a.steps + 1)
    for k in range(available):
        claimed = traj.follow_by_head[k] if traj.follow_by_head is not None else (traj.follow[k],)
        for h, (mine, theirs) in enumerate(zip(a.follow_at(k), claimed)):
            for i, (c_exact, c_claimed) in enumerate(zip(mine, theirs)):
                if tuple(c_exact) != tuple(c_claimed):
                    count += 1
                    if first is None:
                        first = {"step": k, "head": h, "token": i, "claimed_follow": list(c_claimed),
                                 "tokens_on_supporting_hyperplane": list(c_exact)}
    return Verdict("P4", count == 0, witness=first, violations=count,
                   reason="" if count == 0 else "follow sets differ from the exact exposed faces")


@builtin("D1", "leaders are vertices", "every leader is an exposed vertex of conv(Z^k)",
         steps_needed=lambda w: w["step"])
def check_D1(a: Run) -> Verdict:
    """The trajectory's leaders are exposed vertices (exact certificates)."""
    traj = a.trajectory
    first, count = None, 0
    for k in range(min(len(traj.leaders), a.steps + 1)):
        for i in traj.leaders[k]:
            if _exposed_by_score(a, k, i):
                continue  # A z_i exposes z_i alone: an exact certificate that it is a vertex
            points = [tuple(p) for p in a.states[k]]
            A = a.config.heads_at(k)[0].A
            hint = [sum((A[r][c] * points[i][c] for c in range(len(points[i]))), Fraction(0))
                    for r in range(len(points[i]))]
            cert = is_vertex(points, i, normal_hint=hint)
            if cert.inside:
                count += 1
                if first is None:
                    first = {"step": k, "token": i, "point": _fmt(points[i]),
                             "convex_weights": _fmt(cert.weights)}
    return Verdict("D1", count == 0, witness=first, violations=count)


def _exposed_by_score(a: Run, k: int, i: int) -> bool:
    """Exactly: the normal ``A_0 z_i`` exposes ``z_i`` alone in ``Z^k`` — read off the run's exact
    follow sets: ``C^0_i(Z^k) = argmax_l <A_0 z_i, z_l>`` holds only copies of ``z_i``, so
    ``<A_0 z_i, z_l> < <A_0 z_i, z_i>`` for every token ``l`` with ``z_l ≠ z_i``."""
    rows = a.ints[k].rows
    return all(rows[j] == rows[i] for j in a.follow_at(k)[0][i])


@builtin("D2", "A-norm monotonicity", "<A z_i^{k+1}, z_i^{k+1}> >= <A z_i^k, z_i^k> (under H)", under=("spd",),
         requires=("identity_values", "fixed_scores", "positive_alpha"), steps_needed=lambda w: w["step"] + 1)
def check_D2(a: Run) -> Verdict:
    if len({tuple(map(tuple, h.A)) for _, h in a.config.all_heads()}) > 1:
        return Verdict("D2", None, reason="heads or layers have different A: the A-norm is not defined")
    A = a.config.heads[0].A
    M = integer_matrix(A)
    d = len(A)

    def norm(z):
        return sum((A[r][c] * z[c] * z[r] for r in range(d) for c in range(d)), Fraction(0))

    if a.score_matrices[0][0] != M:
        raise AssertionError("the run's score matrix is not the integer form of A")
    first, count, worst = None, 0, 0.0
    for k in range(a.steps):
        den2, den2_next = a.ints[k].den ** 2, a.ints[k + 1].den ** 2
        before_all, after_all = a.self_scores[k][0], a.self_scores[k + 1][0]  # <M N_i, N_i> per token
        for i in range(a.n):
            # after < before  ⇔  <M N'_i, N'_i> D² < <M N_i, N_i> D'²  (the same positive factor a)
            if after_all[i] * den2 >= before_all[i] * den2_next:
                continue
            before, after = norm(a.states[k][i]), norm(a.states[k + 1][i])
            if after < before:
                count += 1
                worst = max(worst, approx_float(before - after))
                if first is None:
                    first = {"step": k, "token": i, "norm_before": format_exact(before),
                             "norm_after": format_exact(after)}
    return Verdict("D2", count == 0, witness=first, violations=count, max_violation=worst)


@builtin("D3", "P2 outside H", "P2 needs neither symmetry nor definiteness of A", under=_NOT_H,
         requires=("identity_values", "fixed_scores", "positive_alpha"), steps_needed=lambda w: w["broken_at"])
def check_D3(a: Run) -> Verdict:
    return check_P2.checker(a, claim="D3")


def _limit_checker(config: Config, max_steps: int, max_memory: int | None = None) -> Verdict:
    """P5 from the certified limit (SPEC §4): every exact limit point in S."""
    from .limits import certified_limit

    result = certified_limit(config, max_steps=max_steps, max_memory=max_memory)
    if not result.certified:
        return Verdict("P5", None, reason=result.reason)
    if result.in_S is None:
        return Verdict("P5", None, reason=result.reason, extra={"certified_at": result.certified_at})
    bad = [i for i, ok in enumerate(result.in_S) if not ok]
    return Verdict("P5", not bad, witness={"step": result.certified_at, "tokens_not_in_S": bad} if bad else None,
                   extra={"certified_at": result.certified_at, "clusters": result.clusters,
                          "limit": result.to_json()["limit"]})


P5 = builtin("P5", "convergence to S", "every token converges to a point of S (certified limit, SPEC §4)",
             under=("spd",), requires=("identity_values", "positive_alpha", "single_head"), kind="limit",
             steps_needed=lambda w: w["step"])(_limit_checker)

#: The built-in claims, in report order: registered lemmas like a user's (:mod:`verify.lemmas`).
BUILTIN_LEMMAS: tuple[Lemma, ...] = (check_P1, check_P2, check_P3, check_P4, P5, check_D1, check_D2, check_D3)


def evaluate(item: Lemma, run: Run) -> Verdict:
    """The verdict of a finite lemma on ``run``: ``holds`` where it is claimed, ``null`` with what was observed elsewhere."""
    return claimed_verdict(item, run.config, item.judge(run))


def claimed_verdict(item: Lemma, config: Config, verdict: Verdict) -> Verdict:
    """``verdict`` where ``item`` is claimed for ``config``; elsewhere ``holds: null`` with the reason
    and what was observed (``observed``, the witness)."""
    why = not_claimed(item, config)
    if why is None:
        return verdict
    found = "holds on this run" if verdict.holds else (
        f"fails on this run at step {verdict.witness.get('step')}" if verdict.witness else "not decided")
    return Verdict(item.name, None, reason=f"{why}; checked anyway: {found}", witness=verdict.witness,
                   violations=verdict.violations, max_violation=verdict.max_violation, extra=verdict.extra,
                   observed=verdict.holds)


def _lookup(claim: str, lemmas: Registry | None) -> Lemma:
    if lemmas is not None:
        return lemmas[claim]
    for item in BUILTIN_LEMMAS:
        if item.name == claim and item.kind == "finite":
            return item
    raise ValueError(f"unknown claim {claim!r} (finite-horizon claims: {', '.join(FINITE_CLAIMS)})")


def check(claim: str, config: Config, traj: Trajectory, analysis: Run | None = None,
          lemmas: Registry | None = None) -> Verdict:
    """Check one finite-horizon claim or lemma on a trajectory (``lemmas``: where to look its name up)."""
    item = _lookup(claim, lemmas)
    if traj.backend == "interval":
        return Verdict(claim, None, reason="interval states are enclosures; check the exact or a float backend")
    return evaluate(item, analysis or Run(config, traj))


def check_all(config: Config, traj: Trajectory, claims=FINITE_CLAIMS, lemmas: Registry | None = None
              ) -> dict[str, Verdict]:
    """Check several finite-horizon claims or lemmas, sharing one :class:`~verify.run.Run`."""
    if traj.backend == "interval":
        return {c: check(c, config, traj, lemmas=lemmas) for c in claims}
    run = Run(config, traj)
    return {c: check(c, config, traj, run, lemmas=lemmas) for c in claims}
