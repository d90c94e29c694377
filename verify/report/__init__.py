"""``python -m verify report``: the verification report in ``reports/``.

Writes ``index.md``, a self-contained ``index.html`` (figures embedded),
``results.json`` (every number in the document) and ``figures/*.png``. Each
file is written atomically, figures first and the documents last, so an
interrupted run leaves the previous report readable.

Each computed section is cached in ``reports/.cache/`` under a hash of
(section, budget, seed, source code of ``dynamics`` and ``verify``): a long
``--full`` run that is interrupted resumes where it stopped, and a rerun with
the same seed reproduces the same report (apart from timings).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from dynamics.cli import write_atomic

from . import sections
from .render import render_html, render_markdown

COMPUTED = {
    "figure2": sections.run_figure2,
    "hunts": sections.run_hunts,
    "limits": sections.run_limits,
    "floats": sections.run_floats,
    "crosscheck": sections.run_crosscheck,
}
INCLUDED = {"long_hunts": "hunts", "benchmarks": "benchmarks.json",
            "sentiment": os.path.join("sentiment", "results.json")}
SECTIONS = tuple(COMPUTED) + tuple(INCLUDED)

__all__ = ["add_arguments", "run_report", "build_report", "SECTIONS"]


def add_arguments(parser) -> None:
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="the default budget (under 5 minutes on 2 cores)")
    budget.add_argument("--full", action="store_true", help="thousands of examples per hunt (hours; resumable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every search and sample (default 0)")
    parser.add_argument("--output-dir", default="reports", help="where to write the report (default reports/)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--no-cache", action="store_true", help="recompute every section")
    parser.add_argument("--no-save", action="store_true", help="do not add found counterexamples to verify/corpus/")


def _environment() -> dict[str, Any]:
    import flint
    import hypothesis
    import matplotlib
    import mpmath
    import numpy
    import scipy
    import torch

    return {
        "python": platform.python_version(), "platform": platform.platform(terse=True),
        "cpu_count": os.cpu_count(), "cuda": torch.cuda.is_available(),
        "packages": {"numpy": numpy.__version__, "scipy": scipy.__version__, "python-flint": flint.__version__,
                     "mpmath": mpmath.__version__, "hypothesis": hypothesis.__version__, "torch": torch.__version__,
                     "matplotlib": matplotlib.__version__},
    }


def _source_hash() -> str:
    """Hash of the code that computes the sections (a change invalidates the cache)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for package in ("dynamics", "verify"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_path(output_dir: str, name: str, budget: sections.Budget, seed: int) -> str:
    key = json.dumps({"section": name, "budget": budget.__dict__, "seed": seed, "code": _source_hash()},
                     sort_keys=True, default=list)
    return os.path.join(output_dir, ".cache", f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json")


def build_report(budget: sections.Budget, seed: int, chosen: list[str], workers: int, show_progress: bool,
                 save: bool, output_dir: str | None = None, use_cache: bool = False) -> dict[str, Any]:
    """Run (or load from cache) the chosen sections; return the report document (results.json)."""
    from tqdm import tqdm

    computed = [name for name in chosen if name in COMPUTED]
    bar = tqdm(total=sum(sections.TASKS[name](budget) for name in computed), desc="report", unit="task",
               file=sys.stderr, disable=not show_progress or None)
    timings: dict[str, float] = {}
    document: dict[str, Any] = {
        "budget": budget.__dict__ | {"multi_head_claims": list(budget.multi_head_claims)},
        "seed": seed, "sections": chosen,
    }
    try:
        for name in computed:
            bar.set_postfix_str(name)
            cache = _cache_path(output_dir, name, budget, seed) if (use_cache and output_dir) else None
            start = time.perf_counter()
            if cache and os.path.exists(cache):
                with open(cache, encoding="utf-8") as handle:
                    cached = json.load(handle)
                document[name], timings[name] = cached["data"], cached["seconds"]
                bar.update(sections.TASKS[name](budget))
            else:
                document[name] = COMPUTED[name](budget, seed, workers, lambda: bar.update(1))
                timings[name] = round(time.perf_counter() - start, 2)
                if cache:
                    write_atomic(cache, json.dumps({"data": document[name], "seconds": timings[name]}))
    finally:
        bar.close()
    for name, relative in INCLUDED.items():
        if name in chosen:
            path = os.path.join(output_dir or "reports", relative)
            if os.path.isdir(path):
                document[name] = []
                for file in sorted(Path(path).glob("*.json")):
                    with open(file, encoding="utf-8") as handle:
                        document[name].append(json.load(handle))
            elif os.path.exists(path):
                with open(path, encoding="utf-8") as handle:
                    document[name] = json.load(handle)
            else:
                document[name] = None
    if save and "hunts" in document:
        from ..hunt import HuntResult, save_counterexample

        for h in document["hunts"]:
            if h["counterexample"] is not None:
                result = HuntResult(h["claim"], h["matrix"], h["heads"], h["counterexample"], h["step"],
                                    h["witness"], h["examples"], h["elapsed_s"], h["seed"], h["steps_checked"])
                path = save_counterexample(result, f"python -m verify report --{budget.name} --seed {seed}")
                h["saved_to"] = os.path.relpath(path)
    if "sentiment" in chosen:
        document["sentiment_figures_dir"] = os.path.join(output_dir or "reports", "sentiment")
    document["timings_s"] = timings
    document["environment"] = _environment()
    document["command"] = f"python -m verify report --{budget.name} --seed {seed}" + (
        f" --sections {','.join(chosen)}" if chosen != list(SECTIONS) else "")
    return document


def run_report(args) -> int:
    from .render import build_figures

    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise ValueError(f"--sections: unknown section {unknown[0] if unknown else '(none)'!r} "
                         f"(choose from {', '.join(SECTIONS)})")
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    budget = sections.FULL if args.full else sections.QUICK
    start = time.perf_counter()
    document = build_report(budget, args.seed, chosen, args.workers, not args.no_progress, not args.no_save,
                            output_dir=args.output_dir, use_cache=not args.no_cache)
    figures = build_figures(document)
    document["elapsed_s"] = round(time.perf_counter() - start, 1)
    for name, png in figures.items():
        write_atomic(os.path.join(args.output_dir, "figures", name), png)
    write_atomic(os.path.join(args.output_dir, "results.json"), json.dumps(document, indent=1) + "\n")
    markdown = render_markdown(document, figures)
    write_atomic(os.path.join(args.output_dir, "index.md"), markdown)
    write_atomic(os.path.join(args.output_dir, "index.html"), render_html(markdown, figures))
    print(f"report written to {args.output_dir}/index.md, index.html and results.json "
          f"in {document['elapsed_s']} s")
    return 0
