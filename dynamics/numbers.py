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
as a rigorous ``mpmath.iv`` interval at a chosen precision.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Union

from .errors import InputError

__all__ = [
    "Expr",
    "Number",
    "NumberError",
    "parse_number",
    "parse_exact",
    "format_fraction",
]

MAX_EXPRESSION_LENGTH = 1000
MAX_DEPTH = 64
MAX_EXPONENT = 4096

_INT_RE = re.compile(r"[+-]?\d+")
_RATIO_RE = re.compile(r"([+-]?\d+)\s*/\s*(\d+)")
_DECIMAL_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_TOKEN_RE = re.compile(r"\s*(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\*\*|[A-Za-z_]+|[-+*/^()])")

_ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}
_FUNCTIONS = ("sqrt", "cos", "sin", "tan", "exp", "log")
_CONSTANTS = ("pi", "e")


class NumberError(InputError):
    """A value that is not a number of the accepted forms (message is one line)."""


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
        """The exact rational value, or ``None`` if the expression may be irrational."""
        try:
            return _exact(self.tree)
        except ZeroDivisionError as exc:
            raise NumberError(f"expression {self.source!r} divides by zero") from exc

    def interval(self):
        """A rigorous ``mpmath.iv`` interval enclosing the value at ``iv.prec``."""
        return _interval(self.tree)

    def __str__(self) -> str:
        return self.source


Number = Union[Fraction, Expr]


def _exact(node: tuple) -> Fraction | None:
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
        return _ARITHMETIC[kind](x, y)
    # pow: rational only for an integer exponent
    if y.denominator != 1:
        return None
    if x == 0 and y < 0:
        raise ZeroDivisionError
    return x ** int(y)


def _interval(node: tuple):
    from mpmath import iv

    kind = node[0]
    if kind == "num":
        value: Fraction = node[1]
        return iv.mpf(value.numerator) / value.denominator
    if kind == "const":
        return iv.pi if node[1] == "pi" else iv.e
    if kind == "call":
        return getattr(iv, node[1])(_interval(node[2]))
    if kind == "neg":
        return -_interval(node[1])
    x = _interval(node[1])
    if kind == "pow":
        exponent = _exact(node[2])
        if exponent is not None and exponent.denominator == 1:
            return x ** int(exponent)
        return x ** _interval(node[2])
    return _ARITHMETIC[kind](x, _interval(node[2]))


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.depth = 0

    def _fail(self, why: str) -> NumberError:
        return NumberError(f"cannot parse {self.text!r}: {why}")

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
            raise self._fail(f"nested deeper than {MAX_DEPTH}")

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
            value = _exact(exponent)
            if value is not None and abs(value) > MAX_EXPONENT:
                raise self._fail(f"exponent {value} exceeds {MAX_EXPONENT} in absolute value")
            return ("pow", base, exponent)
        return base

    def atom(self) -> tuple:
        token = self.take()
        if token == "(":
            node = self.expr()
            self.take(")")
            return node
        if token[0].isdigit() or token[0] == ".":
            return ("num", Fraction(token))
        if token in _CONSTANTS:
            return ("const", token)
        if token in _FUNCTIONS:
            self.take("(")
            node = self.expr()
            self.take(")")
            return ("call", token, node)
        if token.isalpha() or token[0] == "_":
            raise self._fail(
                f"unknown name {token!r} (allowed: {', '.join(_FUNCTIONS + _CONSTANTS)})"
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
        expressions such as ``"(1/3)^2"``), else an :class:`Expr`.

    Raises
    ------
    NumberError
        For booleans, ``None``, containers, NaN/infinity, and malformed strings.
    """
    if isinstance(value, bool) or value is None:
        raise NumberError(f"expected a number, got {json_type(value)}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NumberError(f"expected a finite number, got {value}")
        return Fraction(value)
    if not isinstance(value, str):
        raise NumberError(f"expected a number, got {json_type(value)}")
    text = value.strip()
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise NumberError(f"number string longer than {MAX_EXPRESSION_LENGTH} characters")
    if _INT_RE.fullmatch(text):
        return Fraction(int(text))
    match = _RATIO_RE.fullmatch(text)
    if match:
        if int(match.group(2)) == 0:
            raise NumberError(f"{value!r} has a zero denominator")
        return Fraction(int(match.group(1)), int(match.group(2)))
    if _DECIMAL_RE.fullmatch(text):
        return Fraction(text)
    if text.lower() in ("nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        raise NumberError(f"expected a finite number, got {value!r}")
    expr = Expr(source=text, tree=_Parser(text).parse())
    exact = expr.exact()
    if exact is not None:
        return exact
    if not allow_expressions:
        raise NumberError(f"{value!r} is not a rational number")
    return expr


def parse_exact(value: object) -> Fraction:
    """Like :func:`parse_number` but only rationals are accepted."""
    result = parse_number(value, allow_expressions=False)
    assert isinstance(result, Fraction)
    return result


def format_fraction(x: Fraction) -> str:
    """``"p/q"`` in lowest terms, or ``"p"`` for an integer."""
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


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
