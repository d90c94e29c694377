"""Float-vs-exact crosscheck: flags the steps where float decisions go wrong."""

from __future__ import annotations

import json

import pytest

from dynamics import config_from_dict, load_config
from verify.__main__ import main
from verify.crosscheck import crosscheck, summarise


def test_float32_goes_wrong_on_the_persistent_tie_and_is_flagged():
    result = crosscheck(load_config("examples/rotation_tie.json"), 60, dtype="float32")
    first = result["first_disagreement"]
    assert first is not None and result["wrong_decisions"] > 0
    step = result["steps"][first]
    assert not step["agree"] and 0 in step["wrong_rows"]
    # the tie row is uncertain at every step: floats can never prove an exact tie
    assert all(0 in s["uncertain_rows"] for s in result["steps"])
    assert result["steps"][0]["agree"]


def test_float64_on_the_paper_example_agrees_and_is_certain():
    result = crosscheck(load_config("examples/emerging_leader.json"), 20, dtype="float64")
    assert result["first_disagreement"] is None and result["wrong_decisions"] == 0
    assert result["uncertain_decisions"] == 0
    assert result["final_max_abs_dev"] < 1e-14


def test_torch_backend_and_duplicates():
    obj = {"tokens": [["1", "0"], ["1", "0"], ["0", "1"], ["1/3", "1/4"]], "alpha": "1/2"}
    result = crosscheck(config_from_dict(obj), 10, backend="torch", dtype="float64")
    assert result["wrong_decisions"] == 0  # copies tie exactly in floats too
    assert result["uncertain_decisions"] == 0  # ties between copies are certain


def test_summary_rates():
    results = [crosscheck(load_config(p), 40, dtype="float32")
               for p in ("examples/rotation_tie.json", "examples/emerging_leader.json")]
    summary = summarise(results)
    assert summary["configs"] == 2 and summary["configs_with_wrong_decision"] >= 1
    assert 0 < summary["uncertain_decision_rate"] < 1


def test_cli_single_and_batch(capsys):
    assert main(["crosscheck", "examples/rotation_tie.json", "--steps", "50", "--dtype", "float32", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"first_disagreement", "steps"} <= set(doc)
    assert {"step", "agree", "uncertain_rows", "wrong_rows", "max_abs_dev"} == set(doc["steps"][0])
    assert main(["crosscheck", "--random", "3", "--family", "reflection", "--steps", "10", "--json"]) == 0
    batch = json.loads(capsys.readouterr().out)
    assert len(batch["results"]) == 3 and batch["summary"]["configs"] == 3


def test_bad_backend():
    with pytest.raises(ValueError, match="float or torch"):
        crosscheck(load_config("examples/rotation_tie.json"), 3, backend="exact")
