"""Value matrices: which of the paper's properties survive ``V ≠ I``?

Model (SPEC §1): ``z_i⁺ = (z_i + Σ_h α_h Σ_j P^h_ij V_h z_j)/(1 + Σ_h α_h)``;
for one head ``z_i⁺ = (z_i + α V m_i)/(1+α)``, ``m_i`` the mean of ``C_i``.
Follow sets depend on ``A`` and the states only; ``V`` changes where tokens go.

Each lemma declares the value class it is about in ``model`` (so a hunt draws
that class by default) and its checker gates on the property it needs,
tested exactly (orthogonality ``VᵀV = I``, rank one, diagonal with entries in
``[0, 1]``): on a config outside it the checker returns ``None``. The
matrix class of ``A`` is unrestricted (``under`` = all) unless said otherwise.

=====================  ========  ==========================================================
lemma                  expected  why
=====================  ========  ==========================================================
VM-P1-ROTATION         false     a leader moves to ``(I + αR) z/(1+α)``, off the hull
VM-ROTATION-BALL       true      ``‖V m‖ = ‖m‖ ≤ max ‖z‖``: the ball ``‖z‖ ≤ R`` is invariant
VM-RANK-ONE-LINE       true      ``z⁺ − z/(1+α) = α⟨v, m⟩u/(1+α) ∈ span(u)``
VM-ROTATION-LEADER     false?    leadership is not rotation-invariant unless A commutes
VM-DIAG01-LEADER       open      a leader under a shrinking diagonal V stays a leader?
=====================  ========  ==========================================================

Witnesses carry ``"step"`` and ``"replay_steps"`` (used as ``steps_needed``).
"""

from __future__ import annotations

from fractions import Fraction

import lemma_helpers as X  # beside this file: the loader puts its folder on sys.path
from verify.lemmas import lemma


def _replay(w):
    return w["replay_steps"]


def _heads(run):
    return [h for heads in run.config.schedule for h in heads]


def _orthogonal(V, d):
    V = V if V is not None else X.identity(d)
    return all(sum((V[r][a] * V[r][b] for r in range(d)), Fraction(0)) == (1 if a == b else 0)
               for a in range(d) for b in range(d))


def _rank_one(V, d):
    return V is not None and X.rank(V) == 1


def _diag01(V, d):
    V = V if V is not None else X.identity(d)
    return all((V[r][c] == 0) if r != c else (0 <= V[r][c] <= 1) for r in range(d) for c in range(d))


def _gate(run, test):
    return all(test(h.V, run.d) for h in _heads(run))


def _Vs(run, k):
    return [X.sm(h.V, run.d) for h in run.config.heads_at(k)]


def _formula_certificate(run, k, i):
    """True when ``z_i^{k+1} = (z_i + α m_i)/(1+α)`` (one head): then it is in ``conv(Z^k)`` by construction."""
    heads = run.config.heads_at(k)
    if len(heads) != 1:
        return False
    alpha = Fraction(heads[0].alpha)
    Z = run.states[k]
    m = X.mean([Z[j] for j in run.follow[k][0][i]])
    return run.states[k + 1][i] == tuple((a + alpha * b) / (1 + alpha) for a, b in zip(Z[i], m))


@lemma("VM-P1-ROTATION",
       statement="with every V orthogonal (a rotation), hull monotonicity P1 survives: every token of Z^{k+1} lies "
                 "in conv(Z^k) (exact hull membership, Carathéodory search)",
       requires=("positive_alpha",), model={"values": "rotation"}, steps_needed=_replay)
def vm_p1_rotation(run):
    """Expected FALSE: P1 relies on ``V m_i ∈ conv(Z^k)``; a rotation moves ``m_i`` off the hull.

    The minimal case is one token ``z ≠ 0`` in the plane: it leads itself and
    moves to ``(I + αR) z/(1+α) ≠ z`` (R ≠ I), outside ``conv{z} = {z}``. The
    image of a leader is inside the ball of radius ``‖z‖`` (``VM-ROTATION-BALL``)
    but not inside the hull. (Exact membership: the formula for V = I, else a
    Carathéodory search.)
    """
    if not _gate(run, _orthogonal):
        return None
    for k in range(run.steps):
        Z = run.states[k]
        for i in range(run.n):
            x = run.states[k + 1][i]
            if _formula_certificate(run, k, i) and all(h.V is None for h in run.config.heads_at(k)):
                continue
            if X.hull_certificate(Z, x) is None:
                return {"step": k, "replay_steps": k + 1, "token": i, "point": X.sv(x),
                        "previous_tokens": [X.sv(z) for z in Z], "follows": list(run.follow[k][0][i]),
                        "V": _Vs(run, k)}
    return None


@lemma("VM-ROTATION-BALL",
       statement="with every V orthogonal (V^T V = I), the largest Euclidean norm is non-increasing: "
                 "max_i |z_i^{k+1}|^2 <= max_i |z_i^k|^2 (any A, any number of heads)",
       requires=("positive_alpha",), model={"values": "rotation"}, steps_needed=_replay)
def vm_rotation_ball(run):
    """TRUE (proof). ``R = max_i ‖z_i^k‖``. ``‖m^h_i‖ ≤ R`` (mean of tokens),
    ``‖V_h m^h_i‖ = ‖m^h_i‖`` (V orthogonal), so by the triangle inequality
    ``‖z_i⁺‖ ≤ (‖z_i‖ + Σ α_h ‖V_h m^h_i‖)/(1 + Σ α_h) ≤ R`` (α_h > 0). The closed
    ball ``{‖z‖ ≤ R}`` replaces the hull as the invariant set: P1 is lost
    (``VM-P1-ROTATION``) but boundedness survives.
    """
    if not _gate(run, _orthogonal):
        return None
    for k in range(run.steps):
        before = max(X.dot(z, z) for z in run.states[k])
        after = max(X.dot(z, z) for z in run.states[k + 1])
        if after > before:
            return {"step": k, "replay_steps": k + 1, "max_norm2_before": X.s(before),
                    "max_norm2_after": X.s(after), "V": _Vs(run, k)}
    return None


@lemma("VM-RANK-ONE-LINE",
       statement="with a rank-one V = u v^T (single head), z_i^{k+1} - z_i^k/(1+alpha) is a multiple of u for "
                 "every i and k: every component orthogonal to u contracts by exactly 1/(1+alpha) per step, so all "
                 "tokens approach the line span(u) (with the layer's own u, alpha under a schedule)",
       requires=("single_head", "positive_alpha"), model={"values": "rank_one"}, steps_needed=_replay)
def vm_rank_one_line(run):
    """TRUE (proof). ``V m = u <v, m>``, so
    ``z⁺ = z/(1+α) + (α <v, m>/(1+α)) u``: the first term is the old token
    shrunk, the second lies in ``span(u)``. For any ``w ⊥ u``,
    ``<w, z⁺> = <w, z>/(1+α)``: the distance to the line ``span(u)`` shrinks by
    exactly ``1/(1+α)``, whatever the follow sets (any A). Checked exactly:
    the residual is parallel to ``u`` (a nonzero column of V).
    """
    if not _gate(run, _rank_one):
        return None
    for k in range(run.steps):
        head = run.config.heads_at(k)[0]
        alpha = Fraction(head.alpha)
        V = head.V
        col = next(c for c in range(run.d) if any(V[r][c] != 0 for r in range(run.d)))
        u = tuple(V[r][col] for r in range(run.d))
        for i in range(run.n):
            residual = X.sub(run.states[k + 1][i], X.scale(1 / (1 + alpha), run.states[k][i]))
            if X.parallel_factor(residual, u) is None:
                return {"step": k, "replay_steps": k + 1, "token": i, "u": X.sv(u), "residual": X.sv(residual),
                        "V": X.sm(V), "alpha": X.s(alpha)}
    return None


def _leader_lost(run, k):
    """The first leader of Z^k that is not a leader of Z^{k+1}, as a witness, or None."""
    for i in run.leaders[k]:
        if i not in run.leaders[k + 1]:
            w = X.matvec(run.config.heads_at(k + 1)[0].A, run.states[k + 1][i])
            return {"step": k, "replay_steps": k + 2, "token": i, "position": X.sv(run.states[k][i]),
                    "position_next": X.sv(run.states[k + 1][i]),
                    "follows_next": list(run.follow[k + 1][0][i]),
                    "scores_next": [X.s(X.dot(w, z)) for z in run.states[k + 1]], "V": _Vs(run, k)}
    return None


_P2 = ("fixed_scores", "single_head", "positive_alpha")


@lemma("VM-ROTATION-LEADER",
       statement="with every V orthogonal (single head, fixed A), a leader at step k is still a leader at step k+1 "
                 "(it moves, to (I + alpha V) z/(1+alpha))",
       requires=_P2, model={"values": "rotation"}, steps_needed=_replay)
def vm_rotation_leader(run):
    """Expected FALSE. The leader ``z`` goes to ``M z`` with ``M = (I + αR)/(1+α)``
    while the other tokens move toward rotated face means; leadership is the
    strict inequality ``<A z, z> > <A z, y>``, which is not preserved by ``M``
    unless ``MᵀA M`` orders the new tokens like ``A`` the old ones (e.g. A = I
    and every token rotating rigidly — not the case here).
    """
    if not _gate(run, _orthogonal):
        return None
    for k in range(run.steps - 1):
        w = _leader_lost(run, k)
        if w is not None:
            return w
    return None


@lemma("VM-DIAG01-LEADER",
       statement="with every V diagonal with entries in [0, 1] (single head, fixed A), a leader at step k is still "
                 "a leader at step k+1",
       requires=_P2, model={"values": "diagonal"}, steps_needed=_replay)
def vm_diag01_leader(run):
    """Open conjecture (true in d = 1 for A > 0, see below); hunted.

    The leader ``z`` moves to ``D z``, ``D = (I + αV)/(1+α)`` diagonal with
    entries in ``[1/(1+α), 1]``: a coordinate-wise shrink toward the origin.
    In d = 1 with ``A > 0``: the leaders are the largest positive and smallest
    negative tokens, and ``z_max⁺ − z_l⁺ = (z_max − z_l)/(1+α) > 0`` for every
    other token (all pulled toward ``c·z_max`` or ``c·z_min``), so they stay
    leaders. In d ≥ 2 anisotropic shrinking can change which point is
    extreme in the leader's own direction ``A D z``.
    The strategies' ``diagonal`` class draws entries in ``[−2, 2]``; only the
    draws with every entry in ``[0, 1]`` are non-vacuous.
    """
    if not _gate(run, _diag01):
        return None
    for k in range(run.steps - 1):
        w = _leader_lost(run, k)
        if w is not None:
            return w
    return None
