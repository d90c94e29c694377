"""Shared machinery of the robustness fuzzer (``tests/test_fuzz.py``, ``scripts/fuzz``; issue #10).

The contract under test (README "Exit codes", SPEC §5): for *any* input, every
command either succeeds (exit 0; exit 1 only for a ``--strict`` claim failure,
with its one-line note) or prints exactly one line on stderr and exits 2; never
a traceback, always within bounded time, and no file is touched except the
requested ``--output``. The library parser (``dynamics.config_from_dict``,
``dynamics.load_config``, ``dynamics.parse_number``) raises only
:class:`dynamics.errors.UserError` subclasses.

This module holds

* the budget: ``FUZZ_EXAMPLES`` (examples of the library-parser tests; the
  command-line tests take fixed fractions of it) and ``FUZZ_SECONDS`` (a cap on
  the wall time of one test: once spent, the remaining examples are skipped);
* time bounds: :func:`time_bound` (a soft ``SIGALRM`` that raises
  :class:`FuzzTimeout` in Python code, and a hard ``faulthandler`` watchdog
  that ends the process with a stack dump if native code hangs past it);
* :func:`snapshot`: mtime, size and SHA-256 of every file under some folders;
* Hypothesis strategies: JSON values, number strings, grammar-aware
  expressions, configs (valid, and mutated), file contents, and command lines;
* runners: :func:`run_inprocess` (``dynamics.cli.run_main`` with captured
  streams) and :func:`run_subprocess` (the real ``python -m …`` process with a
  timeout), and :func:`check_cli` which asserts the contract on either.
"""

from __future__ import annotations

import contextlib
import faulthandler
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
EXAMPLES = ROOT / "examples"
# Folders of the repository that no command may write unasked (hunt runs with --no-save).
GUARDED = (ROOT / "reports", ROOT / "verify" / "corpus")


# --------------------------------------------------------------------------- budget


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {text!r}") from None
    return max(1, value)


#: Examples of each in-process library-parser test (the short profile: 300, about a second each).
EXAMPLES_PARSER = _env_int("FUZZ_EXAMPLES", 300)
LONG = "FUZZ_EXAMPLES" in os.environ
#: In-process command-line examples per command family: a fifth of the parser budget (short profile: 100).
EXAMPLES_CLI = max(100, EXAMPLES_PARSER // 5)
#: Argument-parser-only examples (cheap: no command runs).
EXAMPLES_ARGPARSE = max(150, EXAMPLES_PARSER // 2)
#: Real subprocesses per command family (each costs 0.3–2 s; short profile: 8, and 4 hunts).
EXAMPLES_SUBPROCESS = max(8, EXAMPLES_PARSER // 50)
#: Wall-time cap of one test, in seconds (examples past it are skipped, not failed).
TEST_SECONDS = _env_int("FUZZ_SECONDS", 1800 if LONG else 45)

#: Time bounds of one call. Parsing one config or number: a few ms normally.
PARSE_SECONDS = 10
#: One in-process command on a small config (tens of ms to ~2 s normally).
COMMAND_SECONDS = 20
#: One subprocess, start-up included.
PROCESS_SECONDS = 60


class Budget:
    """The wall-time cap of one test: ``spent()`` turns true after ``seconds``."""

    def __init__(self, seconds: float = TEST_SECONDS):
        self.start = time.monotonic()
        self.seconds = seconds

    def spent(self) -> bool:
        return time.monotonic() - self.start > self.seconds


# --------------------------------------------------------------------------- time bounds


class FuzzTimeout(BaseException):
    """Raised in the main thread when a call runs past its time bound.

    A ``BaseException``, so that code under test which catches ``Exception`` cannot swallow it.
    """


@contextlib.contextmanager
def time_bound(seconds: float, what: str = "call", hard_extra: float = 60) -> Iterator[None]:
    """Bound the time of the block.

    A ``SIGALRM`` raises :class:`FuzzTimeout` after ``seconds`` (checked between
    Python bytecodes). If native code holds the interpreter past
    ``seconds + hard_extra``, ``faulthandler`` dumps every thread's stack and
    ends the process, so that the suite fails instead of hanging. Outside the
    main thread (or without ``SIGALRM``) only the hard watchdog applies.
    """
    soft = threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
    faulthandler.dump_traceback_later(seconds + hard_extra, exit=True, file=sys.__stderr__)
    old = None
    if soft:
        def alarm(signum, frame):
            raise FuzzTimeout(f"{what} still running after {seconds} s")

        old = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if soft:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        faulthandler.cancel_dump_traceback_later()


# --------------------------------------------------------------------------- file snapshots

Snapshot = dict[str, tuple[int, int, str]]


def snapshot(*folders: Path | str) -> Snapshot:
    """``{path: (mtime_ns, size, sha256)}`` for every file (and ``(…, "<dir>")`` folder) under ``folders``."""
    result: Snapshot = {}
    for folder in folders:
        folder = str(folder)
        if not os.path.isdir(folder):
            continue
        for base, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(dirs):
                path = os.path.join(base, name)
                result[path] = (0, 0, "<dir>")
            for name in sorted(files):
                path = os.path.join(base, name)
                try:
                    info = os.lstat(path)
                    if os.path.islink(path):
                        digest = "<link>" + os.readlink(path)
                    elif os.path.isfile(path):
                        with open(path, "rb") as handle:
                            digest = hashlib.sha256(handle.read()).hexdigest()
                    else:
                        digest = "<special>"
                except OSError as exc:  # vanished meanwhile
                    result[path] = (0, 0, f"<{exc.strerror}>")
                    continue
                result[path] = (info.st_mtime_ns, info.st_size, digest)
    return result


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    """Paths created, removed or modified (mtime, size or content) between two snapshots."""
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


# --------------------------------------------------------------------------- strategies: numbers


def dumps(obj: Any, **options: Any) -> str:
    """``json.dumps`` that writes integers of any size (Python refuses over 4300 digits by default)."""
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return json.dumps(obj, **options)
    finally:
        sys.set_int_max_str_digits(old)


DIGITS = "0123456789"
FUNCS = ("sqrt", "cos", "sin", "tan", "exp", "log")

# Exponents around every limit of dynamics.numbers (MAX_DECIMAL_EXPONENT 10,000, MAX_EXPONENT
# 4,096, MAX_DIGITS 30,103, MAX_BITS 100,000) and far beyond.
EXTREME_INTS = st.sampled_from([0, 1, 2, 63, 64, 4095, 4096, 4097, 9999, 10_000, 10_001, 30_103, 30_104,
                                99_999, 100_000, 100_001, 999_999, 1_000_000, 999_999_999, 10**12, 10**18,
                                2**63, 10**40])
EXPONENTS = st.one_of(st.integers(-400, 400), EXTREME_INTS, EXTREME_INTS.map(lambda x: -x))


@st.composite
def digit_strings(draw, max_digits: int = 40) -> str:
    """Digits: short random ones, or long runs near the digit limits (up to 40,000)."""
    if draw(st.integers(0, 9)) == 0:
        n = draw(st.sampled_from([4000, 4001, 4299, 4300, 4301, 30_103, 30_104, 40_000]))
        return draw(st.sampled_from("19١٣９")) * n  # Unicode decimal digits too: Python's \\d matches them
    return draw(st.text(DIGITS, min_size=1, max_size=max_digits))


@st.composite
def number_strings(draw) -> str:
    """Plain number strings: integers, ``p/q``, decimals, exponents (extreme ones too), odd forms."""
    sign = draw(st.sampled_from(["", "", "-", "+", "--", "+-", " -"]))
    kind = draw(st.integers(0, 6))
    if kind == 0:
        body = draw(digit_strings())
    elif kind == 1:
        space = draw(st.sampled_from(["", " ", "  "]))
        body = f"{draw(digit_strings())}{space}/{space}{draw(st.sampled_from(['0', '00', '1']) | digit_strings())}"
    elif kind == 2:
        whole = draw(st.sampled_from(["", "0", "1"]) | digit_strings(12))
        frac = draw(st.sampled_from(["", "5"]) | digit_strings(12))
        body = f"{whole}.{frac}"
    elif kind == 3:
        mantissa = draw(st.sampled_from(["1", "1.5", ".5", "5.", "0", "9" * 20]) | digit_strings(8))
        e = draw(st.sampled_from(["e", "E"]))
        exponent = draw(EXPONENTS)
        plus = draw(st.sampled_from(["", "+"])) if exponent >= 0 else ""
        body = f"{mantissa}{e}{plus}{exponent}"
    elif kind == 4:
        body = draw(st.sampled_from([
            "1e999999999", "1e-999999999", "1e+999999999", "1e", "e5", "1e+", "1.2.3", "1/2/3", "1//2",
            "0/0", "1/0", "-0", "0e0", "nan", "NaN", "inf", "-inf", "Infinity", "infinity", "1_000",
            "0x10", "0b1", "1j", "½", "²", "١٢٣", "１２", "٣/٤", "1e٣", "1 000", "", " ", "\t1\n",
            "1" + "0" * 30_103, "1/" + "1" + "0" * 30_103, "0." + "0" * 40_000 + "1", "9" * 61_000,
            "1e" + "9" * 50, "." , "..", "-", "/", "1/", "/1", "+", "1e-10000", "1e10000", "1e10001",
        ]))
    elif kind == 5:
        body = str(draw(st.integers(-(10**50), 10**50)))
    else:
        body = draw(st.text(DIGITS + "./eE+- ", max_size=20))
    return sign + body


ATOMS = st.one_of(
    st.sampled_from(["pi", "e", "0", "1", "2", "3", "10", "0.5", ".5", "1e3", "1e-3", "4096", "4097",
                     "1e10000", "1e10001", "1e999999999", "0.0", "100000"]),
    st.integers(0, 10**6).map(str),
    number_strings().filter(lambda s: s.strip() != "" and "/" not in s and " " not in s.strip()),
)


def _binary(t: tuple) -> str:
    left, op, right, spaces = t
    gap = " " if spaces else ""
    return f"{left}{gap}{op}{gap}{right}"


def _extend(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "^", "**"]), children, st.booleans()).map(_binary),
        st.tuples(st.sampled_from(FUNCS), children).map(lambda t: f"{t[0]}({t[1]})"),
        children.map(lambda s: f"({s})"),
        st.tuples(st.sampled_from(["-", "+", "--"]), children).map(lambda t: t[0] + t[1]),
    )


#: Well-formed expressions of the grammar of dynamics.numbers (random depth and size).
GRAMMAR = st.recursive(ATOMS, _extend, max_leaves=24)

TOKENS = ["+", "-", "*", "/", "^", "**", "(", ")", "(", ")", " ", *FUNCS, "pi", "e", "1", "2", "0", "0.5",
          "1e400", "1e10000", "4096", "sqrt(", "exp(", "tan(pi/2)", "log(0)", "(-8)^(1/3)", "x", "E", "Pi",
          "sqrt2", "eval", "__import__", "$", "\x00", "é", ",", ";", "[", "1/0", "pi-pi", "0^0", "0^-1"]


@st.composite
def nested(draw) -> str:
    """Deep nesting and long chains, around ``MAX_DEPTH`` (64) and ``MAX_EXPRESSION_LENGTH`` (1000) and far past."""
    k = draw(st.sampled_from([1, 2, 8, 63, 64, 65, 100, 200, 333, 500, 1000, 3000, 100_000]))
    pattern = draw(st.sampled_from([
        ("(" * k) + "1" + (")" * k),
        ("(" * k) + "1",
        "1" + (")" * k),
        ("-" * k) + "1",
        ("+-" * k) + "2",
        "sqrt(" * k + "2" + ")" * k,
        "exp(" * k + "1" + ")" * k,
        "exp(" * k + "10" + ")" * k,
        "log(" * k + "10" + ")" * k,
        "tan(" * k + "1" + ")" * k,
        "2^" * k + "2",
        "2**" * k + "2",
        "(2^4096)^" * k + "2",
        "1+" * k + "1",
        "1/" * k + "3",
        "pi*" * k + "pi",
        "e^" * k + "e",
        "pi^" * k + "pi",
        "sin(" * k + "1e10000" + ")" * k,
        "(" * k + "sqrt(2)" + ")^2" * k,
    ]))
    return pattern


SPECIAL_EXPRESSIONS = st.sampled_from([
    "(-8)^(1/3)", "(-8)^(1/2)", "(-1)^0.5", "(-2)^pi", "tan(pi/2)", "tan(pi/2+0)", "1/(pi-pi)", "log(0)",
    "log(-1)", "log(pi-pi)", "sqrt(-2)", "sqrt(pi-pi)", "0^0", "0^-1", "0^(-1/2)", "0^pi", "(pi-pi)^(-1/2)",
    "(pi-pi)^pi", "exp(exp(exp(exp(10))))", "exp(-exp(exp(10)))", "exp(1e10000)", "exp(-1e10000)",
    "exp(69315)", "exp(69314)", "sin(1e10000)", "cos(10^4096)", "sin(2^4096^4096)", "((2^4096)^4096)^4096",
    "2^4096^4096", "2^4097", "2^-4097", "2^(1/2)", "2^0.5", "2^(10^5)", "pi^pi^pi^pi", "e^e^e^e^e",
    "10^(10^10)", "sqrt(2)^4096", "(sqrt(2)+1)^4096", "1e10000*1e10000", "1e-10000/1e10000",
    "(1/3)^4096", "3^4096/3^4096", "tan(1e10000)", "log(1e-10000)", "exp(log(0))", "sqrt(sqrt(-0))",
    "1e10000^4096", "2**-4096**2", "-(2)^(2)^(2)^(2)^(2)", "cos(pi)^-1", "1/sin(pi)", "1/tan(pi)",
    "exp(709)*exp(709)", "pi^(1e10000)", "(1+1e-10000)^(1e10000)", "2^(pi*1e4)",
])


@st.composite
def token_soup(draw) -> str:
    """Random sequences of valid and invalid tokens (mostly syntax errors)."""
    return "".join(draw(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=40)))


#: Any string a config may hold where a number is expected.
NUMBER_TEXT = st.one_of(number_strings(), GRAMMAR, SPECIAL_EXPRESSIONS, token_soup(), nested(),
                        st.text(max_size=30))

#: Exact, small, valid numbers (what a working config holds).
SMALL_NUMBERS = st.one_of(
    st.integers(-5, 5),
    st.fractions(min_value=-3, max_value=3, max_denominator=12).map(
        lambda f: str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"),
    st.sampled_from(["0.5", "-1.25", "1e-1", "0", "2"]),
    st.floats(-3, 3, allow_nan=False, width=32),
)
SMALL_ALPHA = st.sampled_from(["1/2", "1", "2", 1, "0.25", "3/7", 0.5])
IRRATIONAL = st.sampled_from(["sqrt(2)/2", "cos(pi/7)", "pi/4", "e-2", "sqrt(3)", "log(2)", "exp(-1)"])

#: Every kind of number-like JSON value.
NUMBER_VALUES = st.one_of(
    NUMBER_TEXT,
    st.integers(),
    st.integers(-(10**40), 10**40),
    st.sampled_from([10**4300, -(10**4301), 2**100_000, 2**99_999, 10**30_103, 10**30_102]),
    st.floats(),
    st.none(), st.booleans(),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)


# --------------------------------------------------------------------------- strategies: JSON and configs

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                         NUMBER_TEXT)
#: Arbitrary JSON-like values (floats may be NaN or infinite: Python dicts, not only JSON text).
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.one_of(st.text(max_size=8), st.sampled_from(["tokens", "A", "alpha", "heads", "steps", "name",
                                                        "description", "V", "layers"])),
        children, max_size=5),
    max_leaves=30,
)

CONFIG_KEYS = ("tokens", "A", "V", "alpha", "heads", "layers", "steps", "name", "description")


@st.composite
def valid_configs(draw, max_n: int = 4, max_d: int = 3, irrational: bool = False) -> dict:
    """A small config that loads: ``n ≤ max_n`` tokens in ``R^d``, one to three heads, sometimes value
    matrices ``V`` (top level or per head) and a layer schedule ``layers`` (entries of both forms,
    ``{"A", "V", "alpha"}`` and ``{"heads": [...]}``, with the same number of heads)."""
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    numbers = SMALL_NUMBERS | IRRATIONAL if irrational else SMALL_NUMBERS
    tokens = [[draw(numbers) for _ in range(d)] for _ in range(n)]
    config: dict[str, Any] = {"tokens": tokens}

    def matrix():
        return [[draw(numbers) for _ in range(d)] for _ in range(d)]

    def head() -> dict:
        out = {"alpha": draw(SMALL_ALPHA)}
        if draw(st.booleans()):
            out["A"] = matrix()
        if draw(st.integers(0, 3)) == 0:
            out["V"] = matrix()
        return out

    def parameters(heads: int) -> dict:
        """One parameter set: ``{"A", "V", "alpha"}`` (``heads == 0``) or ``{"heads": [...]}``."""
        return head() if heads == 0 else {"heads": [head() for _ in range(heads)]}

    heads = draw(st.integers(0, 3))
    if draw(st.integers(0, 4)) == 0:  # a layer schedule; one head per entry may take either form
        config["layers"] = [parameters(0 if heads <= 1 and draw(st.booleans()) else max(heads, 1))
                            for _ in range(draw(st.integers(1, 3)))]
    else:
        config.update(parameters(heads))
    if draw(st.integers(0, 4)) == 0:
        config["steps"] = draw(st.integers(0, 40))
    if draw(st.integers(0, 4)) == 0:
        config["name"] = draw(st.text(max_size=10))
    return config


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys and indices) into a JSON value, the root included."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, prefix + (i,))
    return out


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


@st.composite
def mutated_configs(draw, irrational: bool = True) -> Any:
    """A valid config with one to three mutations: wrong types, ragged rows, unknown or missing keys, …"""
    config: Any = draw(valid_configs(irrational=irrational))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(config)
        path = draw(st.sampled_from(paths))
        how = draw(st.integers(0, 7))
        if how <= 2:  # any value in any place
            config = _replace(config, path, draw(st.one_of(NUMBER_VALUES, JSON_VALUES)))
        elif how == 3 and isinstance(config, dict):  # an unknown or a conflicting key
            key = draw(st.sampled_from(["V", "layers", "alhpa", "Alpha", "", "tokens ", "A", "alpha", "heads"]))
            config = {**config, key: draw(st.one_of(NUMBER_VALUES, JSON_VALUES, st.just(config.get("tokens"))))}
        elif how == 4 and isinstance(config, dict) and config:  # a missing key
            key = draw(st.sampled_from(sorted(config)))
            config = {k: v for k, v in config.items() if k != key}
        elif how == 5:  # ragged: a list loses or gains an element
            lists = [p for p in paths if _get(config, p).__class__ is list]
            if lists:
                p = draw(st.sampled_from(lists))
                items = list(_get(config, p))
                if items and draw(st.booleans()):
                    items.pop(draw(st.integers(0, len(items) - 1)))
                else:
                    items.append(draw(st.one_of(NUMBER_VALUES, st.just(items[0] if items else 1))))
                config = _replace(config, p, items)
        elif how == 6:  # huge dimensions: a long row or many rows
            size = draw(st.sampled_from([0, 1, 100, 2000]))
            config = _replace(config, path, [draw(SMALL_NUMBERS)] * size if draw(st.booleans())
                              else [[1]] * size)
        else:  # a number where a number goes, of an extreme kind
            config = _replace(config, path, draw(NUMBER_VALUES))
    return config


def _get(value: Any, path: tuple) -> Any:
    for key in path:
        value = value[key]
    return value


#: Anything config_from_dict may be given.
CONFIG_OBJECTS = st.one_of(JSON_VALUES, mutated_configs(), valid_configs(irrational=True))


@st.composite
def config_texts(draw) -> bytes:
    """The bytes of a config file: JSON of any shape, damaged JSON, odd encodings, huge literals."""
    kind = draw(st.integers(0, 9))
    if kind <= 2:
        obj = draw(st.one_of(valid_configs(irrational=True), mutated_configs()))
        text = dumps(obj, indent=draw(st.sampled_from([None, 1])))
    elif kind == 3:
        text = dumps(draw(JSON_VALUES))
    elif kind == 4:  # damaged: cut, or a character inserted
        text = json.dumps(draw(valid_configs()))
        at = draw(st.integers(0, len(text)))
        text = text[:at] + (draw(st.text(max_size=3)) if draw(st.booleans()) else "")
    elif kind == 5:  # a raw literal where a number goes
        literal = draw(st.sampled_from([
            "NaN", "Infinity", "-Infinity", "1e999999999", "-1e999999999", "1e400", "1" * 4301, "1" * 30_104,
            "-" + "9" * 30_103, "0." + "1" * 100_000, "1E-400", "-0", "0e0", "1.0e+308", "01", "1.", ".1", "+1",
            "true", "null", '"\\ud800"', '"\\u0000"', '"1\\u00001"', "[]", "{}",
        ]))
        text = '{"tokens": [[%s, 1]], "alpha": %s}' % (literal, draw(st.sampled_from(["1", literal])))
    elif kind == 6:  # deep nesting
        k = draw(st.sampled_from([10, 999, 1000, 1001, 5000, 100_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"tokens":[', "]}")]))
        text = opener * k + "1" + closer * draw(st.sampled_from([k, 0, 1]))
    elif kind == 7:
        text = draw(st.sampled_from([
            "", " ", "\n", "null", "[]", "{}", "0", '"tokens"', '{"tokens": []}', '{"tokens": [[]]}',
            '{"tokens": [[1]], "alpha": 1, "alpha": "x"}', '{"tokens": [[1]], "alpha": 1}{}',
            '{"tokens": [[1]], "alpha": 1} // comment', "{'tokens': [[1]], 'alpha': 1}",
            '{"tokens": [[1]], "alpha": 1,}', '\ufeff{"tokens": [[1]], "alpha": 1}',
        ]))
    elif kind == 8:
        return draw(st.binary(max_size=64))
    else:  # valid JSON in another encoding, or with invalid UTF-8 inside
        obj = json.dumps(draw(valid_configs()), ensure_ascii=False)
        encoding = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "utf-8-sig"]))
        data = obj.encode(encoding, errors="replace")
        if draw(st.booleans()):
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"])) + data[at:]
        return data
    return text.encode("utf-8", errors="surrogatepass")


# --------------------------------------------------------------------------- command lines

_LEMMA_HEADER = "from fractions import Fraction\n\nfrom verify.lemmas import lemma\n\n\n"

#: Lemma files for ``check``/``hunt --lemmas`` (``verify.lemmas``), written by :meth:`Plan.materialize`:
#: placeholder -> (file name, content, the lemmas it defines, for ``hunt --claim``). ``{LEMMAS}`` is valid
#: (one lemma claimed everywhere, one with ``under`` and a ``model``); the others must be refused in one line.
LEMMA_FILES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "{LEMMAS}": ("lemmas.py", _LEMMA_HEADER + (
        '@lemma("FUZZ-BOX", "with V = I every new token lies in the bounding box of the previous state",\n'
        '       requires=("identity_values", "positive_alpha"))\n'
        "def box(run):\n"
        "    for k in range(run.steps):\n"
        "        for c in range(run.d):\n"
        "            low, high = min(z[c] for z in run.states[k]), max(z[c] for z in run.states[k])\n"
        "            for i, z in enumerate(run.states[k + 1]):\n"
        "                if not low <= z[c] <= high:\n"
        '                    return {"step": k + 1, "token": i, "value": str(z[c])}\n'
        "    return None\n\n\n"
        '@lemma("FUZZ-LEADER", "every step has a leader", under=("spd",), model={"values": "rank_one"})\n'
        "def leader(run):\n"
        "    empty = [k for k in range(run.steps + 1) if not run.leaders[k]]\n"
        '    return {"step": empty[0], "follow": [list(f) for f in run.follow[0][0]]} if empty else None\n'),
        ("FUZZ-BOX", "FUZZ-LEADER")),
    # a checker bug: exit 2 in one line; --debug prints its traceback first
    "{LEMMAS_RAISES}": ("lemmas_raises.py", _LEMMA_HEADER + (
        '@lemma("FUZZ-RAISES", "a checker that raises")\n'
        "def raises(run):\n"
        "    return run.states[run.steps + 5]\n"), ("FUZZ-RAISES",)),
    # checkers that return something other than None or a JSON witness with an integer "step"
    "{LEMMAS_WITNESS}": ("lemmas_witness.py", _LEMMA_HEADER + (
        '@lemma("FUZZ-FRACTION", "a witness holding a Fraction")\n'
        'def fraction(run):\n    return {"step": 0, "x": Fraction(1, 3)}\n\n\n'
        '@lemma("FUZZ-TRUE", "a checker returning True")\n'
        "def true(run):\n    return True\n\n\n"
        '@lemma("FUZZ-NO-STEP", "a witness without a step")\n'
        'def no_step(run):\n    return {"token": 0}\n'), ("FUZZ-FRACTION", "FUZZ-TRUE", "FUZZ-NO-STEP")),
    "{LEMMAS_IMPORT}": ("lemmas_import.py", "raise RuntimeError('fails at import')\n", ()),
    "{LEMMAS_SYNTAX}": ("lemmas_syntax.py", "def broken(:\n", ()),
    "{LEMMAS_NONE}": ("lemmas_none.py", "x = 1\n", ()),
    "{LEMMAS_CLASH}": ("lemmas_clash.py", _LEMMA_HEADER + '@lemma("P1", "a second P1")\ndef p1(run):\n    return None\n',
                       ()),
    "{LEMMAS_DECLARATION}": ("lemmas_declaration.py", _LEMMA_HEADER + (
        '@lemma("FUZZ BAD", "a name with a space, an unknown class", under=("positive",))\n'
        "def bad(run):\n    return None\n"), ()),
}


@dataclass
class Plan:
    """A command line to run, with placeholders for the files it names.

    ``argv`` items may contain ``{CONFIG}`` (the config file, written from
    ``config``), ``{OUT}`` (a new output path), ``{EXISTING}`` (an existing
    file), ``{FIG}``/``{GIF}`` (a new figure or animation), ``{OLDFIG}`` (an existing figure), ``{DIR}`` (a folder), ``{MISSING}`` (a path in a missing folder),
    ``{EXAMPLES}`` (the repository's ``examples/``) and the lemma files of
    :data:`LEMMA_FILES` (``{LEMMAS}``, ``{LEMMAS_RAISES}``, …). With ``stdin_config``
    a subprocess reads its standard input from the config file (so that
    ``/dev/stdin`` names it).
    """

    module: str  # "dynamics" or "verify"
    argv: list[str]
    config: bytes | None = None
    strict: bool = False
    output: bool = False  # whether argv names --output
    stdin_config: bool = False

    def materialize(self, folder: Path) -> list[str]:
        """Write the files the plan needs into ``folder``; return the concrete argv."""
        config = folder / "config.json"
        if self.config is not None:
            config.write_bytes(self.config)
        existing = folder / "existing.txt"
        existing.write_text("old content\n")
        (folder / "sub").mkdir(exist_ok=True)
        (folder / "existing.png").write_bytes(b"old figure\n")
        names = {"{CONFIG}": str(config), "{OUT}": str(folder / "out.json"), "{EXISTING}": str(existing),
                 "{FIG}": str(folder / "out.png"), "{GIF}": str(folder / "out.gif"),
                 "{OLDFIG}": str(folder / "existing.png"),
                 "{DIR}": str(folder / "sub"), "{MISSING}": str(folder / "missing" / "out.json"),
                 "{EXAMPLES}": str(EXAMPLES)}
        for key, (name, content, _) in LEMMA_FILES.items():
            if any(key in arg for arg in self.argv):
                (folder / name).write_text(content)
                names[key] = str(folder / name)
        out = []
        for arg in self.argv:
            for key, value in names.items():
                arg = arg.replace(key, value)
            out.append(arg)
        return out

    def describe(self) -> str:
        text = " ".join(json.dumps(a) if (" " in a or not a) else a for a in self.argv)
        config = self.config.decode("utf-8", "backslashreplace") if self.config is not None else None
        if config is not None and len(config) > 300:
            config = config[:300] + f"… ({len(self.config)} bytes)"
        stdin = " < {CONFIG}" if self.stdin_config else ""
        return f"python -m {self.module} {text}{stdin}" + (f"\n  config: {config}" if config is not None else "")


class Opt:
    """An option's values: ``good`` ones (the command runs) and ``bad`` ones (it must refuse them cleanly)."""

    def __init__(self, good: st.SearchStrategy[str], bad: st.SearchStrategy[str] | None = None):
        self.good, self.bad = good, bad


def _bad_choice(*valid: str) -> st.SearchStrategy[str]:
    """Values of a choice option that are not valid: unknown, empty, odd case, Unicode, option-like."""
    return st.one_of(
        st.sampled_from(valid).map(str.upper),
        st.sampled_from(["", " ", "none", "-1", "0", "nan", "--json", "x" * 300, "é", "\u202e", "cuda",
                         "float16", "bfloat16", "meta", "a\nb"]),
        st.text(max_size=8),
    )


def choice(*valid: str) -> Opt:
    return Opt(st.sampled_from(valid), _bad_choice(*valid))


FLAG = None
# Counts stay small when valid (work grows with them); absurd ones must be refused before any work.
STEPS = Opt(st.integers(0, 12).map(str), st.one_of(
    st.sampled_from(["-1", "-0", "+3", "0x10", "1e3", "1.5", "", " 4 ", "٣", "１", "nan", "inf", "-inf",
                     "10" * 40, "9" * 5000, "1_0", "4\x00"]),
    st.integers(10**12, 10**40).map(str),
    st.integers(-(10**30), -1).map(str),
))
POSITIVE_STEPS = Opt(st.integers(1, 12).map(str), STEPS.bad | st.just("0"))
PREC = Opt(st.integers(2, 200).map(str), st.sampled_from([
    "0", "1", "-1", "-64", "64.0", "1e3", "x", "", "100000", "100001", "1000000", "10000000", "1000000000",
    "9" * 40, "9" * 5000]))
SIZES = Opt(st.sampled_from(["512M", "4G", "1.5T", "1T", "2KiB", "8GB", " 8G ", "100000000", "1e3"]),
            st.one_of(st.sampled_from([
                "1", "0", "512", "1P", "-1", "", "x", "0.0001K", "1.5", "9" * 30, "9" * 400, "9" * 5000,
                "1" + "0" * 308, "1" + "0" * 309, "99999999999999999999T", "inf", "nan", "1,5G", "٣G", "1.5e3M"]),
                st.integers(0, 10**25).map(str)))
SEEDS = Opt(st.integers(0, 2**32).map(str), st.one_of(
    st.integers(-5, -1), st.integers(-(2**70), 2**70), st.sampled_from([2**32, 2**64, -(2**63), 2**128])).map(str)
    | st.sampled_from(["x", "1.5", "", "9" * 5000]))
TAU = Opt(st.sampled_from(["1", "0.5", "2", "1e-3", "0.1", "10"]), st.sampled_from([
    "1e-300", "1e-320", "5e-324", "1e300", "1e308", "1.8e308", "0", "-1", "nan", "inf", "-inf", "x", "",
    "1e-30", "1e30", "0x1p-1074", "1e-45", "1e-8"]))
DEVICES = Opt(st.just("cpu"), st.sampled_from([
    "cuda", "cuda:0", "cuda:7", "cpu:0", "cpu:1", "meta", "mps", "xla", "tpu", "cuda:-1", "cuda:x", "cpu,cuda",
    "CPU", "", "ipu", "vulkan", "mkldnn", "opengl", "hpu", "xpu", "lazy", "privateuseone", "cpu:99999999999999999999"]))
OUTPUTS = Opt(st.sampled_from(["{OUT}", "{EXISTING}", "/dev/null"]), st.sampled_from([
    "{DIR}", "{MISSING}", "{CONFIG}", "", "{DIR}/", "{OUT}/x", "/proc/version", "/dev/full", "/", "/dev/zero",
    "{EXISTING}/x"]))
#: ``plot --output``: a new or an existing figure; bad ones are the wrong kind of file or place.
FIGURES = Opt(st.sampled_from(["{FIG}", "{OLDFIG}"]), st.sampled_from([
    "{OUT}", "{DIR}", "{MISSING}", "{CONFIG}", "", "/dev/null", "{FIG}/x", "{DIR}/", "/proc/version", "x.jpg",
    "/dev/full"]))
# Standard input is the config file: writing to it must be refused like writing to the config itself.
OUTPUTS_PROCESS = Opt(OUTPUTS.good, OUTPUTS.bad | st.sampled_from(["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"]))
CONFIG_GOOD = st.sampled_from(["{CONFIG}"] * 6 + ["{EXAMPLES}/emerging_leader.json", "{EXAMPLES}/rotation_tie.json",
                                                   "{EXAMPLES}/irrational.json"])
CONFIG_BAD = st.sampled_from(["{DIR}", "{MISSING}", "/dev/null", "", "-", "/nonexistent.json", "{EXISTING}",
                              "/proc/self/status", "x" * 300, "{DIR}/" + "y" * 300, "/dev/zero", "/dev/full",
                              "/proc/self/mem", "{CONFIG}/x", "a\nb.json"])
# --lemmas FILE: the valid lemma file, or a broken one (or a path that is no lemma file at all).
LEMMAS = Opt(st.just("{LEMMAS}"), st.one_of(
    st.sampled_from([key for key in LEMMA_FILES if key != "{LEMMAS}"]),
    st.sampled_from(["{DIR}", "{MISSING}", "{EXISTING}", "{CONFIG}", "/dev/null", "", "{LEMMAS}/x",
                     "/proc/self/status"])))
#: Names a hunt's --claim may give beside the built-ins: the lemmas of the files above, and an unknown one.
LEMMA_CLAIMS = tuple(name for _, _, names in LEMMA_FILES.values() for name in names) + ("FUZZ-UNKNOWN",)
JUNK_ARGS = st.sampled_from(["--help", "--bogus", "-x", "--", "--json=1", "--steps", "--steps=", "-h?", "extra", "",
                             "--strict=yes", "--backend=", "\u202e", "é", "--no-save", "--random", "a\nb",
                             "--ste", "--st", "-"])

from dynamics import BACKENDS  # noqa: E402 (every backend the CLI offers, algebraic included)


def _chance(draw, rate: float) -> bool:
    """True with about probability ``rate`` (Hypothesis favours small integers: they mean False here)."""
    return draw(st.integers(0, 99)) >= 100 - rate * 100


def _value(draw, opt: Opt, bad_rate: float) -> str:
    if opt.bad is not None and _chance(draw, bad_rate):
        return draw(opt.bad)
    return draw(opt.good)


def _opts(draw, table: dict[str, Opt | None], bad_rate: float, max_options: int = 5) -> list[str]:
    """Draw some options of ``table`` (``None``: a flag) in random order."""
    names = draw(st.lists(st.sampled_from(sorted(table)), max_size=max_options, unique=True))
    argv: list[str] = []
    for name in names:
        opt = table[name]
        if opt is None:
            argv.append(name)
        elif draw(st.integers(0, 9)) == 0:
            argv.append(f"{name}={_value(draw, opt, bad_rate)}")
        else:
            argv += [name, _value(draw, opt, bad_rate)]
    return argv


@st.composite
def config_bytes(draw, bad_rate: float = 0.1) -> bytes:
    """Config file content for a command: mostly valid small configs, sometimes broken ones."""
    if not _chance(draw, bad_rate):
        return json.dumps(draw(valid_configs(max_n=4, max_d=3, irrational=draw(st.integers(0, 5)) == 0))).encode()
    if draw(st.booleans()):
        return dumps(draw(mutated_configs())).encode("utf-8", "surrogatepass")
    return draw(config_texts())


@st.composite
def command_plans(draw, commands: tuple[str, ...] = ("simulate", "check", "limit", "crosscheck", "hunt"),
                  bad_rate: float = 0.1, process: bool = False) -> Plan:
    """A command line of one of the entry points; each value is bad (adversarial) with probability ``bad_rate``.

    ``process``: the plan runs as a subprocess, so it may name its standard input (``/dev/stdin``,
    ``/dev/fd/0``), which then reads the config file (never in-process: that would be the test
    runner's own standard input).
    """
    command = draw(st.sampled_from(commands))
    stdin_config = process and _chance(draw, 0.2)
    config = draw(config_bytes(bad_rate))

    def config_arg() -> str:
        return draw(CONFIG_BAD) if _chance(draw, bad_rate) else draw(CONFIG_GOOD)

    argv: list[str]
    if command == "simulate":
        module = "dynamics"
        table = {"--steps": STEPS, "--backend": choice(*BACKENDS), "--device": DEVICES,
                 "--dtype": choice("float32", "float64"), "--rule": choice("hardmax", "softmax"), "--tau": TAU,
                 "--prec": PREC, "--max-prec": PREC, "--allow-nonpositive-alpha": FLAG, "--json": FLAG,
                 "--output": OUTPUTS_PROCESS if stdin_config else OUTPUTS, "--no-progress": FLAG,
                 "--max-memory": SIZES}
        # a valid backend most of the time, so that the runs themselves are exercised
        argv = ["simulate", config_arg(), "--backend", draw(st.sampled_from(BACKENDS))] + _opts(draw, table, bad_rate)
        if "--steps" not in argv:
            argv += ["--steps", draw(st.integers(0, 8).map(str))]
    elif command in ("check", "limit", "crosscheck"):
        module = "verify"
        steps_name = "--max-steps" if command == "limit" else "--steps"
        table = {steps_name: POSITIVE_STEPS, "--json": FLAG, "--strict": FLAG}
        if command == "check":
            table.update({"--limit-steps": Opt(st.integers(1, 40).map(str), POSITIVE_STEPS.bad),
                          "--backend": choice("exact", "float", "torch"), "--dtype": choice("float32", "float64"),
                          "--device": DEVICES, "--max-memory": SIZES, "--lemmas": LEMMAS, "--debug": FLAG})
        if command == "crosscheck":
            table.update({"--backend": choice("float", "torch"), "--dtype": choice("float32", "float64"),
                          "--device": DEVICES,
                          "--random": Opt(st.sampled_from(["1", "2"]), st.sampled_from(["0", "-1", "x", ""])),
                          "--family": choice("generic", "duplicates", "reflection"), "--seed": SEEDS,
                          "--max-memory": SIZES})
        configs = [config_arg()] if command != "crosscheck" else [config_arg() for _ in range(draw(st.integers(0, 2)))]
        argv = [command, *configs] + _opts(draw, table, bad_rate)
        if "--lemmas" in argv and _chance(draw, 0.2):  # --lemmas again (a second file, or the same one twice)
            argv += ["--lemmas", _value(draw, LEMMAS, bad_rate)]
        if steps_name not in argv:
            argv += [steps_name, draw(st.integers(1, 8).map(str))]
        if command == "check" and "--limit-steps" not in argv:
            argv += ["--limit-steps", draw(st.integers(1, 40).map(str))]
    elif command == "plot":
        module = "verify"
        table = {"--steps": STEPS, "--backend": choice("exact", "certified", "float"),
                 "--panels": Opt(st.sampled_from(["1", "2", "4"]), st.sampled_from(["0", "-1", "x", "9" * 30])),
                 "--at": Opt(st.sampled_from(["0", "0,1", "1,0,1"]), st.sampled_from(["", "x", "-1", "0,99", ",", "9" * 400])),
                 "--animate": FLAG, "--fps": Opt(st.sampled_from(["1", "8"]), st.sampled_from(["0", "-2", "x"])),
                 "--no-limit": FLAG, "--limit-steps": Opt(st.integers(1, 20).map(str), POSITIVE_STEPS.bad),
                 "--title": Opt(st.text(max_size=12)), "--json": FLAG, "--max-memory": SIZES}
        argv = ["plot", config_arg()] + _opts(draw, table, bad_rate)
        if "--steps" not in argv:
            argv += ["--steps", draw(st.integers(0, 6).map(str))]
        figure = _value(draw, FIGURES, bad_rate)
        if "--animate" in argv:
            figure = figure.replace("{FIG}", "{GIF}")
        argv += ["--output", figure]
    else:  # hunt: tiny budgets, never saving
        module = "verify"
        config = None
        table = {"--claim": choice("P1", "P2", "P3", "P4", "P5", "D1", "D2", "D3", "all"),
                 "--matrix": choice("spd", "symmetric", "indefinite", "nonsymmetric"),
                 "--heads": Opt(st.sampled_from(["1", "2", "3"]),
                                st.sampled_from(["0", "4", "-1", "x", "1.0", "9" * 30, "9" * 5000])),
                 "--family": Opt(st.sampled_from(["generic", "duplicates"]), st.text(max_size=6)),
                 "--max-examples": Opt(st.sampled_from(["1", "2", "3"]), st.sampled_from(["0", "-1", "x", "2.5"])),
                 "--steps": Opt(st.integers(1, 6).map(str), POSITIVE_STEPS.bad),
                 "--max-n": Opt(st.sampled_from(["1", "2", "4", "6"]),
                                st.sampled_from(["32", "33", "0", "-1", "1000", "9" * 30])),
                 "--max-d": Opt(st.sampled_from(["1", "2", "3"]), st.sampled_from(["5", "6", "0", "-1", "9" * 30])),
                 "--seed": SEEDS, "--workers": Opt(st.just("1"), st.sampled_from(["0", "-1", "x"])),
                 "--json": FLAG, "--lemmas": LEMMAS, "--debug": FLAG,
                 "--values": choice("identity", "rank_one", "rotation", "diagonal", "general"),
                 # (at most 2 layers: a hunt that finds a failure shrinks it unbudgeted, tests/test_lemmas.py)
                 "--layers": Opt(st.sampled_from(["1", "2"]),
                                 st.sampled_from(["0", "9", "-1", "x", "1.5", "", "9" * 30])),
                 "--alpha-schedule": choice("any", "decreasing"),
                 # Dask/Redis options: only addresses refused at once (no cluster is started by the fuzzer)
                 "--scheduler": Opt(st.sampled_from(["x", "tcp://", "localhost"]),
                                    st.sampled_from(["", "9" * 30, "tcp://[::1", "é"])),
                 "--database": Opt(st.sampled_from(["ftp://x", "/dev/null", "redis://"]),
                                   st.sampled_from(["", "unix://", "rediss://:0"]))}
        argv = ["hunt", "--no-save", "--claim", draw(st.sampled_from(["P1", "P3", "D1", "all"]))]
        argv += ["--max-examples", "2", "--steps", "4", "--max-n", "4"] + _opts(draw, table, bad_rate, max_options=4)
        files = [a for a in argv if a in LEMMA_FILES]
        if files and _chance(draw, 0.6):  # hunt a lemma of the file given (the last --claim counts)
            names = LEMMA_FILES[files[-1]][2]
            argv += ["--claim", draw(st.sampled_from(names)) if names and _chance(draw, 0.9)
                     else draw(st.sampled_from(LEMMA_CLAIMS))]
    if _chance(draw, bad_rate / 2):  # a stray argument somewhere
        argv.insert(draw(st.integers(1, len(argv))), draw(JUNK_ARGS))
    strict = "--strict" in argv
    output = any(a == "--output" or a.startswith("--output=") for a in argv)
    return Plan(module=module, argv=argv, config=config, strict=strict, output=output, stdin_config=stdin_config)


@st.composite
def parser_argvs(draw) -> tuple[str, list[str]]:
    """An argv for one of the two argument parsers, only parsed (no command runs): mostly bad values."""
    module = draw(st.sampled_from(["dynamics", "verify"]))
    plan = draw(command_plans(commands=("simulate",) if module == "dynamics" else
                              ("check", "limit", "crosscheck", "hunt", "plot"), bad_rate=0.5))
    argv = list(plan.argv)
    if draw(st.integers(0, 3)) == 0:  # shuffle in more junk and free text
        for _ in range(draw(st.integers(1, 4))):
            argv.insert(draw(st.integers(0, len(argv))), draw(JUNK_ARGS | st.text(max_size=6)))
    return module, argv


# --------------------------------------------------------------------------- runners and the contract


@dataclass
class Outcome:
    """What one command did: exit status, stdout, stderr (and in-process, an escaped exception)."""

    rc: int | None
    out: str
    err: str
    seconds: float
    error: str | None = None  # an exception that escaped run_main, with its traceback
    notes: list[str] = field(default_factory=list)


def _main_of(module: str) -> tuple[str, Callable]:
    if module == "dynamics":
        from dynamics.__main__ import PROG, main
    else:
        from verify.__main__ import PROG, main
    return PROG, main


class _Capture(io.StringIO):
    """A text stream with ``buffer`` (bytes written to it land in the text, decoded)."""

    def __init__(self):
        super().__init__()
        self.buffer = _BytesInto(self)


class _BytesInto(io.RawIOBase):
    def __init__(self, text: io.StringIO):
        self.text = text

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.text.write(bytes(data).decode("utf-8", "backslashreplace"))
        return len(data)


def _show_on_stderr(message, category, filename, lineno, file=None, line=None) -> None:
    import warnings

    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def run_inprocess(module: str, argv: list[str], cwd: Path, seconds: float = COMMAND_SECONDS) -> Outcome:
    """``dynamics.cli.run_main(prog, main, argv)`` with stdout and stderr captured, in ``cwd``, time-bounded."""
    import warnings

    from dynamics.cli import run_main

    prog, main = _main_of(module)
    out, err = _Capture(), _Capture()
    start = time.monotonic()
    rc: int | None = None
    error = None
    old_cwd = os.getcwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("default")  # warnings reach stderr as a process would print them
            warnings.showwarning = _show_on_stderr  # (not into pytest's warning log)
            with time_bound(seconds, "python -m " + module + " " + " ".join(argv)):
                try:
                    rc = run_main(prog, main, argv)
                except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
                    code = exc.code
                    rc = code if isinstance(code, int) else (0 if code is None else 1)
                    if isinstance(code, str):
                        print(code, file=sys.stderr)
    except FuzzTimeout as exc:
        error = f"timeout: {exc}"
    except BaseException as exc:  # noqa: BLE001 - any escape is a contract violation, reported in full
        error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    finally:
        os.chdir(old_cwd)
    return Outcome(rc, out.getvalue(), err.getvalue(), time.monotonic() - start, error)


def run_subprocess(module: str, argv: list[str], cwd: Path, seconds: float = PROCESS_SECONDS,
                   stdin: Path | None = None) -> Outcome:
    """The real ``python -m module argv…`` in ``cwd``, with a timeout (a hang is reported, then killed).

    Standard input is ``/dev/null``, or the file ``stdin`` (opened for reading).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1"}
    env.pop("PYTHONWARNINGS", None)
    argv = [arg.split("\x00")[0] for arg in argv]  # a C argv ends each string at NUL, as execve would
    start = time.monotonic()
    try:
        with open(stdin if stdin is not None else os.devnull, "rb") as source:
            done = subprocess.run([PYTHON, "-m", module, *argv], cwd=cwd, env=env, capture_output=True,
                                  timeout=seconds, stdin=source)
    except subprocess.TimeoutExpired as exc:
        err = (exc.stderr or b"").decode("utf-8", "backslashreplace")
        return Outcome(None, "", err, time.monotonic() - start, error=f"timeout: still running after {seconds} s")
    return Outcome(done.returncode, done.stdout.decode("utf-8", "backslashreplace"),
                   done.stderr.decode("utf-8", "backslashreplace"), time.monotonic() - start)


def terminal_lines(text: str) -> list[str]:
    """The lines a terminal shows: split at newlines and carriage returns only (not ``splitlines``' others)."""
    text = text.replace("\r\n", "\n").rstrip("\n")
    return [] if not text else re.split(r"[\n\r]", text)


def asks_help(plan: Plan) -> bool:
    """Whether argv may ask for ``--help`` (``-h``, ``--help``, a prefix like ``--he``, ``-hx``)."""
    return any(a == "-h" or (len(a) > 3 and "--help".startswith(a)) or (a.startswith("-h") and a[:2] != "--")
               for a in plan.argv)


def check_cli(outcome: Outcome, plan: Plan, described: str) -> None:
    """Assert the README/SPEC §5 contract on one command's outcome.

    * no exception escapes, no hang, no ``Traceback`` on stderr (but the traceback of a lemma
      checker that raised, under ``--debug``, before the one-line error);
    * exit 0, or 1 only under ``--strict`` with its one-line note, or 2 with one
      line ``prog…: error: …`` on stderr (``--help``: exit 0);
    * with ``--json`` and exit 0/1, stdout is one JSON document.
    """
    def fail(why: str) -> None:
        raise AssertionError(f"{why}\n  command: {described}\n  exit status: {outcome.rc}\n"
                             f"  stderr: {outcome.err[-3000:]!r}\n  stdout: {outcome.out[-500:]!r}")

    if outcome.error is not None:
        fail("exception escaped / time bound exceeded:\n" + outcome.error[-4000:])
    lines = terminal_lines(outcome.err)
    # --debug: a lemma checker that raised prints its traceback, then the one-line error (verify.lemmas)
    if "--debug" in plan.argv and outcome.rc == 2 and len(lines) > 1 and lines[0].startswith("Traceback") \
            and "the checker raised" in lines[-1]:
        lines = lines[-1:]
    elif "Traceback" in outcome.err:
        fail("a traceback on stderr")
    help_asked = asks_help(plan)
    if outcome.rc == 2:
        if len(lines) != 1:
            fail(f"exit 2 with {len(lines)} lines on stderr (expected exactly one)")
        if not lines[0].startswith(f"python -m {plan.module}") or ": error: " not in lines[0]:
            fail("exit 2 without a 'python -m …: error: …' line")
    elif outcome.rc == 1:
        if not plan.strict:
            fail("exit 1 without --strict")
        if len(lines) != 1 or "--strict" not in lines[0]:
            fail("exit 1 without exactly one '--strict: …' line on stderr")
    elif outcome.rc == 0:
        if lines and not help_asked:
            fail("exit 0 with output on stderr")
    else:
        fail(f"exit status {outcome.rc} (expected 0, 1 with --strict, or 2)")
    if outcome.rc in (0, 1) and "--json" in plan.argv and not help_asked and outcome.out.strip():
        try:
            json.loads(outcome.out)
        except ValueError as exc:
            fail(f"--json: stdout is not one JSON document ({exc})")


def check_files(before: Snapshot, after: Snapshot, folder: Path, outcome: Outcome, plan: Plan,
                described: str) -> None:
    """Only the requested ``--output`` may change, and only on success; the guarded repo folders never."""
    moved = changed(before, after)
    allowed: set[str] = set()
    if plan.output and outcome.rc in (0, 1):
        allowed = {str(folder / name) for name in ("out.json", "existing.txt", "out.png", "out.gif", "existing.png")}
        # `--output {CONFIG}` of a command that reads another config: the fuzz config is then just the
        # requested output (the command's own input is refused, and that is checked by the exit status).
        if any(a == "{CONFIG}" and i > 0 and plan.argv[i - 1] == "--output" for i, a in enumerate(plan.argv)):
            allowed.add(str(folder / "config.json"))
    bad = [p for p in moved if p not in allowed]
    wanted = str(folder / "out.json")
    if outcome.rc == 0 and plan.output and any(a.endswith("{OUT}") for a in plan.argv) and wanted not in moved \
            and not asks_help(plan):
        bad.append(f"{wanted} (the requested --output) was not written")
    if bad:
        raise AssertionError(f"files touched: {bad}\n  command: {described}\n  exit status: {outcome.rc}\n"
                             f"  stderr: {outcome.err[-1000:]!r}")
