"""Figures of runs: tokens through the layers, leaders, follow arrows, hulls and certified limits.

One drawing code serves ``attention-dynamics plot`` (a user's own config) and the
report (Figure 2, counterexamples). What is drawn depends on the dimension that
*varies* (coordinates constant over every token and step are dropped and named in
the caption, so a counterexample with an idle third coordinate is drawn in 2-D):

* **1 varying coordinate** — one axes: the layer ``k`` on the x-axis, each token's
  value on the y-axis (a line per token), leaders as stars, the certified limit as
  dashed horizontal lines;
* **2** — panels at chosen steps: trails up to the step, the convex hull of the
  current tokens (blue), leaders as red stars, an arrow from each follower to the
  mean of its follow set (the point its layer pulls it toward), the certified
  limit's points (black ×) and their hull (orange);
* **3** — the same panels in 3-D (hulls as translucent faces when the tokens span 3-D);
* **more** — the 2-D drawing in the plane of the first two principal axes of all
  the states together (the caption says so; distances in it are shrunk, never
  stretched).

:func:`trajectory_figure` returns a matplotlib figure; :func:`save_figure` writes
PNG, SVG or PDF by the file's extension; :func:`animate` writes a GIF (Pillow,
always there) or an MP4 (only where ffmpeg is installed) with one frame per step.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from dynamics.errors import InputError  # noqa: E402

__all__ = ["RunPicture", "trajectory_figure", "save_figure", "animate", "figure_bytes", "panel_steps",
           "text_overlaps", "pull_weights_of", "compact_png", "FIGURE_FORMATS", "ANIMATION_FORMATS"]

FIGURE_FORMATS = ("png", "svg", "pdf")
ANIMATION_FORMATS = ("gif", "mp4")
#: No timestamps or software names in the files: identical runs give identical bytes (PNG).
_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
             "pdf": {"CreationDate": None, "Creator": None, "Producer": None}}
LEADER, FOLLOWER, LIMIT, HULL, TIE = "tab:red", "tab:blue", "black", "tab:orange", "tab:purple"


@dataclass
class RunPicture:
    """What a figure of a run shows, in plotting coordinates.

    Attributes
    ----------
    states
        ``Z^0 … Z^K`` as ``n × d`` float arrays.
    leaders
        The leaders of each state.
    follow
        The (union) follow sets of each state, or ``None`` (no arrows).
    limit
        The certified limit ``n × d`` (each token's limit point), or ``None``.
    title
        The figure's title.
    limit_label
        The legend's name of the limit points (``"certified limit (exact run)"`` over a float run).
    pull_weights
        ``s_k = Σ_h α_h`` of each layer ``k``, for models other than the paper's (several heads, value
        matrices): the arrow at step ``k < K`` then points to the point layer ``k`` pulls each token
        toward, ``p_i = (z_i^{k+1}(1 + s_k) − z_i^k) / s_k = Σ_h α_h V_h mean(C^h_i) / s_k`` (an affine
        combination, so it is drawn in any projection), and there is none at ``K``. Without it the
        arrows point to the mean of the (union) follow set, which is that point for one head with
        ``V = I`` (:func:`pull_weights_of` says which applies).
    """

    states: Sequence[np.ndarray]
    leaders: Sequence[Sequence[int]]
    follow: Sequence[Sequence[Sequence[int]]] | None = None
    limit: np.ndarray | None = None
    title: str = ""
    pull_weights: Sequence[float] | None = None
    limit_label: str = "certified limit"

    def coordinates(self) -> tuple[list[np.ndarray], np.ndarray | None, str, list[str]]:
        """The states (and limit) in the coordinates drawn, a caption note, and the axis labels.

        Coordinates constant over every token, step and limit point are dropped, and so are
        coordinates whose spread is below ``DRAWN_RESOLUTION`` of their size (no axis can show
        it; both are named in the note); beyond three varying coordinates, the states are
        projected on the first two principal axes of all states together (an orthogonal
        projection: it never stretches a distance).
        """
        everything = np.concatenate([np.asarray(s, dtype=float) for s in self.states]
                                    + ([np.asarray(self.limit, dtype=float)] if self.limit is not None else []))
        d = everything.shape[1]
        with np.errstate(over="ignore"):  # a spread beyond float64 (-1e308 … 1e308) is inf: varying, as it is
            spread = [float(np.ptp(everything[:, t])) for t in range(d)]
        varying = [t for t in range(d)
                   if spread[t] > DRAWN_RESOLUTION * float(np.max(np.abs(everything[:, t])))] or [0]
        dropped = [t for t in range(d) if t not in varying]
        note = ""
        if dropped:
            shown = ", ".join(f"z{_sub(t + 1)} {'=' if spread[t] == 0 else '≈'} {everything[0, t]:.3g}"
                              for t in dropped[:4])
            note = f"constant, not drawn: {shown}" + (" …" if len(dropped) > 4 else "")
            if any(spread[t] > 0 for t in dropped):
                note += f" (≈: varies by under {DRAWN_RESOLUTION:g} of its size)"
        if len(varying) <= 3:
            pick = lambda M: np.asarray(M, dtype=float)[:, varying]  # noqa: E731
            labels = [f"z{_sub(t + 1)}" for t in varying]
        else:
            centre = everything.mean(axis=0)
            _, _, Vt = np.linalg.svd(everything - centre, full_matrices=False)
            axes = Vt[:2].T
            pick = lambda M: (np.asarray(M, dtype=float) - centre) @ axes  # noqa: E731
            labels = ["principal axis 1", "principal axis 2"]
            note = (note + "; " if note else "") + f"d = {d}: projected on the first two principal axes of all states"
        states = [pick(s) for s in self.states]
        limit = pick(self.limit) if self.limit is not None else None
        if len(varying) <= 3:  # a narrow spread far from 0: drawn relative to a round centre, named in the label
            drawn = np.concatenate(states + ([limit] if limit is not None else []))
            for t in range(drawn.shape[1]):
                shift = _round_centre(float(drawn[:, t].min()), float(drawn[:, t].max()))
                if shift:
                    labels[t] += f" − {_short(shift)}" if shift > 0 else f" + {_short(-shift)}"
                size = float(np.max(np.abs(drawn[:, t] - shift)))
                power = int(np.floor(np.log10(size))) if size > 0 else 0
                unit = 10.0 ** power if not -2 <= power < 4 else 1.0
                if not (np.isfinite(unit) and unit > 0):
                    unit = 1.0
                if shift or unit != 1.0:  # drawn: (z − shift) / unit, so tick labels need no offset or ×10ⁿ text
                    states = [_rescaled(S, t, shift, unit) for S in states]
                    limit = None if limit is None else _rescaled(limit, t, shift, unit)
                    if unit != 1.0:
                        labels[t] = f"({labels[t]}) / 1e{power}" if shift else f"{labels[t]} / 1e{power}"
        return states, limit, note, labels


def _short(x: float) -> str:
    """The shortest decimal that reads back as ``x`` (``7000000``, ``0.0001``, ``1e+300``)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _rescaled(M: np.ndarray, t: int, shift: float, unit: float) -> np.ndarray:
    """``M`` with column ``t`` replaced by ``(M[:, t] − shift) / unit``."""
    out = np.array(M, dtype=float)
    out[:, t] = (out[:, t] - shift) / unit
    return out


DRAWN_RESOLUTION = 1e-9  # a coordinate varying by less than this fraction of its size is drawn as constant


def _round_centre(lo: float, hi: float) -> float:
    """0, or for values in ``[lo, hi]`` spread over less than 1/10 of their size, their centre rounded to a
    multiple of the spread's decimal order (so that the shifted values stay within about one spread of 0,
    and tick labels need no offset text, which crowds the labels of short axes)."""
    span, centre = hi - lo, (lo + hi) / 2
    if not (span > 0 and abs(centre) > 10 * span) or not np.isfinite(centre) \
            or span <= DRAWN_RESOLUTION * abs(centre):  # a spread no axis shows: no 17-digit centre in the label
        return 0.0
    digits = int(np.floor(np.log10(abs(centre))) - np.floor(np.log10(span)))  # the centre to the spread's order
    shift = float(f"{centre:.{max(digits, 0)}e}")  # a short decimal: its label is short too
    return shift if np.isfinite(shift) else 0.0


def _sub(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _plain(text: str) -> str:
    """A title drawn as written: ``$`` would start matplotlib's math mode (and fail on a user's text)."""
    return text.replace("$", r"\$")


@contextlib.contextmanager
def _quiet_glyphs():
    """Characters the font lacks (a user's title, a config's name) are drawn as boxes, without a warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def panel_steps(steps: int, panels: int = 4) -> list[int]:
    """``panels`` steps from 0 to ``steps``, evenly spread (fewer if there are fewer steps)."""
    return sorted(set(np.linspace(0, steps, min(steps + 1, max(panels, 1))).round().astype(int).tolist()))


def _hull(points: np.ndarray) -> np.ndarray:
    """Vertices of the 2-D convex hull in order (monotone chain); 1 or 2 points for degenerate sets."""
    pts = sorted(set(map(tuple, np.asarray(points, dtype=float).tolist())))
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


def _shade(ax, points: np.ndarray, label: str | None = None, **style) -> None:
    hull = _hull(points)
    if len(hull) >= 3:
        ax.fill(hull[:, 0], hull[:, 1], label=label, **style)
    elif len(hull) == 2:
        ax.plot(hull[:, 0], hull[:, 1], color=style.get("color", "grey"), alpha=0.5, lw=3, label=label)


def _shade_space(ax, points: np.ndarray, label: str | None = None, **style) -> None:
    """The convex hull of 3-D points as translucent faces; nothing when the points are coplanar or fewer
    than four (Qhull finds no full-dimensional hull), or when they span less than 1e-12 of their size."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection
    from scipy.spatial import ConvexHull, QhullError

    unique = np.unique(points, axis=0)
    if len(unique) < 4 or not np.isfinite(unique).all():
        return
    scale = float(np.abs(unique).max()) or 1.0
    try:
        hull = ConvexHull(unique / scale)
    except (QhullError, ValueError):
        return
    faces = [unique[simplex] for simplex in hull.simplices]
    ax.add_collection3d(Poly3DCollection(faces, facecolor=style.get("color", "grey"), alpha=style.get("alpha", 0.1),
                                         edgecolor="none", label=label))


def _legend(ax, fontsize: float) -> None:
    """The legend outside the axes, on the right (nothing when nothing is labelled)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)


def _ties(picture: RunPicture, Z: np.ndarray, k: int) -> list[tuple[int, list[int]]]:
    """Tokens of ``Z^k`` that follow two or more tokens at different places (a tie in the argmax), with
    the tokens they follow; the arrow alone points to their mean and would hide the tie."""
    if picture.follow is None or k >= len(picture.follow):
        return []
    out = []
    for i, followed in enumerate(picture.follow[k]):
        if len({Z[j].tobytes() for j in followed}) >= 2:
            out.append((i, [j for j in followed if j != i]))
    return out


def _pull_targets(picture: RunPicture, states: list[np.ndarray], k: int) -> np.ndarray | None:
    """Where layer ``k`` pulls each token of ``Z^k`` (see :class:`RunPicture`), or ``None`` (no arrows)."""
    if picture.pull_weights is not None:
        if k + 1 >= len(states) or k >= len(picture.pull_weights) or picture.pull_weights[k] == 0:
            return None
        s = picture.pull_weights[k]
        return (states[k + 1] * (1 + s) - states[k]) / s
    if picture.follow is None or k >= len(picture.follow):
        return None
    return np.array([states[k][list(f)].mean(axis=0) for f in picture.follow[k]])


def pull_weights_of(config, steps: int) -> list[float] | None:
    """:attr:`RunPicture.pull_weights` of a run of ``config``: ``None`` for the paper's model (one head,
    ``V = I``, in every layer: the follow-set means are the pull points), else ``Σ_h α_h`` per layer."""
    if all(len(heads) == 1 for heads in config.schedule) and config.identity_values:
        return None

    def value(alpha) -> float:
        from fractions import Fraction

        return float(alpha) if isinstance(alpha, Fraction) else float(alpha.interval().mid)

    return [sum(value(h.alpha) for h in config.heads_at(k)) for k in range(steps)]


def _draw_plane(ax, picture: RunPicture, states: list[np.ndarray], limit: np.ndarray | None, k: int,
                bounds: tuple[np.ndarray, np.ndarray], labels: list[str], legend: bool) -> None:
    """One 2-D panel: step ``k`` (trails, hull, followers, leaders, arrows, limit)."""
    Z = states[k]
    if limit is not None:
        _shade(ax, limit, color=HULL, alpha=0.22, label="hull of the limit")
        ax.scatter(limit[:, 0], limit[:, 1], marker="x", s=40, color=LIMIT, lw=1.2, zorder=5,
                   label=picture.limit_label)
    _shade(ax, Z, color=FOLLOWER, alpha=0.08, label="hull of the tokens")
    trail = np.stack(states[: k + 1])
    for i in range(Z.shape[0]):
        ax.plot(trail[:, i, 0], trail[:, i, 1], color="grey", lw=0.7, alpha=0.6, zorder=1)
    lead = sorted(set(picture.leaders[k])) if k < len(picture.leaders) else []
    others = [i for i in range(Z.shape[0]) if i not in set(lead)]
    target = _pull_targets(picture, states, k) if others else None
    if target is not None:
        for i in others:
            if np.any(target[i] != Z[i]):
                ax.annotate("", xy=target[i], xytext=Z[i], zorder=2,
                            arrowprops={"arrowstyle": "->", "color": "tab:green", "lw": 0.9, "alpha": 0.8})
        ax.plot([], [], color="tab:green", lw=0.9, label="pulled toward (follow-set mean)" if
                picture.pull_weights is None else "pulled toward (α-weighted, V applied)")
    ties = _ties(picture, Z, k)
    for i, followed in ties:
        for j in followed:
            ax.plot([Z[i, 0], Z[j, 0]], [Z[i, 1], Z[j, 1]], color=TIE, ls=":", lw=1.0, zorder=2)
    if ties:
        ax.plot([], [], color=TIE, ls=":", lw=1.0, label="an exact tie: follows each of these")
    ax.scatter(Z[others, 0], Z[others, 1], s=18, color=FOLLOWER, zorder=3, label="follower")
    if lead:
        ax.scatter(Z[lead, 0], Z[lead, 1], s=120, marker="*", color=LEADER, zorder=4, label="leader")
    lo, hi = bounds
    longest = max(float((hi - lo).max()), 1e-12)
    # equal scales; a flat cloud (two tokens, or a second principal axis of no spread) still gets a
    # quarter of the longer side, and each axis as many ticks as its length holds (else they crowd)
    half = np.maximum(hi - lo, longest / 4) / 2 + 0.08 * longest
    centre = (lo + hi) / 2
    ax.set_xlim(centre[0] - half[0], centre[0] + half[0])
    ax.set_ylim(centre[1] - half[1], centre[1] + half[1])
    ax.set_aspect("equal", adjustable="box")
    for axis, extent in ((ax.xaxis, half[0]), (ax.yaxis, half[1])):
        axis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=max(2, round(5 * extent / half.max()))))
    ax.set_title(f"layer {k}", fontsize=9)
    ax.set_xlabel(labels[0], fontsize=8)
    ax.set_ylabel(labels[1], fontsize=8)
    ax.tick_params(labelsize=7)
    if legend:
        _legend(ax, fontsize=6.5)


def _draw_space(ax, picture: RunPicture, states: list[np.ndarray], limit: np.ndarray | None, k: int,
                bounds: tuple[np.ndarray, np.ndarray], labels: list[str]) -> None:
    """One 3-D panel: trails, followers, leaders, arrows, limit points; every panel on the same axes limits."""
    Z = states[k]
    trail = np.stack(states[: k + 1])
    for i in range(Z.shape[0]):
        ax.plot(trail[:, i, 0], trail[:, i, 1], trail[:, i, 2], color="grey", lw=0.6, alpha=0.6)
    lead = sorted(set(picture.leaders[k])) if k < len(picture.leaders) else []
    others = [i for i in range(Z.shape[0]) if i not in set(lead)]
    _shade_space(ax, Z, color=FOLLOWER, alpha=0.08, label="hull of the tokens")
    if limit is not None:
        _shade_space(ax, limit, color=HULL, alpha=0.22, label="hull of the limit")
    ax.scatter(Z[others, 0], Z[others, 1], Z[others, 2], s=16, color=FOLLOWER, label="follower")
    if lead:
        ax.scatter(Z[lead, 0], Z[lead, 1], Z[lead, 2], s=110, marker="*", color=LEADER, label="leader")
    target = _pull_targets(picture, states, k) if others else None
    if target is not None:
        delta = target[others] - Z[others]
        ax.quiver(Z[others, 0], Z[others, 1], Z[others, 2], delta[:, 0], delta[:, 1], delta[:, 2],
                  color="tab:green", lw=0.8, arrow_length_ratio=0.15)
    if limit is not None:
        ax.scatter(limit[:, 0], limit[:, 1], limit[:, 2], marker="x", s=36, color=LIMIT, label=picture.limit_label)
    lo, hi = bounds
    pad = 0.05 * np.maximum(hi - lo, 1e-12 * np.maximum(np.abs(hi), 1e-300))
    for set_limits, low, high in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), lo - pad, hi + pad):
        set_limits(low, high)
    ax.set_title(f"layer {k}", fontsize=9)
    for setter, label in zip((ax.set_xlabel, ax.set_ylabel, ax.set_zlabel), labels):
        setter(label, fontsize=7, labelpad=-2)
    ax.tick_params(labelsize=6, pad=-1)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):  # few ticks: 3-D axes are short and their labels crowd
        axis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=3))
        axis.get_offset_text().set_fontsize(6)


def _draw_line(ax, picture: RunPicture, states: list[np.ndarray], limit: np.ndarray | None, upto: int,
               label: str) -> None:
    """The 1-D picture: token values against the layer, up to layer ``upto``."""
    values = np.stack(states[: upto + 1])[:, :, 0]  # (steps, n)
    steps = np.arange(values.shape[0])
    for i in range(values.shape[1]):
        ax.plot(steps, values[:, i], color=FOLLOWER, lw=0.9, alpha=0.75, zorder=2,
                marker="o" if len(steps) <= 30 else None, ms=2.5)
    marks = [(k, i) for k in range(values.shape[0]) for i in (picture.leaders[k] if k < len(picture.leaders) else ())]
    if marks:
        ks, idx = zip(*marks)
        ax.scatter(ks, values[list(ks), list(idx)], marker="*", s=60, color=LEADER, zorder=3, label="leader")
    if limit is not None:
        for value in sorted(set(limit[:, 0].tolist())):
            ax.axhline(value, color=LIMIT, ls="--", lw=0.8, zorder=1)
        ax.plot([], [], color=LIMIT, ls="--", lw=0.8, label=picture.limit_label)
    ax.set_xlabel("layer k")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel(label)
    ax.set_xlim(-0.4, max(len(states) - 1, 1) + 0.4)  # room for the markers at the first and last layer
    ax.grid(alpha=0.25)
    _legend(ax, fontsize=7)


def trajectory_figure(picture: RunPicture, steps: Sequence[int] | None = None, panels: int = 4):
    """The figure of a run (module docstring): panels at ``steps`` (default: ``panels`` spread evenly)."""
    states, limit, note, labels = picture.coordinates()
    K = len(states) - 1
    steps = panel_steps(K, panels) if steps is None else sorted(set(steps))
    if not steps or min(steps) < 0 or max(steps) > K:
        raise InputError(f"panel steps {list(steps)} (expected steps between 0 and {K})")
    dims = states[0].shape[1]
    if dims == 1:
        fig, ax = plt.subplots(figsize=(7.2, 3.6))
        _draw_line(ax, picture, states, limit, K, labels[0])
    elif dims == 2:
        everything = np.concatenate(states + ([limit] if limit is not None else []))
        bounds = (everything.min(axis=0), everything.max(axis=0))
        span = np.maximum(bounds[1] - bounds[0], 1e-12)
        height = float(np.clip(2.9 * span[1] / span[0], 1.6, 4.2)) + 1.0  # panels keep equal axis scales
        fig, axes = plt.subplots(1, len(steps), figsize=(2.9 * len(steps) + 1.9, height), squeeze=False)
        for p, (ax, k) in enumerate(zip(axes[0], steps)):
            _draw_plane(ax, picture, states, limit, k, bounds, labels, legend=p == len(steps) - 1)
    else:
        fig = plt.figure(figsize=(3.3 * len(steps), 3.4))
        everything = np.concatenate(states + ([limit] if limit is not None else []))
        for p, k in enumerate(steps):
            ax = fig.add_subplot(1, len(steps), p + 1, projection="3d")
            _draw_space(ax, picture, states, limit, k, (everything.min(axis=0), everything.max(axis=0)), labels)
        handles, names = fig.axes[-1].get_legend_handles_labels()
        if handles:
            fig.legend(handles, names, fontsize=7, loc="lower center", ncol=len(names), frameon=False)
        fig.subplots_adjust(top=0.82)
    title = fig.suptitle(_plain(picture.title) + (f"\n({note})" if note else ""), fontsize=10)
    for ax in fig.axes:  # no offset text ("+1e−1" at an axis' end): narrow spreads are shifted instead
        for axis in (ax.xaxis, ax.yaxis) + ((ax.zaxis,) if hasattr(ax, "zaxis") else ()):
            formatter = axis.get_major_formatter()
            if isinstance(formatter, matplotlib.ticker.ScalarFormatter):
                formatter.set_useOffset(False)
    with _quiet_glyphs():
        fig.tight_layout()
        _title_on_panels(fig, title)
    return fig


def _title_on_panels(fig, title) -> None:
    """Set the figure's title just above the panels' drawn extent (titles and labels included).

    Panels of equal axis scales are narrower than the room ``tight_layout`` gives them, and sit in its
    middle: a title left at the top of the figure had a wide empty band under it (the saved figure is
    cropped to what is drawn, so the band above the title goes).
    """
    renderer = fig.canvas.get_renderer()
    top = max(ax.get_tightbbox(renderer).y1 for ax in fig.axes)  # display pixels
    gap = 6 / 72 * fig.dpi  # 6 points
    title.set_verticalalignment("bottom")
    title.set_y((top + gap) / fig.bbox.height)


def text_overlaps(fig) -> list[str]:
    """Pairs of labels that overlap when ``fig`` is drawn: tick labels of one axis (including the offset or
    scale text), and the titles, axis labels and tick labels of different panels. Empty: none overlap.

    Two texts overlap when their drawn bounding boxes (display pixels) share more than one pixel in both
    directions; a label that touches its neighbour is not counted.
    """
    with _quiet_glyphs():
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()

    def boxes(texts):
        out = []
        for text in texts:
            if text.get_visible() and text.get_text().strip():
                out.append((text.get_text(), text.get_window_extent(renderer)))
        return out

    def clash(a, b) -> bool:
        return min(a.x1, b.x1) - max(a.x0, b.x0) > 1 and min(a.y1, b.y1) - max(a.y0, b.y0) > 1

    def shown_ticks(axis) -> list:
        """The tick labels drawn: matplotlib also keeps labels of ticks just outside the view."""
        lo, hi = sorted(axis.get_view_interval())
        slack = 1e-9 * max(abs(lo), abs(hi), 1e-300)
        return [tick.label1 for tick in axis.get_major_ticks() if lo - slack <= tick.get_loc() <= hi + slack]

    found = []
    panels = []
    for ax in fig.axes:
        axes = [ax.xaxis, ax.yaxis] + ([ax.zaxis] if hasattr(ax, "zaxis") else [])
        for axis in axes:
            labels = boxes(shown_ticks(axis) + [axis.get_offset_text()])
            found += [f"{ax.get_title() or 'axes'}: tick labels {a!r} and {b!r}" for i, (a, box_a) in
                      enumerate(labels) for b, box_b in labels[i + 1:] if clash(box_a, box_b)]
        panels.append(boxes([ax.title, ax.xaxis.label, ax.yaxis.label]
                            + [t for axis in axes for t in shown_ticks(axis)]))
    for i, first in enumerate(panels):
        for second in panels[i + 1:]:
            found += [f"labels {a!r} and {b!r} of two panels" for a, box_a in first for b, box_b in second
                      if clash(box_a, box_b)]
    return found


def figure_bytes(fig, fmt: str = "png") -> bytes:
    """The figure's bytes in ``fmt`` (no timestamps: identical runs give identical PNGs); closes it.
    PNGs are :func:`compact_png`."""
    buffer = io.BytesIO()
    with _quiet_glyphs():
        fig.savefig(buffer, format=fmt, dpi=110, metadata=_METADATA[fmt], bbox_inches="tight")
    plt.close(fig)
    return compact_png(buffer.getvalue()) if fmt == "png" else buffer.getvalue()


def compact_png(data: bytes) -> bytes:
    """A PNG re-encoded with a 256-colour palette (median cut, no dithering) and optimised: about a third of
    the size for line plots, which use few colours, with no visible change; deterministic."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def save_figure(fig, path: str) -> None:
    """Write ``fig`` to ``path`` as PNG, SVG or PDF (by its extension), atomically."""
    from dynamics.cli import write_output

    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        plt.close(fig)
        raise InputError(f"--output: {path} (expected a .png, .svg or .pdf file; .gif or .mp4 with --animate)")
    write_output(path, figure_bytes(fig, fmt))


def animate(picture: RunPicture, path: str, fps: int = 4) -> None:
    """Write one frame per layer to ``path`` (GIF, or MP4 where ffmpeg is installed): the 2-D/3-D panel
    of each step, or the 1-D picture growing layer by layer."""
    from matplotlib import animation

    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt not in ANIMATION_FORMATS:
        raise InputError(f"--output: {path} (with --animate expected a .gif or .mp4 file)")
    if fmt == "mp4" and not animation.writers.is_available("ffmpeg"):
        raise InputError(f"--output: {path}: an MP4 needs ffmpeg, which is not installed here (write a .gif instead)")
    states, limit, note, labels = picture.coordinates()
    dims = states[0].shape[1]
    fig = plt.figure(figsize=(7.6, 4.4) if dims != 1 else (7.6, 3.8))
    everything = np.concatenate(states + ([limit] if limit is not None else []))
    bounds = (everything.min(axis=0), everything.max(axis=0))

    def frame(k: int):
        fig.clear()
        if dims == 1:
            _draw_line(fig.add_subplot(1, 1, 1), picture, states, limit, k, labels[0])
        elif dims == 2:
            _draw_plane(fig.add_subplot(1, 1, 1), picture, states, limit, k, bounds, labels, legend=True)
        else:
            _draw_space(fig.add_subplot(1, 1, 1, projection="3d"), picture, states, limit, k, bounds, labels)
        fig.suptitle(_plain(picture.title) + (f"\n({note})" if note else ""), fontsize=9)
        if dims <= 2:  # room on the right for the legend (frames are not cropped to their content)
            fig.subplots_adjust(left=0.1, right=0.66, top=0.84, bottom=0.13)
        return []

    movie = animation.FuncAnimation(fig, frame, frames=len(states), blit=False)
    writer = animation.PillowWriter(fps=fps) if fmt == "gif" else animation.FFMpegWriter(fps=fps)
    import tempfile

    from dynamics.cli import write_output

    with tempfile.TemporaryDirectory(prefix="plot-") as folder:  # the writers want a file name
        scratch = os.path.join(folder, "movie." + fmt)
        try:
            with _quiet_glyphs():
                movie.save(scratch, writer=writer, dpi=100)
        finally:
            plt.close(fig)
        with open(scratch, "rb") as handle:
            write_output(path, handle.read())  # as every output: atomic, ordinary permissions
