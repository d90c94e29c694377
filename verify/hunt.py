"""The counterexample hunter: Hypothesis search and shrinking for a claim.

For a claim and a matrix class, Hypothesis draws configurations
(:mod:`verify.strategies`), runs the exact engine and the claim's checker,
and on the first failure *shrinks* the configuration to a minimal one (fewest,
smallest tokens; simplest matrix). The result is a replayable config: the
SPEC §5 JSON plus ``"steps"`` (how many steps the failure needs).

Every counterexample found is saved under ``verify/corpus/`` (unless told not
to) and replayed by the test suite, so nothing found is ever lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.reporting import with_reporter

from dynamics import simulate
from dynamics.config import Config
from dynamics.errors import InputError
from dynamics.parallel import worker_pool

from .claims import CLAIMS, check, check_all
from .limits import certified_limit
from .strategies import MATRIX_CLASSES, configs

__all__ = ["HuntResult", "claim_failure", "hunt", "CORPUS_DIR", "save_counterexample"]

CORPUS_DIR = os.path.join(os.path.dirname(__file__), "corpus")


class _Found(Exception):
    """Raised inside the Hypothesis test to mark a counterexample."""


def _failure_steps(claim: str, witness: dict[str, Any]) -> int:
    """How many steps a run needs to reproduce the witness."""
    if claim in ("P2", "D3"):
        return witness["broken_at"]
    if claim in ("D2",):
        return witness["step"] + 1
    return witness["step"]


def claim_failure(config: Config, claim: str, steps: int) -> tuple[int, dict] | None:
    """``(steps_needed, witness)`` if ``claim`` fails on the exact run of ``config``, else None.

    P1–P4, D1–D3 are checked on ``steps`` exact steps; P5 fails when the
    certified limit (within ``steps`` steps) has a point outside S; ``"all"``
    checks every finite-horizon claim on the same run and reports the first
    that fails (its name is in the witness).
    """
    if claim == "all":
        traj = simulate(config, steps, backend="exact")
        for name, verdict in check_all(config, traj).items():
            if verdict.holds is False:
                return _failure_steps(name, verdict.witness), {"claim": name, **verdict.witness}
        return None
    if claim == "P5":
        result = certified_limit(config, max_steps=steps)
        if result.certified and result.in_S is not None and not all(result.in_S):
            bad = [i for i, ok in enumerate(result.in_S) if not ok]
            return result.certified_at, {"tokens_not_in_S": bad, "limit": result.to_json()["limit"]}
        return None
    verdict = check(claim, config, simulate(config, steps, backend="exact"))
    if verdict.holds is False:
        return _failure_steps(claim, verdict.witness), verdict.witness
    return None


def minimise(config: Config, claim: str, steps: int) -> tuple[Config, int, dict]:
    """Greedy clean-up after Hypothesis's shrinking (which works within the draw structure).

    Repeatedly drops single tokens, then replaces entries by simpler numbers
    (0, ±1, the integer part), keeping a change only if the claim still fails.
    Returns the smaller configuration with its failure.
    """
    from dataclasses import replace
    from fractions import Fraction

    failure = claim_failure(config, claim, steps)
    assert failure is not None
    improved = True
    while improved:
        improved = False
        for i in range(config.n):
            if config.n == 1:
                break
            candidate = replace(config, tokens=config.tokens[:i] + config.tokens[i + 1:])
            result = claim_failure(candidate, claim, steps)
            if result is not None:
                config, failure, improved = candidate, result, True
                break
    for i in range(config.n):
        for k in range(config.d):
            x = config.tokens[i][k]
            for simpler in (Fraction(0), Fraction(1), Fraction(-1), Fraction(int(x))):
                if simpler == x or (x.denominator == 1 and abs(simpler) >= abs(x)):
                    continue  # not simpler: an integer is only replaced by a smaller one
                row = config.tokens[i][:k] + (simpler,) + config.tokens[i][k + 1:]
                candidate = replace(config, tokens=config.tokens[:i] + (row,) + config.tokens[i + 1:])
                result = claim_failure(candidate, claim, steps)
                if result is not None:
                    config, failure = candidate, result
                    break
    return config, failure[0], failure[1]


@dataclass
class HuntResult:
    claim: str
    matrix: str
    heads: int
    counterexample: dict[str, Any] | None
    step: int | None
    witness: dict[str, Any] | None
    examples: int
    elapsed_s: float
    seed: int
    steps: int
    saved_to: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "claim": self.claim, "matrix": self.matrix, "heads": self.heads,
            "counterexample": self.counterexample, "step": self.step, "witness": self.witness,
            "examples": self.examples, "elapsed_s": round(self.elapsed_s, 3),
            "examples_per_s": round(self.examples / self.elapsed_s, 2) if self.elapsed_s > 0 else None,
            "seed": self.seed, "steps_checked": self.steps, "saved_to": self.saved_to,
        }


def _size(config: dict) -> tuple:
    text = json.dumps(config["tokens"]) + json.dumps(config.get("A") or config.get("heads"))
    return (len(config["tokens"]), len(config["tokens"][0]), len(text))


def _hunt_one(claim: str, matrix: str, heads: int, max_examples: int, seed: int, steps: int,
              family: str | None, max_n: int, max_d: int) -> HuntResult:
    strategy = configs(matrix=matrix, heads=heads, family=family, max_n=max_n, max_d=max_d)
    found: list[tuple[Config, int, dict]] = []
    calls = [0]

    @settings(max_examples=max_examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink],
              report_multiple_bugs=False, print_blob=False)
    @hypothesis_seed(seed)
    @given(strategy)
    def search(config: Config) -> None:
        calls[0] += 1
        failure = claim_failure(config, claim, steps)
        if failure is not None:
            found.append((config, *failure))
            raise _Found

    start = time.perf_counter()
    with with_reporter(lambda message: None):
        try:
            search()
        except _Found:
            pass
    elapsed = time.perf_counter() - start
    if not found:
        return HuntResult(claim, matrix, heads, None, None, None, calls[0], elapsed, seed, steps)
    config, step, witness = found[-1]  # Hypothesis replays the minimal example last
    config, step, witness = minimise(config, claim, steps)
    document = config.to_dict()
    document["steps"] = step
    return HuntResult(claim, matrix, heads, document, step, witness, calls[0], elapsed, seed, steps)


def hunt(claim: str, matrix: str = "spd", heads: int = 1, max_examples: int = 1000, seed: int = 0,
         steps: int = 30, family: str | None = None, workers: int = 1, max_n: int = 12,
         max_d: int = 3) -> HuntResult:
    """Search for a minimal counterexample to ``claim``.

    Parameters
    ----------
    claim
        One of ``P1 … P5, D1 … D3``, or ``all`` (every finite-horizon claim at once).
    matrix
        Matrix class of every head: ``spd``, ``symmetric``, ``indefinite``, ``nonsymmetric``.
    heads
        Number of heads (1–3).
    max_examples
        Budget: configurations generated (split across workers).
    seed
        Seed of the search (worker ``w`` uses ``seed + w``).
    steps
        Steps checked per configuration (the step budget for P5).
    family
        Restrict to one token family of :data:`verify.strategies.FAMILIES`.
    workers
        Processes searching in parallel; the smallest counterexample wins.
    """
    if claim not in CLAIMS + ("all",):
        raise InputError(f"unknown claim {claim!r} (choose from {', '.join(CLAIMS)}, all)")
    if matrix not in MATRIX_CLASSES:
        raise InputError(f"unknown matrix class {matrix!r} (choose from {', '.join(MATRIX_CLASSES)})")
    if not (1 <= max_n <= 32 and 1 <= max_d <= 5):
        raise InputError(f"max-n must be in 1..32 and max-d in 1..5, got {max_n} and {max_d}")
    if not 1 <= heads <= 3:
        raise InputError(f"heads must be 1, 2 or 3, got {heads}")
    if max_examples < 1 or workers < 1 or steps < 1:
        raise InputError("max-examples, workers and steps must be positive")
    if workers == 1:
        return _hunt_one(claim, matrix, heads, max_examples, seed, steps, family, max_n, max_d)
    start = time.perf_counter()
    share = [max_examples // workers + (1 if w < max_examples % workers else 0) for w in range(workers)]
    with worker_pool(workers) as pool:
        futures = [pool.submit(_hunt_one, claim, matrix, heads, share[w], seed + w, steps, family, max_n, max_d)
                   for w in range(workers) if share[w] > 0]
        results = [f.result() for f in futures]
    examples = sum(r.examples for r in results)
    hits = [r for r in results if r.counterexample is not None]
    best = min(hits, key=lambda r: _size(r.counterexample)) if hits else results[0]
    return HuntResult(claim, matrix, heads, best.counterexample if hits else None,
                      best.step if hits else None, best.witness if hits else None,
                      examples, time.perf_counter() - start, seed, steps)


def save_counterexample(result: HuntResult, command: str, directory: str = CORPUS_DIR) -> str:
    """Save a found counterexample as a replayable corpus entry (once); returns its path."""
    if result.counterexample is None:
        raise InputError("no counterexample to save")
    body = json.dumps(result.counterexample, sort_keys=True)
    digest = hashlib.sha256(f"{result.claim}:{body}".encode()).hexdigest()[:10]
    path = os.path.join(directory, f"{result.claim}-{result.matrix}-h{result.heads}-{digest}.json")
    if os.path.exists(path):
        return path  # already in the corpus: keep the first finder's entry as it is
    entry = {
        "claim": result.claim, "matrix": result.matrix, "heads": result.heads,
        "expect": "fails", "step": result.step, "witness": result.witness,
        "found_by": command, "config": result.counterexample,
    }
    from dynamics.cli import write_atomic

    os.makedirs(directory, exist_ok=True)
    write_atomic(path, json.dumps(entry, indent=2) + "\n")
    return path
