"""The options on one chart: what each costs against the risk of missing the backlog target.

One point per scenario (the baseline at no extra cost): extra cost over the horizon across,
the chance that some resource ends the horizon above the backlog threshold up. The Pareto front
(the options nothing else beats on both) is joined by a line; dominated options are grey; a
dashed line marks the risk target. :func:`write_pareto_chart` writes ``.html`` (plotly,
offline) or ``.png`` (matplotlib).
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from flowcap.model.scenario import BASELINE
from flowcap.plan.scenarios import ScenarioComparison
from flowcap.report._common import (
    OKABE_ITO,
    plotly_title,
    png_figure,
    png_title,
    save_png,
    tidy_axes,
    write_by_suffix,
)

DOMINATED_GREY = "#A6A6A6"


def _points(comparison: ScenarioComparison) -> list[dict]:
    dominated = {row["scenario"] for row in comparison.ranking if row["dominated"]}
    front = {row["scenario"] for row in comparison.pareto_front()}
    return [
        {
            "name": name,
            "cost": o.extra_cost,
            "risk": 1.0 - o.p_meet_target,
            "front": name in front,
            "dominated": name in dominated,
            "baseline": name == BASELINE,
        }
        for name, o in comparison.outcomes.items()
    ]


def _colour(point: dict) -> str:
    if point["baseline"]:
        return OKABE_ITO["black"]
    if point["dominated"]:
        return DOMINATED_GREY
    return OKABE_ITO["blue"] if point["front"] else OKABE_ITO["orange"]


def _subtitle(comparison: ScenarioComparison, html: bool = False) -> str:
    return (
        f"Risk: share of {comparison.replications:,} runs in which some resource's backlog is "
        f"over {comparison.threshold_minutes:,.0f} minutes at the end of "
        f"{comparison.last_day:%d %b %Y}.{'<br>' if html else chr(10)}"
        "Extra cost: over the baseline, within the horizon. Line: Pareto front; "
        "grey: dominated options."
    )


def _same_place(points: list[dict]) -> dict[tuple[float, float], str]:
    """Point numbers joined by position ("0, 3"), so points on top of each other share a label."""
    places: dict[tuple[float, float], list[str]] = {}
    for i, p in enumerate(points):
        places.setdefault((p["cost"], p["risk"]), []).append(str(i))
    return {place: ", ".join(numbers) for place, numbers in places.items()}


def _top(points: list[dict], target: float) -> float:
    """Top of the risk axis: room above the highest point and the target, at most 100%."""
    highest = max([p["risk"] for p in points] + [target])
    return min(1.04, highest * 1.2 + 0.02)


def write_pareto_chart(
    comparison: ScenarioComparison,
    path: str | Path,
    title: str = "Contingency options: cost against risk",
    *,
    width: float = 9.0,
    height: float = 5.5,
    dpi: int = 120,
) -> Path:
    """Write the cost-against-risk chart of ``comparison`` to ``path`` (.html or .png).

    Points are numbered (the baseline is 0, options in the order given) and the legend names
    them, so labels never overlap however close the points are.
    """
    points = _points(comparison)
    front = [p for p in sorted(points, key=lambda p: (p["cost"], p["risk"])) if p["front"]]
    target = comparison.risk_target
    subtitle = _subtitle(comparison)
    top = _top(points, target)

    def label(i: int, p: dict) -> str:
        state = " (dominated)" if p["dominated"] else ""
        return f"{i}  {p['name']}{state}: £{p['cost']:,.0f}, risk {p['risk']:.1%}"

    def html() -> go.Figure:
        fig = go.Figure()
        fig.add_trace(
            go.Scatter(
                x=[p["cost"] for p in front],
                y=[p["risk"] for p in front],
                mode="lines",
                line={"color": OKABE_ITO["blue"], "width": 1.5},
                name="Pareto front",
                hoverinfo="skip",
            )
        )
        for i, p in enumerate(points):
            fig.add_trace(
                go.Scatter(
                    x=[p["cost"]],
                    y=[p["risk"]],
                    mode="markers",
                    marker={"size": 11, "color": _colour(p)},
                    name=label(i, p),
                    hovertemplate=f"{p['name']}<br>extra £%{{x:,.0f}}<br>risk %{{y:.1%}}"
                    "<extra></extra>",
                )
            )
        for (cost, risk), numbers in _same_place(points).items():
            fig.add_annotation(x=cost, y=risk, text=f"<b>{numbers}</b>", showarrow=False,
                               xshift=8, yshift=10)  # fmt: skip
        fig.add_hline(
            y=target,
            line={"dash": "dash", "color": OKABE_ITO["vermillion"]},
            annotation_text=f"risk target {target:.0%}",
        )
        fig.update_layout(
            title=plotly_title(title, _subtitle(comparison, html=True)),
            template="plotly_white",
            xaxis={"title": "Extra cost over the horizon (£)", "tickprefix": "£"},
            yaxis={
                "title": "Risk of missing the backlog target",
                "tickformat": ".0%",
                "range": [-0.02 * top, top],
            },
            legend={"orientation": "h", "yanchor": "top", "y": -0.2},
            margin={"t": 110},
        )
        return fig

    def png(out: Path) -> Path:
        from matplotlib.lines import Line2D
        from matplotlib.ticker import FuncFormatter, PercentFormatter

        fig = png_figure(width, height, dpi)
        ax = fig.add_subplot()
        ax.plot(
            [p["cost"] for p in front],
            [p["risk"] for p in front],
            color=OKABE_ITO["blue"],
            linewidth=1.5,
            zorder=1,
        )
        handles = []
        for i, p in enumerate(points):
            ax.scatter(p["cost"], p["risk"], s=60, color=_colour(p), zorder=2)
            handles.append(
                Line2D([], [], marker="o", linestyle="", color=_colour(p), label=label(i, p))
            )
        for (cost, risk), numbers in _same_place(points).items():
            ax.annotate(
                numbers, (cost, risk), textcoords="offset points", xytext=(5, 5), fontsize=9,
                fontweight="bold",
            )  # fmt: skip
        ax.axhline(target, color=OKABE_ITO["vermillion"], linestyle="--", linewidth=1)
        ax.text(
            ax.get_xlim()[1],
            target,
            f"risk target {target:.0%}",
            ha="right",
            va="bottom",
            fontsize=8.5,
            color=OKABE_ITO["vermillion"],
        )
        ax.set_xlabel("Extra cost over the horizon (£)")
        ax.set_ylabel("Risk of missing the backlog target")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"£{v:,.0f}"))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0 if top > 0.1 else 1))
        ax.set_ylim(-0.02 * top, top)
        tidy_axes(ax, "both")
        fig.legend(handles=handles, loc="outside lower left", frameon=False, fontsize=8.5)
        png_title(fig, title + "\n", subtitle)  # a two-line subtitle needs a second blank line
        return save_png(fig, out, dpi)

    return write_by_suffix(path, html, png)
