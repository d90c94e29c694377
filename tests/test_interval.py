"""The interval engine: agrees with the exact engine when it decides; never guesses."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import given, settings
from mpmath import iv

from dynamics import config_from_dict, load_config, simulate
from dynamics.backends.interval import MAX_PREC, MIN_PREC, endpoints
from dynamics.errors import InputError, LimitError
from dynamics.numbers import EnclosureError, interval_precision, parse_number
from verify.strategies import configs

ROOT = Path(__file__).resolve().parents[1]


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


# ----------------------------------------------------------------------------- limits (issue #10)

TINY = {"tokens": [["1", "0"], ["0", "1"]], "alpha": 1}


def test_precision_limits_are_checked_before_the_work():
    assert (MIN_PREC, MAX_PREC) == (8, 100_000)
    config = config_from_dict(TINY)
    for options in ({"prec": 100_000_000}, {"prec": 64, "max_prec": MAX_PREC + 1}):
        with pytest.raises(LimitError, match="MAX_PREC"):
            simulate(config, 1, backend="interval", **options)
    with pytest.raises(InputError, match="at least 8 bits"):
        simulate(config, 1, backend="interval", prec=4)
    # A start near the limit: the default max_prec (8 × prec) is capped, not refused.
    assert simulate(config, 1, backend="interval", prec=MAX_PREC // 2).info["prec"] == MAX_PREC // 2


def test_entry_without_a_finite_enclosure_is_an_error_naming_the_field():
    config = config_from_dict({"tokens": [["1", "tan(pi/2)"], ["0", "1"]], "alpha": 1})
    with pytest.raises(EnclosureError) as info:
        simulate(config, 1, backend="interval", prec=32, max_prec=64)
    assert str(info.value).startswith("<dict>: field 'tokens[0][1]': expression 'tan(pi/2)'")
    assert "no finite enclosure at 64 bits" in str(info.value)


def test_normalisation_that_may_vanish_is_an_error():
    config = config_from_dict({"tokens": [["1"], ["2"]], "alpha": "0*pi - 1"}, allow_nonpositive_alpha=True)
    with pytest.raises(EnclosureError, match="1 \\+ sum of alpha may be 0 at 64 bits"):
        simulate(config, 1, backend="interval", prec=32, max_prec=64)


def test_sqrt_of_an_exact_zero_is_accepted():
    # pi - pi straddles 0 at every precision; sqrt(pi - pi) is exactly 0 and must be accepted.
    config = config_from_dict({"tokens": [["1 + sqrt(pi-pi)", "0"], ["sqrt(pi-pi)", "2"]], "alpha": 1})
    t = simulate(config, 2, backend="interval")
    assert t.info["complete"] and t.leaders[0] == (0, 1)
    lo, hi = endpoints(t.states[0][0][0])
    assert lo == 1 and hi - 1 < F(1, 2**30)
    lo, hi = endpoints(t.states[2][1][0])
    assert lo == 0 and hi < F(1, 2**30)


def test_values_too_close_to_zero_are_widened_and_endpoints_stay_bounded():
    with interval_precision(64):
        tiny = parse_number("exp(-exp(exp(10)))").interval()  # about 2^(-2^31777)
        assert endpoints(tiny) == (0, F(1, 2**200_000))
        assert endpoints(parse_number("-(pi-pi+1e-1000)^4096").interval())[0] == -F(1, 2**200_000)
        raw = iv.exp(-iv.exp(iv.exp(iv.mpf(10))))  # straight from mpmath, not widened
    with pytest.raises(LimitError, match="binary exponent"):
        endpoints(raw)


@pytest.mark.parametrize(
    "entry, options, fragment",
    [
        ("tan(pi/2)", [], "no finite enclosure at 512 bits"),
        ("exp(exp(exp(exp(10))))", [], "MAX_BITS"),
        ("((2^4096)^4096)^4096", [], "MAX_BITS"),
        ("2^4096^4096", [], "MAX_EXPONENT"),
        ("1e999999999", [], "MAX_DECIMAL_EXPONENT"),
        ("(-8)^(1/3)", [], "not a real number"),
        ("sqrt(2)", ["--prec", "100000000"], "MAX_PREC"),
    ],
)
def test_cli_refuses_hang_prone_input_in_one_line(tmp_path, entry, options, fragment):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"tokens": [["1", entry], ["0", "1"]], "alpha": 1}))
    command = [sys.executable, "-m", "dynamics", "simulate", str(path), "--steps", "2",
               "--backend", "interval"]
    # A subprocess with a timeout: a regression fails here instead of hanging the suite.
    result = subprocess.run(command + options, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and fragment in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
