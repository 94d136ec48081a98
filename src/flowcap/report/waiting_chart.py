"""The waiting list over time: cases waiting at the end of each day, stacked by age band.

One panel per resource; the bands run from the newest (0–2 working days, pale) to the oldest
(over 20, dark), so a list that ages shows as the dark bands thickening even when the total
holds steady, which the backlog in minutes does not show.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flowcap.errors import FlowcapError
from flowcap.measures.waiting import BAND_COLUMNS, BAND_LABELS
from flowcap.report._common import (
    date_axis,
    plotly_title,
    png_figure,
    png_title,
    save_png,
    thousands_formatter,
    tidy_axes,
    write_by_suffix,
)

#: Pale to dark (ColorBrewer "YlOrRd", its palest class left out to show on white): older
#: waits draw the eye.
BAND_COLOURS = ("#FED976", "#FEB24C", "#FD8D3C", "#F03B20", "#BD0026")
SUBTITLE = (
    "Cases waiting at the end of each day, by working days since their work fell due "
    "(that day not counted)"
)


def write_waiting_chart(profile: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Write the chart (``.html`` or ``.png``); ``profile`` as
    :meth:`flowcap.measures.DailyMeasures.waiting_profile` gives it: ``date``, ``resource``
    and the cases waiting in each age band (:data:`BAND_COLUMNS`)."""
    if profile.empty:
        raise FlowcapError("nothing to draw: the waiting list has no days")
    return write_by_suffix(
        path,
        html=lambda: waiting_figure(profile, title),
        png=lambda target: save_png(_png_figure(profile, title), target, dpi=110),
    )


def waiting_figure(profile: pd.DataFrame, title: str) -> go.Figure:
    """The interactive chart: stacked areas per resource, the bands in legend order."""
    resources = list(dict.fromkeys(profile["resource"]))
    fig = make_subplots(rows=len(resources), cols=1, shared_xaxes=True, subplot_titles=resources)
    for i, resource in enumerate(resources, start=1):
        rows = profile[profile["resource"] == resource]
        for column, label, colour in zip(BAND_COLUMNS, BAND_LABELS, BAND_COLOURS, strict=True):
            fig.add_trace(
                go.Scatter(
                    x=rows["date"],
                    y=rows[column],
                    mode="lines",
                    stackgroup=f"r{i}",
                    # No edge lines: the top band's edge would trace the total in its colour
                    # and read as cases that old.
                    line={"width": 0},
                    fillcolor=colour,
                    name=f"{label} working days",
                    legendgroup=label,
                    showlegend=i == 1,
                    hovertemplate=f"{label}: %{{y:,}} cases<extra></extra>",
                ),
                row=i,
                col=1,
            )
        fig.update_yaxes(title_text="cases", rangemode="tozero", row=i, col=1)
    fig.update_layout(
        title=plotly_title(title, SUBTITLE),
        template="plotly_white",
        height=240 * len(resources) + 140,
        hovermode="x unified",
    )
    return fig


def _png_figure(profile: pd.DataFrame, title: str):

    resources = list(dict.fromkeys(profile["resource"]))
    fig = png_figure(11, 2.3 * len(resources) + 1.2, dpi=110)
    axes = fig.subplots(len(resources), 1, sharex=True, squeeze=False)[:, 0]
    for ax, resource in zip(axes, resources, strict=True):
        rows = profile[profile["resource"] == resource]
        ax.stackplot(
            rows["date"],
            *(rows[column] for column in BAND_COLUMNS),
            colors=BAND_COLOURS,
            labels=[f"{label} working days" for label in BAND_LABELS],
            linewidth=0,
        )
        ax.set_title(resource, loc="left", fontsize=11, fontweight="bold")
        ax.set_ylabel("cases")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(thousands_formatter())
        tidy_axes(ax)
    date_axis(axes[-1])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    png_title(fig, title, SUBTITLE)
    return fig
