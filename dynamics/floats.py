"""Where exact numbers become floats: explicitly, and only where a float is asked for.

Exact values may lie far outside float64's range (``"1e400"``, a 310-digit
integer, ``2^-1100``). Three kinds of conversion, each for one purpose:

* :func:`float_rows` — the *input* of a float backend (NumPy, torch): each
  entry rounded to the nearest float of the backend's dtype; a finite value
  beyond the dtype's range is a :class:`~dynamics.config.ConfigError` naming
  the field ("outside the float32 range"), never an ``inf`` or a traceback.
  Values below the smallest subnormal round to zero, as float code would.
* :func:`approx_float` — a *measurement* (a drift, a distance, a gap) as the
  nearest float, saturating to ``±inf`` beyond the range; :func:`json_number`
  writes such a measurement to JSON (``"inf"`` as a string).
* :func:`approx_str` — a *readable* decimal approximation of an exact number
  of any magnitude (``"1.00000e+400"``), computed in integer arithmetic.

Exact output (trajectories, limits, witnesses) never goes through floats: it is
printed by :func:`dynamics.numbers.format_fraction`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple, Sequence

import numpy as np

__all__ = ["FLOAT_MAX", "float_rows", "nearest_float", "exact_input", "float_config", "FloatHead", "approx_float", "approx_str", "json_number"]

#: Largest finite value of each float dtype.
FLOAT_MAX = {"float64": Fraction(np.finfo(np.float64).max.item()),
             "float32": Fraction(np.finfo(np.float32).max.item())}


def _rounds_to_infinity(x: Fraction, dtype: str) -> bool:
    """True if round-to-nearest of ``x`` in ``dtype`` overflows (``|x| ≥ max + ulp(max)/2``)."""
    big = FLOAT_MAX[dtype]
    mantissa = 53 if dtype == "float64" else 24
    half_ulp = big / (2 ** mantissa - 1) / 2  # max = (2^p − 1) · 2^(emax − p + 1): ulp(max) = max / (2^p − 1)
    return abs(x) >= big + half_ulp


def float_rows(rows: Sequence[Sequence[Fraction]], dtype: str, source: str, where: str) -> np.ndarray:
    """Exact rows rounded to ``dtype`` (``"float64"``/``"float32"``), refusing values beyond its range.

    Parameters
    ----------
    rows
        Rows of exact numbers: Fractions, or number-field elements (rounded correctly as well).
    dtype
        The float format of the backend.
    source
        The config's name (its path), for the error message.
    where
        The field the rows come from (``"tokens"``, ``"A"``, ``"heads[1].A"``),
        for the error message.

    Raises
    ------
    dynamics.config.ConfigError
        ``c.json: field 'tokens[3][0]': 1.00e+400 is outside the float64 range (±1.8e+308); use the exact or certified backend``.
    """
    from .config import ConfigError

    out = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=np.float64)
    for i, row in enumerate(rows):
        for k, x in enumerate(row):
            if _rounds_to_infinity(x, dtype):
                limit = float(FLOAT_MAX[dtype])
                shown = x if isinstance(x, (int, Fraction)) else x.bounds()[0]
                raise ConfigError(f"{source}: field '{where}[{i}][{k}]': {approx_str(shown, 3)} is outside the {dtype} range "
                                  f"(±{limit:.2g}); use the exact or certified backend")
            out[i, k] = nearest_float(x, dtype)
    return out.astype(dtype)  # exact: each entry is already a value of dtype


def nearest_float(x: Fraction, dtype: str = "float64") -> float:
    """``x`` rounded to the nearest value of ``dtype`` (ties to even), as a Python float; ``x`` must not
    round to infinity (:func:`_rounds_to_infinity`). Values below half the smallest subnormal give 0.
    ``x`` may be a number-field element (:class:`~dynamics.number_field.FieldElement`), also rounded
    correctly (:func:`_nearest_algebraic`).

    ``p/q`` in Python is correctly rounded to float64. For float32 that double rounding
    ``RN32(RN64(x))`` is exact except in one case: every float32 value and every midpoint between
    two neighbouring float32 values is a float64 value (24 + 1 bits, exponents inside float64's
    normal range), so rounding ``x`` to float64 never crosses such a point and
    ``RN32(RN64(x)) = RN32(x)`` unless ``RN64(x)`` *lands* on a midpoint ``m ≠ x``; then the
    nearest float32 is the neighbour on ``x``'s side of ``m`` (``1 + 2^-24 + 2^-60`` rounds up to
    ``1 + 2^-23``, not to even ``1``).
    """
    if not isinstance(x, (int, Fraction)):
        return _nearest_algebraic(x, dtype)
    x = Fraction(x)
    near64 = x.numerator / x.denominator
    if dtype == "float64" or Fraction(near64) == x:
        return float(np.float64(near64).astype(dtype))
    with np.errstate(over="ignore"):
        near32 = np.float32(near64)
    if not np.isfinite(near32):  # RN64(x) is the overflow threshold itself, which x (refused beyond it) is below
        return math.copysign(float(np.finfo(np.float32).max), near64)
    with np.errstate(over="ignore"):  # the neighbour of the largest float32 is inf
        below, above = (near32, np.nextafter(near32, np.float32(np.inf))) if Fraction(float(near32)) <= Fraction(near64) \
            else (np.nextafter(near32, np.float32(-np.inf)), near32)
    if np.isfinite(above) and Fraction(float(below)) + Fraction(float(above)) == 2 * Fraction(near64):
        return float(above if x > Fraction(near64) else below)
    return float(near32)


def _nearest_algebraic(x, dtype: str) -> float:
    """The nearest ``dtype`` value to a number-field element, from rational bounds ``lo ≤ x ≤ hi``
    (:meth:`~dynamics.number_field.FieldElement.bounds`) at doubling precision until ``lo`` and ``hi``
    round to the same value: rounding is monotone, so ``x`` rounds to it too. This ends: an
    irrational ``x`` is neither a float nor a midpoint between two (both rational), so it lies
    strictly inside one rounding cell, and the bounds shrink to ``x``."""
    from .errors import LimitError
    from .number_field import MAX_SIGN_PRECISION

    if x.is_rational():
        return nearest_float(x.to_fraction(), dtype)
    prec = 64
    while prec <= MAX_SIGN_PRECISION:
        lo, hi = x.bounds(prec)
        if not (_rounds_to_infinity(lo, dtype) or _rounds_to_infinity(hi, dtype)):
            below, above = nearest_float(lo, dtype), nearest_float(hi, dtype)
            if below == above:
                return math.copysign(below, x.sign())
        prec *= 2
    raise LimitError(f"rounding an element of Q({x.field.generator}) to {dtype}: not decided within "
                     f"{MAX_SIGN_PRECISION} bits (expected to be unreachable; please report the config)")


def approx_float(x: Fraction | int) -> float:
    """The nearest float64 to ``x``, or ``±inf`` beyond the range (for measurements, not for arithmetic).

    ``x`` may also be a number-field element (:class:`~dynamics.number_field.FieldElement`), whose
    ``float`` is the nearest double to within a few ulps, saturating the same way.
    """
    if not isinstance(x, (int, Fraction)):
        return float(x)
    x = Fraction(x)
    try:
        return x.numerator / x.denominator
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def json_number(x: float) -> float | str:
    """A float measurement for JSON: itself if finite, else ``"inf"``, ``"-inf"`` or ``"nan"``."""
    return x if math.isfinite(x) else str(x)


def approx_str(x: Fraction | int, digits: int = 6) -> str:
    """``x`` in decimal scientific notation with ``digits`` significant digits, for any magnitude.

    Computed in integer arithmetic (no float conversion), correctly rounded
    (ties away from zero), e.g. ``approx_str(Fraction(10**400, 3), 4) == "3.333e+399"``.
    """
    x = Fraction(x)
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    x = abs(x)
    # 10^e ≤ x < 10^(e+1); start from the estimate through the bit lengths and correct it.
    e = math.floor((x.numerator.bit_length() - x.denominator.bit_length()) * math.log10(2))
    while x >= Fraction(10) ** (e + 1):
        e += 1
    while x < Fraction(10) ** e:
        e -= 1
    scaled = x * Fraction(10) ** (digits - 1 - e)  # in [10^(digits-1), 10^digits)
    m = int(scaled + Fraction(1, 2))
    if m >= 10 ** digits:
        m //= 10
        e += 1
    text = str(m)
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{sign}{mantissa}e{e:+03d}"


def exact_input(config, what: str):
    """The config a float backend rounds: itself when rational; when its irrational entries are
    algebraic (``sqrt(2)/2``, ``cos(2*pi/5)``), the same config with every entry an element of their
    number field (:func:`~dynamics.backends.algebraic.config_over_field`), so that each is rounded to
    the dtype correctly, as ``1/3`` is. Other irrational entries (``pi``) are a one-line
    :class:`~dynamics.number_field.NotAlgebraicError` naming the field; ``what`` (the backend) is named in it."""
    if config.first_irrational() is None:
        return config
    from .backends.algebraic import config_over_field
    from .number_field import NotAlgebraicError

    try:
        return config_over_field(config)[1]
    except NotAlgebraicError as exc:
        raise NotAlgebraicError(f"{exc} ({what} rounds rational or algebraic entries)") from None


def float_config(config, dtype: str) -> tuple[np.ndarray, list[list["FloatHead"]]]:
    """A rational or algebraic config in a float dtype: ``(tokens, schedule)``, each entry correctly
    rounded (:func:`exact_input`, :func:`nearest_float`) and range-checked field by field.

    ``schedule[l]`` holds one :class:`FloatHead` ``(A, alpha, V)`` per head of
    layer entry ``l`` (``V = None`` for the identity). ``tokens``, ``A`` and
    ``V`` come from :func:`float_rows`; each ``alpha`` is rounded to float64
    (and refused if it overflows). Raises :class:`~dynamics.config.ConfigError`
    naming the first field outside the dtype's range
    (``layers[1].heads[0].V[2][0]``).
    """
    config = exact_input(config, f"a {dtype} run")
    tokens = float_rows(config.tokens, dtype, config.source, "tokens")
    named = iter(config.all_heads())
    schedule = []
    for heads in config.schedule:
        entry = []
        for _ in heads:
            prefix, h = next(named)
            A = float_rows(h.A, dtype, config.source, f"{prefix}A")
            alpha = float_rows([[h.alpha]], dtype, config.source, f"{prefix}alpha")[0, 0].item()
            V = None if h.V is None else float_rows(h.V, dtype, config.source, f"{prefix}V")
            entry.append(FloatHead(A, alpha, V))
        schedule.append(entry)
    return tokens, schedule


class FloatHead(NamedTuple):
    """One head in floats: ``A`` (``d × d`` array), ``alpha`` (a float), ``V`` (array, or ``None`` for I)."""

    A: np.ndarray
    alpha: float
    V: np.ndarray | None
