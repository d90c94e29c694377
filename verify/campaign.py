"""``python -m verify campaign``: the whole table of hunts on a Dask cluster, within a time budget.

The table: every claim and lemma (the built-ins P1–P5, D1–D3 and the lemmas of
``--lemmas`` files) × every matrix class × heads (1, and 2 for the built-in
finite claims). Each cell is split into ``--splits`` tasks (one Hypothesis
search each, its own seed, its share of ``--examples`` examples: see
:func:`verify.cluster.hunt_tasks`) and every task is submitted to the scheduler
(``--scheduler``, or a local cluster of ``--workers`` processes).

Robust by construction:

* **a worker that dies** loses nothing: the scheduler reruns its tasks on the
  other workers (Dask's ``allowed-failures``);
* **a client that is killed** loses nothing either: every finished task is
  written at once to ``OUT/campaign/tasks/ID.json`` (atomically; ``ID`` a hash
  of the task's arguments), and a rerun of the same command skips those tasks;
* **the budget** (``--budget 2h``, ``90m``, ``3600s``): no task is submitted
  after it, the ones still running are cancelled, and the results say which
  cells are complete.

Results: ``OUT/hunts/CLAIM-MATRIX-hH.json`` per cell (the format of
``verify hunt --json``, with ``"campaign"`` details), which ``python -m verify
report --output-dir OUT`` renders as its long hunts, and ``OUT/campaign.json``
(the summary). Progress on stderr: tasks done, examples/s, counterexamples so far.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from typing import Any

from dynamics.cli import write_atomic
from dynamics.errors import InputError
from dynamics.provenance import git_commit, utc_now

from .claims import CLAIMS, FINITE_CLAIMS
from .strategies import MATRIX_CLASSES

__all__ = ["parse_duration", "campaign_tasks", "run_campaign", "add_arguments"]

PROG = "python -m verify campaign"


def parse_duration(text: str) -> float:
    """Seconds in ``"2h"``, ``"90m"``, ``"3600s"``, ``"3600"`` or ``"1h30m"``; :class:`InputError` otherwise."""
    match = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s?)?\s*", text or "")
    if not text or not match or not any(match.groups()):
        raise InputError(f"--budget: expected a duration such as 2h, 90m, 1h30m or 3600s, got {text!r}")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = 3600 * hours + 60 * minutes + seconds
    if total <= 0:
        raise InputError(f"--budget: must be positive, got {text!r}")
    return float(total)


def add_arguments(parser) -> None:
    parser.add_argument("--budget", default="1h", help="wall-clock budget, e.g. 2h, 90m, 3600s (default 1h)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                        help="a running Dask scheduler (default: a local cluster of --workers processes)")
    parser.add_argument("--workers", type=int, default=2, help="local cluster size without --scheduler (default 2)")
    parser.add_argument("--examples", type=int, default=2000, help="examples per cell of the table (default 2000)")
    parser.add_argument("--splits", type=int, default=4, help="tasks per cell (default 4)")
    parser.add_argument("--steps", type=int, default=30, help="exact steps per example (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every search (same seed, same campaign)")
    parser.add_argument("--database", metavar="DIR|redis://HOST:PORT", default=None,
                        help="Hypothesis example database shared by every search")
    parser.add_argument("--lemmas", action="append", default=[], metavar="FILE",
                        help="a Python file of lemmas to add to the table; repeat for several")
    parser.add_argument("--claims", default=None, metavar="NAME,…",
                        help="only these claims and lemmas (default: every built-in claim and every lemma loaded)")
    parser.add_argument("--output-dir", default="campaign", help="where results and the resume journal go "
                        "(default campaign/; reports/ publishes into the report's long hunts)")
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def campaign_tasks(lemma_files: tuple[str, ...], examples: int, splits: int, seed: int, steps: int,
                   claims: list[str] | None = None) -> list[dict[str, Any]]:
    """Every task of the table (module docstring), each with its ``id`` and ``cell``; ``claims``
    restricts the table to those names."""
    from .hunt import DEFAULT_MODEL, lemma_registry, _model

    lemmas = lemma_registry(lemma_files)
    for name in claims or ():
        lemmas[name]  # a one-line LemmaError naming what is known
    cells = []
    for name in CLAIMS:
        for matrix in MATRIX_CLASSES:
            cells.append((name, matrix, 1))
            if name in FINITE_CLAIMS:
                cells.append((name, matrix, 2))
    cells += [(item.name, matrix, 1) for item in lemmas.user() for matrix in MATRIX_CLASSES]
    if claims:
        cells = [cell for cell in cells if cell[0] in claims]
    out = []
    for c, (claim, matrix, heads) in enumerate(cells):
        item = lemmas[claim]
        model = _model(item, None, None, None) if not item.builtin else dict(DEFAULT_MODEL)
        family = item.model.get("family")
        budget = [examples // splits + (1 if s < examples % splits else 0) for s in range(splits)]
        for s in range(splits):
            if budget[s] == 0:
                continue
            arguments = dict(claim=claim, matrix=matrix, heads=heads, max_examples=budget[s],
                             seed=seed * 1_000_000 + c * 1000 + s,
                             steps=steps // 2 if claim == "P5" else steps, family=family, max_n=12,
                             max_d=3, model=model, lemma_files=lemma_files)
            key = json.dumps(arguments, sort_keys=True, default=str)
            out.append({"id": hashlib.sha256(key.encode()).hexdigest()[:16], "cell": f"{claim}-{matrix}-h{heads}",
                        "arguments": arguments})
    return out


def _finished(folder: str) -> dict[str, dict[str, Any]]:
    """The resume journal: finished tasks by id (entries that cannot be read are redone)."""
    out = {}
    if not os.path.isdir(folder):
        return out
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name)) as handle:
                entry = json.load(handle)
            out[entry["id"]] = entry
        except (OSError, ValueError, KeyError, TypeError):
            print(f"{PROG}: warning: {name} in the journal cannot be read; its task is run again", file=sys.stderr)
    return out


def run_campaign(args) -> int:
    """Run (or resume) the campaign of ``args`` (see :func:`add_arguments`)."""
    from .cluster import check_database, dask_available

    budget_s = parse_duration(args.budget)
    for name in ("examples", "splits", "steps", "workers"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not dask_available():
        raise InputError("campaign needs Dask: pip install \".[cluster]\" (dask[distributed])")
    check_database(args.database)
    lemma_files = tuple(os.path.abspath(f) for f in args.lemmas)
    chosen = [c.strip() for c in args.claims.split(",") if c.strip()] if args.claims else None
    tasks = campaign_tasks(lemma_files, args.examples, args.splits, args.seed, args.steps, chosen)
    journal = os.path.join(args.output_dir, "campaign", "tasks")
    done = _finished(journal)
    todo = [t for t in tasks if t["id"] not in done]
    start = time.perf_counter()
    deadline = start + budget_s
    from distributed import as_completed

    from .cluster import _task, connect

    examples, found, timed_out = 0, 0, False
    show = not args.no_progress and not args.json
    try:
        with connect(args.scheduler, args.workers) as client:
            futures = {client.submit(_task, dict(t["arguments"], database=args.database), pure=False,
                                     key=f"task-{t['id']}"): t for t in todo}
            for future in as_completed(list(futures), with_results=False):
                if time.perf_counter() > deadline:
                    timed_out = True
                    break
                task = futures[future]
                result, address = future.result()
                entry = {"id": task["id"], "cell": task["cell"], "worker": address, "result": result.to_json()}
                write_atomic(os.path.join(journal, f"{task['id']}.json"), json.dumps(entry) + "\n")
                done[task["id"]] = entry
                examples += result.examples
                found += result.counterexample is not None
                if show:
                    rate = examples / max(time.perf_counter() - start, 1e-9)
                    print(f"\r{PROG}: {len(done)}/{len(tasks)} tasks, {rate:.1f} examples/s, "
                          f"{found} counterexample(s) so far", end="", file=sys.stderr, flush=True)
                if time.perf_counter() > deadline:
                    timed_out = True
                    break
            if timed_out:
                client.cancel([f for f in futures if not f.done()])
    finally:
        if show:
            print(file=sys.stderr)
    summary = _write_results(args, tasks, done, time.perf_counter() - start, timed_out)
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        print(f"{PROG}: {summary['tasks_done']}/{summary['tasks']} tasks, {summary['cells_complete']}/"
              f"{summary['cells']} cells complete, {summary['counterexamples']} with a counterexample; results in "
              f"{args.output_dir}/hunts/ and {args.output_dir}/campaign.json"
              + (" (budget spent: rerun the same command to continue)" if timed_out else ""))
    return 0


def _write_results(args, tasks, done, elapsed: float, timed_out: bool) -> dict[str, Any]:
    """Per cell, the merged hunt of its finished tasks (``OUT/hunts``), and ``OUT/campaign.json``."""
    from .hunt import HuntResult, merge_results

    cells: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        cells.setdefault(task["cell"], []).append(task)
    complete, with_counterexample = 0, 0
    for cell, members in cells.items():
        finished = [done[t["id"]] for t in members if t["id"] in done]
        if not finished:
            continue
        results = [HuntResult.from_json(entry["result"]) for entry in finished]
        first = members[0]["arguments"]
        workers: dict[str, int] = {}
        for entry in finished:
            workers[entry["worker"]] = workers.get(entry["worker"], 0) + entry["result"]["examples"]
        merged = merge_results(results, first["claim"], first["matrix"], first["heads"], args.seed, first["steps"],
                               first["model"], sum(r.elapsed_s for r in results),
                               cluster={"scheduler": args.scheduler or "local", "workers": workers,
                                        "tasks": len(finished)}).to_json()
        merged["campaign"] = {"tasks": len(members), "tasks_done": len(finished),
                              "complete": len(finished) == len(members)}
        complete += merged["campaign"]["complete"]
        with_counterexample += merged["counterexample"] is not None
        write_atomic(os.path.join(args.output_dir, "hunts", f"{cell}.json"), json.dumps(merged, indent=1) + "\n")
    summary = {
        "command": "python -m verify campaign " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else PROG,
        "commit": git_commit(), "date": utc_now(), "tasks": len(tasks), "tasks_done": len(done),
        "cells": len(cells), "cells_complete": complete, "counterexamples": with_counterexample,
        "budget_spent": timed_out, "elapsed_s": round(elapsed, 1),
    }
    write_atomic(os.path.join(args.output_dir, "campaign.json"), json.dumps(summary, indent=1) + "\n")
    return summary
