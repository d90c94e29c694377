"""One process pool for every parallel job of the project, whose workers die with their parent.

``concurrent.futures.ProcessPoolExecutor`` workers outlive a parent that is
killed with ``SIGKILL`` (``kill -9``, the out-of-memory killer): they keep
computing, holding memory and CPU, with nobody to read their results.
:func:`worker_pool` starts each worker with an initializer that ties its life
to the parent's:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker
  the moment its parent dies;
* everywhere, a daemon thread that polls the parent's pid once a second and
  exits the worker when it changes (the fallback where ``prctl`` is missing).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Iterator

from .errors import LimitError

__all__ = ["worker_pool", "check_workers", "one_blas_thread", "MAX_WORKERS"]

_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Worker initializer: end this process when the process ``parent`` ends, and use one BLAS thread.

    A pool runs one worker per core, so a worker's own BLAS threads would only oversubscribe the
    cores: measured on 2 cores, OpenBLAS's second thread made the certified filter's small products
    25× slower while another process was busy.
    """
    one_blas_thread()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the polling thread below still runs
            libc = None
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


#: Most worker processes a command may start (a typo such as ``--workers 100000`` is refused, not forked).
MAX_WORKERS = max(64, 4 * (os.cpu_count() or 1))


def check_workers(workers: int) -> None:
    """Refuse (:class:`LimitError`, one line) more than :data:`MAX_WORKERS` local worker processes."""
    if workers > MAX_WORKERS:
        raise LimitError(f"--workers {workers}: at most {MAX_WORKERS} worker processes on this machine")


def one_blas_thread() -> None:
    """Limit this process's BLAS and OpenMP thread pools to one thread (:mod:`threadpoolctl`)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


@contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` of ``workers`` processes that end when this process ends.

    Used as a context manager. If the body is left by an exception (Ctrl-C on
    the parent alone included), queued work is cancelled and the workers are
    terminated instead of waited for.

    Raises
    ------
    LimitError
        ``workers`` above :data:`MAX_WORKERS`.
    """
    check_workers(workers)
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_die_with, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        raise
    else:
        pool.shutdown(wait=True)
