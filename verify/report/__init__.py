"""``python -m verify report``: the verification report in ``reports/``.

Writes ``index.md``, a self-contained ``index.html`` (figures embedded),
``results.json`` (every number in the document) and ``figures/*.png``.

Nothing is published before everything has succeeded: the sections are
computed (or loaded from the cache), the included inputs read and validated,
and the figures, Markdown and HTML rendered in memory; only then are the files
written, each atomically, figures first and the documents last. A failure
anywhere before leaves the previous report as it was.

Each computed section is cached in ``reports/.cache/`` under a hash of
(section, budget, seed, source code of ``dynamics`` and ``verify``): a long
``--full`` run that is interrupted resumes where it stopped, and a rerun with
the same seed reproduces the same report (apart from timings). A cache entry
records the key it was written under and a SHA-256 of its data; an entry that
is not valid JSON, has the wrong schema or key, or fails its checksum is named
in a one-line warning on stderr and recomputed.

The included inputs (``hunts/*.json``, ``benchmarks.json``,
``sentiment/results.json`` in the output folder) are checked against the shape
their renderers need; an invalid one is an :class:`~dynamics.errors.InputError`
naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import stat
import sys
import time
from pathlib import Path
from typing import Any

from dynamics.cli import write_atomic
from dynamics.errors import InputError
from dynamics.provenance import file_sha256, git_commit, utc_now

from . import sections
from .render import build_figures, render_html, render_markdown

PROG = "python -m verify"

COMPUTED = {
    "figure2": sections.run_figure2,
    "hunts": sections.run_hunts,
    "lemmas": sections.run_lemmas,
    "limits": sections.run_limits,
    "floats": sections.run_floats,
    "crosscheck": sections.run_crosscheck,
    "symmetric": sections.run_symmetric,
}
INCLUDED = {"long_hunts": "hunts", "benchmarks": "benchmarks.json",
            "sentiment": os.path.join("sentiment", "results.json")}
SECTIONS = tuple(COMPUTED) + tuple(INCLUDED)

__all__ = ["add_arguments", "run_report", "build_report", "SECTIONS"]


def add_arguments(parser) -> None:
    """Add the options of ``python -m verify report`` to ``parser``."""
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="the default budget (under 5 minutes on 2 cores)")
    budget.add_argument("--full", action="store_true", help="thousands of examples per hunt (hours; resumable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every search and sample (default 0)")
    parser.add_argument("--output-dir", default="reports", help="where to write the report (default reports/)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    parser.add_argument("--no-cache", action="store_true", help="recompute every section")
    save = parser.add_mutually_exclusive_group()
    save.add_argument("--save-corpus", "--save", dest="save", action="store_true",
                      help="add found counterexamples to verify/corpus/ (published: only when asked)")
    save.add_argument("--no-save", action="store_true", help="do not add them (the default)")
    parser.add_argument("--lemmas", action="append", default=[], metavar="FILE",
                        help="a Python file of lemmas (verify.lemmas): hunted per matrix class in the 'lemmas' "
                             "section; repeat for several")
    parser.add_argument("--debug", action="store_true", help="print the traceback of a lemma checker that raises")


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


# --------------------------------------------------------------------------- JSON shapes

# Shapes in the grammar of :func:`_mismatch`.
_OPTIONAL_NUMBER = (None, float)

_HUNT = {"claim": str, "matrix": str, "heads": int, "counterexample": (None, dict), "examples": int,
         "examples_per_s": float}

_BENCHMARKS = {
    "command": str,
    "exact_vs_fraction": {"n": int, "d": int, "exact_s_per_step": float, "fraction_s_per_step": float,
                          "speedup": float},
    "certified?": (None, {"n_vs_exact": int, "d": int, "steps": int, "certified_s": float,
                          "exact_s": float, "speedup_vs_exact": float,
                          "vs_float64": [{"n": int, "certified_s": float, "float64_s": float,
                                          "ratio_to_float64": float}]}),
    "float_path": {"batch": int, "n": int, "layers": int, "speedup_vs_paper_loop_torch": float,
                   "speedup_vs_paper_loop_numpy": float, "ratio_to_gram_floor": float},
    "hunt?": (None, {"command": str, "baseline": str, "examples": int, "configs_checked": int,
                     "hunt_examples_per_s": {"baseline": float, "now": float}, "hunt_speedup": float,
                     "check_s": {"baseline": float, "now": float}, "check_speedup": float,
                     "same_verdicts": bool}),
}

_SENTIMENT = {"runs": [{
    "dim": int, "test_accuracy": float, "command?": (None, str), "protocol?": (None, str), "recipe?": (None, str),
    "val_accuracy?": _OPTIONAL_NUMBER, "hardmax_test_accuracy?": _OPTIONAL_NUMBER,
    "agreement?": _OPTIONAL_NUMBER, "train_seconds_per_epoch?": _OPTIONAL_NUMBER,
    "leaders?": (None, {"leaders_per_review": {"mean": float, "std": float, "min": float, "max": float},
                        "fraction_leaders_at_layer_0": float}),
    "exact_crosscheck?": (None, {"test_reviews": int, "wrong_predictions": int, "wrong_leader_sets": int,
                                 "wrong_clusters": int, "reviews_needing_exact_rows": int,
                                 "rows_decided_exactly": int, "rows": int, "seconds": float}),
}]}

#: The shape of each included input (``long_hunts``: of each file in ``hunts/``).
INCLUDED_SCHEMAS = {"long_hunts": _HUNT, "benchmarks": _BENCHMARKS, "sentiment": _SENTIMENT}

#: The shape every computed section returns (checked on cache entries).
SECTION_SCHEMA = [dict]

_NAMES = {None: "null", int: "an integer", float: "a number", str: "a string", dict: "an object",
          list: "a list", bool: "a boolean"}


def _kind(value: Any) -> str:
    """What ``value`` is, in the words of the error messages."""
    if value is None:
        return _NAMES[None]
    for kind in (bool, int, float, str, dict, list):
        if isinstance(value, kind):
            return _NAMES[kind]
    return type(value).__name__


def _fits(value: Any, schema: Any) -> bool:
    """Whether ``value`` has the top-level type of ``schema`` (not looking inside)."""
    if schema is None:
        return value is None
    if isinstance(schema, (dict, list)):
        return isinstance(value, type(schema))
    if isinstance(value, bool):
        return schema is bool
    if schema is float:
        return isinstance(value, (int, float))
    return isinstance(value, schema)


def _describe(schema: Any) -> str:
    """What ``schema`` expects at its top level, in the words of the error messages."""
    return _NAMES.get(type(schema) if isinstance(schema, (dict, list)) else schema, "a value")


def _mismatch(value: Any, schema: Any, where: str = "") -> str | None:
    """The first place where ``value`` does not have the shape ``schema``, or ``None`` if it does.

    Parameters
    ----------
    value
        A parsed JSON document (or a part of one).
    schema
        Its expected shape: ``int`` (an integer), ``float`` (any number), ``str``, ``bool``,
        ``None`` (null), a tuple (one of the alternatives), a dict (an
        object with these keys, others allowed; a key ending in ``?`` may be absent) or
        ``[item]`` (a list whose every element has the shape ``item``).
    where
        The path of ``value`` in the document (``runs[0].dim``), for the message.

    Returns
    -------
    str or None
        A one-line description of the first mismatch.
    """
    options = schema if isinstance(schema, tuple) else (schema,)
    matching = [option for option in options if _fits(value, option)]
    if not matching:
        expected = " or ".join(_describe(option) for option in options)
        return f"{where or 'top level'}: expected {expected}, got {_kind(value)}"
    schema = matching[0]
    if isinstance(schema, dict):
        for key, item in schema.items():
            name = key.rstrip("?")
            inner = f"{where}.{name}" if where else name
            if name not in value:
                if not key.endswith("?"):
                    return f"missing key {inner!r}"
            elif problem := _mismatch(value[name], item, inner):
                return problem
    elif isinstance(schema, list):
        for i, item in enumerate(value):
            if problem := _mismatch(item, schema[0], f"{where}[{i}]"):
                return problem
    return None


#: Largest JSON file the report reads (cache entries, included results).
MAX_JSON_BYTES = 256 << 20


def _read_json(path: str) -> Any:
    """Parse the JSON file ``path``; :class:`InputError` naming it if it is not valid JSON (UTF-8).

    Only a regular file of at most :data:`MAX_JSON_BYTES` is read (not a FIFO, a device or a folder).
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file")
    if info.st_size > MAX_JSON_BYTES:
        raise InputError(f"{path}: larger than {MAX_JSON_BYTES >> 20} MiB")
    with open(path, "rb") as handle:
        raw = handle.read(MAX_JSON_BYTES + 1)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None


def _read_checked(path: str, schema: Any) -> Any:
    """Parse the JSON file ``path`` and check it has the shape ``schema`` (else :class:`InputError`)."""
    document = _read_json(path)
    if problem := _mismatch(document, schema):
        raise InputError(f"{path}: {problem}")
    return document


def _included_path(output_dir: str, name: str) -> str | None:
    """Where the included input ``name`` is: in ``output_dir``, else in the published ``reports/`` (a report
    written elsewhere with ``--output-dir`` still shows the long hunts, benchmarks and sentiment results
    published here); ``None`` when neither has it."""
    for folder in dict.fromkeys((output_dir, "reports")):
        path = os.path.join(folder, INCLUDED[name])
        if os.path.exists(path):
            return path
    return None


def _load_included(output_dir: str, name: str) -> Any:
    """The included input ``name`` (:func:`_included_path`), validated; ``None`` when it is absent."""
    path = _included_path(output_dir, name)
    schema = INCLUDED_SCHEMAS[name]
    if path is None:
        return None
    if os.path.isdir(path):
        return [_read_checked(str(file), schema) for file in sorted(Path(path).glob("*.json"))]
    return _read_checked(path, schema)


# --------------------------------------------------------------------------- the cache

def _source_hash() -> str:
    """Hash of the code that computes the sections (a change invalidates the cache)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for package in ("dynamics", "verify"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_key(name: str, budget: sections.Budget, seed: int) -> dict[str, Any]:
    """What a cache entry of section ``name`` depends on, as plain JSON data."""
    files = [file_sha256(f) for f in budget.lemma_files]  # the lemmas' code, not where it lives
    plain = budget.__dict__ | {"lemma_files": files}
    return json.loads(json.dumps({"section": name, "budget": plain, "seed": seed,
                                  "code": _source_hash()}, default=list))


def _cache_path(output_dir: str, name: str, budget: sections.Budget, seed: int) -> str:
    """Where the cache entry of section ``name`` lives: ``output_dir/.cache/<name>-<hash of its key>.json``."""
    key = json.dumps(_cache_key(name, budget, seed), sort_keys=True)
    return os.path.join(output_dir, ".cache", f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json")


def _data_digest(data: Any) -> str:
    """SHA-256 of the canonical JSON text of ``data`` (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _cache_problem(entry: Any, key: dict[str, Any]) -> str | None:
    """Why ``entry`` is not a valid cache entry for ``key``, or ``None`` if it is."""
    schema = {"key": dict, "seconds": float, "sha256": str, "data": SECTION_SCHEMA}
    if problem := _mismatch(entry, schema):
        return f"not a cache entry ({problem})"
    if entry["key"] != key:
        return "written for another section, budget, seed or code version"
    if not math.isfinite(entry["seconds"]) or entry["seconds"] < 0:
        return f"seconds: expected a time, got {entry['seconds']}"
    if entry["sha256"] != _data_digest(entry["data"]):
        return "data does not match its checksum"
    return None


def _load_cache(path: str, key: dict[str, Any]) -> tuple[Any, float] | None:
    """The ``(data, seconds)`` cached at ``path`` for ``key``; ``None`` (with a warning if invalid) otherwise."""
    if not os.path.exists(path):
        return None
    try:
        entry = _read_json(path)
    except InputError as exc:
        problem = str(exc).removeprefix(f"{path}: ")
    else:
        problem = _cache_problem(entry, key)
    if problem is None:
        return entry["data"], entry["seconds"]
    print(f"{PROG}: warning: {path}: {' '.join(problem.split())}; recomputing", file=sys.stderr)
    return None


def _store_cache(path: str, key: dict[str, Any], data: Any, seconds: float) -> None:
    """Write the cache entry of ``data`` (with its key and checksum) atomically."""
    entry = {"key": key, "seconds": seconds, "sha256": _data_digest(data), "data": data}
    write_atomic(path, json.dumps(entry))


# --------------------------------------------------------------------------- building

def _run_section(name: str, budget: sections.Budget, seed: int, workers: int, bar,
                 cache: str | None) -> tuple[Any, float, str]:
    """Section ``name``'s data, the seconds it took to compute, and where it came from (``"cache"``: a valid
    entry at ``cache``; ``"computed"``: now, and cached)."""
    key = _cache_key(name, budget, seed)
    cached = _load_cache(cache, key) if cache else None
    if cached is not None:
        bar.update(sections.TASKS[name](budget))
        return cached[0], cached[1], "cache"
    start = time.perf_counter()
    data = COMPUTED[name](budget, seed, workers, lambda: bar.update(1))
    seconds = round(time.perf_counter() - start, 2)
    if cache:
        _store_cache(cache, key, data, seconds)
    return data, seconds, "computed"


def _save_counterexamples(document: dict[str, Any], budget: sections.Budget, seed: int) -> None:
    """Add each counterexample of ``document["hunts"]`` to ``verify/corpus/`` and record where (``saved_to``)."""
    from ..hunt import HuntResult, save_counterexample

    lemma_hunts = [h for entry in document.get("lemmas") or [] for h in entry["hunts"]]
    for h in (document.get("hunts") or []) + lemma_hunts:
        if h["counterexample"] is not None:
            result = HuntResult.from_json(h)
            path = save_counterexample(result, f"python -m verify report --{budget.name} --seed {seed}")
            h["saved_to"] = os.path.relpath(path)


def build_report(budget: sections.Budget, seed: int, chosen: list[str], workers: int, show_progress: bool,
                 save: bool, output_dir: str | None = None, use_cache: bool = False) -> dict[str, Any]:
    """Run (or load from cache) the chosen sections; return the report document (results.json).

    The included inputs are read and validated first, so that an invalid one
    fails before any computation. Writes nothing but cache entries (and, with
    ``save``, corpus entries).
    """
    from dynamics.cli import progress_bar

    folder = output_dir or "reports"
    included = {name: _load_included(folder, name) for name in INCLUDED if name in chosen}
    computed = [name for name in chosen if name in COMPUTED]
    from ..hunt import lemma_registry

    document: dict[str, Any] = {
        "budget": budget.__dict__ | {"multi_head_claims": list(budget.multi_head_claims),
                                     "lemma_files": [sections._display_path(f) for f in budget.lemma_files]},
        "seed": seed, "sections": chosen,
        "claims": [item.describe() for item in lemma_registry(budget.lemma_files).builtins()],
    }
    timings: dict[str, float] = {}
    sources: dict[str, str] = {}
    bar = progress_bar(sum(sections.TASKS[name](budget) for name in computed), "report", enabled=show_progress,
                       unit="task") or _NoProgress()
    try:
        for name in computed:
            bar.set_postfix_str(name)
            cache = _cache_path(folder, name, budget, seed) if (use_cache and output_dir) else None
            document[name], timings[name], sources[name] = _run_section(name, budget, seed, workers, bar, cache)
    finally:
        bar.close()
    document.update(included)
    for name in included:
        path = _included_path(folder, name)
        sources[name] = f"read from {path}" if included[name] is not None and path else "absent"
    if save:
        _save_counterexamples(document, budget, seed)
    if "sentiment" in chosen:
        results = _included_path(folder, "sentiment")
        document["sentiment_figures_dir"] = os.path.dirname(results) if results else os.path.join(folder, "sentiment")
    document["timings_s"] = timings
    document["section_sources"] = sources
    document["environment"] = _environment()
    document["command"] = f"python -m verify report --{budget.name} --seed {seed}" + (
        f" --sections {','.join(chosen)}" if chosen != list(SECTIONS) else "") + "".join(
        f" --lemmas {f}" for f in document["budget"]["lemma_files"])
    return document


def _chosen_sections(text: str) -> list[str]:
    """The sections named in ``--sections`` (:class:`InputError` for an unknown one or none)."""
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise InputError(f"--sections: unknown section {unknown[0] if unknown else '(none)'!r} "
                         f"(choose from {', '.join(SECTIONS)})")
    return chosen


def _publish(output_dir: str, figures: dict[str, bytes], documents: dict[str, str]) -> None:
    """Write the rendered report: every figure, then every document, each atomically."""
    for name, png in figures.items():
        write_atomic(os.path.join(output_dir, "figures", name), png)
    for name, text in documents.items():
        write_atomic(os.path.join(output_dir, name), text)


def _render(document: dict[str, Any], start: float) -> tuple[dict[str, bytes], str, str]:
    """Figures, Markdown and HTML of ``document``, all in memory (stamps provenance and the elapsed time)."""
    document["provenance"] = {"commit": git_commit(), "date": utc_now()}
    figures = build_figures(document)
    document["elapsed_s"] = round(time.perf_counter() - start, 1)
    markdown = render_markdown(document, figures)
    return figures, markdown, render_html(markdown, figures)


class _NoProgress:
    """What the sections call when no progress is shown."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def run_report(args) -> int:
    """``python -m verify report``: build and render everything in memory, then publish it."""
    chosen = _chosen_sections(args.sections)
    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    budget = sections.FULL if args.full else sections.QUICK
    if args.lemmas:
        from dataclasses import replace

        from ..hunt import lemma_registry

        files = tuple(os.path.abspath(f) for f in args.lemmas)
        lemma_registry(files)  # load and validate the files before any work
        budget = replace(budget, lemma_files=files)
    start = time.perf_counter()
    use_cache = not args.no_cache
    document = build_report(budget, args.seed, chosen, args.workers, not args.no_progress, save=False,
                            output_dir=args.output_dir, use_cache=use_cache)
    try:
        figures, markdown, page = _render(document, start)
    except Exception:  # noqa: BLE001 - a cached entry that passed its checks but cannot be drawn
        if not use_cache:
            raise  # computed just now: a bug, with its traceback
        print(f"{PROG}: warning: cached sections could not be rendered; recomputing them", file=sys.stderr)
        document = build_report(budget, args.seed, chosen, args.workers, not args.no_progress, save=False,
                                output_dir=args.output_dir, use_cache=False)
        figures, markdown, page = _render(document, start)
    if args.save:  # after rendering: a failed render leaves no new corpus entries either
        _save_counterexamples(document, budget, args.seed)
    results = json.dumps(document, indent=1) + "\n"
    _publish(args.output_dir, figures, {"results.json": results, "index.md": markdown, "index.html": page})
    print(f"report written to {args.output_dir}/index.md, index.html and results.json "
          f"in {document['elapsed_s']} s")
    return 0
