"""The algebraic engine: the hardmax dynamics over a real number field, every tie decided exactly.

A config whose irrational entries are algebraic (``"sqrt(2)/2"``, ``"cos(2*pi/5)"``,
``"2^(1/3)"``) lives in one real number field ``K = Q(θ)`` (:func:`dynamics.number_field.field_of`).
``K`` is closed under ``+ − × ÷``, and a layer uses nothing else:

    s^h_ij = ⟨A_h z_i, z_j⟩,   C^h_i = argmax_j s^h_ij,
    z_i+ = (z_i + Σ_h α_h V_h mean{z_j : j ∈ C^h_i}) / (1 + Σ_h α_h),

so every state stays in ``K^{n×d}`` exactly. Each argmax compares scores by the exact sign of
their difference (:meth:`dynamics.number_field.RealField.sign`): an exact tie between
different tokens has difference exactly 0 and is recognised as such, and any other comparison
is decided by refining θ's isolating interval until it is certain. Nothing is guessed, and
the run goes on for as many steps as asked: unlike the interval engine, this one never stops
"undecided".

A rational config gives the field ``Q`` (θ = 0, degree 1), and the same trajectory as the exact
engine.
"""

from __future__ import annotations

from typing import Callable

from ..config import Config, Head
from ..errors import InputError, LimitError
from ..number_field import FieldElement, RealField, field_of, minimal_polynomial_text
from ..rules import FollowSets, step_weights
from ..trajectory import Trajectory

__all__ = ["AlgebraicEngine", "config_over_field", "simulate_algebraic"]

Vector = tuple[FieldElement, ...]
State = tuple[Vector, ...]


class _Head:
    """One head's parameters as field elements (``V = None`` is the identity)."""

    def __init__(self, A, alpha, V):
        self.A, self.alpha, self.V = A, alpha, V
        # A = c·I with c > 0 (the paper's common case): the scores are c⟨z_i, z_j⟩, argmax of ⟨z_i, z_j⟩
        d = len(A)
        scalar = all(A[i][j] == (A[0][0] if i == j else 0) for i in range(d) for j in range(d))
        self.identity_scores = scalar and A[0][0].sign() > 0


class AlgebraicEngine:
    """The algebraic :class:`~dynamics.engine.Engine`: one configuration over its number field.

    Parameters
    ----------
    config
        A configuration whose entries are rational or real algebraic numbers.

    Raises
    ------
    NotAlgebraicError
        An entry is not algebraic (``pi``, ``e``, ``exp(1)``): the interval backend takes those.
    InputError
        ``1 + Σ α_h`` is exactly 0 for some layer (the normalisation is undefined).
    """

    backend = "algebraic"

    def __init__(self, config: Config):
        self.config = config
        self.n, self.d = config.n, config.d
        self.field, self.exact_config = config_over_field(config)
        self._tokens: State = tuple(tuple(row) for row in self.exact_config.tokens)
        self._schedule: list[tuple[_Head, ...]] = [tuple(_Head(h.A, h.alpha, h.V) for h in heads)
                                                   for heads in self.exact_config.schedule]
        self._weights = [self._step_weights(heads, index) for index, heads in enumerate(self._schedule)]

    def _step_weights(self, heads: tuple[_Head, ...], index: int) -> tuple[FieldElement, tuple[FieldElement, ...]]:
        """``c_0 = 1/(1 + Σ α_h)`` and ``c_h = α_h/(1 + Σ α_h)`` in the field (SPEC §1)."""
        try:
            return step_weights([head.alpha for head in heads])
        except ValueError:
            layer = f"layers[{index}]." if self.config.layers is not None else ""
            raise InputError(f"{self.config.source}: {layer}alpha: 1 + sum of alpha is exactly 0 (expected a "
                             "nonzero normalisation 1 + Σ α_h)") from None

    # -- the engine protocol ---------------------------------------------------------------------
    def initial_state(self) -> State:
        return self._tokens

    def keys(self, state: State) -> list:
        return list(state)

    def heads_at(self, k: int) -> tuple[Head, ...]:
        """The heads of layer ``k`` with every entry an element of :attr:`field`."""
        return self.exact_config.heads_at(k)

    def info(self) -> dict:
        return {"field": f"Q({self.field.generator})", "degree": self.field.degree,
                "minimal_polynomial": minimal_polynomial_text(self.field), "refinements": self.field.refinements}

    def follow_sets(self, state: State, k: int = 0) -> tuple[FollowSets, ...]:
        """``C^h_i`` for every head of layer ``k``, each argmax decided by exact signs."""
        out = []
        for head in self._schedule[self.config.layer_index(k)]:
            follow = []
            for z in state:
                q = z if head.identity_scores else _matvec(head.A, z)
                follow.append(_argmax([_dot(q, w) for w in state]))
            out.append(tuple(follow))
        return tuple(out)

    def layer(self, state: State, k: int) -> tuple[State, tuple[FollowSets, ...]]:
        per_head = self.follow_sets(state, k)
        return self.step(state, per_head, k), per_head

    def step(self, state: State, follow_by_head: tuple[FollowSets, ...], k: int = 0) -> State:
        """``Z^{k+1}`` from ``Z^k`` and its follow sets under layer ``k``, exactly."""
        index = self.config.layer_index(k)
        heads, (c0, ch) = self._schedule[index], self._weights[index]
        means: dict[tuple[int, ...], Vector] = {}

        def mean(c: tuple[int, ...]) -> Vector:
            if c not in means:
                total = state[c[0]]
                for j in c[1:]:
                    total = tuple(a + b for a, b in zip(total, state[j]))
                means[c] = total if len(c) == 1 else tuple(x / len(c) for x in total)
            return means[c]

        new = []
        for i, z in enumerate(state):
            acc = tuple(c0 * x for x in z)
            for head, weight, follow in zip(heads, ch, follow_by_head):
                m = mean(follow[i])
                if head.V is not None:
                    m = _matvec(head.V, m)
                acc = tuple(a + weight * x for a, x in zip(acc, m))
            new.append(acc)
        return tuple(new)

    def run(self, steps: int, progress: Callable[[int], None] | None = None,
            stop_when_fixed: bool = False) -> Trajectory:
        """Simulate ``steps`` layers: :func:`dynamics.engine.run_engine` with this engine."""
        from ..engine import run_engine

        return run_engine(self, steps, progress=progress, stop_when_fixed=stop_when_fixed)


def config_over_field(config: Config, field: RealField | None = None) -> tuple[RealField, Config]:
    """The number field ``K = Q(θ)`` of a config's entries, and the config with every entry in ``K``.

    Every token coordinate, ``alpha``, ``A`` and ``V`` entry of the returned config is a
    :class:`~dynamics.number_field.FieldElement` of ``K`` (``V = I`` is still stored as ``None``),
    so ``==`` between entries is exact equality and ``<`` an exact order.

    Parameters
    ----------
    config
        A configuration with rational or real algebraic entries.
    field
        Use this field (an engine's, whose elements a trajectory holds) instead of a new one. It
        must be the field the entries generate: the same minimal polynomial and the same root
        (:meth:`~dynamics.number_field.RealField.same_as`), else ``ValueError``; rational entries
        go into any field.

    Raises
    ------
    NotAlgebraicError
        An entry is not algebraic (``pi``, ``e``): the interval backend takes those.
    """
    numbers, where = [], []
    tokens = list(config.tokens)  # rows of numbers (DyadicTokens gives its rows as Fractions)
    for i, row in enumerate(tokens):
        for t, x in enumerate(row):
            numbers.append(x)
            where.append(f"{config.source}: field 'tokens[{i}][{t}]'")
    for prefix, head in config.all_heads():
        numbers.append(head.alpha)
        where.append(f"{config.source}: field '{prefix}alpha'")
        for name, M in (("A", head.A), ("V", head.V or ())):
            for i, row in enumerate(M):
                for t, x in enumerate(row):
                    numbers.append(x)
                    where.append(f"{config.source}: field '{prefix}{name}[{i}][{t}]'")
    try:
        own, elements = field_of(numbers, where)
    except LimitError as exc:  # a limit of the whole field (its degree) names no entry: name the config
        if str(exc).startswith(f"{config.source}: "):
            raise
        raise type(exc)(f"{config.source}: {exc}") from None
    if field is not None and field is not own:
        if own.degree > 1 and not field.same_as(own):  # rational entries lie in every field
            raise ValueError(f"{config.source}: the given field {field!r} is not the field of the config's entries "
                             f"{own!r}")
        elements = [field.element(x.coefficients()) for x in elements]
        own = field
    values = iter(elements)
    exact_tokens = tuple(tuple(next(values) for _ in row) for row in tokens)

    def head(h: Head) -> Head:
        alpha = next(values)
        A = tuple(tuple(next(values) for _ in row) for row in h.A)
        V = tuple(tuple(next(values) for _ in row) for row in h.V) if h.V is not None else None
        return Head(A=A, alpha=alpha, V=V)

    schedule = tuple(tuple(head(h) for h in heads) for heads in config.schedule)
    return own, Config(tokens=exact_tokens, heads=(), layers=schedule, steps=config.steps, name=config.name,
                       description=config.description, source=config.source)


def _dot(u: Vector, v: Vector) -> FieldElement:
    total = u[0] * v[0]
    for a, b in zip(u[1:], v[1:]):
        total = total + a * b
    return total


def _matvec(M, v: Vector) -> Vector:
    return tuple(_dot(row, v) for row in M)


def _argmax(scores: list[FieldElement]) -> tuple[int, ...]:
    """Every index of a maximal score: comparisons by the exact sign of differences (ties are equal elements)."""
    best = [0]
    for j in range(1, len(scores)):
        if scores[j] == scores[best[0]]:
            best.append(j)
            continue
        if (scores[j] - scores[best[0]]).sign() > 0:
            best = [j]
    return tuple(best)


def simulate_algebraic(config: Config, steps: int, progress: Callable[[int], None] | None = None) -> Trajectory:
    """Run the algebraic engine; see :class:`AlgebraicEngine`."""
    return AlgebraicEngine(config).run(steps, progress=progress)

