"""``docs/tutorial.md`` runs as written: every ``bash`` block, in order, in an empty folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_tutorial_runs_as_written(tmp_path):
    with open(os.path.join(ROOT, "docs", "tutorial.md")) as handle:
        blocks = re.findall(r"```bash\n(.*?)```", handle.read(), flags=re.S)
    assert len(blocks) >= 6
    script = os.path.join(os.path.dirname(sys.executable), "attention-dynamics")
    prelude = "set -euo pipefail\n"
    if not os.path.exists(script):  # not installed as a script: the module is the same program
        prelude += f'attention-dynamics() {{ "{sys.executable}" -m attention_dynamics "$@"; }}\n'
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
               PYTHONPATH=ROOT)
    done = subprocess.run(["bash", "-c", prelude + "\n".join(blocks)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("mine.json", "run.json", "mine.png", "mine.svg", "mine.gif", "hunt.json", "my_lemmas.py",
                 "pentagon_run.json", "pentagon.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "FOLLOWED-ARE-LEADERS / spd" in done.stdout and ": counterexample (fails at step" in done.stdout
    assert "5->[2, 3]" in done.stdout  # the pentagon's exact tie, decided by the algebraic engine
    assert shutil.which("bash")
