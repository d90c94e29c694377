"""Figures of the report (matplotlib, Agg, deterministic PNG bytes: no timestamps).

* :func:`token_panels` — tokens of a 2-D run at chosen steps: trails, leaders
  as stars, the convex hull of the current tokens and (optionally) the limit
  polytope shaded. Used for the paper's Figure 2 and for counterexamples.
* :func:`deviation_plot` — float-vs-exact deviation against step.
"""

from __future__ import annotations

import io
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["token_panels", "deviation_plot", "png_bytes"]

_METADATA = {"Software": None}


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes (no timestamp or software metadata, so identical runs give identical bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata=_METADATA, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _hull(points: np.ndarray) -> np.ndarray:
    """Vertices of the 2-D convex hull in order (monotone chain); handles 1-3 points."""
    pts = sorted(set(map(tuple, points.tolist())))
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def _shade(ax, points: np.ndarray, **style) -> None:
    hull = _hull(points)
    if len(hull) >= 3:
        ax.fill(hull[:, 0], hull[:, 1], **style)
    elif len(hull) == 2:
        ax.plot(hull[:, 0], hull[:, 1], color=style.get("color", "grey"), alpha=0.5, lw=3)


def token_panels(states: Sequence[np.ndarray], leaders: Sequence[Sequence[int]], steps: Sequence[int],
                 title: str, limit_leaders: np.ndarray | None = None) -> bytes:
    """One panel per chosen step of a 2-D run (1-D runs are drawn on a line).

    ``states[k]`` is the ``(n, 2)`` float array of step ``k``; ``leaders[k]`` the
    leaders there. Trails show each token's path up to that step.
    """
    fig, axes = plt.subplots(1, len(steps), figsize=(2.7 * len(steps), 2.9), squeeze=False)
    all_points = np.concatenate([s for s in states])
    lo, hi = all_points.min(axis=0), all_points.max(axis=0)
    pad = 0.08 * max(float((hi - lo).max()), 1e-9)
    for ax, k in zip(axes[0], steps):
        Z = states[k]
        if Z.shape[1] == 1:
            Z = np.hstack([Z, np.zeros_like(Z)])
        if limit_leaders is not None and len(limit_leaders):
            _shade(ax, limit_leaders, color="tab:orange", alpha=0.18, label="limit polytope")
        _shade(ax, Z, color="tab:blue", alpha=0.08)
        trail = np.stack([s if s.shape[1] == 2 else np.hstack([s, np.zeros_like(s)]) for s in states[: k + 1]])
        for i in range(Z.shape[0]):
            ax.plot(trail[:, i, 0], trail[:, i, 1], color="grey", lw=0.7, alpha=0.7)
        lead = set(leaders[k]) if k < len(leaders) else set()
        others = [i for i in range(Z.shape[0]) if i not in lead]
        ax.scatter(Z[others, 0], Z[others, 1], s=16, color="tab:blue", zorder=3)
        if lead:
            idx = sorted(lead)
            ax.scatter(Z[idx, 0], Z[idx, 1], s=110, marker="*", color="tab:red", zorder=4)
        ax.set_title(f"step {k}", fontsize=9)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        if all_points.shape[1] > 1:
            ax.set_ylim(lo[1] - pad, hi[1] + pad)
        ax.set_aspect("equal", adjustable="box")
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    return png_bytes(fig)


def deviation_plot(series: dict[str, Sequence[float]], title: str) -> bytes:
    """Median and max deviation ``max_i |z̃_i^k − z_i^k|`` against step, log scale, one line per label."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, values in series.items():
        values = np.maximum(np.asarray(values, dtype=float), 1e-18)
        ax.semilogy(np.arange(len(values)), values, label=label, lw=1.4)
    ax.set_xlabel("step k")
    ax.set_ylabel("max |float − exact|")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return png_bytes(fig)


def _panels_3d(states: Sequence[np.ndarray], leaders, steps: Sequence[int], title: str) -> bytes:
    fig = plt.figure(figsize=(3.2 * len(steps), 3.2))
    for p, k in enumerate(steps):
        ax = fig.add_subplot(1, len(steps), p + 1, projection="3d")
        Z = states[k]
        lead = set(leaders[k]) if k < len(leaders) else set()
        others = [i for i in range(len(Z)) if i not in lead]
        ax.scatter(Z[others, 0], Z[others, 1], Z[others, 2], s=16, color="tab:blue")
        if lead:
            idx = sorted(lead)
            ax.scatter(Z[idx, 0], Z[idx, 1], Z[idx, 2], s=110, marker="*", color="tab:red")
        ax.set_title(f"step {k}", fontsize=9)
        ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=10)
    return png_bytes(fig)


def counterexample_figure(config: dict[str, Any], states: Sequence[np.ndarray], leaders, title: str) -> bytes | None:
    """Token panels of a counterexample (d ≤ 3), every step up to the failure (at most 6 panels)."""
    d = len(config["tokens"][0])
    K = len(states) - 1
    steps = sorted(set(np.linspace(0, K, min(K + 1, 6)).round().astype(int).tolist()))
    if d == 3:
        return _panels_3d(states, leaders, steps, title)
    if d > 3:
        return None
    return token_panels(states, leaders, steps, title)
