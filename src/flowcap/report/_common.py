"""Shared pieces of the report charts: palette, suffix dispatch, offline HTML, Agg PNG figures.

Every chart is written by suffix: ``.html`` (plotly, with plotly.js embedded so the file works
offline) or ``.png`` (matplotlib on the Agg canvas, so no display is needed). Colours come
from the Okabe–Ito palette (colour-blind safe) and, for SPC, the Making Data Count colours.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go

from flowcap.checks import CHART_SUFFIXES, check_chart

#: File suffixes the chart writers accept.
SUPPORTED_SUFFIXES = CHART_SUFFIXES

#: Okabe–Ito palette (colour-blind safe).
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
#: Making Data Count point colours: special cause with no improvement direction, common cause.
MDC_SPECIAL_CAUSE = "#490092"
MDC_COMMON_CAUSE = "#A6A6A6"
#: Cells with no value (a day the service is closed) in heatmaps.
NO_DATA_GREY = "#E6E6E6"
GRID_GREY = "#DDDDDD"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_LABELS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip


def chart_suffix(path: Path) -> str:
    """The lower-case suffix of ``path``; an :class:`~flowcap.checks.ArgumentError` if it is
    not one of :data:`~flowcap.checks.CHART_SUFFIXES`."""
    check_chart(path)
    return path.suffix.lower()


def write_html(fig: go.Figure, path: Path) -> Path:
    """Write ``fig`` as a self-contained HTML page (plotly.js embedded, works offline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(
        path,
        include_plotlyjs=True,
        full_html=True,
        config={"displaylogo": False, "responsive": True},
    )
    return path


def write_by_suffix(
    path: str | Path,
    html: Callable[[], go.Figure],
    png: Callable[[Path], Path],
) -> Path:
    """Check the suffix first (nothing is built for a bad one), then write HTML or PNG."""
    path = Path(path)
    if chart_suffix(path) == ".png":
        path.parent.mkdir(parents=True, exist_ok=True)
        return png(path)
    return write_html(html(), path)


def png_figure(width: float, height: float, dpi: int):
    """A matplotlib figure on the Agg canvas with constrained layout (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig, path: Path, dpi: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi, facecolor="white")
    return path


def png_title(fig, title: str, subtitle: str = "") -> None:
    """A bold left-aligned title, with a smaller grey subtitle on the line below it."""
    from matplotlib.transforms import ScaledTranslation

    # The blank second line makes constrained layout keep room for the subtitle.
    fig.suptitle(
        f"{title}\n" if subtitle else title, x=0.01, ha="left", fontsize=14, fontweight="bold"
    )
    if subtitle:
        below = ScaledTranslation(0, -26 / 72, fig.dpi_scale_trans)
        fig.text(
            0.01,
            1.0,
            subtitle,
            ha="left",
            va="top",
            fontsize=9.5,
            color="#555555",
            transform=fig.transFigure + below,
        )


def tidy_axes(ax, grid_axis: str | None = "y") -> None:
    """Light grid behind the data, no top or right spine."""
    if grid_axis:
        ax.grid(axis=grid_axis, color=GRID_GREY, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)


def date_axis(ax, minticks: int = 6, maxticks: int = 14) -> None:
    """Short date labels ("29", "Nov", "2026") on ``ax``'s x axis: the default locator puts
    ticks on days 1, 4, … 31 and then 1 again, and full dates a day apart overlap."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(minticks=minticks, maxticks=maxticks)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def thousands_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:,.0f}")


def plotly_title(title: str, subtitle: str) -> dict:
    return {"text": title, "subtitle": {"text": subtitle}, "x": 0.01, "xanchor": "left"}


def text_colour_on(rgba) -> str:
    """Black or white text, whichever reads better on a fill colour (matplotlib RGBA)."""
    r, g, b = rgba[:3]
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if luminance > 0.5 else "#FFFFFF"
