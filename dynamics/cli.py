"""Command-line helpers shared by the package entry points.

* :class:`Parser`: an ``argparse`` parser whose errors are one line on stderr
  and exit status 2 (no usage dump, no traceback).
* :func:`run_main`: runs a command, turning expected failures (bad config,
  bad option, unreadable file) into one-line messages and a non-zero exit.
* :func:`write_atomic`: write a file through a temporary file and a rename, so
  that an interrupted run never leaves a half-written output (internal files:
  reports, caches; it refuses to rename over anything but a regular file).
* :func:`check_output_path` / :func:`write_output`: the rules for a path the
  user names (``--output FILE``): regular files and new paths are replaced
  atomically, character devices and FIFOs (``/dev/null``, ``/dev/stdout``) are
  written straight through, anything else is refused, and so is the input.
* :func:`exit_codes_epilog`: the exit-code table for a command's ``--help``.
* :func:`progress_bar`: a tqdm bar on stderr, or plain progress lines when stderr is not a terminal.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import stat
import sys
import tempfile
from typing import Any, Callable, Iterable, Literal, NoReturn

from .errors import InputError, UserError


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (the exit-code tables); every option's default stated, where
    its help does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or default in (None, False, [], argparse.SUPPRESS)
                or "%(default)" in text or "default" in text.lower()):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` with one-line errors and :class:`HelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


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


def add_limit_options(parser: argparse.ArgumentParser, memory: bool = True) -> None:
    """``--max-config-size`` (and ``--max-memory``): the limits of the input contract a user may raise.

    Both take sizes like ``512M`` or ``4G``; defaults: 64 MiB for a config
    file (:data:`dynamics.config.MAX_CONFIG_BYTES`), the memory available now
    for a run (:mod:`dynamics.budget`).
    """
    from .budget import parse_size
    from .config import MAX_CONFIG_BYTES

    parser.add_argument("--max-config-size", type=parse_size, default=MAX_CONFIG_BYTES, metavar="SIZE",
                        help=f"largest config file read (default {MAX_CONFIG_BYTES >> 20}M)")
    if memory:
        parser.add_argument("--max-memory", type=parse_size, metavar="SIZE",
                            help="memory a run may use, e.g. 8G (default: what is available now); a run "
                                 "estimated above it is refused before it starts")


def run_main(prog: str, main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call ``main(argv)``; report expected errors as ``prog: error: …`` in one line.

    :class:`~dynamics.errors.UserError` (which includes ``ConfigError``,
    ``NumberError`` and ``LimitError``) and ``OSError`` are user-facing: one
    line on stderr, exit status 2. Anything else is a bug and keeps its
    traceback. Ctrl-C exits with status 130 and no traceback.
    """
    try:
        return main(argv)
    except BrokenPipeError:  # `… | head`: the reader left; stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that flushing stdout at exit raises nothing
        return 141
    except (UserError, OSError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def exit_codes_epilog(strict: bool = False) -> str:
    """The exit codes of a command, for its ``--help`` epilog (SPEC §5).

    Parameters
    ----------
    strict
        Whether the command has ``--strict`` (exit status 1 when a checked claim fails).

    Returns
    -------
    str
        A few lines, meant for :class:`HelpFormatter` (kept as written).
    """
    lines = ["exit codes:", "  0    success"]
    if strict:
        lines.append("  1    a checked claim fails (only with --strict)")
    lines += ["  2    bad input or a limit exceeded (one line on stderr, nothing written)",
              "  130  interrupted (Ctrl-C)"]
    return "\n".join(lines)


_FD_ALIAS = re.compile(r"^/dev/(stdin|stdout|stderr|fd/\d+)$|^/proc/(self|thread-self|\d+)/fd/\d+$")
_KINDS = ((stat.S_ISDIR, "directory"), (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"),
          (stat.S_ISCHR, "character device"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISREG, "regular file"))


def _file_kind(mode: int) -> str:
    """A name for the file type in ``mode`` (``st_mode``), for error messages."""
    return next((name for test, name in _KINDS if test(mode)), "special file")


def _stat(path: str) -> os.stat_result | None:
    """``os.stat(path)`` (through symlinks), or ``None`` when nothing is there."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _is_fd_alias(path: str) -> bool:
    """Whether ``path``, or a symlink on the way to its target, names an open descriptor.

    ``/dev/stdout``, ``/dev/fd/N`` and ``/proc/self/fd/N`` name whatever the
    descriptor is open on (a pipe, a terminal, a redirected file): such paths
    are written through, never replaced by a rename.
    """
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on symlink hops
        folder, name = os.path.split(current)
        current = os.path.join(os.path.realpath(folder), name)
        if _FD_ALIAS.match(current):
            return True
        if not os.path.islink(current):
            return False
        current = os.path.normpath(os.path.join(folder, os.readlink(current)))
    return False


def _refuse_inputs(label: str, target: os.stat_result, inputs: Iterable[str]) -> None:
    """Raise :class:`InputError` when ``target`` is the same regular file as one of ``inputs``."""
    for source in inputs:
        found = _stat(source)
        if found is not None and (stat.S_ISREG(found.st_mode) or stat.S_ISFIFO(found.st_mode)) \
                and os.path.samestat(found, target):
            raise InputError(f"{label}: is the input file {source}; refusing to overwrite it")


def _check_folder(label: str, folder: str) -> None:
    """Raise :class:`InputError` unless a new file can be created in ``folder``."""
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise InputError(f"{label}: folder {folder} {what}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{label}: cannot create files in folder {folder} (permission denied)")


OutputPlan = tuple[Literal["atomic", "stream"], str]


def check_output_path(path: str, *, inputs: Iterable[str] = (), option: str = "--output") -> OutputPlan:
    """Validate a path the user names for output, before any work starts.

    Parameters
    ----------
    path
        The path as given on the command line.
    inputs
        Input files of the command; writing over one of them is refused
        (compared by device and inode, so through symlinks and hard links too).
    option
        The option that named ``path``, for messages.

    Returns
    -------
    (mode, target)
        ``("atomic", real_path)`` for a regular file or a new path (replaced
        through a temporary file and a rename; symlinks are kept and their
        target replaced), ``("stream", path)`` for a character device, a FIFO
        or an open descriptor (``/dev/stdout``): opened for writing, never
        renamed over.

    Raises
    ------
    InputError
        ``path`` is a directory, a block device, a socket or another special
        file; it is one of ``inputs``; or its folder is missing or not writable.
    """
    label = f"{option} {path}"
    if not path:
        raise InputError(f"{option}: empty path (expected a file name)")
    found = _stat(path)
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise InputError(f"{label}: is a directory, not a file")
    if found is not None:  # also through /dev/stdin, /proc/self/fd/N: they lead to the input itself
        _refuse_inputs(label, found, inputs)
    if _is_fd_alias(path):
        return "stream", path
    if found is not None and (stat.S_ISCHR(found.st_mode) or stat.S_ISFIFO(found.st_mode)):
        return "stream", path
    if found is not None and not stat.S_ISREG(found.st_mode):
        raise InputError(f"{label}: is a {_file_kind(found.st_mode)}; "
                         "expected a regular file, a character device or a FIFO")
    target = os.path.realpath(path)
    _check_folder(label, os.path.dirname(target))
    return "atomic", target


def write_output(path: str, content: str | bytes, *, inputs: Iterable[str] = (),
                 option: str = "--output") -> None:
    """Write ``content`` to a path the user named, following :func:`check_output_path`.

    Regular files and new paths are replaced atomically (an interrupted run
    leaves the old content); character devices, FIFOs and ``/dev/stdout`` are
    opened for writing and written straight through, so ``/dev/null`` stays a
    device. Call :func:`check_output_path` before the work starts as well, so
    that a bad path fails before anything is computed.

    Parameters
    ----------
    path
        The path as given on the command line.
    content
        Text (written as UTF-8) or bytes.
    inputs
        Input files that must not be overwritten.
    option
        The option that named ``path``, for messages.
    """
    mode, target = check_output_path(path, inputs=inputs, option=option)
    if mode == "atomic":
        write_atomic(target, content)
        return
    sys.stdout.flush()  # keep the order of what reaches /dev/stdout
    if _is_stdout(target):  # through our own stream: a reopened redirected file would start at offset 0
        stream = sys.stdout.buffer if isinstance(content, bytes) else sys.stdout
        stream.write(content)
        stream.flush()
        return
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    try:  # non-blocking open: a FIFO nobody reads is an error, not a hang
        fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise InputError(f"{option} {path}: nobody is reading this FIFO (start the reader first)") from None
        raise
    os.set_blocking(fd, True)
    with open(fd, "wb") as handle:
        handle.write(data)


def _is_stdout(path: str) -> bool:
    """Whether ``path`` is the file that ``sys.stdout`` is open on (``/dev/stdout``, the same pipe or file)."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
        return False


def _refuse_special(path: str) -> os.stat_result | None:
    """``os.stat(path)``, raising :class:`InputError` if something other than a regular file is there."""
    found = _stat(path)
    if found is not None and not stat.S_ISREG(found.st_mode):
        raise InputError(f"{path}: is a {_file_kind(found.st_mode)}, not a regular file; refusing to replace it")
    return found


def write_atomic(path: str, content: str | bytes) -> None:
    """Write text or bytes to ``path`` via a temporary file in the same folder and a rename.

    For internal files (reports, caches, checkpoints); paths the user names go
    through :func:`write_output`. Missing folders are created. A symlink is
    kept and its target replaced; an existing file keeps its permission bits.

    Raises
    ------
    InputError
        Something other than a regular file (a device, a FIFO, a directory, a
        socket) is at ``path``: it is never renamed over.
    """
    _refuse_special(path)  # before resolving: /dev/stdout resolves to a name like 'pipe:[…]'
    path = os.path.realpath(path)
    old = _refuse_special(path)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    if old is not None:
        mode = stat.S_IMODE(old.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)  # mkstemp creates 0600; give the file ordinary (or its old) permissions
    try:
        if isinstance(content, bytes):
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
        _refuse_special(path)  # again: something may have appeared there meanwhile
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def dump_json(document: Any) -> str:
    """Compact, deterministic JSON text with a trailing newline."""
    return json.dumps(document, separators=(",", ":"), allow_nan=False) + "\n"


class LineProgress:
    """Progress as plain lines on stderr, for logs and pipes (where a tqdm bar would be noise).

    ``desc: done/total (pct %), elapsed s[, postfix]`` at most every ``interval`` seconds, and once more at
    the end if a line was printed (work shorter than ``interval`` prints nothing). The same
    ``update``/``set_postfix_str``/``close`` as a tqdm bar.
    """

    def __init__(self, total: int, desc: str, unit: str = "step", interval: float = 10.0, stream=None):
        import time

        self.total, self.desc, self.unit, self.interval = total, desc, unit, interval
        self.stream = stream if stream is not None else sys.stderr
        self.n, self.postfix, self._clock = 0, "", time.monotonic
        self._start = self._last = self._clock()
        self._closed = False

    def _line(self) -> str:
        pct = f" ({100 * self.n / self.total:.0f} %)" if self.total else ""
        tail = f", {self.postfix}" if self.postfix else ""
        return f"{self.desc}: {self.n}/{self.total} {self.unit}s{pct}, {self._clock() - self._start:.0f} s{tail}"

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self._clock()
        if now - self._last >= self.interval and self.n < self.total:
            self._last = now
            print(self._line(), file=self.stream, flush=True)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:  # noqa: ARG002 (tqdm's signature)
        self.postfix = text

    def close(self) -> None:
        """A last line, if the work lasted long enough to print one before (short work stays silent)."""
        if not self._closed:
            self._closed = True
            if self._last > self._start:
                print(self._line() + (" — done" if self.n >= self.total else " — stopped"), file=self.stream,
                      flush=True)


def progress_bar(total: int, desc: str, enabled: bool, unit: str = "step", interval: float = 10.0):
    """Progress on stderr: a ``tqdm`` bar on a terminal, :class:`LineProgress` lines otherwise (a log, a
    pipe, CI), or ``None`` when not ``enabled``."""
    if not enabled:
        return None
    if not sys.stderr.isatty():
        return LineProgress(total, desc, unit=unit, interval=interval)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
