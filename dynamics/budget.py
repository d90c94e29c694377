"""Memory estimates checked before a run starts: a run that cannot fit is refused in one line.

A run keeps every state ``Z^0 … Z^K`` (the trajectory) and, per step,
transient score matrices. :func:`estimate_memory` gives an upper estimate of
the peak bytes for a backend; :func:`check_memory` compares it with the limit
(by default the memory this machine has available now, ``MemAvailable``) and
raises :class:`~dynamics.errors.LimitError` naming the estimate, the limit and
the option that raises it (``--max-memory``).

The estimates (``n`` tokens, ``d`` coordinates, ``K`` steps, ``H`` heads):

* **float / torch**: ``K·n·d`` state entries of 8 bytes (held as float64
  when recorded) plus ``4·H`` dense ``n × n`` float64 matrices per step
  (scores, winners, weights), and the JSON text of the trajectory
  (``≈ 25`` bytes a number) when it is written.
* **exact / certified / interval**: the entries are integers over a common
  denominator; at step ``k`` an entry has at most about ``b₀ + k·g`` bits,
  with ``b₀`` the bits of the input and ``g`` the bits of the step weights'
  common denominator plus 2 (ties add the bits of the follow-set sizes' lcm,
  not charged here). Each entry
  costs a Python integer (``36`` bytes + bits/8) in the recorded state and
  about twice its digits as text. Scores are computed in blocks
  (``dynamics.backends.exact.SCORE_BLOCK_ENTRIES``), a bounded term.

The estimates are deliberately simple; they err on the high side for
generic runs (the common content is divided out every step) and exist to
refuse runs that could never fit (``n`` in the tens of thousands on a float
backend, ``--steps 10⁸``), not to predict memory to the byte.
"""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction

from .config import Config
from .errors import InputError, LimitError
from .rational import common_denominator
from .rules import step_weights

__all__ = ["available_memory", "estimate_memory", "check_memory", "parse_size"]

#: Bits of the tokens' common denominator (the exact state is ``N / D`` over one ``D``).
MAX_COMMON_DENOMINATOR_BITS = 1_000_000
#: The largest size accepted (sizes beyond it are typing mistakes, not machines).
MAX_SIZE = 2 ** 60
_UNITS = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}


def parse_size(text: str) -> int:
    """``"512M"``, ``"4G"``, ``"1.5T"`` or a number of bytes → bytes (binary units)."""
    match = re.fullmatch(r"\s*([0-9]{1,30}(?:\.[0-9]{1,30})?)\s*([KMGT]?)(?:i?B)?\s*", str(text), flags=re.IGNORECASE)
    if not match:
        raise InputError(f"expected a size like 512M, 4G or a number of bytes, got {text!r}")
    size = int(Fraction(match.group(1)) * _UNITS[match.group(2).upper()])
    if size > MAX_SIZE:
        raise InputError(f"size {text!r} is more than {_human(MAX_SIZE)}")
    return size


parse_size.__name__ = "size"  # argparse names the type in its error message


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (``MemAvailable``; physical memory elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40  # unknown: do not refuse on a guess


def _input_bits(config: Config) -> int:
    """Bits of the largest numerator or common denominator among the tokens (exact entries)."""
    top = 1
    den = common_denominator([x for row in config.tokens for x in row if hasattr(x, "denominator")],
                             max_bits=MAX_COMMON_DENOMINATOR_BITS)
    if den is None:
        raise LimitError(f"{config.source}: the tokens' common denominator has more than "
                         f"{MAX_COMMON_DENOMINATOR_BITS} bits (the exact engine works over it; "
                         "dynamics.budget.MAX_COMMON_DENOMINATOR_BITS)")
    for row in config.tokens:
        for x in row:
            if hasattr(x, "numerator"):
                top = max(top, abs(x.numerator * (den // x.denominator)).bit_length())
    return max(top, den.bit_length())


def _growth_bits(config: Config) -> int:
    """Bits an exact entry may typically gain per step: the step weights' common denominator, plus 2.

    Ties add the bits of the lcm of the follow-set sizes; generic runs have
    none, and the estimate does not charge for them.
    """
    weights_bits = 1
    for heads in config.schedule:  # the costliest layer; a value matrix adds its integer form's bits
        if all(hasattr(h.alpha, "denominator") for h in heads):
            c0, ch = step_weights([h.alpha for h in heads])
            bits = common_denominator([c0, *ch]).bit_length()
            for h in heads:
                entries = [x for row in (h.V or ()) for x in row]
                if entries and all(hasattr(x, "denominator") for x in entries):
                    scale = common_denominator(entries)
                    bits += scale.bit_length() + max(abs(int(x * scale)) for x in entries).bit_length() + len(h.A).bit_length()
            weights_bits = max(weights_bits, bits)
    return weights_bits + 2


def estimate_memory(config: Config, steps: int, backend: str, keep_states: bool = True) -> int:
    """Upper estimate of the peak bytes of a run (module docstring); cheap, no work is done.

    ``keep_states=False`` is a run that holds only its current state (a
    certified limit): its size at the last step counts, not the trajectory.
    """
    n, d, K, H = config.n, config.d, steps, len(config.heads)
    entries = (K + 1) * n * d if keep_states else n * d
    if backend in ("float", "torch"):
        return entries * (8 + 25) + 4 * H * n * n * 8
    if backend == "interval":
        return entries * 400 + 4 * H * n * n * 400
    b0, g = _input_bits(config), _growth_bits(config)
    last_bits = b0 + g * K
    mean_bits = b0 + g * K / 2 if keep_states else last_bits  # the average over k = 0 … K of b0 + k·g
    per_entry = 36 + mean_bits / 8 + 2 * mean_bits * math.log10(2)  # int object + its decimal text
    from .backends.certified import BLOCK_ENTRIES
    from .backends.exact import SCORE_BLOCK_ENTRIES

    exact_scores = min(n * n, max(SCORE_BLOCK_ENTRIES, n)) * (36 + 2 * last_bits / 8)
    float_filter = min(n * n, max(BLOCK_ENTRIES, n)) * 4 * 8
    if backend == "algebraic":  # each entry is a polynomial in θ: about (degree) rationals; degree ≤ 8 assumed
        return int(8 * (entries * per_entry + n * n * (36 + 2 * last_bits / 8)))
    return int(entries * per_entry + exact_scores + float_filter)


#: Estimated size below which a run is not checked against the available memory.
SMALL_RUN_BYTES = 16 << 20


def check_memory(config: Config, steps: int, backend: str, limit: int | None = None,
                 keep_states: bool = True) -> None:
    """Refuse (``LimitError``) a run whose estimated memory exceeds ``limit`` (default: available memory).

    Without a ``limit``, a run estimated under :data:`SMALL_RUN_BYTES` is never refused (reading the
    available memory costs more than a small run: a hunt checks thousands of them).
    """
    need = estimate_memory(config, steps, backend, keep_states)
    if limit is None and need <= SMALL_RUN_BYTES:
        return
    have = available_memory() if limit is None else limit
    if need > have:
        raise LimitError(
            f"{config.source}: {steps} steps of the {backend} backend on n={config.n} tokens in R^{config.d} need about "
            f"{_human(need)} of memory, more than the {'limit' if limit is not None else 'available'} "
            f"{_human(have)}; use fewer steps or tokens, or raise the limit with --max-memory SIZE"
        )


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.3g} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.3g} PiB"
