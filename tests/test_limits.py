"""Certified limits: exact sign tests, exact limits, and the certificate against the real run."""

from __future__ import annotations

from fractions import Fraction as F

from hypothesis import assume, given, settings, strategies as st

from dynamics import config_from_dict, load_config, simulate
from dynamics.rules import step_weights
from verify.limits import certified_limit, positive_on_unit_interval
from verify.strategies import configs, rationals


@settings(max_examples=300, deadline=None)
@given(rationals(4, 3), rationals(4, 3), rationals(4, 3))
def test_quadratic_sign_test_matches_a_fine_grid(a, b, c):
    def q(lam):
        return a * lam * lam + b * lam + c

    grid = [F(k, 400) for k in range(1, 401)]
    says = positive_on_unit_interval(a, b, c)
    if says:
        assert all(q(lam) > 0 for lam in grid)
    else:
        # a witness in (0, 1]: λ = 1, the vertex, or points near 0
        candidates = grid + [F(1, 10**12)]
        if a != 0:
            vertex = -b / (2 * a)
            if 0 < vertex <= 1:
                candidates.append(vertex)
        assert any(q(lam) <= 0 for lam in candidates)


def test_persistent_tie_limit_is_exact():
    result = certified_limit(load_config("examples/rotation_tie.json"))
    assert result.certified and result.certified_at == 0
    assert result.limit[0] == [F(4, 5), F(0)]  # the mean of the two mirror leaders
    assert result.in_S == [True, True, True]


def test_emerging_leader_clusters():
    result = certified_limit(load_config("examples/emerging_leader.json"))
    assert result.certified and result.certified_at == 1
    assert result.leaders == (0, 1, 2)
    assert sorted(map(sorted, result.clusters)) == [[0, 3, 6, 7], [1], [2, 4, 5]]
    assert all(result.in_S)


def test_token_at_the_centre_of_its_face_is_fixed_without_being_a_leader():
    # (0, -1) ties with itself and with (±2/9, -1): it sits at the mean of its face forever.
    obj = {"tokens": [["2/9", "-1"], ["0", "-1"], ["-2/9", "-1"], ["0", "1"]], "A": [["3", "0"], ["0", "1"]],
           "alpha": "1/2"}
    result = certified_limit(config_from_dict(obj))
    assert result.certified and result.certified_at == 0
    assert result.limit[1] == [F(0), F(-1)] and 1 not in result.leaders
    assert all(result.in_S)


def test_no_leader_means_no_certificate():
    result = certified_limit(config_from_dict({"tokens": [[1], [2], [4]], "A": [[0]], "alpha": 1}), max_steps=20)
    assert not result.certified and "not provably frozen" in result.reason


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["spd", "nonsymmetric"]).flatmap(lambda m: configs(matrix=m, max_n=8, max_d=3)))
def test_certificate_predicts_the_continued_run_exactly(config):
    """After certification, z^{k+t} - m = c0^t (z^k - m) exactly and the follow sets never change."""
    result = certified_limit(config, max_steps=60)
    assume(result.certified)
    k, extra = result.certified_at, 8
    traj = simulate(config, k + extra)
    c0, _ = step_weights([h.alpha for h in config.heads])
    base = traj.states[k].fractions()
    for t in range(1, extra + 1):
        assert traj.follow[k + t] == traj.follow[k]
        now = traj.states[k + t].fractions()
        for i, m in enumerate(result.limit):
            assert [x - y for x, y in zip(now[i], m)] == [c0**t * (x - y) for x, y in zip(base[i], m)]
