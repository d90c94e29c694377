"""The JSON formats of ``docs/schemas/`` hold for real configs and real outputs of every command."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

jsonschema = pytest.importorskip("jsonschema")
from referencing import Registry, Resource  # noqa: E402 (jsonschema's own dependency)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(ROOT, "docs", "schemas")
EXAMPLES = os.path.join(ROOT, "examples")


def _schemas() -> dict[str, dict]:
    out = {}
    for path in glob.glob(os.path.join(SCHEMAS, "*.schema.json")):
        with open(path) as handle:
            out[os.path.basename(path).removesuffix(".schema.json")] = json.load(handle)
    return out


SCHEMA = _schemas()
REGISTRY = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in SCHEMA.values())


def validate(document, name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA[name])
    jsonschema.Draft202012Validator(SCHEMA[name], registry=REGISTRY).validate(document)


def command(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "attention_dynamics", *args, "--json"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


CONFIG_FILES = sorted(glob.glob(os.path.join(EXAMPLES, "*.json")) + glob.glob(os.path.join(EXAMPLES, "lemmas", "configs", "*.json")))


@pytest.mark.parametrize("path", CONFIG_FILES, ids=os.path.basename)
def test_every_example_config_is_a_config(path):
    with open(path) as handle:
        validate(json.load(handle), "config")


@pytest.mark.parametrize("bad", [
    {"tokens": [["1"]], "alpha": 1, "colour": "red"},  # an unknown key
    {"tokens": [["1"]]},  # no alpha
    {"tokens": [], "alpha": 1},  # no token
    {"tokens": [["1"]], "alpha": 1, "heads": [{"alpha": 1}]},  # two ways at once
    {"tokens": [["1"]], "layers": [{"heads": []}]},  # a layer without heads
])
def test_the_config_schema_refuses_what_load_config_refuses(bad):
    from dynamics import ConfigError, config_from_dict

    with pytest.raises(jsonschema.ValidationError):
        validate(bad, "config")
    with pytest.raises(ConfigError):
        config_from_dict(bad)


def test_the_configs_hypothesis_draws_are_configs():
    from hypothesis import given, settings, strategies as st

    from verify.strategies import configs

    @settings(max_examples=60, deadline=None)
    @given(configs(heads=(1, 2), values="general", layers=(1, 3)), st.booleans())
    def check(config, _):
        validate(config.to_dict(), "config")

    check()


@pytest.mark.parametrize("backend, config", [("exact", "emerging_leader"), ("certified", "rotation_tie"),
                                             ("interval", "irrational"), ("algebraic", "irrational"),
                                             ("float", "emerging_leader"),
                                             ("torch", "emerging_leader")])
def test_simulate(backend, config):
    validate(command("simulate", os.path.join(EXAMPLES, f"{config}.json"), "--steps", "3", "--backend", backend),
             "simulate")


@pytest.mark.parametrize("backend, dtype, size", [("float", "float64", "1e308"), ("torch", "float64", "1e308"),
                                                  ("torch", "float32", "1e30"), ("float", "float32", "1e30")])
def test_a_float_run_that_overflows_says_where(tmp_path, backend, dtype, size):
    path = tmp_path / "big.json"  # the scores (size²) overflow at once, the tokens do not; the exact run never does
    path.write_text(json.dumps({"tokens": [[size, "0"], ["-" + size, "1"], ["1", "1"]], "alpha": "1"}))
    document = command("simulate", str(path), "--steps", "3", "--backend", backend, "--dtype", dtype)
    validate(document, "simulate")
    assert document["nonfinite_at"] == 0
    assert "nonfinite_at" not in command("simulate", os.path.join(EXAMPLES, "emerging_leader.json"), "--steps", "3",
                                         "--backend", backend, "--dtype", dtype)
    checked = command("crosscheck", str(path), "--steps", "3", "--backend", backend, "--dtype", dtype)
    validate(checked, "crosscheck")
    assert checked["float_nonfinite_at"] == 0 and checked["first_disagreement"] is not None


def test_simulate_with_heads_and_a_schedule(tmp_path):
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"tokens": [["1", "0"], ["0", "1"], ["1/2", "1/3"]],
                                "layers": [{"heads": [{"alpha": 1}, {"A": [["1", "0"], ["0", "-1"]], "alpha": "1/2"}]},
                                           {"heads": [{"alpha": 2}, {"alpha": "1/3", "V": [["0", "1"], ["1", "0"]]}]}]}))
    validate(json.loads(path.read_text()), "config")
    document = command("simulate", str(path), "--steps", "3", "--backend", "certified")
    validate(document, "simulate")
    assert "follow_by_head" in document


def test_check_limit_hunt_crosscheck_plot(tmp_path):
    leader = os.path.join(EXAMPLES, "emerging_leader.json")
    validate(command("check", leader, "--steps", "4", "--strict"), "check")
    validate(command("limit", os.path.join(EXAMPLES, "rotation_tie.json")), "limit")
    found = command("hunt", "--claim", "P3", "--matrix", "indefinite", "--max-examples", "60")
    validate(found, "hunt")
    assert found["counterexample"] is not None  # the schema of a found counterexample is exercised
    validate(command("hunt", "--claim", "P2", "--max-examples", "5"), "hunt")
    tie = command("crosscheck", os.path.join(EXAMPLES, "rotation_tie.json"), "--steps", "4")
    validate(tie, "crosscheck")
    assert tie["float_nonfinite_at"] is None
    validate(command("crosscheck", "--random", "2", "--steps", "3", "--strict"), "crosscheck")
    validate(command("plot", leader, "--steps", "3", "--output", str(tmp_path / "p.png")), "plot")
