"""Layer schedules: which claims survive parameters that change with the layer?

Model (SPEC §1): layer ``k`` uses entry ``min(k, L−1)`` of a list of ``L``
parameter sets (``run.config.heads_at(k)``); the follow sets and leaders of
``Z^k`` are taken with layer ``k``'s ``A`` (``run.follow[k]``,
``run.leaders[k]``).

Caveat on hunting (a limitation of :func:`verify.strategies.configs`, not of
the lemmas): ``layers=L`` draws a *fresh* A for every layer, so a schedule
with a fixed A and a varying α is drawn only by chance (in d = 1 the spd
class has six values of A, and all positive 1×1 matrices give the same
follow sets). ``SC-P2-SAME-A-WINDOW`` is therefore stated for any schedule,
on the windows of layers whose A agree up to a positive factor, which is
exactly what the proof needs; it is non-vacuous on most d = 1 draws and on
the constant tail of every schedule (layers ``≥ L−1`` repeat the last entry).

Witnesses carry ``"step"`` and ``"replay_steps"`` (used as ``steps_needed``).
"""

from __future__ import annotations

from fractions import Fraction

import lemma_helpers as X  # beside this file: the loader puts its folder on sys.path
from verify.lemmas import lemma


def _replay(w):
    return w["replay_steps"]


def _positive_multiple(A, B):
    """True when ``B = c A`` for some ``c > 0`` (exactly)."""
    flatA = [x for row in A for x in row]
    flatB = [x for row in B for x in row]
    pivot = next((t for t, x in enumerate(flatA) if x != 0), None)
    if pivot is None:
        return all(x == 0 for x in flatB)
    c = Fraction(flatB[pivot]) / flatA[pivot]
    return c > 0 and all(b == c * a for a, b in zip(flatA, flatB))


def _same_scores(run, k, m):
    """Every head of layer m uses a positive multiple of the same head's A at layer k."""
    return all(_positive_multiple(a.A, b.A) for a, b in zip(run.config.heads_at(k), run.config.heads_at(m)))


def _schedule_summary(run, upto):
    return [{"A": X.sm(h.A), "alpha": X.s(h.alpha)} for h in (run.config.heads_at(k)[0] for k in range(upto))]


def _p2_witness(run, k, l, i, extra):
    return {"step": k, "replay_steps": max(l, 1), "leader_at": k, "broken_at": l, "token": i,
            "moved": run.states[l][i] != run.states[k][i], "still_leader": i in run.leaders[l],
            "position_then": X.sv(run.states[k][i]), "position_now": X.sv(run.states[l][i]),
            "layers": _schedule_summary(run, min(l + 1, run.steps)), **extra}


@lemma("SC-P2-SAME-A-WINDOW",
       statement="P2 under any alpha schedule: a leader at step k stays put and stays a leader at every step l > k "
                 "such that every layer m = k..l uses (head by head) a positive multiple of layer k's A",
       requires=("identity_values", "positive_alpha"),
       model={"layers": (2, 4), "alpha_schedule": "decreasing"}, steps_needed=_replay)
def sc_p2_window(run):
    """TRUE for every A and every α schedule with α > 0 (proof), in particular for
    "a decreasing α with a fixed A".

    Step ``m → m+1`` with the same A: a leader ``z`` satisfies
    ``<A_h z, z> > <A_h z, y>`` for every other token value ``y`` of ``Z^m`` and
    every head; the inequality is linear in ``y``, so it holds for every ``y ∈
    conv(Z^m) \\ {z}``. Its own face means are ``z``, so ``z`` does not move;
    every new token is in ``conv(Z^m)`` (``α_h > 0`` makes each update a convex
    combination — the size of α is irrelevant) and equals ``z`` only if it was
    a copy (``z`` is extreme). So ``z`` is again the unique maximiser at
    ``m+1`` for the same A — and for any positive multiple of it. No symmetry
    or definiteness is used (this is D3 with a schedule). Only the score
    matrices must agree: that is the window condition.
    """
    for k in range(run.steps + 1):
        for i in run.leaders[k]:
            for l in range(k + 1, run.steps + 1):
                if not _same_scores(run, k, l):
                    break
                if run.states[l][i] != run.states[k][i] or i not in run.leaders[l]:
                    return _p2_witness(run, k, l, i, {})
    return None


@lemma("SC-P2-CHANGING-A",
       statement="P2 survives a schedule that changes A (every layer spd, single head): a leader at step k stays put "
                 "and stays a leader at every later step",
       under=("spd",), requires=("identity_values", "single_head", "positive_alpha"),
       model={"layers": (2, 3)}, steps_needed=_replay)
def sc_p2_changing_a(run):
    """Expected FALSE. Leadership at step k is with respect to ``A_k``; a leader of
    ``A_k`` need not be a leader of ``A_{k+1}`` (another token may beat it in
    the new direction ``A_{k+1} z``), and then it moves. In d = 1 every
    positive A gives the same follow sets, so a counterexample needs d ≥ 2.
    """
    for k in range(run.steps + 1):
        for i in run.leaders[k]:
            for l in range(k + 1, run.steps + 1):
                if run.states[l][i] != run.states[k][i] or i not in run.leaders[l]:
                    return _p2_witness(run, k, l, i, {"same_A_throughout": all(
                        _same_scores(run, k, m) for m in range(k, l + 1))})
    return None


@lemma("SC-P1-ANY-SCHEDULE",
       statement="P1 under any schedule (A of any class per layer, alpha > 0, V = I, any number of heads): every token "
                 "of Z^{k+1} lies in conv(Z^k) (exact certificate: explicit convex weights, checked exactly; a "
                 "Carathéodory search if the formula does not reproduce the state)",
       requires=("identity_values", "positive_alpha"), model={"layers": (2, 4)}, steps_needed=_replay)
def sc_p1_any_schedule(run):
    """TRUE (proof). ``z_i⁺ = (z_i + Σ_h α_h m^h_i)/(1 + Σ_h α_h)`` with
    ``α_h > 0`` is a convex combination of ``z_i`` and face means of ``Z^k``,
    whatever ``A_h`` and ``α_h`` the layer uses. The certificate: weights
    ``1/(1+Σα)`` on ``i`` and ``α_h/((1+Σα)|C^h_i|)`` on each ``j ∈ C^h_i``,
    recomputed from the states and verified exactly; if the state does not
    match the formula (which would be an engine bug), membership is decided
    by an exact search instead.
    """
    for k in range(run.steps):
        Z = run.states[k]
        heads = run.config.heads_at(k)
        total = 1 + sum((Fraction(h.alpha) for h in heads), Fraction(0))
        for i in range(run.n):
            weights = [Fraction(0)] * run.n
            weights[i] += 1 / total
            for h, head in enumerate(heads):
                C = run.follow[k][h][i]
                for j in C:
                    weights[j] += Fraction(head.alpha) / (total * len(C))
            combo = tuple(sum((w * z[c] for w, z in zip(weights, Z)), Fraction(0)) for c in range(run.d))
            x = run.states[k + 1][i]
            if combo == x and all(w >= 0 for w in weights):
                continue
            if X.hull_certificate(Z, x) is None:
                return {"step": k, "replay_steps": k + 1, "token": i, "point": X.sv(x),
                        "formula_point": X.sv(combo), "previous_tokens": [X.sv(z) for z in Z],
                        "layer_alpha": [X.s(h.alpha) for h in heads]}
    return None


@lemma("SC-P3-SPD-SCHEDULE",
       statement="every step has a leader when every layer's A is spd (single head, any schedule): in fact a token "
                 "maximising <A_k z, z> over Z^k is a leader of Z^k",
       under=("spd",), requires=("single_head",), model={"layers": (2, 4)}, steps_needed=_replay)
def sc_p3_spd_schedule(run):
    """TRUE (proof), per step, whatever the other layers do.

    For spd ``A_k`` and ``p`` maximising ``<A_k z, z>``: for ``z_l ≠ z_p``,
    ``<A_k z_p, z_l> ≤ ‖z_p‖_A ‖z_l‖_A ≤ ‖z_p‖²_A`` with equality only if
    ``z_l = z_p`` (Cauchy–Schwarz in the A-inner product), so ``p`` follows only
    its copies. (With several heads a token must lead every head: P3 fails,
    see the corpus; hence ``single_head``.) Checked with the certificate token.
    """
    for k in range(run.steps + 1):
        A = run.config.heads_at(k)[0].A
        norms = [X.quad(A, z) for z in run.states[k]]
        p = max(range(run.n), key=lambda i: norms[i])
        if p not in run.leaders[k] or not run.leaders[k]:
            return {"step": k, "replay_steps": max(k, 1), "certificate_token": p,
                    "A_norm2": X.s(norms[p]), "leaders": list(run.leaders[k]), "A": X.sm(A),
                    "tokens": [X.sv(z) for z in run.states[k]]}
    return None
