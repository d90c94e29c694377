"""Hardmax attention dynamics: the model and its engines (SPEC §1, §3).

``dynamics`` knows nothing of ``verify`` or ``sentiment``. The entry point for
most users is :func:`simulate`::

    from dynamics import load_config, simulate
    traj = simulate(load_config("examples/emerging_leader.json"), steps=30)
    traj.leaders[-1], traj.states[-1].strings()

Backends
--------
``exact``     rational arithmetic (FLINT integers over a common denominator);
              every argmax tie decided exactly.
``certified`` the exact dynamics at float speed: a float64 state with a rigorous
              error bound and float64 scores decide the rows they can, the rest
              exactly; results identical to ``exact`` (exact states on request).
``interval``  rigorous mpmath intervals; irrational entries allowed; undecided
              rows are reported, never guessed.
``float``     NumPy float64/float32, hardmax or softmax(τ).
``torch``     batched PyTorch (CPU or CUDA), float32/float64, hardmax or softmax(τ).
"""

from __future__ import annotations

from typing import Any, Callable

from .errors import InputError, LimitError, UserError
from .config import Config, ConfigError, Head, config_from_dict, load_config
from .numbers import Expr, NumberError, parse_exact, parse_number
from .rational import RationalMatrix
from .trajectory import Trajectory

__all__ = [
    "BACKENDS",
    "Config",
    "ConfigError",
    "Expr",
    "Head",
    "InputError",
    "LimitError",
    "NumberError",
    "RationalMatrix",
    "Trajectory",
    "config_from_dict",
    "load_config",
    "parse_exact",
    "parse_number",
    "simulate",
    "simulate_batch",
    "UserError",
]

BACKENDS = ("exact", "certified", "interval", "algebraic", "float", "torch")


def simulate(
    config: Config,
    steps: int,
    backend: str = "exact",
    progress: Callable[[int], None] | None = None,
    max_memory: int | None = None,
    **options: Any,
) -> Trajectory:
    """Run ``steps`` layers of the dynamics on ``config`` with one backend.

    Parameters
    ----------
    config
        A validated :class:`Config`.
    steps
        Number of layers ``K >= 0``; the trajectory holds ``Z^0 … Z^K``.
    backend
        One of :data:`BACKENDS`.
    progress
        Optional callback, called with the step index after every step.
    max_memory
        Bytes the run may use; the run is refused (:class:`LimitError`)
        before it starts if its estimate (:mod:`dynamics.budget`) exceeds
        this. Default: the memory available on this machine now.
    **options
        Backend options: ``prec``/``max_prec`` (interval), ``dtype``, ``rule``,
        ``tau`` (float, torch), ``device`` (torch).
    """
    if steps < 0:
        raise InputError(f"steps must be >= 0, got {steps}")
    if backend in BACKENDS:
        from .budget import check_memory

        check_memory(config, steps, backend, max_memory)
    if backend == "exact":
        from .backends.exact import ExactEngine

        _no_options(backend, options)
        return ExactEngine(config).run(steps, progress=progress)
    if backend == "certified":
        from .backends.certified import CertifiedEngine

        _no_options(backend, options)
        return CertifiedEngine(config).run(steps, progress=progress)
    if backend == "algebraic":
        from .backends.algebraic import AlgebraicEngine

        _no_options(backend, options)
        return AlgebraicEngine(config).run(steps, progress=progress)
    if backend == "interval":
        from .backends.interval import simulate_interval

        return simulate_interval(config, steps, progress=progress, **options)
    if backend == "float":
        from .backends.numpy_ import simulate_float

        return simulate_float(config, steps, progress=progress, **options)
    if backend == "torch":
        from .backends.torch_ import simulate_torch

        return simulate_torch(config, steps, progress=progress, **options)
    raise InputError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")


def _simulate_job(args):
    config, steps, backend, options = args
    return simulate(config, steps, backend=backend, **options)


def _stacked_job(args) -> list[Trajectory]:
    configs, steps = args
    if len(configs) == 1:
        return [simulate(configs[0], steps, backend="certified")]
    from .backends.certified_batch import CertifiedBatch

    batch = CertifiedBatch(configs, steps)
    return [batch.trajectory(b) for b in range(len(batch))]


def simulate_batch(configs, steps: int, backend: str = "certified", workers: int = 1,
                   **options: Any) -> list[Trajectory]:
    """Run many configurations (each exactly as :func:`simulate` would), in ``workers`` processes.

    With ``backend="certified"``, configurations that share their dimension and layer schedule
    (heads) run together through the stacked float filter
    (:class:`dynamics.backends.certified_batch.CertifiedBatch`): one batched score product per
    head and layer for all of them, exact replay only for those with a row the filter cannot
    decide. Results, trajectories included (exact ``states`` on access), are those of
    :func:`simulate`. Other backends run one configuration at a time. Results are in input order.
    """
    configs = list(configs)
    if backend == "certified" and not options and steps >= 0:
        from .budget import check_memory

        for config in configs:
            check_memory(config, steps, backend, None)  # each refused before any work, as simulate does
        groups: dict[Any, list[int]] = {}
        for b, config in enumerate(configs):
            try:
                key = (config.d, config.schedule) if config.is_rational else ("alone", b)
                hash(key)
            except TypeError:
                key = ("alone", b)
            groups.setdefault(key, []).append(b)
        parts = [members[i::workers] for members in groups.values() for i in range(min(workers, len(members)))]
        jobs = [([configs[b] for b in part], steps) for part in parts]
        if workers <= 1 or len(jobs) <= 1:
            done = [_stacked_job(job) for job in jobs]
        else:
            from .parallel import worker_pool

            with worker_pool(workers) as pool:
                done = list(pool.map(_stacked_job, jobs))
        out: list[Trajectory | None] = [None] * len(configs)
        for part, trajectories in zip(parts, done):
            for b, trajectory in zip(part, trajectories):
                out[b] = trajectory
        return out  # type: ignore[return-value]
    jobs = [(config, steps, backend, options) for config in configs]
    if workers <= 1 or len(jobs) <= 1:
        return [_simulate_job(job) for job in jobs]
    from .parallel import worker_pool

    with worker_pool(workers) as pool:
        return list(pool.map(_simulate_job, jobs, chunksize=max(1, len(jobs) // (4 * workers))))


def _no_options(backend: str, options: dict[str, Any]) -> None:
    if options:
        raise InputError(f"backend {backend!r} takes no options, got {sorted(options)}")
