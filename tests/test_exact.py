"""The exact engine against hand computations and an independent Fraction oracle."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from benchmarks.baselines import fraction_trajectory
from dynamics import config_from_dict, load_config, simulate
from dynamics.rational import RationalMatrix
from verify.strategies import FAMILIES, MATRIX_CLASSES, configs

EMERGING = [["1", "1/3"], ["-1/12", "1/12"], ["-1", "-1"], ["0", "1/4"],
            ["-3/10", "-7/10"], ["-3/5", "-9/10"], ["4/5", "1/10"], ["3/5", "3/20"]]


def run(obj, steps):
    return simulate(config_from_dict(obj), steps, backend="exact")


def test_emerging_leader_by_hand():
    """Paper Figure 2: token 1 follows token 3 at step 0, then is a leader from step 1 on."""
    t = run({"tokens": EMERGING, "alpha": "1/2"}, 5)
    # Step 0 by hand (A = I): <z1, z3> = 1/48 beats <z1, z1> = 1/72, so C_1 = {3};
    # z1+ = (2/3) z1 + (1/3) z3 = (-1/18, 5/36).
    assert t.follow[0][1] == (3,)
    assert t.states[1].row(1) == [F(-1, 18), F(5, 36)]
    # z3 = (0, 1/4) follows z0: <z3, z0> = 1/12 > <z3, z3> = 1/16.
    assert t.follow[0][3] == (0,)
    assert t.states[1].row(3) == [F(1, 3), F(5, 18)]
    assert t.leaders[0] == (0, 2)
    assert all(t.leaders[k] == (0, 1, 2) for k in range(1, 6))
    # leaders do not move
    assert all(t.states[k].row(1) == [F(-1, 18), F(5, 36)] for k in range(1, 6))


def test_persistent_exact_tie_follows_closed_form():
    """Token 0 on the mirror axis ties exactly between the mirror leaders (3-4-5) forever.

    Its mean target is (4/5, 0), so x_k = 4/5 - (4/5 - 1/10)(2/3)^k and y_k = 0 exactly.
    """
    t = simulate(load_config("examples/rotation_tie.json"), 40, backend="exact")
    for k in range(41):
        x, y = t.states[k].row(0)
        assert y == 0
        assert x == F(4, 5) - F(7, 10) * F(2, 3) ** k
        if k < 40:
            assert t.follow[k][0] == (1, 2)
        assert t.leaders[k] == (1, 2)


def test_duplicates_stay_equal_and_lead_together():
    t = run({"tokens": [[2, 0], [2, 0], [0, 1], [1, 0]], "alpha": 1}, 6)
    # two copies of (2, 0): each's follow set is both copies, and both are leaders
    assert t.follow[0][0] == (0, 1) and t.follow[0][1] == (0, 1)
    assert set(t.leaders[0]) >= {0, 1}
    # (1, 0) follows both copies; (0, 1) follows itself (1 > 0)
    assert t.follow[0][3] == (0, 1)
    for k in range(7):
        assert t.states[k].row(0) == t.states[k].row(1)


def test_zero_token_follows_everyone():
    """All scores of the zero token are 0: a tie among all tokens, so C = everything."""
    t = run({"tokens": [[0, 0], [1, 0], [0, 2]], "alpha": 1}, 1)
    assert t.follow[0][0] == (0, 1, 2)
    assert t.states[1].row(0) == [F(1, 6), F(1, 3)]  # (0 + mean)/2, mean = (1/3, 2/3)
    assert 0 not in t.leaders[0]


def test_nonsymmetric_A_by_hand():
    # A = [[0, 1], [0, 0]]: A z = (z_y, 0), so s_ij = z_iy * z_jx.
    obj = {"tokens": [[1, 1], [2, -1], [-1, 3]], "A": [[0, 1], [0, 0]], "alpha": 1}
    t = run(obj, 1)
    # token 0: scores 1*x_j = (1, 2, -1) -> C = {1}; token 1: -1*x_j -> (-1, -2, 1) -> C = {2};
    # token 2: 3*x_j -> C = {1}
    assert t.follow[0] == ((1,), (2,), (1,))
    assert t.states[1].row(0) == [F(3, 2), F(0)]
    assert t.leaders[0] == ()


def test_negative_definite_follows_the_farthest_in_the_opposite_direction():
    t = run({"tokens": [[1], [2], [-3]], "A": [[-1]], "alpha": 1}, 1)
    assert t.follow[0] == ((2,), (2,), (1,))


def test_multi_head_by_hand():
    """Two heads: A1 = I (attracts to the top-right), A2 = -I (to the opposite side)."""
    obj = {"tokens": [[1, 0], [0, 1], [-1, -1]],
           "heads": [{"A": [[1, 0], [0, 1]], "alpha": 1}, {"A": [[-1, 0], [0, -1]], "alpha": 2}]}
    t = run(obj, 1)
    # head 1 (I): z0 -> {0}, z1 -> {1}, z2 -> {2}; head 2 (-I): z0 -> {2}, z1 -> {2}, z2 -> {0, 1}
    assert t.follow_by_head[0] == (((0,), (1,), (2,)), ((2,), (2,), (0, 1)))
    assert t.follow[0] == ((0, 2), (1, 2), (0, 1, 2))
    # z0+ = (z0 + 1*z0 + 2*z2)/4 = (2 - 2, 0 - 2)/4 = (0, -1/2)
    assert t.states[1].row(0) == [F(0), F(-1, 2)]
    assert t.leaders[0] == ()


def test_rational_matrix_reduction_keeps_values():
    m = RationalMatrix.from_ints([[6, 4], [2, 8]], 10)
    assert m.den == 5 and m.ints() == [(3, 2), (1, 4)]
    assert m.fractions() == [[F(3, 5), F(2, 5)], [F(1, 5), F(4, 5)]]
    assert m.strings() == [["3/5", "2/5"], ["1/5", "4/5"]]


def _oracle(config, steps):
    heads = [([list(r) for r in h.A], h.alpha) for h in config.heads]
    return fraction_trajectory([list(r) for r in config.tokens], heads, steps)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(MATRIX_CLASSES).flatmap(
        lambda m: configs(matrix=m, heads=(1, 3), max_n=8, max_d=3)
    ),
    st.integers(0, 6),
)
def test_exact_engine_matches_fraction_oracle(config, steps):
    t = simulate(config, steps, backend="exact")
    states, follows = _oracle(config, steps)
    for k in range(steps + 1):
        assert t.states[k].fractions() == states[k]
    for k in range(steps):
        per_head = t.follow_by_head[k] if t.follow_by_head else (t.follow[k],)
        assert [list(f) for f in per_head] == follows[k]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(FAMILIES).flatmap(lambda fam: configs(family=fam, max_n=10)))
def test_degenerate_families_match_oracle_and_keep_copies_equal(config):
    steps = 4
    t = simulate(config, steps, backend="exact")
    states, _ = _oracle(config, steps)
    assert t.states[-1].fractions() == states[-1]
    # tokens equal at step 0 stay equal (they see identical scores)
    initial = [tuple(r) for r in config.tokens]
    for i in range(config.n):
        for j in range(i):
            if initial[i] == initial[j]:
                assert t.states[-1].row(i) == t.states[-1].row(j)


def test_leaders_do_not_move_and_json_shape():
    t = run({"tokens": EMERGING, "alpha": "1/2"}, 3)
    doc = t.to_json()
    assert doc["steps"] == 3 and doc["n"] == 8 and doc["d"] == 2
    assert len(doc["trajectory"]) == 4 and len(doc["follow"]) == 3 and len(doc["leaders"]) == 4
    assert doc["trajectory"][1][1] == ["-1/18", "5/36"]
    assert doc["follow"][0][1] == [3]


def test_negative_steps_rejected():
    with pytest.raises(ValueError):
        run({"tokens": [[1]], "alpha": 1}, -1)


@pytest.mark.parametrize(
    "obj",
    [
        {"tokens": [[k] for k in range(10)], "A": [[0]], "alpha": "1/3"},  # every row follows everyone
        {"tokens": [[1, 2]] * 9 + [[0, 1], [2, 0]], "alpha": "2"},  # nine copies follow each other
    ],
)
def test_dense_update_path_matches_oracle(obj):
    config = config_from_dict(obj)
    t = simulate(config, 3, backend="exact")
    assert sum(len(c) for c in t.follow[0]) > 8 * config.n  # the dense branch was taken
    states, _ = _oracle(config, 3)
    assert [s.fractions() for s in t.states] == states
