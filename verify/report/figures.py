"""Figures of the report (matplotlib, Agg, deterministic PNG bytes: no timestamps).

Runs are drawn by :mod:`verify.plots`, the code behind ``attention-dynamics plot``:

* :func:`token_panels` — the paper's Figure 2: a run at chosen steps, leaders,
  hulls and the limit polytope;
* :func:`counterexample_figure` — a counterexample's run up to the failure, with
  its follow arrows, in the coordinates that vary (any ``d``);
* :func:`deviation_plot` — float-vs-exact deviation against step.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..plots import RunPicture, figure_bytes, panel_steps, plt, trajectory_figure

__all__ = ["token_panels", "counterexample_figure", "deviation_plot", "png_bytes"]


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes (no timestamp or software metadata, so identical runs give identical bytes)."""
    return figure_bytes(fig, "png")


def token_panels(states: Sequence[np.ndarray], leaders: Sequence[Sequence[int]], steps: Sequence[int],
                 title: str, limit_leaders: np.ndarray | None = None) -> bytes:
    """Panels of a run at ``steps``: leaders, hulls, and the limit polytope (the limit leaders' hull)."""
    picture = RunPicture(states=states, leaders=leaders, limit=limit_leaders, title=title)
    return png_bytes(trajectory_figure(picture, steps=steps))


def counterexample_figure(config: dict[str, Any], states: Sequence[np.ndarray], leaders, title: str,
                          follow=None, pull_weights=None) -> bytes:
    """A counterexample's run, every step up to the failure (at most 6 panels), follow arrows included."""
    picture = RunPicture(states=states, leaders=leaders, follow=follow, title=title, pull_weights=pull_weights)
    return png_bytes(trajectory_figure(picture, steps=panel_steps(len(states) - 1, 6)))


#: Line styles cycled with the colours, so that series lying on top of each other stay visible.
_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "v", "D", "x", "+")


def deviation_plot(series: dict[str, Sequence[float]], title: str) -> bytes:
    """Largest deviation ``max_i |z̃_i^k − z_i^k|`` against step, log scale, one line per label (legend
    outside the axes; each series has its own line style and marker)."""
    fig, ax = plt.subplots(figsize=(7.4, 3.6))
    for s, (label, values) in enumerate(series.items()):
        values = np.maximum(np.asarray(values, dtype=float), 1e-18)
        ax.semilogy(np.arange(len(values)), values, label=label, lw=1.3, ls=_STYLES[s % len(_STYLES)],
                    marker=_MARKERS[s % len(_MARKERS)], markevery=max(1, len(values) // 8), ms=4)
    ax.set_xlabel("step k")
    ax.set_ylabel("max |float − exact| (floor 1e-18)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return png_bytes(fig)
