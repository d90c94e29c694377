"""``python -m verify campaign``: the table of hunts on a local Dask cluster, its resume journal (a
killed client loses no finished task), its time budget and its results, which the report renders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent


def campaign(out: Path, *extra: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verify", "campaign", "--output-dir", str(out), "--workers", "2",
                           "--steps", "3", "--no-progress", *extra], capture_output=True, text=True, timeout=timeout,
                          cwd=str(ROOT))


def journal(out: Path) -> dict[str, float]:
    folder = out / "campaign" / "tasks"
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")} if folder.exists() else {}


def test_a_small_campaign_covers_its_table_resumes_and_is_rendered(tmp_path, slow_lemmas):
    lemmas = slow_lemmas
    out = tmp_path / "out"
    done = campaign(out, "--lemmas", str(lemmas), "--claims", "P3,ALL-LEAD-1", "--examples", "12", "--splits", "2",
                    "--budget", "4m", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    # P3: 4 classes × heads 1, 2; ALL-LEAD-1: 4 classes; 2 tasks each
    assert summary["cells"] == 12 and summary["tasks"] == 24 and summary["tasks_done"] == 24
    assert summary["cells_complete"] == 12 and not summary["budget_spent"]
    cell = json.loads((out / "hunts" / "ALL-LEAD-1-spd-h1.json").read_text())
    assert cell["counterexample"] is not None and cell["campaign"]["complete"] and cell["cluster"]["tasks"] == 2
    p3 = json.loads((out / "hunts" / "P3-indefinite-h1.json").read_text())
    assert p3["counterexample"] is not None
    before = journal(out)
    assert len(before) == 24
    again = campaign(out, "--lemmas", str(lemmas), "--claims", "P3,ALL-LEAD-1", "--examples", "12", "--splits", "2",
                     "--budget", "4m", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["tasks_done"] == 24
    assert journal(out) == before  # nothing redone
    report = subprocess.run([sys.executable, "-m", "verify", "report", "--quick", "--sections", "long_hunts",
                             "--output-dir", str(out), "--no-progress"], capture_output=True, text=True,
                            timeout=120, cwd=str(ROOT))
    assert report.returncode == 0, report.stderr[-2000:]
    assert "| ALL-LEAD-1 | spd | 1 |" in (out / "index.md").read_text()


def test_a_killed_client_resumes_without_redoing_finished_tasks(tmp_path, slow_lemmas):
    lemmas = slow_lemmas
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "verify", "campaign", "--output-dir", str(out), "--workers", "2", "--steps", "3",
            "--no-progress", "--lemmas", str(lemmas), "--claims", "SLOW-TRUE", "--examples", "60", "--splits", "4",
            "--budget", "4m"]
    client = subprocess.Popen(argv, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(journal(out)) < 2 and time.monotonic() < deadline and client.poll() is None:
            time.sleep(0.1)
        assert client.poll() is None, "the campaign ended before it could be killed"
        os.killpg(client.pid, signal.SIGKILL)  # the client and its local cluster
        client.wait(timeout=30)
    finally:
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait(timeout=30)
    before = journal(out)
    assert 2 <= len(before) < 16
    done = subprocess.run(argv + ["--json"], capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["tasks_done"] == summary["tasks"] == 16
    after = journal(out)
    assert all(after[name] == mtime for name, mtime in before.items())  # finished tasks were not redone
    cell = json.loads((out / "hunts" / "SLOW-TRUE-spd-h1.json").read_text())
    assert cell["examples"] == 60 and cell["campaign"]["complete"]


def test_the_budget_stops_the_campaign_and_a_rerun_continues(tmp_path, slow_lemmas):
    lemmas = slow_lemmas
    out = tmp_path / "out"
    common = ["--lemmas", str(lemmas), "--claims", "SLOW-TRUE", "--examples", "80", "--splits", "8", "--json"]
    first = campaign(out, *common, "--budget", "1s")
    assert first.returncode == 0, first.stderr[-2000:]
    summary = json.loads(first.stdout)
    assert summary["budget_spent"] and summary["tasks_done"] < summary["tasks"] == 32
    second = campaign(out, *common, "--budget", "4m")
    assert json.loads(second.stdout)["tasks_done"] == 32


@pytest.mark.parametrize("argv, fragment", [
    (["--budget", "soon"], "expected a duration"),
    (["--budget", "0s"], "must be positive"),
    (["--claims", "NOPE"], "unknown claim or lemma 'NOPE'"),
    (["--examples", "0"], "--examples must be at least 1"),
])
def test_campaign_errors_are_one_line(tmp_path, argv, fragment):
    done = campaign(tmp_path / "out", *argv, timeout=120)
    assert done.returncode == 2 and fragment in done.stderr, done.stderr[-2000:]
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
