"""The algebraic engine (``backend="algebraic"``): exact dynamics over a real number field.

* rational configs: the exact engine's trajectory, state for state;
* irrational configs: every decision the interval engine makes, and the ties it leaves undecided;
* persistent exact ties under irrational rotations, decided at every step.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamics import config_from_dict, load_config, simulate
from dynamics.number_field import NotAlgebraicError
from dynamics.numbers import parse_number
from verify.strategies import MATRIX_CLASSES, VALUE_CLASSES, configs

PENTAGON = {"tokens": [["1", "0"], ["cos(2*pi/5)", "sin(2*pi/5)"], ["cos(4*pi/5)", "sin(4*pi/5)"],
                       ["cos(4*pi/5)", "-sin(4*pi/5)"], ["cos(2*pi/5)", "-sin(2*pi/5)"], ["-1/2", "0"]],
            "alpha": "1/2"}
SQUARE_45 = {"tokens": [["sqrt(2)/2", "sqrt(2)/2"], ["-sqrt(2)/2", "sqrt(2)/2"], ["-sqrt(2)/2", "-sqrt(2)/2"],
                        ["sqrt(2)/2", "-sqrt(2)/2"], ["1/3", "1/3"]], "alpha": "1"}
TRIANGLE = {"tokens": [["1", "0"], ["-1/2", "sqrt(3)/2"], ["-1/2", "-sqrt(3)/2"], ["-1/5", "0"]], "alpha": "1/3"}


def _fractions(state) -> list[list[Fraction]]:
    return [[x.to_fraction() for x in row] for row in state]


@settings(max_examples=60, deadline=None)
@given(st.tuples(st.sampled_from(MATRIX_CLASSES), st.sampled_from(VALUE_CLASSES)).flatmap(
    lambda mv: configs(matrix=mv[0], heads=(1, 2), max_n=6, max_d=3, values=mv[1], layers=(1, 2))))
def test_a_rational_config_gives_the_exact_engines_trajectory(config):
    exact = simulate(config, 4, backend="exact")
    algebraic = simulate(config, 4, backend="algebraic")
    assert algebraic.info["degree"] == 1
    assert algebraic.follow == exact.follow and algebraic.leaders == exact.leaders
    assert algebraic.follow_by_head == exact.follow_by_head
    assert [_fractions(s) for s in algebraic.states] == [s.fractions() for s in exact.states]


@pytest.mark.parametrize("model", [PENTAGON, SQUARE_45, TRIANGLE], ids=["pentagon", "square45", "triangle"])
def test_it_agrees_with_every_decision_of_the_interval_engine(model):
    config = config_from_dict(model)
    algebraic = simulate(config, 12, backend="algebraic")
    interval = simulate(config, 12, backend="interval")
    decided = len(interval.follow)  # the interval engine's follow sets stop before an undecided row
    assert algebraic.follow[:decided] == interval.follow
    for exact_state, box in zip(algebraic.states, interval.states):  # each exact value inside its enclosure
        for row, boxes in zip(exact_state, box):
            for x, b in zip(row, boxes):
                assert float(b.a) <= float(x) <= float(b.b) or abs(float(x) - float(b.mid)) < 1e-12


def test_the_pentagons_centre_line_token_keeps_its_tie_for_as_many_steps_as_asked():
    config = config_from_dict(PENTAGON)
    interval = simulate(config, 30, backend="interval")
    assert interval.info["complete"] is False and interval.info["undecided"]["rows"] == [5]  # it cannot follow the tie
    run = simulate(config, 30, backend="algebraic")
    assert run.steps == 30 and run.info["degree"] == 4
    for k in range(31):
        assert run.follow[k][5] == (2, 3)  # an exact tie between two distinct leaders, at every step
        assert run.states[k][5][1] == 0  # so the token stays on the symmetry axis, exactly
    assert run.states[30][5][0] < run.states[0][5][0]  # and moves toward the two leaders


def test_states_print_in_the_input_grammar_and_read_back_exactly():
    run = simulate(config_from_dict(SQUARE_45), 3, backend="algebraic")
    from dynamics.trajectory import state_to_json

    texts = state_to_json(run.states[3])
    back = config_from_dict({"tokens": texts, "alpha": "1"})
    again = simulate(back, 0, backend="algebraic")
    assert [[float(x) for x in row] for row in again.states[0]] == [[float(x) for x in row] for row in run.states[3]]
    assert texts[4] == ["1/3", "1/3"] or all("sqrt(2)" in t or "/" in t or t.lstrip("-").isdigit() for t in texts[4])


def test_a_transcendental_entry_is_refused_pointing_to_the_interval_backend():
    config = config_from_dict({"tokens": [["pi", "0"], ["1", "1"]], "alpha": "1"})
    with pytest.raises(NotAlgebraicError, match="--backend interval"):
        simulate(config, 3, backend="algebraic")
    assert parse_number("cos(2*pi/5)") is not None


def test_plot_draws_an_algebraic_run(tmp_path, examples_dir):
    from verify.__main__ import main

    out = tmp_path / "pentagon.png"
    assert main(["plot", str(examples_dir / "pentagon.json"), "--steps", "6", "--backend", "algebraic",
                 "--output", str(out)]) == 0
    assert out.stat().st_size > 10_000


def test_the_figure_draws_the_exact_tie_to_each_tied_leader(examples_dir):
    """The arrow alone points to the mean of the follow set; dotted lines show whom the tied token follows."""
    import matplotlib.pyplot as plt

    from dynamics.trajectory import state_to_float
    from verify.plots import RunPicture, text_overlaps, trajectory_figure

    traj = simulate(load_config(str(examples_dir / "pentagon.json")), 3, backend="algebraic")
    states = [state_to_float(s) for s in traj.states]
    fig = trajectory_figure(RunPicture(states=states, leaders=traj.leaders, follow=traj.follow, title="pentagon"))
    try:
        ax = fig.axes[0]
        dotted = [line for line in ax.lines if line.get_linestyle() == ":" and len(line.get_xdata()) == 2]
        ends = sorted(tuple(np.round(line.get_xydata()[1], 9)) for line in dotted)
        assert ends == sorted(tuple(np.round(states[0][j], 9)) for j in (2, 3))  # token 5 ties vertices 2 and 3
        assert "an exact tie: follows each of these" in [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
        assert text_overlaps(fig) == []
    finally:
        plt.close(fig)


def test_the_reports_symmetric_section_shows_the_ties_only_the_algebraic_engine_follows():
    from verify.report import sections
    from verify.report.render import render_markdown

    items = sections.run_symmetric(sections.QUICK, seed=0, workers=1)
    assert [i["name"] for i in items] == [name for name, *_ in sections.SYMMETRIC]
    for item in items:
        assert item["tie_every_step"] and item["on_axis"] and len(item["exact_follow"]) == sections.SYMMETRIC_STEPS + 1
        assert item["interval"]["complete"] is False and item["interval"]["undecided_rows"] == [item["tied"]]
        # checked and certified over the field: the claims hold, the limit is frozen at once, in S
        assert all(item["claims"][c] for c in ("P1", "P2", "P3", "P4", "D1", "D2"))
        assert item["limit"]["certified_at"] == 0 and all(item["limit"]["in_S"])
    # the tied token's limit is the midpoint of the two leaders it ties between, exactly
    square = items[0]
    assert square["limit"]["tied_limit"] == ["1/2*sqrt(2)", "0"]
    turned = items[-1]
    assert turned["float64"]["first_wrong_step"] is not None  # float64 loses a tie its rounding does not mirror
    assert all(i["float64"]["first_wrong_step"] is None for i in items[:3])  # axis-aligned symmetries survive
    doc = {"command": "x", "budget": {"name": "quick"}, "seed": 0, "symmetric": items, "timings_s": {},
           "environment": {"python": "3", "platform": "p", "cpu_count": 2, "packages": {}, "cuda": False}}
    text = render_markdown(doc)
    assert "## Exact ties under irrational symmetries" in text and "loses it at step" in text
    assert "| square rotated by 45° | P1, P2, P3, P4, D1, D2 | frozen at step 0, 5 clusters | `(1/2*sqrt(2), 0)` | every " \
           "limit point |" in text
