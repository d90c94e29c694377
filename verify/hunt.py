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

import functools
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Sequence

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis import seed as hypothesis_seed
from hypothesis.reporting import with_reporter

from dynamics import simulate
from dynamics.config import Config, Head
from dynamics.errors import InputError
from dynamics.parallel import worker_pool

from .claims import FINITE_CLAIMS
from .lemmas import Lemma, Registry, registry
from .run import Run
from .strategies import FAMILIES, MATRIX_CLASSES, configs, model_problem

__all__ = ["HuntResult", "claim_failure", "hunt", "CORPUS_DIR", "save_counterexample", "lemma_registry"]

CORPUS_DIR = os.path.join(os.path.dirname(__file__), "corpus")


class _Found(Exception):
    """Raised inside the Hypothesis test to mark a counterexample."""


class _OutOfBudget(Exception):
    """Raised inside the Hypothesis test once the shrinking budget is spent (ends the search at once)."""


#: Shrinking budget: Hypothesis' shrinking gets at most ``SHRINK_CALLS_PER_EXAMPLE · max_examples +
#: SHRINK_CALLS_MIN`` checks and ``T = max(SHRINK_SECONDS_MIN, SHRINK_TIME_FACTOR · generation time)``
#: seconds, the greedy minimisation another ``T`` seconds. Without it one slow failing example could make a 2-example hunt
#: run for minutes.
SHRINK_CALLS_PER_EXAMPLE = 4
SHRINK_CALLS_MIN = 20
SHRINK_SECONDS_MIN = 5.0
SHRINK_TIME_FACTOR = 2.0


@functools.lru_cache(maxsize=16)
def _registry_of(files: tuple[str, ...]) -> Registry:
    return registry(files)


def lemma_registry(files: tuple[str, ...] = ()) -> Registry:
    """The registry of the built-ins, installed plugins and ``files`` (loaded once per process)."""
    return _registry_of(tuple(os.path.abspath(f) for f in files))


def claim_failure(config: Config, claim: str, steps: int, lemmas: Registry | None = None
                  ) -> tuple[int, dict] | None:
    """``(steps_needed, witness)`` if ``claim`` fails on the exact run of ``config``, else None.

    A finite lemma (built-in or a user's) is judged on ``steps`` exact steps,
    whether or not it is claimed for this config (a hunt may go outside a
    lemma's domain). P5 fails when the certified limit (within ``steps``
    steps) has a point outside S. ``"all"`` checks every built-in
    finite-horizon claim on the same run and reports the first that fails (its
    name is in the witness).
    """
    lemmas = lemmas if lemmas is not None else lemma_registry()
    if claim == "all":
        run = Run(config, simulate(config, steps, backend="exact"))
        for name in FINITE_CLAIMS:
            verdict = lemmas[name].judge(run)
            if verdict.holds is False:
                return lemmas[name].replay_steps(verdict.witness, steps), {"claim": name, **verdict.witness}
        return None
    item = lemmas[claim]
    if item.kind == "limit":
        verdict = item.checker(config, steps)
        if verdict.holds is False:
            return verdict.witness["step"], {"tokens_not_in_S": verdict.witness["tokens_not_in_S"],
                                             "limit": verdict.extra["limit"]}
        return None
    verdict = item.judge(Run(config, simulate(config, steps, backend="exact")))
    if verdict.holds is False:
        return _replayable(config, item, verdict.witness, steps, lemmas), verdict.witness
    return None


def _replayable(config: Config, item: Lemma, witness: dict, budget: int, lemmas: Registry) -> int:
    """The steps a replay needs: the lemma's estimate when a run that long still fails, else the budget."""
    needed = item.replay_steps(witness, budget)
    if item.builtin or needed >= budget:
        return needed
    again = item.judge(Run(config, simulate(config, needed, backend="exact")))
    return needed if again.holds is False else budget


def minimise(config: Config, claim: str, steps: int, lemmas: Registry | None = None,
             deadline: float | None = None) -> tuple[Config, int, dict]:
    """Greedy clean-up after Hypothesis's shrinking (which works within the draw structure).

    Repeatedly drops single tokens, then coordinates (:func:`_fewer_dimensions`), then replaces
    entries by simpler numbers (0, ±1, the integer part), keeping a change only if the claim
    still fails.
    Returns the smaller configuration with its failure. Past ``deadline``
    (a ``time.perf_counter()`` value) it stops and returns what it has, which
    still fails.
    """
    from dataclasses import replace
    from fractions import Fraction

    def late() -> bool:
        return deadline is not None and time.perf_counter() > deadline

    failure = claim_failure(config, claim, steps, lemmas)
    assert failure is not None
    simpler, result = _simpler_models(config, lambda c: None if late() else claim_failure(c, claim, steps, lemmas))
    if result is not None:  # fewer schedule entries, V = I where the failure does not need V
        config, failure = simpler, result
    improved = True
    while improved and not late():
        improved = False
        for i in range(config.n):
            if config.n == 1 or late():
                break
            candidate = replace(config, tokens=config.tokens[:i] + config.tokens[i + 1:])
            result = claim_failure(candidate, claim, steps, lemmas)
            if result is not None:
                config, failure, improved = candidate, result, True
                break
    smaller, result = _fewer_dimensions(config, lambda c: None if late() else claim_failure(c, claim, steps, lemmas))
    if result is not None:
        config, failure = smaller, result
    for i in range(config.n):
        for k in range(config.d):
            if late():
                return config, failure[0], failure[1]
            x = config.tokens[i][k]
            for simpler in (Fraction(0), Fraction(1), Fraction(-1), Fraction(int(x))):
                if simpler == x or (x.denominator == 1 and abs(simpler) >= abs(x)):
                    continue  # not simpler: an integer is only replaced by a smaller one
                row = config.tokens[i][:k] + (simpler,) + config.tokens[i][k + 1:]
                candidate = replace(config, tokens=config.tokens[:i] + (row,) + config.tokens[i + 1:])
                result = claim_failure(candidate, claim, steps, lemmas)
                if result is not None:
                    config, failure = candidate, result
                    break
    return config, failure[0], failure[1]


def _without_coordinate(config: Config, t: int) -> Config:
    """``config`` in one dimension less: coordinate ``t`` of every token, and row and column ``t`` of
    every ``A`` and ``V``, removed."""
    def drop(row):
        return tuple(row[:t]) + tuple(row[t + 1:])

    def square(M):
        return None if M is None else tuple(drop(r) for i, r in enumerate(M) if i != t)

    schedule = [[Head(A=square(h.A), alpha=h.alpha, V=square(h.V)) for h in heads] for heads in config.schedule]
    return _with_schedule(Config(tokens=tuple(drop(r) for r in config.tokens), heads=config.heads), schedule)


def _fewer_dimensions(config: Config, still_fails) -> tuple[Config, Any]:
    """Drop coordinates greedily, keeping each removal for which ``still_fails(candidate)`` returns a failure
    and every ``A`` keeps its matrix class (a principal submatrix of an SPD or symmetric ``A`` stays so; an
    indefinite or nonsymmetric one may not, and then the coordinate stays). Value matrices other than the
    identity keep every coordinate: a submatrix of a rotation is no rotation."""
    from .lemmas import matrix_class

    if any(h.V is not None for _, h in config.all_heads()):
        return config, None
    failure = None
    improved = True
    while improved and config.d > 1:
        improved = False
        classes = [matrix_class(h.A) for _, h in config.all_heads()]
        for t in reversed(range(config.d)):
            candidate = _without_coordinate(config, t)
            if [matrix_class(h.A) for _, h in candidate.all_heads()] != classes:
                continue
            result = still_fails(candidate)
            if result is not None:
                config, failure, improved = candidate, result, True
                break
    return config, failure


def _with_schedule(config: Config, schedule) -> Config:
    """``config`` with its parameters replaced by ``schedule`` (a tuple of per-layer head tuples)."""
    schedule = tuple(tuple(heads) for heads in schedule)
    if len(schedule) == 1:
        return Config(tokens=config.tokens, heads=schedule[0])
    return Config(tokens=config.tokens, heads=(), layers=schedule)


def _simpler_models(config: Config, still_fails) -> tuple[Config, Any]:
    """Simplify the model greedily: drop trailing schedule entries, then set each head's ``V`` to the
    identity, keeping each change for which ``still_fails(candidate)`` returns a failure."""
    failure = None
    while len(config.schedule) > 1:
        candidate = _with_schedule(config, config.schedule[:-1])
        result = still_fails(candidate)
        if result is None:
            break
        config, failure = candidate, result
    for l in range(len(config.schedule)):
        for h in range(len(config.schedule[l])):
            head = config.schedule[l][h]
            if head.V is None:
                continue
            schedule = [list(heads) for heads in config.schedule]
            schedule[l][h] = Head(A=head.A, alpha=head.alpha)
            candidate = _with_schedule(config, schedule)
            result = still_fails(candidate)
            if result is not None:
                config, failure = candidate, result
    return config, failure


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
    model: dict[str, Any] | None = None
    lemma_source: str = "built-in"
    shrink_calls: int = 0
    counterexamples: list[dict[str, Any]] | None = None
    cluster: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "HuntResult":
        """A result back from its :meth:`to_json` form (a campaign journal entry, a report section)."""
        return cls(document["claim"], document["matrix"], document["heads"], document["counterexample"],
                   document["step"], document["witness"], document["examples"], document["elapsed_s"],
                   document["seed"], document["steps_checked"], saved_to=document.get("saved_to"),
                   model=document.get("model"), lemma_source=document.get("lemma_source", "built-in"),
                   shrink_calls=document.get("shrink_calls", 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "claim": self.claim, "matrix": self.matrix, "heads": self.heads,
            "counterexample": self.counterexample, "step": self.step, "witness": self.witness,
            "examples": self.examples, "elapsed_s": round(self.elapsed_s, 3),
            "examples_per_s": round(self.examples / self.elapsed_s, 2) if self.elapsed_s > 0 else None,
            "seed": self.seed, "steps_checked": self.steps, "saved_to": self.saved_to,
            "model": self.model or dict(DEFAULT_MODEL), "lemma_source": self.lemma_source,
            "shrink_calls": self.shrink_calls,
            **({"counterexamples": self.counterexamples} if self.counterexamples is not None else {}),
            **({"cluster": self.cluster} if self.cluster is not None else {}),
        }


#: The strategy options of a hunt when neither the lemma nor the command line sets them.
DEFAULT_MODEL = {"values": "identity", "layers": 1, "alpha_schedule": "any"}


def _size(config: dict) -> tuple:
    text = json.dumps(config["tokens"]) + json.dumps(config.get("A") or config.get("heads") or config.get("layers"))
    return (len(config["tokens"]), len(config["tokens"][0]), len(text))


def _hunt_one(claim: str, matrix: str, heads: int, max_examples: int, seed: int, steps: int,
              family: str | None, max_n: int, max_d: int, model: dict[str, Any],
              lemma_files: tuple[str, ...], database: str | None = None, progress: Any = None) -> HuntResult:
    lemmas = lemma_registry(lemma_files)
    from .cluster import open_database

    examples_db = open_database(database)
    strategy = configs(matrix=matrix, heads=heads, family=family, max_n=max_n, max_d=max_d, **model)
    found: list[tuple[Config, int, dict]] = []
    generated, shrinking = [0], [0]
    limits: dict[str, float] = {}

    phases = [Phase.generate, Phase.shrink] if examples_db is None else [Phase.reuse, Phase.generate, Phase.shrink]

    @settings(max_examples=max_examples, database=examples_db, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=phases,
              report_multiple_bugs=False, print_blob=False)
    @hypothesis_seed(seed)
    @given(strategy)
    def search(config: Config) -> None:
        if found:  # shrinking: within its budget of checks and time
            if shrinking[0] >= limits["calls"] or time.perf_counter() > limits["deadline"]:
                raise _OutOfBudget
            shrinking[0] += 1
        else:
            generated[0] += 1
            if progress is not None:
                progress(generated[0], max_examples)
        failure = claim_failure(config, claim, steps, lemmas)
        if failure is not None:
            if not found:
                limits["seconds"] = max(SHRINK_SECONDS_MIN, SHRINK_TIME_FACTOR * (time.perf_counter() - start))
                limits["calls"] = SHRINK_CALLS_PER_EXAMPLE * max_examples + SHRINK_CALLS_MIN
                limits["deadline"] = time.perf_counter() + limits["seconds"]
            found.append((config, *failure))
            raise _Found

    start = time.perf_counter()
    source = "built-in" if claim == "all" else lemmas[claim].source
    if examples_db is not None:
        # One database entry per search (Hypothesis would key every hunt by this one function's source):
        # a rerun of the same hunt replays what earlier runs found, other hunts keep their own.
        key = json.dumps([claim, matrix, heads, family, max_n, max_d, steps, model, source], sort_keys=True)
        search._hypothesis_internal_database_key = hashlib.sha256(key.encode()).digest()  # type: ignore[attr-defined]
    with with_reporter(lambda message: None):
        try:
            search()
        except (_Found, _OutOfBudget):
            pass
        except BaseExceptionGroup as group:  # e.g. Hypothesis's FlakyFailure: a replay after the budget ran out
            if group.subgroup(lambda e: not isinstance(e, (_Found, _OutOfBudget, BaseExceptionGroup))) is not None:
                raise  # something other than the search's own signals
        except Unsatisfiable:
            raise InputError(f"hunt: no configuration of the {matrix} class can be drawn with these options "
                             f"(max-d {max_d}, family {family or 'any'}; e.g. every 1 × 1 matrix is symmetric)") from None
    if not found:
        return HuntResult(claim, matrix, heads, None, None, None, generated[0], time.perf_counter() - start, seed,
                          steps, model=model, lemma_source=source, shrink_calls=0)
    # Hypothesis tries only smaller examples while shrinking: the last real failure is the smallest found.
    config, step, witness = found[-1]
    config, step, witness = minimise(config, claim, steps, lemmas,
                                     deadline=time.perf_counter() + limits["seconds"])
    document = config.to_dict()
    document["steps"] = step
    return HuntResult(claim, matrix, heads, document, step, witness, generated[0], time.perf_counter() - start,
                      seed, steps, model=model, lemma_source=source, shrink_calls=shrinking[0])


def hunt(claim: str, matrix: str = "spd", heads: int = 1, max_examples: int = 1000, seed: int = 0,
         steps: int = 30, family: str | None = None, workers: int = 1, max_n: int = 12,
         max_d: int = 3, lemma_files: Sequence[str] = (), values: str | None = None,
         layers: int | None = None, alpha_schedule: str | None = None, scheduler: str | None = None,
         database: str | None = None, progress: Any = None) -> HuntResult:
    """Search for a minimal counterexample to a claim or lemma.

    Parameters
    ----------
    claim
        A built-in claim (``P1 … P5, D1 … D3``), a lemma of ``lemma_files`` or an
        installed plugin, or ``all`` (every built-in finite-horizon claim at once).
    matrix
        Matrix class of every head: ``spd``, ``symmetric``, ``indefinite``, ``nonsymmetric``.
        A lemma may be hunted outside the classes it is claimed for.
    heads
        Number of heads (1–3).
    max_examples
        Budget: configurations generated (split across workers). Shrinking a
        found counterexample has its own budget (:data:`SHRINK_CALLS_PER_EXAMPLE`
        and the time limits beside it); ``examples`` in the result counts the
        generated configurations, ``shrink_calls`` the checks spent shrinking.
    seed
        Seed of the search (worker ``w`` uses ``seed + w``).
    steps
        Steps checked per configuration (the step budget for P5).
    family
        Restrict to one token family of :data:`verify.strategies.FAMILIES`.
    workers
        Processes searching in parallel; the smallest counterexample wins. With Dask installed
        (``pip install ".[cluster]"``) they form a local Dask cluster (:mod:`verify.cluster`);
        without it, a process pool.
    scheduler
        Address of a running Dask scheduler (``tcp://HOST:PORT``): the search is split into
        tasks (token family × seed range) that its workers run (:mod:`verify.cluster`).
    database
        A Hypothesis example database shared by the searches: a directory, or ``redis://…``
        (see :func:`verify.cluster.open_database`); a rerun replays what earlier runs found.
    progress
        Called with ``(done, total)``: generated examples of a one-process hunt, finished tasks of a
        distributed one.
    lemma_files
        Python files of user lemmas (:mod:`verify.lemmas`); each worker loads them.
    values, layers, alpha_schedule
        The model drawn (:func:`verify.strategies.configs`): value-matrix class,
        schedule entries, alpha schedule. Default: the lemma's ``model``
        declaration, else ``identity``, 1, ``any``.
    """
    lemma_files = tuple(os.path.abspath(f) for f in lemma_files)
    lemmas = lemma_registry(lemma_files)  # loads (and so validates) the files here, before any worker
    if claim != "all" and claim not in lemmas:
        lemmas[claim]  # a one-line LemmaError naming what is known
    if matrix not in MATRIX_CLASSES:
        raise InputError(f"unknown matrix class {matrix!r} (choose from {', '.join(MATRIX_CLASSES)})")
    if not (1 <= max_n <= 32 and 1 <= max_d <= 5):
        raise InputError(f"max-n must be in 1..32 and max-d in 1..5, got {max_n} and {max_d}")
    if not 1 <= heads <= 3:
        raise InputError(f"heads must be 1, 2 or 3, got {heads}")
    if matrix in ("indefinite", "nonsymmetric") and max_d < 2:
        raise InputError(f"{'an' if matrix == 'indefinite' else 'a'} {matrix} matrix needs d ≥ 2 (every 1 × 1 matrix is symmetric and definite or 0); "
                         f"got max-d {max_d}")
    if max_examples < 1 or workers < 1 or steps < 1:
        raise InputError("max-examples, workers and steps must be positive")
    model = _model(lemmas[claim] if claim != "all" else None, values, layers, alpha_schedule)
    if family is None and claim != "all" and "family" in lemmas[claim].model:
        family = lemmas[claim].model["family"]
    if family is not None and family not in FAMILIES:
        raise InputError(f"unknown token family {family!r} (choose from {', '.join(FAMILIES)})")
    if claim != "all" and lemmas[claim].kind == "limit" and not (model["values"] == "identity"):
        raise InputError(f"{claim} is a certified limit, defined for V = I only (hunt it with --values identity)")
    from .cluster import check_database, dask_available, distributed_hunt

    check_database(database)
    if scheduler is not None or (workers > 1 and dask_available()):
        return distributed_hunt(claim, matrix, heads, max_examples, seed, steps, family, max_n, max_d, model,
                                lemma_files, database, scheduler=scheduler, workers=workers, progress=progress)
    if workers == 1:
        return _hunt_one(claim, matrix, heads, max_examples, seed, steps, family, max_n, max_d, model, lemma_files,
                         database, progress=progress)
    start = time.perf_counter()
    share = [max_examples // workers + (1 if w < max_examples % workers else 0) for w in range(workers)]
    with worker_pool(workers) as pool:
        futures = [pool.submit(_hunt_one, claim, matrix, heads, share[w], seed + w, steps, family, max_n, max_d,
                               model, lemma_files, database)
                   for w in range(workers) if share[w] > 0]
        results = [f.result() for f in futures]
    return merge_results(results, claim, matrix, heads, seed, steps, model, time.perf_counter() - start)


def merge_results(results: list[HuntResult], claim: str, matrix: str, heads: int, seed: int, steps: int,
                  model: dict[str, Any], elapsed: float, cluster: dict[str, Any] | None = None) -> HuntResult:
    """One result from several searches: examples summed, the smallest counterexample first, and every
    distinct counterexample kept (``counterexamples``, smallest first) when there are several searches."""
    examples = sum(r.examples for r in results)
    hits = sorted((r for r in results if r.counterexample is not None), key=lambda r: _size(r.counterexample))
    distinct: list[dict[str, Any]] = []
    for r in hits:
        entry = {"counterexample": r.counterexample, "step": r.step, "witness": r.witness}
        if entry not in distinct:
            distinct.append(entry)
    best = hits[0] if hits else None
    return HuntResult(claim, matrix, heads, best.counterexample if best else None,
                      best.step if best else None, best.witness if best else None,
                      examples, elapsed, seed, steps, model=model,
                      shrink_calls=sum(r.shrink_calls for r in results),
                      lemma_source=results[0].lemma_source if results else "built-in",
                      counterexamples=distinct, cluster=cluster)


def _model(item: Lemma | None, values: str | None, layers: int | None, alpha_schedule: str | None) -> dict[str, Any]:
    """The hunt's strategy options: the command line's, else the lemma's declaration, else :data:`DEFAULT_MODEL`."""
    declared = dict(item.model) if item is not None else {}
    declared.pop("family", None)
    model = dict(DEFAULT_MODEL) | declared
    for key, value in (("values", values), ("layers", layers), ("alpha_schedule", alpha_schedule)):
        if value is not None:
            model[key] = value
    problem = model_problem(model)
    if problem is not None:
        raise InputError(f"hunt: {problem}")
    if not isinstance(model["layers"], int):
        model["layers"] = list(model["layers"])
    return model


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
    if result.lemma_source != "built-in":
        entry["lemma_source"] = _relative(result.lemma_source)
    from dynamics.cli import write_atomic

    os.makedirs(directory, exist_ok=True)
    write_atomic(path, json.dumps(entry, indent=2) + "\n")
    return path


def _relative(path: str) -> str:
    """``path`` relative to the repository (for corpus entries of the example lemmas), else as given."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        relative = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative
