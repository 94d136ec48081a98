"""A sweep on one chart: each cell's final backlog (90th percentile), worst first.

One panel per resource; one bar per cell (service, option and parameters), the cells whose
backlog ends highest at the top, so the services and options that need attention come
first. A dashed line marks the backlog threshold the sweep reports exceedance of. A national
sweep has thousands of cells: each panel shows the :data:`MAX_BARS` highest, and says how
many it leaves off (every cell is in the table). PNG only (matplotlib, Agg canvas).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from flowcap.report._common import (
    OKABE_ITO,
    png_figure,
    png_title,
    save_png,
    thousands_formatter,
    tidy_axes,
)

#: Bars per panel at most (the highest final backlogs).
MAX_BARS = 30
#: Columns of the sweep table that are not the cell's coordinates.
NOT_COORDINATES = {
    "seed",
    "start",
    "horizon_days",
    "resource",
    "final_backlog_mean",
    "final_backlog_p90",
    "p_final_backlog_over_threshold",
    "mean_wait_days",
    "cost",
}


def cell_label(row: pd.Series, keys: list[str]) -> str:
    """``service · option · key=value …`` for a bar."""
    params = " ".join(f"{key}={row[key]:g}" for key in keys)
    return " · ".join(part for part in (str(row["service"]), str(row["option"]), params) if part)


def write_sweep_chart(
    table: pd.DataFrame, path: str | Path, threshold_minutes: float, dpi: int = 110
) -> Path:
    """Draw the sweep's table (:meth:`flowcap.sweep.SweepResult.table`) as a PNG at ``path``."""
    keys = [c for c in table.columns if c not in NOT_COORDINATES | {"service", "option"}]
    resources = list(dict.fromkeys(table["resource"]))
    shown = [min(MAX_BARS, int((table["resource"] == r).sum())) for r in resources]
    height = 1.6 + sum(0.9 + 0.24 * n for n in shown) if resources else 3.0
    fig = png_figure(11.0, max(height, 3.0), dpi)
    cells = table.drop_duplicates(["service", "option", *keys]).shape[0]
    png_title(
        fig,
        "Sweep: final backlog by cell, worst first",
        f"90th percentile of the backlog at the end of the horizon (minutes of work), "
        f"{cells:,} cells; orange: over the {threshold_minutes:,.0f}-minute threshold (dashed)",
    )
    if not resources:
        ax = fig.add_subplot(1, 1, 1)
        ax.axis("off")
        ax.text(0.5, 0.5, "No cell finished", ha="center", va="center", fontsize=12)
        return save_png(fig, Path(path), dpi)
    axes = fig.subplots(len(resources), 1, squeeze=False, height_ratios=[n + 2 for n in shown])
    for ax, resource, n in zip(axes[:, 0], resources, shown, strict=True):
        rows = table[table["resource"] == resource]
        worst = rows.sort_values("final_backlog_p90", ascending=False, kind="stable").head(n)
        labels = [cell_label(row, keys) for _, row in worst.iterrows()]
        values = worst["final_backlog_p90"].to_numpy()
        positions = range(len(values))[::-1]
        over = [v > threshold_minutes for v in values]
        colours = [OKABE_ITO["vermillion"] if o else OKABE_ITO["blue"] for o in over]
        ax.barh(list(positions), values, color=colours, height=0.7)
        ax.set_yticks(list(positions), [_short(label) for label in labels], fontsize=8)
        ax.axvline(threshold_minutes, color=OKABE_ITO["black"], linestyle="--", linewidth=1)
        left_off = len(rows) - n
        title = f"{resource}" + (
            f" (the {n} highest of {len(rows):,} cells)" if left_off > 0 else ""
        )
        ax.set_title(title, loc="left", fontsize=11)
        ax.xaxis.set_major_formatter(thousands_formatter())
        finite = [v for v in values if math.isfinite(v)]
        ax.set_xlim(0, max([threshold_minutes, *finite]) * 1.05 or 1.0)
        tidy_axes(ax, grid_axis="x")
    axes[-1, 0].set_xlabel("final backlog, 90th percentile (minutes)")
    return save_png(fig, Path(path), dpi)


def _short(label: str, limit: int = 70) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
