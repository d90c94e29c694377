"""The NumPy float backend (float64 or float32), hardmax or softmax(τ).

This is the naive float path: scores ``S_h = Z A_hᵀ Zᵀ`` in floating point and
follow sets ``C^h_i = {j : S_ij == max_l S_il}`` decided by float equality,
exactly as float code (and the paper's notebooks) does. It is *not* exact:
``verify crosscheck`` measures where it goes wrong. For ``rule="softmax"``
the update uses ``P_ij = softmax_j(S_ij / τ)`` and the recorded follow sets are
the float argmax sets of the scores.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..config import Config
from ..errors import InputError
from ..floats import exact_input, float_config, float_rows
from ..rules import FollowSets, step_weights
from ..trajectory import Trajectory, state_keys

__all__ = ["FloatEngine", "simulate_float", "hardmax_attention", "softmax_attention"]

_DTYPES = {"float64": np.float64, "float32": np.float32}


def hardmax_attention(scores: np.ndarray) -> np.ndarray:
    """``P_ij = 1/|C_i|`` on the float maximisers of each row, else 0."""
    winners = scores == scores.max(axis=-1, keepdims=True)
    return winners / winners.sum(axis=-1, keepdims=True)


def softmax_attention(scores: np.ndarray, tau: float) -> np.ndarray:
    """``P_ij = exp(S_ij/τ) / Σ_l exp(S_il/τ)``, computed stably."""
    with np.errstate(over="ignore", under="ignore"):  # a tiny τ: shifted scores of -inf, weights of 0
        shifted = (scores - scores.max(axis=-1, keepdims=True)) / tau
        weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


class FloatEngine:
    """The NumPy float :class:`~dynamics.engine.Engine` for one configuration.

    Parameters
    ----------
    config
        A rational configuration (entries are rounded to the nearest float).
    dtype
        ``"float64"`` or ``"float32"``.
    rule
        ``"hardmax"`` (the paper's dynamics) or ``"softmax"``.
    tau
        Softmax temperature ``τ > 0`` (ignored for hardmax).
    """

    backend = "float"

    def __init__(self, config: Config, dtype: str = "float64", rule: str = "hardmax", tau: float = 1.0):
        config = exact_input(config, "the float backend")  # algebraic entries are rounded correctly, as 1/3 is
        if dtype not in _DTYPES:
            raise InputError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        if rule not in ("hardmax", "softmax"):
            raise InputError(f"rule must be 'hardmax' or 'softmax', got {rule!r}")
        if rule == "softmax" and not tau > 0:
            raise InputError(f"softmax temperature must be > 0, got {tau}")
        self.config, self.rule, self.tau = config, rule, tau
        self.dtype = _DTYPES[dtype]
        if rule == "softmax" and not 0 < self.dtype(tau) < np.inf:
            raise InputError(f"softmax temperature {tau} is not a positive finite {dtype} (it rounds to "
                             f"{self.dtype(tau)})")
        self._tokens, schedule = float_config(config, dtype)
        self._nonfinite_at: int | None = None  # reset by initial_state, set by layer
        self._layers = []
        for l, heads in enumerate(config.schedule):
            c0, ch = step_weights([h.alpha for h in heads])
            where = f"layers[{l}].alpha" if config.layers is not None else "alpha"
            weights = float_rows([[c0, *ch]], dtype, config.source, f"{where}: the step weights 1/(1+Σα), α/(1+Σα)")[0]
            self._layers.append(([h.A.T.copy() for h in schedule[l]],
                                 [None if h.V is None else h.V.T.copy() for h in schedule[l]],
                                 weights[0], list(weights[1:])))

    def initial_state(self) -> np.ndarray:
        self._nonfinite_at = None
        return self._tokens.copy()

    def keys(self, Z: np.ndarray) -> list:
        return state_keys(Z)

    def info(self) -> dict:
        """dtype, rule, tau; ``nonfinite_at``: the first layer whose scores or state held inf or NaN (float
        overflow: from there on the run's decisions are float artefacts), if any."""
        return {"dtype": np.dtype(self.dtype).name, "rule": self.rule} | (
            {"tau": self.tau} if self.rule == "softmax" else {}) | (
            {"nonfinite_at": self._nonfinite_at} if self._nonfinite_at is not None else {})

    def scores(self, Z: np.ndarray, k: int = 0) -> list[np.ndarray]:
        """``S_h = (Z A_hᵀ) Zᵀ`` for every head of layer ``k``."""
        return [(Z @ A_T) @ Z.T for A_T in self._layers[self.config.layer_index(k)][0]]

    def follow_sets(self, Z: np.ndarray, k: int = 0) -> tuple[FollowSets, ...]:
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            return tuple(_winners(S) for S in self.scores(Z, k))

    def layer(self, Z: np.ndarray, k: int = 0) -> tuple[np.ndarray, tuple[FollowSets, ...]]:
        """One layer: the next state and the float follow sets of ``Z``.

        Float overflow is what float code does: it yields inf/NaN here without
        NumPy warnings; the first layer where it happens is ``info()["nonfinite_at"]``
        (the command line says so), and :mod:`verify` refuses to judge such states.
        """
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            _, values, c0, ch = self._layers[self.config.layer_index(k)]
            out = c0 * Z
            per_head = []
            for S, V_T, c in zip(self.scores(Z, k), values, ch):
                if self._nonfinite_at is None and not np.isfinite(S).all():
                    self._nonfinite_at = k
                per_head.append(_winners(S))
                P = hardmax_attention(S) if self.rule == "hardmax" else softmax_attention(S, self.tau)
                attended = P.astype(self.dtype) @ Z
                out = out + c * (attended if V_T is None else attended @ V_T)
            out = out.astype(self.dtype)
            if self._nonfinite_at is None and not np.isfinite(out).all():
                self._nonfinite_at = k + 1
            return out, tuple(per_head)

    def run(self, steps: int, progress: Callable[[int], None] | None = None) -> Trajectory:
        from ..engine import run_engine

        return run_engine(self, steps, progress=progress)


def _winners(S: np.ndarray) -> FollowSets:
    """The float argmax sets of each row (float equality, as float code decides)."""
    winners = S == S.max(axis=1, keepdims=True)
    return tuple(tuple(np.flatnonzero(row).tolist()) for row in winners)


def simulate_float(
    config: Config,
    steps: int,
    dtype: str = "float64",
    rule: str = "hardmax",
    tau: float = 1.0,
    progress: Callable[[int], None] | None = None,
) -> Trajectory:
    """Run the NumPy backend; see :class:`FloatEngine`."""
    return FloatEngine(config, dtype=dtype, rule=rule, tau=tau).run(steps, progress=progress)
