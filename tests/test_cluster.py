"""Hunts on Dask: a LocalCluster, a real scheduler and workers started as subprocesses on 127.0.0.1,
a worker killed mid-hunt, and the shared example database (a directory, and Redis from Debian's
``redis-server`` on loopback). Every process is started and stopped by its test, every wait bounded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from verify.hunt import hunt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


class _Processes:
    """Subprocesses started by a test, each stopped (terminate, then kill) when it ends."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, *argv: str, **kwargs) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        process = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                   cwd=str(ROOT), **kwargs)
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def processes():
    group = _Processes()
    yield group
    group.stop()


@pytest.fixture
def dask_cluster(processes, tmp_path):
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; yields (address, workers)."""
    dask = shutil.which("dask", path=os.path.dirname(sys.executable))
    if dask is None:
        pytest.skip("the dask command is not installed")
    scheduler_file = tmp_path / "scheduler.json"
    processes.start(dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(scheduler_file))
    _wait_for(scheduler_file.exists, 60, "the Dask scheduler")
    address = json.loads(scheduler_file.read_text())["address"]
    workers = [processes.start(dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
                               "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard",
                               "--local-directory", str(tmp_path / f"worker{w}"))
               for w in range(2)]
    from distributed import Client

    with Client(address, timeout="30s") as client:
        _wait_for(lambda: len(client.scheduler_info()["workers"]) == 2, 60, "two Dask workers")
    yield address, workers


def test_local_cluster_spreads_a_hunt_over_its_workers():
    result = hunt("P1", matrix="spd", max_examples=60, seed=1, steps=5, workers=2).to_json()
    assert result["counterexample"] is None and result["examples"] == 60
    cluster = result["cluster"]
    assert cluster["scheduler"].startswith("tcp://127.0.0.1:") and len(cluster["workers"]) == 2
    assert all(count > 0 for count in cluster["workers"].values())
    assert sum(cluster["workers"].values()) == 60


def test_a_counterexample_found_on_the_cluster_is_minimal_and_every_distinct_one_is_kept():
    result = hunt("P3", matrix="indefinite", max_examples=80, seed=0, steps=5, workers=2).to_json()
    assert result["counterexample"] is not None and len(result["counterexample"]["tokens"]) <= 3
    assert result["counterexamples"] and result["counterexamples"][0]["counterexample"] == result["counterexample"]
    texts = [json.dumps(c, sort_keys=True) for c in result["counterexamples"]]
    assert len(texts) == len(set(texts))


def test_a_hunt_through_a_real_scheduler_uses_both_workers(dask_cluster, tmp_path):
    address, _ = dask_cluster
    done = subprocess.run([sys.executable, "-m", "verify", "hunt", "--claim", "P1", "--matrix", "spd",
                           "--max-examples", "80", "--steps", "5", "--seed", "3", "--scheduler", address, "--json"],
                          capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["examples"] == 80 and result["cluster"]["scheduler"] == address
    assert len(result["cluster"]["workers"]) == 2 and all(v > 0 for v in result["cluster"]["workers"].values())


def test_a_worker_killed_mid_hunt_loses_nothing(dask_cluster, slow_lemmas):
    address, workers = dask_cluster
    lemmas = slow_lemmas
    outcome: dict = {}

    def run() -> None:
        outcome["result"] = hunt("SLOW-TRUE", matrix="spd", max_examples=160, seed=0, steps=3,
                                 lemma_files=(str(lemmas),), scheduler=address).to_json()

    thread = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    thread.start()
    time.sleep(2.0)
    victim = workers[0]
    assert victim.poll() is None
    os.kill(victim.pid, signal.SIGKILL)
    thread.join(timeout=240)
    assert not thread.is_alive(), "the hunt did not finish after a worker was killed"
    assert time.monotonic() - start > 2.0
    result = outcome["result"]
    assert result["counterexample"] is None and result["examples"] == 160  # every task ran to the end
    assert result["cluster"]["tasks"] == 8


def test_rerun_with_a_directory_database_starts_from_what_was_found(tmp_path):
    database = str(tmp_path / "examples")
    first = hunt("P3", matrix="indefinite", max_examples=200, seed=0, steps=5, database=database)
    assert first.counterexample is not None and os.listdir(database)
    second = hunt("P3", matrix="indefinite", max_examples=200, seed=99, steps=5, database=database)
    assert second.counterexample is not None and second.examples == 1  # replayed, not searched


def test_redis_database_shared_by_reruns(processes, tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("Debian's redis-server is not installed")
    port = _free_port()
    processes.start(server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                    "--dir", str(tmp_path))
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    _wait_for(up, 30, "redis-server")
    url = f"redis://127.0.0.1:{port}/0"
    env = dict(os.environ, HYPOTHESIS_STORAGE_DIRECTORY=str(tmp_path / "local"))
    argv = [sys.executable, "-m", "verify", "hunt", "--claim", "P3", "--matrix", "indefinite", "--max-examples",
            "200", "--steps", "5", "--database", url, "--json"]
    first = subprocess.run(argv + ["--seed", "0"], capture_output=True, text=True, timeout=300, cwd=str(ROOT),
                           env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert client.dbsize() > 0
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(tmp_path / "elsewhere")  # a new machine: only Redis is shared
    second = subprocess.run(argv + ["--seed", "7"], capture_output=True, text=True, timeout=300, cwd=str(ROOT),
                            env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert json.loads(second.stdout)["examples"] == 1


@pytest.mark.parametrize("argv, fragment", [
    (["--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    (["--database", "redis://127.0.0.1:9/0"], "cannot reach Redis"),
    (["--database", "ftp://x"], "expected a directory or redis://"),
])
def test_cluster_options_fail_in_one_line(argv, fragment):
    done = subprocess.run([sys.executable, "-m", "verify", "hunt", "--claim", "P1", "--max-examples", "5", *argv],
                          capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert done.returncode == 2 and fragment in done.stderr, done.stderr[-2000:]
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def test_a_campaign_through_a_real_scheduler_shares_its_database(dask_cluster, tmp_path):
    address, _ = dask_cluster
    database = tmp_path / "examples"
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "verify", "campaign", "--scheduler", address, "--claims", "P3",
                           "--examples", "20", "--splits", "2", "--steps", "3", "--budget", "4m", "--database",
                           str(database), "--output-dir", str(out), "--no-progress", "--json"],
                          capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["tasks_done"] == summary["tasks"] == 16 and summary["cells_complete"] == 8
    workers = set()
    for cell in (out / "hunts").glob("*.json"):
        workers |= set(json.loads(cell.read_text())["cluster"]["workers"])
    assert len(workers) == 2  # both worker processes ran tasks
    assert any(database.rglob("*"))  # the counterexamples found (P3 fails outside H) are in the shared database
