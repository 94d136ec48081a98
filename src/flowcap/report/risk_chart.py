"""The risk calendar: the chance, day by day ahead, that demand exceeds k × capacity.

One calendar block per resource and ratio k, laid out like a contribution calendar: weeks as
columns, weekdays as rows (Monday at the top), each day coloured by its probability ``p``
on one colour scale shared by every block, so blocks can be compared. Days in the horizon
without a value (days the service is closed) are grey. The five riskiest days of each block
are numbered 1–5 in their cells and listed under the block's title with their probability.

:func:`write_risk_calendar` writes ``.html`` (plotly, offline) or ``.png`` (matplotlib).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flowcap.errors import FlowcapError
from flowcap.report._common import (
    NO_DATA_GREY,
    WEEKDAY_LABELS,
    plotly_title,
    png_figure,
    png_title,
    save_png,
    text_colour_on,
    write_by_suffix,
)

REQUIRED_COLUMNS = ["date", "resource", "k", "p"]
COLOURSCALE = "YlOrRd"
TOP = 5
#: The colour scale ends at the first of these at or above the largest probability.
SCALE_TOPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
SUBTITLE = (
    "Chance that a day's demand exceeds k × capacity, one colour scale for all blocks. "
    "Numbers: each block's riskiest days."
)


def _check(risk: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in risk.columns]
    if missing:
        raise FlowcapError(f"cannot draw the risk calendar: missing column(s) {', '.join(missing)}")
    if risk.empty:
        raise FlowcapError("cannot draw the risk calendar: the risk table has no rows")
    table = risk[REQUIRED_COLUMNS].copy()
    table["date"] = pd.to_datetime(table["date"]).dt.normalize()
    table["p"] = pd.to_numeric(table["p"], errors="coerce").astype(float)
    table["k"] = table["k"].astype(float)
    bad = table["p"].dropna()
    if ((bad < 0) | (bad > 1)).any():
        raise FlowcapError("cannot draw the risk calendar: probabilities p must be in 0 … 1")
    return table


def block_label(resource: str, k: float) -> str:
    return f"{resource} · demand > {k:g} × capacity"


def scale_top(p_max: float) -> float:
    return next((top for top in SCALE_TOPS if p_max <= top), 1.0)


def _once_every(p: float) -> str:
    if not p > 0:
        return "not expected"
    return "more often than not" if p >= 0.5 else f"about once every {1 / p:,.0f} working days"


class Calendar:
    """The grid shared by all blocks: Monday-start week columns from the first date, and a row
    for each weekday that has a value in some block (a service closed at weekends gets five)."""

    def __init__(self, dates: pd.Series):
        self.first, self.last = dates.min(), dates.max()
        self.monday = self.first - pd.Timedelta(days=self.first.dayofweek)
        self.weeks = (self.last - self.monday).days // 7 + 1
        self.weekdays = sorted(int(d) for d in pd.unique(dates.dt.dayofweek))
        self._row = np.full(7, -1)
        self._row[self.weekdays] = np.arange(len(self.weekdays))

    @property
    def date_format(self) -> str:
        """How the riskiest days are written: with the year when the horizon spans two."""
        return "%a %d %b" if self.first.year == self.last.year else "%a %d %b %Y"

    @property
    def labels(self) -> list[str]:
        return [WEEKDAY_LABELS[d] for d in self.weekdays]

    def cell(self, dates: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(weekday row, week column) of each date."""
        days = (pd.DatetimeIndex(dates) - self.monday).days.to_numpy()
        return self._row[days % 7], days // 7

    def grid(self, rows: pd.DataFrame):
        """Probabilities and ISO dates as weekdays × weeks arrays (NaN or "" where none), and
        which cells fall inside the horizon."""
        shape = (len(self.weekdays), self.weeks)
        z, iso = np.full(shape, np.nan), np.full(shape, "", dtype=object)
        all_days = pd.date_range(self.monday, periods=7 * self.weeks, freq="D")
        in_horizon = ((all_days >= self.first) & (all_days <= self.last)).reshape(self.weeks, 7).T
        r, c = self.cell(rows["date"])
        z[r, c] = rows["p"].to_numpy(dtype=float)
        iso[r, c] = rows["date"].dt.strftime("%Y-%m-%d").to_numpy()
        return z, iso, in_horizon[self.weekdays]

    def month_ticks(self) -> tuple[list[int], list[str]]:
        """The column holding the 1st of each month in view, and the month's label."""
        starts = pd.date_range(self.first.replace(day=1), self.last, freq="MS")
        starts = [s for s in starts if s >= self.first] or [self.first]
        columns = [int((s - self.monday).days // 7) for s in starts]
        labels = [
            f"{s:%b %Y}" if i == 0 or s.month == 1 else f"{s:%b}" for i, s in enumerate(starts)
        ]
        return columns, labels


def _blocks(table: pd.DataFrame):
    """(label, rows, top rows) per (resource, k): resources in table order, k ascending."""
    blocks = []
    for resource in pd.unique(table["resource"]):
        mine = table[table["resource"] == resource]
        for k in sorted(pd.unique(mine["k"])):
            rows = mine[mine["k"] == k].sort_values("date", kind="stable").reset_index(drop=True)
            ranked = rows[rows["p"] > 0].sort_values(["p", "date"], ascending=[False, True])
            blocks.append((block_label(str(resource), k), rows, ranked.head(TOP)))
    return blocks


def _top_text(top: pd.DataFrame, date_format: str = "%a %d %b") -> str:
    if top.empty:
        return "No day at risk in the horizon."
    return "Riskiest: " + "   ".join(
        f"{i}. {d.strftime(date_format)} {percent(p)}"
        for i, (d, p) in enumerate(zip(top["date"], top["p"], strict=True), start=1)
    )


def percent(p: float) -> str:
    """A probability as a short percentage: 34%, 2.5%, 0.3%, <0.1%."""
    if p >= 0.1:
        return f"{p:.0%}"
    return f"{p:.1%}" if p >= 0.001 else "<0.1%"


# --------------------------------------------------------------------------- plotly


def risk_figure(risk: pd.DataFrame, title: str) -> go.Figure:
    """An interactive calendar: one heatmap per (resource, k), all on one colour axis.

    Each heatmap's ``z`` is the 7 × weeks grid of ``p`` (NaN where there is no value) and its
    ``customdata`` the ISO date of each cell; ``text`` holds the rank 1–5 of the riskiest days.
    """
    table = _check(risk)
    calendar, blocks = Calendar(table["date"]), _blocks(table)
    n = len(blocks)
    # Square cells of up to 26 px; the 80 px above each block hold its two title lines.
    cell = float(np.clip(1000 / calendar.weeks, 12, 26))
    block_px = len(calendar.weekdays) * cell + 90
    fig = make_subplots(
        rows=n, cols=1, vertical_spacing=80 / (n * block_px),
        subplot_titles=[
            f"<b>{label}</b><br><span style='font-size:11px;color:#555'>"
            f"{_top_text(top, calendar.date_format)}</span>"
            for label, _, top in blocks
        ],
    )  # fmt: skip
    ticks, tick_labels = calendar.month_ticks()
    for i, (label, rows, top) in enumerate(blocks, start=1):
        z, iso, in_horizon = calendar.grid(rows)
        ranks = np.full(z.shape, "", dtype=object)
        r, c = calendar.cell(top["date"])
        ranks[r, c] = [str(n) for n in range(1, len(top) + 1)]
        hover = np.full(z.shape, "", dtype=object)
        for (wd, wk), day in np.ndenumerate(iso):
            if day:
                p = z[wd, wk]
                hover[wd, wk] = f"{pd.Timestamp(day):%a %d %b %Y}: {percent(p)}, {_once_every(p)}"
        fig.add_trace(
            go.Heatmap(
                z=np.where(in_horizon & np.isnan(z), 0.0, np.nan), showscale=False,
                colorscale=[[0, NO_DATA_GREY], [1, NO_DATA_GREY]], xgap=2, ygap=2,
                name="closed", hoverinfo="skip",
            ),
            row=i, col=1,
        )  # fmt: skip
        fig.add_trace(
            go.Heatmap(
                z=z, customdata=iso, text=ranks, texttemplate="%{text}", hovertext=hover,
                hovertemplate="%{hovertext}<extra>" + label + "</extra>", name=label,
                coloraxis="coloraxis", xgap=2, ygap=2, hoverongaps=False,
            ),
            row=i, col=1,
        )  # fmt: skip
        xaxis = fig.get_subplot(i, 1).xaxis.plotly_name.replace("axis", "")
        fig.update_xaxes(
            tickvals=ticks, ticktext=tick_labels, showgrid=False, zeroline=False, row=i, col=1,
            range=[-0.5, calendar.weeks - 0.5], constrain="domain", constraintoward="left",
        )  # fmt: skip
        fig.update_yaxes(
            tickvals=list(range(len(calendar.weekdays))), ticktext=calendar.labels,
            autorange="reversed",
            showgrid=False, zeroline=False, scaleanchor=xaxis, constrain="domain", row=i, col=1,
        )  # fmt: skip
    top_p = scale_top(float(np.nanmax(table["p"].to_numpy())) if table["p"].notna().any() else 0)
    fig.update_annotations(xanchor="left", x=0, align="left")
    fig.update_layout(
        title=plotly_title(title, SUBTITLE),
        template="plotly_white",
        coloraxis={
            "colorscale": COLOURSCALE, "cmin": 0, "cmax": top_p,
            "colorbar": {"title": {"text": "chance per day", "side": "right"},
                         "tickformat": ".0%", "thickness": 14, "y": 1, "yanchor": "top",
                         "len": min(1.0, 320 / (n * block_px))},
        },
        height=int(n * block_px + 190),
        margin={"t": 150, "l": 60, "r": 40, "b": 40},
    )  # fmt: skip
    return fig


# --------------------------------------------------------------------------- matplotlib


def risk_png(risk: pd.DataFrame, title: str, path: str | Path, dpi: int = 110) -> Path:
    """Draw the calendar blocks with matplotlib and save them as a PNG; return the path."""
    import matplotlib
    from matplotlib.colors import ListedColormap, Normalize

    table = _check(risk)
    calendar, blocks = Calendar(table["date"]), _blocks(table)
    n, n_days = len(blocks), len(calendar.weekdays)
    cell = float(np.clip(10.5 / calendar.weeks, 0.17, 0.3))  # inches
    fig = png_figure(max(10.0, calendar.weeks * cell + 2.4), 1.2 + n * (n_days * cell + 0.8), dpi)
    # The colour bar gets its own narrow column beside the first blocks.
    grid = fig.add_gridspec(n, 2, width_ratios=[1, 0.018])
    axes = [fig.add_subplot(grid[i, 0]) for i in range(n)]
    cax = fig.add_subplot(grid[0 : min(n, 3), 1])
    cmap = matplotlib.colormaps[COLOURSCALE]
    p_all = table["p"].to_numpy(dtype=float)
    norm = Normalize(0, scale_top(float(np.nanmax(p_all)) if np.isfinite(p_all).any() else 0))
    ticks, tick_labels = calendar.month_ticks()
    edges = np.arange(calendar.weeks + 1) - 0.5, np.arange(n_days + 1) - 0.5
    mesh = None
    for ax, (label, rows, top) in zip(axes, blocks, strict=True):
        z, _, in_horizon = calendar.grid(rows)
        # One mesh per layer (closed days grey, then the probabilities), white cell borders.
        closed = np.ma.masked_where(~(in_horizon & np.isnan(z)), np.ones_like(z))
        ax.pcolormesh(*edges, closed, cmap=ListedColormap([NO_DATA_GREY]), edgecolors="white",
                      linewidth=1.2)  # fmt: skip
        mesh = ax.pcolormesh(*edges, np.ma.masked_invalid(z), cmap=cmap, norm=norm,
                             edgecolors="white", linewidth=1.2)  # fmt: skip
        r, c = calendar.cell(top["date"])
        for rank, (row, col) in enumerate(zip(r, c, strict=True), start=1):
            ax.text(col, row, str(rank), ha="center", va="center", fontsize=7.5,
                    fontweight="bold", color=text_colour_on(cmap(norm(z[row, col]))))  # fmt: skip
        ax.plot(c, r, "s", ms=cell * 72 * 0.85, mfc="none", mec="#222222", mew=1.1)
        ax.set_xlim(edges[0][0], edges[0][-1])
        ax.set_ylim(edges[1][-1], edges[1][0])
        ax.set_aspect("equal")
        ax.set_anchor("W")
        ax.tick_params(length=0, labelsize=8)
        ax.set_xticks(ticks, tick_labels, ha="left")
        ax.set_yticks(range(n_days), calendar.labels)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(label, loc="left", fontsize=10.5, fontweight="bold", pad=15)
        ax.annotate(_top_text(top, calendar.date_format), (0, 1), xycoords="axes fraction",
                    xytext=(0, 3), textcoords="offset points", fontsize=8.5,
                    color="#555555")  # fmt: skip
    bar = fig.colorbar(mesh, cax=cax, format=matplotlib.ticker.PercentFormatter(1.0))
    bar.set_label("chance per day", fontsize=9)
    bar.outline.set_visible(False)
    png_title(fig, title, SUBTITLE)
    return save_png(fig, Path(path), dpi)


# --------------------------------------------------------------------------- writing


def write_risk_calendar(risk: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Write the risk calendar to ``.html`` (interactive, offline) or ``.png``.

    ``risk`` has one row per day, resource and ratio: ``date, resource, k, p``. Raises
    :class:`FlowcapError` for another suffix or an empty table.
    """
    return write_by_suffix(
        path,
        html=lambda: risk_figure(risk, title),
        png=lambda target: risk_png(risk, title, target),
    )
