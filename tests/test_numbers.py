"""Exact parsing of numbers and the restricted expression grammar (SPEC §3, §5)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, strategies as st
from mpmath import iv, mp

from dynamics.numbers import Expr, NumberError, format_fraction, parse_exact, parse_number


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
        ("1" * 2000, "longer than"),
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
