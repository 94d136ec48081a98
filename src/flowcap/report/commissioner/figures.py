"""The report's charts as static images: the library's own matplotlib charts (the ``.png``
of ``flowcap measures|variation|forecast|risk|simulate --chart``) and the process map's SVG,
drawn into a temporary folder and kept as bytes, so the HTML and the PDF show the same
pictures and the HTML works offline."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd

from flowcap.report.commissioner.document import Figure


def _png(key: str, title: str, alt: str, draw: Callable[[Path], Path]) -> Figure:
    with tempfile.TemporaryDirectory(prefix="flowcap-report-") as folder:
        path = draw(Path(folder) / f"{key}.png")
        return Figure(key, title, path.read_bytes(), "image/png", alt)


def measures_figures(measures, service_name: str) -> list[Figure]:
    from flowcap.report.chart import measures_png
    from flowcap.report.waiting_chart import write_waiting_chart

    first, last = measures.period
    days = f"{first:%d %b %Y} to {last:%d %b %Y}"
    return [
        _png(
            "measures",
            "Demand, capacity, activity and backlog",
            f"Daily demand, capacity, activity and backlog minutes per resource, {days}.",
            lambda p: measures_png(measures.table, f"{service_name}: {days}", p),
        ),
        _png(
            "waiting",
            "The waiting list by age",
            f"Cases waiting at the end of each day by age band in working days, {days}.",
            lambda p: write_waiting_chart(
                measures.waiting_profile(), p, f"{service_name}: the waiting list by age"
            ),
        ),
    ]


def spc_figures(
    points: dict, labels: dict, service_name: str, since: pd.Timestamp, end: date
) -> list[Figure]:
    from flowcap.report.spc_chart import spc_png

    days = f"{since:%d %b %Y} to {end:%d %b %Y}"
    return [
        _png(
            "spc",
            "SPC charts (XmR) per working day",
            f"XmR charts of demand, activity and backlog minutes per resource, {days}, with "
            "their mean, limits and special-cause points.",
            lambda p: spc_png(
                points, f"{service_name}: SPC per working day, {days}", p, labels=labels
            ),
        )
    ]


def forecast_figures(forecast, risk, service_name: str) -> list[Figure]:
    from flowcap.report.forecast_chart import forecast_png
    from flowcap.report.risk_chart import risk_png

    figures = [
        _png(
            "forecast",
            "Demand forecast",
            "Daily demand minutes per resource: the last six months and the forecast with "
            "its 80% and 95% intervals.",
            lambda p: forecast_png(
                forecast.history, forecast.forecast, f"{service_name}: demand forecast", p
            ),
        )
    ]
    if not risk.daily.empty:
        figures.append(
            _png(
                "risk",
                "Risk of a bad day, day by day ahead",
                "Calendar of each working day's chance that demand exceeds k × capacity, per "
                "resource and ratio.",
                lambda p: risk_png(risk.daily, f"{service_name}: risk of a bad day", p),
            )
        )
    return figures


def simulation_figures(simulation, service_name: str) -> list[Figure]:
    from flowcap.report.fan_chart import write_backlog_fan
    from flowcap.report.scenario_chart import write_pareto_chart

    figures = [
        _png(
            "fan",
            "The backlog ahead",
            "Simulated backlog minutes per resource ahead: median with 50% and 90% bands.",
            lambda p: write_backlog_fan(
                simulation.fan(),
                p,
                f"{service_name}: backlog ahead",
                simulation.threshold_minutes,
            ),
        )
    ]
    if simulation.comparison is not None and simulation.comparison.options:
        figures.append(
            _png(
                "options",
                "Contingency options: cost against risk",
                "Each option's extra cost against its chance of missing the backlog target.",
                lambda p: write_pareto_chart(simulation.comparison, p),
            )
        )
    return figures


def process_map_figures(pmap, service_name: str) -> list[Figure]:
    from flowcap.report.process_map import DEFAULT_TOP_EDGES, process_map_svg

    title = f"Process map: {service_name}"
    svg = process_map_svg(pmap, title)
    return [
        Figure(
            "process_map",
            "Process map",
            svg.encode("utf-8"),
            "image/svg+xml",
            f"Directly-follows map of the event log: the {DEFAULT_TOP_EDGES} most frequent "
            "hand-offs and the top three bottlenecks.",
        )
    ]
