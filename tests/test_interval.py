"""The interval engine: agrees with the exact engine when it decides; never guesses."""

from __future__ import annotations

from fractions import Fraction as F

from hypothesis import given, settings

from dynamics import config_from_dict, load_config, simulate
from dynamics.backends.interval import endpoints
from verify.strategies import configs


def test_irrational_rotation_is_decided():
    t = simulate(load_config("examples/irrational.json"), 10, backend="interval")
    assert t.info["complete"] and t.info["undecided"] is None
    assert t.leaders[0] == (0, 1, 2)
    # (cos(pi/7)/3, sin(pi/7)/5) scores highest against (1, 0): 0.30 vs 0.25 for (s2/2, s2/2)
    assert t.follow[0][3] == (0,)
    # intervals stay narrow at 64 bits
    assert max(t.info["max_radius"]) < 1e-15


def test_exact_tie_between_different_tokens_is_reported_not_guessed():
    t = simulate(load_config("examples/rotation_tie.json"), 5, backend="interval", prec=32, max_prec=128)
    u = t.info["undecided"]
    assert not t.info["complete"]
    assert u == {"step": 0, "rows": [0], "head": 0, "prec": 128}
    assert t.steps == 0 and t.follow == []


def test_ties_between_copies_are_decided():
    t = simulate(config_from_dict({"tokens": [["sqrt(2)", "0"], ["sqrt(2)", "0"], ["0", "1"]], "alpha": 1}),
                 3, backend="interval")
    assert t.info["complete"]
    assert t.follow[0][0] == (0, 1) and t.follow[0][1] == (0, 1)
    assert t.leaders[0] == (0, 1, 2)


def test_precision_rises_until_decided():
    # Two tokens whose scores differ by 2^-70: undecidable at 32 bits, decided at 128.
    eps = F(1, 2**70)
    obj = {"tokens": [["1", "0"], [f"{1 + eps}", "0"], ["1/2", "0"]], "alpha": 1}
    t = simulate(config_from_dict(obj), 1, backend="interval", prec=32, max_prec=256)
    assert t.info["complete"] and t.info["prec"] > 64
    assert t.follow[0][2] == (1,)


@settings(max_examples=40, deadline=None)
@given(configs(matrix="spd", heads=(1, 2), family="generic", max_n=6, max_d=3))
def test_agrees_with_exact_engine_whenever_decided(config):
    steps = 4
    exact = simulate(config, steps, backend="exact")
    t = simulate(config, steps, backend="interval", prec=64, max_prec=64)
    decided = len(t.follow)
    assert t.follow == exact.follow[:decided]
    assert t.leaders == exact.leaders[:decided]
    for k in range(len(t.states)):
        for row_i, row_e in zip(t.states[k], exact.states[k].fractions()):
            for x, y in zip(row_i, row_e):
                lo, hi = endpoints(x)
                assert lo <= y <= hi  # the interval encloses the exact value
