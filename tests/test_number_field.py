"""Exact real algebraic numbers (:mod:`dynamics.number_field`): exact equality, exact signs, printing."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dynamics.number_field import NotAlgebraicError, field_of
from fuzzing import GRAMMAR  # the expression grammar's own fuzzing strategy (tests/fuzzing.py)
from dynamics.numbers import EnclosureError, parse_number

#: Fields of the issue's configurations: quadratic, the pentagon's, a cubic, and a biquadratic one.
FIELDS = {"sqrt2": ["sqrt(2)"], "pentagon": ["cos(2*pi/5)", "sin(2*pi/5)"], "cube_root": ["2^(1/3)"],
          "sqrt2_sqrt3": ["sqrt(2)", "sqrt(3)"]}
_CACHE: dict = {}


def field(name):
    if name not in _CACHE:
        _CACHE[name] = field_of([parse_number(s) for s in FIELDS[name]])
    return _CACHE[name]




def value_at(element, digits: int = 120) -> mpmath.mpf:
    """``element`` evaluated from its coefficients and a 1600-bit enclosure of θ (mpmath, independent code)."""
    from dynamics.numbers import interval_precision

    if element.field.degree <= 1:
        value = element.to_fraction()
        return mpmath.mpf(value.numerator) / value.denominator
    gen = parse_number(element.field.generator)
    with interval_precision(1600):
        box = gen.interval()
    with mpmath.workprec(1600):  # the near-tie test's gaps reach 10^-120: 480 digits leave a wide margin
        theta = (mpmath.mpf(box.a) + mpmath.mpf(box.b)) / 2
        return sum(mpmath.mpf(c.numerator) / c.denominator * theta ** i for i, c in enumerate(element.coefficients()))


def test_equal_values_written_differently_are_the_same_element():
    _, (a, b, c) = field_of([parse_number("sqrt(2)/2"), parse_number("cos(pi/4)"), parse_number("sin(pi/4)")])
    assert a == b == c and hash(a) == hash(b) and (a - b).sign() == 0
    _, (r,) = field_of([parse_number("sqrt(2)")])
    inverse = 1 / (1 + r)  # extended Euclid with x² − 2: 1/(1 + √2) = √2 − 1
    assert inverse.coefficients() == [-1, 1]
    square = r * r  # reduced modulo x² − 2 to the rational 2
    assert square.is_rational() and square.to_fraction() == 2
    _, (cos, sin) = field("pentagon")
    assert cos * cos + sin * sin == 1  # exact, although neither is rational
    assert 4 * cos * cos + 2 * cos - 1 == 0  # cos(2π/5) is a root of 4x² + 2x − 1
    _, (cube,) = field("cube_root")
    assert cube * cube * cube == 2 and cube.sign() == 1 and (cube - Fraction(126, 100)).sign() == -1


def test_a_rational_config_is_the_field_of_rationals():
    f, (a, b) = field_of([Fraction(1, 3), parse_number("2/6")])
    assert f.degree == 1 and a == b == Fraction(1, 3) and (a - Fraction(1, 3)).sign() == 0
    assert (a * 3).to_fraction() == 1 and str(a) == "1/3"


@pytest.mark.parametrize("text", ["pi", "e", "exp(1)", "cos(1)", "log(2)", "pi - 3"])
def test_a_transcendental_entry_is_refused_in_one_line_pointing_to_the_interval_backend(text):
    with pytest.raises(NotAlgebraicError) as info:
        field_of([parse_number(text)], ["tokens[0][1]"])
    message = str(info.value)
    assert message.startswith("tokens[0][1]: ") and "--backend interval" in message and "\n" not in message


def test_an_algebraic_entry_written_with_a_transcendental_names_the_part_at_fault():
    with pytest.raises(NotAlgebraicError, match="'e\\^0' uses e, which is not an algebraic number"):
        field_of([parse_number("e^0")])  # e^0 = 1, but the field is built from e, which it cannot hold


@st.composite
def elements(draw):
    name = draw(st.sampled_from(sorted(FIELDS)))
    f, _ = field(name)
    coeffs = [Fraction(draw(st.integers(-50, 50)), draw(st.integers(1, 20))) for _ in range(f.degree)]
    return f.element(coeffs)


@settings(max_examples=150, deadline=None)
@given(elements())
def test_the_sign_is_the_sign_of_the_value(element):
    value = value_at(element)
    if all(c == 0 for c in element.coefficients()):
        assert element.sign() == 0
    else:
        assert abs(value) > mpmath.mpf(2) ** -300  # a nonzero element is not 0 (θ's powers are independent)
        assert element.sign() == (1 if value > 0 else -1)


@settings(max_examples=60, deadline=None)
@given(elements(), st.integers(5, 60))
def test_near_ties_with_close_rationals_are_decided_exactly(element, digits):
    """``x − p/q`` for the best rational approximations of ``x``: values as small as 10^-120."""
    if element.is_rational():
        return
    tie, gap, value = _near_tie(element, digits)
    expected = 1 if value > 0 else -1
    assert gap.sign() == expected
    assert (element < tie) == (expected < 0)


@settings(max_examples=60, deadline=None)
@given(elements(), st.integers(5, 60))
def test_float_of_a_tiny_element_with_large_coefficients_is_within_2_to_the_minus_52(element, digits):
    """``float(x − p/q)``: cancellation of ~``2·digits`` decimal digits, which a fixed 80-bit evaluation
    never resolves however narrow θ's interval (it looped forever before the precision was raised too)."""
    if element.is_rational():
        return
    _, gap, value = _near_tie(element, digits)
    with mpmath.workprec(1600):
        assert abs(mpmath.mpf(float(gap)) - value) <= abs(value) * mpmath.mpf(2) ** -52


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 400))
def test_float_of_a_power_of_the_unit_sqrt2_minus_1(k):
    """``(√2 − 1)^k = a + b√2`` with ``|a|, |b|`` near ``(1+√2)^k / 2`` and a value near ``(1+√2)^-k``."""
    _, (root2,) = field("sqrt2")
    power = unit = root2 - 1
    for _ in range(k - 1):
        power = power * unit
    with mpmath.workprec(3000):
        expected = (mpmath.sqrt(2) - 1) ** k
        assert abs(mpmath.mpf(float(power)) - expected) <= expected * mpmath.mpf(2) ** -52


def _near_tie(element, digits: int):
    """``(p/q, element − p/q, its value)``: ``p/q`` a convergent of the element's value with a
    ``digits``-digit denominator, the value of the difference from 1600-bit mpmath."""
    with mpmath.workprec(1600):
        x = value_at(element)
        p, q = _convergent(x, digits)
        return Fraction(p, q), element - Fraction(p, q), x - mpmath.mpf(p) / q


def _convergent(x, digits: int) -> tuple[int, int]:
    """A continued-fraction convergent of ``x`` with a denominator of about ``digits`` digits."""
    h0, h1, k0, k1 = 0, 1, 1, 0
    y = x
    while k1 < 10 ** digits:
        a = int(mpmath.floor(y))
        h0, h1, k0, k1 = h1, a * h1 + h0, k1, a * k1 + k0
        frac = y - a
        if frac == 0:
            break
        y = 1 / frac
    return h1, k1


@settings(max_examples=60, deadline=None)
@given(elements(), elements())
def test_field_arithmetic_matches_the_values(a, b):
    if a.field is not b.field:
        return
    with mpmath.workprec(400):
        va, vb = value_at(a), value_at(b)
        for got, want in ((a + b, va + vb), (a - b, va - vb), (a * b, va * vb)):
            assert abs(value_at(got) - want) <= mpmath.mpf(2) ** -300 * (1 + abs(want))
        if b.sign():
            assert abs(value_at(a / b) - va / vb) <= mpmath.mpf(2) ** -300 * (1 + abs(va / vb))
    assert (a < b) == (va < vb) and (a == b) == (a.coefficients() == b.coefficients())


@settings(max_examples=40, deadline=None)
@given(elements())
def test_an_element_prints_in_the_input_grammar_and_reads_back_as_itself(element):
    text = str(element)
    back = parse_number(text)
    _, (again,) = field_of([back])
    with mpmath.workprec(300):
        assert abs(value_at(again) - value_at(element)) <= mpmath.mpf(2) ** -250 * (1 + abs(value_at(element)))


@pytest.mark.parametrize("entries, printed", [
    (["sqrt(2)", "sqrt(3)", "1 + sqrt(6)/3"], ["sqrt(2)", "sqrt(3)", "1 + 1/3*sqrt(2)*sqrt(3)"]),
    (["2^(1/3)", "sqrt(3)", "2^(2/3) - sqrt(3)*2^(1/3)"], ["2^(1/3)", "sqrt(3)", "(2^(1/3))^2 - 2^(1/3)*sqrt(3)"]),
    (["cos(pi/7)/3", "sqrt(2)/2"], ["1/3*cos(pi/7)", "1/2*sqrt(2)"]),
    (["cos(pi/12)", "cos(pi/4)"], ["1/4*sqrt(2) + 1/4*sqrt(6)", "1/2*sqrt(2)"]),  # θ = sin(pi/12): radicals inside
])
def test_a_field_of_several_entries_prints_in_their_products_not_in_powers_of_theta(entries, printed):
    """θ = sqrt(2) + sqrt(3) is SymPy's primitive element; the user's entries print as they wrote them."""
    from dynamics.number_field import minimal_polynomial_text

    field, elements = field_of([parse_number(t) for t in entries])
    assert [str(e) for e in elements] == printed
    for element in elements:  # and each reads back as itself
        _, (again,) = field_of([parse_number(str(element))])
        assert abs(value_at(again) - value_at(element)) < mpmath.mpf(2) ** -300
    minpoly = minimal_polynomial_text(field)  # x^4 - 10*x^2 + 1, highest power first, no "+ (-10)*x^2"
    assert "(-" not in minpoly and "+ -" not in minpoly and f"x^{field.degree}" in minpoly.split(" ")[0]


@pytest.mark.parametrize("text, fragment", [("cos(pi/120)", "degree up to 32"), ("2^(1/40)", "index 40"),
                                            ("sin(pi/97)", "above the limit")])
def test_entries_of_too_high_degree_are_refused_at_once(text, fragment):

    from dynamics.errors import LimitError

    with pytest.raises(LimitError, match=fragment) as info:
        field_of([parse_number(text)], ["A[1][1]"])
    assert str(info.value).startswith("A[1][1]: ") and "--backend interval" in str(info.value)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.fractions(min_value=Fraction(1, 12), max_value=40, max_denominator=12), min_size=1, max_size=4))
@example([Fraction(6), Fraction(10), Fraction(15)])  # 15 = 6 * 10 / 2^2: rank 2, not 3
@example([Fraction(2), Fraction(8), Fraction(1, 2)])  # one square class
def test_square_root_rank_is_the_degree_of_the_field_of_square_roots(radicands):
    import sympy

    from dynamics.number_field import _square_root_rank

    roots = [sympy.sqrt(sympy.Rational(q.numerator, q.denominator)) for q in radicands]
    irrational = [r for r in roots if not r.is_rational]
    rank, _ = _square_root_rank(irrational)
    degree = 1
    if irrational:  # the field's degree, independently: SymPy's primitive element of the square roots
        minpoly, _, _ = sympy.primitive_element(irrational, sympy.Symbol("x"), ex=True)
        degree = sympy.degree(minpoly)
    assert 2 ** rank == degree


MERSENNE = [2 ** 61 - 1, 2 ** 89 - 1, 2 ** 107 - 1, 2 ** 127 - 1, 3, 5]  # primes, four far beyond trial division


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 3), min_size=6, max_size=6),
                          st.lists(st.integers(0, 2), min_size=6, max_size=6)), min_size=1, max_size=6))
def test_square_classes_of_radicands_of_any_size_have_the_rank_of_their_parity_vectors(exponents):
    """q = ∏ p_i^(a_i) / ∏ p_i^(b_i) over known primes: the rank is that of the vectors (a_i + b_i) mod 2,
    computed here by plain elimination; the code under test never sees the factorisation."""
    import sympy

    from dynamics.number_field import _square_classes

    radicands, vectors = [], []
    for top, bottom in exponents:
        num = den = 1
        for p, a, b in zip(MERSENNE, top, bottom):
            num, den = num * p ** a, den * p ** b
        radicands.append(sympy.Rational(num, den))
        vectors.append([(a + b) % 2 for a, b in zip(top, bottom)])
    rank = _f2_rank(vectors)
    assert len(_square_classes(radicands)) == rank


def _f2_rank(vectors) -> int:
    rows = [int("".join(map(str, v)), 2) for v in vectors]
    rank = 0
    for bit in reversed(range(len(vectors[0]))):
        pivot = next((r for r in rows if r >> bit & 1), None)
        if pivot is None:
            continue
        rows = [r ^ pivot if r >> bit & 1 else r for r in rows if r != pivot]
        rank += 1
    return rank


def test_dependent_square_roots_are_not_counted_twice_in_the_upper_bound():
    # 13 square roots, all in Q(sqrt(2), sqrt(3), sqrt(5), sqrt(7)) of degree 16: the upper bound once
    # counted 2 per root (2^13 = 8192 > 64^2) and refused it
    texts = ["sqrt(2)", "sqrt(3)", "sqrt(5)", "sqrt(7)", "sqrt(6)", "sqrt(10)", "sqrt(14)", "sqrt(15)", "sqrt(21)",
             "sqrt(35)", "sqrt(30)", "sqrt(42)", "sqrt(70)"]
    f, _ = field_of([parse_number(t) for t in texts])
    assert f.degree == 16


def test_many_independent_square_roots_are_refused_before_the_primitive_element():
    from dynamics.errors import LimitError

    # before the square-root bound this took minutes in SymPy's primitive element of 10 roots
    texts = [f"sqrt({p})" for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29)]
    with pytest.raises(LimitError, match=r"degree 2\^10 = 1024, above the limit 64"):
        field_of([parse_number(t) for t in texts])
    # radicands beyond any factoring shortcut: products of large primes, seven independent classes
    big = [2 ** 61 - 1, 2 ** 89 - 1, 2 ** 107 - 1, 2 ** 127 - 1]
    texts = [f"sqrt({big[i] * big[j]})" for i in range(4) for j in range(i + 1, 4)] + ["sqrt(3)", "sqrt(5)", "sqrt(7)", "sqrt(11)"]
    with pytest.raises(LimitError, match=r"degree 2\^7 = 128"):  # the six products span a rank of 3 only
        field_of([parse_number(t) for t in texts])


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(FIELDS)), st.lists(st.integers(1, 1200), min_size=1, max_size=4))
def test_refining_keeps_theta_inside_and_narrows_as_asked(name, halvings):
    """Newton's proposals (``halvings ≥ 16``) and bisection alike: each refinement narrows the isolating
    interval at least ``2^halvings`` times, inside the old one, with a sign change of the minimal polynomial
    across it, and θ (an independent 1600-bit enclosure of the generator's expression) stays inside."""
    from dynamics.numbers import interval_precision

    f, _ = field(name)
    with interval_precision(1600):
        box = parse_number(f.generator).interval()
    for h in halvings:
        lo, hi = f.enclosure()
        f._refine(h)
        new_lo, new_hi = f.enclosure()
        assert lo <= new_lo < new_hi <= hi and (new_hi - new_lo) * 2 ** h <= hi - lo
        m = f.minpoly
        assert (m(f._lo) > 0) != (m(f._hi) > 0) and m(f._lo) != 0 and m(f._hi) != 0
        if new_hi - new_lo > Fraction(1, 2 ** 1500):  # 1600 bits tell θ apart from the ends down to here
            with mpmath.workprec(1600):
                assert mpmath.mpf(new_lo.numerator) / new_lo.denominator <= mpmath.mpf(box.b)
                assert mpmath.mpf(box.a) <= mpmath.mpf(new_hi.numerator) / new_hi.denominator


def test_the_deep_sign_benchmark_gets_the_same_signs_by_newton_and_by_bisection():
    from benchmarks.bench_algebraic import measure_deep_signs
    from dynamics import number_field

    result = measure_deep_signs(power=300)  # asserts that both give sign +1
    assert result["halvings"] > 1000 and result["newton_s"] > 0 and result["bisection_s"] > 0
    assert number_field._NEWTON_HALVINGS == 16  # restored


def test_entries_of_any_magnitude_are_exact_field_elements():
    _, (big, small, root) = field_of([parse_number("2^300*sqrt(3)"), parse_number("2^(-1100)*sqrt(3)"),
                                      parse_number("sqrt(3)")])
    assert big == root * 2 ** 300 and small * 2 ** 1100 == root and (big * big).to_fraction() == 3 * 2 ** 600
    assert float(small) == 0.0 and float(big * 2 ** 800) == float("inf")  # floats saturate; the elements are exact


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["sqrt(2)", "cos(2*pi/5)", "2^(1/3)", "(1+sqrt(5))/2", "tan(pi/8)"]),
                min_size=1, max_size=3) | st.lists(GRAMMAR, min_size=1, max_size=2))
@example(["0^0^pi"])  # 0^(0^pi) = 0^0 = 1 as for rationals; the interval refuses to enclose it (found by this test)
def test_any_expression_gives_a_field_or_a_one_line_error(texts):
    from dynamics.errors import UserError

    numbers = []
    for text in texts:
        try:
            numbers.append(parse_number(text))
        except UserError:
            return
    try:
        field, elements = field_of(numbers)
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    for number, element in zip(numbers, elements):  # each element lies in its expression's enclosure
        if isinstance(number, Fraction):
            assert element == number
            continue
        try:
            box = number.interval()
        except EnclosureError:  # the interval cannot tell 0^0 from 0^(tiny): it refuses, which is honest
            continue
        value = float(element)
        if abs(value) < 1e300:
            assert float(box.a) - 1e-9 * (1 + abs(value)) <= value <= float(box.b) + 1e-9 * (1 + abs(value))


def test_a_limit_of_the_whole_field_names_the_config():
    from dynamics import config_from_dict
    from dynamics.backends.algebraic import config_over_field
    from dynamics.errors import LimitError

    roots = [f"sqrt({p})" for p in (2, 3, 5, 7, 11, 13, 17, 19)]
    config = config_from_dict({"tokens": [[r, "0"] for r in roots], "alpha": "1/2"}, "mine.json")
    with pytest.raises(LimitError, match=r"^mine\.json: the entries' square roots sqrt\(2\)"):
        config_over_field(config)


def test_approximate_printing_of_any_magnitude():
    from dynamics.trajectory import approx_state

    _, (tiny, huge, one) = field_of([parse_number("2^-3000*sqrt(2)"), parse_number("-2^4000*sqrt(3)"),
                                     parse_number("sqrt(2)/sqrt(2)")])
    (row,) = approx_state(((tiny, huge, one),))
    assert row == [" 1.14955e-903", "-2.28320e+1204", " 1.000000"]  # not 0.000000 and -inf
    (row,) = approx_state(np.array([[1e308, -4.375e307, 1.0, 1e-7, 0.0]]))
    assert row == [" 1.00000e+308", "-4.37500e+307", " 1.000000", " 1.00000e-07", " 0.000000"]
