"""Hunts on a Dask cluster, and the example database they share.

A hunt is split into **tasks** — one Hypothesis search each, with its own seed
and share of the example budget — over the token families (or, for one family,
over seed ranges)::

    task t:  family F_t (or the given family), seed = seed · 1000 + t,
             max_examples = budget / tasks (the first budget % tasks get one more)

and the tasks are submitted to a Dask scheduler: a ``LocalCluster`` of
``workers`` processes on 127.0.0.1 (``hunt --workers N``), or a running one
(``hunt --scheduler tcp://HOST:PORT``, started with ``dask scheduler`` and
``dask worker``, or through ``dask-jobqueue`` on SLURM). Each task shrinks and
minimises its own counterexample on its worker; the results are merged
(:func:`verify.hunt.merge_results`): the smallest counterexample first, every
distinct one kept, and ``"cluster": {"scheduler", "workers": {address:
examples}}`` says where the work ran. A worker that dies loses nothing: the
scheduler reruns its tasks elsewhere (Dask's ``allowed-failures``).

Lemma files are loaded by each worker from the same path: on a cluster it must
be on a filesystem the workers share.

The database (``--database``): Hypothesis's example database, so that a rerun
starts from what earlier runs found — a directory (``DirectoryBasedExampleDatabase``,
on a shared filesystem for a cluster), or ``redis://HOST:PORT[/DB]``
(``RedisExampleDatabase``, multiplexed with a local directory database).

Dask is the optional extra ``cluster`` (``pip install ".[cluster]"``); without it
``--workers`` uses a local process pool and ``--scheduler`` is refused in one line.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from typing import Any, Callable

from dynamics.errors import InputError
from dynamics.parallel import check_workers

__all__ = ["dask_available", "open_database", "check_database", "connect", "distributed_hunt", "hunt_tasks"]

#: Seconds to wait for a scheduler before ``--scheduler`` is refused.
CONNECT_TIMEOUT_S = 10


def dask_available() -> bool:
    """True if ``dask.distributed`` can be imported (the ``cluster`` extra)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def check_database(url: str | None) -> None:
    """Refuse (one line) a ``--database`` that cannot be opened, before any work."""
    if url is None:
        return
    if not url.strip():
        raise InputError("--database: expected a directory or redis://HOST:PORT[/DB], got an empty string")
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            import redis
        except ImportError:
            raise InputError("--database redis://…: needs the redis package (pip install \".[cluster]\")") from None
        try:
            redis.Redis.from_url(url, socket_connect_timeout=5).ping()
        except (redis.RedisError, ValueError, OSError) as exc:
            raise InputError(f"--database {url}: cannot reach Redis ({' '.join(str(exc).split())[:200]})") from None
        return
    if "://" in url:
        raise InputError(f"--database {url}: expected a directory or redis://HOST:PORT[/DB]")
    if os.path.exists(url) and not os.path.isdir(url):
        raise InputError(f"--database {url}: exists and is not a directory")


def open_database(url: str | None):
    """The Hypothesis example database named by ``url`` (``None``: no database).

    A directory gives a ``DirectoryBasedExampleDatabase``; ``redis://…`` a
    ``RedisExampleDatabase`` multiplexed with a directory database in this
    process's Hypothesis storage folder.
    """
    if url is None:
        return None
    from hypothesis.database import DirectoryBasedExampleDatabase, MultiplexedDatabase

    if url.startswith(("redis://", "rediss://", "unix://")):
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase

        local = os.path.join(os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY", ".hypothesis"), "examples")
        return MultiplexedDatabase(DirectoryBasedExampleDatabase(local),
                                   RedisExampleDatabase(redis.Redis.from_url(url)))
    return DirectoryBasedExampleDatabase(url)


def hunt_tasks(max_examples: int, seed: int, family: str | None, workers: int) -> list[dict[str, Any]]:
    """The tasks of a hunt (module docstring): ``{"family", "seed", "max_examples"}`` each."""
    from .strategies import FAMILIES

    families = list(FAMILIES) if family is None else [family] * max(2, 2 * workers)
    count = max(1, min(len(families), max_examples))
    share = [max_examples // count + (1 if t < max_examples % count else 0) for t in range(count)]
    return [{"family": families[t], "seed": seed * 1000 + t, "max_examples": share[t]} for t in range(count)]


@contextlib.contextmanager
def connect(scheduler: str | None, workers: int):
    """A Dask ``Client``: of the scheduler at ``scheduler``, or of a local cluster of ``workers``
    processes on 127.0.0.1 (closed on exit). An unreachable scheduler is a one-line :class:`InputError`."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        check_workers(workers)
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address="127.0.0.1:0", silence_logs=50) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                         f"({' '.join(str(exc).split())[:200]})") from None
    with client:
        yield client


def _task(arguments: dict[str, Any]) -> tuple[Any, str]:
    """One search on a worker: the :class:`~verify.hunt.HuntResult` and the worker's address."""
    from distributed import get_worker

    from .hunt import _hunt_one

    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(get_worker().local_directory, "hypothesis"))
    with warnings.catch_warnings():
        # The worker's own threads (heartbeats) touch the global `random`; Hypothesis would warn that the
        # strategy did, which it does not.
        warnings.filterwarnings("ignore", message="Do not use the `random` module")
        return _hunt_one(**arguments), get_worker().address


def distributed_hunt(claim: str, matrix: str, heads: int, max_examples: int, seed: int, steps: int,
                     family: str | None, max_n: int, max_d: int, model: dict[str, Any],
                     lemma_files: tuple[str, ...], database: str | None, scheduler: str | None = None,
                     workers: int = 2, progress: Callable[[int, int], None] | None = None):
    """Run a hunt's tasks on a Dask scheduler (``scheduler``) or a local cluster of ``workers`` processes."""
    if not dask_available():
        raise InputError("--scheduler needs Dask: pip install \".[cluster]\" (dask[distributed])")
    from distributed import as_completed

    from .hunt import merge_results

    start = time.perf_counter()
    with connect(scheduler, workers) as client:
        count = workers if scheduler is None else max(1, len(client.scheduler_info()["workers"]))
        tasks = hunt_tasks(max_examples, seed, family, count)
        arguments = [dict(claim=claim, matrix=matrix, heads=heads, max_examples=t["max_examples"],
                          seed=t["seed"], steps=steps, family=t["family"], max_n=max_n, max_d=max_d,
                          model=model, lemma_files=lemma_files, database=database) for t in tasks]
        futures = client.map(_task, arguments, pure=False)
        results, per_worker = [], {}
        for done, future in enumerate(as_completed(futures), 1):
            result, address = future.result()
            results.append(result)
            per_worker[address] = per_worker.get(address, 0) + result.examples
            if progress is not None:
                progress(done, len(futures))
        address = client.scheduler.address
    return merge_results(results, claim, matrix, heads, seed, steps, model, time.perf_counter() - start,
                         cluster={"scheduler": address, "workers": per_worker, "tasks": len(tasks)})
