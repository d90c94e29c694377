"""The exact run every lemma reads, and the verdict it gets.

:class:`Run` is built from a trajectory of the exact, certified, float or
torch backend: the states are taken exactly (every float is a dyadic
rational), and the follow sets and leaders are **recomputed** here in exact
integer arithmetic (:mod:`verify.exact`), independently of the engine. A
lemma therefore judges what the states are, not what the engine said.

Stable public attributes (the lemma API, see :mod:`verify.lemmas`):

==========================  ===============================================================
``run.config``              the :class:`~dynamics.config.Config`
``run.n``, ``run.d``        tokens and dimension
``run.steps``               ``K``: the run has states ``Z^0 … Z^K``
``run.states[k][i]``        token ``i`` of ``Z^k``, a tuple of :class:`fractions.Fraction` (k = 0…K);
                            on an algebraic run in an irrational field ``K``, of
                            :class:`~dynamics.number_field.FieldElement` (exact ``+ − × ÷ == <``)
``run.follow[k][h][i]``     ``C^h_i(Z^k)`` under layer k's heads, a sorted tuple (k = 0…K-1)
``run.leaders[k]``          sorted leaders of ``Z^k`` (k = 0…K)
==========================  ===============================================================

Further attributes used by the built-in claims: ``run.follow_final`` (the
follow sets of ``Z^K``), ``run.ints[k]`` (``Z^k`` as integer rows over one
denominator, :class:`~verify.exact.IntState`), ``run.repeats[k]`` (``Z^k = Z^{k-1}`` exactly under
the same schedule entry, so step ``k`` repeats step ``k - 1``), ``run.trajectory`` (the backend's
:class:`~dynamics.trajectory.Trajectory`, whose own decisions P4 and D1
judge), ``run.H`` (hypothesis H holds for every head of every layer) and ``run.field`` (the
number field of an algebraic run in an irrational field, else ``None``). On such a run
``run.config`` is the config with every entry an element of ``run.field``, so a lemma combines
parameters and states exactly as it does over the rationals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from dynamics.config import Config, Head
from dynamics.floats import json_number
from dynamics.number_field import FieldElement, RealField
from dynamics.rational import RationalMatrix
from dynamics.trajectory import Trajectory

from .exact import IntState, ScoreMatrix, exact_rows, follow_sets, integer_matrix, leaders_of, require_finite, satisfies_H

__all__ = ["Run", "Verdict"]


@dataclass
class Verdict:
    """The verdict on one claim or lemma for one run.

    ``holds``: True, False, or None (not claimed here, or not decided; see
    ``reason``). ``witness``: the first violation (step, tokens, exact
    numbers), or None. ``violations``: how many violations the whole run has;
    ``max_violation``: the largest violation measured as a float
    (claim-specific unit), or None where the checker has no measure (a lemma
    that answers only true or false). ``observed``: for a lemma outside its claimed
    domain, what the checker found anyway (True/False), else None.
    """

    claim: str
    holds: bool | None
    reason: str = ""
    witness: dict[str, Any] | None = None
    violations: int = 0
    max_violation: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    observed: bool | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"holds": self.holds, "witness": self.witness}
        if self.reason:
            out["reason"] = self.reason
        if self.observed is not None:
            out["observed"] = self.observed
        if self.violations:
            out["violations"] = self.violations
            if self.max_violation is not None:
                out["max_violation"] = json_number(self.max_violation)
        out.update(self.extra)
        return out


def exact_config(config: Config, trajectory: Trajectory | None = None) -> tuple[Config, "RealField | None"]:
    """``(config, None)`` for a rational config; for an algebraic one, the config with every entry an
    element of its number field ``K`` and ``K`` itself (:func:`dynamics.backends.algebraic.config_over_field`).

    With an algebraic ``trajectory``, ``K`` is the field its states live in, checked to be the field
    of the config's entries (the same minimal polynomial and root), so that states and parameters
    can be combined exactly.
    """
    if config.is_rational:
        return config, None
    from dynamics.backends.algebraic import config_over_field

    field = None
    first = trajectory.states[0] if trajectory is not None and len(trajectory.states) else None
    if isinstance(first, tuple) and first and first[0] and isinstance(first[0][0], FieldElement):
        field = first[0][0].field  # an algebraic state (tuples of elements); float states are arrays
    field, over = config_over_field(config, field)
    if field.degree <= 1:  # irrational-looking entries that are rational ("sqrt(4)"): a rational config
        return _rational(over), None
    return over, field


def _rational(config: Config) -> Config:
    """A config over the field ``Q`` with its entries as Fractions."""
    def rows(M):
        return tuple(tuple(x.to_fraction() for x in row) for row in M)

    schedule = tuple(tuple(Head(A=rows(h.A), alpha=h.alpha.to_fraction(), V=None if h.V is None else rows(h.V))
                           for h in heads) for heads in config.schedule)
    return Config(tokens=rows(config.tokens), heads=(), layers=schedule, steps=config.steps, name=config.name,
                  description=config.description, source=config.source)


class Run:
    """Exact states, follow sets and leaders of a trajectory (module docstring).

    Parameters
    ----------
    config
        The configuration the trajectory ran.
    trajectory
        A trajectory of the exact, certified, float or torch backend (float
        runs that overflowed are refused in one line).
    """

    def __init__(self, config: Config, trajectory: Trajectory):
        require_finite(trajectory)
        self.field = None  # the number field of an algebraic run in an irrational field (else None)
        config, self.field = exact_config(config, trajectory)
        self.config = config
        self.trajectory = trajectory
        ints = [IntState.from_ints(s.ints(), s.den) if isinstance(s, RationalMatrix) else IntState(exact_rows(s))
                for s in trajectory.states]
        self.ints = ints  # integer rows over one denominator per state (verify.exact.IntState)
        self._states: tuple | None = None
        Ms = [[integer_matrix(h.A) for h in heads] for heads in config.schedule]
        self.score_matrices = Ms  # per schedule entry and head: a positive integer multiple of A
        scores = [[ScoreMatrix(M) for M in heads] for heads in Ms]
        self.self_scores: list[list[list]] = []  # [k][h][i]: <M_h N_i, N_i>, a positive multiple a_h D_k² of <A_h z_i, z_i>
        every: list = []
        self.repeats = [False] * len(ints)  # repeats[k]: Z^k = Z^{k-1} exactly, under the same schedule entry
        for k, s in enumerate(ints):
            if k and config.layer_index(k) == config.layer_index(k - 1) and s.den == ints[k - 1].den \
                    and s.rows == ints[k - 1].rows:
                self.repeats[k] = True  # the same state under the same heads: the same follow sets
                every.append(every[-1])
                self.self_scores.append(self.self_scores[-1])
                continue
            diagonals: list = []
            every.append(tuple(follow_sets(s, scores[config.layer_index(k)], diagonals)))
            self.self_scores.append(diagonals)
        self.follow: tuple[tuple, ...] = tuple(every[:-1])
        self.follow_final = every[-1]
        self.leaders: tuple[tuple[int, ...], ...] = tuple(leaders_of(s, f) for s, f in zip(ints, every))
        self.H = satisfies_H([h for _, h in config.all_heads()])

    @property
    def states(self) -> tuple[tuple[tuple[Fraction, ...], ...], ...]:
        """``states[k][i]``: token ``i`` of ``Z^k`` as a tuple of Fractions (built on first use)."""
        if self._states is None:
            self._states = tuple(
                tuple(tuple(Fraction(x, s.den) for x in row) for row in s.rows) if s.fractions is None
                else tuple(tuple(row) for row in s.fractions) for s in self.ints)
        return self._states

    def same_token(self, k: int, l: int, i: int) -> bool:
        """Exactly: ``z_i^k == z_i^l`` (integer rows over each state's denominator)."""
        a, b = self.ints[k], self.ints[l]
        return all(x * b.den == y * a.den for x, y in zip(a.rows[i], b.rows[i]))

    @property
    def steps(self) -> int:
        return len(self.ints) - 1

    @property
    def n(self) -> int:
        return self.config.n

    @property
    def d(self) -> int:
        return self.config.d

    def follow_at(self, k: int) -> tuple:
        """``C^h_i(Z^k)`` for ``k = 0 … K`` (the final state included)."""
        return self.follow[k] if k < self.steps else self.follow_final

    def union_follow(self, k: int, i: int) -> tuple[int, ...]:
        """``C_i(Z^k) = ∪_h C^h_i(Z^k)``, sorted (``k = 0 … K``)."""
        return tuple(sorted(set().union(*(f[i] for f in self.follow_at(k)))))
