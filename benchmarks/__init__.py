"""Benchmarks: commands whose figures go to ``reports/benchmarks.json`` when asked (``--save``)."""

from __future__ import annotations

import json
import os
import sys

#: The published benchmark results (one section per benchmark).
PUBLISHED = "reports/benchmarks.json"


def save_section(name: str | None, result: dict) -> None:
    """Merge ``result`` into :data:`PUBLISHED`: under ``name``, or at the top level (``None``); the
    other benchmarks' sections are kept."""
    from dynamics.cli import write_output

    published = {}
    if os.path.exists(PUBLISHED):
        with open(PUBLISHED) as handle:
            published = json.load(handle)
    if name is None:
        published.update(result)
    else:
        published[name] = result
    write_output(PUBLISHED, json.dumps(published, indent=2) + "\n")
    print(f"written {PUBLISHED}", file=sys.stderr)
