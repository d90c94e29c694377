"""The worked examples in ``examples/`` run as a user runs them.

``examples/test_my_lemma.py`` is a user's own pytest + Hypothesis file (the
lemma API, ``verify.lemmas``). It is outside the suite's ``testpaths``, so it
runs here, in its own pytest process from the repository root, exactly as its
docstring says: ``python -m pytest examples/test_my_lemma.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_my_lemma_example_passes(tmp_path):
    # Hypothesis keeps its example database in tmp_path, not in the repository's .hypothesis/;
    # the variables of this (perhaps xdist worker) session do not leak into the inner pytest.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))}
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(tmp_path / "hypothesis")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_my_lemma.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "2 passed" in output and "failed" not in output and "error" not in output.lower(), output[-4000:]
