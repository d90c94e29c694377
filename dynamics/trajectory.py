"""Trajectories: the states ``Z^0 … Z^K``, follow sets and leaders of a run.

A :class:`Trajectory` is what every backend returns and what the checkers in
``verify`` read. States are stored in the backend's own arithmetic:

* exact engine: :class:`~dynamics.rational.RationalMatrix` (exact ``N/D``);
* interval engine: ``n × d`` nested lists of ``mpmath.iv`` intervals;
* algebraic engine: ``n × d`` nested tuples of :class:`~dynamics.number_field.FieldElement`
  (exact; JSON strings in the input grammar, ``"1/3 + 1/6*sqrt(2)"``);
* float backends: ``numpy.ndarray`` of shape ``(n, d)``.

``follow`` and ``leaders`` hold one entry per *state*, so ``follow[K]`` (the
follow sets at the final state) is kept too; the JSON form follows SPEC §5 and
emits ``follow[0 … K-1]`` and ``leaders[0 … K]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .floats import approx_float, approx_str, json_number
from .number_field import FieldElement
from .rational import RationalMatrix
from .rules import FollowSets, clusters

__all__ = ["Trajectory", "StopRun", "state_keys", "state_to_json", "state_to_float", "approx_state"]


def state_keys(state: Any) -> list:
    """Hashable per-token keys, equal exactly when the tokens are equal in the state's arithmetic."""
    if isinstance(state, RationalMatrix):
        return state.row_keys()
    if isinstance(state, np.ndarray):
        # +0.0 and -0.0 are equal tokens: normalise before hashing the bytes.
        normalised = state + 0.0
        return [normalised[i].tobytes() for i in range(state.shape[0])]
    if _algebraic(state):
        return [tuple(row) for row in state]
    return [tuple((x.a, x.b) for x in row) for row in state]


def _algebraic(state: Any) -> bool:
    """True for a state of the algebraic engine (rows of field elements)."""
    return isinstance(state, tuple) and bool(state) and isinstance(state[0][0], FieldElement)


def state_to_json(state: Any) -> list[list]:
    """SPEC §5 JSON: ``"p/q"`` strings for exact states, numbers otherwise (interval midpoints)."""
    if isinstance(state, RationalMatrix):
        return state.strings()
    if isinstance(state, np.ndarray):
        return [[json_number(float(x)) for x in row] for row in state]
    if _algebraic(state):
        return [[str(x) for x in row] for row in state]
    return [[json_number(float(x.mid)) for x in row] for row in state]


def approx_state(state: Any, digits: int = 6) -> list[list[str]]:
    """Readable approximations of a state's entries, of any magnitude (exact states are never floated).

    Entries within ``1e-4 … 1e6`` read as fixed-point (``" 0.333333"``), others in
    scientific notation (``" 1.00000e+400"``): computed exactly for exact states, from
    the float for float states, interval midpoints and field elements (whose ``float``
    saturates to ``±inf`` beyond float64's range).
    """
    if isinstance(state, RationalMatrix):
        return [[_approx_entry(x, digits) for x in row] for row in state.fractions()]
    if _algebraic(state):
        return [[_approx_field_entry(x, digits) for x in row] for row in state]
    return [[_approx_float_entry(float(x.mid) if hasattr(x, "mid") else float(x), digits) for x in row] for row in state]


def _fixed_point(magnitude) -> bool:
    return magnitude == 0 or Fraction(1, 10**4) <= magnitude < 10**6


def _approx_entry(x: Fraction, digits: int) -> str:
    if _fixed_point(abs(x)):
        return f"{approx_float(x): .{digits}f}"
    return f"{'' if x < 0 else ' '}{approx_str(x, digits)}"


def _approx_field_entry(x: FieldElement, digits: int) -> str:
    """A field element: from its float, or where that under- or overflows, from rational bounds narrowed
    until they agree to about 30 bits (scientific notation, computed exactly, as for exact states)."""
    value = float(x)
    if np.isfinite(value) and (value != 0 or x.sign() == 0):
        return _approx_float_entry(value, digits)
    prec = 64
    while True:
        lo, hi = x.bounds(prec)
        if (lo > 0 or hi < 0) and hi - lo <= abs(lo) / 2**30 or prec >= 1 << 20:
            return _approx_entry((lo + hi) / 2, digits)
        prec *= 2


def _approx_float_entry(x: float, digits: int) -> str:
    if not np.isfinite(x) or _fixed_point(Fraction(abs(x))):
        return f"{x: .{digits}f}"
    return f"{x: .{digits - 1}e}"


def state_to_float(state: Any) -> np.ndarray:
    """A float64 array approximating the state (interval midpoints), for plots and float comparisons.

    Exact entries beyond float64's range saturate to ``±inf`` (see
    :meth:`~dynamics.rational.RationalMatrix.to_numpy`).
    """
    if isinstance(state, RationalMatrix):
        return state.to_numpy()
    if isinstance(state, np.ndarray):
        return state.astype(np.float64)
    if _algebraic(state):
        return np.array([[float(x) for x in row] for row in state], dtype=np.float64)
    return np.array([[float(x.mid) for x in row] for row in state], dtype=np.float64)


@dataclass
class Trajectory:
    """One run of the dynamics.

    Attributes
    ----------
    backend
        ``"exact"``, ``"interval"``, ``"float"`` or ``"torch"``.
    states
        ``states[k]`` is ``Z^k`` for ``k = 0 … steps``.
    follow
        ``follow[k][i] = C_i(Z^k)`` (sorted; union over heads), one entry per state.
    leaders
        ``leaders[k]``: sorted leaders of ``Z^k``, one entry per state.
    follow_by_head
        For several heads, ``follow_by_head[k][h][i] = C^h_i(Z^k)``; else ``None``.
    elapsed_s
        Compute time of the run, without start-up and I/O.
    info
        Backend details (dtype, device, precision, undecided rows, …).
    """

    backend: str
    states: list[Any]
    follow: list[FollowSets]
    leaders: list[tuple[int, ...]]
    follow_by_head: list[tuple[FollowSets, ...]] | None = None
    elapsed_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """Number of completed steps ``K`` (``len(states) - 1``)."""
        return len(self.states) - 1

    @property
    def n(self) -> int:
        return len(self.follow[0]) if self.follow else len(state_keys(self.states[0]))

    @property
    def d(self) -> int:
        first = self.states[0]
        if isinstance(first, RationalMatrix):
            return first.shape[1]
        return len(first[0])

    def clusters(self, k: int = -1) -> list[list[int]]:
        """Groups of tokens equal at step ``k`` (default: the final state)."""
        return clusters(state_keys(self.states[k]))

    def to_json(self) -> dict[str, Any]:
        """The SPEC §5 document of ``python -m dynamics simulate --json``."""
        K = self.steps
        out: dict[str, Any] = {
            "backend": self.backend,
            "n": self.n,
            "d": self.d,
            "steps": K,
            "elapsed_s": round(self.elapsed_s, 6),
            "trajectory": [state_to_json(s) for s in self.states],
            "follow": [[list(c) for c in f] for f in self.follow[:K]],
            "leaders": [list(l) for l in self.leaders[: K + 1]],
        }
        if self.follow_by_head is not None:
            out["follow_by_head"] = [
                [[list(c) for c in f] for f in heads] for heads in self.follow_by_head[:K]
            ]
        out.update(self.info)
        return out


class StopRun(Exception):
    """Raised by an engine when a step cannot be decided; the run ends at that state (``exc.state``)."""
