"""Config validation: every bad input gets a one-line error naming file and field (SPEC §5)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from dynamics.config import ConfigError, config_from_dict, load_config
from dynamics.numbers import Expr

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
