"""The engine protocol and the one loop that drives every backend.

An **engine** is the arithmetic of one backend for one configuration: how to
represent a state, decide its follow sets and apply a layer. It knows nothing
of trajectories, progress or stopping; :func:`iterate_layers` is the only loop
that advances any engine, and :func:`run_engine` records what it yields into a
:class:`~dynamics.trajectory.Trajectory`. Adding a model feature (a value
matrix ``V``, a layer schedule) therefore touches each engine's ``layer`` once.

Layer ``k`` maps ``Z^k`` to ``Z^{k+1}`` with the parameters
``config.heads_at(k)`` (schedule entry ``min(k, L-1)``); the follow sets
recorded for ``Z^k`` are those layer ``k`` uses, including for the final
state ``Z^K`` (the follow sets the next layer would use).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Generic, Hashable, Iterator, Protocol, Sequence, TypeVar

from .errors import InputError
from .rules import FollowSets, leaders, union_follow
from .trajectory import StopRun, Trajectory

__all__ = ["Engine", "LayerStep", "iterate_layers", "run_engine"]

State = TypeVar("State")
PerHead = tuple[FollowSets, ...]


class Engine(Protocol[State]):
    """What every backend implements (exact, certified, interval, float, torch).

    Attributes
    ----------
    backend
        The backend's name (``"exact"``, ``"float"``, …), recorded in the trajectory.
    """

    backend: str

    def initial_state(self) -> State:
        """``Z^0`` in the engine's arithmetic."""
        ...

    def follow_sets(self, state: State, k: int) -> PerHead:
        """``(C^1, …, C^H)`` of ``state`` under the heads of layer ``k``; may raise :class:`StopRun`."""
        ...

    def layer(self, state: State, k: int) -> tuple[State, PerHead]:
        """``(Z^{k+1}, follow sets of Z^k)``: one layer with the parameters of layer ``k``."""
        ...

    def keys(self, state: State) -> Sequence[Hashable]:
        """Per-token keys, equal exactly when the tokens are equal in the engine's arithmetic.

        The loop's leaders are ``rules.leaders(C, keys)``; an engine may instead define
        ``leaders_of(state, C)`` returning the same tuple faster (the certified engine does).
        """
        ...

    def info(self) -> dict[str, Any]:
        """Backend details for ``Trajectory.info`` (dtype, device, filter counts, …)."""
        ...


@dataclass
class LayerStep(Generic[State]):
    """What the loop yields for each state ``Z^k``: the state and its follow sets (per head)."""

    k: int
    state: State
    follow_by_head: PerHead


def iterate_layers(engine: Engine[State], steps: int) -> Iterator[LayerStep[State]]:
    """Yield ``Z^0 … Z^K`` with their follow sets, applying ``engine.layer`` ``K = steps`` times.

    A :class:`StopRun` raised by the engine ends the iteration: it propagates
    to the caller with the state it could not decide as ``exc.state``. The consumer may stop
    early; nothing beyond the last yielded step's layer is computed.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise InputError(f"steps must be a non-negative integer, got {steps!r}")
    state = engine.initial_state()
    for k in range(steps + 1):
        try:
            if k < steps:
                next_state, per_head = engine.layer(state, k)
            else:
                per_head = engine.follow_sets(state, k)
        except StopRun as exc:
            exc.state = state  # the state it could not decide ends the run
            raise
        yield LayerStep(k, state, per_head)
        if k < steps:
            state = next_state


def run_engine(
    engine: Engine,
    steps: int,
    progress: Callable[[int], None] | None = None,
    stop_when_fixed: bool = False,
) -> Trajectory:
    """Run ``engine`` for ``steps`` layers and record states, follow sets and leaders.

    Parameters
    ----------
    engine
        Any :class:`Engine`.
    steps
        Number of layers ``K``; the trajectory holds ``Z^0 … Z^K``.
    progress
        Called with ``k + 1`` after each layer.
    stop_when_fixed
        End early once every token is a leader of a state whose layers are all
        the same from then on (the state is fixed forever; engines whose
        ``V`` is not the identity never stop early).

    A :class:`StopRun` raised by the engine ends the run at that state; it is
    returned in ``info["stopped"]`` (and the last state has no follow entry).
    """
    start = time.perf_counter()
    states, follow, by_head, leader_list = [], [], [], []
    stopped = None
    config = getattr(engine, "config", None)
    can_fix = stop_when_fixed and config is not None and config.identity_values
    fast_leaders = getattr(engine, "leaders_of", None)
    layers = iterate_layers(engine, steps)
    try:
        for item in layers:
            union = union_follow(item.follow_by_head)
            states.append(item.state)
            follow.append(union)
            by_head.append(item.follow_by_head)
            leader_list.append(fast_leaders(item.state, union) if fast_leaders is not None
                               else leaders(union, engine.keys(item.state)))
            if item.k < steps and progress is not None:
                progress(item.k + 1)
            if can_fix and len(leader_list[-1]) == len(union) and item.k >= len(config.schedule) - 1:
                break
    except StopRun as exc:
        stopped = exc
        states.append(getattr(exc, "state", None))
    finally:
        layers.close()
    if stopped is not None and states[-1] is None:
        states.pop()
    multi = bool(by_head) and len(by_head[0]) > 1
    info = engine.info() | ({"stopped": stopped} if stopped is not None else {})
    return Trajectory(backend=engine.backend, states=states, follow=follow, leaders=leader_list,
                      follow_by_head=by_head if multi else None, elapsed_s=time.perf_counter() - start, info=info)
