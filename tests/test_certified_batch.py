"""The stacked certified filter (``dynamics.backends.certified_batch``) equals the exact engine, always."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dynamics import Config, Head, InputError, simulate
from dynamics.backends.certified import CertifiedEngine
from dynamics.backends.certified_batch import CertifiedBatch
from dynamics.backends.exact import ExactEngine
from dynamics.config import DyadicTokens, identity
from verify.strategies import FAMILIES, MATRIX_CLASSES, VALUE_CLASSES, configs, token_sets, wide_range_configs


def same_as_exact(batch: CertifiedBatch, steps: int) -> None:
    """Every configuration of ``batch`` against its own exact run: trajectory, readouts."""
    for b, config in enumerate(batch.configs):
        exact = ExactEngine(config).run(steps)
        ours = batch.trajectory(b)
        assert ours.follow == exact.follow and ours.leaders == exact.leaders, b
        assert ours.follow_by_head == exact.follow_by_head, b
        assert list(ours.states) == list(exact.states), b
        groups: dict = {}
        for i, key in enumerate(exact.states[-1].ints()):
            groups.setdefault(tuple(key), []).append(i)
        assert batch.exact_classes(b) == list(groups.values()), b


@st.composite
def batches(draw, wide: bool = False):
    """A base config (heads, schedule, values) and 1–6 token sets of its dimension, each of any family."""
    matrix = draw(st.sampled_from(MATRIX_CLASSES))
    if wide:
        base = draw(wide_range_configs(matrix=matrix, heads=(1, 2), max_n=8))
    else:
        base = draw(configs(matrix=matrix, heads=(1, 2), max_n=9, values=draw(st.sampled_from(VALUE_CLASSES)),
                            layers=(1, 3)))
    others = draw(st.lists(token_sets(d=base.d, family=draw(st.sampled_from(FAMILIES)), max_n=9), max_size=5))
    return [base] + [dataclasses.replace(base, tokens=tokens) for tokens in others]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(), st.integers(0, 6), st.sampled_from((1, 40, 10 ** 6)))
def test_stacked_runs_equal_exact_runs_on_every_family(configs_, steps, max_entries):
    """Tie-rich families, value matrices, schedules, several heads; stacks of one configuration up to all."""
    same_as_exact(CertifiedBatch(configs_, steps, max_entries=max_entries), steps)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(wide=True), st.integers(0, 5))
def test_stacked_runs_equal_exact_runs_across_the_float_range(configs_, steps):
    same_as_exact(CertifiedBatch(configs_, steps), steps)


def float_reviews(seed: int, count: int, d: int = 6) -> list[np.ndarray]:
    """Float token arrays with repeated rows, of several sizes and magnitudes (subnormal to huge)."""
    rng = np.random.default_rng(seed)
    out = []
    for r in range(count):
        Z = rng.standard_normal((int(rng.integers(1, 30)), d)) * 2.0 ** int(rng.choice([-1070, -500, 0, 300, 1000]))
        Z[::4] = Z[0]  # copies
        if r % 5 == 0:
            Z[1:, 0] = -Z[0, 0]  # many exact ties of another kind
        out.append(Z)
    return out


@pytest.mark.parametrize("seed", range(3))
def test_float_tokens_and_the_readouts_equal_the_single_engine(seed):
    heads = (Head(A=identity(6), alpha=Fraction(3, 10)),)
    configs_ = [Config(tokens=DyadicTokens(Z), heads=heads) for Z in float_reviews(seed, 25)]
    batch = CertifiedBatch(configs_, 5, max_entries=2000)
    same_as_exact(batch, 5)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(6).tolist()
    for bias in (0.0, 0.125, -3.5):
        signs = batch.mean_functional_signs(v, bias)
        for b, config in enumerate(configs_):
            engine = CertifiedEngine(config)
            engine.run(5)
            assert signs[b] == engine.mean_functional_sign(5, v, bias), b
            assert batch.leaders(b) == engine.run(5).leaders[-1]


def test_a_logit_exactly_zero_is_decided_exactly():
    """``bias`` put exactly on the boundary: the enclosure cannot decide, the exact state says 0."""
    heads = (Head(A=identity(2), alpha=Fraction(1)),)
    tokens = [np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.25]]), np.array([[2.0, 0.5], [2.0, 0.5]])]
    configs_ = [Config(tokens=DyadicTokens(t), heads=heads) for t in tokens]
    batch = CertifiedBatch(configs_, 3)
    signs = batch.mean_functional_signs([1.0, 0.0], -2.0)  # configuration 1 stays at (2, 0.5): logit 0
    assert signs[1] == 0 and batch.replayed == [1]
    engine = CertifiedEngine(configs_[0])
    engine.run(3)
    assert signs[0] == engine.mean_functional_sign(3, [1.0, 0.0], -2.0) == -1


def test_undecided_rows_send_only_their_configuration_to_the_single_engine():
    heads = (Head(A=identity(2), alpha=Fraction(1, 2)),)
    tie = ((Fraction(1), Fraction(0)), (Fraction(0), Fraction(1)), (Fraction(0), Fraction(0)))  # token 2 ties
    generic = ((Fraction(3), Fraction(1)), (Fraction(-1), Fraction(2)), (Fraction(1, 3), Fraction(-5)))
    configs_ = [Config(tokens=generic, heads=heads), Config(tokens=tie, heads=heads), Config(tokens=generic, heads=heads)]
    batch = CertifiedBatch(configs_, 4)
    assert batch.replayed == [1]
    assert batch.info(1)["filter"]["decided_exactly"] > 0 and batch.info(0)["filter"]["decided_exactly"] == 0
    same_as_exact(batch, 4)


def test_the_trajectory_is_the_certified_backends():
    heads = (Head(A=identity(3), alpha=Fraction(2)),)
    rng = np.random.default_rng(4)
    configs_ = [Config(tokens=DyadicTokens(rng.standard_normal((9, 3))), heads=heads) for _ in range(4)]
    batch = CertifiedBatch(configs_, 6)
    for b, config in enumerate(configs_):
        single = simulate(config, 6, backend="certified")
        ours = batch.trajectory(b)
        assert ours.backend == "certified" and ours.follow == single.follow and ours.leaders == single.leaders
        assert ours.info["filter"] == single.info["filter"]


def test_bad_batches_are_refused_in_one_line():
    a = Config(tokens=((Fraction(1), Fraction(0)),), heads=(Head(A=identity(2), alpha=Fraction(1)),))
    b = Config(tokens=((Fraction(1),),), heads=(Head(A=identity(1), alpha=Fraction(1)),))
    c = Config(tokens=((Fraction(1), Fraction(0)),), heads=(Head(A=identity(2), alpha=Fraction(2)),))
    for configs_, fragment in (([a, b], "one dimension"), ([a, c], "one schedule"), ([], "at least one")):
        with pytest.raises(InputError, match=fragment):
            CertifiedBatch(configs_, 3)
    with pytest.raises(InputError, match="non-negative integer"):
        CertifiedBatch([a], -1)
    with pytest.raises(InputError, match="finite"):
        CertifiedBatch([a], 1).mean_functional_signs([float("nan"), 0.0], 0.0)


@pytest.mark.parametrize("workers", (1, 2))
def test_simulate_batch_stacks_configurations_that_share_their_heads(workers):
    """``dynamics.simulate_batch`` as a user calls it: mixed schedules and dimensions, in input order."""
    from dynamics import load_config, simulate_batch

    rng = np.random.default_rng(7)
    shared = (Head(A=identity(3), alpha=Fraction(1, 2)),)
    mixed = [Config(tokens=DyadicTokens(rng.standard_normal((int(rng.integers(2, 12)), 3))), heads=shared)
             for _ in range(7)]
    mixed.insert(3, load_config("examples/rotation_tie.json"))
    mixed.append(Config(tokens=((Fraction(1), Fraction(0), Fraction(0)), (Fraction(0), Fraction(1), Fraction(0)),
                                (Fraction(0), Fraction(0), Fraction(0))), heads=shared))  # a tie: replayed
    batch = simulate_batch(mixed, 5, backend="certified", workers=workers)
    assert len(batch) == len(mixed)
    stacked = 0
    for config, trajectory in zip(mixed, batch):
        exact = simulate(config, 5, backend="exact")
        assert trajectory.follow == exact.follow and trajectory.leaders == exact.leaders
        assert list(trajectory.states) == list(exact.states)
        stacked += trajectory.info.get("stacked", False)
    assert stacked >= 4  # the seven that share their heads went through the stacked filter


def test_the_stacked_bounds_are_the_single_engines_per_configuration():
    """``row_score_bounds`` and ``enclosed_update`` on a stack (padding rows zero with ``δ = 0``, following
    themselves) give each configuration exactly what they give it alone, where
    ``tests/test_certified_enclosure.py`` tests the bounds themselves."""
    from dynamics.backends.certified import _float_layer, enclosed_update, rescaled, row_score_bounds

    rng = np.random.default_rng(11)
    d = 4
    heads = (Head(A=tuple(tuple(Fraction(int(x)) for x in row) for row in rng.integers(-3, 4, (d, d))), alpha=Fraction(2, 3),
                  V=tuple(tuple(Fraction(int(x), 2) for x in row) for row in rng.integers(-2, 3, (d, d)))),)
    layer = _float_layer(heads, d)
    sizes = [5, 1, 9, 3]
    N = max(sizes)
    Zs = [rng.standard_normal((n, d)) * 2.0 ** int(rng.integers(-8, 1)) for n in sizes]
    deltas = [np.abs(rng.standard_normal(n)) * 1e-14 for n in sizes]
    reps = [rng.integers(0, n, n) for n in sizes]
    Z, delta, J = np.zeros((len(sizes), N, d)), np.zeros((len(sizes), N)), np.tile(np.arange(N), (len(sizes), 1))
    for b, n in enumerate(sizes):
        Z[b, :n], delta[b, :n], J[b, :n] = Zs[b], deltas[b], reps[b]
    R = row_score_bounds(Z, delta, layer.A[0], layer.absA[0])
    out, bound, z_max = enclosed_update(Z, delta, [J], layer)
    out, bound, t = rescaled(out, bound, z_max * 4.0)  # force a rescale of every configuration
    for b, n in enumerate(sizes):
        assert np.array_equal(R[b, :n], row_score_bounds(Zs[b], deltas[b], layer.A[0], layer.absA[0]))
        one, one_bound, one_max = enclosed_update(Zs[b], deltas[b], [reps[b]], layer)
        one, one_bound, one_t = rescaled(one, one_bound, one_max * 4.0)
        assert np.array_equal(out[b, :n], one) and np.array_equal(bound[b, :n], one_bound) and t[b] == one_t
        assert not out[b, n:].any()  # padding stays zero


@given(st.floats(min_value=5e-324, max_value=1.7e308))
def test_rescaling_uses_the_exact_ceiling_of_log2(z):
    from dynamics.backends.certified import rescaled

    _, _, t = rescaled(np.array([[z]]), np.array([0.0]), np.array(z))
    if z > 1.0 or z < 2.0 ** -400:
        assert Fraction(z) <= Fraction(2) ** int(t) < 2 * Fraction(z)  # 2^{t-1} < z ≤ 2^t
    else:
        assert t == 0


def test_an_exact_tie_that_float_scores_break_is_replayed_not_guessed():
    """``q = (1/1000, 1/1000)`` scores ``3/10000`` against both ``(1/10, 2/10)`` and ``(3/10, 0)``, exactly;
    in float64 the first score is larger (``0.1 + 0.2 ≠ 0.3``). Only the error bound stops the stacked
    filter from deciding ``q``'s row from the floats."""
    heads = (Head(A=identity(2), alpha=Fraction(1)),)
    tie = ((Fraction(1, 1000), Fraction(1, 1000)), (Fraction(1, 10), Fraction(2, 10)), (Fraction(3, 10), Fraction(0)))
    rng = np.random.default_rng(5)
    configs_ = [Config(tokens=DyadicTokens(rng.standard_normal((4, 2))), heads=heads), Config(tokens=tie, heads=heads)]
    S = np.array([[float(x) for x in t] for t in tie]) @ np.array([[float(x) for x in t] for t in tie]).T
    assert S[0, 1] != S[0, 2]  # the floats do break the tie
    batch = CertifiedBatch(configs_, 3)
    assert batch.replayed == [1] and batch.trajectory(1).follow[0][0] == (1, 2)
    same_as_exact(batch, 3)
