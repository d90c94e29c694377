"""Claim checkers: hold on exact runs, and catch violations in broken trajectories."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamics import config_from_dict, load_config, simulate
from dynamics.rational import RationalMatrix
from dynamics.trajectory import Trajectory
from verify.claims import FINITE_CLAIMS, check, check_all
from verify.exact import is_positive_definite, satisfies_H
from verify.strategies import configs

EMERGING = "examples/emerging_leader.json"


@pytest.mark.parametrize("path", [EMERGING, "examples/rotation_tie.json"])
def test_exact_runs_satisfy_every_claim(path):
    config = load_config(path)
    verdicts = check_all(config, simulate(config, 30))
    for claim in ("P1", "P2", "P3", "P4", "D1", "D2"):
        assert verdicts[claim].holds is True, (claim, verdicts[claim].witness)
    assert verdicts["D3"].holds is None  # A = I satisfies H


@settings(max_examples=40, deadline=None)
@given(configs(matrix="spd", max_n=8, max_d=3))
def test_under_H_every_finite_claim_holds(config):
    verdicts = check_all(config, simulate(config, 12))
    for claim in ("P1", "P2", "P4", "D1", "D2"):
        assert verdicts[claim].holds is True, (claim, verdicts[claim].witness)


def _fake(config, states, leaders=None, follow=None):
    """A trajectory assembled by hand (to test that checkers can fail)."""
    mats = [RationalMatrix.from_rows(s) for s in states]
    if follow is None:
        follow = [tuple((i,) for i in range(len(s))) for s in states]
    return Trajectory(backend="exact", states=mats, follow=follow,
                      leaders=leaders or [tuple(range(len(s))) for s in states])


def test_P1_catches_a_token_leaving_the_hull():
    config = config_from_dict({"tokens": [[0, 0], [1, 0], [0, 1]], "alpha": 1})
    grown = [[F(0), F(0)], [F(1), F(0)], [F(1, 2), F(1, 2) + F(1, 100)]]
    v = check("P1", config, _fake(config, [config.tokens, grown]))
    assert v.holds is False and v.witness["step"] == 1 and v.witness["token"] == 2
    assert v.max_violation == pytest.approx(0.01 / 2**0.5)


def test_P2_and_D3_catch_a_moving_leader():
    config = config_from_dict({"tokens": [[1, 0], [0, 1]], "A": [[1, 2], [0, 1]], "alpha": 1})
    moved = [[F(1), F(1, 7)], [F(0), F(1)]]
    traj = _fake(config, [config.tokens, moved])
    v = check("P2", config, traj)  # P2 is claimed under H: here it is observed, not claimed
    assert v.holds is None and v.observed is False and v.witness["token"] == 0 and v.witness["moved"]
    assert "not claimed for nonsymmetric A" in v.reason
    d3 = check("D3", config, traj)  # A is nonsymmetric: D3 applies
    assert d3.holds is False


def test_P3_catches_a_step_without_leaders():
    # A = 0: every score ties, every token follows every other, no leader.
    config = config_from_dict({"tokens": [[1], [2]], "A": [[0]], "alpha": 1})
    v = check("P3", config, simulate(config, 2))  # A = 0 is outside H: observed, not claimed
    assert v.holds is None and v.observed is False and v.witness["step"] == 0


def test_P4_and_D1_catch_wrong_follow_sets_and_leaders():
    config = config_from_dict({"tokens": [[1, 0], [2, 0], [3, 0]], "alpha": 1})
    wrong_follow = [((1,), (1,), (2,))]  # exact: every token follows token 2
    traj = _fake(config, [config.tokens], leaders=[(1, 2)], follow=wrong_follow)
    p4 = check("P4", config, traj)
    assert p4.holds is False and p4.witness["tokens_on_supporting_hyperplane"] == [2]
    d1 = check("D1", config, traj)  # token 1 is the midpoint of a segment, not a vertex
    assert d1.holds is False and d1.witness["token"] == 1


def test_float32_rounding_moves_a_leader_and_grows_the_hull():
    """(z + α z)/(1 + α) is not z in float32: the leader (1, 1/3) drifts by an ulp at step 1."""
    config = load_config(EMERGING)
    verdicts = check_all(config, simulate(config, 10, backend="float", dtype="float32"))
    assert verdicts["P2"].holds is False
    assert verdicts["P2"].witness["token"] == 0 and verdicts["P2"].witness["broken_at"] == 1
    assert 0 < verdicts["P2"].max_violation < 1e-6
    assert verdicts["P1"].holds is False and verdicts["P1"].max_violation < 1e-6


def test_float32_breaks_the_exact_tie_and_P4_sees_it():
    config = load_config("examples/rotation_tie.json")
    verdicts = check_all(config, simulate(config, 60, backend="float", dtype="float32"))
    assert verdicts["P4"].holds is False


def test_D2_fails_for_an_indefinite_A():
    config = config_from_dict({"tokens": [["0", "0"], ["1/1000000", "0"]], "A": [["-1", "0"], ["0", "1"]],
                               "alpha": "1"})
    v = check("D2", config, simulate(config, 1))
    assert v.holds is None and v.observed is False and "not claimed for indefinite A" in v.reason


def test_positive_definiteness_is_exact():
    assert is_positive_definite([[F(2), F(1)], [F(1), F(1)]])
    assert not is_positive_definite([[F(1), F(1)], [F(1), F(1)]])  # semidefinite
    assert not is_positive_definite([[F(1), F(0)], [F(0), F(-1, 10**20)]])
    config = config_from_dict({"tokens": [[1]], "A": [["1/2"]], "alpha": 1})
    assert satisfies_H(config.heads)


def test_unknown_claim_and_interval_trajectories():
    config = load_config(EMERGING)
    with pytest.raises(ValueError, match="unknown claim"):
        check("P9", config, simulate(config, 1))
    interval = simulate(config, 1, backend="interval")
    assert all(v.holds is None for v in check_all(config, interval, FINITE_CLAIMS).values())


def test_float_states_are_judged_exactly():
    from verify.exact import exact_rows

    rows = exact_rows(np.array([[0.1, 0.5]]))
    assert rows == [[F(0.1), F(1, 2)]]


def _naive_P2(a):
    """P2 as first written: for each leader at k, scan later steps for the first break (O(n K²))."""
    first, count = None, 0
    for k in range(a.steps + 1):
        for i in a.leaders[k]:
            for l in range(k + 1, a.steps + 1):
                if a.states[l][i] != a.states[k][i] or i not in a.leaders[l]:
                    count += 1
                    first = first or (l, k, i)
                    break
    return count, first


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["spd", "nonsymmetric", "indefinite", "symmetric"]).flatmap(
    lambda m: configs(matrix=m, heads=(1, 2), max_n=7, max_d=3, layers=(1, 2))),
    st.sampled_from(["exact", "float32"]))
def test_fast_certificates_give_the_same_verdicts_as_the_general_checks(config, backend):
    """P1's update-rule certificate, D1's score certificate and D2's integer comparison are shortcuts:
    with them switched off (the general LP, hull and Fraction paths), every verdict is the same; the
    backward P2 scan equals the naive one."""
    import verify.claims as claims
    from verify.run import Run

    options = {"backend": "float", "dtype": "float32"} if backend == "float32" else {}
    traj = simulate(config, 5, **options)
    if backend == "float32" and not all(np.isfinite(s).all() for s in traj.states):
        return
    fast = {c: v.to_json() for c, v in check_all(config, traj).items()}
    saved = claims._update_certificates, claims._exposed_by_score
    try:
        claims._update_certificates = lambda run, k: [False] * run.n
        claims._exposed_by_score = lambda *args: False
        slow = {c: v.to_json() for c, v in check_all(config, traj).items()}
    finally:
        claims._update_certificates, claims._exposed_by_score = saved
    assert fast == slow
    run = Run(config, traj)
    verdict = claims.check_P2.checker(run)
    count, first = _naive_P2(run)
    assert verdict.violations == count
    assert (first is None) == (verdict.witness is None)
    if first is not None:
        w = verdict.witness
        assert (w["broken_at"], w["leader_at"], w["token"]) == first


def test_a_two_head_P3_witness_shows_each_heads_follow_sets():
    """With two SPD heads each token leads in one head and follows a tie in the other (the README's case):
    the union of the follow sets hides why, so the witness gives them per head."""
    from dynamics import config_from_dict, simulate
    from verify.claims import check_all

    config = config_from_dict({"tokens": [["0", "0", "1"], ["0", "1", "1"]],
                               "heads": [{"A": [["1", "0", "0"], ["0", "1", "0"], ["0", "0", "1"]], "alpha": "1"},
                                         {"A": [["1", "0", "0"], ["0", "1", "-1"], ["0", "-1", "2"]], "alpha": "1"}]})
    verdict = check_all(config, simulate(config, 1))["P3"]
    assert verdict.holds is None and verdict.observed is False  # not claimed for two heads; fails anyway
    by_head = verdict.witness["follow_by_head"]
    assert by_head == [[[0, 1], [1]], [[0], [0, 1]]]
    assert [sorted(set(a) | set(b)) for a, b in zip(*by_head)] == verdict.witness["follow"]
