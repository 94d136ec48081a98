"""Demand, capacity, activity and backlog on one chart per resource.

All four share one unit (minutes) and one period (the day), so they go on one axis: the gap
between the demand and capacity lines is the daily shortfall, and the backlog line is the
running total of demand minus activity. Each resource gets a panel; the panels share the
date axis.

- :func:`measures_figure` builds an interactive plotly figure (hover shows the four numbers
  and names any bank holiday);
- :func:`measures_png` draws the same chart with matplotlib (Agg, no display needed);
- :func:`write_chart` picks one by the file's suffix: ``.html`` (plotly, with plotly.js
  embedded so the file works offline) or ``.png``.

Each day's values are plotted at noon, in the middle of the day, and capacity is a step that
changes at midnight, so a day's point and its capacity sit inside that day's band. Non-working
days are shaded as grey bands, one band per run of consecutive non-working days (a weekend, or
Good Friday to Easter Monday), with bank holidays a warmer tint; days on which recorded
activity exceeded the roster's capacity are marked with a red cross. When a resource's backlog
is many times its daily flows, it moves to a right-hand axis (still minutes) so the daily
lines stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flowcap.errors import FlowcapError
from flowcap.report._common import SUPPORTED_SUFFIXES as SUPPORTED_SUFFIXES  # re-exported
from flowcap.report._common import date_axis, write_by_suffix

#: The four measures charted: column, legend name, colour (Okabe–Ito, colour-blind safe).
SERIES: list[tuple[str, str, str]] = [
    ("demand_minutes", "Demand", "#E69F00"),
    ("capacity_minutes", "Capacity", "#000000"),
    ("activity_minutes", "Activity", "#0072B2"),
    ("backlog_minutes", "Backlog (end of day)", "#009E73"),
]
OVER_CAPACITY_NAME = "Activity above capacity"
OVER_CAPACITY_COLOUR = "#D55E00"
#: Line width and drawing order per measure: activity is widest and lowest so that demand and
#: capacity stay visible on top of it on the (common) days when they are equal to it.
LINE_WIDTH = {
    "demand_minutes": 1.6,
    "capacity_minutes": 1.5,
    "activity_minutes": 2.8,
    "backlog_minutes": 2.4,
}
Z_ORDER = {"activity_minutes": 1, "capacity_minutes": 2, "demand_minutes": 3, "backlog_minutes": 4}
NON_WORKING_NAME = "non-working day"
BANK_HOLIDAY_NAME = "bank holiday"
NON_WORKING_COLOUR = "rgba(0, 0, 0, 0.08)"
BANK_HOLIDAY_COLOUR = "rgba(204, 121, 167, 0.28)"
Y_LABEL = "minutes per day"
#: When a resource's backlog peaks above this many times its largest daily flow (demand,
#: capacity or activity), the backlog moves to a right-hand axis (still minutes) so the daily
#: lines are not squashed flat against zero.
BACKLOG_OWN_AXIS_RATIO = 4.0
#: Series longer than this many days also get a 7-day trailing mean in the PNG.
ROLLING_FROM_DAYS = 120
ROLLING_DAYS = 7
#: How the mean is named in the legend: it is trailing, each day's mean is of that day and the
#: six before it.
ROLLING_LABEL = f"{ROLLING_DAYS}-day trailing mean"

REQUIRED_COLUMNS = [
    "date",
    "resource",
    *(column for column, _, _ in SERIES),
    "is_working_day",
    "bank_holiday",
]


@dataclass(frozen=True)
class Band:
    """A run of consecutive days, ``start`` inclusive, ``end`` exclusive (midnight after)."""

    start: pd.Timestamp
    end: pd.Timestamp


def day_runs(dates: pd.Series | np.ndarray, flag: pd.Series | np.ndarray) -> list[Band]:
    """Merge the flagged days into runs of consecutive calendar days.

    ``dates`` must be sorted and daily; a gap in the dates ends a run.
    """
    dates = pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[ns]"))
    flag = np.asarray(flag, dtype=bool)
    if not flag.any():
        return []
    day_number = (dates.normalize() - pd.Timestamp("1970-01-01")).days.to_numpy()[flag]
    chosen = dates[flag].normalize()
    breaks = np.flatnonzero(np.diff(day_number) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(day_number) - 1]])
    one_day = pd.Timedelta(days=1)
    return [Band(chosen[s], chosen[e] + one_day) for s, e in zip(starts, ends, strict=True)]


def day_centres(dates: pd.Series) -> np.ndarray:
    """Noon of each day: where a day's values are plotted, in the middle of its band."""
    return (pd.to_datetime(dates).dt.normalize() + pd.Timedelta(hours=12)).to_numpy(
        dtype="datetime64[ns]"
    )


def _check(table: pd.DataFrame) -> list[str]:
    """The resources in table order; raise when the table cannot be charted."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise FlowcapError(f"cannot chart the measures: missing column(s) {', '.join(missing)}")
    if table.empty:
        raise FlowcapError("cannot chart the measures: the table has no rows")
    return list(pd.unique(table["resource"]))


def _rows(table: pd.DataFrame, resource: str) -> pd.DataFrame:
    rows = table[table["resource"] == resource].sort_values("date", kind="stable")
    return rows.reset_index(drop=True)


def _exceeds(rows: pd.DataFrame) -> np.ndarray:
    if "activity_exceeds_capacity" not in rows.columns:
        return np.zeros(len(rows), dtype=bool)
    return rows["activity_exceeds_capacity"].fillna(False).to_numpy(dtype=bool)


def backlog_on_own_axis(rows: pd.DataFrame) -> bool:
    """Whether the backlog dwarfs the daily flows (see :data:`BACKLOG_OWN_AXIS_RATIO`)."""
    flows = rows[["demand_minutes", "capacity_minutes", "activity_minutes"]].to_numpy(float)
    largest_flow = np.nanmax(flows) if flows.size else 0.0
    largest_backlog = np.nanmax(rows["backlog_minutes"].to_numpy(float)) if len(rows) else 0.0
    if not largest_flow > 0:
        return False
    return bool(largest_backlog > BACKLOG_OWN_AXIS_RATIO * largest_flow)


def _day_notes(rows: pd.DataFrame) -> np.ndarray:
    """Hover note per day: the bank holiday's name, or that the day is not worked."""
    holiday = rows["bank_holiday"].fillna("").astype(str).to_numpy()
    working = rows["is_working_day"].to_numpy(dtype=bool)
    notes = np.where(working, "", "non-working day").astype(object)
    named = holiday != ""
    notes[named] = np.char.add("bank holiday: ", holiday[named].astype(str))
    return notes


# --------------------------------------------------------------------------- plotly


def measures_figure(table: pd.DataFrame, title: str) -> go.Figure:
    """An interactive figure: one row per resource, four lines each, shared date axis.

    Traces come in the order of :data:`SERIES` for each resource in turn (the legend shows
    each measure once and toggles it in every row), followed by a red-cross trace for days
    whose recorded activity exceeded capacity, where there are any. Non-working days are
    shaded with one rectangle per run of consecutive days (named ``non-working day``), bank
    holidays with a further tinted rectangle (named ``bank holiday``).
    """
    resources = _check(table)
    n = len(resources)
    panels = [_rows(table, resource) for resource in resources]
    own_axis = [backlog_on_own_axis(rows) for rows in panels]
    fig = make_subplots(
        rows=n,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.08, 0.3 / n),
        subplot_titles=[str(r) for r in resources],
        specs=[[{"secondary_y": own}] for own in own_axis],
    )
    over_in_legend = False
    for i, (rows, own) in enumerate(zip(panels, own_axis, strict=True), start=1):
        x = day_centres(rows["date"])
        notes = _day_notes(rows)
        for column, name, colour in SERIES:
            is_capacity = column == "capacity_minutes"
            is_backlog = column == "backlog_minutes"
            trace = go.Scatter(
                x=x,
                y=rows[column].to_numpy(dtype=float),
                name=name,
                mode="lines",
                legendgroup=name,
                showlegend=i == 1,
                zorder=Z_ORDER[column],
                line={
                    "color": colour,
                    "width": LINE_WIDTH[column],
                    # Points sit at noon; "hvh" puts each step's risers at midnight.
                    "shape": "hvh" if is_capacity else "linear",
                },
                hovertemplate=f"{name}: %{{y:,.0f}}<extra></extra>",
            )
            if column == "demand_minutes":
                # The day's note leads the hover box (x unified shows the date above it).
                trace.customdata = notes
                trace.hovertemplate = f"%{{customdata}}<br>{name}: %{{y:,.0f}}<extra></extra>"
            if is_backlog and own:
                fig.add_trace(trace, row=i, col=1, secondary_y=True)
            else:
                fig.add_trace(trace, row=i, col=1)
        over = _exceeds(rows)
        if over.any():
            fig.add_trace(
                go.Scatter(
                    x=x[over],
                    y=rows["activity_minutes"].to_numpy(dtype=float)[over],
                    name=OVER_CAPACITY_NAME,
                    mode="markers",
                    legendgroup=OVER_CAPACITY_NAME,
                    showlegend=not over_in_legend,
                    marker={"color": OVER_CAPACITY_COLOUR, "symbol": "x", "size": 8},
                    hovertemplate="activity above capacity<extra></extra>",
                ),
                row=i,
                col=1,
            )
            over_in_legend = True
        _add_bands(fig, rows, i)
        fig.update_yaxes(
            title_text=Y_LABEL,
            rangemode="tozero",
            tickformat=",.0f",
            row=i,
            col=1,
            secondary_y=False,
        )
        if own:
            backlog_colour = SERIES[-1][2]
            fig.update_yaxes(
                title_text="backlog, minutes",
                rangemode="tozero",
                tickformat=",.0f",
                showgrid=False,
                color=backlog_colour,
                row=i,
                col=1,
                secondary_y=True,
            )

    fig.update_xaxes(
        hoverformat="%a %d %b %Y",
        showspikes=True,
        spikemode="across",
        spikethickness=1,
        spikecolor="#888888",
    )
    buttons = [
        {"count": 3, "label": "3m", "step": "month", "stepmode": "backward"},
        {"count": 6, "label": "6m", "step": "month", "stepmode": "backward"},
        {"count": 1, "label": "1y", "step": "year", "stepmode": "backward"},
        {"step": "all", "label": "all"},
    ]
    # Laid out in pixels, from the top: the title and its subtitle, then the range buttons on
    # a row of their own, then the first panel's name; the legend under the plot. Placed in
    # fractions of the plot's height, as before, they overlapped the subtitle (and the legend
    # did on a narrow screen).
    height = max(420, 300 * n + 140)
    top, bottom = 140, 90
    plot_height = height - top - bottom
    fig.update_xaxes(
        row=1,
        col=1,
        rangeselector={
            "buttons": buttons,
            "x": 0,
            "xanchor": "left",
            "y": 1.0 + 40 / plot_height,
            "yanchor": "bottom",
        },
    )
    fig.update_layout(
        title={
            "text": title,
            "subtitle": {
                "text": (
                    "Minutes per day. Grey bands: non-working days; tinted: bank holidays. "
                    "Backlog is the work waiting at the end of the day"
                    + (
                        " (right-hand axis where it dwarfs the daily flows)."
                        if any(own_axis)
                        else "."
                    )
                )
            },
            "x": 0.01,
            "xanchor": "left",
            "yref": "container",
            "y": 1 - 12 / height,
            "yanchor": "top",
        },
        template="plotly_white",
        hovermode="x unified",
        height=height,
        legend={
            "orientation": "h",
            "yanchor": "top",
            "y": -40 / plot_height,
            "xanchor": "left",
            "x": 0,
        },
        margin={"t": top, "l": 70, "r": 30, "b": bottom},
    )
    return fig


def _add_bands(fig: go.Figure, rows: pd.DataFrame, row: int) -> None:
    """Shade the runs of non-working days and the bank holidays in subplot ``row``."""
    subplot = fig.get_subplot(row, 1)
    xref = subplot.xaxis.plotly_name.replace("axis", "")
    yref = subplot.yaxis.plotly_name.replace("axis", "")
    common = {
        "type": "rect",
        "xref": xref,
        "yref": f"{yref} domain",
        "y0": 0,
        "y1": 1,
        "layer": "below",
        "line": {"width": 0},
    }
    shapes = []
    for band in day_runs(rows["date"], ~rows["is_working_day"].to_numpy(dtype=bool)):
        shapes.append(
            go.layout.Shape(
                x0=band.start,
                x1=band.end,
                fillcolor=NON_WORKING_COLOUR,
                name=NON_WORKING_NAME,
                **common,
            )
        )
    holiday = rows["bank_holiday"].fillna("").astype(str).to_numpy() != ""
    for band in day_runs(rows["date"], holiday):
        shapes.append(
            go.layout.Shape(
                x0=band.start,
                x1=band.end,
                fillcolor=BANK_HOLIDAY_COLOUR,
                name=BANK_HOLIDAY_NAME,
                **common,
            )
        )
    # One update per subplot: adding shapes one by one re-validates the layout each time.
    fig.layout.shapes = tuple(fig.layout.shapes) + tuple(shapes)


# --------------------------------------------------------------------------- matplotlib


def measures_png(table: pd.DataFrame, title: str, path: str | Path, dpi: int = 110) -> Path:
    """Draw the chart with matplotlib (:func:`measures_png_figure`) and save it as a PNG;
    return the path."""
    path = Path(path)
    fig = measures_png_figure(table, title, dpi)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi, facecolor="white")
    return path


def measures_png_figure(table: pd.DataFrame, title: str, dpi: int = 110):
    """The matplotlib figure (Agg canvas) that :func:`measures_png` saves.

    One panel per resource with a shared date axis. For a series longer than
    :data:`ROLLING_FROM_DAYS` days the daily demand, capacity and activity are drawn thin and
    a 7-day trailing mean of each (:func:`trailing_mean`) is drawn over them, so trends stay
    readable while the daily values remain visible. The backlog is always drawn day by day.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    resources = _check(table)
    n = len(resources)
    smooth = table["date"].nunique() > ROLLING_FROM_DAYS
    fig = Figure(figsize=(13, 1.3 + 2.9 * n), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    seen = {"over": False, "holiday": False, "non_working": False, "own_axis": False}
    for ax, resource in zip(axes, resources, strict=True):
        _draw_panel(ax, _rows(table, resource), str(resource), smooth, seen)
    _date_axis(axes[-1], table["date"])
    fig.suptitle(title, x=0.01, ha="left", fontsize=14, fontweight="bold")
    fig.legend(
        handles=_legend_handles(smooth, seen),
        loc="outside lower center",
        ncol=5,
        frameon=False,
        fontsize=9,
    )
    return fig


_MPL_NON_WORKING = (0.0, 0.0, 0.0, 0.07)
_MPL_NON_WORKING_LONG = (0.0, 0.0, 0.0, 0.05)
_MPL_BANK_HOLIDAY = (0.8, 0.475, 0.655, 0.32)
_MPL_CAPACITY_MEAN_DASH = (0, (4, 2))


def trailing_mean(dates: pd.Series, values: pd.Series) -> np.ndarray:
    """Each day's mean over the :data:`ROLLING_DAYS` calendar days ending on it (minutes per
    day); NaN until a whole week is in the window.

    Trailing, and only over whole windows: a centred mean with partial windows at the ends
    averaged only the last few days, which for a series ending on a Friday are all working
    days, so capacity seemed to jump in the latest week (343 to 480 minutes a day). ``dates``
    must be sorted; a missing day leaves its windows short, so they get no mean either.
    """
    series = pd.Series(
        np.asarray(values, dtype=float), index=pd.DatetimeIndex(pd.to_datetime(dates))
    )
    window = series.rolling(f"{ROLLING_DAYS}D", min_periods=ROLLING_DAYS).mean()
    return window.to_numpy()


def _draw_panel(ax, rows: pd.DataFrame, resource: str, smooth: bool, seen: dict) -> None:
    from matplotlib.collections import PolyCollection
    from matplotlib.dates import date2num
    from matplotlib.ticker import FuncFormatter

    thousands = FuncFormatter(lambda v, _: f"{v:,.0f}")
    colour = {column: c for column, _, c in SERIES}
    x = day_centres(rows["date"])
    non_working = ~rows["is_working_day"].to_numpy(dtype=bool)
    holiday = rows["bank_holiday"].fillna("").astype(str).to_numpy() != ""
    seen["non_working"] |= bool(non_working.any())
    seen["holiday"] |= bool(holiday.any())
    # One collection per kind of band (not one patch per run): fast for years of days.
    weekend_face = _MPL_NON_WORKING_LONG if smooth else _MPL_NON_WORKING
    for flag, face in ((non_working, weekend_face), (holiday, _MPL_BANK_HOLIDAY)):
        spans = [(date2num(b.start), date2num(b.end)) for b in day_runs(rows["date"], flag)]
        if spans:
            ax.add_collection(
                PolyCollection(
                    [[(s, 0), (s, 1), (e, 1), (e, 0)] for s, e in spans],
                    facecolors=[face],
                    edgecolors="none",
                    zorder=0,
                    transform=ax.get_xaxis_transform(),
                ),
                autolim=False,
            )

    if not smooth:
        ax.step(
            x,
            rows["capacity_minutes"].to_numpy(dtype=float),
            where="mid",
            color=colour["capacity_minutes"],
            linewidth=LINE_WIDTH["capacity_minutes"],
            zorder=2 + Z_ORDER["capacity_minutes"],
        )
        for column in ("demand_minutes", "activity_minutes"):
            ax.plot(
                x,
                rows[column].to_numpy(dtype=float),
                color=colour[column],
                linewidth=LINE_WIDTH[column],
                marker="o",
                markersize=3,
                zorder=2 + Z_ORDER[column],
            )
    else:
        # Years of daily lines that drop to zero every weekend read as a barcode: the daily
        # values are drawn as faint dots and the 7-day trailing means as lines.
        for column in ("capacity_minutes", "demand_minutes", "activity_minutes"):
            ax.plot(
                x,
                rows[column].to_numpy(dtype=float),
                linestyle="none",
                marker="o",
                markersize=1.6,
                markeredgewidth=0,
                color=colour[column],
                alpha=0.45,
                zorder=2,
            )
        for column in ("demand_minutes", "capacity_minutes", "activity_minutes"):
            mean = trailing_mean(rows["date"], rows[column])
            dash = _MPL_CAPACITY_MEAN_DASH if column == "capacity_minutes" else "-"
            ax.plot(
                x,
                mean,
                color=colour[column],
                linewidth=LINE_WIDTH[column],
                linestyle=dash,
                zorder=2 + Z_ORDER[column],
                gid=f"{column} mean",
            )
    over = _exceeds(rows)
    if over.any():
        seen["over"] = True
        ax.plot(
            x[over],
            rows["activity_minutes"].to_numpy(dtype=float)[over],
            "x",
            color=OVER_CAPACITY_COLOUR,
            markersize=7,
            markeredgewidth=2,
            zorder=6,
        )

    backlog_ax = ax
    if backlog_on_own_axis(rows):
        seen["own_axis"] = True
        backlog_ax = ax.twinx()
        backlog_ax.set_ylabel("backlog, minutes", color=colour["backlog_minutes"])
        backlog_ax.tick_params(axis="y", colors=colour["backlog_minutes"])
        backlog_ax.spines["right"].set_color(colour["backlog_minutes"])
        backlog_ax.spines["top"].set_visible(False)
        backlog_ax.yaxis.set_major_formatter(thousands)
    backlog_ax.plot(
        x,
        rows["backlog_minutes"].to_numpy(dtype=float),
        color=colour["backlog_minutes"],
        linewidth=LINE_WIDTH["backlog_minutes"],
        zorder=2 + Z_ORDER["backlog_minutes"],
    )
    backlog_ax.set_ylim(bottom=0)

    ax.set_title(resource, loc="left", fontsize=11, fontweight="bold")
    ax.set_ylabel(Y_LABEL)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(thousands)
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.spines["top"].set_visible(False)
    if backlog_ax is ax:
        ax.spines["right"].set_visible(False)


def _date_axis(ax, dates: pd.Series) -> None:
    from matplotlib.dates import date2num

    date_axis(ax)
    ax.set_xlim(date2num(dates.min()), date2num(dates.max() + pd.Timedelta(days=1)))


def _legend_handles(smooth: bool, seen: dict) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    for column, name, colour in SERIES:
        if column == "backlog_minutes":
            label = "Backlog, end of day" + (" (right axis)" if seen["own_axis"] else "")
            handles.append(Line2D([], [], color=colour, linewidth=LINE_WIDTH[column], label=label))
            continue
        style = {"linewidth": LINE_WIDTH[column]}
        if column == "capacity_minutes" and smooth:
            style["linestyle"] = _MPL_CAPACITY_MEAN_DASH
        label = f"{name}, {ROLLING_LABEL}" if smooth else name
        handles.append(Line2D([], [], color=colour, label=label, **style))
    if smooth:
        handles.append(
            Line2D(
                [],
                [],
                color="#888888",
                marker="o",
                markersize=3,
                linestyle="none",
                markeredgewidth=0,
                label="daily values (dots)",
            )
        )
    if seen["over"]:
        handles.append(
            Line2D(
                [],
                [],
                color=OVER_CAPACITY_COLOUR,
                marker="x",
                linestyle="none",
                markeredgewidth=2,
                label=OVER_CAPACITY_NAME,
            )
        )
    if seen["non_working"]:
        handles.append(Patch(facecolor=_MPL_NON_WORKING, label=NON_WORKING_NAME))
    if seen["holiday"]:
        handles.append(Patch(facecolor=_MPL_BANK_HOLIDAY, label=BANK_HOLIDAY_NAME))
    return handles


# --------------------------------------------------------------------------- writing


def write_chart(table: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Write the chart to ``path``: ``.html`` (interactive, works offline) or ``.png``.

    Parent folders are created. Raises :class:`FlowcapError` for any other suffix.
    """
    return write_by_suffix(
        path,
        html=lambda: measures_figure(table, title),
        png=lambda target: measures_png(table, title, target),
    )
