"""Many configurations through the certified filter at once: one stacked float filter per layer.

:class:`~dynamics.backends.certified.CertifiedEngine` runs one configuration; for
a few hundred tokens most of its time is the fixed cost of a dozen small NumPy
calls per layer. :class:`CertifiedBatch` runs ``B`` configurations that share
their heads (and schedule) and dimension together, in stacks of similar size:

* **One row per class of copies.** Tokens known to be equal (equal floats, or
  equal exact rows) have the same scores, follow sets and successors, and a
  class never splits (:mod:`~dynamics.backends.certified`), so each
  configuration is carried as its ``C`` distinct rows with their multiplicities:
  the float state ``Z̃`` (``B × C × d``), enclosures ``δ`` (``B × C``), padded
  to the stack's largest ``C`` (padding rows are zero with ``δ = 0``).
* **The filter.** Per head, one batched product gives every score between
  classes, padding columns set to ``−∞``. The single engine's row bound ``R``
  (:func:`~dynamics.backends.certified.row_score_bounds`, the maxima taken per
  configuration, which padding does not change) and threshold
  ``t = fl(S̃_{c j*} − 2(R_c + 4u|S̃_{c j*}|))`` apply unchanged: row ``c`` is
  decided when every *other* class scores below ``t`` (its second largest
  score), and then its follow set is the whole class ``j*`` exactly — the
  single engine's test, with the copies already merged.
* **The update** is the single engine's gather and enclosure ``δ⁺`` (term for
  term), with each configuration's own power-of-two scale.

The batched products are dot products of length ``d`` in *some* order, which
the score bound allows; every other bound is the single engine's, derived in
its module docstring. So a row the stacked filter decides is decided exactly.

**Exact replay only where needed.** A configuration with a row the filter cannot
decide, an enclosure past :data:`~dynamics.backends.certified.MAX_DELTA`, a
non-finite float, or a readout the enclosure cannot settle
(:meth:`CertifiedBatch.mean_functional_signs`, :meth:`CertifiedBatch.exact_classes`)
is run again on its own by :class:`~dynamics.backends.certified.CertifiedEngine`,
which decides such rows exactly. Either way every follow set, leader and readout
is the exact engine's.

Memory: a stack's scores take ``8 B C²`` bytes per head; configurations are
sorted by ``C`` and stacked up to ``max_entries`` scores at a time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Callable

import numpy as np

from ..config import Config
from ..errors import InputError
from ..rules import FollowSets, union_follow
from ..trajectory import Trajectory
from .certified import (MAX_DELTA, UNDERFLOW_UNIT, UNIT_ROUNDOFF, CertifiedEngine, ExactStates, _float_layer,
                        decision_threshold, enclosed_update, exact_start, float_start, proved_apart, rescaled,
                        row_score_bounds)
from .exact import ExactEngine

__all__ = ["CertifiedBatch", "MAX_SCORE_ENTRIES"]

#: Scores per stack (``B · C²``): 2²² float64 scores are 32 MiB, and the filter's temporaries about as much again.
MAX_SCORE_ENTRIES = 1 << 22


class _Stack:
    """Configurations stacked by class: ``B × C × d`` float rows, run through every layer together.

    ``alive[b]`` turns False when configuration ``b`` leaves the stacked filter (undecided row,
    enclosure too large, non-finite float); its other entries are then meaningless.
    """

    def __init__(self, starts: list[tuple], sizes: list[np.ndarray], schedule: Callable[[int], tuple], steps: int):
        B, C, d = len(starts), max(len(m) for m in sizes), starts[0][0].shape[1]
        self.width = np.array([len(m) for m in sizes], dtype=np.int64)
        self.valid = np.arange(C)[None, :] < self.width[:, None]
        self.multiplicity = np.zeros((B, C))
        Z, delta = np.zeros((B, C, d)), np.zeros((B, C))
        self.scale = np.zeros(B, dtype=np.int64)
        for b, ((Zb, db, _, eb, first), m) in enumerate(zip(starts, sizes)):
            Z[b, :len(m)], delta[b, :len(m)], self.scale[b] = Zb[first], db[first], eb
            self.multiplicity[b, :len(m)] = m
        self.alive = np.ones(B, dtype=bool)
        self.reps: list[np.ndarray] = []  # per state k: H × B × C, the class each class row follows (j*)
        for k in range(steps + 1):
            layer = _float_layer(schedule(k), d)
            if not layer.usable:  # a weight or V that is not a finite float: every layer is then taken exactly
                self.alive[:] = False
                break
            reps = self._filter(Z, delta, layer)
            self.reps.append(reps)
            if k < steps:
                Z, delta = self._update(Z, delta, reps, layer)
            if not self.alive.any():
                break
        self.Z, self.delta = Z, delta  # Z^K (of the configurations still alive)

    def _filter(self, Z: np.ndarray, delta: np.ndarray, layer) -> np.ndarray:
        """Each class row's float argmax class per head (``H × B × C``; a padding row gets itself); an
        undecided row ends its configuration's stacked run."""
        B, C, _ = Z.shape
        valid = self.valid
        rows = np.arange(B)[:, None], np.arange(C)[None, :]
        right = np.ascontiguousarray(Z.transpose(0, 2, 1))  # a contiguous right factor: BLAS per matrix
        out = np.empty((len(layer.A), B, C), dtype=np.int64)
        for h, (A, absA, identity) in enumerate(zip(layer.A, layer.absA, layer.identity)):
            R = row_score_bounds(Z, delta, A, absA, identity)
            with np.errstate(over="ignore", invalid="ignore"):
                S = (Z if identity else Z @ A.T) @ right
                for b in np.flatnonzero(self.width < C).tolist():
                    S[b, :, self.width[b]:] = -np.inf  # padding is never a key
                jstar = S.argmax(axis=2)
                top = S[rows[0], rows[1], jstar]
                threshold = decision_threshold(top, R)
                S[rows[0], rows[1], jstar] = -np.inf
                second = S.max(axis=2)  # the best other class
            decided = (second < threshold) & np.isfinite(threshold)
            self.alive &= (decided | ~valid).all(axis=1)
            out[h] = np.where(valid, jstar, rows[1])
        return out

    def _update(self, Z: np.ndarray, delta: np.ndarray, reps: np.ndarray, layer) -> tuple[np.ndarray, np.ndarray]:
        """One layer on every configuration: the single engine's update, enclosure and rescaling."""
        out, bound, z_max = enclosed_update(Z, delta, reps, layer)
        out, bound, t = rescaled(out, bound, z_max)
        self.scale += t
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(out).all(axis=(1, 2)) & np.isfinite(bound).all(axis=1)
            self.alive &= finite & (bound.max(axis=1) <= MAX_DELTA)
        return out, bound


class CertifiedBatch:
    """``B`` configurations with one schedule and dimension, run ``steps`` layers through the
    stacked certified filter (module docstring).

    Results are per configuration ``b`` (input order) and equal the exact engine's:
    :meth:`leaders`, :meth:`follow_by_head`, :meth:`trajectory` (exact states on access),
    :meth:`mean_functional_signs`, :meth:`exact_classes`, :meth:`info`. Configurations the
    stacked filter could not carry to the end are rerun by
    :class:`~dynamics.backends.certified.CertifiedEngine` (:attr:`replayed`).

    Parameters
    ----------
    configs
        Rational configurations with equal ``schedule`` and ``d``; tokens given as floats
        (:class:`~dynamics.config.DyadicTokens`) start from the floats themselves.
    steps
        Layers ``K``.
    max_entries
        Scores per stack, ``B · C²`` (``C`` the most classes of copies in the stack).
    progress
        Called with the number of configurations done after each stack.
    """

    def __init__(self, configs: Sequence[Config], steps: int, max_entries: int = MAX_SCORE_ENTRIES,
                 progress: Callable[[int], None] | None = None):
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise InputError(f"steps must be a non-negative integer, got {steps!r}")
        if not configs:
            raise InputError("CertifiedBatch needs at least one configuration")
        first = configs[0]
        for b, config in enumerate(configs):
            if config.d != first.d or config.schedule != first.schedule:
                raise InputError(f"configuration {b}: a stacked batch needs one dimension and one schedule "
                                 f"(heads) for all configurations (dynamics.simulate_batch takes mixed ones)")
            if not config.is_rational:
                raise InputError(f"configuration {b}: {config.first_irrational()} is not rational; "
                                 "the certified backend takes rational configs")
        start = time.perf_counter()
        self.configs, self.steps, self.d = list(configs), steps, first.d
        self.heads_count = len(first.heads)
        starts, sizes = [], []
        for config in configs:
            Zb, db, cb, eb = float_start(config.tokens)
            if Zb is None:
                Zb, db, cb, eb = exact_start(ExactEngine(config).initial_state())
            m = np.bincount(cb)
            if len(m) == len(cb):
                first_index = np.arange(len(cb))
            else:  # classes are numbered in order of first appearance: a first member exceeds all before it
                first_index = np.flatnonzero(cb > np.maximum.accumulate(np.concatenate(([-1], cb[:-1]))))
            starts.append((Zb, db, cb, eb, first_index))
            sizes.append(m)
        self.copies = [s[2] for s in starts]  # per configuration, each token's class (0 … C-1, first appearance)
        order = sorted(range(len(configs)), key=lambda b: len(sizes[b]))
        self._stacks: list[_Stack] = []
        self._where = np.zeros((len(configs), 2), dtype=np.int64)  # (stack, row) of each configuration
        i = 0
        while i < len(order):
            j = i + 1
            while j < len(order) and (j - i + 1) * len(sizes[order[j]]) ** 2 <= max_entries:
                j += 1
            part = order[i:j]
            stack = _Stack([starts[b] for b in part], [sizes[b] for b in part], first.heads_at, steps)
            for row, b in enumerate(part):
                self._where[b] = (len(self._stacks), row)
            self._stacks.append(stack)
            i = j
            if progress is not None:
                progress(i)
        self._rerun: dict[int, tuple[CertifiedEngine, Trajectory]] = {}
        for b in range(len(configs)):
            if not self._alive(b):
                self._replay(b)
        self.elapsed_s = time.perf_counter() - start

    def _alive(self, b: int) -> bool:
        s, row = self._where[b]
        return bool(self._stacks[s].alive[row])

    def _replay(self, b: int) -> tuple[CertifiedEngine, Trajectory]:
        if b not in self._rerun:
            engine = CertifiedEngine(self.configs[b])
            self._rerun[b] = (engine, engine.run(self.steps))
        return self._rerun[b]

    # ----- results ------------------------------------------------------------------------------

    @property
    def replayed(self) -> list[int]:
        """The configurations the stacked filter could not carry (rerun by the single engine)."""
        return sorted(self._rerun)

    def __len__(self) -> int:
        return len(self.configs)

    def _class_reps(self, b: int, k: int) -> list[np.ndarray]:
        """Per head, the class ``j*`` that each class of configuration ``b`` follows at state ``k``."""
        s, row = self._where[b]
        stack = self._stacks[s]
        width = int(stack.width[row])
        return [reps[row, :width] for reps in stack.reps[k % (self.steps + 1)]]

    def leaders(self, b: int, k: int = -1) -> tuple[int, ...]:
        """The leaders of configuration ``b`` at state ``k`` (default: the last): the tokens whose class
        follows itself under every head."""
        if b in self._rerun:
            return self._rerun[b][1].leaders[k]
        reps = self._class_reps(b, k)
        own = np.arange(len(reps[0]))
        lead = np.logical_and.reduce([r == own for r in reps])
        return tuple(np.flatnonzero(lead[self.copies[b]]).tolist())

    def follow_by_head(self, b: int, k: int) -> tuple[FollowSets, ...]:
        """``(C^1, …, C^H)`` of configuration ``b`` at state ``k``: each row's follow set is the class
        its class follows."""
        if b in self._rerun:
            traj = self._rerun[b][1]
            return traj.follow_by_head[k] if traj.follow_by_head is not None else (traj.follow[k],)
        copies = self.copies[b].tolist()
        members: dict[int, list[int]] = {}
        for i, c in enumerate(copies):
            members.setdefault(c, []).append(i)
        classes = [tuple(members[c]) for c in range(len(members))]
        return tuple(tuple(classes[reps[c]] for c in copies) for reps in
                     (r.tolist() for r in self._class_reps(b, k)))

    def trajectory(self, b: int) -> Trajectory:
        """The :class:`~dynamics.trajectory.Trajectory` of configuration ``b``, as ``simulate(config,
        steps, backend="certified")`` gives it (its ``states`` exact, replayed on first access)."""
        if b in self._rerun:
            return self._rerun[b][1]
        engine = CertifiedEngine(self.configs[b])
        by_head = [self.follow_by_head(b, k) for k in range(self.steps + 1)]
        engine._log = by_head[:-1]
        engine.rows_total = engine.rows_filtered = self.configs[b].n * self.heads_count * (self.steps + 1)
        return Trajectory(backend="certified", states=ExactStates(engine, self.steps + 1),
                          follow=[union_follow(f) for f in by_head],
                          leaders=[self.leaders(b, k) for k in range(self.steps + 1)],
                          follow_by_head=by_head if self.heads_count > 1 else None,
                          elapsed_s=self.elapsed_s / len(self), info=engine.info() | {"stacked": True})

    def info(self, b: int) -> dict:
        """The filter counts of configuration ``b`` (as :meth:`CertifiedEngine.info`)."""
        if b in self._rerun:
            return self._rerun[b][0].info()
        rows = self.configs[b].n * self.heads_count * (self.steps + 1)
        return {"filter": {"rows": rows, "decided_by_float_filter": rows, "decided_exactly": 0, "exact_layers": 0}}

    def mean_functional_signs(self, v: Sequence[float], bias: float) -> np.ndarray:
        """The sign (−1, 0, 1) of ``vᵀ mean_i z_i^K + bias`` for every configuration, exactly.

        As :meth:`CertifiedEngine.mean_functional_sign`, on class rows with multiplicities ``m_c``:
        ``m̃ = fl(fl(Σ_c fl(m_c z̃_c)) / n)`` (padding rows are zero and add exactly, so a path
        through the sum meets at most ``C + 1`` roundings: ``γ_{C+1}`` of ``Σ_c m_c |z̃_c| / n ≤
        max|z̃|``, and at most ``C + 2`` absolute ``μ``, divided by ``n`` but for the last),
        ``L̃ = fl(2^e fl(vᵀ m̃) + bias)``; the exact value is within
        ``E = 1.01 · 2^e (‖v‖₁ (max δ + γ_{C+1} max|z̃| + (C + 2)μ) + γ_d |v|ᵀ|m̃| + dμ) + 2u|L̃| + μ``
        of ``L̃``. A configuration with ``|L̃| ≤ E`` (or a scale beyond ±1000) is decided on its
        exact state (the single engine).
        """
        v_arr = np.asarray(v, dtype=np.float64)
        if v_arr.shape != (self.d,) or not np.isfinite(v_arr).all() or not math.isfinite(bias):
            raise InputError(f"v must be {self.d} finite floats and the bias finite")
        g_d = self.d * UNIT_ROUNDOFF / (1 - self.d * UNIT_ROUNDOFF)
        signs = np.zeros(len(self), dtype=np.int64)
        sure = np.zeros(len(self), dtype=bool)
        for stack in self._stacks:
            B, C, d = stack.Z.shape
            g_C = (C + 1) * UNIT_ROUNDOFF / (1 - (C + 1) * UNIT_ROUNDOFF)
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                m = (stack.multiplicity[:, :, None] * stack.Z).sum(axis=1) / stack.multiplicity.sum(axis=1)[:, None]
                power = np.ldexp(1.0, np.clip(stack.scale, -1000, 1000))
                value = (m @ v_arr) * power + bias
                inner = (np.abs(v_arr).sum() * (stack.delta.max(axis=1) + g_C * np.abs(stack.Z).max(axis=(1, 2))
                                                 + (C + 2) * UNDERFLOW_UNIT)
                         + g_d * (np.abs(m) @ np.abs(v_arr)) + d * UNDERFLOW_UNIT)
                error = 1.01 * inner * power + 2 * UNIT_ROUNDOFF * np.abs(value) + UNDERFLOW_UNIT
                ok = stack.alive & (np.abs(stack.scale) < 1000) & np.isfinite(value) & np.isfinite(error) \
                    & (np.abs(value) > error)
            index = self._members_of(stack)
            signs[index] = np.where(value > 0, 1, -1)
            sure[index] = ok
        for b in np.flatnonzero(~sure).tolist():
            engine, _ = self._replay(b)
            signs[b] = engine.mean_functional_sign(self.steps, v_arr.tolist(), bias)
        return signs

    def _members_of(self, stack: _Stack) -> np.ndarray:
        """The input indices of a stack's rows, in row order."""
        s = self._stacks.index(stack)
        picked = np.flatnonzero(self._where[:, 0] == s)
        return picked[np.argsort(self._where[picked, 1])]

    def exact_classes(self, b: int) -> list[list[int]]:
        """The groups of exactly equal tokens of ``Z^K`` of configuration ``b`` (first appearance order).

        The classes of copies, when :func:`~dynamics.backends.certified.proved_apart`; otherwise the single
        engine's exact answer.
        """
        if b not in self._rerun:
            s, row = self._where[b]
            stack = self._stacks[s]
            width = int(stack.width[row])
            if proved_apart(stack.Z[row, :width], stack.delta[row, :width]):
                groups: list[list[int]] = [[] for _ in range(width)]
                for i, c in enumerate(self.copies[b].tolist()):
                    groups[c].append(i)
                return groups
        engine, _ = self._replay(b)
        return engine.exact_classes(self.steps)
