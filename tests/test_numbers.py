"""Exact parsing of numbers and the restricted expression grammar (SPEC §3, §5)."""

from __future__ import annotations

import sys
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st
from mpmath import iv, mp

from dynamics.errors import LimitError
from dynamics.numbers import (
    MAX_BITS,
    MAX_DECIMAL_EXPONENT,
    MAX_DIGITS,
    EnclosureError,
    Expr,
    NumberError,
    NumberLimitError,
    format_fraction,
    interval_precision,
    json_int,
    parse_exact,
    parse_number,
)


@pytest.mark.parametrize(
    "text, value",
    [
        ("3", Fraction(3)),
        ("-3", Fraction(-3)),
        ("+7", Fraction(7)),
        ("1/3", Fraction(1, 3)),
        ("-1/12", Fraction(-1, 12)),
        (" 4 / 6 ", Fraction(2, 3)),
        ("0.1", Fraction(1, 10)),
        ("0.125", Fraction(1, 8)),
        ("-.5", Fraction(-1, 2)),
        ("1e-3", Fraction(1, 1000)),
        ("2.5E2", Fraction(250)),
        ("(1/3)^2", Fraction(1, 9)),
        ("2^-2", Fraction(1, 4)),
        ("1/3 + 1/6", Fraction(1, 2)),
        ("-(2*3)/4", Fraction(-3, 2)),
        ("2**3", Fraction(8)),
    ],
)
def test_exact_strings(text, value):
    assert parse_number(text) == value
    assert isinstance(parse_number(text), Fraction)


def test_decimal_string_is_exact_but_float_is_the_double():
    assert parse_number("0.1") == Fraction(1, 10)
    assert parse_number(0.1) == Fraction(3602879701896397, 36028797018963968)
    assert parse_number(0.1) != Fraction(1, 10)


def test_json_integers_are_exact_even_when_huge():
    big = 10**40 + 1
    assert parse_number(big) == big


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_double_converts_exactly(x):
    value = parse_number(x)
    assert value == Fraction(x)
    assert float(value) == x


@given(st.fractions())
def test_format_then_parse_round_trips(x):
    assert parse_number(format_fraction(x)) == x


@pytest.mark.parametrize(
    "value, fragment",
    [
        (True, "boolean"),
        (None, "null"),
        ([1], "list"),
        ({"a": 1}, "object"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        ("nan", "finite"),
        ("-inf", "finite"),
        ("1/0", "zero denominator"),
        ("1/", "unexpected end"),
        ("", "empty"),
        ("abc", "unknown name"),
        ("__import__('os')", "cannot parse"),
        ("__import__", "unknown name"),
        ("open(1)", "unknown name"),
        ("1 $ 2", "unexpected character"),
        ("2^100000", "exponent"),
        ("(" * 200 + "1" + ")" * 200, "nested deeper"),
        ("1+" * 600 + "1", "longer than"),
        ("(1/3)/(1-1)", "divides by zero"),
    ],
)
def test_bad_numbers_are_rejected_with_one_line(value, fragment):
    with pytest.raises(NumberError) as info:
        parse_number(value)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_irrational_expression_is_an_expr_with_a_rigorous_interval():
    x = parse_number("sqrt(2)/2")
    assert isinstance(x, Expr)
    old = iv.prec
    try:
        iv.prec = 100
        enclosure = x.interval()
        c = parse_number("cos(pi/7)").interval()
        with mp.workprec(300):  # reference values far more precise than the enclosures
            assert enclosure.a <= mp.sqrt(2) / 2 <= enclosure.b
            assert c.a <= mp.cos(mp.pi / 7) <= c.b
        assert float(enclosure.delta.b) < 1e-25
    finally:
        iv.prec = old


def test_parse_exact_rejects_irrational():
    with pytest.raises(NumberError, match="not a rational"):
        parse_exact("sqrt(2)")
    with pytest.raises(NumberError):
        parse_exact("sqrt")


# ----------------------------------------------------------------------------- limits (issue #10)


# The int-to-str digit limit the interpreter started with (4300 unless set by -X or the environment).
_STARTUP_INT_DIGITS = 4300 if sys.flags.int_max_str_digits == -1 else sys.flags.int_max_str_digits


def test_limits_are_the_documented_constants():
    assert (MAX_BITS, MAX_DIGITS, MAX_DECIMAL_EXPONENT) == (100_000, 30_103, 10_000)
    assert len(format_fraction(Fraction(2**MAX_BITS))) == MAX_DIGITS
    assert issubclass(NumberLimitError, LimitError) and issubclass(NumberLimitError, NumberError)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("1e999999999", "MAX_DECIMAL_EXPONENT"),  # Fraction("1e999999999") builds 10**999999999
        ("-2.5E-999999999", "MAX_DECIMAL_EXPONENT"),
        ("1e-10001", "MAX_DECIMAL_EXPONENT"),
        ("1e" + "9" * 5000, "MAX_DECIMAL_EXPONENT"),
        ("2*1e999999999", "MAX_DECIMAL_EXPONENT"),  # a NUMBER token inside an expression
        ("sqrt(1e999999999)", "MAX_DECIMAL_EXPONENT"),
        ("1" * (MAX_DIGITS + 1), "MAX_DIGITS"),
        ("1/" + "3" * (MAX_DIGITS + 1), "MAX_DIGITS"),
        ("0." + "3" * (MAX_DIGITS + 1), "MAX_DIGITS"),
        ("9" * MAX_DIGITS, "MAX_BITS"),  # 10^30103 - 1 has 100,001 bits
        ("1" * 10**6, "MAX_DIGITS"),
        ("((2^4096)^4096)^4096", "MAX_BITS"),
        ("(1/3+1e-9000)^30", "MAX_BITS"),
        ("2^4096^4096", "MAX_EXPONENT"),
        ("2^4096^4096^4096", "MAX_EXPONENT"),
        ("2^(1e4500)", "MAX_EXPONENT"),  # the message does not print a 4501-digit exponent
        ("exp(exp(exp(exp(10))))", "MAX_BITS"),
        ("exp(69316)", "MAX_BITS"),
        ("2^(2^4096*pi)", "MAX_BITS"),
        ("1+" * 600 + "1", "MAX_EXPRESSION_LENGTH"),
        ("sqrt(" * 70 + "2" + ")" * 70, "MAX_DEPTH"),
    ],
)
def test_numbers_beyond_the_limits_are_refused_at_once(text, fragment):
    with pytest.raises(NumberLimitError) as info:
        parse_number(text)
    assert type(info.value) is NumberLimitError
    message = str(info.value)
    assert fragment in message and "\n" not in message and len(message) < 400


def test_integers_and_json_literals_beyond_the_limits():
    with pytest.raises(NumberLimitError, match="MAX_BITS"):
        parse_number(2**MAX_BITS)
    with pytest.raises(NumberLimitError, match="MAX_DIGITS"):
        json_int("7" * (MAX_DIGITS + 1))


def test_valid_edge_values_stay_exact():
    assert parse_number("1e-300") == Fraction(1, 10**300)
    assert parse_number("-1.5e-300") == Fraction(-3, 2 * 10**300)
    assert parse_number("1e10000") == 10**10000
    assert parse_number("2^-4096") == Fraction(1, 2**4096)
    assert parse_number("1" * 4000) == (10**4000 - 1) // 9  # past Python's 4300-digit int() limit too:
    assert parse_number("7" * 30000) == 7 * (10**30000 - 1) // 9
    assert parse_number("1/" + "3" * 5000) == Fraction(3, 10**5000 - 1)
    assert json_int("-" + "7" * 5000) == -7 * (10**5000 - 1) // 9
    assert parse_number(2**MAX_BITS - 1) == 2**MAX_BITS - 1
    assert parse_number("1+" * 499 + "1") == 500  # a 500-level tree evaluates without RecursionError
    assert sys.get_int_max_str_digits() == _STARTUP_INT_DIGITS  # the interpreter setting is untouched


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("(-8)^(1/3)", "non-integer power of a negative number"),
        ("(-pi)^(1/2)", "non-integer power of a negative number"),
        ("log(-1)", "logarithm"),
        ("log(0)", "logarithm"),
        ("log(pi-4)", "logarithm"),
        ("sqrt(-2)", "square root of a negative number"),
        ("sqrt(pi-4)", "square root of a negative number"),
        ("1 + sqrt(cos(pi))", "square root of a negative number"),
    ],
)
def test_expressions_that_are_not_real_are_refused(text, fragment):
    with pytest.raises(NumberError) as info:
        parse_number(text)
    assert type(info.value) is NumberError
    assert "not a real number" in str(info.value) and fragment in str(info.value)


@pytest.mark.parametrize("text", ["tan(pi/2)", "1/(pi-pi)", "log(pi-pi)", "(pi-pi)^(-1/2)", "(pi-pi)^(pi-pi)"])
def test_no_finite_enclosure_is_an_error_never_nan(text):
    expr = parse_number(text)  # may be finite at a higher precision: not refused when parsing
    assert isinstance(expr, Expr)
    with interval_precision(64), pytest.raises(EnclosureError, match="no finite enclosure at 64 bits"):
        expr.interval()


@pytest.mark.parametrize("text", ["sqrt(pi-pi)", "(pi-pi)^(1/2)", "(pi-pi)^pi", "sqrt(sin(pi))"])
def test_zero_on_a_domain_boundary_is_accepted(text):
    with interval_precision(100):
        enclosure = parse_number(text).interval()
    assert enclosure.a == 0 and 0 <= enclosure.b < 1e-5  # the true value 0 (or 0.0...) is enclosed


def test_large_but_allowed_magnitudes_and_tiny_values():
    with interval_precision(64):
        assert 2**99990 < parse_number("exp(69314)").interval().a
        tiny = parse_number("exp(-exp(exp(10)))").interval()  # about 2^(-2^31777): allowed, widened
        assert tiny.a == 0 and 0 < tiny.b <= mp.mpf(2) ** -200_000
        assert parse_number("(pi-pi)^4096").interval().b <= mp.mpf(2) ** -200_000


def test_format_fraction_prints_any_size_without_changing_the_interpreter():
    x = Fraction(10**5000 + 1, 3)
    assert format_fraction(x) == "1" + "0" * 4999 + "1/3"
    assert format_fraction(Fraction(-(10**9000))) == "-1" + "0" * 9000
    y = Fraction(7**20000, 3**30000)  # 16,900 and 14,314 digits
    assert parse_number(format_fraction(y)) == y
    assert sys.get_int_max_str_digits() == _STARTUP_INT_DIGITS


def test_long_exact_runs_can_be_written():
    # Token 3 follows token 0 for 80 steps with alpha = 1/(10^60 - 1): its denominator is
    # about (10^60)^80, 4800 digits, past Python's 4300-digit int-to-str limit.
    from dynamics import config_from_dict, simulate
    from dynamics.cli import dump_json

    config = config_from_dict({"tokens": [["1", "1/3"], ["-1/12", "1/12"], ["-1", "-1"], ["1/2", "-1/7"]],
                               "alpha": "1/" + "9" * 60})
    document = dump_json(simulate(config, 80).to_json())
    assert max(len(part) for part in document.replace('"', "/").split("/")) > 4300
