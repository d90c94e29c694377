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
from dynamics.floats import approx_float, approx_str, float_rows, nearest_float

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


def _nearest32_by_search(x: Fraction) -> float:
    """Independent reference: the float32 closest to ``x`` among the neighbours of a rough guess, ties to
    the even significand (exact comparisons, no rounding mode involved)."""
    guess = np.float32(float(x)) if abs(x) < MAX32 else np.float32(math.copysign(float(MAX32), x))
    candidates = [guess]
    for direction in (np.inf, -np.inf):
        c = guess
        for _ in range(2):
            with np.errstate(over="ignore"):
                c = np.nextafter(c, np.float32(direction))
            candidates.append(c)
    candidates = [c for c in candidates if np.isfinite(c)]
    best = min(abs(Fraction(float(c)) - x) for c in candidates)
    closest = [c for c in candidates if abs(Fraction(float(c)) - x) == best]
    return float(min(closest, key=lambda c: int(np.array(c, np.float32).view(np.uint32)) & 1))


@st.composite
def near_float32_midpoints(draw):
    """Values on, just above or just below a float32 midpoint (where rounding twice, through float64, errs),
    anywhere from the subnormals to the largest float32, plus arbitrary fractions."""
    if draw(st.booleans()):
        return draw(st.fractions(min_value=-MAX32, max_value=MAX32))
    a = np.float32(draw(st.floats(min_value=-float(MAX32), max_value=float(MAX32), width=32)))
    with np.errstate(over="ignore"):
        b = np.nextafter(a, np.float32(np.inf))
    if not np.isfinite(b):
        a, b = np.nextafter(a, np.float32(-np.inf)), a
    mid = (Fraction(float(a)) + Fraction(float(b))) / 2
    nudge = Fraction(draw(st.sampled_from([-1, 0, 1]))) * abs(Fraction(float(b)) - Fraction(float(a))) / 2 ** draw(st.integers(30, 80))
    return mid + nudge


@settings(max_examples=400, deadline=None)
@given(near_float32_midpoints())
def test_nearest_float_rounds_once_to_float32(x):
    """Rounding through float64 lands on a float32 midpoint and then breaks the tie wrongly; nearest_float
    does not (1 + 2^-24 + 2^-60 is 1 + 2^-23)."""
    assert nearest_float(x, "float32") == _nearest32_by_search(x)
    assert float_rows([[x]], "float32", "c.json", "tokens")[0, 0] == np.float32(_nearest32_by_search(x))


def test_the_double_rounding_case_itself():
    x = 1 + Fraction(1, 2 ** 24) + Fraction(1, 2 ** 60)
    assert nearest_float(x, "float32") == 1 + 2.0 ** -23
    assert nearest_float(1 + Fraction(1, 2 ** 24), "float32") == 1.0  # an exact tie goes to even
    threshold = MAX32 + MAX32 / (2 ** 24 - 1) / 2  # float64 rounds values just below it onto it
    for x in (threshold - Fraction(1, 2 ** 40), -threshold + 1):
        assert nearest_float(x, "float32") == math.copysign(float(MAX32), x)


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
