"""The ``attention-dynamics`` command: every command of the suite behind one name.

The libraries are :mod:`dynamics` (the model and its engines), :mod:`verify`
(claims, lemmas, hunts, limits, crosscheck, report) and :mod:`sentiment` (the
IMDb experiment); this package only dispatches the command line
(:func:`attention_dynamics.cli.main`). The ``python -m dynamics|verify|sentiment``
forms run the same code.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("attention-dynamics")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
