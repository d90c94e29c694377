"""The certified backend: float speed where floats are provably right, exact elsewhere.

The state is kept exactly (as in the exact engine, whose update it uses).
Each step the follow sets are decided by a **float filter** (SPEC §3), in the
manner of CGAL's filtered predicates:

1. ``Z̃ = fl(Z)`` (each entry correctly rounded, relative error ≤ u = 2⁻⁵³),
   ``S̃ = fl(fl(Z̃ Ãᵀ) Z̃ᵀ)`` in float64 and the rigorous bound

       |S̃_ij − s_ij| ≤ B_ij = (2d + 8) · u · 1.01 · T̃_ij + η,
       T̃ = fl(|Z̃| |Ã|ᵀ |Z̃|ᵀ),

   which covers the input roundings (three factors of ``1 + u``), the two
   length-``d`` dot products in any summation order (``γ_d`` each), the
   underestimate of ``T`` by its own float evaluation (the 1.01 absorbs the
   higher-order terms) and underflow (``η``).
2. With ``j*`` the float argmax of row ``i``, every ``j`` with
   ``S̃_ij + B_ij < S̃_ij* − B_ij*`` is provably not a maximiser. If the
   remaining candidates are all exact copies of ``z_j*`` (equal rows; their
   exact scores are equal), the row is decided: ``C_i`` = the candidates.
3. Every other row (an exact tie between different tokens, or a near tie
   below the bound) is decided exactly from integer scores.

So the trajectory and follow sets are identical to the exact engine's, always;
``info["filter"]`` says how many rows the float filter decided.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from flint import fmpz_mat

from ..config import Config
from ..rational import RationalMatrix
from ..rules import FollowSets
from ..trajectory import Trajectory
from .exact import ExactEngine, _maximisers

__all__ = ["CertifiedEngine", "simulate_certified", "score_error_bound"]

UNIT_ROUNDOFF = 2.0 ** -53
TINY = 2.0 ** -1074


def score_error_bound(Zf: np.ndarray, Af: np.ndarray, unit_roundoff: float = UNIT_ROUNDOFF,
                      tiny: float = TINY) -> np.ndarray:
    """The rigorous bound ``B`` on ``|fl(fl(Z Aᵀ) Zᵀ) − Z Aᵀ Zᵀ|`` (see module docstring).

    ``unit_roundoff`` and ``tiny`` (smallest subnormal) are those of the
    arithmetic that computed the scores: ``2⁻⁵³, 2⁻¹⁰⁷⁴`` for float64,
    ``2⁻²⁴, 2⁻¹⁴⁹`` for float32. ``T`` is evaluated in float64 whatever the
    scores' precision (float64 rounding of ``T`` is absorbed by the 1.01).
    """
    d = Zf.shape[1]
    absZ = np.abs(Zf.astype(np.float64))
    absA = np.abs(Af.astype(np.float64))
    T = (absZ @ absA.T) @ absZ.T
    zmax = float(absZ.max(initial=0.0))
    amax = float(absA.max(initial=0.0))
    eta = (4 * d + 8) * tiny * (1.0 + d * zmax) * (1.0 + d * amax)
    return (2 * d + 8) * unit_roundoff * 1.01 * T + eta


def _to_float(state: RationalMatrix) -> np.ndarray:
    """Each entry correctly rounded (Python's int / int division is correctly rounded)."""
    den = state.den
    return np.array([[x / den for x in row] for row in state.ints()], dtype=np.float64)


class CertifiedEngine(ExactEngine):
    """Exact dynamics with float-filtered argmax decisions (identical results to :class:`ExactEngine`)."""

    def __init__(self, config: Config):
        super().__init__(config)
        self._A_float = [np.array([[float(x) for x in row] for row in h.A], dtype=np.float64)
                         for h in config.heads]
        self.rows_total = 0
        self.rows_filtered = 0

    def follow_sets(self, state: RationalMatrix) -> tuple[FollowSets, ...]:
        n = self.n
        Zf = _to_float(state)
        keys = state.row_keys()
        group: dict[tuple, int] = {}
        gid = np.array([group.setdefault(k, len(group)) for k in keys])
        out = []
        NT = None
        for h, Af in enumerate(self._A_float):
            S = (Zf @ Af.T) @ Zf.T
            B = score_error_bound(Zf, Af)
            if not (np.isfinite(S).all() and np.isfinite(B).all()):
                undecided = np.arange(n)
                follow: list[tuple[int, ...] | None] = [None] * n
            else:
                jstar = S.argmax(axis=1)
                rows = np.arange(n)
                threshold = S[rows, jstar] - B[rows, jstar]
                candidates = (S + B) >= threshold[:, None]
                copies_only = np.all(~candidates | (gid[None, :] == gid[jstar][:, None]), axis=1)
                single = candidates.sum(axis=1) == 1
                follow = [None] * n
                for i, j, one, ok in zip(range(n), jstar.tolist(), single.tolist(), copies_only.tolist()):
                    if one:
                        follow[i] = (j,)
                    elif ok:
                        follow[i] = tuple(np.flatnonzero(candidates[i]).tolist())
                undecided = np.flatnonzero(~copies_only)
            self.rows_total += n
            self.rows_filtered += n - len(undecided)
            if len(undecided):
                if NT is None:
                    NT = state.num.transpose()
                picked = fmpz_mat(len(undecided), self.d,
                                  [x for i in undecided for x in keys[i]])
                MT = self._score_T[h]
                scores = (picked * NT) if MT is None else (picked * MT) * NT
                for i, row in zip(undecided, scores.tolist()):
                    follow[int(i)] = _maximisers(row)
            out.append(tuple(follow))  # type: ignore[arg-type]
        return tuple(out)

    def run(self, steps: int, progress: Callable[[int], None] | None = None,
            stop_when_fixed: bool = False) -> Trajectory:
        traj = super().run(steps, progress=progress, stop_when_fixed=stop_when_fixed)
        traj.backend = "certified"
        traj.info["filter"] = {
            "rows": self.rows_total,
            "decided_by_float_filter": self.rows_filtered,
            "decided_exactly": self.rows_total - self.rows_filtered,
        }
        return traj


def simulate_certified(config: Config, steps: int, progress: Callable[[int], None] | None = None) -> Trajectory:
    """Run the certified backend; see :class:`CertifiedEngine`."""
    return CertifiedEngine(config).run(steps, progress=progress)
