"""The Frank–Wolfe / Voronoi picture of hardmax attention, tested in this suite's token model.

Source: Alcalde, Geshkovski, Ruiz-Balet, *Attention's forward pass and
Frank–Wolfe* (arXiv 2508.09628). Its abstract: with a positive semidefinite
key–query matrix, "extending the hardmax rule to the entire convex hull
induces a Voronoi diagram: vertices are stationary, interior points remain in
their initial cells, and each token moves along a straight line toward its
cell's vertex".

Our model (SPEC §1) is the *token* rule, not the hull-extended rule: token
``i`` attends to the tokens ``C_i(Z) = argmax_j <A z_i, z_j>`` (all
maximisers) and moves to ``(z_i + α m_i)/(1+α)``, ``m_i`` the mean of
``C_i``. One step is a Frank–Wolfe step with step size ``t = α/(1+α)`` for the
linear model ``y ↦ <A z_i, y>`` of the quadratic ``½<A z, z>`` over
``conv(Z^k)``, except that the "oracle" answer is a face mean of the current
tokens and the feasible set ``conv(Z^k)`` shrinks (P1).

What is a tautology here and what is not
----------------------------------------
* (a) "a leader stays fixed" is the definition: a leader's follow set holds
  only copies of itself, so ``m_i = z_i`` and ``z_i⁺ = z_i`` (any A, any α).
  That leaders are exposed vertices is D1, and again a definition: the normal
  ``A z_i`` exposes ``z_i``. ``FW-LEADERS-FIXED`` re-verifies both exactly from
  the states (a consistency check of the engine, not a theorem).
  The paper's *literal* "vertices are stationary" is NOT true for tokens:
  a vertex of ``conv(Z)`` may follow another vertex (A = I, ``(1,0)``
  follows ``(2,5)``). ``FW-VERTICES-STATIONARY`` hunts that.
* (b) "each token moves on a straight line toward its cell's point" is, for
  ONE step, the update rule itself: ``z⁺ − z = α/(1+α)·(m − z)``.
  ``FW-STRAIGHT-STEP`` checks it exactly (parallel, same direction, exact
  ratio) — a tautology for one head, genuinely false for several heads
  (the displacement is a sum of pulls toward several face means).
  The non-trivial content is *across steps*: does the token keep its target?
* (c) "if ``C_i = {j}`` then ``z_j`` is a vertex of ``conv(Z^k)``" is again
  a tautology for any A: a unique maximiser of a linear functional over a
  finite set is an exposed vertex, with ``A z_i`` as certificate.
  ``FW-SINGLE-FOLLOW-VERTEX`` checks the certificate and, at steps 0 and 1,
  vertex-hood independently (exact Carathéodory search).
* The genuine conjectures are about the follow set over time:
  ``FW-FOLLOW-STABLE`` (naive: a non-leader keeps its follow set),
  ``FW-FOLLOWS-ONE-LEADER`` and ``FW-STRAIGHT-LINE`` (corrected, proved below
  for every A), ``FW-LEADER-FACE-STABLE`` (naive: a face of leaders is kept;
  false, ties between leaders break) and ``FW-LEADER-FACE-SHRINKS`` (the PSD
  conjecture: it can only shrink) — FALSE in d = 3 for A = I (found by a
  targeted search, missed by the hunter), TRUE in the plane
  (``FW-LEADER-FACE-SHRINKS-2D``, proved). ``FW-VERTICES-STATIONARY-NZ`` and
  ``FW-FOLLOW-STABLE-NZ`` repeat the naive statements without degenerate
  tokens (``A z_i = 0``), to which the hunter's minimal counterexamples shrink.
  Results: ``FINDINGS.md`` beside this file.

Choice of ``under`` for the PSD statements
------------------------------------------
The paper's hypothesis is "A positive semidefinite". The strategies' class
``symmetric`` mixes PSD-singular matrices with negative (semi)definite and zero
ones, so a PSD claim is declared ``under=("spd",)`` only; the checkers do not
gate on PSD (a hunt in ``symmetric``/``indefinite``/``nonsymmetric`` then says
what survives), and every witness carries ``"A_psd"`` (exact principal-minor
test), so a counterexample found in the ``symmetric`` class is recognisable as
a counterexample to the PSD statement itself when ``A_psd`` is true.
Statements proved for every A are declared under all classes.

Witnesses carry ``"step"`` (the first step involved) and ``"replay_steps"``
(the steps a replay needs, used as ``steps_needed``).
"""

from __future__ import annotations

from fractions import Fraction

import lemma_helpers as X  # beside this file: the loader puts its folder on sys.path
from verify.lemmas import lemma


def _replay(w):
    return w["replay_steps"]


def _A(run, k, h=0):
    return run.config.heads_at(k)[h].A


def _alpha(run, k, h=0):
    return Fraction(run.config.heads_at(k)[h].alpha)


def _all_psd(run):
    return all(X.is_psd(h.A) for heads in run.config.schedule for h in heads)


def _scores(run, k, i, h=0):
    w = X.matvec(_A(run, k, h), run.states[k][i])
    return [X.dot(w, z) for z in run.states[k]]


# ---------------------------------------------------------------------------------------------- (a)
@lemma("FW-LEADERS-FIXED",
       statement="every leader i of Z^k is an exposed vertex of conv(Z^k), certified exactly by the normal "
                 "A_h z_i of every head h (<A_h z_i, z_l> < <A_h z_i, z_i> for every token l with z_l != z_i), "
                 "and it does not move: z_i^{k+1} = z_i^k",
       requires=("identity_values",), steps_needed=_replay)
def fw_leaders_fixed(run):
    """(a) for leaders — a tautology of the model, re-verified exactly from the states.

    Leader ⇔ ``C^h_i`` holds only copies of ``z_i`` for every head ⇔ ``A_h z_i``
    strictly separates ``z_i`` from every other token value (this is the
    exposure certificate). Then every head's face mean is ``z_i`` and
    ``z_i⁺ = (z_i + Σ α_h z_i)/(1 + Σ α_h) = z_i``. Holds for every A (no PSD
    needed) and every α with ``1 + Σα ≠ 0``; needs V = I.
    """
    for k in range(run.steps):
        Z = run.states[k]
        for i in run.leaders[k]:
            for h in range(len(run.config.heads_at(k))):
                w = X.matvec(_A(run, k, h), Z[i])
                top = X.dot(w, Z[i])
                for l, z in enumerate(Z):
                    if z != Z[i] and X.dot(w, z) >= top:
                        return {"step": k, "replay_steps": k + 1, "token": i, "head": h, "part": "certificate",
                                "normal": X.sv(w), "score_self": X.s(top), "other": l,
                                "score_other": X.s(X.dot(w, z)), "A_psd": _all_psd(run)}
            if run.states[k + 1][i] != Z[i]:
                return {"step": k, "replay_steps": k + 1, "token": i, "part": "moved",
                        "position": X.sv(Z[i]), "position_next": X.sv(run.states[k + 1][i]),
                        "A_psd": _all_psd(run)}
    return None


@lemma("FW-VERTICES-STATIONARY",
       statement="(the paper's 'vertices are stationary' read for tokens) every token that is a vertex of "
                 "conv(Z^k) (exact Carathéodory test) does not move: z_i^{k+1} = z_i^k",
       under=("spd",), requires=("identity_values", "fixed_scores", "single_head", "positive_alpha"),
       steps_needed=_replay)
def fw_vertices_stationary(run):
    """Naive reading of "vertices are stationary" — expected FALSE in the token model.

    In the paper the rule is extended to the whole hull and the stationary
    "vertices" are the points ``v`` with ``v = argmax_{y∈conv} <A v, y>``, i.e.
    our leaders. A hull vertex of the *tokens* need not be one: with A = I the
    vertex ``(1, 0)`` of ``{(1,0), (2,5), (0,-4)}`` has ``<z, (2,5)> = 2 > 1``,
    follows ``(2, 5)`` and moves. Only moved tokens are tested for
    vertex-hood (the first moved vertex is the witness).
    """
    return _moving_vertex(run, skip_zero_direction=False)


# ---------------------------------------------------------------------------------------------- (b)
@lemma("FW-STRAIGHT-STEP",
       statement="for every token i and step k, z_i^{k+1} - z_i^k = c (m_i - z_i^k) with c = alpha/(1+alpha) >= 0 "
                 "exactly, where m_i is the mean of the tokens of C_i(Z^k) (the union over heads): each step is "
                 "a straight move toward the face mean",
       requires=("identity_values", "single_head"), steps_needed=_replay)
def fw_straight_step(run):
    """(b) for one step — the update rule itself, so a tautology for one head.

    ``z⁺ = (z + α m)/(1+α)`` ⇔ ``z⁺ − z = α/(1+α) (m − z)``. Checked exactly:
    the displacement is parallel to ``m − z`` with factor ``c ≥ 0`` and, for one
    head, ``c = α/(1+α)``. With several heads the displacement is
    ``Σ_h α_h (m_h − z)/(1+Σα)``, not along ``m − z`` for the union mean ``m``
    in general: a hunt with ``--heads 2`` shows it. The witness gives
    ``c`` (or ``null`` when the displacement is not parallel at all).
    """
    for k in range(run.steps):
        Z, Z1 = run.states[k], run.states[k + 1]
        heads = run.config.heads_at(k)
        alpha = sum((Fraction(h.alpha) for h in heads), Fraction(0))
        expected = alpha / (1 + alpha) if len(heads) == 1 else None
        for i in range(run.n):
            C = sorted(set().union(*(run.follow[k][h][i] for h in range(len(heads)))))
            m = X.mean([Z[j] for j in C])
            delta, toward = X.sub(Z1[i], Z[i]), X.sub(m, Z[i])
            c = X.parallel_factor(delta, toward)
            wrong_ratio = expected is not None and c is not None and any(x != 0 for x in toward) and c != expected
            if c is None or c < 0 or wrong_ratio:
                return {"step": k, "replay_steps": k + 1, "token": i, "follows": C, "position": X.sv(Z[i]),
                        "face_mean": X.sv(m), "displacement": X.sv(delta), "toward_mean": X.sv(toward),
                        "factor": None if c is None else X.s(c),
                        "expected_factor": None if expected is None else X.s(expected), "heads": len(heads)}
    return None


# ---------------------------------------------------------------------------------------------- (c)
@lemma("FW-SINGLE-FOLLOW-VERTEX",
       statement="whenever a head's follow set C^h_i(Z^k) is a single token j, A_h z_i exposes z_j: "
                 "<A_h z_i, z_j> > <A_h z_i, z_l> for every l != j, so z_j is an exposed vertex of conv(Z^k); at "
                 "steps 0 and 1 vertex-hood is also confirmed independently (z_j not in the hull of the other "
                 "tokens, exact Carathéodory search)",
       steps_needed=_replay)
def fw_single_follow_vertex(run):
    """(c) — a tautology for every A and every V (follow sets depend on states and A only).

    ``C^h_i = {j}`` means ``z_j`` is the unique maximiser (no other token, not
    even a copy, reaches the maximum) of the linear functional
    ``y ↦ <A_h z_i, y>``; a unique maximiser over a finite set is an exposed
    vertex of its hull, with that functional as the certificate. The check is
    exact: the certificate inequalities are recomputed from the states, and at
    steps ≤ 1 the vertex property is confirmed by searching (exactly) for a
    convex combination of the other tokens equal to ``z_j``.
    """
    for k in range(run.steps):
        Z = run.states[k]
        checked = set()
        for h in range(len(run.config.heads_at(k))):
            for i in range(run.n):
                C = run.follow[k][h][i]
                if len(C) != 1:
                    continue
                j = C[0]
                w = X.matvec(_A(run, k, h), Z[i])
                top = X.dot(w, Z[j])
                for l, z in enumerate(Z):
                    if l != j and X.dot(w, z) >= top:
                        return {"step": k, "replay_steps": k + 1, "token": i, "head": h, "follows": j,
                                "normal": X.sv(w), "score_followed": X.s(top), "other": l,
                                "score_other": X.s(X.dot(w, z))}
                if k <= 1 and j not in checked:
                    checked.add(j)
                    others = [z for l, z in enumerate(Z) if l != j]
                    cert = X.hull_certificate(others, Z[j]) if others else None
                    if cert is not None:
                        return {"step": k, "replay_steps": k + 1, "token": i, "head": h, "follows": j,
                                "point": X.sv(Z[j]), "hull_of_others_indices": cert[0],
                                "hull_weights": X.sv(cert[1])}
    return None


# ---------------------------------------------------------------------------------------------- follow sets over time
def _leader_values(run, k):
    return {run.states[k][j] for j in run.leaders[k]}


def _follow_change_witness(run, k, i, kind):
    old, new = run.follow[k][0][i], run.follow[k + 1][0][i]
    lead = _leader_values(run, k)
    return {"step": k + 1, "replay_steps": k + 2, "token": i, "kind": kind,
            "follow_before": list(old), "follow_after": list(new),
            "old_follow_all_leaders": all(run.states[k][j] in lead for j in old),
            "position_before": X.sv(run.states[k][i]), "position_after": X.sv(run.states[k + 1][i]),
            "followed_before": [X.sv(run.states[k][j]) for j in old],
            "followed_after": [X.sv(run.states[k + 1][j]) for j in new],
            "scores_after": [X.s(x) for x in _scores(run, k + 1, i)], "A_psd": _all_psd(run)}


_TIME = ("identity_values", "fixed_scores", "single_head", "positive_alpha")


@lemma("FW-FOLLOW-STABLE",
       statement="(naive 'interior points remain in their initial cells', PSD A) every token i that is not a "
                 "leader at step k keeps its follow set: C_i(Z^{k+1}) = C_i(Z^k)",
       under=("spd",), requires=_TIME, steps_needed=_replay)
def fw_follow_stable(run):
    """Naive conjecture — expected FALSE: the followed token need not be a leader.

    If ``i`` follows ``j`` and ``j`` itself follows a third token, ``j`` moves;
    ``i``'s best response can switch. The paper's cells are cells of the
    *fixed* stationary vertices; targets that move are outside that picture.
    """
    for k in range(run.steps - 1):
        lead = set(run.leaders[k])
        for i in range(run.n):
            if i in lead:
                continue
            if run.follow[k][0][i] != run.follow[k + 1][0][i]:
                return _follow_change_witness(run, k, i, "non-leader changed follow set")
    return None


def _single_leader_target(run, k, i):
    """The leader ``j`` when ``C_i(Z^k)`` is the set of copies of one leader ``j`` with ``z_i != z_j``."""
    C = run.follow[k][0][i]
    Z = run.states[k]
    values = {Z[j] for j in C}
    if len(values) != 1 or Z[i] in values:
        return None
    j = C[0]
    return j if j in run.leaders[k] else None


@lemma("FW-FOLLOWS-ONE-LEADER",
       statement="if C_i(Z^k) is the set of copies of one leader j (z_i != z_j), then C_i(Z^{k+1}) = C_i(Z^k) "
                 "(single head, the same A in every layer, V = I, alpha > 0; any A)",
       requires=_TIME, steps_needed=_replay)
def fw_follows_one_leader(run):
    """Corrected conjecture — TRUE for every A (proof).

    Let ``t = α/(1+α) ∈ (0,1)``; ``z_i⁺ = (1−t) z_i + t z_j``; put
    ``φ(y) = <A z_i⁺, y> = (1−t)<A z_i, y> + t<A z_j, y>`` (linear in ``z_i⁺``;
    no symmetry used). Over the values of ``Z^k`` the first term is maximal
    exactly at ``z_j`` (``C_i`` = copies of ``z_j``) and so is the second
    (``j`` is a leader); hence ``z_j`` is the unique maximiser of ``φ`` over
    ``conv(Z^k)``. Every new token lies in ``conv(Z^k)`` (P1, α > 0), ``z_j``
    has not moved, and a new token equal to ``z_j`` is a convex combination
    ``(1−t_l) z_l + t_l m_l`` of hull points equal to the extreme point
    ``z_j``, so ``z_l = z_j`` already. Thus ``C_i(Z^{k+1})`` = copies of ``z_j``
    = ``C_i(Z^k)``. (With several heads ``z_i⁺`` mixes several targets; with a
    new A the functional changes: both are excluded.)
    """
    for k in range(run.steps - 1):
        for i in range(run.n):
            if _single_leader_target(run, k, i) is not None and run.follow[k][0][i] != run.follow[k + 1][0][i]:
                return _follow_change_witness(run, k, i, "follower of one leader changed follow set")
    return None


@lemma("FW-STRAIGHT-LINE",
       statement="if C_i(Z^k) is the set of copies of one leader j (z_i != z_j), then for every later step l: "
                 "z_i^l - z_j^k = prod_{m=k}^{l-1} (1+alpha_m)^{-1} (z_i^k - z_j^k) and z_j^l = z_j^k: i moves on "
                 "the straight segment toward the fixed leader at the exact geometric rate (any A)",
       requires=_TIME, steps_needed=_replay)
def fw_straight_line(run):
    """The Frank–Wolfe straight line — TRUE for every A (proof).

    By ``FW-FOLLOWS-ONE-LEADER`` and P2 (which holds for every fixed A:
    the leader's strict separation passes to ``conv(Z^k)`` ⊇ ``Z^{k+1}``) the
    follow set stays the copies of ``z_j`` and ``z_j`` stays put, so by
    induction ``z_i^{l+1} − z_j = (z_i^l − z_j)/(1+α_l)``. The α may vary with
    the layer (the schedule's ``alpha``). Checked from the first step at which
    ``i`` follows a single leader, exactly, for every later state.
    """
    done = set()
    for k in range(run.steps):
        for i in range(run.n):
            if i in done:
                continue
            j = _single_leader_target(run, k, i)
            if j is None:
                continue
            done.add(i)
            zi, zj = run.states[k][i], run.states[k][j]
            factor = Fraction(1)
            for l in range(k + 1, run.steps + 1):
                factor /= 1 + _alpha(run, l - 1)
                expected = X.add(zj, X.scale(factor, X.sub(zi, zj)))
                if run.states[l][i] != expected or run.states[l][j] != zj:
                    return {"step": k, "replay_steps": l, "token": i, "leader": j, "broken_at": l,
                            "start": X.sv(zi), "leader_position": X.sv(zj), "expected": X.sv(expected),
                            "actual": X.sv(run.states[l][i]), "leader_now": X.sv(run.states[l][j]),
                            "factor": X.s(factor), "A_psd": _all_psd(run)}
    return None


def _leader_face(run, k, i):
    """True when i is not a leader and every token of C_i(Z^k) is a leader (a face of leaders)."""
    if i in run.leaders[k]:
        return False
    lead = set(run.leaders[k])
    return all(j in lead for j in run.follow[k][0][i])


@lemma("FW-LEADER-FACE-STABLE",
       statement="(naive) if i is not a leader and every token of C_i(Z^k) is a leader, then "
                 "C_i(Z^{k+1}) = C_i(Z^k), also when C_i(Z^k) holds several distinct leaders (PSD A)",
       under=("spd",), requires=_TIME, steps_needed=_replay)
def fw_leader_face_stable(run):
    """Naive extension of ``FW-FOLLOWS-ONE-LEADER`` to a tie between leaders — expected FALSE.

    If ``A z_i`` exposes a face with two leaders ``a, b`` (``<A z_i, a> = <A z_i, b>``),
    then after the step ``<A z_i⁺, a − b> = t <A m, a − b> = t/2 (<A a, a> − <A b, b>)``
    (A symmetric, ``m = (a+b)/2``): the tie breaks toward the leader of larger
    A-norm unless the A-norms are equal. With A = I:
    ``Z = {(2,0), (0,1), (1/5,2/5)}`` — the third token follows both leaders,
    then only ``(2,0)``.
    """
    for k in range(run.steps - 1):
        for i in range(run.n):
            if _leader_face(run, k, i) and run.follow[k][0][i] != run.follow[k + 1][0][i]:
                return _follow_change_witness(run, k, i, "follower of a face of leaders changed follow set")
    return None


@lemma("FW-LEADER-FACE-SHRINKS",
       statement="(PSD conjecture; false in d = 3, see FINDINGS.md) if i is not a leader and every token of "
                 "C_i(Z^k) is a leader, then C_i(Z^{k+1}) is a subset of C_i(Z^k): a follower of a face of leaders "
                 "never acquires a new target",
       under=("spd",), requires=_TIME, steps_needed=_replay)
def fw_leader_face_shrinks(run):
    """Conjecture (PSD A): a face of leaders can only shrink.

    Partial proof: with ``F = C_i(Z^k)``, ``m`` its mean and ``t = α/(1+α)``,
    the new scores are ``φ(y) = (1−t)<A z_i, y> + t<A m, y>``. The leaders of
    ``F`` are vertices (D1) and stay put; any new token with maximal ``φ``
    lies on the face of ``conv(Z^k)`` where ``φ`` is maximal, hence (face
    property of the segment ``(1−t_l) z_l + t_l m_l``) is an old token there.
    So the claim holds iff ``argmax_{Z^k} φ ⊆ F``. The first term is maximal
    exactly on ``F``; the second, ``<A m, y>``, is an average of the leaders'
    functionals and can prefer a token outside ``F`` (A = I,
    ``a = (1,1)``, ``b = (1,−1)``, ``l = (3/2, 0)``: ``<m, l> = 3/2 > <m, a> = 1``).
    What might save the claim is that ``z_i`` itself is a token: under PSD,
    ``<A z_i, z_i> ≤ <A z_i, a>``. In that example it does (``z_i = (c, 0)`` needs
    ``c ≤ 0`` and ``c ≥ c²``), and in the plane it always does
    (``FW-LEADER-FACE-SHRINKS-2D``). In d = 3 it does not: FALSE for A = I,
    α = 5, ``Z = {(0,0,1/2), (−3,0,1), (0,3,1), (−3,3,−3)}`` (token 0 follows
    the edge of leaders 1, 2, moves to ``(−5/4, 5/4, 11/12)`` and then follows
    only leader 3: scores 14/3, 14/3 < 19/4). The hunter does not find it:
    the hypothesis needs an exact tie between two distinct leaders.
    """
    for k in range(run.steps - 1):
        for i in range(run.n):
            if _leader_face(run, k, i) and not set(run.follow[k + 1][0][i]) <= set(run.follow[k][0][i]):
                return _follow_change_witness(run, k, i, "follower of a face of leaders acquired a new target")
    return None


# ---------------------------------------------------------------------------------------------- non-degenerate variants
def _zero_direction(run, k, i):
    """``A z_i^k = 0``: every score of ``i`` is 0, so ``C_i`` is every token (e.g. the zero token)."""
    return all(x == 0 for x in X.matvec(_A(run, k), run.states[k][i]))


@lemma("FW-VERTICES-STATIONARY-NZ",
       statement="(non-degenerate reading) every token that is a vertex of conv(Z^k) and has A z_i^k != 0 does not "
                 "move: z_i^{k+1} = z_i^k",
       under=("spd",), requires=_TIME, steps_needed=_replay)
def fw_vertices_stationary_nz(run):
    """``FW-VERTICES-STATIONARY`` without the degenerate tokens — still expected FALSE.

    The hunt of the naive version shrinks to the zero token (``A·0 = 0``: it
    attends to everybody and moves to the mean although it is a vertex of
    ``conv{0, 1}``); the paper assumes nonzero tokens. Excluding
    ``A z_i = 0`` (for spd A: ``z_i = 0``) leaves the real reason: a vertex can
    follow another vertex (A = I, ``{(1,0), (2,5), (0,-4)}``).
    """
    return _moving_vertex(run, skip_zero_direction=True)


def _moving_vertex(run, skip_zero_direction):
    """The first token that is a vertex of conv(Z^k) and moves (optionally not one with A z_i = 0), or None."""
    for k in range(run.steps):
        Z = run.states[k]
        for i in range(run.n):
            if run.states[k + 1][i] == Z[i] or (skip_zero_direction and _zero_direction(run, k, i)):
                continue
            if X.is_vertex(Z, i):
                C = run.follow[k][0][i]
                sc = _scores(run, k, i)
                return {"step": k, "replay_steps": k + 1, "token": i, "vertex": X.sv(Z[i]),
                        "follows": list(C), "followed_positions": [X.sv(Z[j]) for j in C],
                        "score_self": X.s(sc[i]), "score_followed": X.s(sc[C[0]]),
                        "position_next": X.sv(run.states[k + 1][i]), "A_psd": _all_psd(run)}
    return None


@lemma("FW-FOLLOW-STABLE-NZ",
       statement="(naive, non-degenerate) every token i that is not a leader at step k and has A z_i^k != 0 keeps "
                 "its follow set: C_i(Z^{k+1}) = C_i(Z^k) (PSD A)",
       under=("spd",), requires=_TIME, steps_needed=_replay)
def fw_follow_stable_nz(run):
    """``FW-FOLLOW-STABLE`` without degenerate tokens — expected FALSE for the real reason:
    the followed token is itself a follower and moves."""
    for k in range(run.steps - 1):
        lead = set(run.leaders[k])
        for i in range(run.n):
            if i in lead or _zero_direction(run, k, i):
                continue
            if run.follow[k][0][i] != run.follow[k + 1][0][i]:
                return _follow_change_witness(run, k, i, "non-leader (A z_i != 0) changed follow set")
    return None


@lemma("FW-LEADER-FACE-SHRINKS-2D",
       statement="(d <= 2, A positive definite) if i is not a leader and every token of C_i(Z^k) is a leader, then "
                 "C_i(Z^{k+1}) is a subset of C_i(Z^k); vacuous for d >= 3, where FW-LEADER-FACE-SHRINKS is false",
       under=("spd",), requires=_TIME, steps_needed=_replay)
def fw_leader_face_shrinks_2d(run):
    """TRUE in the plane (proof); FALSE in d = 3 (see FINDINGS.md: A = I, α = 5,
    ``Z = {(0,0,1/2), (−3,0,1), (0,3,1), (−3,3,−3)}``: token 0 follows the edge
    ``{(−3,0,1), (0,3,1)}`` of leaders, moves toward its midpoint and then
    follows only ``(−3,3,−3)``).

    Proof for d = 2. The change of variables ``y = Lᵀ z`` (``A = L Lᵀ``) maps
    the dynamics with A to the dynamics with I (the update is linear and the
    scores are ``<Lᵀz_i, Lᵀz_j>``), so take A = I. A face of ≥ 2 leaders is an
    edge ``[a, b]`` with outward unit normal ``n``; ``z_i ⟂ a − b`` exposes it,
    so ``z_i = c n`` with ``0 < c ≤ H = <n, a>`` (``<z_i, z_i> ≤ <z_i, a>``).
    Write ``a = H n + s_a e``, ``b = H n + s_b e``, ``s_b < s_a``, and the face
    mean ``m = H n + s e``, ``s_b < s < s_a``; say ``s ≥ 0``. The new direction
    ``z' = (1−t) c n + t m`` has angle ``atan2(t s, (1−t)c + tH) ∈ [0, angle(m)]``
    from ``n``. The normal cone of ``a`` is an angular interval containing
    ``n`` (angle 0, shared with ``b``) and ``a`` itself (a leader exposes
    itself), so it contains ``[0, angle(a)] ∋ angle(z')``, and the open part
    ``(0, angle(a)]`` exposes ``a`` alone. Hence ``z'`` exposes ``{a}`` (or the
    edge when ``s = 0``); by the face argument of ``FW-LEADER-FACE-SHRINKS`` the
    new follow set is a subset of the old. In d = 3 the directions exposing a
    subset of a face are no longer an interval, and ``z'`` can leave them.
    """
    if run.d >= 3:
        return None
    for k in range(run.steps - 1):
        for i in range(run.n):
            if _leader_face(run, k, i) and not set(run.follow[k + 1][0][i]) <= set(run.follow[k][0][i]):
                return _follow_change_witness(run, k, i, "follower of a face of leaders acquired a new target")
    return None
