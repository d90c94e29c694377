"""The computations behind each report section; each returns plain JSON data.

Sections
--------
hunts    Hypothesis hunts per claim × matrix class × heads (examples, counterexample, time).
lemmas   the user's lemmas (``--lemmas FILE``): a hunt per lemma × matrix class, with the lemma's model.
limits   certified-limit statistics on seeded random configurations (SPEC §4, P5).
floats   the claims checked exactly on float32/float64 trajectories: how often and how
         much rounding breaks them.
symmetric  configurations symmetric under irrational rotations, whose exact ties only the
         algebraic engine follows.
"""

from __future__ import annotations

import time
from fractions import Fraction
from concurrent.futures import as_completed
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from dynamics import simulate
from dynamics.parallel import worker_pool

from ..claims import CLAIMS, FINITE_CLAIMS, check_all
from ..hunt import hunt
from ..limits import certified_limit
from ..strategies import MATRIX_CLASSES, random_config


@dataclass(frozen=True)
class Budget:
    """How much work each section does."""

    name: str
    hunt_examples: int
    hunt_steps: int
    limit_steps: int
    limit_configs: int
    float_configs: int
    float_steps: int
    multi_head_claims: tuple[str, ...]
    lemma_examples: int = 200
    lemma_files: tuple[str, ...] = ()


QUICK = Budget("quick", hunt_examples=300, hunt_steps=20, limit_steps=200, limit_configs=100,
               float_configs=30, float_steps=30, multi_head_claims=("P1", "P2", "P3"), lemma_examples=100)
FULL = Budget("full", hunt_examples=2000, hunt_steps=30, limit_steps=200, limit_configs=1000,
              float_configs=300, float_steps=30, multi_head_claims=FINITE_CLAIMS + ("P5",), lemma_examples=2000)


def _parallel(fn: Callable, jobs: list[tuple], workers: int, progress: Callable[[], None] | None) -> list:
    """``[fn(*job) for job in jobs]`` in a process pool, results in job order."""
    results: list = [None] * len(jobs)
    with worker_pool(workers) as pool:
        futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if progress:
                progress()
    return results


def hunt_tasks(budget: Budget) -> list[dict[str, Any]]:
    """Every (claim, matrix, heads) hunt of the budget, in report order."""
    tasks = []
    for claim in CLAIMS:
        for matrix in MATRIX_CLASSES:
            tasks.append({"claim": claim, "matrix": matrix, "heads": 1})
        if claim in budget.multi_head_claims:
            for matrix in ("spd", "nonsymmetric"):
                tasks.append({"claim": claim, "matrix": matrix, "heads": 2})
    return tasks


def _run_hunt(task: dict[str, Any], budget: Budget, seed: int) -> dict[str, Any]:
    steps = budget.limit_steps // 2 if task["claim"] == "P5" else budget.hunt_steps
    result = hunt(task["claim"], matrix=task["matrix"], heads=task["heads"],
                  max_examples=budget.hunt_examples, seed=seed, steps=steps)
    return result.to_json()


def run_hunts(budget: Budget, seed: int, workers: int, progress: Callable[[], None] | None) -> list[dict]:
    return _parallel(_run_hunt, [(task, budget, seed) for task in hunt_tasks(budget)], workers, progress)


def lemma_tasks(budget: Budget) -> list[dict[str, Any]]:
    """One hunt per user lemma (of ``budget.lemma_files``) × matrix class, in file order."""
    from ..hunt import lemma_registry

    if not budget.lemma_files:
        return []
    return [{"claim": item.name, "matrix": matrix, "heads": 1}
            for item in lemma_registry(budget.lemma_files).user() for matrix in MATRIX_CLASSES]


def _run_lemma_hunt(task: dict[str, Any], budget: Budget, seed: int) -> dict[str, Any]:
    result = hunt(task["claim"], matrix=task["matrix"], heads=task["heads"], max_examples=budget.lemma_examples,
                  seed=seed, steps=budget.hunt_steps, lemma_files=budget.lemma_files)
    return result.to_json()


def run_lemmas(budget: Budget, seed: int, workers: int, progress=None) -> list[dict[str, Any]]:
    """Per user lemma: its declaration and its hunts, one per matrix class (module docstring)."""
    from ..hunt import lemma_registry

    if not budget.lemma_files:
        return []
    hunts = _parallel(_run_lemma_hunt, [(task, budget, seed) for task in lemma_tasks(budget)], workers, progress)
    out = []
    for item in lemma_registry(budget.lemma_files).user():
        entry = item.describe() | {"model": {k: list(v) if isinstance(v, tuple) else v for k, v in item.model.items()}}
        entry["source"] = _display_path(entry["source"])
        entry["hunts"] = [h | {"lemma_source": entry["source"]} for h in hunts if h["claim"] == item.name]
        out.append(entry)
    return out


def _display_path(path: str) -> str:
    """A lemma file's path relative to the current folder when it is inside it (stable across machines)."""
    import os

    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return path if relative.startswith("..") else relative


LIMIT_FAMILIES = (("spd", "generic"), ("spd", "duplicates"), ("spd", "reflection"), ("nonsymmetric", "generic"))


def _limit_job(matrix: str, family: str, count: int, max_steps: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng([seed, MATRIX_CLASSES.index(matrix), len(family)])
    certified, in_S_all, steps_needed, failures, not_in_S, elapsed = 0, 0, [], [], [], 0.0
    for _ in range(count):
        n, d = int(rng.integers(2, 17)), int(rng.integers(1, 4))
        if family == "reflection" or matrix == "nonsymmetric":  # (every 1 × 1 matrix is symmetric)
            d = max(d, 2)
        config = random_config(rng, n, d, matrix=matrix, family=family)
        start = time.perf_counter()
        result = certified_limit(config, max_steps=max_steps)
        elapsed += time.perf_counter() - start
        if result.certified:
            certified += 1
            steps_needed.append(result.certified_at)
            if result.in_S is not None and all(result.in_S):
                in_S_all += 1
            elif result.in_S is not None:
                not_in_S.append({"config": config.to_dict(), "in_S": result.in_S})
        else:
            failures.append({"config": config.to_dict(), "reason": result.reason,
                             "final_max_gap": result.gaps[-1] if result.gaps else None})
    return {
        "matrix": matrix, "family": family, "configs": count, "max_steps": max_steps,
        "certified": certified, "fraction_certified": certified / count if count else None,
        "all_limit_points_in_S": in_S_all,
        "steps_to_certify": {"mean": float(np.mean(steps_needed)) if steps_needed else None,
                             "median": float(np.median(steps_needed)) if steps_needed else None,
                             "max": int(max(steps_needed)) if steps_needed else None},
        "not_certified": failures[:10], "not_certified_count": len(failures),
        "not_in_S": not_in_S[:10], "elapsed_s": elapsed,
    }


def run_limits(budget: Budget, seed: int, workers: int, progress=None) -> list[dict[str, Any]]:
    jobs = [(m, f, budget.limit_configs if (m, f) == ("spd", "generic") else max(1, budget.limit_configs // 2),
             budget.limit_steps, seed) for m, f in LIMIT_FAMILIES]
    return _parallel(_limit_job, jobs, workers, progress)


FLOAT_FAMILIES = ("generic", "duplicates", "reflection")


def _float_job(family: str, dtype: str, count: int, steps: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng([seed, len(family), 32 if dtype == "float32" else 64])
    per_claim = {c: {"runs_violating": 0, "violations": 0, "max_violation": 0.0, "first_witness": None}
                 for c in FINITE_CLAIMS}
    elapsed = 0.0
    for _ in range(count):
        n, d = int(rng.integers(2, 13)), int(rng.integers(2, 4))
        config = random_config(rng, n, d, matrix="spd", family=family)
        start = time.perf_counter()
        traj = simulate(config, steps, backend="float", dtype=dtype)
        verdicts = check_all(config, traj)
        elapsed += time.perf_counter() - start
        for claim, v in verdicts.items():
            if v.holds is False:
                entry = per_claim[claim]
                entry["runs_violating"] += 1
                entry["violations"] += v.violations
                if v.max_violation is not None:
                    entry["max_violation"] = max(entry["max_violation"], v.max_violation)
                if entry["first_witness"] is None:
                    entry["first_witness"] = {"config": config.to_dict(), "witness": v.witness}
    return {"family": family, "dtype": dtype, "configs": count, "steps": steps,
            "claims": per_claim, "elapsed_s": elapsed}


def run_floats(budget: Budget, seed: int, workers: int, progress=None) -> list[dict[str, Any]]:
    jobs = [(f, t, budget.float_configs, budget.float_steps, seed) for f in FLOAT_FAMILIES
            for t in ("float32", "float64")]
    return _parallel(_float_job, jobs, workers, progress)


CROSS_FAMILIES = ("generic", "duplicates", "reflection")


def _cross_job(family: str, backend: str, dtype: str, count: int, steps: int, seed: int) -> dict[str, Any]:
    from ..crosscheck import crosscheck, summarise

    rng = np.random.default_rng([seed, len(family), 7])
    results = []
    for _ in range(count):
        n, d = int(rng.integers(2, 17)), int(rng.integers(2, 4))
        results.append(crosscheck(random_config(rng, n, d, family=family), steps, backend=backend, dtype=dtype))
    devs = np.array([[s["max_abs_dev"] for s in r["steps"]] for r in results])
    first_bad = next((r for r in results if r["first_disagreement"] is not None), None)
    return {
        "family": family, "backend": backend, "dtype": dtype, "steps": steps,
        "summary": summarise(results),
        "deviation_median": np.median(devs, axis=0).tolist(),
        "deviation_max": devs.max(axis=0).tolist(),
        "float_run_s": sum(r["float_run_s"] for r in results),
        "example": None if first_bad is None else {
            "first_disagreement": first_bad["first_disagreement"],
            "wrong_rows": first_bad["steps"][first_bad["first_disagreement"]]["wrong_rows"],
        },
    }


def run_crosscheck(budget: Budget, seed: int, workers: int, progress=None) -> list[dict[str, Any]]:
    jobs = [(f, "float", t) for f in CROSS_FAMILIES for t in ("float32", "float64")] + [("generic", "torch", "float32")]
    return _parallel(_cross_job, [(f, b, t, budget.float_configs, budget.float_steps, seed) for f, b, t in jobs],
                     workers, progress)


def figure2_sets(seed: int) -> dict[str, list[list[Any]]]:
    """The paper's four starting sets (points as rows); "k random in R" drawn as exact
    rationals (denominator 100) from the report seed."""
    from fractions import Fraction as Fr

    rng = np.random.default_rng([seed, 2])

    def rand(k: int, low: float, high: float) -> list[list[Fr]]:
        return [[Fr(int(rng.integers(int(low * 100), int(high * 100) + 1)), 100) for _ in range(2)] for _ in range(k)]

    F = Fr
    return {
        "triangle": [[F(1), F(1)], [F(1, 2), F(-1, 2)], [F(-1), F(-1)]] + rand(2, 0, 1) + rand(2, -1, 0)
                    + [[F(3, 10), F(-1, 5)], [F(1, 10), F(-1, 5)]],
        "emerging leader": [[F(1), F(1, 3)], [F(-1, 12), F(1, 12)], [F(-1), F(-1)], [F(0), F(1, 4)],
                            [F(-3, 10), F(-7, 10)], [F(-3, 5), F(-9, 10)], [F(4, 5), F(1, 10)], [F(3, 5), F(3, 20)]],
        "square": [[F(sx), F(sy)] for sx in (1, -1) for sy in (1, -1)] + rand(6, -0.5, 0.5),
        "non-leader clusters": [[F(sx), F(sy)] for sx in (1, -1) for sy in (1, -1)]
                               + [[F(-1, 2), F(0)], [F(1, 2), F(0)]] + rand(4, -0.5, 0.5),
    }


FIGURE2_STEPS = (0, 1, 2, 5, 30)


def run_figure2(budget: Budget, seed: int, workers: int, progress=None) -> list[dict[str, Any]]:
    """Exact runs of the four sets (A = I, α = 1/2) with their certified limits."""
    from dynamics.config import Config, Head, identity
    from dynamics.numbers import format_fraction

    from ..limits import certified_limit

    out = []
    for name, tokens in figure2_sets(seed).items():
        config = Config(tokens=tuple(map(tuple, tokens)), heads=(Head(A=identity(2), alpha=Fraction(1, 2)),))
        traj = simulate(config, max(FIGURE2_STEPS), backend="exact")
        limit = certified_limit(config, max_steps=budget.limit_steps)
        out.append({
            "name": name, "config": config.to_dict(),
            "states": [s.to_numpy().tolist() for s in traj.states],
            "leaders": [list(l) for l in traj.leaders],
            "certified_at": limit.certified_at, "clusters": limit.clusters,
            "limit_leaders": [[format_fraction(x) for x in limit.limit[i]] for i in limit.leaders]
            if limit.certified else [],
            "in_S": limit.in_S,
        })
        if progress:
            progress()
    return out


#: Configurations symmetric under an irrational rotation or reflection, each with one token whose scores tie
#: exactly between two distinct leaders at every step (A = I): (name, tokens, α, the tied token).
SYMMETRIC = (
    ("square rotated by 45°", [["sqrt(2)/2", "sqrt(2)/2"], ["-sqrt(2)/2", "sqrt(2)/2"], ["-sqrt(2)/2", "-sqrt(2)/2"],
                               ["sqrt(2)/2", "-sqrt(2)/2"], ["1/3", "0"]], "1", 4),
    ("regular pentagon", [["1", "0"], ["cos(2*pi/5)", "sin(2*pi/5)"], ["cos(4*pi/5)", "sin(4*pi/5)"],
                          ["cos(4*pi/5)", "-sin(4*pi/5)"], ["cos(2*pi/5)", "-sin(2*pi/5)"], ["-1/2", "0"]], "1/2", 5),
    ("equilateral triangle", [["1", "0"], ["-1/2", "sqrt(3)/2"], ["-1/2", "-sqrt(3)/2"], ["-1/5", "0"]], "1/3", 3),
    ("regular pentagon turned by 36°", [[f"cos({k}*pi/5)", f"sin({k}*pi/5)"] for k in (1, 3, 5, 7, 9)]
     + [["-cos(pi/5)/2", "-sin(pi/5)/2"]], "1/2", 5),
)
#: Steps of each symmetric run.
SYMMETRIC_STEPS = 30


def run_symmetric(budget: Budget, seed: int, workers: int, progress=None) -> list[dict[str, Any]]:
    """The :data:`SYMMETRIC` configurations three ways: exactly over their number field (the algebraic
    engine), with intervals, and in float64 with each entry rounded to the nearest double."""
    from dynamics import config_from_dict
    from dynamics.trajectory import state_to_float

    out = []
    for name, tokens, alpha, tied in SYMMETRIC:
        config = config_from_dict({"name": name, "tokens": tokens, "alpha": alpha})
        exact = simulate(config, SYMMETRIC_STEPS, backend="algebraic")
        interval = simulate(config, SYMMETRIC_STEPS, backend="interval")
        floats = simulate(config, SYMMETRIC_STEPS, backend="float", dtype="float64")  # entries correctly rounded
        exact_follow = [list(f[tied]) for f in exact.follow]
        float_follow = [list(f[tied]) for f in floats.follow]
        differs = [k for k, (a, b) in enumerate(zip(exact_follow, float_follow)) if a != b]
        undecided = interval.info.get("undecided")
        verdicts = check_all(config, exact)  # judged over the field, from the exact states
        limit = certified_limit(config, max_steps=budget.limit_steps)
        out.append({
            "name": name, "config": config.to_dict(), "tied": tied, "steps": SYMMETRIC_STEPS,
            "field": exact.info["field"], "degree": exact.info["degree"],
            "exact_follow": exact_follow, "leaders": [list(l) for l in exact.leaders],
            "follow": [[list(c) for c in f] for f in exact.follow],
            "tie_every_step": all(len(f) >= 2 for f in exact_follow),
            # the tied token stays on its line through the origin: z × z⁰ = 0 exactly at every step
            "on_axis": all(s[tied][0] * exact.states[0][tied][1] - s[tied][1] * exact.states[0][tied][0] == 0
                           for s in exact.states),
            "states": [state_to_float(s).tolist() for s in exact.states],
            "interval": {"complete": bool(interval.info.get("complete", True)),
                         "undecided_step": undecided["step"] if undecided else None,
                         "undecided_rows": undecided["rows"] if undecided else [], "prec": interval.info.get("prec")},
            "float64": {"follow": float_follow[:3], "first_wrong_step": differs[0] if differs else None,
                        "wrong_steps": len(differs)},
            "claims": {c: v.holds for c, v in verdicts.items()},
            "limit": {"certified_at": limit.certified_at, "clusters": limit.clusters, "in_S": limit.in_S,
                      "tied_limit": limit.to_json()["limit"][tied] if limit.certified else None},
        })
        if progress:
            progress()
    return out


TASKS = {
    "figure2": lambda budget: 4,
    "hunts": lambda budget: len(hunt_tasks(budget)),
    "lemmas": lambda budget: len(lemma_tasks(budget)),
    "limits": lambda budget: len(LIMIT_FAMILIES),
    "floats": lambda budget: 2 * len(FLOAT_FAMILIES),
    "crosscheck": lambda budget: 2 * len(CROSS_FAMILIES) + 1,
    "symmetric": lambda budget: len(SYMMETRIC),
}
"""How many progress ticks each section makes (for the report's progress bar)."""
