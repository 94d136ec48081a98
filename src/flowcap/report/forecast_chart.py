"""The forecast fan chart: recent daily demand, then the forecast with 80% and 95% intervals.

One panel per resource, sharing the date axis. The history (the last ``history_days`` days
before each resource's last recorded day) is a dark grey line; the forecast is a blue line in
a fan of two bands, the 95% interval pale and the 80% interval darker; a dotted line marks
where the forecast starts. The HTML hover gives each day's forecast and both intervals. Days
the service is closed (a weekday with no recorded demand, e.g. weekends for an office-hours
service) are left out, so the lines join working days rather than dropping to zero each week;
the subtitle says so only when some day was left out.

:func:`write_forecast_chart` writes ``.html`` (plotly, offline) or ``.png`` (matplotlib).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flowcap.errors import FlowcapError
from flowcap.report._common import (
    OKABE_ITO,
    date_axis,
    plotly_title,
    png_figure,
    png_title,
    save_png,
    thousands_formatter,
    tidy_axes,
    write_by_suffix,
)

HISTORY_COLUMNS = ["date", "resource", "demand_minutes"]
FORECAST_COLUMNS = ["date", "resource", "demand_minutes", "lo80", "hi80", "lo95", "hi95"]
HISTORY_COLOUR = "#333333"
FORECAST_COLOUR = OKABE_ITO["blue"]
#: (level, lower column, upper column, band opacity): widest first, so the 80% band is on top.
BANDS = [(95, "lo95", "hi95", 0.16), (80, "lo80", "hi80", 0.32)]
Y_LABEL = "minutes per day"
#: A weekday with no demand on this share of its recorded days is taken as closed.
CLOSED_SHARE = 0.9
#: On a closed weekday, a forecast below this fraction of the open days' median is left out.
CLOSED_FRACTION = 0.05
SUBTITLE = "Demand, minutes per day: recorded, then forecast with 80% and 95% prediction intervals."
#: Added to :data:`SUBTITLE` when some closed day was left out of the chart.
CLOSED_NOTE = " Days the service is closed are left out."


def subtitle(left_out: bool) -> str:
    """The chart's subtitle; it mentions closed days only when ``left_out`` (some were)."""
    return SUBTITLE + (CLOSED_NOTE if left_out else "")


def _check(history: pd.DataFrame, forecast: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    for name, table, columns in (
        ("history", history, HISTORY_COLUMNS),
        ("forecast", forecast, FORECAST_COLUMNS),
    ):
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise FlowcapError(
                f"cannot chart the forecast: the {name} lacks column(s) {', '.join(missing)}"
            )
    if forecast.empty:
        raise FlowcapError("cannot chart the forecast: the forecast has no rows")
    history = history[HISTORY_COLUMNS].assign(date=lambda t: pd.to_datetime(t["date"]))
    forecast = forecast[FORECAST_COLUMNS].assign(date=lambda t: pd.to_datetime(t["date"]))
    return history, forecast


def closed_weekdays(past: pd.DataFrame) -> set[int]:
    """Weekdays (0 = Monday) with no demand on at least :data:`CLOSED_SHARE` of recorded days."""
    if past.empty:
        return set()
    zero = (past["demand_minutes"].to_numpy(dtype=float) <= 0).astype(float)
    share = pd.Series(zero).groupby(past["date"].dt.dayofweek.to_numpy()).agg(["mean", "size"])
    return {int(d) for d, r in share.iterrows() if r["size"] >= 4 and r["mean"] >= CLOSED_SHARE}


def _drop_closed_days(past: pd.DataFrame, ahead: pd.DataFrame):
    """Leave out the days the service is closed, so the lines do not drop to zero each weekend.

    A recorded day is left out when it had no demand and falls on a closed weekday; a forecast
    day when its 95% interval is all zero, or it falls on a closed weekday and its forecast is
    a small fraction of the open days' median.
    """
    closed = closed_weekdays(past)
    quiet = past["date"].dt.dayofweek.isin(closed) & (past["demand_minutes"] <= 0)
    open_level = ahead["demand_minutes"][~ahead["date"].dt.dayofweek.isin(closed)].median()
    small = ahead["demand_minutes"] <= CLOSED_FRACTION * (open_level if open_level > 0 else 0)
    shut = (ahead["hi95"] <= 0) | (ahead["date"].dt.dayofweek.isin(closed) & small)
    return past[~quiet].reset_index(drop=True), ahead[~shut].reset_index(drop=True)


def _panels(history, forecast, history_days: int):
    """(resource, recent history rows, forecast rows) per resource, in forecast order, and
    whether any closed day was left out of them."""
    panels, left_out = [], False
    for resource in pd.unique(forecast["resource"]):
        past = history[history["resource"] == resource].sort_values("date", kind="stable")
        if len(past):
            cutoff = past["date"].max() - pd.Timedelta(days=max(history_days, 0) - 1)
            past = past[past["date"] >= cutoff] if history_days > 0 else past.iloc[0:0]
        ahead = forecast[forecast["resource"] == resource].sort_values("date", kind="stable")
        open_past, shown = _drop_closed_days(past, ahead)
        if shown.empty:  # closed throughout the horizon: draw it as it is
            shown = ahead.reset_index(drop=True)
        left_out |= len(open_past) < len(past) or len(shown) < len(ahead)
        panels.append((str(resource), open_past, shown))
    return panels, left_out


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


# --------------------------------------------------------------------------- plotly


def forecast_figure(
    history: pd.DataFrame, forecast: pd.DataFrame, title: str, history_days: int = 180
) -> go.Figure:
    """An interactive fan chart: one row per resource, shared date axis.

    Per panel the traces are ``History``, then for each band of :data:`BANDS` its lower
    bound (``meta`` ``"lo95"``/``"lo80"``) and its upper bound (``meta`` ``"hi95"``/
    ``"hi80"``, filled down to the lower), then ``Forecast``.
    """
    history, forecast = _check(history, forecast)
    panels, left_out = _panels(history, forecast, history_days)
    n = len(panels)
    fig = make_subplots(
        rows=n,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.08, 0.3 / n),
        subplot_titles=[resource for resource, _, _ in panels],
    )
    for i, (_, past, ahead) in enumerate(panels, start=1):
        first = i == 1
        fig.add_trace(
            go.Scatter(
                x=past["date"], y=past["demand_minutes"].to_numpy(dtype=float), name="History",
                mode="lines", line={"color": HISTORY_COLOUR, "width": 1.2}, legendgroup="History",
                showlegend=first, hovertemplate="recorded %{y:,.0f}<extra></extra>",
            ),
            row=i,
            col=1,
        )  # fmt: skip
        for level, low, high, alpha in BANDS:
            name = f"{level}% interval"
            fig.add_trace(
                go.Scatter(
                    x=ahead["date"], y=ahead[low].to_numpy(dtype=float), name=name, meta=low,
                    mode="lines", line={"width": 0, "color": FORECAST_COLOUR}, legendgroup=name,
                    showlegend=False, hoverinfo="skip",
                ),
                row=i,
                col=1,
            )  # fmt: skip
            fig.add_trace(
                go.Scatter(
                    x=ahead["date"], y=ahead[high].to_numpy(dtype=float), name=name, meta=high,
                    mode="lines", line={"width": 0, "color": FORECAST_COLOUR}, fill="tonexty",
                    fillcolor=_rgba(FORECAST_COLOUR, alpha), legendgroup=name, showlegend=first,
                    customdata=ahead[low].to_numpy(dtype=float),
                    hovertemplate=f"{level}%: %{{customdata:,.0f}} to %{{y:,.0f}}<extra></extra>",
                ),
                row=i,
                col=1,
            )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=ahead["date"], y=ahead["demand_minutes"].to_numpy(dtype=float), name="Forecast",
                mode="lines", line={"color": FORECAST_COLOUR, "width": 2}, legendgroup="Forecast",
                showlegend=first, hovertemplate="forecast %{y:,.0f}<extra></extra>",
            ),
            row=i,
            col=1,
        )  # fmt: skip
        fig.add_vline(
            x=ahead["date"].iat[0], line={"color": "#888888", "width": 1, "dash": "dot"},
            row=i, col=1,
        )  # fmt: skip
        fig.update_yaxes(title_text=Y_LABEL, rangemode="tozero", tickformat=",.0f", row=i, col=1)
    fig.update_xaxes(hoverformat="%a %d %b %Y", showspikes=True, spikethickness=1)
    fig.update_layout(
        title=plotly_title(title, subtitle(left_out)),
        template="plotly_white",
        hovermode="x unified",
        height=max(420, 300 * n + 140),
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0 + 0.1 / n, "x": 1.0,
                "xanchor": "right"},
        margin={"t": 130, "l": 70, "r": 30, "b": 50},
    )  # fmt: skip
    return fig


# --------------------------------------------------------------------------- matplotlib


def forecast_png(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    title: str,
    path: str | Path,
    history_days: int = 180,
    dpi: int = 110,
) -> Path:
    """Draw the fan chart with matplotlib and save it as a PNG; return the path."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    history, forecast = _check(history, forecast)
    panels, left_out = _panels(history, forecast, history_days)
    n = len(panels)
    fig = png_figure(13, 1.3 + 2.7 * n, dpi)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    for ax, (resource, past, ahead) in zip(axes, panels, strict=True):
        x = ahead["date"].to_numpy()
        for _, low, high, alpha in BANDS:
            ax.fill_between(
                x, ahead[low].to_numpy(dtype=float), ahead[high].to_numpy(dtype=float),
                color=FORECAST_COLOUR, alpha=alpha, linewidth=0, zorder=1,
            )  # fmt: skip
        ax.plot(past["date"], past["demand_minutes"], color=HISTORY_COLOUR, lw=0.9, zorder=3)
        ax.plot(x, ahead["demand_minutes"].to_numpy(dtype=float), color=FORECAST_COLOUR, lw=1.6,
                zorder=4)  # fmt: skip
        ax.axvline(x[0], color="#888888", linewidth=1, linestyle=":", zorder=2)
        ax.annotate(
            "forecast →", (x[0], 1), xycoords=("data", "axes fraction"), xytext=(4, -2),
            textcoords="offset points", va="top", fontsize=8.5, color="#555555",
        )  # fmt: skip
        ax.set_title(resource, loc="left", fontsize=11, fontweight="bold")
        ax.set_ylabel(Y_LABEL)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(thousands_formatter())
        tidy_axes(ax)
    date_axis(axes[-1])
    handles = [
        Line2D([], [], color=HISTORY_COLOUR, lw=0.9, label=f"recorded (last {history_days} days)"),
        Line2D([], [], color=FORECAST_COLOUR, lw=1.6, label="forecast"),
        *(
            Patch(facecolor=FORECAST_COLOUR, alpha=alpha, label=f"{level}% interval")
            for level, _, _, alpha in reversed(BANDS)
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False, fontsize=9)
    png_title(fig, title, subtitle(left_out))
    return save_png(fig, Path(path), dpi)


# --------------------------------------------------------------------------- writing


def write_forecast_chart(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    path: str | Path,
    title: str,
    history_days: int = 180,
) -> Path:
    """Write the fan chart to ``.html`` (interactive, offline) or ``.png``.

    ``history`` has ``date, resource, demand_minutes``; ``forecast`` also ``lo80, hi80, lo95,
    hi95``. Only the last ``history_days`` days of each resource's history are drawn. Raises
    :class:`FlowcapError` for another suffix or an empty forecast.
    """
    return write_by_suffix(
        path,
        html=lambda: forecast_figure(history, forecast, title, history_days),
        png=lambda target: forecast_png(history, forecast, title, target, history_days),
    )
