"""The certified engine's enclosure itself: ``‖z̃_i^k − 2^{-e} z_i^k‖_∞ ≤ δ_i^k`` at every step, and the
row bound ``R_i`` covers every score's error, checked exactly against the exact engine."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dynamics import config_from_dict, simulate
from dynamics.backends.certified import (MAX_DELTA, UNDERFLOW_UNIT, UNIT_ROUNDOFF, CertifiedEngine,
                                         row_score_bounds)
from dynamics.engine import iterate_layers
from verify.strategies import FAMILIES, MATRIX_CLASSES, VALUE_CLASSES, configs, wide_range_configs

SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much]


def assert_enclosed(config, steps: int) -> CertifiedEngine:
    """Every float state of a certified run is within its bounds of the exact (scaled) state."""
    exact = simulate(config, steps, backend="exact").states
    engine = CertifiedEngine(config)
    for item in iterate_layers(engine, steps):
        state = item.state
        scale = Fraction(2) ** -state.scale
        rows = exact[item.k].fractions()
        for i, row in enumerate(rows):
            error = max(abs(Fraction(float(x)) - scale * z) for x, z in zip(state.Z[i], row))
            assert error <= Fraction(float(state.delta[i])), (item.k, i, float(error), state.delta[i])
        assert float(np.abs(state.Z).max(initial=0)) <= 1.0
        assert float(state.delta.max()) <= MAX_DELTA
    return engine


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW_OK)
@given(st.tuples(st.sampled_from(MATRIX_CLASSES), st.sampled_from(FAMILIES), st.sampled_from(VALUE_CLASSES))
       .flatmap(lambda m: configs(matrix=m[0], family=m[1], values=m[2], heads=(1, 2), layers=(1, 2), max_n=8,
                                  max_d=3)), st.integers(1, 12))
def test_enclosure_holds_at_every_step(config, steps):
    assert_enclosed(config, steps)


@settings(max_examples=100, deadline=None, suppress_health_check=SLOW_OK)
@given(st.tuples(st.sampled_from(MATRIX_CLASSES), st.sampled_from(FAMILIES))
       .flatmap(lambda m: wide_range_configs(matrix=m[0], family=m[1], heads=(1, 2), max_n=6)), st.integers(1, 5))
def test_enclosure_holds_across_the_whole_exponent_range(config, steps):
    assert_enclosed(config, steps)


def test_enclosure_grows_slowly_for_the_paper_model():
    """V = I, α ≥ 0: the bound grows at most linearly, ``δ ≤ (k + 1)(L + 1)u`` (module docstring)."""
    rng = np.random.default_rng(3)
    d = 16
    obj = {"tokens": rng.standard_normal((64, d)).tolist(), "alpha": "1/2"}
    engine = CertifiedEngine(config_from_dict(obj))
    L = d + 1 + 4
    for item in iterate_layers(engine, 40):
        assert float(item.state.delta.max()) <= (item.k + 1) * (L + 1) * UNIT_ROUNDOFF * 1.1
    assert engine.exact_layers == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 12), st.integers(1, 6), st.integers(0, 2**32 - 1), st.sampled_from([0.0, 1e-12, 1e-6, 1e-3]),
       st.sampled_from([0, -200, -1060]))
def test_row_bound_covers_every_score_error(n, d, seed, spread, exponent):
    """Exact ``Z'`` and ``A'``; a float state within ``δ`` of ``Z'`` (off by up to ``δ`` on purpose);
    every float score lies within ``R_i`` of the exact score."""
    rng = np.random.default_rng(seed)
    scale = 2.0 ** exponent
    exact_Z = [[Fraction(float(x)) * Fraction(2) ** exponent for x in row] for row in rng.uniform(-1, 1, (n, d))]
    exact_A = [[Fraction(float(x)) / 3 for x in row] for row in rng.uniform(-1, 1, (d, d))]
    A = np.array([[float(x) for x in row] for row in exact_A])
    delta = np.full(n, spread * scale) + 2 * UNDERFLOW_UNIT + UNIT_ROUNDOFF * scale
    offsets = rng.uniform(-1, 1, (n, d)) * (spread * scale) * 0.99
    Z = np.array([[float(z + Fraction(float(o))) for z, o in zip(row, off)] for row, off in zip(exact_Z, offsets)])
    for i in range(n):  # the float state really is within δ of the exact one
        assert max(abs(Fraction(float(x)) - z) for x, z in zip(Z[i], exact_Z[i])) <= Fraction(float(delta[i]))
    R = row_score_bounds(Z, delta, A)
    S = (Z @ A.T) @ Z.T
    for i in range(n):
        Az = [sum(exact_A[r][c] * exact_Z[i][c] for c in range(d)) for r in range(d)]
        for j in range(n):
            s = sum(Az[t] * exact_Z[j][t] for t in range(d))
            assert abs(Fraction(float(S[i, j])) - s) <= Fraction(float(R[i]))


def test_a_loose_enclosure_restarts_from_the_exact_state():
    """A value matrix that doubles the tokens: the bound grows by ‖V‖ per step, the floats are rescaled by
    powers of two, and the engine restarts from exact states when δ passes MAX_DELTA — still exact."""
    obj = {"tokens": [[1, "1/3"], ["-1/2", "2/7"], ["1/5", -1]], "A": [[2, 1], [1, 1]], "alpha": 3,
           "V": [[4, 1], [-1, 3]]}
    config = config_from_dict(obj)
    engine = assert_enclosed(config, 60)
    exact, certified = simulate(config, 60, backend="exact"), simulate(config, 60, backend="certified")
    assert certified.follow == exact.follow and certified.leaders == exact.leaders
    assert [s.fractions() for s in certified.states] == [s.fractions() for s in exact.states]
    assert engine.info()["filter"]["decided_exactly"] == 0


def _exact_sign(config, steps, v, b):
    final = simulate(config, steps, backend="exact").states[-1].fractions()
    n = len(final)
    value = sum(Fraction(vt) * sum(row[t] for row in final) / n for t, vt in enumerate(v)) + Fraction(b)
    return (value > 0) - (value < 0)


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW_OK)
@given(st.sampled_from(FAMILIES).flatmap(lambda f: configs(matrix="spd", family=f, max_n=8, max_d=3)),
       st.integers(0, 8), st.integers(0, 2**32 - 1), st.booleans())
def test_readouts_of_the_float_state_are_exact(config, steps, seed, on_the_boundary):
    """The sign of ``vᵀ mean z + b`` and the groups of equal tokens, read off the float state with its
    enclosure, equal the exact engine's; ``b`` is put exactly on the boundary half of the time (the
    exact path must decide it)."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(config.d).tolist()
    engine = CertifiedEngine(config)
    engine.run(steps)
    b = float(rng.standard_normal())
    if on_the_boundary:  # b = −vᵀ mean z^K exactly, when that is a float
        final = simulate(config, steps, backend="exact").states[-1].fractions()
        value = -sum(Fraction(vt) * sum(row[t] for row in final) / len(final) for t, vt in enumerate(v))
        if Fraction(float(value)) == value:
            b = float(value)
    assert engine.mean_functional_sign(steps, v, b) == _exact_sign(config, steps, v, b)
    assert engine.exact_classes(steps) == simulate(config, steps, backend="exact").clusters()


def test_tokens_one_ulp_apart_are_told_apart_exactly():
    x = 1.0
    y = float(np.nextafter(x, 2.0))
    config = config_from_dict({"tokens": [[x, 0], [y, 0], [x, 0], [0, 1]], "alpha": 1})
    engine = CertifiedEngine(config)
    engine.run(3)
    assert engine.exact_classes(3) == simulate(config, 3, backend="exact").clusters()
    assert engine.exact_classes(0) == [[0, 2], [1], [3]]


def test_classes_not_known_to_be_copies_are_merged_exactly():
    """The classes of copies may miss a coincidence (tokens that became equal without being copies):
    exact_classes must then not call them different. Simulated by splitting a class of copies."""
    config = config_from_dict({"tokens": [[1, 2], [1, 2], ["1/3", 5], [-4, 1]], "alpha": "1/2"})
    engine = CertifiedEngine(config)
    engine.run(4)
    state = engine.float_states[4]
    assert state.copies[0] == state.copies[1]
    state.copies = np.array([0, 3, 1, 2])  # 0 and 1 no longer known to be copies
    assert engine.exact_classes(4) == [[0, 1], [2], [3]]


FLOAT_ENTRIES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1.0, -1.0]))


@settings(max_examples=300, deadline=None, suppress_health_check=SLOW_OK)
@given(st.integers(1, 6), st.integers(1, 3), st.data(), st.sampled_from(["1/2", "3", "1/7"]), st.integers(0, 6))
def test_float_tokens_give_the_exact_run_of_their_values(n, d, data, alpha, steps):
    """DyadicTokens (the engines start from the floats): the same run as the same values given as
    Fractions, on the exact and certified engines — any float64 (subnormals, ±0, the largest), copies."""
    from dynamics.config import Config, DyadicTokens, Head, identity

    rows = data.draw(st.lists(st.lists(FLOAT_ENTRIES, min_size=d, max_size=d), min_size=1, max_size=n))
    rows = rows + rows[:data.draw(st.integers(0, len(rows)))]  # copies
    heads = (Head(A=identity(d), alpha=Fraction(alpha)),)
    exact = simulate(Config(tokens=tuple(tuple(Fraction(x) for x in r) for r in rows), heads=heads), steps)
    floats = Config(tokens=DyadicTokens(rows), heads=heads)
    for backend in ("exact", "certified"):
        t = simulate(floats, steps, backend=backend)
        assert t.follow == exact.follow and t.leaders == exact.leaders, backend
        assert [s.fractions() for s in t.states] == [s.fractions() for s in exact.states], backend
    engine = CertifiedEngine(floats)
    engine.run(steps)
    assert engine.exact_classes(steps) == exact.clusters()


def test_dyadic_tokens_read_as_their_exact_values():
    from dynamics.config import DyadicTokens
    from dynamics.rational import RationalMatrix

    tokens = DyadicTokens([[0.1, -0.0], [5e-324, 1e308]])
    assert tokens[0] == (Fraction(0.1), Fraction(0)) and len(tokens) == 2
    exact = RationalMatrix.from_floats(tokens.array)
    assert exact.fractions() == [[Fraction(0.1), 0], [Fraction(5e-324), Fraction(1e308)]]
    with pytest.raises(ValueError):
        DyadicTokens([[float("nan")]])


def test_identity_shortcut_of_the_row_bound_is_the_same_bound():
    rng = np.random.default_rng(5)
    Z = rng.uniform(-1, 1, (30, 7))
    delta = rng.uniform(0, 1e-10, 30)
    general = row_score_bounds(Z, delta, np.eye(7))
    shortcut = row_score_bounds(Z, delta, np.eye(7), identity=True)
    assert np.allclose(general, shortcut, rtol=1e-12, atol=0)
