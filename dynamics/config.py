"""Configurations: tokens, attention heads and step sizes, validated (SPEC §5).

A config file is JSON::

    {"tokens": [["1", "1/3"], ["-1/12", "1/12"], ["-1", "-1"]],
     "A": [["1", "0"], ["0", "1"]],
     "alpha": "1/2"}

``A`` defaults to the identity. Instead of ``A``/``alpha`` a config may give
``"heads": [{"A": ..., "V": ..., "alpha": ...}, ...]`` (multi-head, SPEC §1).
Each head (or the top level) may carry a value matrix ``"V"`` (``d × d``,
default the identity)::

    z_i+ = (z_i + Σ_h α_h Σ_j P^h_ij V_h z_j) / (1 + Σ_h α_h).

A **layer schedule** replaces the top-level parameters by ``"layers"``: a list
of ``L`` parameter sets, each ``{"A", "V", "alpha"}`` or ``{"heads": [...]}``;
layer ``k`` uses entry ``min(k, L - 1)`` (the last one repeats). Every entry
has the same number of heads. Optional descriptive keys: ``"steps"`` (the number of steps a saved counterexample
needs), ``"name"``, ``"description"``. Every other key is an error, so that a
typo such as ``"alhpa"`` is caught instead of silently ignored.

Every validation failure raises :class:`ConfigError` whose message is one line
naming the file, the field and what was expected.

Limits (checked before the work; :class:`ConfigLimitError` is both a
``ConfigError`` and a :class:`~dynamics.errors.LimitError`):

* the file is read up to ``MAX_CONFIG_BYTES`` (64 MiB; ``load_config(max_bytes=…)``
  raises it). Regular files and FIFOs are read; devices (``/dev/zero``), sockets
  and directories are refused;
* JSON nested deeper than the parser's recursion limit (about 1000 levels; a
  config needs at most 5) is refused, never a ``RecursionError``;
* every number is bounded as :mod:`dynamics.numbers` documents (digits,
  decimal exponents, bits); JSON integers are read exactly up to
  ``dynamics.numbers.MAX_DIGITS`` digits, past Python's 4300-digit limit.
"""

from __future__ import annotations

import functools
import json
import os
import stat
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from collections.abc import Sequence
from typing import Any, Iterable

from .errors import InputError, LimitError
from .numbers import (
    Expr,
    Number,
    NumberError,
    format_fraction,
    json_float,
    json_int,
    json_type,
    parse_number,
)

__all__ = [
    "ConfigError",
    "ConfigLimitError",
    "Head",
    "Config",
    "DyadicTokens",
    "load_config",
    "config_from_dict",
    "identity",
    "is_identity",
    "MAX_CONFIG_BYTES",
]

MAX_CONFIG_BYTES = 64 * 2**20

_TOP_KEYS = {"tokens", "A", "V", "alpha", "heads", "layers", "steps", "name", "description"}
_HEAD_KEYS = {"A", "V", "alpha"}
_LAYER_KEYS = {"A", "V", "alpha", "heads"}
_PARAMETER_KEYS = ("A", "V", "alpha", "heads")


class ConfigError(InputError):
    """An invalid configuration; ``str(error)`` is a one-line message for the user."""


class ConfigLimitError(ConfigError, LimitError):
    """A config (file size, nesting, a number) beyond a documented limit."""


def identity(d: int) -> tuple[tuple[Fraction, ...], ...]:
    """The ``d × d`` identity matrix with exact entries."""
    return tuple(tuple(Fraction(int(i == j)) for j in range(d)) for i in range(d))


Matrix = tuple[tuple[Number, ...], ...]


def is_identity(M: Matrix) -> bool:
    """True if ``M`` is exactly the identity matrix."""
    return all(x == (1 if i == j else 0) for i, row in enumerate(M) for j, x in enumerate(row))


@dataclass(frozen=True)
class Head:
    """One attention head: score matrix ``A`` (``d × d``), step ``alpha`` and value matrix ``V``.

    ``V = None`` is the identity (the paper's model); a ``V`` equal to the
    identity is stored as ``None``, so ``head.V is None`` exactly when the
    head's value matrix is the identity.
    """

    A: Matrix
    alpha: Number
    V: Matrix | None = None

    def __post_init__(self) -> None:
        if self.V is not None and is_identity(self.V):
            object.__setattr__(self, "V", None)

    @property
    def value_matrix(self) -> Matrix:
        """``V`` with the identity written out."""
        return self.V if self.V is not None else identity(len(self.A))

    @functools.cached_property
    def is_rational(self) -> bool:
        """True if ``A``, ``alpha`` and ``V`` are plain rationals (computed once per head)."""
        entries = [x for row in self.A for x in row] + [x for row in (self.V or ()) for x in row]
        return isinstance(self.alpha, Fraction) and all(isinstance(x, Fraction) for x in entries)


class DyadicTokens(Sequence):
    """Tokens given as a finite float array, read as the exact rationals the floats are.

    Behaves as the usual ``tokens`` (rows of :class:`~fractions.Fraction`, built on access), and
    lets the engines start from the floats themselves (``array``) without building a Fraction:
    the certified engine's float state needs no conversion, and the exact one comes from
    :meth:`~dynamics.rational.RationalMatrix.from_floats`.
    """

    def __init__(self, array):
        import numpy as np

        self.array = np.array(array, dtype=np.float64)
        if self.array.ndim != 2 or not self.array.size or not np.isfinite(self.array).all():
            raise ValueError("DyadicTokens takes a finite, non-empty 2-D float array")
        self.array.setflags(write=False)

    def __len__(self) -> int:
        return self.array.shape[0]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        return tuple(Fraction(x) for x in self.array[i].tolist())

    def __eq__(self, other) -> bool:
        return tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(self.array.tobytes())


@dataclass(frozen=True)
class Config:
    """A validated configuration: ``n`` tokens in ``R^d`` and one or more heads.

    Attributes
    ----------
    tokens
        ``n`` rows of ``d`` exact numbers (``Fraction``, or :class:`Expr` for
        irrational entries, which only the interval engine accepts).
    heads
        The heads ``(A_h, alpha_h, V_h)`` of layer 0 (of every layer without
        a schedule); one head with ``V = I`` is the paper's model.
    layers
        The layer schedule ``(heads of layer 0, …, heads of layer L-1)``, or
        ``None`` (every layer uses ``heads``). Layer ``k`` uses entry
        ``min(k, L-1)``: see :meth:`heads_at`. Building a ``Config`` with
        ``layers`` and ``heads=()`` fills ``heads`` with ``layers[0]``; a
        one-entry schedule is stored as ``None``.
    steps
        Optional number of steps recorded with a saved counterexample.
    source
        Where the config came from (a path, or ``"<dict>"``), for messages.
    """

    tokens: tuple[tuple[Number, ...], ...]
    heads: tuple[Head, ...]
    steps: int | None = None
    name: str | None = None
    description: str | None = None
    source: str = field(default="<dict>", compare=False)
    layers: tuple[tuple[Head, ...], ...] | None = None

    def __post_init__(self) -> None:
        if self.layers is None:
            return
        layers = tuple(tuple(heads) for heads in self.layers)
        if not layers or not all(layers):
            raise ValueError("layers must be a non-empty list of non-empty head tuples")
        if len({len(heads) for heads in layers}) > 1:
            raise ValueError("every layer of a schedule must have the same number of heads")
        if not self.heads:
            object.__setattr__(self, "heads", layers[0])
        elif tuple(self.heads) != layers[0]:
            raise ValueError("heads must be the first entry of layers (or empty)")
        object.__setattr__(self, "layers", layers if len(layers) > 1 else None)

    @property
    def schedule(self) -> tuple[tuple[Head, ...], ...]:
        """The parameter sets ``(heads of layer 0, …)``: ``layers``, or ``(heads,)`` without a schedule."""
        return self.layers if self.layers is not None else (self.heads,)

    def layer_index(self, k: int) -> int:
        """The schedule entry layer ``k`` uses: ``min(k, L - 1)``."""
        return 0 if self.layers is None else min(k, len(self.layers) - 1)

    def heads_at(self, k: int) -> tuple[Head, ...]:
        """The heads of layer ``k`` (the map from ``Z^k`` to ``Z^{k+1}``; also the follow sets of ``Z^k``)."""
        return self.schedule[self.layer_index(k)]

    def all_heads(self) -> list[tuple[str, Head]]:
        """Every head of every layer with its field name (``"A"``-prefix: ``""``, ``"heads[1]."``, ``"layers[2].heads[0]."``)."""
        out = []
        for l, heads in enumerate(self.schedule):
            layer = f"layers[{l}]." if self.layers is not None else ""
            for h, head in enumerate(heads):
                out.append((layer + (f"heads[{h}]." if len(heads) > 1 else ""), head))
        return out

    @property
    def identity_values(self) -> bool:
        """True if every head of every layer has ``V = I`` (the paper's model)."""
        return all(head.V is None for _, head in self.all_heads())

    @property
    def fixed_scores(self) -> bool:
        """True if every layer has the same score matrices ``A_h`` (steps and values may vary)."""
        first = [h.A for h in self.heads]
        return all([h.A for h in heads] == first for heads in self.schedule)

    @property
    def n(self) -> int:
        return len(self.tokens)

    @property
    def d(self) -> int:
        return self.tokens.array.shape[1] if isinstance(self.tokens, DyadicTokens) else len(self.tokens[0])

    @property
    def is_rational(self) -> bool:
        """True if every entry is rational, so the exact engine applies."""
        return (isinstance(self.tokens, DyadicTokens)
                or all(isinstance(x, Fraction) for row in self.tokens for x in row)) and all(
            h.is_rational for _, h in self.all_heads()
        )

    def first_irrational(self) -> str | None:
        """The first irrational field and its text (``"tokens[0][1] = sqrt(2)"``), or ``None``."""
        for i, row in enumerate(() if isinstance(self.tokens, DyadicTokens) else self.tokens):
            for k, x in enumerate(row):
                if isinstance(x, Expr):
                    return f"tokens[{i}][{k}] = {x.source}"
        for prefix, head in self.all_heads():
            if head.is_rational:
                continue
            if isinstance(head.alpha, Expr):
                return f"{prefix}alpha = {head.alpha.source}"
            for name, M in (("A", head.A), ("V", head.V or ())):
                for i, row in enumerate(M):
                    for k, x in enumerate(row):
                        if isinstance(x, Expr):
                            return f"{prefix}{name}[{i}][{k}] = {x.source}"
        return None

    def require_rational(self, what: str) -> None:
        """Raise :class:`ConfigError` naming the first irrational field, if any."""
        field_text = self.first_irrational()
        if field_text is not None:
            raise ConfigError(
                f"{self.source}: field {field_text} is an expression that is not a plain rational number "
                f"(sqrt, cos, pi, …); {what} takes rational configs (`--backend algebraic` runs algebraic "
                "entries such as sqrt(2) or cos(2*pi/5) exactly; `python -m dynamics simulate --backend interval` "
                "encloses any)"
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (exact strings), accepted back by :func:`config_from_dict`."""

        def num(x: Number) -> str:
            return format_fraction(x) if isinstance(x, Fraction) else x.source

        def mat(rows: Iterable[Iterable[Number]]) -> list[list[str]]:
            return [[num(x) for x in row] for row in rows]

        def head(h: Head) -> dict[str, Any]:
            return {"A": mat(h.A), "alpha": num(h.alpha)} | ({"V": mat(h.V)} if h.V is not None else {})

        def parameters(heads: tuple[Head, ...]) -> dict[str, Any]:
            return head(heads[0]) if len(heads) == 1 else {"heads": [head(h) for h in heads]}

        out: dict[str, Any] = {"tokens": mat(self.tokens)}
        if self.layers is None:
            out.update(parameters(self.heads))
        else:
            out["layers"] = [parameters(heads) for heads in self.layers]
        if self.steps is not None:
            out["steps"] = self.steps
        if self.name is not None:
            out["name"] = self.name
        if self.description is not None:
            out["description"] = self.description
        return out


def _error(source: str, where: str, what: str, limit: bool = False) -> ConfigError:
    kind = ConfigLimitError if limit else ConfigError
    return kind(f"{source}: field '{where}': {what}")


def _number(value: Any, source: str, where: str) -> Number:
    try:
        return parse_number(value)
    except NumberError as exc:
        raise _error(source, where, str(exc), limit=isinstance(exc, LimitError)) from None


def _matrix(value: Any, source: str, where: str, rows: int | None, cols: int | None) -> tuple:
    """A list of equal-length lists of numbers; ``rows``/``cols`` if given must match."""
    if not isinstance(value, list):
        raise _error(source, where, f"expected a list of rows, got {json_type(value)}")
    if not value:
        raise _error(source, where, "expected a non-empty list of rows, got []")
    if rows is not None and len(value) != rows:
        raise _error(source, where, f"expected {rows} rows (a {rows}×{rows} matrix), got {len(value)}")
    width = cols
    out = []
    for i, row in enumerate(value):
        if not isinstance(row, list):
            raise _error(source, f"{where}[{i}]", f"expected a list of numbers, got {json_type(row)}")
        if width is None:
            width = len(row)
            if width == 0:
                raise _error(source, f"{where}[{i}]", "expected at least one coordinate, got []")
        if len(row) != width:
            raise _error(
                source, f"{where}[{i}]", f"expected {width} numbers like the rows before, got {len(row)}"
            )
        out.append(tuple(_number(x, source, f"{where}[{i}][{k}]") for k, x in enumerate(row)))
    return tuple(out)


_ALPHA_PRECISIONS = (64, 256, 1024)  # bits tried for the sign of an irrational alpha before the exact field


def alpha_is_positive(alpha: Number, where: str = "alpha") -> bool | None:
    """Decide ``alpha > 0`` exactly: True or False, or None where it cannot be decided.

    A rational is compared directly. An expression is first enclosed by intervals at
    64, 256 and 1024 bits: an enclosure inside ``(0, ∞)`` proves ``alpha > 0``, one inside
    ``(-∞, 0]`` proves ``alpha ≤ 0``. An enclosure that still contains 0 leaves the exact
    zero (``sqrt(2) - sqrt(2)``) or a tiny value; an algebraic alpha is then decided in its
    number field (zero exactly by its representation, a nonzero sign by isolating
    intervals), and anything else (a transcendental value within ``2^-1024`` of 0, a field
    over the degree limit) is None: undecided, never guessed.

    Raises
    ------
    InputError
        ``alpha`` divides by zero exactly (``1/(sqrt(2) - sqrt(2))``), or it has no finite enclosure at any
        precision and no number field (``tan(pi/2)``); the message starts with ``where``.
    """
    if isinstance(alpha, Fraction):
        return alpha > 0
    from .numbers import EnclosureError, interval_precision

    undefined = None
    for bits in _ALPHA_PRECISIONS:
        with interval_precision(bits):
            try:
                box = alpha.interval()
            except EnclosureError as exc:  # a pole or a division by an interval holding 0, at every precision
                undefined = exc
                break
            if box.a > 0:
                return True
            if box.b <= 0:
                return False
    from .number_field import NotAlgebraicError, field_of

    try:
        _, (element,) = field_of([alpha], [where])
    except (NotAlgebraicError, LimitError):
        if undefined is not None:  # tan(pi/2), 1/(pi - pi): say what is wrong, not "undecided"
            raise type(undefined)(f"{where}: {undefined}") from None
        return None
    return element.sign() > 0


def _alpha(value: Any, source: str, where: str, allow_nonpositive: bool) -> Number:
    alpha = _number(value, source, where)
    if allow_nonpositive:
        return alpha
    try:
        positive = alpha_is_positive(alpha, f"field '{where}'")
    except InputError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if positive:
        return alpha
    if isinstance(alpha, Fraction):
        text = format_fraction(alpha)
        if len(text) > 40:
            from .floats import approx_str

            text = f"about {approx_str(alpha, 6)}"
    else:
        text = str(alpha) if len(str(alpha)) <= 40 else str(alpha)[:37] + "..."
    if positive is None:
        raise _error(source, where, f"expected alpha > 0, and whether {text} is positive could not be decided"
                     " (no interval up to 1024 bits excludes 0, and no number field decides it;"
                     " simulate --allow-nonpositive-alpha runs it)")
    raise _error(source, where, f"expected alpha > 0, got {text}"
                 f"{'' if isinstance(alpha, Fraction) else ' (it is <= 0)'} (simulate --allow-nonpositive-alpha allows it)")


def _head(obj: Any, source: str, where: str, d: int, allow_nonpositive: bool) -> Head:
    if not isinstance(obj, dict):
        raise _error(source, where, f"expected an object with 'A', 'V' and 'alpha', got {json_type(obj)}")
    unknown = sorted(set(obj) - _HEAD_KEYS)
    if unknown:
        raise _error(source, f"{where}.{unknown[0]}", "unknown key (a head has 'A', 'V' and 'alpha')")
    return _one_head(obj, source, f"{where}.", d, allow_nonpositive)


def _one_head(obj: dict, source: str, prefix: str, d: int, allow_nonpositive: bool) -> Head:
    """``A`` (default I), ``V`` (default I) and the required ``alpha`` of one head; fields ``prefix + key``."""
    if "alpha" not in obj:
        what = "every head needs a step size alpha" if prefix else 'expected a step size alpha > 0, e.g. "1/2"'
        raise _error(source, f"{prefix}alpha", f"missing ({what})")
    A = _matrix(obj["A"], source, f"{prefix}A", d, d) if "A" in obj else identity(d)
    V = _matrix(obj["V"], source, f"{prefix}V", d, d) if "V" in obj else None
    return Head(A=A, alpha=_alpha(obj["alpha"], source, f"{prefix}alpha", allow_nonpositive), V=V)


def _parameters(obj: dict, source: str, prefix: str, d: int, allow_nonpositive: bool) -> tuple[Head, ...]:
    """The heads of one parameter set: ``{"heads": [...]}`` or ``{"A", "V", "alpha"}``."""
    if "heads" in obj:
        for key in ("A", "V", "alpha"):
            if key in obj:
                where = "top-level " if not prefix else ""
                raise _error(source, f"{prefix}{key}", f"give either 'heads' or {where}'A'/'V'/'alpha', not both")
        heads_value = obj["heads"]
        if not isinstance(heads_value, list) or not heads_value:
            got = json_type(heads_value) if not isinstance(heads_value, list) else "[]"
            raise _error(source, f"{prefix}heads", f"expected a non-empty list of heads, got {got}")
        heads = tuple(_head(h, source, f"{prefix}heads[{i}]", d, allow_nonpositive)
                      for i, h in enumerate(heads_value))
    else:
        heads = (_one_head(obj, source, prefix, d, allow_nonpositive),)
    alphas = [h.alpha for h in heads]
    if all(isinstance(a, Fraction) for a in alphas) and 1 + sum(alphas) == 0:
        raise _error(source, f"{prefix}alpha",
                     "1 + sum of alpha is 0: the normalisation 1/(1 + alpha) is undefined")
    return heads


def _layers(value: Any, source: str, d: int, allow_nonpositive: bool) -> tuple[tuple[Head, ...], ...]:
    if not isinstance(value, list) or not value:
        got = json_type(value) if not isinstance(value, list) else "[]"
        raise _error(source, "layers", f"expected a non-empty list of parameter sets, got {got}")
    out = []
    for l, entry in enumerate(value):
        where = f"layers[{l}]"
        if not isinstance(entry, dict):
            raise _error(source, where, f"expected an object with 'A', 'V', 'alpha' or 'heads', got {json_type(entry)}")
        unknown = sorted(set(entry) - _LAYER_KEYS)
        if unknown:
            raise _error(source, f"{where}.{unknown[0]}",
                         "unknown key (a layer has 'A', 'V' and 'alpha', or 'heads')")
        heads = _parameters(entry, source, f"{where}.", d, allow_nonpositive)
        if out and len(heads) != len(out[0]):
            raise _error(source, f"{where}.heads",
                         f"expected {len(out[0])} head(s) like layers[0] (every layer has the same number of heads), "
                         f"got {len(heads)}")
        out.append(heads)
    return tuple(out)


def config_from_dict(
    obj: Any, source: str = "<dict>", *, allow_nonpositive_alpha: bool = False
) -> Config:
    """Validate a parsed JSON object and build a :class:`Config`.

    Parameters
    ----------
    obj
        The decoded JSON document.
    source
        Name used in error messages (usually the file path).
    allow_nonpositive_alpha
        Accept ``alpha <= 0`` (outside the paper's hypotheses). The total
        ``1 + sum(alpha_h)`` must still be nonzero.

    Raises
    ------
    ConfigError
        With a one-line message naming the field and the expectation.
    """
    if not isinstance(obj, dict):
        raise ConfigError(f"{source}: expected a JSON object with 'tokens', got {json_type(obj)}")
    unknown = sorted(set(obj) - _TOP_KEYS)
    if unknown:
        raise _error(source, unknown[0], f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    if "tokens" not in obj:
        raise _error(source, "tokens", "missing (expected a list of n token vectors)")
    tokens = _matrix(obj["tokens"], source, "tokens", None, None)
    d = len(tokens[0])

    layers = None
    if "layers" in obj:
        for key in _PARAMETER_KEYS:
            if key in obj:
                raise _error(source, key, "give either 'layers' or top-level parameters ('A', 'V', 'alpha', "
                             "'heads'), not both")
        layers = _layers(obj["layers"], source, d, allow_nonpositive_alpha)
        heads = layers[0]
    else:
        heads = _parameters(obj, source, "", d, allow_nonpositive_alpha)

    steps = obj.get("steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
        got = "a negative integer" if type(steps) is int else json_type(steps)  # never a 30,000-digit repr
        raise _error(source, "steps", f"expected a non-negative integer, got {got}")
    for key in ("name", "description"):
        if key in obj and not isinstance(obj[key], str):
            raise _error(source, key, f"expected a string, got {json_type(obj[key])}")
    return Config(
        tokens=tokens,
        heads=heads,
        steps=steps,
        name=obj.get("name"),
        description=obj.get("description"),
        source=source,
        layers=layers,
    )


def load_config(
    path: str | os.PathLike,
    *,
    allow_nonpositive_alpha: bool = False,
    max_bytes: int = MAX_CONFIG_BYTES,
) -> Config:
    """Read and validate a JSON config file; see :func:`config_from_dict`.

    Parameters
    ----------
    path
        A regular file or a FIFO holding UTF-8 JSON.
    allow_nonpositive_alpha
        See :func:`config_from_dict`.
    max_bytes
        The largest file accepted (default ``MAX_CONFIG_BYTES``, 64 MiB); at most
        ``max_bytes + 1`` bytes are ever read.

    Raises
    ------
    ConfigError
        Missing file, a directory or device, unreadable or invalid JSON, or invalid content.
    ConfigLimitError
        A file over ``max_bytes``, JSON nested too deeply, or a number beyond
        the limits of :mod:`dynamics.numbers`.
    """
    name = os.fspath(path)
    text = _read_text(name, max_bytes)
    try:
        obj = _parse_json(text)
    except LimitError as exc:
        raise ConfigLimitError(f"{name}: {exc}") from None
    except RecursionError:
        raise ConfigLimitError(
            f"{name}: JSON nested deeper than the parser allows (about {sys.getrecursionlimit()} levels; "
            "a config needs at most 5)"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:
        raise ConfigError(f"{name}: invalid JSON: {exc}") from None
    return config_from_dict(obj, name, allow_nonpositive_alpha=allow_nonpositive_alpha)


def _parse_json(text: str) -> Any:
    """``json.loads`` with NaN/Infinity refused, integer literals exact up to ``MAX_DIGITS`` digits, and
    nonzero literals that round to 0.0 marked (:func:`~dynamics.numbers.json_float`) so that they are refused.

    The fast C parser reads everything first; only when it fails with a plain
    ``ValueError`` (Python's 4300-digit ``int`` limit, or a NaN) is the text
    parsed again with :func:`~dynamics.numbers.json_int` for the integers.
    """
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=json_float)
    except json.JSONDecodeError:
        raise
    except ValueError:
        return json.loads(text, parse_constant=_reject_constant, parse_int=json_int, parse_float=json_float)


def _read_text(name: str, max_bytes: int) -> str:
    """The UTF-8 text of a regular file or FIFO of at most ``max_bytes`` bytes."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise InputError(f"max_bytes must be a non-negative integer, got {max_bytes!r}")
    _check_file_kind(name)
    try:
        with open(name, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISREG(info.st_mode):  # refuse a large file without reading it
                _check_size(name, info.st_size, max_bytes)
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror or exc}") from None
    _check_size(name, len(data), max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _check_file_kind(name: str) -> None:
    """Refuse a missing path, a directory, and anything but a regular file or a FIFO."""
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise ConfigError(f"{name}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror or exc}") from None
    except ValueError:  # an embedded NUL byte: no file can have that name
        raise ConfigError(f"{name!r}: no such file (a path cannot contain a NUL byte)") from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{name}: is a directory, expected a JSON config file")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        kind = "a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode) \
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
        raise ConfigError(f"{name}: is {kind}, expected a JSON config file (a regular file or a pipe)")


def _check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ConfigLimitError(
            f"{name}: config file larger than the limit of {max_bytes} bytes (raise it with --max-config-size SIZE, or load_config(max_bytes=…))"
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")
