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
