"""Provenance of published numbers: which code, when, from which file (no heavy imports).

Everything a command publishes (``reports/``, ``verify/corpus/``, sentiment
records, benchmark results) carries :func:`git_commit`, :func:`utc_now`, the
command line and, for a model, :func:`file_sha256` of its checkpoint.
"""

from __future__ import annotations

import hashlib
import subprocess
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["file_sha256", "git_commit", "utc_now"]

_ROOT = Path(__file__).resolve().parents[1]


def file_sha256(path: str) -> str:
    """The hex SHA-256 of a file's bytes.

    Parameters
    ----------
    path : str
        The file to hash (read in 1 MiB chunks).

    Returns
    -------
    str
        64 hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_commit() -> str | None:
    """``git rev-parse HEAD`` of this project's checkout, or ``None`` (no git, not a checkout)."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_ROOT, capture_output=True, text=True,
                                timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def utc_now() -> str:
    """The current UTC time in ISO 8601, to the second (``2025-01-31T12:00:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
