"""Regressions from the red-team pass over issue #10: each input here once gave a wrong answer,
a traceback or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dynamics import InputError, LimitError, config_from_dict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, timeout=60, **kwargs):
    out = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                         **kwargs)
    return out.returncode, out.stdout, out.stderr


def one_line_error(rc, err):
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, err


def test_no_certified_limit_for_nonpositive_alpha():
    # c_0 = 1/(1 + α) = 2: the tokens move away; the old certifier called a limit "certified".
    from verify.limits import certified_limit

    config = config_from_dict({"tokens": [["1", "0"], ["1/2", "0"]], "alpha": "-1/2"},
                              allow_nonpositive_alpha=True)
    with pytest.raises(InputError, match="alpha > 0"):
        certified_limit(config, 50)


def test_crosscheck_with_tokens_near_the_top_of_float64(write_json):
    rc, out, err = run("verify", "crosscheck", write_json({"tokens": [["1e155", "1"], ["0", "1"]], "alpha": "1"}),
                       "--steps", "2", "--json")
    assert rc == 0 and "Traceback" not in err and err == "", err
    assert json.loads(out)["steps_checked"] == 2


@pytest.mark.parametrize("command", [("verify", "crosscheck"), ("verify", "check")])
def test_a_float_run_that_overflows_is_refused_in_one_line(command, write_json):
    path = write_json({"tokens": [["1e20", "1"], ["-1e20", "1e20"], ["0", "1"]], "A": [["1", "0"], ["0", "-1"]],
                       "alpha": "1"})
    rc, _, err = run(*command, path, "--backend", "torch", "--dtype", "float32")
    one_line_error(rc, err)
    assert "overflowed" in err


def test_common_denominator_is_bounded_before_the_work():
    rows = [[f"1/((2^4000)^24+{2 * i + 1})"] for i in range(60)]
    from dynamics import simulate

    with pytest.raises(LimitError, match="common denominator"):
        simulate(config_from_dict({"tokens": rows, "alpha": "1"}), 1)


def test_worker_count_is_bounded():
    rc, _, err = run("verify", "hunt", "--claim", "P3", "--max-examples", "1", "--workers", "100000")
    one_line_error(rc, err)


def test_output_fifo_without_reader_and_fifo_as_its_own_input(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    rc, _, err = run("dynamics", "simulate", "examples/emerging_leader.json", "--steps", "2", "--output", str(fifo))
    one_line_error(rc, err)
    assert "nobody is reading" in err
    writer = subprocess.Popen(["sh", "-c", f"cat examples/emerging_leader.json > {fifo}"], cwd=ROOT)
    try:
        rc, _, err = run("dynamics", "simulate", str(fifo), "--output", str(fifo))
        one_line_error(rc, err)
        assert "input file" in err
    finally:
        writer.kill()
        writer.wait(timeout=10)


def test_empty_output_path_is_refused():
    rc, _, err = run("dynamics", "simulate", "examples/emerging_leader.json", "--output", "")
    one_line_error(rc, err)


def test_softmax_temperature_that_rounds_to_zero_is_refused():
    from dynamics import load_config, simulate

    with pytest.raises(InputError, match="temperature"):
        simulate(load_config("examples/emerging_leader.json"), 2, backend="float", rule="softmax", tau=1e-300,
                 dtype="float32")


def test_strict_does_not_fail_D2_outside_H(write_json):
    path = write_json({"tokens": [["1", "-3"], ["1", "-3"], ["3", "0"], ["-1", "1"]], "A": [["1", "0"], ["0", "-1"]],
                       "alpha": "1"})
    rc, out, err = run("verify", "check", path, "--strict", "--steps", "10", "--json")
    document = json.loads(out)
    assert document["claims"]["D2"]["holds"] is None and document["claims"]["D2"]["observed"] is False
    assert "D2" not in document["strict_failed"]
    assert rc == (1 if document["strict_failed"] else 0)
