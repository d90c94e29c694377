"""The certified backend equals the exact engine, always (trajectory and follow sets)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dynamics import config_from_dict, load_config, simulate
from dynamics.backends.certified import score_error_bound
from verify.strategies import FAMILIES, MATRIX_CLASSES, configs


def same(a, b):
    assert [s.fractions() for s in a.states] == [s.fractions() for s in b.states]
    assert a.follow == b.follow and a.leaders == b.leaders
    assert a.follow_by_head == b.follow_by_head


def every_class_and_family(strategy, **options):
    """Configurations of every matrix class and token family, drawn by ``strategy``."""
    return st.tuples(st.sampled_from(MATRIX_CLASSES), st.sampled_from(FAMILIES)).flatmap(
        lambda mf: strategy(matrix=mf[0], family=mf[1], **options))


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(every_class_and_family(configs, heads=(1, 3), max_n=10, max_d=3), st.integers(0, 8))
def test_certified_equals_exact_on_every_family(config, steps):
    same(simulate(config, steps, backend="exact"), simulate(config, steps, backend="certified"))


def test_persistent_tie_goes_to_exact_rows():
    config = load_config("examples/rotation_tie.json")
    t = simulate(config, 40, backend="certified")
    same(simulate(config, 40, backend="exact"), t)
    # the tie row (token 0) cannot be decided by floats: one exact row per step
    assert t.info["filter"]["decided_exactly"] == 41


def test_generic_configs_are_decided_by_the_filter():
    rng = np.random.default_rng(0)
    obj = {"tokens": rng.standard_normal((40, 4)).tolist(), "alpha": "1/2"}
    t = simulate(config_from_dict(obj), 10, backend="certified")
    assert t.info["filter"]["decided_exactly"] == 0
    same(simulate(config_from_dict(obj), 10, backend="exact"), t)


def test_error_bound_covers_a_near_tie_between_different_tokens():
    # Scores of the last row differ by 2^-60: the float64 filter must not decide it.
    obj = {"tokens": [["1", "0"], ["1", f"{2**-30}"], [f"{2**-30}", "1"]], "A": [["1", "0"], ["0", "0"]],
           "alpha": 1}
    t = simulate(config_from_dict(obj), 2, backend="certified")
    same(simulate(config_from_dict(obj), 2, backend="exact"), t)


def test_bound_is_at_least_the_actual_error():
    rng = np.random.default_rng(1)
    from fractions import Fraction

    Z = rng.standard_normal((20, 5))
    A = rng.standard_normal((5, 5))
    S = (Z @ A.T) @ Z.T
    B = score_error_bound(Z, A)
    Zq = [[Fraction(float(x)) for x in row] for row in Z]
    Aq = [[Fraction(float(x)) for x in row] for row in A]
    for i in range(0, 20, 3):
        Az = [sum(Aq[r][c] * Zq[i][c] for c in range(5)) for r in range(5)]
        for j in range(20):
            exact = sum(Az[k] * Zq[j][k] for k in range(5))
            assert abs(Fraction(float(S[i, j])) - exact) <= Fraction(float(B[i, j]))


def test_batch_of_configs_in_processes():
    from dynamics import simulate_batch

    configs = [load_config(p) for p in ("examples/emerging_leader.json", "examples/rotation_tie.json")] * 2
    batch = simulate_batch(configs, 12, backend="certified", workers=2)
    assert [t.backend for t in batch] == ["certified"] * 4
    for config, t in zip(configs, batch):
        same(simulate(config, 12, backend="exact"), t)


# --- the whole float64 range (issue #10): certified must equal exact for every magnitude ---------

from fractions import Fraction  # noqa: E402

from dynamics.backends.certified import scaled_floats  # noqa: E402
from verify.strategies import wide_range_configs  # noqa: E402


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(every_class_and_family(wide_range_configs, heads=(1, 2), max_n=8, max_d=3), st.integers(0, 4))
def test_certified_equals_exact_across_the_whole_exponent_range(config, steps):
    same(simulate(config, steps, backend="exact"), simulate(config, steps, backend="certified"))


TINY = Fraction(2) ** -1074


def test_subnormal_A_entry_is_not_treated_as_relative():
    # A[1][1] = 1.4 · 2^-1074 rounds to 2^-1074 (29 % off). The old bound treated that rounding as
    # relative and decided token 0 -> token 1; exactly, token 0 follows token 2.
    a = TINY * Fraction(14, 10)
    config = config_from_dict({"tokens": [["1e-13", "1e150"], ["1.2e-10", "0"], ["0", "2e150"]],
                               "A": [["1", "0"], ["0", f"{a.numerator}/{a.denominator}"]], "alpha": 1})
    exact = simulate(config, 2, backend="exact")
    assert exact.follow[0][0] == (2,)
    same(exact, simulate(config, 2, backend="certified"))


@pytest.mark.parametrize("tokens, A", [
    ([["1e400", "0"], ["0", "1e400"], ["1e400", "1e400"]], None),          # scores overflow float64
    ([["1e-400", "0"], ["0", "2e-400"], ["1e-400", "1e-400"]], None),      # tokens round to zero
    ([["3", "1"], ["1", "3"], ["2", "2"]], [["1e-400", "0"], ["0", "2e-400"]]),  # A rounds to zero
    ([["1", "1e-320"], ["1", "0"], ["1", "-1e-320"]], [["0", "1e-320"], ["1e-320", "0"]]),
    ([[f"{10**320}", "1"], ["1", "1"], ["-1", "1/3"]], [["1", "1e-330"], ["0", "1e310"]]),
])
def test_out_of_float_range_inputs(tokens, A):
    obj = {"tokens": tokens, "alpha": "1/2"} | ({"A": A} if A else {})
    config = config_from_dict(obj)
    same(simulate(config, 4, backend="exact"), simulate(config, 4, backend="certified"))


def _half_ulp_ok(q: float, x: Fraction) -> bool:
    """``q`` is ``x`` correctly rounded: no float is strictly closer (checked exactly)."""
    import math

    err = abs(Fraction(q) - x)
    for other in (math.nextafter(q, math.inf), math.nextafter(q, -math.inf)):
        if math.isfinite(other) and abs(Fraction(other) - x) < err:
            return False
    return True


@given(st.integers(-2**80, 2**80).filter(bool), st.integers(1, 2**80), st.integers(-1130, 900))
@settings(max_examples=300, deadline=None)
def test_int_division_is_correctly_rounded_including_subnormals(p, q, shift):
    # scaled_floats relies on Python's int / int being correctly rounded over the whole range.
    x = Fraction(p, q) * Fraction(2) ** shift
    value = x.numerator / x.denominator
    assert _half_ulp_ok(value, x)


def test_scaled_floats_bounds_every_entry_by_one():
    rows = [(10**400, -3), (1, 0), (-(10**400) - 1, 7)]
    for den in (1, 3, 10**500, 10**300 + 7):
        Zf = scaled_floats(rows, den)
        assert np.isfinite(Zf).all() and np.abs(Zf).max() <= 1.0 and np.abs(Zf).max() > 0.25


@given(st.integers(1, 4), st.integers(1, 6), st.sampled_from([-1090, -1060, -1020, -600, 0]),
       st.sampled_from([-1090, -1060, -1020, -600, 0]), st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_bound_covers_the_actual_error_with_underflow(d, n, z_exp, a_exp, rnd):
    # The derivation's claim itself: |fl(fl(Z̃Ãᵀ)Z̃ᵀ) − ZAᵀZᵀ| ≤ B, for exact Z, A whose roundings
    # are subnormal or zero (scaled so that max |Z̃|, |Ã| ≤ 1, as the certified filter does).
    Z = [[Fraction(rnd.randint(-999, 999), 997) * Fraction(2) ** (z_exp * rnd.randint(0, 1)) for _ in range(d)]
         for _ in range(n)]
    A = [[Fraction(rnd.randint(-999, 999), 991) * Fraction(2) ** (a_exp * rnd.randint(0, 1)) for _ in range(d)]
         for _ in range(d)]
    Zf = np.array([[float(x) for x in row] for row in Z])
    Af = np.array([[float(x) for x in row] for row in A])
    S = (Zf @ Af.T) @ Zf.T
    B = score_error_bound(Zf, Af)
    for i in range(n):
        Az = [sum(A[r][c] * Z[i][c] for c in range(d)) for r in range(d)]
        for j in range(n):
            exact = sum(Az[k] * Z[j][k] for k in range(d))
            assert abs(Fraction(float(S[i, j])) - exact) <= Fraction(float(B[i, j]))
