"""Queue lengths over time in the pathway simulation: one panel per step, hour by hour.

The line is the mean over replications of the cases waiting at the start of each hour; the
band reaches the 90th percentile across replications, so a busy Monday morning shows as a
tall band even when the average is modest.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flowcap.errors import FlowcapError
from flowcap.report._common import (
    OKABE_ITO,
    plotly_title,
    png_figure,
    png_title,
    save_png,
    tidy_axes,
    write_by_suffix,
)

BLUE = OKABE_ITO["blue"]
SUBTITLE = "Cases waiting at each step at the start of each hour: mean and 90th percentile of runs"


def queue_table(
    steps: tuple[str, ...], hourly: np.ndarray, start: date, warmup_hours: float
) -> pd.DataFrame:
    """Long table ``time, step, mean, p90`` from queue lengths of shape (runs, steps, hours)
    sampled at the start of each observed hour after ``warmup_hours`` from ``start``."""
    hourly = np.asarray(hourly, dtype=float)
    first = datetime.combine(start, datetime.min.time()) + timedelta(hours=warmup_hours)
    times = pd.date_range(first, periods=hourly.shape[-1], freq="h")
    frames = []
    for s, step in enumerate(steps):
        frames.append(
            pd.DataFrame(
                {
                    "time": times,
                    "step": step,
                    "mean": hourly[:, s, :].mean(axis=0),
                    "p90": np.quantile(hourly[:, s, :], 0.9, axis=0),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def write_queue_chart(table: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Write the chart (``.html`` or ``.png``); ``table`` as :func:`queue_table` gives."""
    if table.empty:
        raise FlowcapError("nothing to draw: the simulation kept no hourly queue lengths")
    return write_by_suffix(
        path, html=lambda: _figure(table, title), png=lambda target: _png(table, title, target)
    )


def _figure(table: pd.DataFrame, title: str) -> go.Figure:
    steps = list(dict.fromkeys(table["step"]))
    fig = make_subplots(
        rows=len(steps), cols=1, shared_xaxes=True, subplot_titles=steps, vertical_spacing=0.06
    )
    for i, step in enumerate(steps, start=1):
        rows = table[table["step"] == step]
        fig.add_trace(
            go.Scatter(
                x=rows["time"],
                y=rows["p90"],
                mode="lines",
                line={"width": 0},
                fill="tozeroy",
                fillcolor="rgba(0,114,178,0.18)",
                name="90th percentile of runs",
                legendgroup="p90",
                showlegend=i == 1,
                hovertemplate="%{x|%a %d %b %H:%M}: p90 %{y:,.0f}",
            ),
            row=i,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=rows["time"],
                y=rows["mean"],
                mode="lines",
                line={"color": BLUE, "width": 1.5},
                name="mean",
                legendgroup="mean",
                showlegend=i == 1,
                hovertemplate="%{x|%a %d %b %H:%M}: mean %{y:,.1f}",
            ),
            row=i,
            col=1,
        )
        fig.update_yaxes(title_text="cases waiting", rangemode="tozero", row=i, col=1)
    fig.update_layout(
        title=plotly_title(title, SUBTITLE),
        template="plotly_white",
        height=220 * len(steps) + 140,
        hovermode="x unified",
    )
    return fig


def _png(table: pd.DataFrame, title: str, path: Path) -> Path:
    steps = list(dict.fromkeys(table["step"]))
    dpi = 110
    fig = png_figure(11, 2.0 * len(steps) + 1.2, dpi=dpi)
    axes = fig.subplots(len(steps), 1, sharex=True, squeeze=False)[:, 0]
    for ax, step in zip(axes, steps, strict=True):
        rows = table[table["step"] == step]
        ax.fill_between(
            rows["time"], 0, rows["p90"], color=BLUE, alpha=0.18, linewidth=0, label="p90 of runs"
        )
        ax.plot(rows["time"], rows["mean"], color=BLUE, linewidth=1.0, label="mean")
        ax.set_title(step, loc="left", fontsize=10)
        ax.set_ylabel("waiting")
        ax.set_ylim(bottom=0)
        tidy_axes(ax)
    axes[0].legend(loc="upper right", frameon=False, fontsize=8)
    png_title(fig, title, SUBTITLE)
    return save_png(fig, path, dpi)
