"""Run folders and records: model hashes, provenance and OS-level locks (no torch import).

* :func:`file_sha256` — the identity of a ``model.pt`` (a record belongs to one model);
* :func:`provenance` — who made a number: command, commit, UTC date, model hash;
* :func:`hold_lock` — a non-blocking ``flock`` on a lock file (one training per run folder);
* :func:`locked_folder` — a blocking ``flock`` on a folder (one writer of ``results.json`` at a time).

``flock`` locks belong to an open file description and die with the process,
so a killed training never leaves a stale lock behind.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from dynamics.errors import UserError
from dynamics.provenance import file_sha256, git_commit, utc_now

__all__ = ["BusyError", "file_sha256", "short_hash", "git_commit", "utc_now", "provenance", "hold_lock",
           "locked_folder"]

class BusyError(UserError):
    """Another process holds the lock of a folder (one-line message)."""


def short_hash(sha: str | None) -> str:
    """The first 12 hex digits of a hash, or ``"none"``."""
    return sha[:12] if sha else "none"


def provenance(command: str | None, model_sha256: str | None) -> dict:
    """Where a recorded number comes from.

    Parameters
    ----------
    command : str or None
        The command line that computed it.
    model_sha256 : str or None
        The SHA-256 of the ``model.pt`` it was computed from.

    Returns
    -------
    dict
        ``{"command", "commit", "date", "model_sha256"}`` (commit ``None`` outside a git checkout).
    """
    return {"command": command, "commit": git_commit(), "date": utc_now(), "model_sha256": model_sha256}


@contextmanager
def hold_lock(path: str, busy: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) or fail at once.

    Parameters
    ----------
    path : str
        The lock file; it stays on disk, the lock itself ends with the process.
    busy : str
        The message of the :class:`BusyError` raised when another process holds
        the lock; ``{holder}`` in it becomes `` (pid N)`` when the holder is known.

    Raises
    ------
    BusyError
        Another process holds the lock.
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            raise BusyError(busy.replace("{holder}", f" (pid {holder})" if holder.isdigit() else "")) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def locked_folder(folder: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on a folder (waiting for it): serialises read-modify-write of its files."""
    import fcntl

    os.makedirs(folder, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
