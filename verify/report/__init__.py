"""``python -m verify report``: the verification report (Markdown + JSON) in ``reports/``.

Runs every section (:mod:`verify.report.sections`), renders ``index.md`` and
``results.json`` and writes both atomically at the end, so an interrupted run
leaves the previous report intact. Same ``--seed``, same report (apart from
timings).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from typing import Any

from dynamics.cli import write_atomic

from . import sections
from .render import render_markdown

SECTIONS = ("hunts", "limits", "floats")

__all__ = ["add_arguments", "run_report", "build_report", "SECTIONS"]


def add_arguments(parser) -> None:
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="the default budget (under 5 minutes on 2 cores)")
    budget.add_argument("--full", action="store_true", help="thousands of examples per hunt (hours)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every search and sample (default 0)")
    parser.add_argument("--output-dir", default="reports", help="where to write index.md and results.json")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--no-save", action="store_true", help="do not add found counterexamples to verify/corpus/")


def _environment() -> dict[str, Any]:
    import flint
    import hypothesis
    import mpmath
    import numpy
    import scipy
    import torch

    return {
        "python": platform.python_version(), "platform": platform.platform(terse=True),
        "cpu_count": os.cpu_count(),
        "packages": {"numpy": numpy.__version__, "scipy": scipy.__version__, "python-flint": flint.__version__,
                     "mpmath": mpmath.__version__, "hypothesis": hypothesis.__version__, "torch": torch.__version__},
    }


def build_report(budget: sections.Budget, seed: int, chosen: list[str], workers: int,
                 show_progress: bool, save: bool) -> dict[str, Any]:
    """Run the chosen sections and return the report document (results.json)."""
    from tqdm import tqdm

    total = 0
    if "hunts" in chosen:
        total += len(sections.hunt_tasks(budget))
    if "limits" in chosen:
        total += len(sections.LIMIT_FAMILIES)
    if "floats" in chosen:
        total += len(sections.FLOAT_FAMILIES) * 2
    bar = tqdm(total=total, desc="report", unit="task", file=sys.stderr, disable=not show_progress or None)
    timings: dict[str, float] = {}
    document: dict[str, Any] = {
        "budget": budget.__dict__ | {"multi_head_claims": list(budget.multi_head_claims)},
        "seed": seed, "sections": chosen,
    }
    try:
        for name, runner in (("hunts", sections.run_hunts), ("limits", sections.run_limits),
                             ("floats", sections.run_floats)):
            if name not in chosen:
                continue
            bar.set_postfix_str(name)
            start = time.perf_counter()
            document[name] = runner(budget, seed, workers, bar.update)
            timings[name] = round(time.perf_counter() - start, 2)
    finally:
        bar.close()
    if save and "hunts" in document:
        from ..hunt import HuntResult, save_counterexample

        for h in document["hunts"]:
            if h["counterexample"] is not None:
                result = HuntResult(h["claim"], h["matrix"], h["heads"], h["counterexample"], h["step"],
                                    h["witness"], h["examples"], h["elapsed_s"], h["seed"], h["steps_checked"])
                path = save_counterexample(result, f"python -m verify report --{budget.name} --seed {seed}")
                h["saved_to"] = os.path.relpath(path)
    document["timings_s"] = timings
    document["environment"] = _environment()
    document["command"] = f"python -m verify report --{budget.name} --seed {seed}" + (
        f" --sections {','.join(chosen)}" if chosen != list(SECTIONS) else "")
    return document


def run_report(args) -> int:
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise ValueError(f"--sections: unknown section {unknown[0] if unknown else '(none)'!r} "
                         f"(choose from {', '.join(SECTIONS)})")
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    budget = sections.FULL if args.full else sections.QUICK
    start = time.perf_counter()
    document = build_report(budget, args.seed, chosen, args.workers, not args.no_progress, not args.no_save)
    document["elapsed_s"] = round(time.perf_counter() - start, 1)
    os.makedirs(args.output_dir, exist_ok=True)
    write_atomic(os.path.join(args.output_dir, "results.json"), json.dumps(document, indent=1) + "\n")
    write_atomic(os.path.join(args.output_dir, "index.md"), render_markdown(document))
    print(f"report written to {os.path.join(args.output_dir, 'index.md')} and results.json "
          f"in {document['elapsed_s']} s")
    return 0
