"""Float-vs-exact cross-validation: when does the float path decide wrongly (SPEC §5)?

For one configuration, the float (NumPy) or torch run is compared step by step
with the exact dynamics (computed by the certified backend, which is
identical to the exact engine; for a config with algebraic irrational entries,
``sqrt(2)/2`` or ``cos(2*pi/5)``, by the algebraic engine over their number
field, while the float run starts from each entry correctly rounded to its dtype):

* ``wrong_rows``: tokens whose float follow set differs from the exact one at
  that step;
* ``uncertain_rows``: tokens whose float decision cannot be trusted — in the
  float run's *own* state, a rigorous bound on the rounding error of the float
  scores (:func:`dynamics.backends.certified.score_error_bound`, with the unit
  roundoff of the run's dtype) cannot separate the chosen maximisers from the
  best other token. Flagged even when the float code was lucky;
* ``max_abs_dev``: ``max |z̃_i^k − z_i^k|`` between the float and exact states.

The batch mode runs many configurations (seeded random ones from several
token families, or user files) and summarises the rates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from dynamics import simulate
from dynamics.backends.certified import score_error_bound
from dynamics.config import Config
from dynamics.errors import InputError
from dynamics.floats import approx_float, float_config

from .exact import exact_rows, require_finite

__all__ = ["crosscheck", "summarise", "UNIT_ROUNDOFF"]

#: ``(u, μ)`` of each dtype: unit roundoff and the absolute underflow unit (the smallest normal number);
#: see :mod:`dynamics.backends.certified` for the bound they enter.
UNIT_ROUNDOFF = {"float64": (2.0 ** -53, 2.0 ** -1022), "float32": (2.0 ** -24, 2.0 ** -126)}


def _uncertain(state: np.ndarray, follow_by_head, matrices: list[np.ndarray], dtype: str) -> list[int]:
    """Rows whose float decision the error bound cannot certify (state = the float run's own)."""
    u, mu = UNIT_ROUNDOFF[dtype]
    Z = state.astype(np.float64)  # exact values of the float state
    n = Z.shape[0]
    keys = [Z[i].tobytes() for i in range(n)]
    bad: set[int] = set()
    for A, follow in zip(matrices, follow_by_head):
        # The float code computed the scores from its own (rounded) A in its dtype, unscaled:
        # an overflow there makes S or B non-finite, and such a row is uncertain.
        with np.errstate(over="ignore", invalid="ignore"):
            S = ((Z.astype(A.dtype) @ A.T) @ Z.astype(A.dtype).T).astype(np.float64)
        B = score_error_bound(Z, A, unit_roundoff=u, underflow=mu)
        finite = np.isfinite(S).all(axis=1) & np.isfinite(B).all(axis=1)
        for i in range(n):
            if not finite[i]:
                bad.add(i)
                continue
            chosen = follow[i]
            lowest_chosen = min(S[i, j] - B[i, j] for j in chosen)
            for j in range(n):
                if j in chosen or keys[j] in {keys[c] for c in chosen}:
                    continue
                if S[i, j] + B[i, j] >= lowest_chosen:
                    bad.add(i)
                    break
            if i not in bad and len(chosen) > 1 and len({keys[c] for c in chosen}) > 1:
                bad.add(i)  # a float tie between different tokens: floats cannot prove equality
    return sorted(bad)


def crosscheck(config: Config, steps: int, backend: str = "float", dtype: str = "float64",
               device: str = "cpu", max_memory: int | None = None) -> dict[str, Any]:
    """Step-by-step comparison of a float run with the exact dynamics (see module docstring)."""
    if backend not in ("float", "torch"):
        raise InputError(f"crosscheck compares float or torch runs, got {backend!r}")
    if dtype not in UNIT_ROUNDOFF:
        raise InputError(f"dtype must be float32 or float64, got {dtype!r}")
    reference = "certified" if config.first_irrational() is None else "algebraic"
    # refuses values beyond the dtype's range, and entries that are not algebraic, before any work
    _, schedule = float_config(config, dtype)
    start = time.perf_counter()
    exact = simulate(config, steps, backend=reference, max_memory=max_memory)
    options = {"dtype": dtype} | ({"device": device} if backend == "torch" else {})
    run_start = time.perf_counter()
    floats = simulate(config, steps, backend=backend, max_memory=max_memory, **options)
    float_seconds = time.perf_counter() - run_start
    require_finite(floats)
    out_steps = []
    first = None
    for k in range(steps + 1):
        exact_heads = exact.follow_by_head[k] if exact.follow_by_head else (exact.follow[k],)
        float_heads = floats.follow_by_head[k] if floats.follow_by_head else (floats.follow[k],)
        wrong = sorted({i for fe, ff in zip(exact_heads, float_heads) for i in range(config.n) if fe[i] != ff[i]})
        matrices = [h.A for h in schedule[config.layer_index(k)]]
        uncertain = _uncertain(floats.states[k], float_heads, matrices, dtype)
        exact_state = exact_rows(exact.states[k])
        dev = approx_float(max(abs(Fraction(float(x)) - y) for row_f, row_e in zip(floats.states[k], exact_state)
                  for x, y in zip(row_f, row_e)))
        if wrong and first is None:
            first = k
        out_steps.append({"step": k, "agree": not wrong, "uncertain_rows": uncertain, "wrong_rows": wrong,
                          "max_abs_dev": dev})
    return {
        "backend": backend, "dtype": dtype, "device": device if backend == "torch" else "cpu",
        "reference": "algebraic" if reference == "algebraic" else "exact",
        "n": config.n, "d": config.d, "steps_checked": steps,
        "first_disagreement": first,
        "wrong_decisions": sum(len(s["wrong_rows"]) for s in out_steps),
        "uncertain_decisions": sum(len(s["uncertain_rows"]) for s in out_steps),
        "wrong_but_not_flagged": sum(len(set(s["wrong_rows"]) - set(s["uncertain_rows"])) for s in out_steps),
        "final_max_abs_dev": out_steps[-1]["max_abs_dev"],
        "float_nonfinite_at": floats.info.get("nonfinite_at"),
        "float_run_s": float_seconds, "elapsed_s": time.perf_counter() - start,
        "steps": out_steps,
    }


@dataclass
class _Tally:
    configs: int = 0
    with_wrong: int = 0
    with_uncertain: int = 0
    wrong_decisions: int = 0
    uncertain_decisions: int = 0
    decisions: int = 0


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Rates over a batch of crosscheck results.

    ``unflagged_first_errors`` counts first disagreements that the per-step
    bound did not flag. The bound certifies a decision *for the float run's own
    state*; by the first disagreement that state has drifted from the exact one
    by the rounding of all earlier steps, so a decision can be right for the
    float state and still differ from the true dynamics. A nonzero count
    measures exactly that accumulated drift.
    """
    t = _Tally()
    firsts, devs = [], []
    unflagged_first = 0
    for r in results:
        t.configs += 1
        t.decisions += r["n"] * (r["steps_checked"] + 1)
        t.wrong_decisions += r["wrong_decisions"]
        t.uncertain_decisions += r["uncertain_decisions"]
        t.with_wrong += r["wrong_decisions"] > 0
        t.with_uncertain += r["uncertain_decisions"] > 0
        devs.append(r["final_max_abs_dev"])
        if r["first_disagreement"] is not None:
            firsts.append(r["first_disagreement"])
            step = r["steps"][r["first_disagreement"]]
            unflagged_first += len(set(step["wrong_rows"]) - set(step["uncertain_rows"]))
    return {
        "configs": t.configs,
        "configs_with_wrong_decision": t.with_wrong,
        "configs_with_uncertain_decision": t.with_uncertain,
        "wrong_decision_rate": t.wrong_decisions / max(t.decisions, 1),
        "uncertain_decision_rate": t.uncertain_decisions / max(t.decisions, 1),
        "mean_first_disagreement": float(np.mean(firsts)) if firsts else None,
        "unflagged_first_errors": unflagged_first,
        "final_max_abs_dev": {"median": float(np.median(devs)) if devs else None,
                              "max": float(np.max(devs)) if devs else None},
    }
