"""Paths the user names for output (`--output`): atomic for files, straight through for devices.

Never let a test rename over ``/dev/null``: the ``/dev/null`` test first asserts that the
rules send it down the write-through path (tested on FIFOs in ``tmp_path`` before that), and
afterwards that it is still a character device.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from dynamics.cli import check_output_path, write_atomic, write_output
from dynamics.errors import InputError

EMERGING = "examples/emerging_leader.json"


def simulate(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dynamics", "simulate", *args],
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert lines[0].startswith("python -m dynamics: error: --output ")
    assert result.stdout == ""


@pytest.fixture
def fifo(tmp_path):
    """A FIFO in ``tmp_path`` with a non-blocking reader already open, so no writer can hang."""
    path = tmp_path / "pipe"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    yield path, reader
    os.close(reader)


def drain(reader: int) -> bytes:
    """Everything written to the FIFO by a writer that has closed it (small contents only)."""
    chunks = []
    while chunk := os.read(reader, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


# --- the rules, on files in tmp_path ---------------------------------------------------------


def test_plan_for_each_kind_of_path(tmp_path, fifo):
    existing = tmp_path / "old.json"
    existing.write_text("old")
    assert check_output_path(str(tmp_path / "new.json")) == ("atomic", str(tmp_path / "new.json"))
    assert check_output_path(str(existing)) == ("atomic", str(existing))
    assert check_output_path(str(fifo[0])) == ("stream", str(fifo[0]))
    assert check_output_path("/dev/null")[0] == "stream"
    assert check_output_path("/dev/stdout")[0] == "stream"  # whatever stdout is open on
    link = tmp_path / "link.json"
    link.symlink_to(existing)
    assert check_output_path(str(link)) == ("atomic", str(existing))  # the link is kept


def test_directory_is_refused(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        write_output(str(tmp_path), "{}\n")
    assert list(tmp_path.iterdir()) == []


def test_socket_is_refused(tmp_path):
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        with pytest.raises(InputError, match="is a socket"):
            write_output(str(path), "{}\n")
        with pytest.raises(InputError, match="not a regular file"):
            write_atomic(str(path), "{}\n")
        assert stat.S_ISSOCK(os.stat(path).st_mode)
    finally:
        server.close()


def _block_device() -> str | None:
    names = sorted(os.listdir("/dev")) if os.path.isdir("/dev") else []
    return next((f"/dev/{n}" for n in names if stat.S_ISBLK(os.lstat(f"/dev/{n}").st_mode)), None)


@pytest.mark.skipif(_block_device() is None, reason="no block device in /dev")
def test_block_device_is_refused():
    with pytest.raises(InputError, match="is a block device"):
        check_output_path(_block_device())  # only stats the path; writes nothing


def test_missing_folder_and_file_in_place_of_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="does not exist"):
        check_output_path(str(tmp_path / "missing" / "out.json"))
    with pytest.raises(InputError, match="is not a folder"):
        check_output_path(str(tmp_path / "file" / "out.json"))


def test_input_is_refused_through_symlinks_and_hard_links(tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"tokens": [[1]]}')
    (tmp_path / "sym.json").symlink_to(config)
    os.link(config, tmp_path / "hard.json")
    for name in ("c.json", "sym.json", "hard.json"):
        with pytest.raises(InputError, match="is the input file"):
            write_output(str(tmp_path / name), "{}\n", inputs=[str(config)])
    assert config.read_text() == '{"tokens": [[1]]}'


def test_fifo_is_written_through(fifo):
    path, reader = fifo
    write_output(str(path), "{\"a\": 1}\n")
    assert drain(reader) == b"{\"a\": 1}\n"
    assert stat.S_ISFIFO(os.stat(path).st_mode)
    assert sorted(p.name for p in path.parent.iterdir()) == ["pipe"]  # no temporary file left


def test_write_atomic_never_renames_over_a_fifo(fifo, tmp_path):
    path, _ = fifo
    link = tmp_path / "link"
    link.symlink_to(path)
    for name in (path, link):
        with pytest.raises(InputError, match="FIFO, not a regular file"):
            write_atomic(str(name), "x")
    assert stat.S_ISFIFO(os.stat(path).st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "pipe"]


def test_write_atomic_keeps_old_content_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o640)

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_output(str(target), "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    monkeypatch.undo()
    write_output(str(target), "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_write_atomic_replaces_a_symlink_target(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(str(link), b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_output_is_checked_before_simulating(tmp_path, monkeypatch):
    import dynamics.__main__ as entry

    def no_work(*args, **kwargs):
        raise AssertionError("simulated although --output is bad")

    monkeypatch.setattr(entry, "simulate", no_work)
    with pytest.raises(InputError, match="is a directory"):
        entry.main(["simulate", EMERGING, "--output", str(tmp_path)])


# --- the command line -------------------------------------------------------------------------


def test_cli_output_to_fifo(fifo):
    path, reader = fifo
    result = simulate(EMERGING, "--steps", "2", "--output", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(drain(reader))["steps"] == 2
    assert stat.S_ISFIFO(os.stat(path).st_mode)


def test_cli_output_to_dev_null_keeps_the_device():
    assert check_output_path("/dev/null")[0] == "stream"  # guard: never reach a rename
    result = simulate(EMERGING, "--steps", "2", "--output", "/dev/null")
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_cli_output_to_dev_stdout(tmp_path):
    result = simulate(EMERGING, "--steps", "2", "--output", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    first, rest = result.stdout.split("\n", 1)
    assert json.loads(first)["steps"] == 2 and "leaders at step 2" in rest
    # stdout redirected to a file: the document and the summary both arrive, in order
    redirected = tmp_path / "stdout.txt"
    with open(redirected, "w") as handle:
        command = [sys.executable, "-m", "dynamics", "simulate", EMERGING, "--steps", "2", "--output", "/dev/stdout"]
        assert subprocess.run(command, stdout=handle, timeout=60).returncode == 0
    first, rest = redirected.read_text().split("\n", 1)
    assert json.loads(first)["steps"] == 2 and "leaders at step 2" in rest


def test_cli_output_is_the_config(tmp_path):
    config = tmp_path / "c.json"
    original = open(EMERGING, "rb").read()
    config.write_bytes(original)
    (tmp_path / "alias.json").symlink_to(config)
    for name in ("c.json", "alias.json"):
        one_line_error(simulate(str(config), "--steps", "2", "--output", str(tmp_path / name)),
                       "is the input file")
    assert config.read_bytes() == original


def test_cli_missing_folder_and_directory(tmp_path):
    one_line_error(simulate(EMERGING, "--output", str(tmp_path / "missing" / "out.json")), "does not exist")
    one_line_error(simulate(EMERGING, "--output", str(tmp_path)), "is a directory")
    assert list(tmp_path.iterdir()) == []


def test_cli_failed_run_leaves_old_output(tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"tokens": [[1, 2], [3]], "alpha": 1}')
    target = tmp_path / "out.json"
    target.write_text("old")
    result = simulate(str(config), "--output", str(target))
    assert result.returncode == 2 and "tokens[1]" in result.stderr
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "out.json"]
