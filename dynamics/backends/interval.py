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

Every config entry is evaluated with the checks of :meth:`dynamics.numbers.Expr.interval`
(real, finite, magnitude below ``2^MAX_BITS``). An entry with no finite
enclosure (``"tan(pi/2)"``), or a normalisation ``1 + sum(alpha_h)`` that may
be 0, is retried at doubled precision like an undecided row; at ``max_prec`` it
is a one-line error naming the field, never a NaN in the output.

Limits: ``MIN_PREC <= prec`` and ``prec, max_prec <= MAX_PREC`` (100,000 bits,
about 30,000 digits; a transcendental entry at that precision already takes
seconds in mpmath's pure-Python arithmetic), checked before the work
(:class:`~dynamics.errors.LimitError`). The default ``max_prec`` is
``min(8 * prec, MAX_PREC)``.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any, Callable

from mpmath import iv

from ..config import Config
from ..errors import InputError, LimitError
from ..numbers import MAX_BITS, EnclosureError, Expr, Number, NumberError, interval_precision
from ..rules import FollowSets
from ..trajectory import StopRun, Trajectory

__all__ = ["simulate_interval", "Undecided", "endpoints", "MIN_PREC", "MAX_PREC"]

MIN_PREC = 8
MAX_PREC = 100_000


def endpoints(x) -> tuple[Fraction, Fraction]:
    """The exact rational endpoints ``(lo, hi)`` of an ``mpmath.iv`` interval.

    Raises
    ------
    LimitError
        An endpoint whose exact value needs more than ``4 * MAX_BITS`` bits
        (config entries never do: :mod:`dynamics.numbers` widens endpoints
        closer to 0 than ``2^-(2·MAX_BITS)``; a raw ``mpmath`` value may).
    """
    from mpmath.libmp import to_rational

    for sign, man, exp, bc in x._mpi_:
        if man and abs(exp) > 4 * MAX_BITS:
            raise LimitError(f"an interval endpoint with a {abs(exp).bit_length()}-bit binary exponent has "
                             f"no exact form within {4 * MAX_BITS} bits")
    lo, hi = (Fraction(*to_rational(e)) for e in x._mpi_)
    return lo, hi


class Undecided(StopRun):
    """Raised when some rows cannot be decided at the current precision (ends the run there)."""

    def __init__(self, step: int, rows: list[int], head: int):
        super().__init__(f"rows {rows} undecided at step {step}")
        self.step, self.rows, self.head = step, rows, head


def _interval(x: Number, config: Config, where: str):
    """The enclosure of one config entry; errors name the file and the field."""
    if isinstance(x, Fraction):
        return iv.mpf(x.numerator) / x.denominator
    assert isinstance(x, Expr)
    try:
        return x.interval()
    except NumberError as exc:
        raise type(exc)(f"{config.source}: field '{where}': {exc}") from None


def _matrix(rows, config: Config, where: str) -> list[list]:
    """Enclosures of a matrix of config entries (field names ``where[i][k]``)."""
    return [[_interval(x, config, f"{where}[{i}][{k}]") for k, x in enumerate(row)]
            for i, row in enumerate(rows)]


def _initial_classes(tokens) -> list[int]:
    """Copy classes: equal exact values (or identical expression text) share a class id."""
    ids: dict[Any, int] = {}
    out = []
    for row in tokens:
        key = tuple(x if isinstance(x, Fraction) else ("expr", x.tree) for x in row)
        out.append(ids.setdefault(key, len(ids)))
    return out


class _LayerIntervals:
    """Enclosures of one schedule entry: ``A_h``, ``V_h`` (``None`` for I), ``c_0`` and ``c_h``."""

    def __init__(self, config: Config, heads, prefixes: list[str], prec: int):
        self.A = [_matrix(h.A, config, f"{p}A") for p, h in zip(prefixes, heads)]
        self.V = [None if h.V is None else _matrix(h.V, config, f"{p}V") for p, h in zip(prefixes, heads)]
        alphas = [_interval(h.alpha, config, f"{p}alpha") for p, h in zip(prefixes, heads)]
        total = 1 + sum(alphas)
        if 0 in total:
            where = f"{prefixes[0].split('heads[')[0]}alpha"
            raise EnclosureError(f"{config.source}: field '{where}': 1 + sum of alpha may be 0 at {prec} bits "
                                 "(the normalisation 1/(1 + alpha) is undefined at 0)")
        self.c0 = 1 / total
        self.ch = [a / total for a in alphas]


class _Run:
    """The interval :class:`~dynamics.engine.Engine` at one working precision.

    The state is ``Z`` (``n × d`` intervals); copy classes (``keys``) are
    fixed from the initial tokens (module docstring).
    """

    backend = "interval"

    def __init__(self, config: Config, prec: int):
        self.config = config
        self.prec = prec
        self.n, self.d = config.n, config.d
        self.Z0 = _matrix(config.tokens, config, "tokens")
        self.classes = _initial_classes(config.tokens)
        named = iter(config.all_heads())
        self.layers = []
        for heads in config.schedule:  # every enclosure up front: an EnclosureError retries at once
            prefixes = [next(named)[0] for _ in heads]
            self.layers.append(_LayerIntervals(config, heads, prefixes, prec))

    def initial_state(self):
        return self.Z0

    def keys(self, Z) -> list[int]:
        return self.classes

    def info(self) -> dict:
        return {}

    def follow_sets(self, Z, step: int) -> tuple[FollowSets, ...]:
        n, d = self.n, self.d
        members: dict[int, list[int]] = {}
        for i, c in enumerate(self.classes):
            members.setdefault(c, []).append(i)
        reps = {c: m[0] for c, m in members.items()}
        per_head = []
        for h, A in enumerate(self.layers[self.config.layer_index(step)].A):
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

    def layer(self, Z, step: int):
        per_head = self.follow_sets(Z, step)
        p = self.layers[self.config.layer_index(step)]
        n, d = self.n, self.d
        out = []
        for i in range(n):
            row = [p.c0 * Z[i][k] for k in range(d)]
            for ch, V, follow in zip(p.ch, p.V, per_head):
                c = follow[i]
                mean = [sum((Z[j][k] for j in c), iv.mpf(0)) / len(c) for k in range(d)]
                if V is not None:
                    mean = [sum((V[r][k] * mean[k] for k in range(d)), iv.mpf(0)) for r in range(d)]
                for k in range(d):
                    row[k] += ch * mean[k]
            out.append(row)
        return out, per_head

    def run(self, steps: int, progress: Callable[[int], None] | None) -> Trajectory:
        from ..engine import run_engine

        return run_engine(self, steps, progress=progress)


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
        Starting working precision in bits, ``MIN_PREC … MAX_PREC``.
    max_prec
        Largest precision to try, at most ``MAX_PREC`` (default:
        ``min(8 * prec, MAX_PREC)``); doubled each retry.

    Returns
    -------
    Trajectory
        ``info`` holds ``prec`` (the precision of the returned run),
        ``complete`` (False if it stopped early) and ``undecided``
        (``None`` or ``{"step", "rows", "head", "prec"}``). An incomplete
        trajectory ends at the undecided state ``Z^k``: it has ``k`` follow
        and leader entries for the decided states ``Z^0 … Z^{k-1}``.
        ``info["max_radius"][k]`` is the widest interval radius at step ``k``
        (the string ``"inf"`` if it overflows a float).

    Raises
    ------
    InputError
        ``prec`` below ``MIN_PREC``.
    LimitError
        ``prec`` or ``max_prec`` above ``MAX_PREC``.
    NumberError
        An entry that is not a real number; :class:`~dynamics.numbers.EnclosureError`
        when an entry (or ``1 + sum(alpha)``) has no finite enclosure even at ``max_prec``.
    """
    bits, max_prec = _precisions(prec, max_prec)
    start = time.perf_counter()
    while True:
        with interval_precision(bits):
            try:
                run = _Run(config, bits)
            except EnclosureError:
                if bits >= max_prec:
                    raise
                bits = min(2 * bits, max_prec)
                continue
            traj = run.run(steps, progress)
            radii = [_radius(Z) for Z in traj.states]
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


def _precisions(prec: int, max_prec: int | None) -> tuple[int, int]:
    """Validated ``(prec, max_prec)``: ``MIN_PREC <= prec <= max_prec <= MAX_PREC``."""
    for name, value in (("prec", prec), ("max_prec", max_prec)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InputError(f"{name} must be an integer number of bits, got {value!r}")
    if prec < MIN_PREC:
        raise InputError(f"prec must be at least {MIN_PREC} bits, got {prec}")
    if max_prec is not None and max_prec < prec:
        raise InputError(f"max_prec ({max_prec} bits) must be at least prec ({prec} bits)")
    for flag, value in (("--prec", prec), ("--max-prec", max_prec)):
        if value is not None and value > MAX_PREC:
            raise LimitError(f"interval precision {flag} {value} bits is over the limit of {MAX_PREC} bits "
                             "(dynamics.backends.interval.MAX_PREC)")
    return prec, max(prec, max_prec if max_prec is not None else min(8 * prec, MAX_PREC))


def _radius(Z) -> float | str:
    """The widest interval radius of a state, as a float (``"inf"`` when it overflows one)."""
    radius = float(max((x.delta for row in Z for x in row), default=0) / 2)
    return radius if math.isfinite(radius) else str(radius)
