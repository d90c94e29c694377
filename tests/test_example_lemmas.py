"""The example lemma files (``examples/lemmas/``) load, and their documented counterexamples still fail.

``examples/lemmas/FINDINGS.md`` cites the configs in ``examples/lemmas/configs/``
as counterexamples to named lemmas; each is replayed here exactly, and the
proved lemmas are checked to hold on them (a checker that cried wolf would fail).
"""

from __future__ import annotations

import glob
import os

import pytest

from dynamics import load_config, simulate
from verify.hunt import lemma_registry
from verify.run import Run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEMMAS = os.path.join(ROOT, "examples", "lemmas")
FILES = tuple(sorted(f for f in glob.glob(os.path.join(LEMMAS, "*.py")) if not f.endswith("lemma_helpers.py")))

#: (config, lemma that fails on it, steps, first failing step)
COUNTEREXAMPLES = [
    ("face_shrinks_3d.json", "FW-LEADER-FACE-SHRINKS", 3, 1),
    ("follow_moving_target.json", "FW-FOLLOW-STABLE-NZ", 3, None),
    ("vertex_follows_vertex.json", "FW-VERTICES-STATIONARY-NZ", 3, 0),
    ("face_tie_breaks.json", "FW-LEADER-FACE-STABLE", 3, None),
    ("nd_origin_leaves_hull.json", "CT-LEADERS-AT-ORIGIN", 3, None),
]
#: Lemmas proved in the files' docstrings: they must hold on every example config.
PROVED = ("FW-LEADERS-FIXED", "FW-FOLLOWS-ONE-LEADER", "FW-STRAIGHT-LINE", "FW-LEADER-FACE-SHRINKS-2D",
          "CT-MAX-BNORM-STRICT", "CT-ONE-LEADER-POSITION", "VM-ROTATION-BALL", "VM-RANK-ONE-LINE",
          "SC-P2-SAME-A-WINDOW", "SC-P1-ANY-SCHEDULE")


@pytest.fixture(scope="module")
def lemmas():
    return lemma_registry(FILES)


def test_every_example_file_declares_lemmas(lemmas):
    sources = {os.path.basename(item.source) for item in lemmas.user()}
    assert sources == {os.path.basename(f) for f in FILES}
    assert len(lemmas.user()) >= 20
    for item in lemmas.user():
        assert item.statement and set(item.under) <= {"spd", "symmetric", "indefinite", "nonsymmetric"}


@pytest.mark.parametrize("name, lemma, steps, step", COUNTEREXAMPLES)
def test_documented_counterexamples_still_fail(lemmas, name, lemma, steps, step):
    config = load_config(os.path.join(LEMMAS, "configs", name))
    verdict = lemmas[lemma].judge(Run(config, simulate(config, steps)))
    assert verdict.holds is False, (name, lemma)
    if step is not None:
        assert verdict.witness["step"] == step


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(LEMMAS, "configs"))))
def test_proved_lemmas_hold_on_the_example_configs(lemmas, name):
    config = load_config(os.path.join(LEMMAS, "configs", name))
    run = Run(config, simulate(config, 4))
    for lemma in PROVED:
        assert lemmas[lemma].judge(run).holds is True, (name, lemma)
