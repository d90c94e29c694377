"""The certified backend: exact decisions for about the cost of a float run.

The state is kept in **float64 with a rigorous enclosure of its error**; every
argmax decision is proved by a **float filter** (in the manner of CGAL's
filtered predicates) or, where the filter cannot decide, made exactly on the
exact state, which is rebuilt for that step by replaying the exact update.
Follow sets, leaders and (on request: ``trajectory.states``) the exact states
are therefore identical to the exact engine's for *every* rational input: any
magnitude (``1e-400`` … ``1e400`` and beyond), subnormal or zero-rounding
entries, exact ties. ``info["filter"]`` says how many rows the filter decided,
how many were decided exactly, and how many layers were computed exactly.

Scaling (no overflow, ever)
---------------------------
Argmax decisions within a row are invariant under positive scalings
``Z → 2^{-e} Z`` (scores scale by ``2^{-2e}``) and ``A_h → 2^{-f} A_h``, and
the update is linear in ``Z``, so the engine runs the dynamics of
``Z' = 2^{-e} Z`` (``e`` from the bit lengths, so that ``|z'| ≤ 1``; it is
renewed whenever the floats are rebuilt from an exact state, and a power of two
rescales the floats when they leave ``[2^{-400}, 1]``). The filter's
``A' = 2^{-f} M_h`` (``M_h`` the integer multiple of ``A_h`` the exact engine
uses) also has ``|a'| ≤ 1``. Nothing overflows, whatever the input's range;
entries far below the largest may underflow, which the absolute terms below
cover.

Units: ``u`` is the unit roundoff (``2⁻⁵³``) and ``μ = 2⁻¹⁰²²`` an absolute
underflow unit: every float operation used satisfies
``|fl(x) − x| ≤ u|x| + μ`` (gradual underflow *and* flush-to-zero);
``u' = u/(1 − u)``, ``γ_m = m u/(1 − m u)``.

The state enclosure
-------------------
The float state ``Z̃^k`` and per-token bounds ``δ^k`` satisfy
``‖z̃_i^k − z'^k_i‖_∞ ≤ δ_i^k`` for the exact scaled state ``Z'^k``.

* **Start** (and whenever the floats are rebuilt from an exact state):
  ``z̃ = fl(z')`` correctly rounded (Python's ``int / int``), so
  ``δ_i = u' max_t |z̃_it| + μ``. Tokens given as floats
  (:class:`~dynamics.config.DyadicTokens`) are their own exact values: scaled
  by a power of two, which is exact but for subnormal results, ``δ_i = μ``;
  equal rows are equal values, and ``Z^0`` is built only if an exact step
  needs it.
* **A step decided entirely by the filter.** Every follow set the filter
  decides is a whole class of exact copies (below), so the exact mean over
  ``C^h_i`` is any member ``z_{j_h}``: the update needs no sum. With the
  step weights ``c_0, c_h`` of ``rules.step_weights`` (exact) and their
  correctly rounded floats ``c̃``, and ``Ṽ_h = fl(V_h)``::

      z̃_i⁺ = fl(c̃_0 z̃_i + Σ_h c̃_h Ṽ_h z̃_{j_h}),
      z'_i⁺ = c_0 z'_i + Σ_h c_h V_h z'_{j_h}.

  Their difference splits into the exact update applied to the error,
  ``c_0 e_i + Σ_h c_h V_h e_{j_h}`` (``|·|_∞ ≤ |c_0| δ_i + Σ_h |c_h| ‖V_h‖_∞ δ_{j_h}``),
  and the rounding of the float evaluation *with* the rounded ``c̃, Ṽ`` on the
  float inputs: ``L = d + H + 4`` roundings at most per entry (``d`` in
  ``Ṽ z``, one per product by ``c̃``, ``H`` in the sum, two for ``c̃`` and
  ``Ṽ`` themselves), so at most ``γ_L (|c̃_0| ‖z̃_i‖ + Σ_h |c̃_h| ‖Ṽ_h‖ ‖z̃_{j_h}‖)``
  plus ``μ`` per operation. Hence::

      δ_i⁺ = (1 + 2⁻⁴⁰) [ |c̃_0| δ_i + Σ_h |c̃_h| ‖Ṽ_h‖ δ_{j_h}
                          + γ_L (|c̃_0| ‖z̃_i‖ + Σ_h |c̃_h| ‖Ṽ_h‖ ‖z̃_{j_h}‖) ]
             + 8 (L + 4) (1 + |c̃_0| + Σ_h |c̃_h| (1 + ‖Ṽ_h‖)) (1 + ‖Z̃⁺‖) μ,

  the factor ``1 + 2⁻⁴⁰`` absorbing ``|c| ≤ |c̃|(1 + u')``,
  ``‖V‖ ≤ ‖Ṽ‖(1 + u')`` and the roundings of evaluating ``δ⁺`` itself
  (relative ``O((d + H) u)`` on nonnegative terms, far below ``2⁻⁴⁰``), the
  last term every absolute ``μ`` (the ``dμ`` of ``Ṽ``'s rounding included).
* **Why it does not blow up.** For the paper's model (``V = I``,
  ``α_h ≥ 0``) the ``c`` are convex weights: ``max_i δ_i⁺ ≤ max_i δ_i +
  γ_L max ‖z̃‖ + O(μ)``, so after ``K`` steps ``δ ≤ (K + 1)(L + 1) u`` (the
  tokens stay in the initial hull, ``|z'| ≤ 1``): about ``10⁻¹²`` after 40
  steps at ``d = 16``. A value matrix or a negative ``α`` multiplies ``δ``
  by up to ``|c_0| + Σ |c_h| ‖V_h‖`` per step. **When it does:** once
  ``max δ > 2⁻²⁶`` (or a float is not finite) the engine rebuilds the exact
  state and restarts the floats from it, with fresh ``δ = u'|z̃| + μ``.

The filter
----------
For head ``h`` with ``Ã = fl(A')``, the float scores ``S̃ = fl(fl(Z̃ Ãᵀ) Z̃ᵀ)``
differ from the exact ``s'_ij = <A' z'_i, z'_j>`` by the rounding ``B_ij``
of :func:`score_error_bound` (computed from ``Z̃`` and ``Ã``, input rounding
of ``A`` included) plus the effect of the state error, with
``z̃ = z' + e``::

    |<A' z̃_i, z̃_j> − <A' z'_i, z'_j>| ≤ δ_i p_j + q_i δ_j + δ_i δ_j a,
    p_j = |z̃_j|ᵀ|A'| 1,   q_i = 1ᵀ|A'| |z̃_i|,   a = 1ᵀ|A'| 1.

With ``T_ij = |z̃_i|ᵀ|Ã|ᵀ|z̃_j| ≤ q_i max|Z̃|`` one bound serves the whole row::

    R_i = 1.05 [ (2d + 8) u q_i max|Z̃| + δ_i max_j p_j + q_i max_j δ_j + δ_i max_j δ_j a ]
          + 4 u |S̃_ij*| + 32 d² μ (1 + max|Z̃| + max δ)² (1 + max|Ã|)

(the ``4u|S̃_ij*|`` and the factor 1.05 cover the rounding of the threshold
below). With ``j*`` the float argmax of row ``i``, every ``j`` with
``S̃_ij < fl(S̃_ij* − 2 R_i)`` is provably not a maximiser. The engine keeps
**classes of exact copies** (tokens known to be equal: equal at the start, or
found equal in an exact step; a class never splits, since equal tokens have
equal follow sets and so equal successors). If every remaining candidate
is in ``j*``'s class, the row is decided: ``C_i`` is that whole class (its
members have exactly ``j*``'s score; no other token reaches it). A token
exactly equal to ``z_{j*}`` but not known to be a copy has the same exact
score, so it stays a candidate and sends the row to the exact path: the
filter never needs to decide equality. For the same reason a decided row's
token ``i`` is a leader exactly when it is in ``j*``'s class.

The exact path
--------------
If some row is undecided (an exact tie between different tokens, a near tie
below ``R``, tokens drowned by underflow), the exact state of that step is
rebuilt by replaying the exact update (:meth:`ExactEngine.step`, linear in the
state once the follow sets are known) from the last exact state with the
follow sets already decided, the undecided rows are decided from exact
integer scores, the classes of copies are recomputed exactly, the step is
taken exactly, and the floats restart from the exact next state. Exact states
are kept only at those steps; ``trajectory.states`` replays the others on
first access.

The score bound ``B``
---------------------
Let ``Z̃``, ``Ã`` be float inputs with ``Ã = fl(A')`` and ``z = max|Z̃|``,
``a = max|Ã|``.

1. Inputs: ``|A' − Ã| ≤ u'|Ã| + μ`` (for a state rounded from exact values,
   the same holds for ``Z``).
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

The conversions rely on Python's ``int / int`` and ``float(Fraction)``, which
are correctly rounded (``tests/test_certified.py`` checks the former,
subnormal results included; a merely faithful rounding would still be covered
by ``μ`` there).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Callable

import numpy as np
from flint import fmpz_mat

from ..config import Config, DyadicTokens
from ..rational import RationalMatrix
from ..rules import FollowSets, leaders, step_weights
from ..trajectory import Trajectory
from .exact import ExactEngine, LayerParameters, _maximisers, layer_parameters

__all__ = ["CertifiedEngine", "ExactStates", "FilteredState", "simulate_certified", "score_error_bound",
           "scaled_floats", "scale_exponent", "row_score_bounds", "decision_threshold", "enclosed_update", "rescaled", "copy_classes", "exact_start", "float_start", "proved_apart", "UNDERFLOW_UNIT", "MAX_DELTA"]

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


def scale_exponent(rows: Sequence[Sequence[int]], den: int = 1) -> int:
    """The ``e`` of :func:`scaled_floats`: ``|N_ij| / D < 2^e`` for every entry (0 for a zero matrix)."""
    top = max((abs(x).bit_length() for row in rows for x in row), default=0)
    return top - den.bit_length() + 1 if top else 0


def scaled_floats(rows: Sequence[Sequence[int]], den: int = 1, e: int | None = None) -> np.ndarray:
    """``fl(2^{-e} · N / D)``, each entry correctly rounded, with ``e`` such that every ``|entry| ≤ 1``.

    ``e = (bits of max |N_ij|) − (bits of D) + 1`` gives ``|N_ij| / D < 2^e``.
    The scale is a power of two shared by all entries, so it changes no
    argmax decision (module docstring), and nothing can overflow, whatever the
    magnitude of the exact numbers. Entries far below the largest may
    underflow to subnormals or zero; the bound's ``μ`` covers them. ``e``: :func:`scale_exponent`
    of the same rows, if the caller has it.
    """
    if not rows:
        return np.zeros((0, 0), dtype=np.float64)
    e = scale_exponent(rows, den) if e is None else e
    if e >= 0:
        scaled_den = den << e
        values = [[x / scaled_den for x in row] for row in rows]
    else:
        values = [[(x << -e) / den for x in row] for row in rows]
    return np.array(values, dtype=np.float64)


def row_score_bounds(Z: np.ndarray, delta: np.ndarray, A: np.ndarray, absA: np.ndarray | None = None,
                     identity: bool = False) -> np.ndarray:
    """``R_i ≥ max_j |fl(fl(Z̃ Ãᵀ) Z̃ᵀ)_ij − <A' z'_i, z'_j>|`` without the ``4u|S̃_ij*|`` term (module docstring).

    Parameters
    ----------
    Z, delta
        The float state ``Z̃`` (``n × d``, or stacked ``B × n × d``) and per-token bounds
        (``n`` or ``B × n``): ``‖z̃_i − z'_i‖_∞ ≤ δ_i`` for the exact ``Z'``. Stacked states get
        their own maxima per configuration; rows of zeros with ``δ = 0`` (padding) change none.
    A
        ``Ã``, the float rounding of the exact ``A'`` (``|Ã − A'| ≤ u'|Ã| + μ``).
    absA
        ``|Ã|`` if already computed.
    identity
        ``A`` is the identity (then ``q_i = p_i = Σ_t |z̃_it|``, no products).

    Returns
    -------
    numpy.ndarray
        ``R``, shaped as ``delta``.
    """
    absA = np.abs(A) if absA is None else absA
    d = Z.shape[-1]
    absZ = np.abs(Z)
    if identity:
        q = absZ.sum(axis=-1)
        p_max = q.max(axis=-1, initial=0.0)
    else:
        q = (absZ @ absA.T).sum(axis=-1)  # 1ᵀ|Ã||z̃_i|
        p_max = (absZ @ absA).sum(axis=-1).max(axis=-1, initial=0.0)  # max_j |z̃_j|ᵀ|Ã|1
    z_max, d_max = absZ.max(axis=(-2, -1), initial=0.0), delta.max(axis=-1, initial=0.0)
    absolute = 32 * d * d * UNDERFLOW_UNIT * (1 + z_max + d_max) ** 2 * (1 + float(absA.max(initial=0.0)))
    z_max, d_max, p_max, absolute = (np.expand_dims(x, -1) for x in (z_max, d_max, p_max, absolute))
    with np.errstate(over="ignore", invalid="ignore"):
        return 1.05 * ((2 * d + 8) * UNIT_ROUNDOFF * z_max * q + delta * p_max + d_max * q
                       + delta * (d_max * float(absA.sum()))) + absolute


def decision_threshold(top: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``t_i = fl(S̃_ij* − 2 (R_i + 4u|S̃_ij*|))``: a token ``j`` with ``S̃_ij < t_i`` is provably not a
    maximiser of row ``i`` (``R`` from :func:`row_score_bounds`; the ``4u|S̃_ij*|`` and the factor 1.05
    inside ``R`` cover the rounding of this very expression: module docstring, "The filter")."""
    return top - 2 * (R + 4 * UNIT_ROUNDOFF * np.abs(top))


def enclosed_update(Z: np.ndarray, delta: np.ndarray, reps: Sequence[np.ndarray],
                    layer: "_FloatLayer") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layer in floats with its enclosure: ``(Z̃⁺, δ⁺, max|Z̃⁺|)`` (module docstring, "The state enclosure").

    ``z̃_i⁺ = fl(c̃_0 z̃_i + Σ_h c̃_h Ṽ_h z̃_{j_h})`` with ``j_h = reps[h][i]`` a member of ``i``'s follow
    set under head ``h`` that is an exact copy of all of them (the exact mean), and
    ``δ_i⁺ = (1 + 2⁻⁴⁰)[|c̃_0| δ_i + Σ_h |c̃_h| ‖Ṽ_h‖ δ_{j_h} + γ_L (|c̃_0| ‖z̃_i‖ + Σ_h |c̃_h| ‖Ṽ_h‖ ‖z̃_{j_h}‖)]
    + 8 (L + 4)(1 + |c̃_0| + Σ_h |c̃_h| (1 + ‖Ṽ_h‖))(1 + ‖Z̃⁺‖) μ``. ``Z`` is ``n × d`` or stacked
    ``B × n × d`` (``delta``, ``reps[h]`` and the returned maxima shaped to match, per configuration);
    a padding row that follows itself stays zero.
    """
    norms = np.abs(Z).max(axis=-1)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        out = layer.c0 * Z
        spread = abs(layer.c0) * delta
        size = abs(layer.c0) * norms
        for c, V_T, Vn, j in zip(layer.ch, layer.V_T, layer.Vnorm, reps):  # any copy: the exact mean
            attended = np.take_along_axis(Z, j[..., None], -2)
            if V_T is not None:
                attended = attended @ V_T
            out = out + c * attended
            spread = spread + (abs(c) * Vn) * np.take_along_axis(delta, j, -1)
            size = size + (abs(c) * Vn) * np.take_along_axis(norms, j, -1)
        z_max = np.abs(out).max(axis=(-2, -1), initial=0.0)
        bound = RELATIVE_SLACK * (spread + layer.gamma * size) + np.expand_dims(layer.absolute * (1 + z_max), -1)
    return out, bound, z_max


def rescaled(out: np.ndarray, bound: np.ndarray, z_max: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep ``|z̃| ≤ 1``: ``(2^{-t} Z̃, 2^{-t} δ (+ μ if t > 0), t)`` per configuration, ``t = ⌈log₂ max|z̃|⌉``
    where the floats left ``[2^{-400}, 1]`` and 0 elsewhere. A power of two is exact but for subnormal
    results (``μ``); ``Z`` may be stacked (``z_max`` then holds one maximum per configuration)."""
    leave = (z_max > 1.0) | ((z_max > 0.0) & (z_max < 2.0 ** -400))
    if not leave.any():
        return out, bound, np.zeros(np.shape(z_max), dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        mantissa, exponent = np.frexp(np.where(leave & np.isfinite(z_max), z_max, 1.0))  # z_max = m 2^e, m ∈ [½, 1)
        t = np.where(leave & np.isfinite(z_max), exponent - (mantissa == 0.5), 0).astype(np.int64)  # exact ⌈log₂⌉
        out = np.ldexp(out, -np.expand_dims(t, (-2, -1)))
        bound = np.ldexp(bound, -np.expand_dims(t, -1)) + np.expand_dims(np.where(t > 0, UNDERFLOW_UNIT, 0.0), -1)
    return out, bound, t


class FilteredState:
    """The certified engine's state ``Z^k``: floats with an enclosure, classes of exact copies.

    Attributes
    ----------
    k
        The step.
    Z
        ``n × d`` float64: ``Z̃ ≈ Z' = 2^{-e} Z^k`` (module docstring), ``e = scale``.
    delta
        ``n`` float64: ``‖z̃_i − z'_i‖_∞ ≤ delta[i]``.
    copies
        ``n`` ints: tokens with the same number are exactly equal (the converse may fail).
    exact
        ``Z^k`` as a :class:`~dynamics.rational.RationalMatrix` when the engine has it, else ``None``.
    exact_step
        True once a row of this state was decided exactly (the layer is then taken exactly).
    reps
        Per head, each row's float argmax: a member of the row's follow set where the filter decided it.
    """

    __slots__ = ("k", "Z", "delta", "copies", "exact", "exact_step", "scale", "reps")

    def __init__(self, k: int, Z: np.ndarray, delta: np.ndarray, copies: np.ndarray, scale: int,
                 exact: RationalMatrix | None = None):
        self.k, self.Z, self.delta, self.copies, self.exact = k, Z, delta, copies, exact
        self.scale = scale
        self.reps: list[np.ndarray] = []  # per head, each row's float argmax (set by the filter)
        self.exact_step = False  # some row of this step was decided exactly: the step is taken exactly


def copy_classes(rows: Sequence[Sequence[int]]) -> np.ndarray:
    """Class numbers of exactly equal integer rows (first appearance order)."""
    seen: dict[tuple, int] = {}
    return np.array([seen.setdefault(tuple(row), len(seen)) for row in rows], dtype=np.int64)


def exact_start(exact: RationalMatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The float state ``(Z̃, δ, copies, e)`` of an exact state: ``Z̃ = fl(2^{-e} Z)`` correctly rounded
    (:func:`scaled_floats`), ``δ_i = u' max_t |z̃_it| + μ``, exact classes of copies."""
    rows = exact.ints()
    scale = scale_exponent(rows, exact.den)
    Z = scaled_floats(rows, exact.den, scale)
    delta = np.abs(Z).max(axis=1, initial=0.0) * (UNIT_ROUNDOFF / (1 - UNIT_ROUNDOFF)) + UNDERFLOW_UNIT
    return Z, delta, copy_classes(rows), scale


def float_start(tokens) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, int]:
    """The float start ``(Z̃, δ, copies, e)`` of tokens given as floats, or ``(None, None, None, 0)``.

    :class:`~dynamics.config.DyadicTokens` are their own float state: scaled by the power of two
    ``2^{-e}`` that brings them into ``[-1, 1]`` (exact but in the subnormal range, so ``δ = μ``),
    equal rows are equal values (class numbers ``0 … C-1`` in order of first appearance, after
    ``-0.0 → 0.0``), and ``Z^0`` is built only if an exact step needs it. Exact tokens start from
    the exact state instead (``None``: :meth:`CertifiedEngine._from_exact`).
    """
    if not isinstance(tokens, DyadicTokens):
        return None, None, None, 0
    Z = tokens.array + 0.0  # -0.0 → 0.0
    top = float(np.abs(Z).max())
    scale = math.ceil(math.log2(top)) if top > 0 else 0
    first: dict[bytes, int] = {}
    copies = np.array([first.setdefault(row.tobytes(), len(first)) for row in Z], dtype=np.int64)
    return np.ldexp(Z, -scale), np.full(Z.shape[0], UNDERFLOW_UNIT), copies, scale


class _FloatLayer:
    """One schedule entry in floats: the filter's ``Ã_h``, the step weights ``c̃`` and ``Ṽ_h``, and the
    norms the enclosure needs. ``usable`` is False when a weight or ``V`` is not a finite float (that
    layer is then always taken exactly)."""

    def __init__(self, parameters: LayerParameters, heads, d: int):
        self.A = [np.eye(d) if MT is None else scaled_floats([[int(x) for x in row] for row in MT.transpose().tolist()])
                  for MT in parameters.score_T]
        self.absA = [np.abs(A) for A in self.A]
        self.identity = [MT is None for MT in parameters.score_T]  # a positive multiple of I: Ã = I exactly
        c0, ch = step_weights([h.alpha for h in heads])
        try:
            self.c0, self.ch = float(c0), [float(c) for c in ch]
            self.V_T = [None if h.V is None else np.array([[float(x) for x in row] for row in h.V]).T.copy()
                        for h in heads]
        except OverflowError:
            self.usable = False
            return
        finite = [self.c0, *self.ch] + [float(np.abs(V).max()) for V in self.V_T if V is not None]
        self.usable = all(np.isfinite(finite))
        self.Vnorm = [1.0 if V is None else float(np.abs(V).sum(axis=0).max()) for V in self.V_T]  # ‖Ṽ‖_∞
        L = d + len(heads) + 4
        self.gamma = L * UNIT_ROUNDOFF / (1 - L * UNIT_ROUNDOFF)
        self.absolute = 8 * (L + 4) * (1 + abs(self.c0) + sum(abs(c) * (1 + v) for c, v in zip(self.ch, self.Vnorm))) \
            * UNDERFLOW_UNIT


def _float_layer(heads: tuple, d: int) -> _FloatLayer:
    """The float form of a schedule entry, shared by engines with the same heads (read-only)."""
    hit = _FLOAT_BY_IDENTITY.get(id(heads))
    if hit is not None and hit[0] is heads and hit[1] == d:  # the same heads object: no hashing
        return hit[2]
    try:
        value = _shared_float_layer(heads, d)
    except TypeError:  # heads that cannot be hashed
        return _FloatLayer(layer_parameters(heads), heads, d)
    if len(_FLOAT_BY_IDENTITY) > 64:
        _FLOAT_BY_IDENTITY.clear()
    _FLOAT_BY_IDENTITY[id(heads)] = (heads, d, value)
    return value


_FLOAT_BY_IDENTITY: dict[int, tuple] = {}


@functools.lru_cache(maxsize=64)
def _shared_float_layer(heads: tuple, d: int) -> _FloatLayer:
    return _FloatLayer(layer_parameters(heads), heads, d)


#: The enclosure's relative safety factor: absorbs the rounding of ``c̃``, ``Ṽ`` and of evaluating ``δ⁺``
#: (relative ``O((d + H) u)``, far below ``2⁻⁴⁰``), and compounds to only ``1 + K·2⁻⁴⁰`` over ``K`` steps.
RELATIVE_SLACK = 1 + 2.0 ** -40
#: Largest enclosure (absolute, on the scaled state ``|z'| ≤ 1``) before the floats restart from an exact state.
MAX_DELTA = 2.0 ** -26


class CertifiedEngine(ExactEngine):
    """Exact follow sets and leaders from a float state with a rigorous enclosure (module docstring).

    Identical results to :class:`~dynamics.backends.exact.ExactEngine`; the
    trajectory's ``states`` are the exact states, rebuilt on first access.
    """

    backend = "certified"

    def __init__(self, config: Config):
        super().__init__(config)
        self._float_layers: dict[int, _FloatLayer] = {}
        self._checkpoints: dict[int, RationalMatrix] = {}  # exact states the run has
        self._log: list[tuple[FollowSets, ...]] = []  # follow sets of Z^k under layer k (k = 0, 1, …)
        self.rows_total = self.rows_filtered = self.exact_layers = 0
        self._classes: tuple | None = None  # (copies array, its _members)

    # ----- states ---------------------------------------------------------------------------

    def _float_layer(self, k: int) -> _FloatLayer:
        index = self.config.layer_index(k)
        if index not in self._float_layers:
            self._float_layers[index] = _float_layer(self.config.schedule[index], self.d)
        return self._float_layers[index]

    def _from_exact(self, exact: RationalMatrix, k: int) -> FilteredState:
        """Floats restarted from an exact state (``δ = u'|z̃| + μ``; exact classes of copies)."""
        self._checkpoints[k] = exact
        return FilteredState(k, *exact_start(exact), exact)

    def initial_state(self) -> FilteredState:
        Z, delta, copies, scale = float_start(self.config.tokens)
        if Z is None:
            return self._from_exact(super().initial_state(), 0)
        return FilteredState(0, Z, delta, copies, scale)

    def exact_state(self, k: int) -> RationalMatrix:
        """``Z^k`` exactly: replayed from the last exact state before it with the recorded follow sets."""
        if 0 not in self._checkpoints:
            self._checkpoints[0] = ExactEngine.initial_state(self)
        if k not in self._checkpoints:
            start = max(j for j in self._checkpoints if j < k)
            state = self._checkpoints[start]
            for j in range(start, k):
                state = ExactEngine.step(self, state, self._log[j], j)
                self._checkpoints[j + 1] = state
        return self._checkpoints[k]

    def keys(self, state: FilteredState) -> list:
        return state.copies.tolist()

    def leaders_of(self, state: FilteredState, follow: FollowSets) -> tuple[int, ...]:
        """The leaders of a state whose rows the filter decided: ``i`` with ``j*`` (every head) one of
        its copies, because a decided ``C_i`` is exactly ``j*``'s class (module docstring). A state
        with exact rows: :func:`dynamics.rules.leaders` on its exact classes."""
        if state.exact_step or not state.reps:
            return leaders(follow, self.keys(state))
        copies = state.copies
        same = np.ones(self.n, dtype=bool)
        for reps in state.reps:
            same &= copies[reps] == copies
        return tuple(np.flatnonzero(same).tolist())

    def info(self) -> dict:
        return {"filter": {
            "rows": self.rows_total,
            "decided_by_float_filter": self.rows_filtered,
            "decided_exactly": self.rows_total - self.rows_filtered,
            "exact_layers": self.exact_layers,
        }}

    # ----- decisions ------------------------------------------------------------------------

    def follow_sets(self, state: FilteredState, k: int = 0) -> tuple[FollowSets, ...]:
        """``C^h_i(Z^k)`` for every head: the filter's rows, the others decided exactly."""
        layer = self._float_layer(k)
        if not layer.usable:
            state.exact_step = True
            if state.exact is None:
                state.exact = self.exact_state(k)
        per_head: list[list] = []
        undecided: list[list[int]] = []
        if self._classes is None or self._classes[0] is not state.copies:  # copies pass unchanged through float steps
            self._classes = (state.copies, _members(state.copies))
        classes = self._classes[1]
        state.reps = []
        for h in range(len(layer.A)):
            follow, reps = self._filter(state, layer, h, classes)
            per_head.append(follow)
            state.reps.append(reps)
            undecided.append([i for i, c in enumerate(follow) if c is None])
        self.rows_total += self.n * len(per_head)
        self.rows_filtered += sum(self.n - len(u) for u in undecided)
        if any(undecided):
            state.exact_step = True
            if state.exact is None:
                state.exact = self.exact_state(k)
            self._decide_exactly(state, k, per_head, undecided)
        return tuple(tuple(f) for f in per_head)

    def _filter(self, state: FilteredState, layer: _FloatLayer, h: int,
                classes: tuple[dict[int, tuple[int, ...]], np.ndarray]) -> tuple[list, np.ndarray]:
        """The filter's decision per row of head ``h`` (``None`` where it cannot decide), and each row's
        float argmax (a member of its follow set where decided); ``classes`` is :func:`_members` of the
        state's copies."""
        n = self.n
        Z, copies = state.Z, state.copies
        members, sizes = classes
        A = layer.A[h]
        identity = layer.identity[h]
        R = row_score_bounds(Z, state.delta, A, layer.absA[h], identity)
        follow: list[tuple[int, ...] | None] = [None] * n
        reps = np.zeros(n, dtype=np.int64)  # the float argmax of each row: a member of a decided follow set
        block = max(1, BLOCK_ENTRIES // max(n, 1))
        ZA = Z if identity else Z @ A.T
        for r0 in range(0, n, block):
            rows = slice(r0, min(n, r0 + block))
            with np.errstate(over="ignore", invalid="ignore"):
                S = ZA[rows] @ Z.T
                jstar = S.argmax(axis=1)
                top = S[np.arange(S.shape[0]), jstar]
                threshold = decision_threshold(top, R[rows])
                count = (S >= threshold[:, None]).sum(axis=1)
            if not (np.isfinite(top).all() and np.isfinite(threshold).all()):
                continue  # cannot happen with |z̃|, |ã| ≤ 1; every row of the block goes exact
            cls = copies[jstar]
            size = sizes[cls]
            ok = count == size  # as many candidates as j* has copies …
            multi = np.flatnonzero(ok & (size > 1))
            if multi.size:  # … and they are those copies
                candidates = S[multi] >= threshold[multi, None]
                ok[multi] = (candidates & (copies[None, :] == cls[multi][:, None])).sum(axis=1) == size[multi]
            reps[rows] = jstar
            if members:
                follow[rows] = [(members[c] if c in members else (j,)) if decided else None
                                for j, decided, c in zip(jstar.tolist(), ok.tolist(), cls.tolist())]
            else:
                follow[rows] = [(j,) if decided else None for j, decided in zip(jstar.tolist(), ok.tolist())]
        return follow, reps

    def _decide_exactly(self, state: FilteredState, k: int, per_head: list[list], undecided: list[list[int]]) -> None:
        """The undecided rows from exact integer scores; the classes of copies recomputed exactly."""
        exact = state.exact
        rows = exact.ints()
        NT = exact.num.transpose()
        score_T = self.parameters(k).score_T
        block = max(1, BLOCK_ENTRIES // max(self.n, 1))
        for h, part_rows in enumerate(undecided):
            MT = score_T[h]
            for b0 in range(0, len(part_rows), block):
                part = part_rows[b0:b0 + block]
                picked = fmpz_mat(len(part), self.d, [x for i in part for x in rows[i]])
                scores = (picked * NT) if MT is None else (picked * MT) * NT
                for i, row in zip(part, scores.tolist()):
                    per_head[h][i] = _maximisers(row)
        state.copies = copy_classes(rows)

    # ----- the step ---------------------------------------------------------------------------

    def layer(self, state: FilteredState, k: int) -> tuple[FilteredState, tuple[FollowSets, ...]]:
        per_head = self.follow_sets(state, k)
        self._log.append(per_head)
        if state.exact_step:  # a step with exact rows: taken exactly, the floats restart from Z^{k+1}
            self.exact_layers += 1
            return self._from_exact(ExactEngine.step(self, state.exact, per_head, k), k + 1), per_head
        out, bound, z_max = enclosed_update(state.Z, state.delta, state.reps, self._float_layer(k))
        out, bound, t = rescaled(out, bound, z_max)
        exponent = state.scale + int(t)
        if not (np.isfinite(out).all() and np.isfinite(bound).all()) or float(bound.max(initial=0.0)) > MAX_DELTA:
            return self._from_exact(self.exact_state(k + 1), k + 1), per_head
        return FilteredState(k + 1, out, bound, state.copies, exponent), per_head

    def run(self, steps: int, progress: Callable[[int], None] | None = None,
            stop_when_fixed: bool = False) -> Trajectory:
        """Simulate ``steps`` layers; the trajectory's ``states`` are exact (:class:`ExactStates`)."""
        from ..engine import run_engine

        traj = run_engine(self, steps, progress=progress)
        self.float_states: list[FilteredState] = list(traj.states)
        traj.states = ExactStates(self, len(traj.states))
        return traj

    # ----- exact answers read off the float states (after run) ----------------------------------

    def exact_classes(self, k: int) -> list[list[int]]:
        """The groups of exactly equal tokens of ``Z^k``, in order of first appearance.

        The classes of copies are exact subsets of them; they are the groups when their representatives
        are :func:`proved_apart`. Otherwise the exact state decides.
        """
        state = self.float_states[k]
        classes, first = np.unique(state.copies, return_index=True)
        reps = np.sort(first)
        proved = proved_apart(state.Z[reps], state.delta[reps])
        keys = state.copies.tolist() if proved else self.exact_state(k).ints()
        groups: dict = {}
        for i, key in enumerate(keys):
            groups.setdefault(key if proved else tuple(key), []).append(i)
        return list(groups.values())

    def mean_functional_sign(self, k: int, v: Sequence[float], b: float) -> int:
        """The sign (−1, 0, 1) of ``vᵀ mean_i z_i^k + b`` exactly, for float ``v`` and ``b`` (exact dyadics).

        In floats on the scaled state ``Z̃ ≈ 2^{-e} Z^k``: ``m̃ = fl(mean Z̃)``, ``ỹ = fl(vᵀ m̃)``,
        ``L̃ = fl(2^e ỹ + b)``. With ``‖mean z' − m̃‖_∞ ≤ max δ + γ_n max|z̃| + μ`` and
        ``|vᵀ m − fl(vᵀ m)| ≤ γ_d |v|ᵀ|m| + dμ``, the exact value is within
        ``E = 1.01 · 2^e (‖v‖₁ (max δ + γ_n max|z̃| + μ) + γ_d |v|ᵀ|m̃| + dμ) + 2u|L̃| + μ`` of ``L̃``;
        if ``|L̃| > E`` its sign is exact, else the exact state decides.
        """
        from fractions import Fraction

        state = self.float_states[k]
        v_arr = np.asarray(v, dtype=np.float64)
        n, d = state.Z.shape
        if abs(state.scale) < 1000 and np.isfinite(v_arr).all() and math.isfinite(b):
            g_n, g_d = n * UNIT_ROUNDOFF / (1 - n * UNIT_ROUNDOFF), d * UNIT_ROUNDOFF / (1 - d * UNIT_ROUNDOFF)
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                m = state.Z.mean(axis=0)
                y = float(v_arr @ m)
                value = y * 2.0 ** state.scale + b
                inner = (np.abs(v_arr).sum() * (float(state.delta.max()) + g_n * float(np.abs(state.Z).max()) + UNDERFLOW_UNIT)
                         + g_d * float(np.abs(v_arr) @ np.abs(m)) + d * UNDERFLOW_UNIT)
                error = 1.01 * inner * 2.0 ** state.scale + 2 * UNIT_ROUNDOFF * abs(value) + UNDERFLOW_UNIT
            if math.isfinite(value) and math.isfinite(error) and abs(value) > error:
                return 1 if value > 0 else -1
        exact = self.exact_state(k)
        total = [sum(col) for col in zip(*exact.ints())]  # n · den · mean
        logit = sum((Fraction(float(vt)) * c for vt, c in zip(v_arr.tolist(), total)), Fraction(0)) \
            + Fraction(b) * n * exact.den
        return (logit > 0) - (logit < 0)


def proved_apart(Z: np.ndarray, delta: np.ndarray, max_pairs: int = 2048) -> bool:
    """True when the exact points behind the float rows ``Z`` (``‖z̃_a − z'_a‖_∞ ≤ δ_a``) are provably pairwise
    different: ``fl(|z̃_a − z̃_b|) > (δ_a + δ_b)(1 + 4u) + μ`` in some coordinate (a float difference is within
    ``u`` of the exact one, relatively, or exact when subnormal). First on one coordinate: if the sorted
    first coordinates are pairwise farther apart than ``2 max δ (1 + 4u) + μ``, every pair is (the gaps add
    up along the line); then every pair in the ∞-norm, for up to ``max_pairs`` rows. False means "not proved"."""
    if len(Z) <= 1:
        return True
    line = np.sort(Z[:, 0])
    if np.diff(line).min() > 2 * float(delta.max()) * (1 + 4 * UNIT_ROUNDOFF) + UNDERFLOW_UNIT:
        return True
    if len(Z) > max_pairs:
        return False
    gap = np.abs(Z[:, None, :] - Z[None, :, :]).max(axis=2)
    allowed = (delta[:, None] + delta[None, :]) * (1 + 4 * UNIT_ROUNDOFF) + UNDERFLOW_UNIT
    return bool(((gap > allowed) | np.eye(len(Z), dtype=bool)).all())


def _members(copies: np.ndarray) -> tuple[dict[int, tuple[int, ...]], np.ndarray]:
    """The classes of copies: ``(class number → sorted members for classes of two or more, size of
    every class)`` (class numbers are ``0 … C-1``, :func:`copy_classes`)."""
    sizes = np.bincount(copies, minlength=int(copies.max(initial=-1)) + 1)
    if sizes.size == len(copies):
        return {}, sizes
    out: dict[int, list[int]] = {}
    for i, c in enumerate(copies.tolist()):
        if sizes[c] > 1:
            out.setdefault(c, []).append(i)
    return {c: tuple(m) for c, m in out.items()}, sizes


class ExactStates(Sequence):
    """The exact states ``Z^0 … Z^K`` of a certified run, each rebuilt on first access by replaying the
    exact update from the last exact state before it (the follow sets are known). Pickles as a list."""

    def __init__(self, engine: CertifiedEngine, count: int):
        self._engine, self._count = engine, count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(self._count))]
        if k < 0:
            k += self._count
        if not 0 <= k < self._count:
            raise IndexError("state index out of range")
        return self._engine.exact_state(k)

    def __reduce__(self):
        return list, (list(self),)

    def __eq__(self, other) -> bool:
        return list(self) == list(other)


def simulate_certified(config: Config, steps: int, progress: Callable[[int], None] | None = None) -> Trajectory:
    """Run the certified backend; see :class:`CertifiedEngine`."""
    return CertifiedEngine(config).run(steps, progress=progress)
