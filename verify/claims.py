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

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

from dynamics.config import Config
from dynamics.floats import approx_float, json_number
from dynamics.numbers import format_fraction
from dynamics.trajectory import Trajectory

from .exact import IntState, exact_rows, require_finite, follow_sets, integer_matrix, leaders_of, satisfies_H
from .geometry import hull_membership, is_vertex

CLAIMS = ("P1", "P2", "P3", "P4", "P5", "D1", "D2", "D3")
FINITE_CLAIMS = ("P1", "P2", "P3", "P4", "D1", "D2", "D3")

__all__ = ["CLAIMS", "FINITE_CLAIMS", "Verdict", "Analysis", "check", "check_all"]


@dataclass
class Verdict:
    """The verdict on one claim for one run.

    ``holds``: True, False, or None (not applicable / not decided; see ``reason``).
    ``witness``: the first violation (step, tokens, exact numbers), or None.
    ``violations``: how many violations the whole run has; ``max_violation``:
    the largest violation measured as a float (claim-specific unit).
    """

    claim: str
    holds: bool | None
    reason: str = ""
    witness: dict[str, Any] | None = None
    violations: int = 0
    max_violation: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"holds": self.holds, "witness": self.witness}
        if self.reason:
            out["reason"] = self.reason
        if self.violations:
            out["violations"] = self.violations
            out["max_violation"] = json_number(self.max_violation)
        out.update(self.extra)
        return out


def _fmt(values) -> list[str]:
    return [format_fraction(Fraction(v)) for v in values]


class Analysis:
    """Exact states, independently recomputed follow sets and leaders of a trajectory.

    Built once per trajectory and shared by all checkers.
    """

    def __init__(self, config: Config, traj: Trajectory):
        require_finite(traj)
        self.config = config
        self.traj = traj
        self.rows = [exact_rows(s) for s in traj.states]
        self.states = [IntState(r) for r in self.rows]
        Ms = [[integer_matrix(h.A) for h in heads] for heads in config.schedule]
        self.follow = [follow_sets(s, Ms[config.layer_index(k)]) for k, s in enumerate(self.states)]
        self.leaders = [leaders_of(s, f) for s, f in zip(self.states, self.follow)]
        self.H = satisfies_H([h for _, h in config.all_heads()])

    @property
    def K(self) -> int:
        return len(self.rows) - 1

    def union_follow(self, k: int, i: int) -> tuple[int, ...]:
        return tuple(sorted(set().union(*(f[i] for f in self.follow[k]))))


def check_P1(a: Analysis) -> Verdict:
    first, count, worst = None, 0, 0.0
    for k in range(a.K):
        old = [tuple(p) for p in a.rows[k]]
        for i, x in enumerate(a.rows[k + 1]):
            cert = hull_membership(old, x)
            if not cert.inside:
                count += 1
                worst = max(worst, cert.distance)
                if first is None:
                    first = {"step": k + 1, "token": i, "point": _fmt(x),
                             "separating_normal": _fmt(cert.normal), "offset": format_fraction(cert.offset),
                             "distance_outside": cert.distance}
    return Verdict("P1", count == 0, witness=first, violations=count, max_violation=worst,
                   reason="" if count == 0 else "a token left the previous convex hull (distance in max_violation)")


def check_P2(a: Analysis, claim: str = "P2") -> Verdict:
    first, count, worst = None, 0, 0.0
    for k in range(a.K + 1):
        for i in a.leaders[k]:
            for l in range(k + 1, a.K + 1):
                moved = a.rows[l][i] != a.rows[k][i]
                lost = i not in a.leaders[l]
                if moved or lost:
                    count += 1
                    drift = approx_float(max(abs(x - y) for x, y in zip(a.rows[l][i], a.rows[k][i])))
                    worst = max(worst, drift)
                    if first is None:
                        first = {"leader_at": k, "token": i, "broken_at": l, "moved": moved,
                                 "still_leader": not lost, "position_then": _fmt(a.rows[k][i]),
                                 "position_now": _fmt(a.rows[l][i]), "follows_now": list(a.union_follow(l, i))}
                    break  # one violation per (leader, step) pair
    return Verdict(claim, count == 0, witness=first, violations=count, max_violation=worst)


def check_P3(a: Analysis) -> Verdict:
    empty = [k for k in range(a.K + 1) if not a.leaders[k]]
    witness = None
    if empty:
        k = empty[0]
        witness = {"step": k, "follow": [list(a.union_follow(k, i)) for i in range(len(a.rows[k]))],
                   "tokens": [_fmt(z) for z in a.rows[k]]}
    return Verdict("P3", not empty, witness=witness, violations=len(empty),
                   extra={"steps_without_leader": empty[:20]})


def check_P4(a: Analysis) -> Verdict:
    """The trajectory's follow sets against the exact supporting-hyperplane faces."""
    traj = a.traj
    first, count = None, 0
    available = min(len(traj.follow), a.K + 1)
    for k in range(available):
        claimed = traj.follow_by_head[k] if traj.follow_by_head is not None else (traj.follow[k],)
        for h, (mine, theirs) in enumerate(zip(a.follow[k], claimed)):
            for i, (c_exact, c_claimed) in enumerate(zip(mine, theirs)):
                if tuple(c_exact) != tuple(c_claimed):
                    count += 1
                    if first is None:
                        first = {"step": k, "head": h, "token": i, "claimed_follow": list(c_claimed),
                                 "tokens_on_supporting_hyperplane": list(c_exact)}
    return Verdict("P4", count == 0, witness=first, violations=count,
                   reason="" if count == 0 else "follow sets differ from the exact exposed faces")


def check_D1(a: Analysis) -> Verdict:
    """The trajectory's leaders are exposed vertices (exact certificates)."""
    traj = a.traj
    first, count = None, 0
    for k in range(min(len(traj.leaders), a.K + 1)):
        points = [tuple(p) for p in a.rows[k]]
        for i in traj.leaders[k]:
            hint = None
            if len(a.config.heads) == 1:
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


def check_D2(a: Analysis) -> Verdict:
    if len({tuple(map(tuple, h.A)) for _, h in a.config.all_heads()}) > 1:
        return Verdict("D2", None, reason="heads or layers have different A: the A-norm is not defined")
    A = a.config.heads[0].A
    d = len(A)

    def norm(z):
        return sum((A[r][c] * z[c] * z[r] for r in range(d) for c in range(d)), Fraction(0))

    first, count, worst = None, 0, 0.0
    for k in range(a.K):
        for i in range(len(a.rows[k])):
            before, after = norm(a.rows[k][i]), norm(a.rows[k + 1][i])
            if after < before:
                count += 1
                worst = max(worst, approx_float(before - after))
                if first is None:
                    first = {"step": k, "token": i, "norm_before": format_fraction(before),
                             "norm_after": format_fraction(after)}
    reason = "" if a.H else "A outside H: D2 is only claimed under H; checked anyway"
    return Verdict("D2", count == 0, reason=reason, witness=first, violations=count, max_violation=worst)


def check_D3(a: Analysis) -> Verdict:
    if a.H:
        return Verdict("D3", None, reason="A satisfies H (D3 concerns A outside H; see P2)")
    verdict = check_P2(a, claim="D3")
    verdict.reason = "P2 with A outside H (nonsymmetric, indefinite or semidefinite)"
    return verdict


_CHECKERS: dict[str, Callable[[Analysis], Verdict]] = {
    "P1": check_P1, "P2": check_P2, "P3": check_P3, "P4": check_P4,
    "D1": check_D1, "D2": check_D2, "D3": check_D3,
}


def check(claim: str, config: Config, traj: Trajectory, analysis: Analysis | None = None) -> Verdict:
    """Check one finite-horizon claim (P1–P4, D1–D3) on a trajectory."""
    if claim not in _CHECKERS:
        raise ValueError(f"unknown claim {claim!r} (finite-horizon claims: {', '.join(FINITE_CLAIMS)})")
    if traj.backend == "interval":
        return Verdict(claim, None, reason="interval states are enclosures; check the exact or a float backend")
    return _CHECKERS[claim](analysis or Analysis(config, traj))


def check_all(config: Config, traj: Trajectory, claims=FINITE_CLAIMS) -> dict[str, Verdict]:
    """Check several finite-horizon claims, sharing one :class:`Analysis`."""
    if traj.backend == "interval":
        return {c: check(c, config, traj) for c in claims}
    analysis = Analysis(config, traj)
    return {c: check(c, config, traj, analysis) for c in claims}
