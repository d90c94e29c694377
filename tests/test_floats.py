"""Exact numbers become floats only where a float is asked for (dynamics.floats)."""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dynamics import ConfigError, config_from_dict, simulate
from dynamics.floats import approx_float, approx_str, float_rows

MAX64 = Fraction(np.finfo(np.float64).max.item())
MAX32 = Fraction(np.finfo(np.float32).max.item())


@given(st.fractions().filter(bool), st.integers(-1200, 1200), st.integers(1, 12))
@settings(max_examples=300, deadline=None)
def test_approx_str_is_correctly_rounded(x, shift, digits):
    value = x * Fraction(10) ** shift
    text = approx_str(value, digits)
    mantissa, exponent = text.split("e")
    assert len(mantissa.lstrip("-").replace(".", "")) == digits
    printed = Fraction(mantissa) * Fraction(10) ** int(exponent)
    # within half a unit of the last printed digit
    assert abs(printed - value) <= Fraction(10) ** (int(exponent) - digits + 1) / 2


def test_approx_float_saturates_and_keeps_the_sign():
    assert approx_float(Fraction(10) ** 400) == math.inf
    assert approx_float(-Fraction(10) ** 400) == -math.inf
    assert approx_float(Fraction(1, 10 ** 400)) == 0.0
    assert approx_float(Fraction(1, 3)) == 1 / 3


def test_float_rows_refuses_exactly_the_values_that_round_to_infinity():
    ulp = MAX64 / (2 ** 53 - 1)
    assert float_rows([[MAX64 + ulp / 2 - 1]], "float64", "c.json", "tokens")[0, 0] == float(MAX64)
    with pytest.raises(ConfigError, match=r"c.json: field 'tokens\[0\]\[1\]': .* outside the float64 range"):
        float_rows([[Fraction(0), MAX64 + ulp / 2]], "float64", "c.json", "tokens")
    with pytest.raises(ConfigError, match="float32 range"):
        float_rows([[MAX32 * 2]], "float32", "c.json", "A")
    assert float_rows([[Fraction(1, 10 ** 400)]], "float32", "c.json", "A")[0, 0] == 0.0


@pytest.mark.parametrize("backend, dtype", [("float", "float64"), ("float", "float32"), ("torch", "float32"),
                                            ("torch", "float64")])
def test_float_backends_name_the_field_outside_their_range(backend, dtype):
    config = config_from_dict({"tokens": [["1", "2"], ["3", "4"]], "A": [["1", "0"], ["0", "1e400"]], "alpha": 1},
                              "c.json")
    with pytest.raises(ConfigError, match=rf"c.json: field 'A\[1\]\[1\]': 1.00e\+400 is outside the {dtype} range"):
        simulate(config, 2, backend=backend, dtype=dtype)


HUGE = {"tokens": [["1e400", "0"], [f"{10 ** 310}", "1e-400"], ["3", "1/3"]],
        "A": [["1", "0"], ["0", "1e-330"]], "alpha": "1/2"}


@pytest.mark.parametrize("command", [
    ["dynamics", "simulate", "{}", "--steps", "4"],
    ["dynamics", "simulate", "{}", "--steps", "4", "--backend", "certified"],
    ["dynamics", "simulate", "{}", "--steps", "4", "--json"],
    ["verify", "check", "{}", "--steps", "4"],
    ["verify", "check", "{}", "--steps", "4", "--json"],
    ["verify", "limit", "{}", "--json"],
    ["verify", "limit", "{}"],
])
def test_exact_commands_accept_numbers_beyond_the_float_range(command, write_json):
    path = write_json(HUGE)
    out = subprocess.run([sys.executable, "-m", *[c.format(path) for c in command]], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    if "--json" in command and command[0] == "dynamics":
        assert '"1' + "0" * 400 in out.stdout  # the exact token, not a float


@pytest.mark.parametrize("command", [
    ["dynamics", "simulate", "{}", "--backend", "float"],
    ["dynamics", "simulate", "{}", "--backend", "torch"],
    ["verify", "check", "{}", "--backend", "float"],
    ["verify", "crosscheck", "{}", "--steps", "3"],
])
def test_float_commands_refuse_numbers_beyond_the_float_range_in_one_line(command, write_json):
    path = write_json(HUGE)
    out = subprocess.run([sys.executable, "-m", *[c.format(path) for c in command]], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "outside the float" in out.stderr and "tokens[0][0]" in out.stderr


@pytest.mark.parametrize("device", ["foo", "tpu", "cuda:99", "cpu:x", ""])
def test_unknown_torch_devices_are_one_line_errors(device):
    from dynamics import InputError, load_config

    with pytest.raises(InputError, match="--device"):
        simulate(load_config("examples/emerging_leader.json"), 1, backend="torch", device=device)
