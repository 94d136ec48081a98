"""The simulated backlog ahead: a fan of percentiles per resource, and the threshold.

Each band is what the backlog does in that share of the simulated futures: the dark band
holds the middle half, the pale band nine in ten; the line is the median.
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

BLUE = OKABE_ITO["blue"]
SUBTITLE = "Backlog in minutes at the end of each day: median, middle 50% and 90% of futures"


def write_backlog_fan(
    fan: pd.DataFrame, path: str | Path, title: str, threshold: float | None = None
) -> Path:
    """Write the fan chart (``.html`` or ``.png``); ``fan`` as
    :meth:`flowcap.plan.outlook.SimulationReport.fan` gives it: date, resource, p5, p25, p50,
    p75, p95 (minutes) and, when present, ``p_over`` (shown on hover)."""
    if fan.empty:
        raise FlowcapError("nothing to draw: the simulation has no days")
    return write_by_suffix(
        path,
        html=lambda: fan_figure(fan, title, threshold),
        png=lambda target: _png(fan, title, target, threshold),
    )


def fan_figure(fan: pd.DataFrame, title: str, threshold: float | None) -> go.Figure:
    resources = list(dict.fromkeys(fan["resource"]))
    fig = make_subplots(
        rows=len(resources),
        cols=1,
        shared_xaxes=True,
        subplot_titles=resources,
        vertical_spacing=0.06,
    )
    for i, resource in enumerate(resources, start=1):
        rows = fan[fan["resource"] == resource]
        for low, high, opacity, name in (
            ("p5", "p95", 0.18, "90% of futures"),
            ("p25", "p75", 0.38, "middle 50%"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=rows["date"],
                    y=rows[high],
                    mode="lines",
                    line={"width": 0},
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=i,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=rows["date"],
                    y=rows[low],
                    mode="lines",
                    fill="tonexty",
                    line={"width": 0},
                    fillcolor=_rgba(BLUE, opacity),
                    name=name,
                    legendgroup=name,
                    showlegend=i == 1,
                    hoverinfo="skip",
                ),
                row=i,
                col=1,
            )
        fig.add_trace(
            go.Scatter(
                x=rows["date"],
                y=rows["p50"],
                mode="lines",
                name="median",
                line={"color": BLUE, "width": 2},
                legendgroup="median",
                showlegend=i == 1,
                customdata=rows["p_over"] if "p_over" in rows else None,
                hovertemplate="%{x|%a %d %b %Y}: median %{y:,.0f} min"
                + (", P(over threshold) %{customdata:.1%}" if "p_over" in rows else ""),
            ),
            row=i,
            col=1,
        )
        if threshold is not None:
            fig.add_hline(
                y=threshold, line={"color": "#D55E00", "dash": "dash", "width": 1}, row=i, col=1
            )
        fig.update_yaxes(title_text="minutes", rangemode="tozero", row=i, col=1)
    fig.update_layout(
        title=plotly_title(title, SUBTITLE),
        template="plotly_white",
        height=260 * len(resources) + 140,
        hovermode="x unified",
    )
    return fig


def _png(fan: pd.DataFrame, title: str, path: Path, threshold: float | None) -> Path:
    return save_png(fan_png_figure(fan, title, threshold), path, dpi=110)


def fan_png_figure(fan: pd.DataFrame, title: str, threshold: float | None = None):
    """The matplotlib figure (Agg canvas) of the fan that the ``.png`` chart saves."""

    resources = list(dict.fromkeys(fan["resource"]))
    fig = png_figure(11, 2.4 * len(resources) + 1.2, dpi=110)
    axes = fig.subplots(len(resources), 1, sharex=True, squeeze=False)[:, 0]
    for ax, resource in zip(axes, resources, strict=True):
        rows = fan[fan["resource"] == resource]
        ax.fill_between(
            rows["date"],
            rows["p5"],
            rows["p95"],
            color=BLUE,
            alpha=0.18,
            linewidth=0,
            label="90% of futures",
        )
        ax.fill_between(
            rows["date"],
            rows["p25"],
            rows["p75"],
            color=BLUE,
            alpha=0.38,
            linewidth=0,
            label="middle 50%",
        )
        ax.plot(rows["date"], rows["p50"], color=BLUE, linewidth=1.8, label="median")
        if threshold is not None:
            ax.axhline(
                threshold,
                color="#D55E00",
                linestyle="--",
                linewidth=1,
                label=f"threshold {threshold:,.0f}",
            )
        ax.set_title(resource, loc="left", fontsize=11, fontweight="bold")
        ax.set_ylabel("minutes")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(thousands_formatter())
        tidy_axes(ax)
    date_axis(axes[-1])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    png_title(fig, title, SUBTITLE)
    return fig


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
