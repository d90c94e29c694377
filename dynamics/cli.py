"""Command-line helpers shared by the package entry points.

* :class:`Parser`: an ``argparse`` parser whose errors are one line on stderr
  and exit status 2 (no usage dump, no traceback).
* :func:`run_main`: runs a command, turning expected failures (bad config,
  bad option, unreadable file) into one-line messages and a non-zero exit.
* :func:`write_atomic`: write a file through a temporary file and a rename, so
  that an interrupted run never leaves a half-written output.
* :func:`progress_bar`: a tqdm bar on stderr (silent when stderr is not a TTY).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any, Callable, NoReturn

from .errors import UserError


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` with one-line errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    value = int(text)
    if value <= 0:
        raise ValueError
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise ValueError
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError
    return value


positive_int.__name__ = "positive integer"  # argparse names the type in its error message
non_negative_int.__name__ = "non-negative integer"
positive_float.__name__ = "positive number"


def run_main(prog: str, main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call ``main(argv)``; report expected errors as ``prog: error: …`` in one line.

    :class:`~dynamics.errors.UserError` (which includes ``ConfigError``,
    ``NumberError`` and ``LimitError``) and ``OSError`` are user-facing: one
    line on stderr, exit status 2. Anything else is a bug and keeps its
    traceback. Ctrl-C exits with status 130 and no traceback.
    """
    try:
        return main(argv)
    except (UserError, OSError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def write_atomic(path: str, content: str | bytes) -> None:
    """Write text or bytes to ``path`` via a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
    try:
        if isinstance(content, bytes):
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def dump_json(document: Any) -> str:
    """Compact, deterministic JSON text with a trailing newline."""
    return json.dumps(document, separators=(",", ":"), allow_nan=False) + "\n"


def progress_bar(total: int, desc: str, enabled: bool):
    """A ``tqdm`` bar on stderr, or ``None`` when disabled (or stderr is not a terminal)."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, disable=None, leave=False)
