"""Value matrices ``V`` and layer schedules, checked against an independent Fraction reference.

The reference below is written from SPEC §1 alone (it imports nothing from
``dynamics.backends`` or ``dynamics.rules``)::

    C^h_i   = argmax_j <A_h z_i, z_j>            (all maximisers, exact)
    z_i+    = (z_i + Σ_h α_h V_h mean_{j∈C^h_i} z_j) / (1 + Σ_h α_h)
    layer k uses schedule entry min(k, L-1); the follow sets of Z^k are layer k's
    leader  = token whose union follow set holds only tokens equal to it
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from dynamics import config_from_dict, simulate
from dynamics.backends.interval import endpoints
from dynamics.config import Config, ConfigError
from dynamics.trajectory import state_to_float
from verify.strategies import VALUE_CLASSES, configs

SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much]


# --------------------------------------------------------------------------------------------
# The independent reference
# --------------------------------------------------------------------------------------------

def _mat_vec(M, v):
    return tuple(sum((F(M[r][c]) * v[c] for c in range(len(v))), F(0)) for r in range(len(M)))


def _dot(u, v):
    return sum((a * b for a, b in zip(u, v)), F(0))


def ref_schedule(config):
    """The parameter sets ``[[(A, alpha, V), ...], ...]`` read from the raw fields (V = I written out)."""
    raw = config.layers if config.layers is not None else (config.heads,)
    d = config.d
    eye = tuple(tuple(F(int(r == c)) for c in range(d)) for r in range(d))
    return [[(h.A, F(h.alpha), h.V if h.V is not None else eye) for h in heads] for heads in raw]


def ref_scores(A, Z):
    """``s_ij = <A z_i, z_j>`` exactly."""
    return [[_dot(_mat_vec(A, zi), zj) for zj in Z] for zi in Z]


def ref_follow(A, Z):
    out = []
    for row in ref_scores(A, Z):
        best = max(row)
        out.append(tuple(j for j, s in enumerate(row) if s == best))
    return tuple(out)


def ref_layer(heads, Z, per_head):
    total = 1 + sum(alpha for _, alpha, _ in heads)
    d = len(Z[0])
    out = []
    for i, zi in enumerate(Z):
        acc = list(zi)
        for (A, alpha, V), follow in zip(heads, per_head):
            c = follow[i]
            mean = tuple(sum((Z[j][k] for j in c), F(0)) / len(c) for k in range(d))
            vm = _mat_vec(V, mean)
            acc = [a + alpha * x for a, x in zip(acc, vm)]
        out.append(tuple(a / total for a in acc))
    return out


def ref_run(config, steps):
    """``(states, follow_by_head, follow_union, leaders)`` for ``Z^0 … Z^steps``."""
    schedule = ref_schedule(config)
    L = len(schedule)
    Z = [tuple(F(x) for x in row) for row in config.tokens]
    states, by_head, union, leaders = [], [], [], []
    for k in range(steps + 1):
        heads = schedule[min(k, L - 1)]
        per_head = tuple(ref_follow(A, Z) for A, _, _ in heads)
        u = tuple(tuple(sorted(set().union(*(f[i] for f in per_head)))) for i in range(len(Z)))
        states.append([list(z) for z in Z])
        by_head.append(per_head)
        union.append(u)
        leaders.append(tuple(i for i, c in enumerate(u) if all(Z[j] == Z[i] for j in c)))
        if k < steps:
            Z = ref_layer(heads, Z, per_head)
    return states, by_head, union, leaders


def per_head(traj, k):
    """The per-head follow sets of ``Z^k`` (a 1-tuple for one head)."""
    return traj.follow_by_head[k] if traj.follow_by_head is not None else (traj.follow[k],)


def assert_matches_reference(traj, config, steps):
    states, by_head, union, leaders = ref_run(config, steps)
    assert len(traj.states) == steps + 1
    for k in range(steps + 1):
        assert traj.states[k].fractions() == states[k], f"state {k}"
        assert tuple(per_head(traj, k)) == by_head[k], f"follow by head at {k}"
        assert tuple(traj.follow[k]) == union[k], f"follow at {k}"
        assert tuple(traj.leaders[k]) == leaders[k], f"leaders at {k}"
    heads = len(config.heads)
    assert (traj.follow_by_head is None) == (heads == 1)


def assert_same_run(a, b):
    assert [s.fractions() for s in a.states] == [s.fractions() for s in b.states]
    assert a.follow == b.follow
    assert a.follow_by_head == b.follow_by_head
    assert a.leaders == b.leaders


# --------------------------------------------------------------------------------------------
# The reference itself, on the hand example of the brief (so it is not only self-consistent)
# --------------------------------------------------------------------------------------------

SWAP = [[0, 1], [1, 0]]


def test_hand_swap_value_matrix_one_step():
    """tokens e0, e1, A = I, V = swap, alpha = 1: each follows itself (1 > 0); z+ = (z + Vz)/2 = (1/2, 1/2)."""
    config = config_from_dict({"tokens": [[1, 0], [0, 1]], "A": [[1, 0], [0, 1]], "V": SWAP, "alpha": 1})
    assert config.heads[0].V == ((F(0), F(1)), (F(1), F(0)))
    for backend in ("exact", "certified"):
        t = simulate(config, 1, backend=backend)
        assert t.follow[0] == ((0,), (1,))
        assert t.leaders[0] == (0, 1)
        assert t.states[1].fractions() == [[F(1, 2), F(1, 2)], [F(1, 2), F(1, 2)]]
        # Z^1: both tokens are equal, so each follows both copies and both are leaders
        assert t.follow[1] == ((0, 1), (0, 1))
        assert t.leaders[1] == (0, 1)
    states, _, union, _ = ref_run(config, 1)
    assert states[1] == [[F(1, 2), F(1, 2)], [F(1, 2), F(1, 2)]] and union[0] == ((0,), (1,))
    for backend in ("float", "torch"):
        t = simulate(config, 1, backend=backend, dtype="float64")
        assert t.follow[0] == ((0,), (1,))
        np.testing.assert_array_equal(t.states[1], [[0.5, 0.5], [0.5, 0.5]])


def test_leader_moves_under_a_value_matrix():
    """A leader with V != I is not a fixed point: it moves to (z + alpha V z)/(1 + alpha)."""
    config = config_from_dict({"tokens": [[2, 0], [0, 1]], "V": [["1/2", 0], [0, 3]], "alpha": "1/2"})
    t = simulate(config, 2, backend="exact")
    assert t.leaders[0] == (0, 1)
    # z0+ = (2 + 1/2·1)/(3/2) = 5/3 ; z1+ = (1 + 1/2·3)/(3/2) = 5/3
    assert t.states[1].fractions() == [[F(5, 3), F(0)], [F(0), F(5, 3)]]
    assert_matches_reference(t, config, 2)


# The schedule example: layer 0 has A = I (each token follows itself, nothing moves),
# layer 1 (repeated from then on) has A = swap (each token follows the other), alpha = 1/2.
SCHEDULE = {"tokens": [[2, 0], [0, 1]],
            "layers": [{"A": [[1, 0], [0, 1]], "alpha": 1},
                       {"A": SWAP, "alpha": "1/2"}]}


def test_schedule_by_hand_changes_follow_sets_and_repeats_last_entry():
    config = config_from_dict(SCHEDULE)
    assert len(config.schedule) == 2 and config.layers is not None
    assert [config.layer_index(k) for k in range(5)] == [0, 1, 1, 1, 1]
    assert config.heads_at(7) == config.layers[1]
    assert not config.fixed_scores and config.identity_values
    for backend in ("exact", "certified"):
        t = simulate(config, 3, backend=backend)
        Z = [s.fractions() for s in t.states]
        # layer 0 (A = I): <z0,z0> = 4 > 0, <z1,z1> = 1 > 0: both lead, nothing moves
        assert t.follow[0] == ((0,), (1,)) and t.leaders[0] == (0, 1)
        assert Z[1] == Z[0]
        # layer 1 (A = swap): A z0 = (0,2) scores (0, 2); A z1 = (1,0) scores (2, 0)
        assert t.follow[1] == ((1,), (0,)) and t.leaders[1] == ()
        assert Z[2] == [[F(4, 3), F(1, 3)], [F(2, 3), F(2, 3)]]
        # layer 2 re-uses entry 1: A z0 = (1/3, 4/3) scores (8/9, 10/9); A z1 = (2/3, 2/3) scores (10/9, 8/9)
        assert t.follow[2] == ((1,), (0,))
        assert Z[3] == [[F(10, 9), F(4, 9)], [F(8, 9), F(5, 9)]]
        # the follow sets of the final state Z^3 are those of layer 3 (entry 1): scores (80/81, 82/81)
        assert t.follow[3] == ((1,), (0,)) and t.leaders[3] == ()
        assert_matches_reference(t, config, 3)


def test_final_follow_sets_use_the_next_layers_heads():
    """With one step, follow[1] (of Z^1 = Z^0) is decided by layer 1's A, not layer 0's."""
    config = config_from_dict(SCHEDULE)
    for backend in ("exact", "certified", "interval", "float", "torch"):
        t = simulate(config, 1, backend=backend)
        assert t.follow[0] == ((0,), (1,)), backend
        assert t.follow[1] == ((1,), (0,)), backend
        assert t.leaders == [(0, 1), ()], backend


def test_run_longer_than_schedule_reuses_last_entry():
    """Three entries with different A, V, alpha; 6 steps: steps 2..5 all use entry 2."""
    obj = {"tokens": [[1, "1/3"], ["-1/2", "1/4"], [0, -1], ["3/4", "3/4"]],
           "layers": [{"A": [[1, 0], [0, 1]], "alpha": "1/2"},
                      {"A": [[0, 1], [-1, 0]], "V": [["3/5", "-4/5"], ["4/5", "3/5"]], "alpha": 2},
                      {"heads": [{"A": [[2, 1], [1, 1]], "V": [[1, 0], [0, 0]], "alpha": "1/3"},
                                 {"A": [[-1, 0], [0, 1]], "alpha": 1}]}]}
    with pytest.raises(ConfigError):  # different head counts are refused (layer 2 has two heads)
        config_from_dict(obj)
    obj["layers"][0] = {"heads": [{"A": [[1, 0], [0, 1]], "alpha": "1/2"}, {"A": [[0, 0], [0, 1]], "alpha": 1}]}
    obj["layers"][1] = {"heads": [{"A": [[0, 1], [-1, 0]], "V": [["3/5", "-4/5"], ["4/5", "3/5"]], "alpha": 2},
                                  {"A": [[1, 1], [0, 1]], "V": [[0, 1], [1, 0]], "alpha": "1/4"}]}
    config = config_from_dict(obj)
    assert [config.layer_index(k) for k in range(6)] == [0, 1, 2, 2, 2, 2]
    exact = simulate(config, 6, backend="exact")
    assert_matches_reference(exact, config, 6)
    assert_same_run(exact, simulate(config, 6, backend="certified"))
    # a config that only has entry 2 and starts from Z^2 runs the same last 4 layers
    Z2 = exact.states[2].fractions()
    tail = Config(tokens=tuple(tuple(r) for r in Z2), heads=config.layers[2])
    t2 = simulate(tail, 4, backend="exact")
    assert [s.fractions() for s in t2.states] == [s.fractions() for s in exact.states[2:]]
    assert t2.follow_by_head == exact.follow_by_head[2:]


# --------------------------------------------------------------------------------------------
# Exact and certified against the reference (Hypothesis)
# --------------------------------------------------------------------------------------------

MATRICES = ("spd", "symmetric", "indefinite", "nonsymmetric")


def _models(values, matrices=MATRICES, max_n=6, max_d=3, family=None):
    return st.sampled_from(matrices).flatmap(
        lambda m: configs(matrix=m, heads=(1, 2), values=values, layers=(1, 3), max_n=max_n, max_d=max_d,
                          family=family))


@pytest.mark.parametrize("values", VALUE_CLASSES)
@settings(max_examples=80, deadline=None, suppress_health_check=SLOW_OK)
@given(data=st.data())
def test_exact_and_certified_match_reference(values, data):
    config = data.draw(_models(values), label="config")
    steps = data.draw(st.integers(3, 5), label="steps")
    exact = simulate(config, steps, backend="exact")
    assert_matches_reference(exact, config, steps)
    assert_same_run(exact, simulate(config, steps, backend="certified"))


@pytest.mark.parametrize("matrix", ("symmetric", "nonsymmetric"))
@settings(max_examples=80, deadline=None, suppress_health_check=SLOW_OK)
@given(data=st.data())
def test_tie_families_with_values_and_schedules(matrix, data):
    """Duplicate, rotation and reflection families carry exact ties (the ``symmetric`` class includes A = 0)."""
    family = data.draw(st.sampled_from(("duplicates", "rotation", "reflection", "zero", "collinear")))
    values = data.draw(st.sampled_from(VALUE_CLASSES))
    config = data.draw(configs(matrix=matrix, heads=(1, 2), values=values, layers=(1, 3), max_n=6, max_d=3,
                               family=family), label="config")
    exact = simulate(config, 4, backend="exact")
    assert_matches_reference(exact, config, 4)
    assert_same_run(exact, simulate(config, 4, backend="certified"))


@settings(max_examples=50, deadline=None, suppress_health_check=SLOW_OK)
@given(data=st.data())
def test_alpha_decreasing_schedule_matches_reference(data):
    values = data.draw(st.sampled_from(VALUE_CLASSES))
    config = data.draw(configs(matrix="spd", heads=(1, 2), values=values, layers=(2, 3), max_n=5,
                               alpha_schedule="decreasing"), label="config")
    for h in range(len(config.heads)):
        alphas = [heads[h].alpha for heads in config.schedule]
        assert alphas == sorted(alphas, reverse=True)
    exact = simulate(config, 4, backend="exact")
    assert_matches_reference(exact, config, 4)


def _all_ties(n, d):
    """``n`` distinct-ish rational tokens in ``R^d`` and the zero matrix (every score 0: all ties)."""
    tokens = [[F((3 * i + 2 * k) % 7 - 3, 1 + (i + k) % 4) for k in range(d)] for i in range(n)]
    zero = [[0] * d for _ in range(d)]
    return tokens, zero


@pytest.mark.parametrize("n", (20, 33))
def test_dense_update_with_value_matrix_all_ties(n):
    """A = 0: every token follows everyone (follow sets of size n), the exact engine's dense W N path."""
    d = 3
    tokens, zero = _all_ties(n, d)
    V = [["1/2", -1, 0], [0, "2/3", 1], [1, 0, "-1/3"]]
    obj = {"tokens": [[str(x) for x in row] for row in tokens], "A": zero, "V": V, "alpha": "3/2"}
    config = config_from_dict(obj)
    exact = simulate(config, 4, backend="exact")
    assert exact.follow[0] == tuple(tuple(range(n)) for _ in range(n))
    assert_matches_reference(exact, config, 4)
    assert_same_run(exact, simulate(config, 4, backend="certified"))


def test_dense_update_mixed_heads_and_schedule():
    """Two heads (one V = I sharing W, one with V) and a schedule; one head all ties, the other not."""
    n, d = 24, 2
    tokens, zero = _all_ties(n, d)
    toks = [[str(x) for x in row] for row in tokens]
    obj = {"tokens": toks, "layers": [
        {"heads": [{"A": zero, "alpha": "1/2"}, {"A": zero, "V": [[0, 1], ["-1/2", 0]], "alpha": 1}]},
        {"heads": [{"A": [[1, 0], [0, 1]], "V": [[2, 0], [0, "1/3"]], "alpha": "1/4"},
                   {"A": zero, "alpha": 2}]},
        {"heads": [{"A": zero, "V": [[1, 1], [0, 1]], "alpha": "1/3"},
                   {"A": [[0, 1], [1, 0]], "V": [["3/5", "-4/5"], ["4/5", "3/5"]], "alpha": "2/3"}]},
    ]}
    config = config_from_dict(obj)
    exact = simulate(config, 5, backend="exact")
    assert_matches_reference(exact, config, 5)
    assert_same_run(exact, simulate(config, 5, backend="certified"))


def test_dense_update_rank_one_value_and_two_all_tie_heads():
    """Both heads A = 0 (2·n² follow entries), one with a rank-one V: dense path, against the reference."""
    n, d = 21, 2
    tokens, zero = _all_ties(n, d)
    obj = {"tokens": [[str(x) for x in row] for row in tokens], "heads": [
        {"A": zero, "V": [["1/2", "-1"], ["-1/4", "1/2"]], "alpha": "5/3"},
        {"A": zero, "V": [[0, 0], [0, 3]], "alpha": "1/7"}]}
    config = config_from_dict(obj)
    exact = simulate(config, 3, backend="exact")
    assert_matches_reference(exact, config, 3)
    assert_same_run(exact, simulate(config, 3, backend="certified"))


def test_nonpositive_alpha_with_values_and_schedule():
    """alpha < 0 (allowed on request): the weights are no longer convex; still the same formula exactly."""
    obj = {"tokens": [[1, "1/3"], ["-1/2", "1/5"], [-1, -1], [0, "1/4"]], "layers": [
        {"heads": [{"alpha": "-1/2", "V": [[0, 1], [1, 0]]}, {"alpha": "-3/2", "A": [[0, 1], [-1, 0]]}]},
        {"heads": [{"alpha": "-1/3", "A": [[0, 0], [0, 0]], "V": [[1, 2], [0, 1]]}, {"alpha": "1/4"}]}]}
    config = config_from_dict(obj, allow_nonpositive_alpha=True)
    exact = simulate(config, 4, backend="exact")
    assert_matches_reference(exact, config, 4)
    assert_same_run(exact, simulate(config, 4, backend="certified"))


def test_stop_when_fixed_respects_values_and_schedule():
    """All tokens lead at Z^0 (A = I), but layer 1 changes A: the run must not stop at step 0.

    With V != I a leader moves, so a run never stops early; with V = I and no schedule it stops at once.
    """
    from dynamics.backends.exact import ExactEngine

    t = ExactEngine(config_from_dict(SCHEDULE)).run(3, stop_when_fixed=True)
    assert len(t.states) == 4 and t.follow[1] == ((1,), (0,))
    moving = config_from_dict({"tokens": [[2, 0], [0, 1]], "alpha": 1, "V": [[2, 0], [0, 1]]})
    t = ExactEngine(moving).run(3, stop_when_fixed=True)
    assert len(t.states) == 4 and t.leaders[0] == (0, 1)
    assert t.states[3].fractions() == [[F(2) * F(3, 2) ** 3, F(0)], [F(0), F(1)]]
    fixed = config_from_dict({"tokens": [[2, 0], [0, 1]], "alpha": 1})
    assert len(ExactEngine(fixed).run(3, stop_when_fixed=True).states) == 1


def test_simulate_batch_with_values_and_schedules():
    from dynamics import simulate_batch

    configs_ = [config_from_dict(SCHEDULE), config_from_dict(HAND)]
    for backend in ("certified", "float"):
        batch = simulate_batch(configs_, 3, backend=backend)
        for config, t in zip(configs_, batch):
            single = simulate(config, 3, backend=backend)
            assert t.follow == single.follow and t.leaders == single.leaders


# --------------------------------------------------------------------------------------------
# Interval backend
# --------------------------------------------------------------------------------------------

def _inside(exact_state, interval_state):
    for erow, irow in zip(exact_state, interval_state):
        for x, iv_x in zip(erow, irow):
            lo, hi = endpoints(iv_x)
            if not lo <= x <= hi:
                return False
    return True


@settings(max_examples=120, deadline=None, suppress_health_check=SLOW_OK)
@given(data=st.data())
def test_interval_encloses_exact_with_values_and_schedules(data):
    values = data.draw(st.sampled_from(VALUE_CLASSES))
    matrix = data.draw(st.sampled_from(("spd", "nonsymmetric", "symmetric")))
    family = data.draw(st.sampled_from((None, "generic", "near_tie")))  # None: any family (ties: incomplete)
    config = data.draw(configs(matrix=matrix, heads=(1, 2), values=values, layers=(1, 3), max_n=6, max_d=3,
                               family=family), label="config")
    steps = 3
    exact = simulate(config, steps, backend="exact")
    iv_run = simulate(config, steps, backend="interval", prec=53, max_prec=212)
    exact_states = [s.fractions() for s in exact.states]
    if iv_run.info["complete"]:
        assert iv_run.info["undecided"] is None
        assert len(iv_run.states) == steps + 1
        assert iv_run.follow == exact.follow
        assert iv_run.follow_by_head == exact.follow_by_head
        assert iv_run.leaders == exact.leaders
    else:
        k = iv_run.info["undecided"]["step"]
        assert len(iv_run.follow) == k and len(iv_run.states) == k + 1
        assert iv_run.follow == exact.follow[:k]
        if exact.follow_by_head is not None:  # (None when no step was decided)
            assert (iv_run.follow_by_head or []) == exact.follow_by_head[:k]
        assert iv_run.leaders == exact.leaders[:k]
    for k, state in enumerate(iv_run.states):
        assert _inside(exact_states[k], state), f"exact Z^{k} outside the interval state"


# --------------------------------------------------------------------------------------------
# Float backends (float64)
# --------------------------------------------------------------------------------------------

FLOAT_BACKENDS = (("float", {"dtype": "float64"}), ("torch", {"dtype": "float64", "device": "cpu"}))


def _decided_rows(config):
    """Rows of Z^0 (per head of layer 0) whose exact argmax is unique with a relative margin > 1e-9."""
    Z = [tuple(F(x) for x in row) for row in config.tokens]
    out = []
    for A, _, _ in ref_schedule(config)[0]:
        rows = {}
        for i, row in enumerate(ref_scores(A, Z)):
            ordered = sorted(row, reverse=True)
            if len(ordered) == 1:
                rows[i] = (0,)
                continue
            best, second = ordered[0], ordered[1]
            scale = max(F(1), abs(best), abs(second))
            if best > second and (best - second) / scale > F(1, 10**9):
                rows[i] = (row.index(best),)
        out.append(rows)
    return out


@pytest.mark.parametrize("backend,options", FLOAT_BACKENDS, ids=[b for b, _ in FLOAT_BACKENDS])
@settings(max_examples=80, deadline=None, suppress_health_check=SLOW_OK)
@given(data=st.data())
def test_float64_backends_agree_with_exact(backend, options, data):
    values = data.draw(st.sampled_from(("rank_one", "diagonal", "rotation")))
    matrix = data.draw(st.sampled_from(("spd", "nonsymmetric")))
    config = data.draw(configs(matrix=matrix, heads=(1, 2), family="generic", values=values, layers=(1, 3),
                               max_n=6, max_d=3), label="config")
    steps = 3
    exact = simulate(config, steps, backend="exact")
    fl = simulate(config, steps, backend=backend, **options)
    assert len(fl.states) == steps + 1
    # step 0: every clearly decided row is decided the same way
    for h, rows in enumerate(_decided_rows(config)):
        for i, c in rows.items():
            assert per_head(exact, 0)[h][i] == c
            assert per_head(fl, 0)[h][i] == c, f"head {h} row {i}"
    # all decisions agree -> the final state is close
    if all(per_head(fl, k) == per_head(exact, k) for k in range(steps)):
        scale = 1 + max(abs(x) for s in exact.states for row in s.fractions() for x in row)
        err = np.max(np.abs(np.asarray(fl.states[-1], dtype=np.float64) - state_to_float(exact.states[-1])))
        assert err <= 1e-9 * float(scale)


HAND = {"tokens": [[1, "1/3"], ["-1/2", "1/5"], ["-1", "-1"], [0, "1/4"], ["3/5", "-7/10"]],
        "layers": [{"heads": [{"A": [[1, 0], [0, 2]], "V": [[0, 1], [1, 0]], "alpha": "1/2"},
                              {"A": [[0, 1], [-1, 0]], "alpha": 1}]},
                   {"heads": [{"A": [[2, 1], [1, 1]], "V": [["1/2", 0], [0, 2]], "alpha": "1/3"},
                              {"A": [[1, 0], [0, -1]], "V": [["3/5", "-4/5"], ["4/5", "3/5"]], "alpha": "1/4"}]}]}


def test_hand_config_identical_follow_sets_on_all_backends():
    config = config_from_dict(HAND)
    steps = 4
    exact = simulate(config, steps, backend="exact")
    assert_matches_reference(exact, config, steps)
    runs = {"certified": simulate(config, steps, backend="certified"),
            "interval": simulate(config, steps, backend="interval"),
            "float": simulate(config, steps, backend="float", dtype="float64"),
            "torch": simulate(config, steps, backend="torch", dtype="float64")}
    assert runs["interval"].info["complete"]
    for name, t in runs.items():
        assert t.follow == exact.follow, name
        assert t.follow_by_head == exact.follow_by_head, name
        assert t.leaders == exact.leaders, name
    for name in ("float", "torch"):
        np.testing.assert_allclose(runs[name].states[-1], state_to_float(exact.states[-1]), rtol=0, atol=1e-12)
    assert _inside(exact.states[-1].fractions(), runs["interval"].states[-1])


# --------------------------------------------------------------------------------------------
# dynamics.backends.torch_.layer / run_layers with (A, alpha, V) heads
# --------------------------------------------------------------------------------------------

TORCH_TOKENS = [[1, "1/3"], ["-1/2", "1/5"], ["-1", "-1"], [0, "1/4"], ["3/5", "-7/10"], ["1/7", "2/3"]]


def _t(M):
    return torch.tensor([[float(F(x)) for x in row] for row in M], dtype=torch.float64)


def test_torch_layer_accepts_value_heads_and_matches_numpy():
    from dynamics.backends.torch_ import layer, run_layers

    A1, V1, A2 = [[1, 0], [0, 2]], [["1/2", 1], [0, "-3/2"]], [[0, 1], [-1, 0]]
    config = config_from_dict({"tokens": TORCH_TOKENS, "heads": [
        {"A": A1, "V": V1, "alpha": "1/2"}, {"A": A2, "alpha": 1}]})
    ref = simulate(config, 4, backend="float", dtype="float64")
    Z = _t(TORCH_TOKENS)[None]
    heads3 = [(_t(A1), 0.5, _t(V1)), (_t(A2), 1.0)]  # a 3-tuple with V, and a 2-tuple (V = I)
    Z1, winners = layer(Z, heads3, return_winners=True)
    np.testing.assert_allclose(Z1[0].numpy(), ref.states[1], rtol=0, atol=1e-14)
    for h, W in enumerate(winners):
        assert tuple(tuple(np.flatnonzero(r).tolist()) for r in W[0].numpy()) == ref.follow_by_head[0][h]
    # an explicit V = None third entry is the identity too
    Z1b = layer(Z, [(_t(A1), 0.5, _t(V1)), (_t(A2), 1.0, None)])
    np.testing.assert_allclose(Z1b.numpy(), Z1.numpy(), rtol=0, atol=0)
    states = run_layers(Z, heads3, 4, return_states=True)
    for k in range(5):
        np.testing.assert_allclose(states[k][0].numpy(), ref.states[k], rtol=0, atol=1e-13)
    # a batch of two (the second a copy of the first), with and without chunking
    batch = torch.cat([Z, Z])
    out = run_layers(batch, heads3, 4, chunk=1)
    np.testing.assert_allclose(out[1].numpy(), ref.states[4], rtol=0, atol=1e-13)
    np.testing.assert_allclose(run_layers(batch, heads3, 4, chunk=0).numpy(), out.numpy(), rtol=0, atol=0)


def test_torch_layer_two_tuple_heads_still_work():
    from dynamics.backends.torch_ import layer, run_layers

    A = [[2, 1], [1, 1]]
    config = config_from_dict({"tokens": TORCH_TOKENS, "A": A, "alpha": "1/3"})
    ref = simulate(config, 3, backend="float", dtype="float64")
    Z = _t(TORCH_TOKENS)[None]
    Z1, (W,) = layer(Z, [(_t(A), 1 / 3)], return_winners=True)
    np.testing.assert_allclose(Z1[0].numpy(), ref.states[1], rtol=0, atol=1e-14)
    assert tuple(tuple(np.flatnonzero(r).tolist()) for r in W[0].numpy()) == ref.follow[0]
    out = run_layers(Z, [(_t(A), 1 / 3)], 3, return_states=True)
    for k in range(4):
        np.testing.assert_allclose(out[k][0].numpy(), ref.states[k], rtol=0, atol=1e-13)
    # A = None (identity) with a V tensor
    V = [[0, 1], [1, 0]]
    config_v = config_from_dict({"tokens": TORCH_TOKENS, "V": V, "alpha": 2})
    ref_v = simulate(config_v, 2, backend="float", dtype="float64")
    out_v = run_layers(Z, [(None, 2.0, _t(V))], 2)
    np.testing.assert_allclose(out_v[0].numpy(), ref_v.states[2], rtol=0, atol=1e-13)


def test_torch_schedule_from_config_has_value_tensors():
    from dynamics.backends.torch_ import schedule_from_config

    config = config_from_dict(HAND)
    sched = schedule_from_config(config, torch.float64, "cpu")
    assert len(sched) == 2 and all(len(heads) == 2 for heads in sched)
    assert sched[0][1][2] is None  # V = I
    np.testing.assert_array_equal(sched[0][0][2].numpy(), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(sched[1][1][2].numpy(), [[0.6, -0.8], [0.8, 0.6]])
    assert sched[0][0][1] == 0.5 and sched[1][0][1] == pytest.approx(1 / 3)


@pytest.mark.gpu
def test_torch_cuda_float64_matches_exact_follow_sets():
    """The hand config on CUDA (float64): the same decisions as the exact engine, states within 1e-12."""
    config = config_from_dict(HAND)
    exact = simulate(config, 4, backend="exact")
    t = simulate(config, 4, backend="torch", dtype="float64", device="cuda")
    assert t.follow == exact.follow and t.follow_by_head == exact.follow_by_head and t.leaders == exact.leaders
    np.testing.assert_allclose(t.states[-1], state_to_float(exact.states[-1]), rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Fixed states: the engine and verify.run.Run reuse a repeated step (exact equality, same entry)
# --------------------------------------------------------------------------------------------

FIXED_THEN_SWAP = {"tokens": [[2, 0], [0, 1]], "layers": [{"A": [[1, 0], [0, 1]], "alpha": 1},
                                                          {"A": [[1, 0], [0, 1]], "alpha": 2},
                                                          {"A": SWAP, "alpha": 1}]}


def assert_run_matches_reference(config, steps):
    """``verify.run.Run`` (its own follow sets, leaders and ``repeats``) against the reference."""
    from verify.run import Run

    states, by_head, _, leaders = ref_run(config, steps)
    run = Run(config, simulate(config, steps, backend="exact"))
    assert [run.follow_at(k) for k in range(steps + 1)] == list(by_head)
    assert list(run.leaders) == leaders
    assert run.repeats == [k > 0 and states[k] == states[k - 1] and config.layer_index(k) == config.layer_index(k - 1)
                           for k in range(steps + 1)]
    return run


def test_fixed_state_is_reused_only_under_the_same_schedule_entry():
    """Z^0 = Z^1 = Z^2 under two entries with A = I (different alpha), then the swap moves both tokens:
    the fixed state must not carry its follow sets into entry 2, nor entry 0's into entry 1."""
    config = config_from_dict(FIXED_THEN_SWAP)
    run = assert_run_matches_reference(config, 6)
    assert run.states[0] == run.states[1] == run.states[2] != run.states[3]
    assert run.follow[1] == (((0,), (1,)),) and run.follow[2] == (((1,), (0,)),)
    assert run.repeats[:3] == [False, False, False]  # k = 1: same state, but entry 1 is not entry 0
    t = simulate(config, 6, backend="exact")
    assert_matches_reference(t, config, 6)


def test_a_fixed_state_repeats_to_the_end():
    """One token (always fixed) and two tokens that both lead: every later step repeats (reused), and
    the run still equals the reference step by step."""
    for obj in ({"tokens": [["1/3", -2]], "A": [[2, 1], [1, 1]], "alpha": "3/2"},
                {"tokens": [[1, 0], [0, 1]], "A": [[1, 0], [0, 1]], "alpha": 1}):
        config = config_from_dict(obj)
        run = assert_run_matches_reference(config, 8)
        assert run.repeats == [False] + [True] * 8
        assert_matches_reference(simulate(config, 8, backend="exact"), config, 8)


@settings(max_examples=80, deadline=None, suppress_health_check=SLOW_OK)
@given(data=st.data())
def test_run_follow_sets_match_reference(data):
    """Run recomputes follow sets (reusing them only for a repeated state under the same entry)."""
    config = data.draw(configs(matrix=data.draw(st.sampled_from(MATRICES)), heads=(1, 2), max_n=5, max_d=2,
                               layers=(1, 3), family=data.draw(st.sampled_from(["duplicates", "zero", "generic"]))))
    assert_run_matches_reference(config, 5)
