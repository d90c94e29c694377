"""`python -m dynamics simulate`: the SPEC §5 JSON contract and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dynamics.__main__ import main

EMERGING = "examples/emerging_leader.json"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "dynamics", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("backend", ["exact", "certified", "interval", "float", "torch"])
def test_json_contract(backend, capsys):
    assert main(["simulate", EMERGING, "--steps", "4", "--backend", backend, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"backend", "n", "d", "steps", "elapsed_s", "trajectory", "follow", "leaders"} <= set(doc)
    assert doc["backend"] == backend and doc["n"] == 8 and doc["d"] == 2 and doc["steps"] == 4
    assert len(doc["trajectory"]) == 5 and len(doc["follow"]) == 4 and len(doc["leaders"]) == 5
    assert all(len(state) == 8 and all(len(tok) == 2 for tok in state) for state in doc["trajectory"])
    assert doc["follow"][0][1] == [3] and doc["leaders"][1] == [0, 1, 2]
    first = doc["trajectory"][1][1]
    if backend in ("exact", "certified"):
        assert first == ["-1/18", "5/36"]
    else:
        assert all(isinstance(x, float) for x in first)
        assert abs(first[0] + 1 / 18) < 1e-6 and abs(first[1] - 5 / 36) < 1e-6
    assert doc["elapsed_s"] >= 0


def test_summary_mode(capsys):
    assert main(["simulate", EMERGING, "--steps", "30"]) == 0
    out = capsys.readouterr().out
    assert "leaders at step 30: [0, 1, 2]" in out
    assert "step 1: +[1]" in out


def test_output_file_is_written_atomically(tmp_path, capsys):
    target = tmp_path / "out" / "traj.json"
    target.parent.mkdir()  # --output does not create folders (tests/test_output.py)
    target.write_text("old")
    assert main(["simulate", EMERGING, "--steps", "2", "--output", str(target)]) == 0
    assert json.loads(target.read_text())["steps"] == 2
    assert [p.name for p in target.parent.iterdir()] == ["traj.json"]


def test_help_lists_exit_codes():
    result = cli("simulate", "--help")
    assert result.returncode == 0
    assert "exit codes:" in result.stdout and "130  interrupted" in result.stdout


@pytest.mark.parametrize(
    "content, args, fragment",
    [
        (None, [], "no such file"),
        ("{broken", [], "invalid JSON at line 1"),
        ('{"tokens": [[1, 2], [3]], "alpha": 1}', [], "field 'tokens[1]'"),
        ('{"tokens": [[1]], "alpha": 0}', [], "expected alpha > 0"),
        ('{"tokens": [[1]], "alpha": 1}', ["--steps", "-2"], "invalid non-negative integer"),
        ('{"tokens": [[1]], "alpha": 1}', ["--backend", "gpu"], "invalid choice"),
        ('{"tokens": [[1]], "alpha": 1}', ["--backend", "torch", "--device", "tpu"], "--device"),
        ('{"tokens": [["sqrt(2)"]], "alpha": 1}', ["--backend", "exact"], "not a plain rational number"),
        ('{"tokens": [["pi"]], "alpha": 1}', [], "'pi' is not an algebraic number"),  # default: algebraic
        ('{"tokens": [[1]], "alpha": 1}', ["--tau", "0"], "invalid positive number"),
    ],
)
def test_bad_input_one_line_no_traceback_nothing_written(tmp_path, content, args, fragment):
    config = tmp_path / "c.json"
    if content is not None:
        config.write_text(content)
    output = tmp_path / "out.json"
    result = cli("simulate", str(config), "--output", str(output), "--json", *args)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr
    assert not output.exists()


def test_cuda_request_without_gpu_is_a_clean_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    result = cli("simulate", EMERGING, "--backend", "torch", "--device", "cuda", "--json")
    assert result.returncode == 2 and "no CUDA device" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_nonpositive_alpha_flag(tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"tokens": [[1], [2]], "alpha": "-1/2"}')
    result = cli("simulate", str(config), "--steps", "1", "--json", "--allow-nonpositive-alpha")
    assert result.returncode == 0, result.stderr
    # z0 follows z1 (score 2 > 1): z0+ = (1 - 2/2) / (1 - 1/2) = 0; z1 follows itself and stays
    assert json.loads(result.stdout)["trajectory"][1] == [["0"], ["2"]]
