"""Exact rational matrices as an integer matrix over one common denominator.

``Z = N / D`` with ``N`` a FLINT ``fmpz_mat`` and ``D > 0`` an integer. This is
the representation that makes the exact engine fast (SPEC §3): a Gram matrix
``N Nᵀ`` is one FLINT integer product (about 1000× faster than
``fractions.Fraction`` at n = 128, d = 16), and comparisons of scores within a
row need no division because the denominator ``D²`` is common and positive.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

import numpy as np
from flint import fmpz, fmpz_mat

from .numbers import format_fraction

__all__ = ["RationalMatrix", "common_denominator"]


def common_denominator(values: Sequence[Fraction], max_bits: int | None = None) -> int | None:
    """The least common multiple of the denominators (1 for an empty input).

    Computed with FLINT (subquadratic on big numbers), skipping denominators
    that already divide it. With ``max_bits``, returns ``None`` as soon as the
    lcm exceeds that many bits, before computing it any further.
    """
    den = 1
    for x in values:
        if den % x.denominator:
            den = int(fmpz(den).lcm(x.denominator))
            if max_bits is not None and den.bit_length() > max_bits:
                return None
    return den


class RationalMatrix:
    """An exact ``n × d`` rational matrix ``N / D`` (``D > 0``).

    The representation is not required to be reduced; equality of rows is
    still decided exactly by comparing integer rows, because all rows share
    ``D``.
    """

    __slots__ = ("_num", "den", "_ints")

    def __init__(self, num: fmpz_mat | None, den: int, ints: list[tuple[int, ...]] | None = None):
        if den <= 0:
            raise ValueError("denominator must be positive")
        if num is None and ints is None:
            raise ValueError("give the numerators as an fmpz_mat or as integer rows")
        self._num = num
        self.den = int(den)
        self._ints = ints

    def __getstate__(self):
        """For multiprocessing only: the integer rows and denominator (FLINT matrices do not pickle)."""
        return self.den, self.ints()

    def __setstate__(self, state) -> None:
        self.den, self._ints = state
        self._num = None

    @property
    def num(self) -> fmpz_mat:
        """The numerators as a FLINT matrix (built on first use)."""
        if self._num is None:
            rows = self._ints
            self._num = fmpz_mat(len(rows), len(rows[0]), [x for row in rows for x in row])
        return self._num

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Fraction]]) -> "RationalMatrix":
        """Build from rows of ``Fraction`` (all rows the same length, at least one)."""
        flat = [x if type(x) is Fraction else Fraction(x) for row in rows for x in row]
        den = common_denominator(flat)
        n, d = len(rows), len(rows[0])
        ints = [x.numerator * (den // x.denominator) for x in flat]
        return cls(None, den, [tuple(ints[i * d:(i + 1) * d]) for i in range(n)])

    @classmethod
    def from_floats(cls, values: np.ndarray) -> "RationalMatrix":
        """The exact values of a finite float array (every float is a dyadic rational ``m · 2^e``).

        ``frexp`` splits each entry into ``m ∈ [½, 1)`` (53 bits, an exact integer once scaled by
        ``2⁵³``) and ``e``; the common denominator is a power of two. No rounding anywhere.
        """
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 2 or not np.isfinite(array).all():
            raise ValueError("from_floats takes a finite 2-D float array")
        mantissa, exponent = np.frexp(array)
        ints = (mantissa * 2.0 ** 53).astype(np.int64)  # exact: 53-bit integers
        shifts = exponent.astype(np.int64) - 53  # value = ints · 2^shifts
        nonzero = ints != 0
        low = int(shifts[nonzero].min()) if nonzero.any() else 0
        rows = [[x << (t - low) if x else 0 for x, t in zip(r, tr)] for r, tr in zip(ints.tolist(), shifts.tolist())]
        if low >= 0:
            return cls.from_ints([[x << low for x in row] for row in rows], 1)
        return cls.from_ints(rows, 1 << -low)

    @classmethod
    def from_ints(cls, rows: Sequence[Sequence[int]], den: int, reduce: bool = True) -> "RationalMatrix":
        """Build from integer rows over ``den``; divides out the common content if ``reduce``."""
        if reduce:
            g = den
            for row in rows:
                g = math.gcd(g, *row)
                if g == 1:
                    break
            if g > 1:
                rows = [[x // g for x in row] for row in rows]
                den //= g
        return cls(None, den, [tuple(row) for row in rows])

    @property
    def shape(self) -> tuple[int, int]:
        if self._ints is not None:
            return len(self._ints), len(self._ints[0])
        return self._num.nrows(), self._num.ncols()

    def ints(self) -> list[tuple[int, ...]]:
        """Numerator rows as tuples of Python ints (cached); equal tuples mean equal tokens."""
        if self._ints is None:
            self._ints = [tuple(int(x) for x in row) for row in self._num.tolist()]
        return self._ints

    def row_keys(self) -> list[tuple[int, ...]]:
        """Hashable keys with ``keys[i] == keys[j]`` iff ``z_i = z_j`` exactly."""
        return self.ints()

    def fractions(self) -> list[list[Fraction]]:
        """Rows of ``Fraction`` in lowest terms."""
        return [[Fraction(x, self.den) for x in row] for row in self.ints()]

    def row(self, i: int) -> list[Fraction]:
        return [Fraction(x, self.den) for x in self.ints()[i]]

    def strings(self) -> list[list[str]]:
        """Rows of ``"p/q"`` strings (SPEC §5 trajectory format)."""
        return [[format_fraction(x) for x in row] for row in self.fractions()]

    def to_numpy(self, dtype=np.float64) -> np.ndarray:
        """Nearest-float approximation for plots and comparisons: each entry correctly rounded,
        ``±inf`` beyond float64's range (:func:`dynamics.floats.approx_float`)."""
        from .floats import approx_float

        return np.array([[approx_float(x) for x in row] for row in self.fractions()], dtype=dtype)

    def max_bits(self) -> int:
        """Bits of the largest numerator entry or of the denominator (size of the numbers)."""
        return max([self.den.bit_length()] + [abs(x).bit_length() for row in self.ints() for x in row])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RationalMatrix):
            return NotImplemented
        return self.shape == other.shape and self.fractions() == other.fractions()

    def __repr__(self) -> str:
        n, d = self.shape
        return f"RationalMatrix({n}×{d}, den bits={self.den.bit_length()})"
