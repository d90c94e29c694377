"""Shared fixtures and markers: CUDA tests skip cleanly without a GPU."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EXAMPLES = ROOT / "examples"


@pytest.fixture
def slow_lemmas(tmp_path) -> Path:
    """A lemma file for the Dask tests: SLOW-TRUE (true, 50 ms a check: keeps workers busy) and
    ALL-LEAD-1 (false: every token a leader at step 1)."""
    path = tmp_path / "slow_lemmas.py"
    path.write_text("""
import time
from verify.lemmas import lemma

@lemma("SLOW-TRUE", statement="a true lemma whose check takes 50 ms (to keep workers busy)")
def slow(run):
    time.sleep(0.05)
    return None

@lemma("ALL-LEAD-1", statement="every token is a leader at step 1", under=("spd",))
def all_lead(run):
    if run.steps >= 1 and len(run.leaders[1]) < run.n:
        return {"step": 1, "leaders": list(run.leaders[1])}
    return None
""")
    return path


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def write_json(tmp_path):
    """Write a JSON document (or raw text) to a temporary file and return its path."""
    import json

    def write(content, name="config.json"):
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    return write
