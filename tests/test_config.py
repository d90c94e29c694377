"""Config validation: every bad input gets a one-line error naming file and field (SPEC §5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import pytest

from dynamics.config import MAX_CONFIG_BYTES, ConfigError, ConfigLimitError, config_from_dict, load_config
from dynamics.errors import LimitError
from dynamics.numbers import MAX_DIGITS, Expr

ROOT = Path(__file__).resolve().parents[1]

GOOD = {"tokens": [["1", "1/3"], ["-1/12", "1/12"], ["-1", "-1"]], "A": [["1", "0"], ["0", "1"]], "alpha": "1/2"}


def test_spec_example_parses_exactly(write_json):
    config = load_config(write_json(GOOD))
    assert config.n == 3 and config.d == 2
    assert config.tokens[0] == (Fraction(1), Fraction(1, 3))
    assert config.heads[0].alpha == Fraction(1, 2)
    assert config.is_rational


def test_A_defaults_to_identity():
    config = config_from_dict({"tokens": [[1, 2, 3]], "alpha": 1})
    assert config.heads[0].A == ((1, 0, 0), (0, 1, 0), (0, 0, 1))


def test_json_float_is_the_exact_double():
    config = config_from_dict({"tokens": [[0.1]], "alpha": 0.5})
    assert config.tokens[0][0] == Fraction(0.1)
    assert config.heads[0].alpha == Fraction(1, 2)


def test_multi_head_and_round_trip():
    obj = {"tokens": [["1", "0"], ["0", "1"]],
           "heads": [{"A": [["1", "0"], ["0", "2"]], "alpha": "1/3"}, {"alpha": "2"}]}
    config = config_from_dict(obj)
    assert len(config.heads) == 2
    assert config.heads[1].A == ((1, 0), (0, 1))
    assert config_from_dict(config.to_dict()) == config


def test_irrational_entries_are_expressions():
    config = config_from_dict({"tokens": [["sqrt(2)", "1"]], "alpha": "1/2"})
    assert isinstance(config.tokens[0][0], Expr)
    assert not config.is_rational
    assert config.first_irrational() == "tokens[0][0] = sqrt(2)"


def test_nonpositive_alpha_allowed_only_by_flag():
    obj = {"tokens": [[1]], "alpha": "-1/2"}
    with pytest.raises(ConfigError, match="alpha > 0"):
        config_from_dict(obj)
    assert config_from_dict(obj, allow_nonpositive_alpha=True).heads[0].alpha == Fraction(-1, 2)



@pytest.mark.parametrize("where, obj", [
    ("alpha", {"tokens": [[1]], "alpha": "-sqrt(2)"}),
    ("alpha", {"tokens": [[1]], "alpha": "1 - sqrt(2)"}),         # negative, |x| < 1
    ("alpha", {"tokens": [[1]], "alpha": "sqrt(2) - sqrt(2)"}),   # exactly 0: no interval excludes it, the field decides
    ("alpha", {"tokens": [[1]], "alpha": "3 - pi"}),              # transcendental, decided by an interval
    ("alpha", {"tokens": [[1]], "alpha": "sqrt(2)^(-3000) - 2^(-1500)"}),  # exactly 0, far below 1024 bits
    ("heads[1].alpha", {"tokens": [[1]], "heads": [{"alpha": 1}, {"alpha": "cos(3*pi/5)"}]}),
    ("layers[1].alpha", {"tokens": [[1]], "layers": [{"alpha": 1}, {"alpha": "1/2 - sqrt(3)/2"}]}),
])
def test_irrational_nonpositive_alpha_is_refused_like_a_rational_one(where, obj):
    with pytest.raises(ConfigError) as info:
        config_from_dict(obj)
    message = str(info.value)
    assert f"field '{where}': expected alpha > 0, got" in message and "--allow-nonpositive-alpha" in message
    config_from_dict(obj, allow_nonpositive_alpha=True)  # the flag allows it, as for rationals


@pytest.mark.parametrize("alpha", ["sqrt(2) - 1", "cos(2*pi/5)", "pi - 3", "2^(-1500) + sqrt(2)^(-3000)"])
def test_irrational_positive_alpha_is_accepted(alpha):
    assert config_from_dict({"tokens": [[1]], "alpha": alpha}).heads[0].alpha.source == alpha


def test_alpha_whose_sign_cannot_be_decided_is_refused_not_guessed():
    # exactly 0 but transcendental: every interval contains 0 and there is no number field to decide it
    with pytest.raises(ConfigError, match="could not be decided"):
        config_from_dict({"tokens": [[1]], "alpha": "exp(1) - exp(1)"})
    assert config_from_dict({"tokens": [[1]], "alpha": "exp(1) - exp(1)"}, allow_nonpositive_alpha=True)
    for undefined in ("tan(pi/2)", "1/(pi-pi)"):  # no value at all: said so, not "undecided"
        with pytest.raises(ConfigError, match="field 'alpha': .*no finite enclosure"):
            config_from_dict({"tokens": [[1]], "alpha": undefined})
    with pytest.raises(ConfigError, match=r"field 'alpha': '1/\(sqrt\(2\)-sqrt\(2\)\)' divides by zero"):
        config_from_dict({"tokens": [[1]], "alpha": "1/(sqrt(2)-sqrt(2))"})


BAD = [
    ([], "expected a JSON object"),
    ({"alpha": 1}, "field 'tokens': missing"),
    ({"tokens": [], "alpha": 1}, "non-empty list of rows, got []"),
    ({"tokens": "1,2", "alpha": 1}, "expected a list of rows, got a string"),
    ({"tokens": [[1, 2], [3]], "alpha": 1}, "field 'tokens[1]': expected 2 numbers"),
    ({"tokens": [[]], "alpha": 1}, "at least one coordinate"),
    ({"tokens": [1, 2], "alpha": 1}, "field 'tokens[0]': expected a list of numbers"),
    ({"tokens": [["x"]], "alpha": 1}, "field 'tokens[0][0]'"),
    ({"tokens": [[True]], "alpha": 1}, "boolean"),
    ({"tokens": [[None]], "alpha": 1}, "null"),
    ({"tokens": [["nan"]], "alpha": 1}, "finite"),
    ({"tokens": [["inf"]], "alpha": 1}, "finite"),
    ({"tokens": [[1, 2]], "A": [[1, 0]], "alpha": 1}, "field 'A': expected 2 rows"),
    ({"tokens": [[1, 2]], "A": [[1, 0, 0], [0, 1, 0]], "alpha": 1}, "field 'A[0]': expected 2 numbers"),
    ({"tokens": [[1, 2]], "A": [[1, 0], [0]], "alpha": 1}, "field 'A[1]'"),
    ({"tokens": [[1]], "A": [[1]]}, "field 'alpha': missing"),
    ({"tokens": [[1]], "alpha": 0}, "expected alpha > 0, got 0"),
    ({"tokens": [[1]], "alpha": "-1"}, "expected alpha > 0, got -1"),
    ({"tokens": [[1]], "alpha": "1/0"}, "zero denominator"),
    ({"tokens": [[1]], "alhpa": 1}, "field 'alhpa': unknown key"),
    ({"tokens": [[1]], "heads": []}, "non-empty list of heads"),
    ({"tokens": [[1]], "heads": {"A": [[1]]}}, "non-empty list of heads, got an object"),
    ({"tokens": [[1]], "heads": [3]}, "field 'heads[0]': expected an object"),
    ({"tokens": [[1]], "heads": [{"A": [[1]]}]}, "field 'heads[0].alpha': missing"),
    ({"tokens": [[1]], "heads": [{"alpha": 1, "B": 2}]}, "field 'heads[0].B': unknown key"),
    ({"tokens": [[1, 2]], "heads": [{"A": [[1]], "alpha": 1}]}, "field 'heads[0].A': expected 2 rows"),
    ({"tokens": [[1]], "heads": [{"alpha": 0}]}, "field 'heads[0].alpha': expected alpha > 0"),
    ({"tokens": [[1]], "heads": [{"alpha": 1}], "alpha": 1}, "either 'heads' or top-level"),
    ({"tokens": [[1]], "alpha": 1, "steps": -1}, "field 'steps'"),
]


@pytest.mark.parametrize("obj, fragment", BAD)
def test_bad_configs_get_one_line_errors(write_json, obj, fragment):
    path = write_json(obj)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(path + ":")
    assert fragment in message
    assert "\n" not in message


def test_sum_of_alpha_minus_one_is_rejected_even_with_flag():
    with pytest.raises(ConfigError, match="1 \\+ sum of alpha is 0"):
        config_from_dict({"tokens": [[1]], "alpha": -1}, allow_nonpositive_alpha=True)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"tokens": [[1]], "alpha": 1', "invalid JSON at line 1"),
        ('{"tokens": [[NaN]], "alpha": 1}', "invalid JSON"),
        ('{"tokens": [[Infinity]], "alpha": 1}', "invalid JSON"),
        ("", "invalid JSON"),
    ],
)
def test_invalid_json(write_json, text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(write_json(text))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.json")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


# ----------------------------------------------------------------------------- limits (issue #10)


def test_config_limit_errors_are_config_and_limit_errors():
    assert MAX_CONFIG_BYTES == 64 * 2**20
    assert issubclass(ConfigLimitError, ConfigError) and issubclass(ConfigLimitError, LimitError)


def test_file_over_max_bytes_is_refused_and_the_limit_can_be_raised(write_json):
    path = write_json(GOOD)
    size = os.path.getsize(path)
    with pytest.raises(ConfigLimitError, match=f"larger than the limit of {size - 1} bytes .*max_bytes"):
        load_config(path, max_bytes=size - 1)
    assert load_config(path, max_bytes=size).n == 3


def test_dev_zero_is_refused_without_reading_it():
    # A subprocess, so that a regression (an unbounded read) fails on the timeout instead of hanging.
    result = subprocess.run([sys.executable, "-m", "dynamics", "simulate", "/dev/zero", "--steps", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "is a character device" in result.stderr
    with pytest.raises(ConfigError, match="character device"):
        load_config("/dev/zero")


def _fifo_with_writer(tmp_path, name: str, content: bytes) -> tuple[str, threading.Thread]:
    path = str(tmp_path / name)
    os.mkfifo(path)

    def write():
        try:
            with open(path, "wb") as handle:
                handle.write(content)
        except BrokenPipeError:  # the reader stopped at its limit
            pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return path, thread


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_read_with_the_same_bound(tmp_path):
    path, thread = _fifo_with_writer(tmp_path, "good.fifo", json.dumps(GOOD).encode())
    assert load_config(path).n == 3
    thread.join(timeout=10)
    path, thread = _fifo_with_writer(tmp_path, "long.fifo", b" " * 5000 + json.dumps(GOOD).encode())
    with pytest.raises(ConfigLimitError, match="larger than the limit of 1000 bytes"):
        load_config(path, max_bytes=1000)
    thread.join(timeout=10)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000])
def test_deeply_nested_json_is_a_one_line_error(write_json, text):
    with pytest.raises(ConfigLimitError, match="JSON nested deeper than the parser allows"):
        load_config(write_json(text))


def test_large_json_integers_are_exact_up_to_the_digit_limit(write_json):
    digits = "7" * 5000  # past Python's 4300-digit int() limit
    config = load_config(write_json('{"tokens": [[' + digits + ', "' + digits + '"]], "alpha": 1}'))
    assert config.tokens[0] == (7 * (10**5000 - 1) // 9,) * 2
    assert config_from_dict(config.to_dict()) == config  # and written back exactly
    with pytest.raises(ConfigLimitError, match="MAX_DIGITS"):
        load_config(write_json('{"tokens": [[' + "7" * (MAX_DIGITS + 1) + ']], "alpha": 1}'))
    with pytest.raises(ConfigLimitError, match="MAX_DIGITS"):
        load_config(write_json('{"tokens": [[-' + "7" * (MAX_DIGITS + 1) + ']], "alpha": "1/2"}'))
    # A JSON non-integer of any length is the IEEE double it rounds to.
    long_float = "0." + "7" * 10**6
    assert load_config(write_json('{"tokens": [[' + long_float + ']], "alpha": 1}')).tokens[0][0] == Fraction(7 / 9)


@pytest.mark.parametrize(
    "entry, error, fragment",
    [
        ('"1e999999999"', ConfigLimitError, "MAX_DECIMAL_EXPONENT"),
        ('"((2^4096)^4096)^4096"', ConfigLimitError, "MAX_BITS"),
        ('"exp(exp(exp(exp(10))))"', ConfigLimitError, "MAX_BITS"),
        ("1e999999999", ConfigError, "finite"),  # a JSON number: the IEEE double is infinite
        ("1e-400", ConfigError, 'rounds to 0 (write it as a string, "1e-400"'),  # not 0, but its double is
        ("-0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
         ConfigError, "rounds to 0"),  # 10^-418 written out
        ('"(-8)^(1/3)"', ConfigError, "not a real number"),
        ('"log(-1)"', ConfigError, "not a real number"),
    ],
)
def test_bad_numbers_name_the_field(write_json, entry, error, fragment):
    path = write_json('{"tokens": [["1", ' + entry + ']], "alpha": 1}')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert type(info.value) is error
    message = str(info.value)
    assert message.startswith(f"{path}: field 'tokens[0][1]': ")
    assert fragment in message and "\n" not in message


@pytest.mark.parametrize("literal", ["0.0", "-0.0", "0e-400", "0.000e5", "1e-320", "5e-324"])
def test_json_zeros_and_subnormals_are_read_as_their_doubles(write_json, literal):
    config = load_config(write_json('{"tokens": [[' + literal + ']], "alpha": 1}'))
    assert config.tokens[0][0] == Fraction(float(literal))


def test_file_that_is_not_utf8(write_json, tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"name": "caf\xe9", "tokens": [[1]], "alpha": 1}'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)
