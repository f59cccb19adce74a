"""Figures of estimate results: estimates by group, counts per arm, change.

Plain data in, PNG or SVG bytes out. The caller passes every title and label as a plain
string already in the reader's language, so this module knows nothing of Django or
translation. Text is set in DejaVu Sans, which has the Cyrillic letters of Russian and
Kazakh (ә ғ қ ң ө ұ ү һ і); SVG output draws text as paths, so a figure looks the same
on a computer without that font.

Each figure gets its own Agg canvas, never pyplot's global state; matplotlib's
settings are still global to the process, so figures are drawn one at a time under a
lock.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: The image formats, with their content types.
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}

SETTINGS = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "svg.fonttype": "path",
    # A fixed salt makes the SVG ids, and so the bytes, the same from run to run.
    "svg.hashsalt": "list-experiment-figure",
    "axes.spines.top": False,
    "axes.spines.right": False,
}
EARLIER_COLOUR = "#8c8c8c"
LATER_COLOUR = "#1f5fa8"
POINT_COLOUR = "#1f5fa8"
CONTROL_COLOUR = "#8c8c8c"
TREATMENT_COLOUR = "#1f5fa8"
ROW_HEIGHT = 0.3
DPI = 150

_drawing = threading.Lock()


@dataclass(frozen=True)
class Point:
    """One estimate with its 95% interval, as proportions (drawn in percent)."""

    label: str
    estimate: float | None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class Section:
    """Rows under one heading: a breakdown variable, or the overall row untitled."""

    heading: str
    rows: Sequence


@dataclass(frozen=True)
class ChangeRow:
    """One group's estimate in each wave and the change between them."""

    label: str
    earlier: Point
    later: Point
    change: Point


def point_of(label: str, estimate: Mapping) -> Point:
    return Point(
        label=label,
        estimate=estimate.get("estimate"),
        ci_low=estimate.get("ci_low"),
        ci_high=estimate.get("ci_high"),
    )


def estimate_sections(
    result: Mapping, overall_label: str, headings: Mapping[str, str] | None = None
) -> list[Section]:
    """An estimate result's overall row and its groups, one section per variable.

    Groups keep the order of the result and their ``label`` (the level code when
    there is none); ``headings`` names the variables, which otherwise show as coded.
    """
    headings = headings or {}
    sections = [Section("", [point_of(overall_label, result["overall"])])]
    for variable, groups in grouped(result.get("groups", [])):
        sections.append(
            Section(
                headings.get(variable, variable),
                [point_of(g.get("label") or g["level"], g) for g in groups],
            )
        )
    return sections


def change_sections(
    result: Mapping, overall_label: str, headings: Mapping[str, str] | None = None
) -> list[Section]:
    """A comparison result as sections of `ChangeRow`, like `estimate_sections`."""

    def row(label, change):
        return ChangeRow(
            label=label,
            earlier=point_of(label, change["earlier"]),
            later=point_of(label, change["later"]),
            change=point_of(label, change),
        )

    headings = headings or {}
    sections = [Section("", [row(overall_label, result["overall"])])]
    for variable, groups in grouped(result.get("groups", [])):
        sections.append(
            Section(
                headings.get(variable, variable),
                [row(g.get("label") or g["level"], g) for g in groups],
            )
        )
    return sections


def grouped(groups: Sequence[Mapping]) -> list[tuple[str, list]]:
    """Groups by variable, variables in order of first appearance."""
    by_variable: dict[str, list] = {}
    for group in groups:
        by_variable.setdefault(group["variable"], []).append(group)
    return list(by_variable.items())


def percent(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def percent_text(x: float | None) -> str:
    """55.9 for 0.559, with a true minus sign as on the axes."""
    return "–" if x is None else f"{100.0 * x:.1f}".replace("-", "\u2212")


def short(text: str, limit: int = 60) -> str:
    """A wave's name cut to fit a legend, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def layout(sections: Sequence[Section]) -> list[tuple[str, bool, object]]:
    """Rows top to bottom: (text, is a heading, the row or None)."""
    rows = []
    for section in sections:
        if section.heading:
            rows.append((section.heading, True, None))
        rows.extend((row.label, False, row) for row in section.rows)
    return rows


def whisker(ax, y: float, point: Point, colour: str, marker: str = "o") -> None:
    """A dot at the estimate and a line over its interval, in percent."""
    if point.estimate is None:
        return
    x = percent(point.estimate)
    if point.ci_low is not None and point.ci_high is not None:
        ax.hlines(
            y, percent(point.ci_low), percent(point.ci_high), color=colour, lw=1.4
        )
    ax.plot(
        [x],
        [y],
        marker=marker,
        color=colour,
        markersize=5,
        markerfacecolor=colour if marker == "o" else "white",
        linestyle="none",
    )


def row_axis(ax, rows) -> list[float]:
    """Label the y axis with the rows, headings in bold; returns each row's y."""
    ys = [-float(i) for i in range(len(rows))]
    ax.set_yticks(ys)
    ax.set_yticklabels([text for text, _heading, _row in rows])
    for tick, (_text, heading, _row) in zip(ax.get_yticklabels(), rows):
        if heading:
            tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(ys[-1] - 0.7, ys[0] + 0.7)
    ax.axvline(0, color="#555555", lw=0.8, zorder=0)
    ax.grid(axis="x", color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
    return ys


def value_column(ax, y: float, point: Point, missing_label: str) -> None:
    """The estimate in percent, printed at the right edge of the axes."""
    text = missing_label if point.estimate is None else percent_text(point.estimate)
    ax.annotate(
        text,
        xy=(1.01, y),
        xycoords=("axes fraction", "data"),
        va="center",
        ha="left",
        fontsize=8,
        color="#333333",
    )


def rendered(figure: Figure, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"A figure is drawn as png or svg, not {fmt!r}.")
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    figure.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
    return buffer.getvalue()


def estimates_chart(
    sections: Sequence[Section],
    *,
    title: str,
    axis_label: str,
    missing_label: str = "–",
    note: str = "",
    fmt: str = "png",
) -> bytes:
    """Dots at the estimates and whiskers over their 95% intervals, by group.

    Parameters
    ----------
    sections : sequence of Section
        Rows of `Point`, the overall one first, as `estimate_sections` makes them.
    title, axis_label : str
        The figure's title and the label of its percentage axis.
    missing_label : str
        Printed for a group without an estimate.
    note : str
        A line under the axis, e.g. how the intervals are made.
    fmt : {"png", "svg"}

    Returns
    -------
    bytes
        The image.
    """
    rows = layout(sections)
    with _drawing, matplotlib.rc_context(SETTINGS):
        figure = Figure(figsize=(7.0, 1.4 + ROW_HEIGHT * len(rows)), layout="tight")
        ax = figure.add_subplot()
        ys = row_axis(ax, rows)
        for y, (_text, heading, point) in zip(ys, rows):
            if not heading:
                whisker(ax, y, point, POINT_COLOUR)
                value_column(ax, y, point, missing_label)
        ax.set_xlabel(axis_label)
        ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
        if note:
            figure.text(0.01, 0.005, note, fontsize=7, color="#555555", va="bottom")
        return rendered(figure, fmt)


def change_chart(
    sections: Sequence[Section],
    *,
    title: str,
    earlier_label: str,
    later_label: str,
    estimate_axis_label: str,
    change_title: str,
    change_axis_label: str,
    missing_label: str = "–",
    note: str = "",
    fmt: str = "png",
) -> bytes:
    """Each group's estimate in both waves side by side, and the change with its CI.

    Parameters
    ----------
    sections : sequence of Section
        Rows of `ChangeRow`, the overall one first, as `change_sections` makes them.
    title : str
        The figure's title.
    earlier_label, later_label : str
        The waves' names, for the legend of the left panel.
    estimate_axis_label : str
        The label of the left panel's axis (the estimates, in percent).
    change_title, change_axis_label : str
        The right panel's title and axis label (the change, in percentage points).
    missing_label, note, fmt
        As for `estimates_chart`.

    Returns
    -------
    bytes
        The image.
    """
    rows = layout(sections)
    with _drawing, matplotlib.rc_context(SETTINGS):
        figure = Figure(figsize=(9.0, 1.8 + ROW_HEIGHT * len(rows)), layout="tight")
        both, change = figure.subplots(
            1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 2]}
        )
        ys = row_axis(both, rows)
        row_axis(change, rows)
        for y, (_text, heading, row) in zip(ys, rows):
            if heading:
                continue
            whisker(both, y + 0.14, row.earlier, EARLIER_COLOUR, marker="s")
            whisker(both, y - 0.14, row.later, LATER_COLOUR)
            whisker(change, y, row.change, LATER_COLOUR)
            value_column(change, y, row.change, missing_label)
        both.plot(
            [], [], "s", color=EARLIER_COLOUR, mfc="white", label=short(earlier_label)
        )
        both.plot([], [], "o", color=LATER_COLOUR, label=short(later_label))
        both.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            frameon=False,
            fontsize=8,
            borderaxespad=0.2,
        )
        both.set_xlabel(estimate_axis_label)
        change.set_xlabel(change_axis_label)
        change.set_title(change_title, loc="left", fontsize=9)
        figure.suptitle(title, x=0.01, ha="left", fontsize=10, fontweight="bold")
        if note:
            figure.text(0.01, 0.005, note, fontsize=7, color="#555555", va="bottom")
        return rendered(figure, fmt)


def count_histogram(
    distribution: Mapping,
    *,
    title: str,
    axis_label: str,
    share_label: str,
    arm_labels: Mapping[str, str],
    fmt: str = "png",
) -> bytes:
    """Bars of the share of each arm giving each count, the arms side by side.

    Parameters
    ----------
    distribution : mapping
        As `analysis.estimators.floor_ceiling.count_distribution` returns it (a
        result's ``count_distribution``): ``J`` and per arm ``n`` and ``rows`` of
        ``count``, ``respondents`` and ``share``.
    title, axis_label, share_label : str
        The title, the count axis's label and the share axis's label.
    arm_labels : mapping
        ``control`` and ``treatment`` as the legend should name them; each gets its
        number of respondents added.
    fmt : {"png", "svg"}

    Returns
    -------
    bytes
        The image.

    Notes
    -----
    Shares, not numbers of respondents, so arms of different sizes compare; the
    treatment arm has one more possible count (J + 1) than the control arm. Piles at
    0 or at the top of either arm are what floor and ceiling effects look like.
    """
    arms = [
        ("control", CONTROL_COLOUR, -0.2),
        ("treatment", TREATMENT_COLOUR, 0.2),
    ]
    top = int(distribution["J"]) + 1
    with _drawing, matplotlib.rc_context(SETTINGS):
        figure = Figure(figsize=(6.0, 3.6), layout="tight")
        ax = figure.add_subplot()
        for arm, colour, offset in arms:
            tabulated = distribution[arm]
            counts = [row["count"] for row in tabulated["rows"]]
            shares = [100.0 * (row["share"] or 0.0) for row in tabulated["rows"]]
            label = f"{arm_labels.get(arm, arm)} (n = {tabulated['n']})"
            bars = ax.bar(
                [c + offset for c in counts],
                shares,
                width=0.4,
                color=colour,
                label=label,
            )
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
        ax.set_xticks(range(top + 1))
        ax.set_xlabel(axis_label)
        ax.set_ylabel(share_label)
        ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
        ax.legend(frameon=False, fontsize=8)
        ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        ax.set_axisbelow(True)
        return rendered(figure, fmt)
