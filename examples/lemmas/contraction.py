"""The negative (semi)definite case: "all tokens contract to the origin"?

Source: arXiv 2508.09628 (v1 abstract): "When the key-query matrix is negative
semidefinite, the method linearly contracts all tokens to a single cluster at
the origin." (The later ICML abstract speaks instead of an O(1/t) rate "on the
quadratic energy".) Here ``B = −A`` is positive (semi)definite and token ``i``
attends to the tokens minimising ``<B z_i, ·>``: the most "opposite" ones.

Our model is ``z_i⁺ = (z_i + α m_i)/(1+α)`` with the normalisation (SPEC §1),
and it is NOT Frank–Wolfe on a fixed set: the feasible set ``conv(Z^k)``
shrinks (P1). Two facts settle the origin claim in our model:

* a token can be a leader away from the origin (1-D, ``A = −1``, tokens
  ``{1, 2}``: ``<A·1, z> = −z`` is maximal at ``z = 1``, so token 1 follows
  itself), and a leader never moves again (P2 holds for every fixed A, see
  ``frank_wolfe.py``), so "every token converges to the origin" is false;
  the very smallest counterexample is a single token ``z ≠ 0``;
* even with ``0 ∈ conv(Z^0)`` the origin can leave the hull: 1-D, ``A = −1``,
  ``α = 1``, tokens ``{−1, 2}`` follow each other and both land on ``1/2``.

What does hold (proved in the docstrings): the largest ``B``-norm strictly
decreases while at least two token values remain, and all leaders share one
position.

Gating: every lemma here is about negative definite (or semidefinite) A.
Such matrices occur only in the strategies' ``symmetric`` class, so they are
declared ``under=("symmetric",)`` and each checker tests the hypothesis
exactly (Sylvester's criterion on ``−A``, resp. all principal minors of
``−A``) and returns ``None`` (vacuously holds) when some head of some layer
fails it. Hunting them in other classes therefore finds nothing by
construction; the ``symmetric`` hunt draws ``A = Uᵀ D U`` with ``D`` in
``{−3…3}``, so in d = 1 a third of the draws are negative definite and in
d = 3 about 1/27 — the number of non-vacuous examples is small in higher d
(the hunts in FINDINGS.md are therefore also run with ``--max-d 1`` / ``2``).

Witnesses carry ``"step"`` and ``"replay_steps"`` (used as ``steps_needed``).
"""

from __future__ import annotations

from fractions import Fraction

import lemma_helpers as X  # beside this file: the loader puts its folder on sys.path
from verify.lemmas import lemma


def _replay(w):
    return w["replay_steps"]


def _all(run, test):
    return all(test(h.A) for heads in run.config.schedule for h in heads)


def _B(run, k):
    return X.neg(run.config.heads_at(k)[0].A)


_DYN = ("identity_values", "fixed_scores", "single_head", "positive_alpha")


@lemma("CT-MAX-BNORM-STRICT",
       statement="A negative definite, B = -A: max_i <B z_i^{k+1}, z_i^{k+1}> < max_i <B z_i^k, z_i^k> at every step "
                 "k where Z^k has at least two distinct token values (and = when it has one)",
       under=("symmetric",), requires=_DYN, steps_needed=_replay)
def ct_max_bnorm_strict(run):
    """TRUE (proof). Write ``‖z‖² = <B z, z>`` (a norm: B ≻ 0), ``R = max_i ‖z_i^k‖``.

    Non-increase: every new token is in ``conv(Z^k)`` (P1, α > 0) and ``‖·‖²``
    is convex, so its maximum over the hull is attained at a token.

    Strictness, when ``Z^k`` has two distinct values. (1) A token ``p`` with
    ``‖z_p‖ = R`` is not a leader: for ``z_q ≠ z_p``,
    ``<B z_p, z_q> ≤ ‖z_p‖‖z_q‖ ≤ R² = <B z_p, z_p>``, with equality throughout
    only if ``z_q = z_p`` (Cauchy–Schwarz in B); so the minimisers of
    ``<B z_p, ·>`` (= the maximisers of ``<A z_p, ·>``) are not copies of ``z_p``.
    (2) ``‖·‖²`` is strictly convex, so on ``conv(Z^k)`` the value ``R²`` is
    reached only at vertices of norm ``R``. A new token
    ``(1−t) z_l + t m_l`` (``t ∈ (0,1)``, both points in the hull) equal to such
    a vertex ``v`` forces ``z_l = m_l = v``; ``m_l = v`` extreme forces every
    token of ``C_l`` to be a copy of ``v``: ``l`` would be a leader of norm R,
    excluded by (1). Hence ``max_i ‖z_i^{k+1}‖ < R``. With a single value every
    token is a leader and nothing moves. (Strict decrease does not give
    convergence to 0: see ``CT-LEADERS-AT-ORIGIN``.)
    """
    if not _all(run, X.is_negative_definite):
        return None
    for k in range(run.steps):
        B = _B(run, k)
        before = max(X.quad(B, z) for z in run.states[k])
        after = max(X.quad(B, z) for z in run.states[k + 1])
        several = X.distinct_values(run.states[k]) >= 2
        if after > before or (several and after == before) or (not several and after != before):
            return {"step": k, "replay_steps": k + 1, "max_Bnorm2_before": X.s(before),
                    "max_Bnorm2_after": X.s(after), "distinct_values": X.distinct_values(run.states[k])}
    return None


@lemma("CT-MAX-EUCLID-STRICT",
       statement="A negative definite: the largest Euclidean norm max_i |z_i^k|^2 strictly decreases at every step k "
                 "where Z^k has at least two distinct token values",
       under=("symmetric",), requires=_DYN, steps_needed=_replay)
def ct_max_euclid_strict(run):
    """Expected FALSE for d ≥ 2 (non-increase is true by P1; strictness is not).

    The Euclidean-largest token can be a leader when B is anisotropic:
    ``B = diag(1, 10)``, ``z_p = (1, 1)``, ``z_l = (0, 6/5)``: ``‖z_l‖ < ‖z_p‖`` but
    ``<B z_p, z_l> = 12 > <B z_p, z_p> = 11``, so ``z_p`` (A = −B) follows itself.
    """
    if not _all(run, X.is_negative_definite):
        return None
    for k in range(run.steps):
        before = max(X.dot(z, z) for z in run.states[k])
        after = max(X.dot(z, z) for z in run.states[k + 1])
        if X.distinct_values(run.states[k]) >= 2 and after >= before:
            top = [i for i, z in enumerate(run.states[k]) if X.dot(z, z) == before]
            return {"step": k, "replay_steps": k + 1, "max_norm2_before": X.s(before),
                    "max_norm2_after": X.s(after), "largest_tokens": top,
                    "largest_are_leaders": [i in run.leaders[k] for i in top]}
    return None


@lemma("CT-TOKEN-BNORM-NONINCREASING",
       statement="A negative definite, B = -A: every token's own B-norm is non-increasing: "
                 "<B z_i^{k+1}, z_i^{k+1}> <= <B z_i^k, z_i^k> for every i and k",
       under=("symmetric",), requires=_DYN, steps_needed=_replay)
def ct_token_bnorm(run):
    """Expected FALSE: an inner token follows the most opposite token, which may be far.

    1-D, A = −1, tokens ``{1/10, −5}``: ``1/10`` minimises ``z/10`` at ``z = −5``
    and moves out to norm > 1/10. Only the maximum norm is monotone.
    """
    if not _all(run, X.is_negative_definite):
        return None
    for k in range(run.steps):
        B = _B(run, k)
        for i in range(run.n):
            before, after = X.quad(B, run.states[k][i]), X.quad(B, run.states[k + 1][i])
            if after > before:
                return {"step": k, "replay_steps": k + 1, "token": i, "Bnorm2_before": X.s(before),
                        "Bnorm2_after": X.s(after), "follows": list(run.follow[k][0][i]),
                        "position": X.sv(run.states[k][i]), "position_next": X.sv(run.states[k + 1][i])}
    return None


@lemma("CT-ORIGIN-STAYS-IN-HULL",
       statement="A negative definite: if the origin lies in conv(Z^0) then it lies in conv(Z^k) for every k "
                 "(exact hull membership, Carathéodory search)",
       under=("symmetric",), requires=_DYN, steps_needed=_replay)
def ct_origin_in_hull(run):
    """Expected FALSE: 1-D, A = −1, α = 1, ``{−1, 2}`` → ``{1/2, 1/2}``.

    The two tokens follow each other (each is the other's most opposite
    point) and meet at ``(−1 + 2)/2``; the normalisation ``1/(1+α)`` makes the
    step a convex combination, so the hull collapses to a point that need
    not be the origin. Vacuous when the origin is not in ``conv(Z^0)``.
    """
    if not _all(run, X.is_negative_definite):
        return None
    origin = tuple(Fraction(0) for _ in range(run.d))
    if X.hull_certificate(run.states[0], origin) is None:
        return None
    for k in range(1, run.steps + 1):
        if X.hull_certificate(run.states[k], origin) is None:
            return {"step": k, "replay_steps": k, "tokens_now": [X.sv(z) for z in run.states[k]],
                    "tokens_before": [X.sv(z) for z in run.states[k - 1]]}
    return None


@lemma("CT-LEADERS-AT-ORIGIN",
       statement="A negative definite: every leader of every Z^k is the zero vector (necessary for 'every token "
                 "converges to the origin', since a leader never moves again)",
       under=("symmetric",), requires=_DYN, steps_needed=_replay)
def ct_leaders_at_origin(run):
    """Expected FALSE — the finite-step refutation of "all tokens converge to the origin".

    A leader ``z ≠ 0`` satisfies ``<B z, z> < <B z, z_l>`` for the other values;
    it is fixed in that step (``m = z``) and, by P2 (true for every fixed A),
    at every later step, so it converges to ``z ≠ 0``. A single token
    ``z ≠ 0`` is such a leader (it follows itself; ``z⁺ = (z + αz)/(1+α) = z``).
    """
    if not _all(run, X.is_negative_definite):
        return None
    for k in range(run.steps + 1):
        for i in run.leaders[k]:
            if any(x != 0 for x in run.states[k][i]):
                return {"step": k, "replay_steps": max(k, 1), "leader": i, "position": X.sv(run.states[k][i]),
                        "tokens": [X.sv(z) for z in run.states[k]]}
    return None


@lemma("CT-ONE-LEADER-POSITION",
       statement="A negative semidefinite (every head of every layer): at every step all leaders share one "
                 "position (at most one distinct leader value)",
       under=("symmetric",), steps_needed=_replay)
def ct_one_leader_position(run):
    """TRUE (proof); a single cluster is the only possible stationary pattern.

    Leaders ``a ≠ b`` (values) of head ``A``: ``<A a, a> > <A a, b>`` and
    ``<A b, b> > <A b, a>``. Adding, with A symmetric,
    ``<A(a − b), a − b> > 0``, impossible for A ⪯ 0. Only the follow sets are
    used, so V and α are irrelevant; with several heads a leader is a leader
    of every head, and head 0 suffices.
    """
    if not _all(run, X.is_nsd):
        return None
    for k in range(run.steps + 1):
        values = {run.states[k][i] for i in run.leaders[k]}
        if len(values) > 1:
            return {"step": k, "replay_steps": max(k, 1), "leaders": list(run.leaders[k]),
                    "leader_positions": [X.sv(v) for v in sorted(values)]}
    return None
