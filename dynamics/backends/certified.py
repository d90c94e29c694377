"""The certified backend: float speed where floats are provably right, exact elsewhere.

The state is kept exactly (as in the exact engine, whose update it uses).
Each step the follow sets are decided by a **float filter** (SPEC §3), in the
manner of CGAL's filtered predicates, and every row the filter cannot decide
is decided in exact integer arithmetic. The trajectory and follow sets are
therefore identical to the exact engine's for *every* rational input: any
magnitude (``1e-400`` … ``1e400`` and beyond), subnormal or zero-rounding
entries, exact ties. ``info["filter"]`` says how many rows the filter decided.

Scaling (no overflow, ever)
---------------------------
Argmax decisions within a row are invariant under positive scalings
``Z → 2^{-e} Z`` (scores scale by ``2^{-2e}``) and ``A_h → 2^{-f} A_h``. The
filter works on ``Z' = 2^{-e} Z`` and ``A' = 2^{-f} M_h`` (``M_h`` the integer
multiple of ``A_h`` the exact engine uses), with ``e, f`` chosen from the bit
lengths so that every entry has ``|z'|, |a'| ≤ 1``. Then every float
intermediate is at most ``d²(1 + γ)`` in magnitude: nothing overflows,
whatever the input's range. Small entries may underflow (become subnormal or
zero); the bound below covers that.

The bound
---------
Let ``u`` be the unit roundoff and ``μ`` an absolute underflow unit. Every
float operation used (a correctly rounded conversion, a product, a sum, a
fused multiply-add) satisfies ``|fl(x) − x| ≤ u|x| + μ``: for float64
``u = 2⁻⁵³``; ``μ = 2⁻¹⁰²²`` (the smallest normal) covers gradual underflow
(error ≤ 2⁻¹⁰⁷⁵) *and* flush-to-zero modes. Write ``Z̃ = fl(Z')``,
``Ã = fl(A')``, ``γ_d = d u/(1 − d u)``, ``z = max|Z̃|``, ``a = max|Ã|``.

1. Inputs: ``|Z' − Z̃| ≤ u'|Z̃| + μ`` with ``u' = u/(1 − u)`` (same for A).
2. A length-``d`` dot product in any summation order, with or without FMA:
   ``|fl(xᵀy) − xᵀy| ≤ γ_d |x|ᵀ|y| + 3dμ`` (each of the ≤ 2d − 1 operations
   adds at most ``μ``, carried by at most d factors ``1 + δ``).
3. ``Ỹ = fl(Z̃Ãᵀ)``: ``|Ỹ − Z̃Ãᵀ| ≤ γ_d|Z̃||Ã|ᵀ + 3dμ``; then
   ``S̃ = fl(ỸZ̃ᵀ)``: ``|S̃ − Z̃ÃᵀZ̃ᵀ| ≤ (2γ_d + γ_d²) T + 3d²μz(1 + γ_d) + 3dμ``
   with ``T = |Z̃||Ã|ᵀ|Z̃|ᵀ``.
4. Input rounding through the trilinear form:
   ``|Z'A'ᵀZ'ᵀ − Z̃ÃᵀZ̃ᵀ| ≤ ((1 + u')³ − 1) T + d²μ(2za + z²)(1 + 3u') + O(d²μ²)``.
5. ``T`` itself is evaluated in floats as ``T̂``; its terms are non-negative, so
   ``T ≤ T̂ (1 + 3γ_d) + 3d²μ(1 + z)``.

Adding up, for ``d u ≤ 2⁻²⁰`` (any practical d):

    |S̃_ij − s'_ij| ≤ B_ij = (2d + 8) · u · 1.01 · T̂_ij + 16 d² μ (1 + z)² (1 + a),

where ``(2d + 3.02) u (1 + 4γ_d)`` ≤ ``(2d + 8) u · 1.01`` absorbs the relative
terms and the few roundings in evaluating ``B`` itself, and the constant 16
absorbs the ≈ 9.1 d²μ(1 + z)²(1 + a) of absolute terms. The same bound, with
``u = 2⁻²⁴`` and ``μ = 2⁻¹²⁶``, holds for float32 scores
(:mod:`verify.crosscheck` uses it on unscaled float runs; there an overflow
makes ``B`` infinite and the row uncertain).

The decision
------------
With ``j*`` the float argmax of row ``i``, every ``j`` with
``fl(S̃_ij + B_ij) < fl(S̃_ij* − B_ij*)`` is provably not a maximiser (rounding
is monotone, so the strict float inequality implies the real one). If the
remaining candidates are all exact copies of ``z_j*`` (equal integer rows;
their exact scores are equal), the row is decided: ``C_i`` = the candidates.
Every other row (an exact tie between different tokens, a near tie below the
bound, or a row drowned by underflow) is decided exactly from integer scores,
and so is every row of a step whose float scores are not all finite (which the
scaling rules out, but is checked anyway).

The conversions rely on Python's ``int / int``, which is correctly rounded
(``tests/test_certified.py`` checks it, subnormal results included; a merely
faithful rounding would still be covered by ``μ`` there).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from flint import fmpz_mat

from ..config import Config
from ..rational import RationalMatrix
from ..rules import FollowSets
from ..trajectory import Trajectory
from .exact import ExactEngine, _maximisers

__all__ = ["CertifiedEngine", "simulate_certified", "score_error_bound", "scaled_floats", "UNDERFLOW_UNIT"]

UNIT_ROUNDOFF = 2.0 ** -53
#: The absolute underflow unit μ of float64 (the smallest normal number; see the module docstring).
UNDERFLOW_UNIT = 2.0 ** -1022
#: Rows of scores computed at once: bounds the filter's memory to about 4 × BLOCK_ENTRIES floats.
BLOCK_ENTRIES = 1 << 22


def score_error_bound(Zf: np.ndarray, Af: np.ndarray, unit_roundoff: float = UNIT_ROUNDOFF,
                      underflow: float = UNDERFLOW_UNIT, rows: slice = slice(None)) -> np.ndarray:
    """The rigorous bound ``B ≥ |fl(fl(Z̃ Ãᵀ) Z̃ᵀ) − Z Aᵀ Zᵀ|`` (derivation in the module docstring).

    Parameters
    ----------
    Zf, Af
        ``Z̃`` and ``Ã``: the float roundings (relative error ``≤ unit_roundoff``,
        absolute ``≤ underflow``) of exact ``Z`` (``n × d``) and ``A`` (``d × d``).
    unit_roundoff, underflow
        ``u`` and ``μ`` of the arithmetic that computed the scores:
        ``2⁻⁵³, 2⁻¹⁰²²`` for float64, ``2⁻²⁴, 2⁻¹²⁶`` for float32. ``T̂`` is
        evaluated in float64 whatever the scores' precision.
    rows
        The rows ``i`` of ``B`` wanted (all by default).

    Returns
    -------
    numpy.ndarray
        ``B`` for the chosen rows, ``len(rows) × n``: ``(2d + 8)·u·1.01·T̂ +
        16 d² μ (1 + max|Z̃|)² (1 + max|Ã|)``. Infinite where ``T̂`` or the
        absolute term overflows (unscaled inputs): such a row is never decided
        by the bound.
    """
    d = Zf.shape[1]
    absZ = np.abs(Zf.astype(np.float64))
    absA = np.abs(Af.astype(np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        T = (absZ[rows] @ absA.T) @ absZ.T
        zmax = absZ.max(initial=0.0)  # NumPy scalars: an overflow is inf, not an exception
        amax = absA.max(initial=0.0)
        absolute = np.float64(16.0 * d * d * underflow) * (1.0 + zmax) ** 2 * (1.0 + amax)
        return (2 * d + 8) * unit_roundoff * 1.01 * T + absolute


def scaled_floats(rows: Sequence[Sequence[int]], den: int = 1) -> np.ndarray:
    """``fl(2^{-e} · N / D)``, each entry correctly rounded, with ``e`` such that every ``|entry| ≤ 1``.

    ``e = (bits of max |N_ij|) − (bits of D) + 1`` gives ``|N_ij| / D < 2^e``.
    The scale is a power of two shared by all entries, so it changes no
    argmax decision (module docstring), and nothing can overflow, whatever the
    magnitude of the exact numbers. Entries far below the largest may
    underflow to subnormals or zero; the bound's ``μ`` covers them.
    """
    top = max((abs(x).bit_length() for row in rows for x in row), default=0)
    if top == 0:
        return np.zeros((len(rows), len(rows[0]) if rows else 0), dtype=np.float64)
    e = top - den.bit_length() + 1
    if e >= 0:
        scaled_den = den << e
        values = [[x / scaled_den for x in row] for row in rows]
    else:
        values = [[(x << -e) / den for x in row] for row in rows]
    return np.array(values, dtype=np.float64)


class CertifiedEngine(ExactEngine):
    """Exact dynamics with float-filtered argmax decisions (identical results to :class:`ExactEngine`)."""

    backend = "certified"

    def __init__(self, config: Config):
        super().__init__(config)
        self._A_float: dict[int, list[np.ndarray]] = {}
        self.rows_total = 0
        self.rows_filtered = 0

    def _float_matrices(self, k: int) -> list[np.ndarray]:
        """The filter's scaled float ``A_h`` of layer ``k`` (built once per schedule entry)."""
        index = self.config.layer_index(k)
        if index not in self._A_float:
            self._A_float[index] = [
                np.eye(self.d) if MT is None  # a positive multiple of the identity
                else scaled_floats([[int(x) for x in row] for row in MT.transpose().tolist()])
                for MT in self.parameters(k).score_T]
        return self._A_float[index]

    def _filter(self, Zf: np.ndarray, Af: np.ndarray, gid: np.ndarray, rows: slice
                ) -> list[tuple[int, ...] | None]:
        """The filter's decision for a block of rows: ``C_i``, or ``None`` where it cannot decide."""
        S = (Zf[rows] @ Af.T) @ Zf.T
        B = score_error_bound(Zf, Af, rows=rows)
        m = S.shape[0]
        if not (np.isfinite(S).all() and np.isfinite(B).all()):
            return [None] * m
        jstar = S.argmax(axis=1)
        index = np.arange(m)
        threshold = S[index, jstar] - B[index, jstar]
        candidates = (S + B) >= threshold[:, None]
        copies_only = np.all(~candidates | (gid[None, :] == gid[jstar][:, None]), axis=1)
        single = candidates.sum(axis=1) == 1
        follow: list[tuple[int, ...] | None] = [None] * m
        for r, (j, one, ok) in enumerate(zip(jstar.tolist(), single.tolist(), copies_only.tolist())):
            if one:
                follow[r] = (j,)
            elif ok:
                follow[r] = tuple(np.flatnonzero(candidates[r]).tolist())
        return follow

    def follow_sets(self, state: RationalMatrix, k: int = 0) -> tuple[FollowSets, ...]:
        n = self.n
        score_T = self.parameters(k).score_T
        keys = state.row_keys()
        Zf = scaled_floats(keys, state.den)
        group: dict[tuple, int] = {}
        gid = np.array([group.setdefault(k, len(group)) for k in keys])
        block = max(1, BLOCK_ENTRIES // max(n, 1))
        out = []
        NT = None
        for h, Af in enumerate(self._float_matrices(k)):
            follow: list[tuple[int, ...] | None] = []
            for r0 in range(0, n, block):
                follow.extend(self._filter(Zf, Af, gid, slice(r0, min(n, r0 + block))))
            undecided = [i for i, c in enumerate(follow) if c is None]
            self.rows_total += n
            self.rows_filtered += n - len(undecided)
            if undecided:
                if NT is None:
                    NT = state.num.transpose()
                MT = score_T[h]
                for b0 in range(0, len(undecided), block):
                    part = undecided[b0:b0 + block]
                    picked = fmpz_mat(len(part), self.d, [x for i in part for x in keys[i]])
                    scores = (picked * NT) if MT is None else (picked * MT) * NT
                    for i, row in zip(part, scores.tolist()):
                        follow[i] = _maximisers(row)
            out.append(tuple(follow))  # type: ignore[arg-type]
        return tuple(out)

    def info(self) -> dict:
        return {"filter": {
            "rows": self.rows_total,
            "decided_by_float_filter": self.rows_filtered,
            "decided_exactly": self.rows_total - self.rows_filtered,
        }}


def simulate_certified(config: Config, steps: int, progress: Callable[[int], None] | None = None) -> Trajectory:
    """Run the certified backend; see :class:`CertifiedEngine`."""
    return CertifiedEngine(config).run(steps, progress=progress)
