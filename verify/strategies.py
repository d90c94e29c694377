"""Hypothesis strategies for configurations, matrices and the degenerate families.

Everything is built from small integers, so Hypothesis shrinks failures to
small, readable rational counterexamples.

Matrix classes (SPEC §2), built by congruence ``A = Uᵀ D U`` with a unimodular
integer ``U`` (upper triangular, unit diagonal). By Sylvester's law of inertia
``A`` has the signs of ``D``:

* ``spd``          — ``D > 0``: symmetric positive definite (hypothesis H);
* ``symmetric``    — ``D`` arbitrary (zero and negative entries allowed);
* ``indefinite``   — ``D`` with a positive and a negative entry (needs d ≥ 2);
* ``nonsymmetric`` — an arbitrary rational matrix with ``A ≠ Aᵀ``.

Value matrices (:data:`VALUE_CLASSES`, the ``V`` of each head):

* ``identity``  — ``V = I``, the paper's model;
* ``rank_one``  — ``V = u vᵀ`` with nonzero small rational ``u, v``;
* ``rotation``  — a rational rotation (Pythagorean cosine) in a coordinate plane (``I`` for d = 1);
* ``diagonal``  — a diagonal matrix of small rationals (any sign, zero included);
* ``general``   — an arbitrary small rational matrix.

Layer schedules: ``layers=L`` (or a range) draws ``L`` parameter sets, each with
fresh ``A`` (same matrix class), ``alpha`` and ``V`` (same value class);
``alpha_schedule="decreasing"`` sorts the layers' ``alpha`` (one head) so that
it does not increase with the layer.

Token families: generic rationals; **duplicates** (repeated rows); the **zero
token**; **collinear** and **coplanar** sets; sets symmetric under a
**rational rotation** (Pythagorean cosines 3/5, 5/13, 8/17, …) or a
**reflection**, which carry exact ties that persist; **near ties** (a token
nudged by 1/10⁶ off a tie).
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Sequence

from hypothesis import strategies as st

from dynamics.config import Config, Head

__all__ = [
    "MATRIX_CLASSES",
    "VALUE_CLASSES",
    "ALPHA_SCHEDULES",
    "FAMILIES",
    "value_matrices",
    "model_problem",
    "rationals",
    "rational_values",
    "matrices",
    "alphas",
    "token_sets",
    "configs",
    "wide_range_configs",
]

MATRIX_CLASSES = ("spd", "symmetric", "indefinite", "nonsymmetric")
VALUE_CLASSES = ("identity", "rank_one", "rotation", "diagonal", "general")
ALPHA_SCHEDULES = ("any", "decreasing")
FAMILIES = ("generic", "duplicates", "zero", "collinear", "coplanar", "rotation", "reflection", "near_tie")
PYTHAGOREAN = ((3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29))

Matrix = tuple[tuple[Fraction, ...], ...]


@functools.lru_cache(maxsize=None)
def rational_values(max_denominator: int = 8, bound: int = 2) -> tuple[Fraction, ...]:
    """Every rational ``p/q`` with ``1 <= q <= max_denominator`` and ``|p/q| <= bound``, once each,
    simplest first: by denominator, then absolute value, positive before negative (``0, 1, -1, 2, …``)."""
    values = {Fraction(p, q) for q in range(1, max_denominator + 1) for p in range(-bound * q, bound * q + 1)}
    return tuple(sorted(values, key=lambda x: (x.denominator, abs(x), x < 0)))


def _indexed(table: tuple, width: int, build=tuple) -> st.SearchStrategy:
    """``width`` entries of ``table``, each one Hypothesis choice (an index), built by ``build``.

    Hypothesis's cost is per choice and per nested strategy, and drawing is a quarter of a hunt's
    time: one flat index per entry is the cheapest draw that keeps each entry uniform over the
    table (a single integer for all entries would not be: Hypothesis draws large integers with a
    heavy bias toward small ones). Shrinking an index moves its entry toward ``table[0]``, the
    simplest value.
    """
    index = st.integers(0, len(table) - 1)
    return st.tuples(*[index] * width).map(lambda xs: build([table[x] for x in xs]))


@functools.lru_cache(maxsize=None)
def rationals(max_denominator: int = 8, bound: int = 2) -> st.SearchStrategy[Fraction]:
    """Rationals ``p/q`` with ``1 <= q <= max_denominator`` and ``|p/q| <= bound``; shrink toward 0.

    One choice per number: an index into :func:`rational_values` (every such rational once,
    simplest first), so shrinking goes ``… → 1/2 → 1 → 0``.
    """
    table = rational_values(max_denominator, bound)
    return st.integers(0, len(table) - 1).map(table.__getitem__)


@functools.lru_cache(maxsize=None)
def _points(d: int) -> st.SearchStrategy[tuple[Fraction, ...]]:
    """A point of ``d`` :func:`rationals` drawn as one choice."""
    return _indexed(rational_values(), d)


@functools.lru_cache(maxsize=None)
def _point_lists(d: int, low: int, high: int) -> st.SearchStrategy[list[tuple[Fraction, ...]]]:
    """Lists of ``low … high`` points in ``d`` dimensions (built once per size)."""
    return st.lists(_points(d), min_size=low, max_size=high)


@functools.lru_cache(maxsize=None)
def _unimodular(d: int) -> st.SearchStrategy[list[list[int]]]:
    """Upper unitriangular ``d × d`` integer matrices with entries in ``[-2, 2]`` above the diagonal
    (one choice for all of them; shrinks toward ``I``)."""
    def build(upper: list[int]) -> list[list[int]]:
        entries = iter(upper)
        return [[1 if i == j else (next(entries) if j > i else 0) for j in range(d)] for i in range(d)]

    return _indexed((0, 1, -1, 2, -2), d * (d - 1) // 2, build)


def _congruence(U: list[list[int]], D: Sequence[Fraction]) -> Matrix:
    d = len(U)
    return tuple(
        tuple(sum((U[k][i] * D[k] * U[k][j] for k in range(d)), Fraction(0)) for j in range(d))
        for i in range(d)
    )


@functools.lru_cache(maxsize=None)
def matrices(kind: str, d: int) -> st.SearchStrategy[Matrix]:
    """A ``d × d`` rational matrix of class ``kind`` (see module docstring); built once per ``(kind, d)``."""
    if kind not in MATRIX_CLASSES:
        raise ValueError(f"matrix class must be one of {MATRIX_CLASSES}, got {kind!r}")
    positive = tuple(map(Fraction, (1, 2, 3, 4))) + (Fraction(1, 2), Fraction(1, 3))
    signed = tuple(map(Fraction, (0, 1, -1, 2, -2, 3, -3)))
    if kind == "spd":
        diag = _indexed(positive, d)
    elif kind == "symmetric":
        diag = _indexed(signed, d)
    elif kind == "indefinite":
        if d < 2:
            raise ValueError("an indefinite matrix needs d >= 2")
        diag = st.tuples(_indexed(positive, 1), _indexed(positive, 1), _indexed(signed, d - 2)).flatmap(
            lambda parts: st.permutations((parts[0][0], -parts[1][0]) + parts[2]))
    else:
        return _indexed(rational_values(4, 2), d * d, _square(d)).filter(
            lambda A: any(A[i][j] != A[j][i] for i in range(d) for j in range(d))
        )
    return st.tuples(_unimodular(d), diag).map(lambda ud: _congruence(*ud))


@functools.lru_cache(maxsize=None)
def alphas(max_alpha: int = 10) -> st.SearchStrategy[Fraction]:
    """Step sizes ``alpha`` rational in ``(0, max_alpha]`` with denominator at most 6, simplest first
    (one choice; shrink toward 1)."""
    values = {Fraction(p, q) for q in range(1, 7) for p in range(1, max_alpha * q + 1)}
    table = tuple(sorted(values, key=lambda x: (x.denominator, x)))
    return st.integers(0, len(table) - 1).map(table.__getitem__)


def _square(d: int):
    """Build a ``d × d`` matrix (tuple of row tuples) from its ``d²`` entries, row by row."""
    return lambda xs: tuple(tuple(xs[i * d: (i + 1) * d]) for i in range(d))


def _rotate(v: Sequence[Fraction], c: Fraction, s: Fraction, axes=(0, 1)) -> tuple[Fraction, ...]:
    out = list(v)
    a, b = axes
    out[a], out[b] = c * v[a] - s * v[b], s * v[a] + c * v[b]
    return tuple(out)


@st.composite
def token_sets(draw, n: int | None = None, d: int | None = None, family: str | None = None,
               max_n: int = 12, max_d: int = 3) -> tuple[tuple[Fraction, ...], ...]:
    """Token multisets from one of :data:`FAMILIES` (drawn if not given)."""
    d = d if d is not None else draw(st.integers(1, max_d))
    family = family if family is not None else draw(st.sampled_from(FAMILIES))
    if family in ("rotation", "reflection", "coplanar") and d < 2:
        family = "generic"
    n = n if n is not None else draw(st.integers(1, max_n))
    point = _points(d)
    if family == "generic":
        return tuple(draw(_point_lists(d, n, n)))
    if family == "duplicates":
        base = draw(_point_lists(d, 1, max(1, n - 1)))
        picks = draw(st.lists(st.integers(0, len(base) - 1), min_size=n - len(base), max_size=n - len(base)))
        tokens = list(base) + [base[i] for i in picks]
        return tuple(draw(st.permutations(tokens)))
    if family == "zero":
        rest = draw(_point_lists(d, n - 1, n - 1))
        return tuple(draw(st.permutations([tuple(Fraction(0) for _ in range(d))] + rest)))
    if family in ("collinear", "coplanar"):
        k = 1 if family == "collinear" else 2
        origin = draw(point)
        directions = [draw(point) for _ in range(k)]
        coeffs = draw(st.lists(_indexed(rational_values(4, 2), k), min_size=n, max_size=n))
        return tuple(
            tuple(origin[m] + sum((c[t] * directions[t][m] for t in range(k)), Fraction(0)) for m in range(d))
            for c in coeffs
        )
    if family == "rotation":
        a, b, h = draw(st.sampled_from(PYTHAGOREAN))
        c, s = Fraction(a, h), Fraction(b, h)
        orbit = draw(st.integers(2, 4))
        seeds = draw(_point_lists(d, 1, max(1, n // orbit)))
        tokens = []
        for p in seeds:
            q = tuple(p)
            for _ in range(orbit):
                tokens.append(q)
                q = _rotate(q, c, s)
        return tuple(tokens[: max(n, 1)])
    if family == "reflection":
        seeds = draw(_point_lists(d, 1, max(1, n // 2)))
        tokens = []
        for p in seeds:
            tokens.append(tuple(p))
            tokens.append((-p[0],) + tuple(p[1:]))
        on_axis = draw(st.booleans())
        if on_axis:
            tokens.append((Fraction(0),) + tuple(draw(point)[1:]))
        return tuple(tokens)
    if family == "near_tie":
        base = draw(_point_lists(d, max(1, n - 1), max(1, n - 1)))
        j = draw(st.integers(0, len(base) - 1))
        nudge = Fraction(draw(st.sampled_from([1, -1])), 10**6)
        twin = (base[j][0] + nudge,) + tuple(base[j][1:])
        return tuple(base + [twin])
    raise ValueError(f"unknown family {family!r}")


MODEL_OPTIONS = ("values", "layers", "alpha_schedule", "family")


def model_problem(model: dict) -> str | None:
    """What is wrong with a hunt's model options (``values``, ``layers``, ``alpha_schedule``, ``family``:
    the keyword arguments of :func:`configs` a lemma may declare), in one phrase; ``None`` if nothing is."""
    unknown = sorted(set(model) - set(MODEL_OPTIONS), key=str)
    if unknown:
        return f"unknown model option {unknown[0]!r} ({', '.join(MODEL_OPTIONS)})"
    for key, allowed in (("values", VALUE_CLASSES), ("alpha_schedule", ALPHA_SCHEDULES), ("family", FAMILIES)):
        if key in model and model[key] not in allowed:
            return f"{key} must be one of {', '.join(allowed)}, got {model[key]!r}"[:300]
    if "layers" in model:
        L = model["layers"]
        bounds = tuple(L) if isinstance(L, (list, tuple)) else (L, L)
        if len(bounds) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 8
                                       for x in bounds) or bounds[0] > bounds[1]:
            return f"layers must be an integer in 1..8 or a range (low, high) in it, got {L!r}"[:300]
    return None


@functools.lru_cache(maxsize=None)
def value_matrices(kind: str, d: int) -> st.SearchStrategy[Matrix | None]:
    """A ``d × d`` value matrix of class ``kind`` (:data:`VALUE_CLASSES`); ``None`` for the identity."""
    if kind not in VALUE_CLASSES:
        raise ValueError(f"value class must be one of {VALUE_CLASSES}, got {kind!r}")
    if kind == "identity" or (kind == "rotation" and d < 2):
        return st.none()
    if kind == "rank_one":
        nonzero = _indexed(rational_values(4, 2), d).filter(any)
        return st.tuples(nonzero, nonzero).map(
            lambda uv: tuple(tuple(a * b for b in uv[1]) for a in uv[0]))
    if kind == "rotation":
        def rotation(args) -> Matrix:
            (a, b, h), sign, (p, q) = args
            c, s_ = Fraction(a, h), Fraction(sign * b, h)
            M = [[Fraction(int(i == j)) for j in range(d)] for i in range(d)]
            M[p][p], M[p][q], M[q][p], M[q][q] = c, -s_, s_, c
            return tuple(map(tuple, M))

        planes = st.sampled_from([(p, q) for p in range(d) for q in range(p + 1, d)])
        return st.tuples(st.sampled_from(PYTHAGOREAN), st.sampled_from([1, -1]), planes).map(rotation)
    if kind == "diagonal":
        return _indexed(rational_values(4, 2), d).map(
            lambda xs: tuple(tuple(xs[i] if i == j else Fraction(0) for j in range(d)) for i in range(d)))
    return _indexed(rational_values(4, 2), d * d, _square(d))


@st.composite
def configs(draw, matrix: str = "spd", heads: int | tuple[int, int] = 1, family: str | None = None,
            max_n: int = 12, max_d: int = 3, min_d: int = 1, values: str = "identity",
            layers: int | tuple[int, int] = 1, alpha_schedule: str = "any") -> Config:
    """A full :class:`~dynamics.config.Config`: the public strategy for a user's own Hypothesis tests.

    Parameters
    ----------
    matrix
        Class of every ``A`` (:data:`MATRIX_CLASSES`).
    heads
        Number of heads, or a ``(low, high)`` range (the same in every layer).
    family
        Token family (:data:`FAMILIES`); drawn when ``None``.
    max_n, max_d, min_d
        Most tokens, and the range of the dimension.
    values
        Class of every ``V`` (:data:`VALUE_CLASSES`); ``"identity"`` is the paper's model.
    layers
        Schedule entries ``L`` (or a range); ``1`` draws no schedule.
    alpha_schedule
        ``"any"``, or ``"decreasing"``: ``alpha`` of layer ``k + 1`` at most that of layer ``k``
        (every head).

    Examples
    --------
    >>> from hypothesis import given
    >>> from verify.strategies import configs
    >>> @given(configs(matrix="spd", values="rank_one", layers=(1, 3)))
    ... def test_my_lemma(config): ...
    """
    for name, value, allowed in (("matrix", matrix, MATRIX_CLASSES), ("values", values, VALUE_CLASSES),
                                 ("alpha_schedule", alpha_schedule, ALPHA_SCHEDULES)):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    low = max(min_d, 2 if matrix == "indefinite" else 1)
    d = draw(st.integers(low, max(low, max_d)))
    tokens = draw(token_sets(d=d, family=family, max_n=max_n))
    count = heads if isinstance(heads, int) else draw(st.integers(*heads))
    entries = layers if isinstance(layers, int) else draw(st.integers(*layers))
    schedule = [[Head(A=draw(matrices(matrix, d)), alpha=draw(alphas()), V=draw(value_matrices(values, d)))
                 for _ in range(count)] for _ in range(entries)]
    if alpha_schedule == "decreasing":
        for h in range(count):
            ordered = sorted((layer[h].alpha for layer in schedule), reverse=True)
            for layer, alpha in zip(schedule, ordered):
                layer[h] = Head(A=layer[h].A, alpha=alpha, V=layer[h].V)
    schedule_t = tuple(tuple(layer) for layer in schedule)
    return Config(tokens=tokens, heads=(), layers=schedule_t) if entries > 1 else Config(tokens=tokens,
                                                                                          heads=schedule_t[0])


#: Binary exponents spanning float64's whole range and beyond: 2^-1100 (below the smallest
#: subnormal, rounds to zero) … 2^1030 (overflows).
WIDE_EXPONENTS = (-1100, -1074, -1070, -1060, -1022, -1000, -700, -500, -300, -100, -30, 0, 30, 100, 300,
                  500, 700, 1000, 1023, 1030)


def _scaled(x: Fraction, exponent: int) -> Fraction:
    return x * Fraction(2) ** exponent


@st.composite
def wide_range_configs(draw, matrix: str = "spd", heads: int | tuple[int, int] = 1, family: str | None = None,
                       max_n: int = 8, max_d: int = 3) -> Config:
    """Configurations across float64's whole exponent range (and beyond it), mixed within one config.

    A :func:`configs` draw whose numbers are then rescaled by powers of two
    from :data:`WIDE_EXPONENTS` (2⁻¹¹⁰⁰ … 2¹⁰³⁰, i.e. about 1e-331 … 1e310):

    * the whole token set by one factor (keeps every tie of the family);
    * some single tokens by their own factor (mixed magnitudes in one config);
    * each head's ``A`` by one factor, and some single entries of ``A`` by
      their own (subnormal and zero-rounding entries, overflowing scores).

    Ties survive the global scalings, so tie-rich families stay tie-rich.
    """
    base = draw(configs(matrix=matrix, heads=heads, family=family, max_n=max_n, max_d=max_d))
    exponents = st.sampled_from(WIDE_EXPONENTS)
    shift = draw(exponents)
    tokens = []
    for row in base.tokens:
        own = draw(st.one_of(st.just(0), exponents)) if draw(st.booleans()) else 0
        tokens.append(tuple(_scaled(x, shift + own) for x in row))
    hs = []
    for h in base.heads:
        a_shift = draw(exponents)
        A = tuple(tuple(_scaled(x, a_shift + (draw(exponents) if draw(st.integers(0, 3)) == 0 else 0)) for x in row)
                  for row in h.A)
        hs.append(Head(A=A, alpha=h.alpha))
    return Config(tokens=tuple(tokens), heads=tuple(hs))


def random_config(rng, n: int, d: int, matrix: str = "spd", heads: int = 1, family: str = "generic",
                  max_denominator: int = 10) -> Config:
    """A seeded random configuration (NumPy ``Generator``), for statistics rather than search.

    Tokens are ``p/q`` with ``q ≤ max_denominator`` uniformly in ``[-1, 1]``;
    ``family`` may add ties: ``"duplicates"`` (a quarter of the tokens repeat
    others), ``"reflection"`` (mirror pairs about the first axis). ``A`` by
    matrix class as in :func:`matrices` (congruence ``Uᵀ D U`` with random
    integers); ``alpha`` from ``{1/4, 1/2, 1, 3/2, 2}``.
    """

    def rational() -> Fraction:
        q = int(rng.integers(1, max_denominator + 1))
        return Fraction(int(rng.integers(-q, q + 1)), q)

    tokens = [tuple(rational() for _ in range(d)) for _ in range(n)]
    if family == "duplicates" and n > 1:
        for i in rng.choice(n, size=max(1, n // 4), replace=False):
            tokens[int(i)] = tokens[int(rng.integers(0, n))]
    elif family == "reflection" and d >= 2:
        half = tokens[: (n + 1) // 2]
        tokens = (half + [(-p[0],) + p[1:] for p in half])[:n]
    elif family != "generic":
        raise ValueError(f"random_config family must be generic, duplicates or reflection, got {family!r}")

    def matrix_of(kind: str) -> Matrix:
        if kind == "nonsymmetric":
            if d == 1:
                raise ValueError("random_config: a 1 × 1 matrix is symmetric; a nonsymmetric A needs d ≥ 2")
            while True:
                A = tuple(tuple(Fraction(int(rng.integers(-4, 5)), 2) for _ in range(d)) for _ in range(d))
                if any(A[i][j] != A[j][i] for i in range(d) for j in range(d)):
                    return A
        U = [[1 if i == j else (int(rng.integers(-2, 3)) if j > i else 0) for j in range(d)] for i in range(d)]
        if kind == "spd":
            D = [Fraction(int(rng.integers(1, 5))) for _ in range(d)]
        elif kind == "symmetric":
            D = [Fraction(int(rng.integers(-3, 4))) for _ in range(d)]
        else:
            D = [Fraction(int(rng.integers(1, 5))) * (1 if k % 2 == 0 else -1) for k in range(d)]
            rng.shuffle(D)
        return _congruence(U, D)

    choices = [Fraction(1, 4), Fraction(1, 2), Fraction(1), Fraction(3, 2), Fraction(2)]
    hs = tuple(Head(A=matrix_of(matrix), alpha=choices[int(rng.integers(0, len(choices)))]) for _ in range(heads))
    return Config(tokens=tuple(tokens), heads=hs)
