"""No overlapping labels in the figures of runs, at any scale and dimension (:func:`verify.plots.text_overlaps`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from verify.plots import RunPicture, text_overlaps, trajectory_figure


def test_crowded_tick_labels_are_found():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_xlim(0, 1)
    ax.set_xticks(np.linspace(0, 1, 40))  # 40 labels on 2 inches cannot fit
    assert any("tick labels" in line for line in text_overlaps(fig))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    assert text_overlaps(fig) == []
    plt.close(fig)


@st.composite
def runs(draw):
    """Synthetic runs: 1–5 coordinates, 1–8 tokens, 1–10 steps contracting to the mean, at one scale from
    1e-300 to 1e300, with an offset (tick labels of large numbers near a large centre crowd most)."""
    d, n, steps = draw(st.integers(1, 5)), draw(st.integers(1, 8)), draw(st.integers(1, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = 10.0 ** draw(st.integers(-300, 300))
    offset = draw(st.sampled_from([0.0, 1.0, 1e3, -7e5]))
    rng = np.random.default_rng(seed)
    states = [(rng.normal(size=(n, d)) + offset) * scale]
    for _ in range(steps):
        states.append(0.7 * states[-1] + 0.3 * states[-1].mean(axis=0))
    leaders = [[int(rng.integers(n))] for _ in states]
    return RunPicture(states=states, leaders=leaders, title="a run")


#: Found by the test below (d = 4, two tokens: the second principal axis has no spread, and its five
#: ticks crowded a flat panel); kept as a regression case.
FLAT_PROJECTION = RunPicture(
    states=[np.array([[0.12573022, -0.13210486, 0.64042265, 0.10490012], [-0.53566937, 0.36159505, 1.30400005, 0.94708096]]),
            np.array([[0.02652028, -0.05804988, 0.73995926, 0.23122724], [-0.43645943, 0.28754007, 1.20446344, 0.82075384]])],
    leaders=[[1], [1]], title="a run")

# found by the test below: one token whose coordinates near 1e126 move by one ulp (labels of 40 characters,
# '(z₂ − 1.1495313290005447e+126) / 1e110', overlapped); such a spread is now drawn as constant
ULP_SPREAD = RunPicture(
    states=[np.array([[6.691137565221742e+125, 1.1495313290005447e+126, 2.3230333500000000e+127]]),
            np.array([[np.nextafter(6.691137565221742e+125, np.inf), np.nextafter(1.1495313290005447e+126, 0),
                       2.3230333500000000e+127]])],
    leaders=[[0], [0]], title="a run")


@settings(max_examples=40, deadline=None)
@given(runs())
@example(FLAT_PROJECTION)
@example(ULP_SPREAD)
def test_figures_of_runs_have_no_overlapping_labels(picture):
    fig = trajectory_figure(picture)
    try:
        assert text_overlaps(fig) == []
        # the title sits on the panels: no empty band between them (equal-scale panels are shorter than their room)
        renderer = fig.canvas.get_renderer()
        title = fig._suptitle.get_window_extent(renderer)
        top = max(ax.get_tightbbox(renderer).y1 for ax in fig.axes)
        assert 0 <= title.y0 - top <= 12 / 72 * fig.dpi, (title.y0, top)
    finally:
        plt.close(fig)


def test_a_spread_below_the_drawn_resolution_is_named_not_drawn():
    _, _, note, labels = ULP_SPREAD.coordinates()
    assert labels == ["z₁ / 1e125"] and "z₂ ≈ 1.15e+126" in note and "z₃ = 2.32e+127" in note and "under 1e-09" in note


def test_arrows_point_where_the_layer_pulls_with_several_heads_and_value_matrices():
    """Arrow target = Σ_h α_h V_h mean(C^h_i) / Σ_h α_h, computed here from the exact follow sets per head."""
    from fractions import Fraction

    from dynamics import config_from_dict, simulate
    from verify.plots import _pull_targets, pull_weights_of

    config = config_from_dict({"tokens": [["1", "0", "0"], ["0", "1", "0"], ["0", "0", "1"], ["1/2", "1/2", "1/2"]],
                               "heads": [{"A": [["3", "0", "0"], ["0", "1", "0"], ["0", "0", "1"]], "alpha": "1"},
                                         {"A": [["1", "0", "0"], ["0", "3", "0"], ["0", "0", "1"]], "alpha": "1/2",
                                          "V": [["0", "1", "0"], ["1", "0", "0"], ["0", "0", "1"]]}]})
    run = simulate(config, 3, backend="exact")
    weights = pull_weights_of(config, 3)
    assert weights == [1.5, 1.5, 1.5]
    picture = RunPicture(states=[s.to_numpy() for s in run.states], leaders=run.leaders, follow=run.follow,
                         pull_weights=weights)
    states = [s.fractions() for s in run.states]
    for k in range(3):
        target = _pull_targets(picture, list(picture.states), k)
        for i in range(config.n):
            pull = [Fraction(0)] * config.d
            for head, follow in zip(config.heads, run.follow_by_head[k]):
                mean = [sum(states[k][j][t] for j in follow[i]) / len(follow[i]) for t in range(config.d)]
                V = head.value_matrix
                moved = [sum(V[r][t] * mean[t] for t in range(config.d)) for r in range(config.d)]
                pull = [p + head.alpha * m for p, m in zip(pull, moved)]
            expected = [float(p / Fraction(3, 2)) for p in pull]
            assert np.allclose(target[i], expected, atol=1e-12), (k, i)
    assert _pull_targets(picture, list(picture.states), 3) is None  # no next layer drawn: no arrow
    one_head = config_from_dict({"tokens": [["1", "0"], ["0", "1"]], "alpha": "1/2"})
    assert pull_weights_of(one_head, 5) is None  # the paper's model: the follow-set means are the pull points


def test_report_pngs_are_palette_compressed_without_visible_change():
    import io

    from PIL import Image

    from verify.plots import compact_png, figure_bytes

    fig = trajectory_figure(RunPicture(states=[np.array([[0.0, 1.0], [1.0, 0.0], [0.3, 0.4]]),
                                               np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])],
                                       leaders=[[0, 1], [0, 1]], title="a run"))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    raw = buffer.getvalue()
    small = compact_png(raw)
    assert len(small) < len(raw) and compact_png(raw) == small  # smaller, and deterministic
    before = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=float)
    after = np.asarray(Image.open(io.BytesIO(small)).convert("RGB"), dtype=float)
    assert before.shape == after.shape and np.abs(before - after).mean() < 1.0  # out of 255 per channel
    assert figure_bytes(fig) == compact_png(raw) or Image.open(io.BytesIO(figure_bytes(fig))).mode == "P"
