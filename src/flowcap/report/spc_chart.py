"""SPC (XmR) charts with Making Data Count styling: one panel per resource and measure.

Each panel shows the daily values as a grey line with points, the mean (solid) and process
limits (dashed) of each segment as flat lines that break where the limits were recalculated
(a dotted vertical line marks each recalculation), and the 2-sigma lines faintly. Points
flagged as special cause are purple (#490092, Making Data Count's colour when no improvement
direction is set), shaped by the first rule that fired, in the precedence of
:data:`flowcap.variation.spc.RULES`: diamond outside the limits, triangle for a trend
(pointing up or down), square for two of three beyond 2 sigma, circle for a shift. Common
cause points are grey (#A6A6A6). The HTML hover gives the date, the value, the lines and every
rule that fired.

Panels are laid out with the resources as rows and the measures as columns. ``labels``, when
given, adds a few words to a panel's title: ``flowcap variation`` gives each chart's Making
Data Count variation and assurance icons in words ("special cause (high) · hit and miss").
:func:`write_spc_chart` writes ``.html`` (plotly, offline) or ``.png`` (matplotlib).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flowcap.errors import FlowcapError
from flowcap.report._common import (
    MDC_COMMON_CAUSE,
    MDC_SPECIAL_CAUSE,
    date_axis,
    plotly_title,
    png_figure,
    png_title,
    save_png,
    thousands_formatter,
    tidy_axes,
    write_by_suffix,
)

REQUIRED_COLUMNS = ["date", "value", "mean", "lower_limit", "upper_limit", "special_cause"]
#: Rule column, label, plotly symbol, matplotlib marker; first match decides a point's shape.
RULE_STYLES = [
    ("outside_limits", "outside the limits", "diamond", "D"),
    ("trend", "trend", "triangle-up", "^"),
    ("two_of_three", "2 of 3 beyond 2σ", "square", "s"),
    ("shift", "shift", "circle", "o"),
]
SPECIAL_CAUSE_NAME = "Special cause"
VALUE_COLOUR = "#7F7F7F"
LINE_COLOUR = "#404040"
SIGMA_COLOUR = "#BBBBBB"
#: The segment lines: legend name, columns, colour, width (points), dashed.
LINES = [
    ("±2σ", ["lower_2sigma", "upper_2sigma"], SIGMA_COLOUR, 0.9, False),
    ("Process limits", ["lower_limit", "upper_limit"], LINE_COLOUR, 1.2, True),
    ("Mean", ["mean"], LINE_COLOUR, 1.5, False),
]
SUBTITLE = (
    "Purple: special cause, shaped by rule; grey: common cause. Solid: mean; dashed: process "
    "limits; faint: 2σ; dotted: limits recalculated."
)


def _check(charts: dict[tuple[str, str], pd.DataFrame]) -> dict[tuple[str, str], pd.DataFrame]:
    if not charts:
        raise FlowcapError("cannot draw the SPC charts: there are no series to chart")
    tables = {}
    for key, table in charts.items():
        missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
        if missing:
            raise FlowcapError(
                f"cannot draw the SPC chart of {' '.join(map(str, key))}: missing column(s) "
                f"{', '.join(missing)}"
            )
        rows = table.sort_values("date", kind="stable").reset_index(drop=True).copy()
        rows["date"] = pd.to_datetime(rows["date"])
        for column in ("lower_2sigma", "upper_2sigma"):
            if column not in rows.columns:
                rows[column] = np.nan
        for rule, *_ in RULE_STYLES:
            rows[rule] = rows[rule].fillna(False).astype(bool) if rule in rows else False
        rows["special_cause"] = rows["special_cause"].fillna(False).astype(bool)
        direction = rows["direction"] if "direction" in rows else pd.Series("", index=rows.index)
        rows["direction"] = direction.fillna("").astype(str)
        tables[(str(key[0]), str(key[1]))] = rows
    if all(t.empty for t in tables.values()):
        raise FlowcapError("cannot draw the SPC charts: every series is empty (no points)")
    return tables


def _layout(tables) -> tuple[list[str], list[str]]:
    resources = list(dict.fromkeys(r for r, _ in tables))
    measures = list(dict.fromkeys(m for _, m in tables))
    return resources, measures


def segment_starts(rows: pd.DataFrame) -> np.ndarray:
    """Indices where a segment starts: the mean or a limit differs from the previous point."""
    lines = rows[["mean", "lower_limit", "upper_limit"]].to_numpy(dtype=float)
    if not len(lines):
        return np.array([], dtype=int)
    same = (lines[1:] == lines[:-1]) | (np.isnan(lines[1:]) & np.isnan(lines[:-1]))
    return np.concatenate([[0], np.flatnonzero(~same.all(axis=1)) + 1])


def _segment_lines(rows: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Flat lines per segment for each column, NaN between, as one (x, y) pair for a trace."""
    dates = rows["date"].to_numpy(dtype="datetime64[ns]")
    starts = segment_starts(rows)
    ends = np.append(starts[1:], len(rows))[: len(starts)] - 1
    xs, ys = [], []
    for column in columns:
        values = rows[column].to_numpy(dtype=float)
        for a, b in zip(starts, ends, strict=True):
            xs += [dates[a], dates[b], dates[b]]
            ys += [values[a], values[a], np.nan]
    return np.array(xs, dtype="datetime64[ns]"), np.array(ys, dtype=float)


def primary_rule(rows: pd.DataFrame) -> np.ndarray:
    """Per point, the first rule of :data:`RULE_STYLES` that fired ("" when none)."""
    rule = np.full(len(rows), "", dtype=object)
    for name, *_ in reversed(RULE_STYLES):
        rule = np.where(rows[name].to_numpy(dtype=bool), name, rule)
    return rule


def hover_text(rows: pd.DataFrame) -> np.ndarray:
    """Per point: the rules that fired (or "common cause"), and the mean and limits."""
    fired = rows[[name for name, *_ in RULE_STYLES]].to_numpy(dtype=bool)
    labels = np.array([label for _, label, _, _ in RULE_STYLES])
    lines = rows[["mean", "lower_limit", "upper_limit"]].to_numpy(dtype=float)
    texts = []
    for flags, special, direction, (m, lo, hi) in zip(
        fired, rows["special_cause"], rows["direction"], lines, strict=True
    ):
        rules = "common cause"
        if special and flags.any():
            rules = f"special cause{' ' + direction if direction else ''}: "
            rules += ", ".join(labels[flags])
        limits = "" if np.isnan(lo) else f", limits {lo:,.0f} to {hi:,.0f}"
        texts.append((rules, f"mean {m:,.0f}{limits}"))
    return np.array(texts, dtype=object).reshape(len(rows), 2)


# --------------------------------------------------------------------------- plotly


def _panel_title(key: tuple[str, str], labels: dict | None, html: bool) -> str:
    """A panel's title: "idva · demand", with its label (the MDC icons in words) if any."""
    text = f"{key[0]} · {key[1]}"
    label = (labels or {}).get(key)
    if not label:
        return text
    if html:
        return f"{text} <span style='font-size:11px;color:{MDC_SPECIAL_CAUSE}'>[{label}]</span>"
    return f"{text}  [{label}]"


def spc_figure(
    charts: dict[tuple[str, str], pd.DataFrame],
    title: str,
    labels: dict[tuple[str, str], str] | None = None,
) -> go.Figure:
    """An interactive grid of XmR charts, resources as rows and measures as columns.

    Per panel the traces are, in order: ``±2σ``, ``Process limits``, ``Mean``, ``Value`` and
    ``Special cause`` (the flagged points only, purple, one symbol per point by its first
    rule); after all panels come legend-only entries showing the rule symbols.
    """
    tables = _check(charts)
    resources, measures = _layout(tables)
    n_rows, n_cols = len(resources), len(measures)
    fig = make_subplots(
        rows=n_rows,
        cols=n_cols,
        shared_xaxes="all",
        vertical_spacing=min(0.08, 0.3 / n_rows),
        horizontal_spacing=0.06,
        subplot_titles=[
            _panel_title((r, m), labels, True) if (r, m) in tables else ""
            for r in resources
            for m in measures
        ],
    )
    first = True
    for (resource, measure), rows in tables.items():
        row, col = resources.index(resource) + 1, measures.index(measure) + 1
        hover = hover_text(rows)
        template = (
            "%{x|%a %d %b %Y}<br><b>%{y:,.0f}</b><br>%{customdata[1]}<br>%{customdata[0]}"
            "<extra>" + f"{resource} · {measure}" + "</extra>"
        )
        for name, columns, colour, width, dashed in LINES:
            x, y = _segment_lines(rows, columns)
            line = {"color": colour, "width": width, "dash": "dash" if dashed else "solid"}
            fig.add_trace(
                go.Scatter(x=x, y=y, name=name, mode="lines", line=line, legendgroup=name,
                           showlegend=first, hoverinfo="skip"),
                row=row, col=col,
            )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=rows["date"], y=rows["value"].to_numpy(dtype=float), name="Value",
                mode="lines+markers", legendgroup="Value", showlegend=first,
                line={"color": VALUE_COLOUR, "width": 1},
                marker={"color": MDC_COMMON_CAUSE, "size": 4},
                customdata=hover, hovertemplate=template,
            ),
            row=row,
            col=col,
        )  # fmt: skip
        special = rows["special_cause"].to_numpy(dtype=bool)
        symbols = {name: symbol for name, _, symbol, _ in RULE_STYLES}
        rule = primary_rule(rows)[special]
        low = rows["direction"].to_numpy()[special] == "low"
        fig.add_trace(
            go.Scatter(
                x=rows["date"][special], y=rows["value"].to_numpy(dtype=float)[special],
                name=SPECIAL_CAUSE_NAME, mode="markers", legendgroup=SPECIAL_CAUSE_NAME,
                showlegend=first,
                marker={
                    "color": MDC_SPECIAL_CAUSE, "size": 7,
                    "symbol": [
                        "triangle-down" if r == "trend" and lo else symbols.get(r, "circle")
                        for r, lo in zip(rule, low, strict=True)
                    ],
                },
                customdata=hover[special],
                hovertemplate=template,
            ),
            row=row,
            col=col,
        )  # fmt: skip
        for start in segment_starts(rows)[1:]:
            fig.add_vline(
                x=rows["date"].iat[start], line={"color": "#888888", "width": 1, "dash": "dot"},
                row=row, col=col,
            )  # fmt: skip
        fig.update_yaxes(tickformat=",.0f", row=row, col=col)
        first = False
    for _, label, symbol, _ in RULE_STYLES:
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=label,
                marker={"color": MDC_SPECIAL_CAUSE, "size": 7, "symbol": symbol},
                hoverinfo="skip",
            )
        )  # fmt: skip
    fig.update_xaxes(showspikes=True, spikethickness=1, spikecolor="#888888")
    for col, measure in enumerate(measures, start=1):  # no empty panels; dates under the rest
        drawn = [row for row, r in enumerate(resources, start=1) if (r, measure) in tables]
        for row in range(drawn[-1] + 1, n_rows + 1):
            fig.update_xaxes(visible=False, row=row, col=col)
            fig.update_yaxes(visible=False, row=row, col=col)
        fig.update_xaxes(showticklabels=True, row=drawn[-1], col=col)
    fig.update_layout(
        title=plotly_title(title, SUBTITLE),
        template="plotly_white",
        hovermode="closest",
        height=max(420, 280 * n_rows + 150),
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0 + 0.12 / n_rows, "x": 0},
        margin={"t": 160, "l": 60, "r": 30, "b": 50},
    )
    return fig


# --------------------------------------------------------------------------- matplotlib


def spc_png(
    charts: dict[tuple[str, str], pd.DataFrame],
    title: str,
    path: str | Path,
    dpi: int = 110,
    labels: dict[tuple[str, str], str] | None = None,
) -> Path:
    """Draw the grid of XmR charts with matplotlib and save it as a PNG; return the path."""
    from matplotlib.lines import Line2D

    tables = _check(charts)
    resources, measures = _layout(tables)
    n_rows, n_cols = len(resources), len(measures)
    fig = png_figure(min(16, 7 + 3 * n_cols), 1.4 + 2.5 * n_rows, dpi)
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex=True)
    for ax in axes.flat:
        ax.set_visible(False)
    for (resource, measure), rows in tables.items():
        ax = axes[resources.index(resource), measures.index(measure)]
        ax.set_visible(True)
        for _, columns, colour, width, dashed in LINES:
            ax.plot(*_segment_lines(rows, columns), color=colour, lw=width,
                    ls="--" if dashed else "-", zorder=2)  # fmt: skip
        dates, values = rows["date"].to_numpy(), rows["value"].to_numpy(dtype=float)
        ax.plot(dates, values, color=VALUE_COLOUR, linewidth=0.8, zorder=3)
        ax.plot(dates, values, "o", color=MDC_COMMON_CAUSE, markersize=2.2, zorder=4)
        rule, special = primary_rule(rows), rows["special_cause"].to_numpy(dtype=bool)
        low = rows["direction"].to_numpy() == "low"
        size = 5.0 if len(rows) <= 200 else 3.8
        for name, _, _, marker in RULE_STYLES:
            # Trends point the way they run: "^" rising, "v" falling.
            for down in (False, True) if name == "trend" else (False,):
                chosen = special & (rule == name) & ((low == down) if name == "trend" else True)
                if chosen.any():
                    shape = "v" if down else marker
                    ax.plot(dates[chosen], values[chosen], shape, color=MDC_SPECIAL_CAUSE,
                            markersize=size, zorder=5)  # fmt: skip
        for start in segment_starts(rows)[1:]:
            ax.axvline(dates[start], color="#888888", linewidth=0.9, linestyle=":", zorder=1)
        ax.set_title(
            _panel_title((resource, measure), labels, False),
            loc="left",
            fontsize=10.5,
            fontweight="bold",
        )
        ax.yaxis.set_major_formatter(thousands_formatter())
        tidy_axes(ax)
    for column in axes.T:  # dates under the lowest panel drawn in each column
        shown = [ax for ax in column if ax.get_visible()]
        if shown:
            date_axis(shown[-1], minticks=4, maxticks=8)
            shown[-1].tick_params(axis="x", labelbottom=True)
    handles = [
        Line2D([], [], color=VALUE_COLOUR, marker="o", markerfacecolor=MDC_COMMON_CAUSE,
               markeredgecolor=MDC_COMMON_CAUSE, markersize=4, label="value (common cause)"),
        *(Line2D([], [], color=colour, lw=width, ls="--" if dashed else "-", label=name.lower())
          for name, _, colour, width, dashed in reversed(LINES)),
        *(
            Line2D([], [], color=MDC_SPECIAL_CAUSE, marker=marker, ls="none", markersize=6,
                   label=f"special cause: {label}")
            for _, label, _, marker in RULE_STYLES
        ),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False, fontsize=9)
    png_title(fig, title, SUBTITLE)
    return save_png(fig, Path(path), dpi)


# --------------------------------------------------------------------------- writing


def write_spc_chart(
    charts: dict[tuple[str, str], pd.DataFrame],
    path: str | Path,
    title: str,
    labels: dict[tuple[str, str], str] | None = None,
) -> Path:
    """Write the XmR charts to ``.html`` (interactive, offline) or ``.png``.

    ``charts`` maps (resource, measure) to the points table of
    :func:`flowcap.variation.spc.xmr`; ``labels`` optionally maps a key to words added to its
    panel's title (the MDC icons). Raises :class:`FlowcapError` for another suffix or no
    data.
    """
    return write_by_suffix(
        path,
        html=lambda: spc_figure(charts, title, labels),
        png=lambda target: spc_png(charts, title, target, labels=labels),
    )
