"""The variation profile: mean daily demand by weekday and month, one heatmap per resource.

Each resource's table has the weekdays as rows (``mon`` … ``sun``) and the months as columns
(1 … 12); a cell is the mean demand, in minutes, on that weekday in that month. Cells with no
value (NaN: no such day was recorded, e.g. a month before the data starts) are drawn grey,
left blank and called "no data"; every other cell shows its value. Every recorded day counts,
worked or not, so a weekend with no demand is a 0, not a grey cell. Each panel has its own
colour scale, because the point is the shape of each resource's week and year, and resources
differ in size; the hover (HTML) also gives each cell's difference from the resource's
average cell.

:func:`write_variation_chart` writes ``.html`` (plotly, offline) or ``.png`` (matplotlib).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flowcap.errors import FlowcapError
from flowcap.report._common import (
    MONTH_LABELS,
    NO_DATA_GREY,
    WEEKDAY_LABELS,
    WEEKDAYS,
    plotly_title,
    png_figure,
    png_title,
    save_png,
    text_colour_on,
    write_by_suffix,
)

#: Sequential, colour-blind safe, light (low) to dark (high).
COLOURSCALE = "YlGnBu"
#: Name (and legend) of the grey cells: no day of that weekday and month was recorded. They
#: are not "no working days": the profile counts every recorded day, closed ones as 0.
NO_DATA_NAME = "no data"
SUBTITLE = "Mean demand per day, minutes, by weekday and month. Grey cells: no days recorded."


def _profile(resource: str, table: pd.DataFrame) -> pd.DataFrame:
    """The table as 7 weekday rows × 12 month columns of floats, in calendar order."""
    index = [str(i).strip().lower()[:3] for i in table.index]
    unknown = [str(i) for i, short in zip(table.index, index, strict=True) if short not in WEEKDAYS]
    if unknown:
        raise FlowcapError(
            f"cannot chart the variation of {resource}: the rows must be weekdays mon … sun "
            f"(got {', '.join(unknown)})"
        )
    try:
        columns = [int(c) for c in table.columns]
    except (TypeError, ValueError):
        columns = [0]
    if any(not 1 <= c <= 12 for c in columns):
        raise FlowcapError(
            f"cannot chart the variation of {resource}: the columns must be months 1 … 12 "
            f"(got {', '.join(map(str, table.columns))})"
        )
    values = table.apply(pd.to_numeric, errors="coerce").astype(float)
    values.index, values.columns = index, columns
    return values.reindex(index=list(WEEKDAYS), columns=range(1, 13))


def _check(profiles: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    if not profiles:
        raise FlowcapError("cannot chart the variation: there are no resources to chart")
    tables = {str(r): _profile(str(r), t) for r, t in profiles.items()}
    if all(t.isna().all(axis=None) for t in tables.values()):
        raise FlowcapError("cannot chart the variation: every profile is empty (no values)")
    return tables


def _cell_text(values: np.ndarray) -> np.ndarray:
    return np.array([["" if np.isnan(v) else f"{v:,.0f}" for v in row] for row in values])


# --------------------------------------------------------------------------- plotly


def variation_figure(profiles: dict[str, pd.DataFrame], title: str) -> go.Figure:
    """One heatmap per resource (rows of panels), weekdays down, months across.

    Per panel there are two traces: a grey heatmap marking the cells without a value (named
    :data:`NO_DATA_NAME`), then the values heatmap (named after the resource) whose ``z`` is
    the resource's table in calendar order.
    """
    tables = _check(profiles)
    n = len(tables)
    spacing = min(0.1, 0.35 / n)
    fig = make_subplots(rows=n, cols=1, vertical_spacing=spacing, subplot_titles=list(tables))
    for i, (resource, table) in enumerate(tables.items(), start=1):
        z = table.to_numpy(dtype=float)
        missing = np.isnan(z)
        average = np.nanmean(z) if not missing.all() else np.nan
        change = 100.0 * (z / average - 1.0) if average and average > 0 else np.full_like(z, 0)
        fig.add_trace(
            go.Heatmap(
                z=np.where(missing, 0.0, np.nan),
                x=list(MONTH_LABELS),
                y=list(WEEKDAY_LABELS),
                name=NO_DATA_NAME,
                colorscale=[[0, NO_DATA_GREY], [1, NO_DATA_GREY]],
                showscale=False,
                xgap=2,
                ygap=2,
                hovertemplate="%{y} in %{x}: no data (no days recorded)<extra></extra>",
            ),
            row=i,
            col=1,
        )
        domain = fig.get_subplot(i, 1).yaxis.domain
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=list(MONTH_LABELS),
                y=list(WEEKDAY_LABELS),
                name=resource,
                colorscale=COLOURSCALE,
                text=_cell_text(z),
                texttemplate="%{text}",
                textfont={"size": 11},
                customdata=np.round(change, 1),
                xgap=2,
                ygap=2,
                hoverongaps=False,
                hovertemplate=(
                    f"<b>{resource}</b><br>%{{y}} in %{{x}}: %{{z:,.0f}} minutes a day"
                    "<br>%{customdata:+.0f}% against this resource's average cell<extra></extra>"
                ),
                colorbar={
                    "title": {"text": "min/day", "side": "right"},
                    "len": domain[1] - domain[0],
                    "y": (domain[0] + domain[1]) / 2,
                    "yanchor": "middle",
                    "thickness": 14,
                    "tickformat": ",.0f",
                },
            ),
            row=i,
            col=1,
        )
        fig.update_yaxes(autorange="reversed", showgrid=False, row=i, col=1)
        fig.update_xaxes(showgrid=False, side="bottom", row=i, col=1)
    fig.update_layout(
        title=plotly_title(title, SUBTITLE),
        template="plotly_white",
        height=max(380, 290 * n + 120),
        margin={"t": 110, "l": 60, "r": 40, "b": 40},
        plot_bgcolor="white",
    )
    return fig


# --------------------------------------------------------------------------- matplotlib


def variation_png(
    profiles: dict[str, pd.DataFrame], title: str, path: str | Path, dpi: int = 110
) -> Path:
    """Draw the heatmaps with matplotlib and save them as a PNG; return the path."""
    import matplotlib

    tables = _check(profiles)
    n = len(tables)
    fig = png_figure(11, 0.9 + 2.9 * n, dpi)
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    cmap = matplotlib.colormaps[COLOURSCALE].with_extremes(bad=NO_DATA_GREY)
    for ax, (resource, table) in zip(axes, tables.items(), strict=True):
        z = table.to_numpy(dtype=float)
        shown = np.ma.masked_invalid(z)
        image = ax.imshow(shown, cmap=cmap, aspect="auto", interpolation="nearest")
        low, high = (float(shown.min()), float(shown.max())) if shown.count() else (0.0, 1.0)
        image.set_clim(low, high if high > low else low + 1.0)
        for (row, col), value in np.ndenumerate(z):
            if not np.isnan(value):
                ax.text(
                    col,
                    row,
                    f"{value:,.0f}",
                    ha="center",
                    va="center",
                    fontsize=8.5,
                    color=text_colour_on(cmap(image.norm(value))),
                )
        ax.set_xticks(range(12), MONTH_LABELS)
        ax.set_yticks(range(7), WEEKDAY_LABELS)
        ax.tick_params(length=0)
        # White lines between the cells.
        ax.set_xticks(np.arange(-0.5, 12), minor=True)
        ax.set_yticks(np.arange(-0.5, 7), minor=True)
        ax.grid(which="minor", color="white", linewidth=2)
        ax.tick_params(which="minor", length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(resource, loc="left", fontsize=11, fontweight="bold")
        bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
        bar.set_label("minutes per day", fontsize=9)
        bar.ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        bar.outline.set_visible(False)
        if not shown.count():
            bar.ax.set_visible(False)
            ax.text(5.5, 3, "no data", ha="center", va="center", fontsize=11, color="#555555")
    png_title(fig, title, SUBTITLE)
    return save_png(fig, Path(path), dpi)


# --------------------------------------------------------------------------- writing


def write_variation_chart(profiles: dict[str, pd.DataFrame], path: str | Path, title: str) -> Path:
    """Write the weekday × month heatmaps to ``.html`` (interactive, offline) or ``.png``.

    ``profiles`` maps each resource to its table (rows ``mon`` … ``sun``, columns 1 … 12,
    NaN for no value). Raises :class:`FlowcapError` for another suffix or no data.
    """
    return write_by_suffix(
        path,
        html=lambda: variation_figure(profiles, title),
        png=lambda target: variation_png(profiles, title, target),
    )
