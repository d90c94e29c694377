"""`python -m verify report`: a validated cache, validated inputs, all-or-nothing publishing, no orphan workers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dynamics.errors import InputError
from verify import report
from verify.__main__ import main
from verify.report import sections

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ("results.json", "index.md", "index.html")


def _report_args(output_dir: Path, section: str = "figure2") -> list[str]:
    return ["report", "--sections", section, "--output-dir", str(output_dir), "--no-progress", "--no-save"]


def _run_report(output_dir: Path, section: str = "figure2") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verify", *_report_args(output_dir, section)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def _figure2_cache(output_dir: Path) -> tuple[str, dict]:
    """The cache path and key of the quick figure2 section (seed 0) under ``output_dir``."""
    return (report._cache_path(str(output_dir), "figure2", sections.QUICK, 0),
            report._cache_key("figure2", sections.QUICK, 0))


def _fresh_figure2() -> list:
    """The figure2 section computed now, as it reads back from JSON."""
    return json.loads(json.dumps(sections.run_figure2(sections.QUICK, 0, 1)))


def _assert_consistent(output_dir: Path, cache: str, key: dict) -> None:
    """The rewritten cache entry is valid and results.json, index.md and the figures agree with it."""
    data, _ = report._load_cache(cache, key)
    results = json.loads((output_dir / "results.json").read_text())
    assert results["figure2"] == data == _fresh_figure2()
    markdown = (output_dir / "index.md").read_text()
    for item in data:
        assert f"| {item['name']} |" in markdown
        assert (output_dir / "figures" / ("figure2-" + item["name"].replace(" ", "-") + ".png")).exists()


def test_truncated_cache_entry_warns_and_is_recomputed(tmp_path):
    cache, key = _figure2_cache(tmp_path)
    os.makedirs(os.path.dirname(cache))
    Path(cache).write_text('{"key": {"section": "figure2"}, "data": [{"na')
    result = _run_report(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"python -m verify: warning: {cache}: not valid JSON")
    assert lines[0].endswith("; recomputing")
    _assert_consistent(tmp_path, cache, key)


def _entry(key: dict, data, seconds=0.5, digest: str | None = None) -> dict:
    return {"key": key, "seconds": seconds, "sha256": digest or report._data_digest(data), "data": data}


@pytest.mark.parametrize("case, why", [
    ("old format", "not a cache entry (missing key 'key')"),
    ("data not a list", "not a cache entry (data: expected a list, got an object)"),
    ("tampered data", "data does not match its checksum"),
    ("other key", "written for another section, budget, seed or code version"),
])
def test_shape_invalid_cache_entry_is_recomputed(tmp_path, capsys, case, why):
    cache, key = _figure2_cache(tmp_path)
    good = _fresh_figure2()
    tampered = json.loads(json.dumps(good))
    tampered[0]["states"] = "not states"
    entry = {
        "old format": {"data": {"x": 1}, "seconds": 1},
        "data not a list": _entry(key, {"figure2": good}),
        "tampered data": _entry(key, tampered, digest=report._data_digest(good)),
        "other key": _entry(key | {"seed": 1}, tampered),
    }[case]
    os.makedirs(os.path.dirname(cache))
    Path(cache).write_text(json.dumps(entry))
    assert main(_report_args(tmp_path)) == 0
    assert capsys.readouterr().err == f"python -m verify: warning: {cache}: {why}; recomputing\n"
    _assert_consistent(tmp_path, cache, key)


def test_valid_cache_entry_is_used(tmp_path, capsys):
    cache, key = _figure2_cache(tmp_path)
    os.makedirs(os.path.dirname(cache))
    Path(cache).write_text(json.dumps(_entry(key, _fresh_figure2(), seconds=123.0)))
    assert main(_report_args(tmp_path)) == 0
    assert capsys.readouterr().err == ""
    assert json.loads((tmp_path / "results.json").read_text())["timings_s"] == {"figure2": 123.0}


def _boom(*args, **kwargs):
    raise RuntimeError("boom")


@pytest.mark.parametrize("target", ["section", "markdown", "html"])
def test_a_failure_leaves_the_published_report_untouched(tmp_path, monkeypatch, target):
    before = {name: f"previous {name}\n".encode() for name in PUBLISHED}
    before["figures/figure2-square.png"] = b"previous figure"
    for name, content in before.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(content)
    if target == "section":
        monkeypatch.setitem(report.COMPUTED, "figure2", _boom)
    else:
        monkeypatch.setattr(report, f"render_{target}", _boom)
    with pytest.raises(RuntimeError, match="boom"):
        main(_report_args(tmp_path))
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    assert sorted(os.listdir(tmp_path / "figures")) == ["figure2-square.png"]


INVALID_INPUTS = [
    ("benchmarks", "benchmarks.json", '{"command": "x", "exact_vs', "not valid JSON"),
    ("benchmarks", "benchmarks.json", '{"command": "x", "float_path": {}}', "missing key 'exact_vs_fraction'"),
    ("long_hunts", "hunts/P1-spd.json", '{"claim": "P1", "matrix": "spd", "heads": "one"}',
     "heads: expected an integer, got a string"),
    ("sentiment", "sentiment/results.json", '{"runs": [{"dim": 2, "test_accuracy": null}]}',
     "runs[0].test_accuracy: expected a number, got null"),
    ("sentiment", "sentiment/results.json", b'\xff{}', "not valid JSON"),
]


@pytest.mark.parametrize("section, relative, content, fragment", INVALID_INPUTS)
def test_invalid_included_input_is_an_input_error_and_writes_nothing(tmp_path, section, relative, content,
                                                                     fragment):
    path = tmp_path / relative
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    listing = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(InputError) as error:
        main(_report_args(tmp_path, f"figure2,{section}"))
    assert str(error.value).startswith(f"{path}: ") and fragment in str(error.value)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == listing


def test_invalid_included_input_exits_2_with_one_line(tmp_path):
    (tmp_path / "benchmarks.json").write_text("{")
    result = _run_report(tmp_path, "benchmarks")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"python -m verify: error: {tmp_path / 'benchmarks.json'}: not valid JSON")
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["benchmarks.json"]


def test_the_committed_inputs_are_valid():
    for name in report.INCLUDED:
        report._load_included(str(ROOT / "reports"), name)


@pytest.mark.parametrize("args, fragment", [
    (["--sections", "figure2,nope"], "unknown section 'nope'"),
    (["--sections", ","], "unknown section '(none)'"),
    (["--workers", "0"], "--workers must be at least 1"),
])
def test_bad_options_are_input_errors(tmp_path, args, fragment):
    with pytest.raises(InputError, match=re.escape(fragment)):
        main(_report_args(tmp_path) + args)
    assert not tmp_path.exists() or os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- kill -9

def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/pid/stat`` after the command name (state first), or ``None`` if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _children(parent: int) -> dict[int, str]:
    """Live children of ``parent``: pid -> start time (to tell a reused pid apart)."""
    found = {}
    for entry in os.listdir("/proc"):
        stat = _stat(int(entry)) if entry.isdigit() else None
        if stat and stat[1] == str(parent) and stat[0] != "Z":
            found[int(entry)] = stat[19]
    return found


def _alive(pid: int, started: str) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z" and stat[19] == started


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_report_leaves_no_pool_workers(tmp_path):
    command = [sys.executable, "-m", "verify", *_report_args(tmp_path, "hunts"), "--no-cache", "--workers", "2"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: dict[int, str] = {}
    try:
        def started() -> bool:
            workers.update(_children(proc.pid))
            return len(workers) >= 2 or proc.poll() is not None

        assert _wait_for(started, 20) and len(workers) >= 2, "the report started no pool workers"
        proc.kill()
        proc.wait(timeout=10)
        assert _wait_for(lambda: not any(_alive(p, s) for p, s in workers.items()), 5), \
            f"workers outlived the report: {[p for p, s in workers.items() if _alive(p, s)]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid, start in workers.items():
            if _alive(pid, start):
                os.kill(pid, signal.SIGKILL)


def test_the_html_renders_the_mathematics_as_mathml_and_leaves_code_alone():
    from verify.report.render import render_html

    markdown = "| id | statement |\n|---|---|\n| D2 | $`\\langle A z_i^{k+1}, z_i^{k+1}\\rangle \\ge 0`$ (under H) |\n\n" \
               "Run `IMDB_DATA_DIR=$HOME/imdb python -m sentiment train` and costs $5 or $`x_1`$.\n"
    page = render_html(markdown, {})
    assert page.count("<math") == 2 and "<msubsup>" in page and "$`" not in page
    assert "<code>IMDB_DATA_DIR=$HOME/imdb python -m sentiment train</code>" in page and "costs $5" in page
    assert "<script" not in page  # one offline file: nothing to fetch, nothing to run
