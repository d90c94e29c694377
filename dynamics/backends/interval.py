"""The interval engine: rigorous ``mpmath.iv`` arithmetic for irrational parameters.

Tokens, ``A_h`` and ``alpha_h`` may be irrational expressions
(``"sqrt(2)/2"``, ``"cos(pi/7)"``, see :mod:`dynamics.numbers`). Every number is
an interval guaranteed to contain the true value. The argmax of row ``i`` is
*decided* when the candidates that may still be maximal,

    cand_i = { j : hi(s_ij) >= max_l lo(s_il) },

are all copies of one token (then they tie exactly and ``C_i = cand_i``).
Copies are tracked structurally: tokens with the same exact initial value are
copies, and copies stay copies (they see identical scores and move
identically). Two *different* tokens whose scores tie exactly can never be
separated by intervals; such a row is reported as **undecided at N bits**,
never guessed.

:func:`simulate_interval` retries an undecided run from scratch at doubled
precision up to ``max_prec`` bits, and otherwise stops at the undecided step
and says which rows it could not decide.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from fractions import Fraction
from typing import Any, Callable

from mpmath import iv

from ..config import Config
from ..numbers import Expr, Number
from ..rules import FollowSets
from ..trajectory import StopRun, Trajectory, record_run

__all__ = ["simulate_interval", "Undecided", "endpoints"]


def endpoints(x) -> tuple[Fraction, Fraction]:
    """The exact rational endpoints ``(lo, hi)`` of an ``mpmath.iv`` interval."""
    from mpmath.libmp import to_rational

    lo, hi = (Fraction(*to_rational(e)) for e in x._mpi_)
    return lo, hi


class Undecided(StopRun):
    """Raised when some rows cannot be decided at the current precision (ends the run there)."""

    def __init__(self, step: int, rows: list[int], head: int):
        super().__init__(f"rows {rows} undecided at step {step}")
        self.step, self.rows, self.head = step, rows, head


@contextmanager
def _precision(bits: int):
    """Temporarily set ``iv.prec`` (the mpmath interval context is global)."""
    old = iv.prec
    iv.prec = bits
    try:
        yield
    finally:
        iv.prec = old


def _interval(x: Number):
    if isinstance(x, Fraction):
        return iv.mpf(x.numerator) / x.denominator
    assert isinstance(x, Expr)
    return x.interval()


def _initial_classes(tokens) -> list[int]:
    """Copy classes: equal exact values (or identical expression text) share a class id."""
    ids: dict[Any, int] = {}
    out = []
    for row in tokens:
        key = tuple(x if isinstance(x, Fraction) else ("expr", x.tree) for x in row)
        out.append(ids.setdefault(key, len(ids)))
    return out


class _Run:
    def __init__(self, config: Config, prec: int):
        self.config = config
        self.prec = prec
        self.n, self.d = config.n, config.d
        self.A = [[[_interval(x) for x in row] for row in h.A] for h in config.heads]
        alphas = [_interval(h.alpha) for h in config.heads]
        total = 1 + sum(alphas)
        self.c0 = 1 / total
        self.ch = [a / total for a in alphas]

    def follow_sets(self, Z, classes: list[int], step: int) -> tuple[FollowSets, ...]:
        n, d = self.n, self.d
        members: dict[int, list[int]] = {}
        for i, c in enumerate(classes):
            members.setdefault(c, []).append(i)
        reps = {c: m[0] for c, m in members.items()}
        per_head = []
        for h, A in enumerate(self.A):
            follow: list[tuple[int, ...] | None] = [None] * n
            undecided = []
            for cls, i in reps.items():
                Az = [sum((A[r][k] * Z[i][k] for k in range(d)), iv.mpf(0)) for r in range(d)]
                # One score per class: copies have identical scores.
                scores = {c: sum((Az[k] * Z[j][k] for k in range(d)), iv.mpf(0)) for c, j in reps.items()}
                best_lo = max(s.a for s in scores.values())
                candidates = [c for c, s in scores.items() if s.b >= best_lo]
                if len(candidates) == 1:
                    chosen = tuple(members[candidates[0]])
                    for member in members[cls]:
                        follow[member] = chosen
                else:
                    undecided.extend(members[cls])
            if undecided:
                raise Undecided(step, sorted(undecided), h)
            per_head.append(tuple(follow))  # type: ignore[arg-type]
        return tuple(per_head)

    def step(self, Z, per_head: tuple[FollowSets, ...]):
        n, d = self.n, self.d
        out = []
        for i in range(n):
            row = [self.c0 * Z[i][k] for k in range(d)]
            for ch, follow in zip(self.ch, per_head):
                c = follow[i]
                for k in range(d):
                    row[k] += ch * sum((Z[j][k] for j in c), iv.mpf(0)) / len(c)
            out.append(row)
        return out

    def run(self, steps: int, progress: Callable[[int], None] | None) -> Trajectory:
        classes = _initial_classes(self.config.tokens)
        Z0 = [[_interval(x) for x in row] for row in self.config.tokens]
        step_of = {id(Z0): 0}

        def decide(Z):
            return self.follow_sets(Z, classes, step_of[id(Z)])

        def advance(Z, per_head):
            Z_next = self.step(Z, per_head)
            step_of[id(Z_next)] = step_of[id(Z)] + 1
            return Z_next

        return record_run("interval", Z0, steps, decide, advance, lambda Z: classes, progress=progress)


def simulate_interval(
    config: Config,
    steps: int,
    prec: int = 64,
    max_prec: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Trajectory:
    """Simulate with rigorous intervals, raising the precision until decided.

    Parameters
    ----------
    config
        Any configuration; irrational entries are allowed.
    steps
        Number of layers ``K``.
    prec
        Starting working precision in bits.
    max_prec
        Largest precision to try (default: ``8 * prec``); doubled each retry.

    Returns
    -------
    Trajectory
        ``info`` holds ``prec`` (the precision of the returned run),
        ``complete`` (False if it stopped early) and ``undecided``
        (``None`` or ``{"step", "rows", "head", "prec"}``). An incomplete
        trajectory ends at the undecided state ``Z^k``: it has ``k`` follow
        and leader entries for the decided states ``Z^0 … Z^{k-1}``.
        ``info["max_radius"][k]`` is the widest interval radius at step ``k``.
    """
    if prec < 8:
        raise ValueError("prec must be at least 8 bits")
    max_prec = max(prec, max_prec if max_prec is not None else 8 * prec)
    start = time.perf_counter()
    bits = prec
    while True:
        with _precision(bits):
            traj = _Run(config, bits).run(steps, progress)
            radii = [float(max((x.delta for row in Z for x in row), default=0) / 2) for Z in traj.states]
        undecided = traj.info.pop("stopped", None)
        if undecided is None or bits >= max_prec:
            break
        bits = min(2 * bits, max_prec)
    traj.info = {
        "prec": bits,
        "complete": undecided is None,
        "undecided": None
        if undecided is None
        else {"step": undecided.step, "rows": undecided.rows, "head": undecided.head, "prec": bits},
        "max_radius": radii,
    }
    traj.elapsed_s = time.perf_counter() - start
    return traj
