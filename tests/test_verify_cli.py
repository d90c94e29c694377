"""`python -m verify check|limit|hunt|report`: SPEC §5 documents and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from verify.__main__ import main
from verify.claims import CLAIMS

EMERGING = "examples/emerging_leader.json"


def test_check_json(capsys):
    assert main(["check", EMERGING, "--steps", "10", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["claims"]) == set(CLAIMS)
    for claim in ("P1", "P2", "P3", "P4", "P5", "D1", "D2"):
        assert doc["claims"][claim]["holds"] is True, claim
    assert doc["claims"]["D3"]["holds"] is None and doc["claims"]["D3"]["reason"]
    assert doc["H"] is True


def test_check_float32_reports_violations(capsys):
    assert main(["check", EMERGING, "--steps", "10", "--backend", "float", "--dtype", "float32", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["claims"]["P2"]["holds"] is False and doc["claims"]["P2"]["violations"] >= 1
    assert doc["claims"]["P5"]["holds"] is None


def test_check_readable(capsys):
    assert main(["check", EMERGING, "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "P1: holds" in out and "D3: n/a" in out


def test_limit_json(capsys):
    assert main(["limit", "examples/rotation_tie.json", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["certified"] is True and doc["certified_at"] == 0
    assert doc["limit"][0] == ["4/5", "0"] and doc["in_S"] == [True, True, True]
    assert doc["clusters"] == [[0], [1], [2]]


def test_hunt_json(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("verify.hunt.CORPUS_DIR", str(tmp_path))
    assert main(["hunt", "--claim", "P1", "--matrix", "spd", "--max-examples", "20", "--steps", "5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["claim"] == "P1" and doc["counterexample"] is None and doc["examples"] == 20
    assert doc["examples_per_s"] > 0


def test_errors_are_one_line():
    cases = [
        (["check", "missing.json"], "no such file"),
        (["hunt", "--claim", "P9", "--max-examples", "5"], "unknown claim or lemma 'P9'"),
        (["hunt", "--claim", "P1", "--max-examples", "0"], "invalid positive integer"),
        (["report", "--sections", "hunts,nope"], "unknown section"),
        (["limit", EMERGING, "--max-steps", "-3"], "invalid positive integer"),
    ]
    for args, fragment in cases:
        result = subprocess.run([sys.executable, "-m", "verify", *args], capture_output=True, text=True)
        assert result.returncode == 2, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], (args, result.stderr)
        assert result.stdout == ""


def test_report_sections_subset(tmp_path):
    from verify.report import build_report
    from verify.report.render import render_markdown
    from verify.report.sections import Budget

    tiny = Budget("tiny", hunt_examples=3, hunt_steps=3, limit_steps=20, limit_configs=4,
                  float_configs=2, float_steps=5, multi_head_claims=())
    doc = build_report(tiny, seed=0, chosen=["limits", "floats"], workers=1, show_progress=False, save=False)
    assert [s["configs"] for s in doc["limits"]] == [4, 2, 2, 2]
    assert len(doc["floats"]) == 6
    text = render_markdown(doc)
    assert "## Certified limits" in text and "## What float rounding does" in text


def test_report_is_deterministic_and_html_is_self_contained():
    import re

    from verify.report import build_report
    from verify.report.render import build_figures, render_html, render_markdown
    from verify.report.sections import Budget

    tiny = Budget("tiny", hunt_examples=3, hunt_steps=3, limit_steps=40, limit_configs=2,
                  float_configs=2, float_steps=4, multi_head_claims=())

    def once():
        doc = build_report(tiny, seed=5, chosen=["figure2", "limits"], workers=1, show_progress=False, save=False)
        figures = build_figures(doc)
        text = re.sub(r"(section timings|Built ).*", "", render_markdown(doc, figures))  # when built, how long each took
        return figures, text

    (fig_a, md_a), (fig_b, md_b) = once(), once()
    assert fig_a == fig_b and md_a == md_b
    assert len(fig_a) == 4 and all(v.startswith(b"\x89PNG") for v in fig_a.values())
    page = render_html(md_a, fig_a)
    assert page.count("data:image/png;base64,") == 4
    assert "<table>" in page and "src=\"figures/" not in page


def test_report_sentiment_section_renders_the_results_tables():
    from verify.report.render import _sentiment

    results = {"runs": [{"dim": 16, "test_accuracy": 0.87, "val_accuracy": 0.86, "epochs": 9, "best_epoch": 6,
                         "command": "python -m sentiment train --dim 16",
                         "exact_crosscheck": {"test_reviews": 10, "wrong_predictions": 0, "wrong_leader_sets": 1,
                                              "wrong_clusters": 0, "reviews_needing_exact_rows": 2,
                                              "rows_decided_exactly": 3, "rows": 99, "seconds": 1.0}}]}
    text = "\n".join(_sentiment({"sentiment": results}, {}))
    assert "| 16 | 0.846 | 0.866 | 0.882 | **0.870** | yes |" in text
    assert "| 16 | 10 | 0 | 1 | 0 | 2 | 3/99 | 1 |" in text and "`python -m sentiment train --dim 16`" in text
    assert "Not run yet" in "\n".join(_sentiment({}, {}))


# --- --strict: exit 1 when a checked claim fails (SPEC §5 exit codes) --------------------------

INDEFINITE = {"tokens": [[0, 0], [0, -1]], "A": [[1, 0], [0, -1]], "alpha": 1}  # P3 fails
ROTATION = {"tokens": [[0, 0], [0, -1]], "A": [[0, -1], [1, 0]], "alpha": 1}  # never provably frozen


def verify_cli(*args):
    return subprocess.run([sys.executable, "-m", "verify", *args], capture_output=True, text=True, timeout=120)


def test_check_strict_exit_codes(write_json, capsys):
    # Under H the paper's claims hold exactly; a float32 run breaks P2 (a leader drifts by rounding).
    float32 = ("--backend", "float", "--dtype", "float32")
    failed = verify_cli("check", EMERGING, "--steps", "10", *float32, "--strict", "--json")
    assert failed.returncode == 1, failed.stderr
    doc = json.loads(failed.stdout)
    assert doc["claims"]["P2"]["holds"] is False and "P2" in doc["strict_failed"]
    assert all(doc["claims"][c]["holds"] is False for c in doc["strict_failed"])
    assert len(failed.stderr.strip().splitlines()) == 1 and "P2" in failed.stderr
    bad = verify_cli("check", "missing.json", "--strict")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and bad.stdout == ""
    assert main(["check", EMERGING, "--steps", "10", *float32, "--json"]) == 0  # without --strict: unchanged
    assert "strict_failed" not in json.loads(capsys.readouterr().out)
    assert main(["check", EMERGING, "--steps", "10", *float32, "--strict"]) == 1
    assert "P2: FAILS" in capsys.readouterr().out
    # Outside its domain a claim is observed (holds null), never a --strict failure.
    indefinite = write_json(INDEFINITE)
    assert main(["check", indefinite, "--steps", "5", "--strict", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["claims"]["P3"]["holds"] is None and doc["claims"]["P3"]["observed"] is False
    assert doc["strict_failed"] == []


def test_null_verdicts_do_not_fail_strict(capsys):
    # D3 is null (not applicable) under H: it does not fail --strict
    assert main(["check", EMERGING, "--steps", "5", "--strict", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["claims"]["D3"]["holds"] is None and doc["strict_failed"] == []


def test_limit_strict_exit_codes(write_json, capsys):
    assert main(["limit", EMERGING, "--strict", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["strict_failed"] == []
    rotation = write_json(ROTATION)
    assert main(["limit", rotation, "--max-steps", "20", "--json"]) == 0
    assert main(["limit", rotation, "--max-steps", "20", "--strict", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["strict_failed"] == ["not certified"]
    assert "not certified" in err


def test_limit_strict_fails_on_points_outside_S(monkeypatch, capsys):
    from verify.limits import LimitResult

    fake = LimitResult(certified=True, certified_at=0, steps_run=0, limit=[], clusters=[[0], [1]],
                       leaders=(0,), in_S=[True, False])
    monkeypatch.setattr("verify.__main__.certified_limit", lambda config, max_steps, max_memory=None: fake)
    assert main(["limit", EMERGING, "--strict"]) == 1
    assert "tokens [1] not in S" in capsys.readouterr().err


def test_crosscheck_strict_exit_codes(monkeypatch, capsys):
    wrong = iter([0, 2])

    def fake(config, steps, **options):
        return {"wrong_decisions": next(wrong), "steps": []}

    monkeypatch.setattr("verify.crosscheck.crosscheck", fake)
    monkeypatch.setattr("verify.crosscheck.summarise", lambda results: {})
    assert main(["crosscheck", EMERGING, "examples/rotation_tie.json", "--strict", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["strict_failed"] == ["examples/rotation_tie.json"] and "rotation_tie" in err
    wrong = iter([0])
    assert main(["crosscheck", EMERGING, "--strict", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["strict_failed"] == []


def test_crosscheck_strict_on_a_real_float_run(capsys):
    # float32 breaks the exact tie of rotation_tie.json (README); float64 keeps emerging_leader's decisions
    assert main(["crosscheck", "examples/rotation_tie.json", "--steps", "60", "--dtype", "float32",
                 "--strict", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["wrong_decisions"] > 0
    assert main(["crosscheck", EMERGING, "--steps", "10", "--dtype", "float64", "--strict"]) == 0


def test_help_lists_exit_codes(capsys):
    for command, strict in (("check", True), ("limit", True), ("crosscheck", True), ("hunt", False)):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "exit codes:" in out and "130  interrupted" in out, command
        assert ("1    a checked claim fails" in out) == strict, command


def test_hunt_publishes_into_the_corpus_only_when_asked(capsys):
    import os

    from verify.hunt import CORPUS_DIR

    before = sorted(os.listdir(CORPUS_DIR))
    assert main(["hunt", "--claim", "P3", "--matrix", "indefinite", "--max-examples", "200", "--steps", "5",
                 "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["counterexample"] is not None and document["saved_to"] is None
    assert sorted(os.listdir(CORPUS_DIR)) == before


def test_report_lemmas_section(tmp_path):
    """``report --lemmas FILE``: a hunt per user lemma × matrix class, the counterexample drawn and
    replayable, the findings say which lemma is false where claimed; the CLI validates the file first."""
    from verify.report import build_report
    from verify.report.render import build_figures, render_markdown
    from verify.report.sections import Budget

    lemmas = tmp_path / "mine.py"
    lemmas.write_text(
        "from verify.lemmas import lemma\n\n"
        "@lemma('ALL-LEAD-1', statement='every token is a leader at step 1', under=('spd',))\n"
        "def all_lead(run):\n"
        "    if run.steps >= 1 and len(run.leaders[1]) < run.n:\n"
        "        return {'step': 1, 'leaders': list(run.leaders[1])}\n"
        "    return None\n")
    tiny = Budget("tiny", hunt_examples=3, hunt_steps=3, limit_steps=20, limit_configs=2, float_configs=2,
                  float_steps=3, multi_head_claims=(), lemma_examples=40, lemma_files=(str(lemmas),))
    doc = build_report(tiny, seed=0, chosen=["lemmas"], workers=1, show_progress=False, save=False)
    (entry,) = doc["lemmas"]
    assert entry["name"] == "ALL-LEAD-1" and [h["matrix"] for h in entry["hunts"]] == [
        "spd", "symmetric", "indefinite", "nonsymmetric"]
    spd = entry["hunts"][0]
    assert spd["counterexample"] is not None and spd["witness"]["step"] == 1
    figures = build_figures(doc)
    text = render_markdown(doc, figures)
    assert "## Lemmas brought by the user" in text and "**false** where claimed: ALL-LEAD-1" in text
    assert "lemma-ALL-LEAD-1.png" in figures
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('nope')\n")
    result = subprocess.run([sys.executable, "-m", "verify", "report", "--lemmas", str(broken), "--output-dir",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "cannot import: RuntimeError: nope" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
