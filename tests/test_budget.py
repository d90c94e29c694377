"""Memory limits are part of the input contract: refused before the work, in one line (dynamics.budget)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dynamics import LimitError, config_from_dict, load_config, simulate
from dynamics.budget import estimate_memory, parse_size
from dynamics.errors import InputError


def test_parse_size():
    assert parse_size("512") == 512
    assert parse_size("4K") == 4096
    assert parse_size("1.5G") == 3 * 2 ** 29
    assert parse_size("2GiB") == 2 * 2 ** 30
    for bad in ("", "G", "-1G", "1X", "1e9"):
        with pytest.raises(InputError):
            parse_size(bad)


def test_estimate_grows_with_steps_n_and_bits():
    small = load_config("examples/emerging_leader.json")
    for backend in ("exact", "certified", "interval", "float", "torch"):
        assert 0 < estimate_memory(small, 10, backend) < estimate_memory(small, 1000, backend)
    slow = config_from_dict({"tokens": [["1", "0"], ["0", "1"]], "alpha": "1/999999"})
    fast = config_from_dict({"tokens": [["1", "0"], ["0", "1"]], "alpha": "1"})
    assert estimate_memory(slow, 800, "exact") > estimate_memory(fast, 800, "exact")


def test_estimate_is_above_what_a_run_holds():
    # The recorded exact states of a run fit in the estimate (a lower bound on the estimate's honesty).
    config = config_from_dict({"tokens": [["1", "1/3"], ["-1/12", "1/12"], ["-1", "-1"], ["1/7", "2"]],
                               "alpha": "1/999999"})
    traj = simulate(config, 200)
    held = sum(36 + abs(x).bit_length() / 8 for s in traj.states for row in s.ints() for x in row)
    assert held < estimate_memory(config, 200, "exact")


def test_too_many_steps_are_refused_before_the_work():
    config = load_config("examples/emerging_leader.json")
    with pytest.raises(LimitError, match="--max-memory"):
        simulate(config, 10 ** 9, backend="float")
    with pytest.raises(LimitError, match="limit 1 KiB"):
        simulate(config, 10, max_memory=1024)
    assert simulate(config, 10, max_memory=1 << 30).steps == 10


def test_tens_of_thousands_of_tokens_on_a_float_backend_are_refused_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "big.json"
    path.write_text('{"tokens": ' + str(rng.integers(-9, 9, (60000, 2)).tolist()) + ', "alpha": 1}')
    out = subprocess.run([sys.executable, "-m", "dynamics", "simulate", str(path), "--steps", "3",
                          "--backend", "float", "--max-memory", "8G"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "need about" in out.stderr and "Traceback" not in out.stderr


def test_large_n_exact_scores_are_computed_in_blocks(monkeypatch):
    import dynamics.backends.certified as certified
    import dynamics.backends.exact as exact

    rng = np.random.default_rng(3)
    config = config_from_dict({"tokens": rng.integers(-3, 4, (40, 3)).tolist(), "alpha": "1/2",
                               "A": [["2", "1", "0"], ["1", "2", "0"], ["0", "0", "1"]]})
    whole = simulate(config, 5)
    monkeypatch.setattr(exact, "SCORE_BLOCK_ENTRIES", 50)
    monkeypatch.setattr(exact, "DENSE_UPDATE_MAX_N", 4)
    monkeypatch.setattr(certified, "BLOCK_ENTRIES", 70)
    for backend in ("exact", "certified"):
        blocked = simulate(config, 5, backend=backend)
        assert blocked.follow == whole.follow
        assert [s.fractions() for s in blocked.states] == [s.fractions() for s in whole.states]
