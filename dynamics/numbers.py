"""Exact parsing of numbers, and a restricted expression language for intervals.

Every number a user writes is read *exactly* (SPEC §3):

* ``int`` (JSON integer) -> that integer;
* ``float`` (JSON non-integer number) -> the exact dyadic rational value of the
  IEEE double, ``Fraction(x)`` (so ``0.1`` is ``3602879701896397/36028797018963968``);
* ``"p/q"``, ``"-3"``, ``"0.125"``, ``"1e-3"`` strings -> the exact rational they
  denote (``"0.1"`` is ``1/10``);
* any other string is parsed as an :class:`Expr` of the restricted grammar below,
  which may denote an irrational number (``"sqrt(2)/2"``, ``"cos(pi/7)"``).

The expression grammar (no ``eval``; config strings are untrusted input)::

    expr   := term (('+' | '-') term)*
    term   := unary (('*' | '/') unary)*
    unary  := ('+' | '-') unary | power
    power  := atom (('^' | '**') unary)?
    atom   := NUMBER | 'pi' | 'e' | FUNC '(' expr ')' | '(' expr ')'
    FUNC   := 'sqrt' | 'cos' | 'sin' | 'tan' | 'exp' | 'log'

An expression built only from numbers, ``+ - * /`` and integer powers is
rational, and :meth:`Expr.exact` returns its exact value; the exact engine
accepts such entries. Everything else is evaluated by :meth:`Expr.interval`
as a rigorous ``mpmath.iv`` interval at a chosen precision. ``x^y`` with a
non-integer (or irrational) ``y`` is ``exp(y·log x)``: real only for ``x >= 0``
(``"(-8)^(1/3)"`` is rejected as not a real number, like ``"log(-1)"`` and
``"sqrt(-2)"``).

Arguments on a domain boundary. An interval for ``pi-pi`` straddles 0 at every
precision, although the value is exactly 0. ``sqrt`` (and a non-integer power
with a positive exponent) of an interval ``[lo, hi]`` with ``lo < 0 <= hi`` is
evaluated on ``[0, hi]``: a config value is a real number, so the argument lies
in the function's domain ``x >= 0``, and ``[0, hi]`` encloses every argument
that makes the expression real (``"sqrt(pi-pi)"`` is accepted and is
``[0, tiny]``). Only an argument that is *certainly* negative (``hi < 0``) is an
error; one that is negative but closer to 0 than the enclosure is wide goes
undetected at that precision (and is caught at any precision where ``hi < 0``).
``log`` has no such finite closure: an argument that may be 0 or negative
(but not certainly so) has no finite enclosure at that precision.

Every interval an expression produces is checked at every node: an unbounded or
NaN enclosure (``"tan(pi/2)"``, ``"1/(pi-pi)"``) raises :class:`EnclosureError`
(a higher precision may or may not help; the interval engine retries up to its
``max_prec``), never a silent NaN. :func:`parse_number` evaluates an
irrational expression once at 64 bits, so that one certainly not real, or
beyond the limits below, is refused when the config is read.

Limits
------
Config strings are untrusted, so every form of number is bounded *before* the
work (each violation raises :class:`NumberLimitError`, a
:class:`~dynamics.errors.LimitError`, with a one-line message naming the limit):

``MAX_BITS`` (100,000)
    The size of every exact value: a written number, a JSON integer, and every
    intermediate of an exact expression (numerator and denominator below
    ``2^MAX_BITS``; checked from a bound *before* each operation, so
    ``"((2^4096)^4096)^4096"`` and ``"2^4096^4096"`` are refused at once). Also
    the magnitude of every interval: ``|x| < 2^MAX_BITS`` at each node
    (``"exp(exp(exp(exp(10))))"`` is refused; ``exp`` checks its argument first).
    At the other end nothing is refused: an endpoint closer to 0 than
    ``2^-(2·MAX_BITS)`` is widened outward to 0 (or ``±2^-(2·MAX_BITS)``), a
    rigorous enclosure without astronomically negative exponents
    (``"exp(-exp(exp(10)))"`` is ``[0, 2^-200000]``).
``MAX_DIGITS`` (30,103, the digits of ``2^MAX_BITS``)
    Digits of one integer as written: an integer string, each side of ``"p/q"``,
    the digits of a decimal, a JSON integer (JSON integers are read exactly at
    any size up to this, past Python's 4300-digit ``int`` limit). A JSON
    non-integer literal is the IEEE double ``float()`` reads (linear time at
    any length; ``1e999999999`` is infinite and refused as not finite).
``MAX_DECIMAL_EXPONENT`` (10,000)
    ``|e|`` in ``"1.5e-300"``, in a string, or as a NUMBER in an expression.
``MAX_EXPRESSION_LENGTH`` (1,000 characters), ``MAX_DEPTH`` (64 levels), ``MAX_EXPONENT`` (4,096)
    An expression's length, nesting depth, and the exact integer exponent of
    one power.

:func:`format_fraction` prints exact values of any size (past Python's
4300-digit ``int``-to-``str`` limit, without changing the interpreter setting).
"""

from __future__ import annotations

import math
import operator
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterator, Union

from .errors import InputError, LimitError

__all__ = [
    "Expr",
    "Number",
    "NumberError",
    "NumberLimitError",
    "EnclosureError",
    "parse_number",
    "parse_exact",
    "format_fraction",
    "format_exact",
    "format_int",
    "json_int",
    "interval_precision",
    "MAX_BITS",
    "MAX_DIGITS",
    "MAX_DECIMAL_EXPONENT",
    "MAX_EXPRESSION_LENGTH",
    "MAX_DEPTH",
    "MAX_EXPONENT",
]

MAX_BITS = 100_000
MAX_DIGITS = math.ceil(MAX_BITS * math.log10(2))  # 30,103: the digits of 2^MAX_BITS
MAX_DECIMAL_EXPONENT = 10_000
MAX_EXPRESSION_LENGTH = 1000
MAX_DEPTH = 64
MAX_EXPONENT = 4096

# A plain-number string: two integers of MAX_DIGITS digits, a sign, a point, an
# exponent and some spaces. Longer strings are refused before any matching.
_MAX_NUMBER_LENGTH = 2 * MAX_DIGITS + 64
# exp(x) > 2^MAX_BITS for every x above this, so exp refuses such arguments unevaluated.
_MAX_EXP_ARGUMENT = math.ceil(MAX_BITS * math.log(2))
# Interval endpoints closer to 0 than 2^-_TINY_BITS are widened outward to 0 or ±2^-_TINY_BITS.
_TINY_BITS = 2 * MAX_BITS
# Validation of an irrational expression at parse time runs at this precision.
_CHECK_PREC = 64

# Unambiguous patterns (no nested quantifiers over the same digits): linear time. ASCII digits
# only: Python's \d also matches other scripts' digits, which FLINT and the grammar do not read.
_INT_RE = re.compile(r"([+-]?)([0-9]+)")
_RATIO_RE = re.compile(r"([+-]?)([0-9]+)\s*/\s*([0-9]+)")
_DECIMAL_RE = re.compile(r"([+-]?)(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_TOKEN_RE = re.compile(r"\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|\*\*|[A-Za-z_]+|[-+*/^()])")

_ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}
_FUNCTIONS = ("sqrt", "cos", "sin", "tan", "exp", "log")
_CONSTANTS = ("pi", "e")
_NONFINITE = ("nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")


class NumberError(InputError):
    """A value that is not a number of the accepted forms (message is one line)."""


class NumberLimitError(NumberError, LimitError):
    """A number beyond one of the module's documented limits (size, digits, exponent, depth)."""


class EnclosureError(NumberError):
    """No finite interval encloses the value at the current precision.

    A pole (``"tan(pi/2)"``), a division by an interval containing 0, or a
    ``log`` argument that may be ``<= 0``. A higher precision may help when the
    true value is finite; the interval engine retries up to its ``max_prec``.
    """


# --------------------------------------------------------------------------- helpers


def _show(text: str, width: int = 40) -> str:
    """``repr`` of ``text`` shortened to about ``width`` characters, for messages."""
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def _size(x: Fraction) -> int:
    """Bits of the larger of numerator and denominator."""
    return max(x.numerator.bit_length(), x.denominator.bit_length())


def _brief(x: Fraction) -> str:
    """A short text for ``x`` in messages: the value, or its size when it is long."""
    return format_fraction(x) if _size(x) <= 128 else f"a {_size(x)}-bit number"


def _check_bits(bits: int, what: str) -> None:
    if bits > MAX_BITS:
        raise NumberLimitError(
            f"{what} would have {bits} bits, over the limit of {MAX_BITS} bits (dynamics.numbers.MAX_BITS)"
        )


def _int_of_digits(sign: str, digits: str) -> int:
    """The integer ``sign digits``; refuses more than ``MAX_DIGITS`` digits.

    Long strings go through FLINT (``int(str)`` is quadratic and refuses more
    than 4300 digits by default).
    """
    if len(digits) > MAX_DIGITS:
        raise NumberLimitError(
            f"an integer of {len(digits)} digits is over the limit of {MAX_DIGITS} digits "
            "(dynamics.numbers.MAX_DIGITS)"
        )
    if _python_converts(len(digits)):
        value = int(digits)
    else:
        from flint import fmpz

        value = int(fmpz(digits))
    return -value if sign == "-" else value


def _decimal_exponent(text: str | None) -> int:
    """The exponent of ``"…e<text>"``, refused beyond ``MAX_DECIMAL_EXPONENT``."""
    if not text:
        return 0
    sign, digits = (text[0], text[1:]) if text[0] in "+-" else ("+", text)
    digits = digits.lstrip("0") or "0"
    if len(digits) > 6 or int(digits) > MAX_DECIMAL_EXPONENT:
        shown = text if len(text) <= 12 else f"with {len(digits)} digits"
        raise NumberLimitError(
            f"decimal exponent {shown} is over the limit of {MAX_DECIMAL_EXPONENT} in absolute value "
            "(dynamics.numbers.MAX_DECIMAL_EXPONENT)"
        )
    return -int(digits) if sign == "-" else int(digits)


def _plain(text: str) -> Fraction | None:
    """The exact value of an integer, ``"p/q"`` or decimal string; ``None`` for other text."""
    match = _INT_RE.fullmatch(text)
    if match:
        return _bounded(Fraction(_int_of_digits(*match.groups())), f"the number {_show(text)}")
    match = _RATIO_RE.fullmatch(text)
    if match:
        sign, p, q = match.groups()
        den = _int_of_digits("+", q)
        if den == 0:
            raise NumberError(f"{_show(text)} has a zero denominator")
        return _bounded(Fraction(_int_of_digits(sign, p), den), f"the number {_show(text)}")
    match = _DECIMAL_RE.fullmatch(text)
    if match:
        sign, whole, frac, frac_only, exponent = match.groups()
        frac = frac_only if frac_only is not None else (frac or "")
        mantissa = _int_of_digits(sign, (whole or "") + frac)
        shift = _decimal_exponent(exponent) - len(frac)
        value = mantissa * 10**shift if shift >= 0 else Fraction(mantissa, 10**-shift)
        return _bounded(Fraction(value), f"the number {_show(text)}")
    return None


def _bounded(x: Fraction, what: str) -> Fraction:
    _check_bits(_size(x), what)
    return x


def format_int(x: int) -> str:
    """Decimal text of an integer of any size.

    Python refuses ``str`` of integers over ``sys.get_int_max_str_digits()``
    digits (4300 by default) and is quadratic in the size; larger integers go
    through FLINT, which is neither. The interpreter-wide setting is untouched.
    """
    if _python_converts(x.bit_length() * 0.30103 + 1):  # an upper bound on the digits
        return str(x)
    from flint import fmpz

    return str(fmpz(x))


def _python_converts(digits: float) -> bool:
    """Whether Python's own ``int``/``str`` conversion is allowed and fast for this many digits."""
    limit = sys.get_int_max_str_digits()
    return digits <= (4000 if limit == 0 else min(limit, 4000))


def format_fraction(x: Fraction) -> str:
    """``"p/q"`` in lowest terms, or ``"p"`` for an integer; exact at any size."""
    if x.denominator == 1:
        return format_int(x.numerator)
    return f"{format_int(x.numerator)}/{format_int(x.denominator)}"


def format_exact(x) -> str:
    """An exact number in the input grammar: ``"p/q"`` for a rational (:func:`format_fraction`), and a
    number-field element's own text (``"1/3 + 1/6*sqrt(2)"``) otherwise."""
    if isinstance(x, (int, Fraction)):
        return format_fraction(Fraction(x))
    return str(x)


def json_int(text: str) -> int:
    """``json.loads`` hook for integer literals: exact up to ``MAX_DIGITS`` digits."""
    sign, digits = (text[0], text[1:]) if text[0] == "-" else ("+", text)
    try:
        return _int_of_digits(sign, digits)
    except NumberLimitError as exc:
        raise NumberLimitError(f"JSON number: {exc}") from None


class UnderflowedFloat(float):
    """A JSON number literal that is not 0 but whose nearest double is 0.0 (``1e-400``): it keeps its
    ``text``, so that :func:`parse_number` refuses it instead of reading a positive number as 0."""

    text: str

    def __new__(cls, text: str) -> "UnderflowedFloat":
        number = super().__new__(cls, 0.0)
        number.text = text
        return number


def json_float(text: str) -> float:
    """``parse_float`` for JSON: the double of ``text``, or an :class:`UnderflowedFloat` where a
    literal with a nonzero digit rounds to 0."""
    value = float(text)
    if value == 0.0 and any(c in "123456789" for c in text.lower().split("e")[0]):
        return UnderflowedFloat(text)
    return value


@contextmanager
def interval_precision(bits: int) -> Iterator[None]:
    """Temporarily set ``mpmath.iv.prec`` (the mpmath interval context is global)."""
    from mpmath import iv

    old = iv.prec
    iv.prec = bits
    try:
        yield
    finally:
        iv.prec = old


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Expr:
    """A parsed expression: an immutable syntax tree plus its source text.

    Nodes are tuples: ``("num", Fraction)``, ``("const", name)``,
    ``("neg", x)``, ``("add"|"sub"|"mul"|"div"|"pow", x, y)``,
    ``("call", name, x)``.
    """

    source: str
    tree: tuple

    def exact(self) -> Fraction | None:
        """The exact rational value, or ``None`` if the expression may be irrational.

        Raises
        ------
        NumberError
            Division by zero.
        NumberLimitError
            An intermediate value over ``MAX_BITS`` bits (refused before it is computed).
        """
        return _exact_of(self.tree, f"expression {_show(self.source)}")

    def interval(self):
        """A rigorous ``mpmath.iv`` interval enclosing the value at ``iv.prec``.

        Raises
        ------
        NumberError
            The value is not a real number (``log``/``sqrt`` of a negative
            number, a non-integer power of a negative number).
        EnclosureError
            Some node has no finite enclosure at this precision (a pole, a
            division by an interval containing 0).
        NumberLimitError
            Some node's magnitude reaches ``2^MAX_BITS``.
        """
        try:
            return _interval(self.tree)
        except NumberError as exc:
            raise type(exc)(f"expression {_show(self.source)}: {exc}") from None

    def __str__(self) -> str:
        return self.source


Number = Union[Fraction, Expr]


def _exact_of(tree: tuple, what: str) -> Fraction | None:
    """:func:`_exact` with its errors as one-line :class:`NumberError` naming ``what``."""
    try:
        return _exact(tree)
    except ZeroDivisionError:
        raise NumberError(f"{what} divides by zero") from None
    except NumberError as exc:
        raise type(exc)(f"{what}: {exc}") from None


def _exact(node: tuple) -> Fraction | None:
    """The exact value of a tree (``None`` if it may be irrational), every intermediate bounded."""
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind in ("const", "call"):
        return None
    if kind == "neg":
        x = _exact(node[1])
        return None if x is None else -x
    x, y = _exact(node[1]), _exact(node[2])
    if x is None or y is None:
        return None
    if kind in _ARITHMETIC:
        # p/q ± r/s has at most bits(p)+bits(s)+1 bits over bits(q)+bits(s); × and ÷ at most the sum.
        _check_bits(_size(x) + _size(y) + (kind in ("add", "sub")), f"the value of {_render(node)}")
        return _ARITHMETIC[kind](x, y)
    # pow: rational only for an integer exponent
    if y.denominator != 1:
        return None
    if x == 0 and y < 0:
        raise ZeroDivisionError
    if abs(y) > MAX_EXPONENT:  # the parser refuses these; keep _exact safe on any tree
        raise NumberLimitError(f"exponent {_brief(y)} is over the limit of {MAX_EXPONENT} "
                               "(dynamics.numbers.MAX_EXPONENT)")
    _check_bits(_size(x) * abs(int(y)), f"the value of {_render(node)}")
    return x ** int(y)


def _render(node: tuple, width: int = 60) -> str:
    """Readable source text of a tree (for messages), shortened to about ``width`` characters."""
    text = _text(node, 0)
    return text if len(text) <= width else text[: width - 1] + "…"


def _text(node: tuple, depth: int) -> str:
    kind = node[0]
    if depth > 8:
        return "…"
    if kind == "num":
        return _brief(node[1])
    if kind == "const":
        return node[1]
    if kind == "call":
        return f"{node[1]}({_text(node[2], depth + 1)})"
    if kind == "neg":
        return f"-{_operand(node[1], depth + 1)}"
    return f"{_operand(node[1], depth + 1)}{_SYMBOLS[kind]}{_operand(node[2], depth + 1)}"


def _operand(node: tuple, depth: int) -> str:
    text = _text(node, depth)
    if node[0] in _SYMBOLS or node[0] == "neg" or (node[0] == "num" and node[1].denominator != 1):
        return f"({text})"
    return text


# --------------------------------------------------------------------------- intervals


def _interval(node: tuple):
    """The enclosure of a tree, every node checked: finite, real, of magnitude below ``2^MAX_BITS``.

    One stack frame per tree level (a 500-term sum is 500 levels deep).
    """
    from mpmath import iv

    kind = node[0]
    if kind == "num":
        value: Fraction = node[1]
        result = iv.mpf(value.numerator) / value.denominator
    elif kind == "const":
        result = iv.pi if node[1] == "pi" else iv.e
    elif kind == "call":
        result = _CALLS[node[1]](_interval(node[2]), node)
    elif kind == "neg":
        result = -_interval(node[1])
    elif kind == "pow":
        x, exponent = _interval(node[1]), _exact(node[2])
        if exponent is not None and exponent.denominator == 1:
            result = x ** int(exponent)
        else:
            result = _real_power(x, _interval(node[2]), node)
    else:
        result = _ARITHMETIC[kind](_interval(node[1]), _interval(node[2]))
    return _checked(result, node)


def _checked(x, node: tuple):
    """``x`` if it is a finite real interval of magnitude below ``2^MAX_BITS``; else a one-line error.

    Nonzero endpoints below ``2^-_TINY_BITS`` in magnitude are first widened outward (see
    :func:`_flush`), so that no enclosure carries an astronomically negative exponent.
    """
    from mpmath import iv
    from mpmath.libmp import finf, fnan, fninf

    parts = getattr(x, "_mpi_", None)
    if parts is None:  # an mpmath complex interval
        raise NumberError(f"{_render(node)} is not a real number")
    if any(p in (finf, fninf, fnan) for p in parts):
        raise EnclosureError(
            f"{_render(node)} has no finite enclosure at {iv.prec} bits "
            "(a pole, or a division by a value that may be 0)"
        )
    bits = max(_magnitude(p) for p in parts)
    if bits > MAX_BITS:
        raise NumberLimitError(
            f"{_render(node)} is about 2^{bits}, over the limit of 2^{MAX_BITS} (dynamics.numbers.MAX_BITS)"
        )
    lo, hi = _flush(parts[0], upper=False), _flush(parts[1], upper=True)
    return x if (lo, hi) == parts else iv.make_mpf((lo, hi))


def _flush(p: tuple, upper: bool) -> tuple:
    """A raw endpoint, or for ``0 < |p| < 2^-_TINY_BITS`` the nearest of ``0, ±2^-_TINY_BITS`` outward.

    The enclosure only widens, so it stays rigorous; values this small are
    never resolved at any precision the engines allow (``MAX_PREC <= MAX_BITS``).
    """
    from mpmath.libmp import fzero

    sign, man, exp, bc = p
    if not man or exp + bc > -_TINY_BITS:
        return p
    if upper:
        return fzero if sign else (0, 1, -_TINY_BITS, 1)
    return (1, 1, -_TINY_BITS, 1) if sign else fzero


def _magnitude(p: tuple) -> int:
    """``m`` with ``|p| < 2^m`` for a finite raw ``mpf`` (0 for zero)."""
    sign, man, exp, bc = p
    return exp + bc if man else 0


def _ends(x) -> tuple:
    return x._mpi_


def _not_real(node: tuple, why: str) -> NumberError:
    return NumberError(f"{_render(node)} is not a real number ({why})")


def _sqrt(x, node: tuple):
    """``sqrt`` on ``[max(lo, 0), hi]``: a real argument lies in the domain (module docstring)."""
    from mpmath import iv
    from mpmath.libmp import fzero, mpf_lt

    lo, hi = _ends(x)
    if mpf_lt(hi, fzero):
        raise _not_real(node, "the square root of a negative number")
    if mpf_lt(lo, fzero):
        x = iv.make_mpf((fzero, hi))
    return iv.sqrt(x)


def _log(x, node: tuple):
    from mpmath import iv
    from mpmath.libmp import fzero, mpf_le

    lo, hi = _ends(x)
    if mpf_le(hi, fzero):
        raise _not_real(node, "the logarithm of a number <= 0")
    if mpf_le(lo, fzero):
        raise EnclosureError(
            f"{_render(node)} has no finite enclosure at {iv.prec} bits (its argument may be <= 0)"
        )
    return iv.log(x)


def _exp(x, node: tuple):
    """``exp``, refusing before the work an argument whose exponential reaches ``2^MAX_BITS``."""
    from mpmath import iv
    from mpmath.libmp import from_int, mpf_gt

    if mpf_gt(_ends(x)[1], from_int(_MAX_EXP_ARGUMENT)):
        raise NumberLimitError(
            f"{_render(node)} is over 2^{MAX_BITS}, the limit (dynamics.numbers.MAX_BITS)"
        )
    return iv.exp(x)


def _trig(name: str) -> Callable:
    def call(x, node: tuple):
        from mpmath import iv

        return getattr(iv, name)(x)

    return call


def _real_power(x, y, node: tuple):
    """``x^y = exp(y·log x)`` for a non-integer ``y``: real for ``x > 0``, and ``x = 0`` with ``y > 0``."""
    from mpmath import iv
    from mpmath.libmp import fzero, mpf_gt, mpf_lt

    lo, hi = _ends(x)
    if mpf_lt(hi, fzero):
        raise _not_real(node, "a non-integer power of a negative number")
    if mpf_gt(lo, fzero):
        return _exp(_checked(y * iv.log(x), node), node)
    # The base may be 0 (a base that is negative is not real, see the module docstring).
    if not mpf_gt(_ends(y)[0], fzero):
        raise EnclosureError(
            f"{_render(node)} has no finite enclosure at {iv.prec} bits "
            "(the base may be 0 and the exponent may be <= 0)"
        )
    if hi == fzero:
        return iv.mpf(0)
    top = _exp(_checked(y * iv.log(iv.make_mpf((hi, hi))), node), node)
    return iv.make_mpf((fzero, _ends(top)[1]))


_CALLS: dict[str, Callable] = {
    "sqrt": _sqrt,
    "log": _log,
    "exp": _exp,
    "cos": _trig("cos"),
    "sin": _trig("sin"),
    "tan": _trig("tan"),
}


# --------------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.depth = 0

    def _fail(self, why: str) -> NumberError:
        return NumberError(f"cannot parse {_show(self.text)}: {why}")

    def _limit(self, why: str) -> NumberLimitError:
        return NumberLimitError(f"cannot parse {_show(self.text)}: {why}")

    def _tokenize(self, text: str) -> list[str]:
        tokens, pos = [], 0
        stripped = text.rstrip()
        while pos < len(stripped):
            match = _TOKEN_RE.match(stripped, pos)
            if match is None:
                raise self._fail(f"unexpected character {stripped[pos:].lstrip()[:1]!r}")
            tokens.append(match.group(1))
            pos = match.end()
        return tokens

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None:
            raise self._fail("unexpected end of expression")
        if expected is not None and token != expected:
            raise self._fail(f"expected {expected!r}, found {token!r}")
        self.pos += 1
        return token

    def parse(self) -> tuple:
        if not self.tokens:
            raise self._fail("empty expression")
        tree = self.expr()
        if self.peek() is not None:
            raise self._fail(f"unexpected {self.peek()!r}")
        return tree

    def _nested(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._limit(f"nested deeper than {MAX_DEPTH} (dynamics.numbers.MAX_DEPTH)")

    def expr(self) -> tuple:
        self._nested()
        node = self.term()
        while self.peek() in ("+", "-"):
            op = "add" if self.take() == "+" else "sub"
            node = (op, node, self.term())
        self.depth -= 1
        return node

    def term(self) -> tuple:
        node = self.unary()
        while self.peek() in ("*", "/"):
            op = "mul" if self.take() == "*" else "div"
            node = (op, node, self.unary())
        return node

    def unary(self) -> tuple:
        if self.peek() in ("+", "-"):
            sign = self.take()
            self._nested()
            operand = self.unary()
            self.depth -= 1
            return ("neg", operand) if sign == "-" else operand
        return self.power()

    def power(self) -> tuple:
        base = self.atom()
        if self.peek() in ("^", "**"):
            self.take()
            self._nested()
            exponent = self.unary()
            self.depth -= 1
            value = _exact_of(exponent, f"cannot parse {_show(self.text)}: the exponent")
            if value is not None and abs(value) > MAX_EXPONENT:
                raise self._limit(f"exponent {_brief(value)} is over the limit of {MAX_EXPONENT} "
                                  "in absolute value (dynamics.numbers.MAX_EXPONENT)")
            return ("pow", base, exponent)
        return base

    def atom(self) -> tuple:
        token = self.take()
        if token == "(":
            node = self.expr()
            self.take(")")
            return node
        if token[0].isdigit() or token[0] == ".":
            try:
                return ("num", _plain(token))
            except NumberError as exc:
                raise type(exc)(f"cannot parse {_show(self.text)}: {exc}") from None
        if token in _CONSTANTS:
            return ("const", token)
        if token in _FUNCTIONS:
            self.take("(")
            node = self.expr()
            self.take(")")
            return ("call", token, node)
        if token.isalpha() or token[0] == "_":
            raise self._fail(
                f"unknown name {_show(token)} (allowed: {', '.join(_FUNCTIONS + _CONSTANTS)})"
            )
        raise self._fail(f"unexpected {token!r}")


def parse_number(value: object, *, allow_expressions: bool = True) -> Number:
    """Read one config entry exactly.

    Parameters
    ----------
    value
        A JSON value: ``int``, ``float`` or ``str``.
    allow_expressions
        If false, strings must denote rationals and irrational expressions are
        rejected.

    Returns
    -------
    Fraction or Expr
        A ``Fraction`` whenever the value is rational (including rational
        expressions such as ``"(1/3)^2"``), else an :class:`Expr`. An
        irrational expression is evaluated once at 64 bits: one that is
        certainly not real (``"log(-1)"``) or too large is refused here.

    Raises
    ------
    NumberError
        For booleans, ``None``, containers, NaN/infinity, malformed strings,
        and expressions that are not real numbers.
    NumberLimitError
        For numbers beyond the module's limits (see the module docstring).
    """
    if isinstance(value, bool) or value is None:
        raise NumberError(f"expected a number, got {json_type(value)}")
    if isinstance(value, int):
        return _bounded(Fraction(value), "the integer")
    if isinstance(value, float):
        if isinstance(value, UnderflowedFloat):
            text = value.text if len(value.text) <= 40 else value.text[:39] + "…"
            raise NumberError(f"the JSON number {text} is not 0, but JSON numbers are read as float64 and it "
                              f"rounds to 0 (write it as a string, \"{text}\", for its exact value)")
        if not math.isfinite(value):
            raise NumberError(f"expected a finite number, got {value}")
        return Fraction(value)
    if not isinstance(value, str):
        raise NumberError(f"expected a number, got {json_type(value)}")
    return _parse_string(value.strip(), allow_expressions)


def _parse_string(text: str, allow_expressions: bool) -> Number:
    if len(text) > _MAX_NUMBER_LENGTH:
        raise NumberLimitError(
            f"a number string of {len(text)} characters is over the limit "
            f"({MAX_DIGITS} digits per integer, dynamics.numbers.MAX_DIGITS)"
        )
    plain = _plain(text)
    if plain is not None:
        return plain
    if text.lower() in _NONFINITE:
        raise NumberError(f"expected a finite number, got {_show(text)}")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise NumberLimitError(
            f"expression longer than {MAX_EXPRESSION_LENGTH} characters "
            "(dynamics.numbers.MAX_EXPRESSION_LENGTH)"
        )
    expr = Expr(source=text, tree=_Parser(text).parse())
    exact = expr.exact()
    if exact is not None:
        return exact
    if not allow_expressions:
        raise NumberError(f"{_show(text)} is not a rational number")
    _check_real(expr)
    return expr


def _check_real(expr: Expr) -> None:
    """Refuse an expression that is certainly not real, or too large, at a low precision.

    An :class:`EnclosureError` is not final (a higher precision may decide), so it passes.
    """
    with interval_precision(_CHECK_PREC):
        try:
            expr.interval()
        except EnclosureError:
            pass


def parse_exact(value: object) -> Fraction:
    """Like :func:`parse_number` but only rationals are accepted."""
    result = parse_number(value, allow_expressions=False)
    assert isinstance(result, Fraction)
    return result


def json_type(value: object) -> str:
    """The JSON name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
