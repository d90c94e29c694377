"""The certified backend equals the exact engine, always (trajectory and follow sets)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from dynamics import config_from_dict, load_config, simulate
from dynamics.backends.certified import score_error_bound
from verify.strategies import FAMILIES, MATRIX_CLASSES, configs


def same(a, b):
    assert [s.fractions() for s in a.states] == [s.fractions() for s in b.states]
    assert a.follow == b.follow and a.leaders == b.leaders
    assert a.follow_by_head == b.follow_by_head


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.tuples(st.sampled_from(MATRIX_CLASSES), st.sampled_from(FAMILIES)).flatmap(
        lambda mf: configs(matrix=mf[0], family=mf[1], heads=(1, 3), max_n=10, max_d=3)
    ),
    st.integers(0, 8),
)
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
