"""Commands that look ahead by simulation: simulate (with contingency options) and plan."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flowcap import workflow
from flowcap.cli.app import (
    AsJson,
    Chart,
    ServiceDir,
    _errors_to_exit,
    _key_notice,
    _parse_date,
    _progress,
    app,
    err,
    out,
)


@app.command()
def simulate(
    service_dir: ServiceDir,
    replications: Annotated[int, typer.Option(help="Simulated futures.")] = 10_000,
    horizon: Annotated[int, typer.Option(help="Calendar days ahead.")] = 90,
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD) when there is no history.")
    ] = None,
    threshold_minutes: Annotated[
        float, typer.Option(help="Backlog (minutes) whose exceedance is reported.")
    ] = 2400.0,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same results.")] = 0,
    scenarios: Annotated[
        Path | None,
        typer.Option(help="Contingency options (default: scenarios.yaml in the folder)."),
    ] = None,
    risk: Annotated[
        float, typer.Option(help="Accepted chance of any backlog over the threshold at the end.")
    ] = 0.1,
    as_json: AsJson = False,
    chart: Chart = None,
) -> None:
    """Monte Carlo of each resource's backlog ahead, and costed contingency options."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        report = workflow.simulate_folder(
            service_dir,
            horizon=horizon,
            replications=replications,
            seed=seed,
            threshold_minutes=threshold_minutes,
            start=_parse_date(start, "--start"),
            scenarios=scenarios,
            risk_target=risk,
            progress=progress,
        )
        if chart is not None:
            for path in _simulation_charts(report, chart):
                err.print(f"chart: {path}")
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), allow_nan=False) + "\n")
        return
    table = Table(
        title=f"{report.service_name}: {horizon} days from {report.start:%d %b %Y}, "
        f"{replications:,} simulated futures"
    )
    for column in (
        "resource",
        "final backlog mean",
        "p50",
        "p90",
        f"P(> {threshold_minutes:,.0f})",
        "mean wait (days)",
        "cost (£)",
    ):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for resource in report.spec.resources:
        summary = report.result.summary(resource)
        cost = report.baseline_cost(resource)
        table.add_row(
            resource,
            f"{summary['final_backlog_mean']:,.0f}",
            f"{summary['final_backlog_p50']:,.0f}",
            f"{summary['final_backlog_p90']:,.0f}",
            f"{summary['p_final_backlog_over_threshold']:.1%}",
            f"{summary['mean_wait_days']:.1f}",
            "-" if cost is None else f"{cost:,.0f}",
        )
    out.print(table)
    if report.comparison is not None:
        _print_ranking(report)


def _simulation_charts(report: workflow.SimulationReport, chart: Path) -> list[Path]:
    """The backlog fan at ``chart``, and the options' cost against risk beside it."""
    from flowcap.report.fan_chart import write_backlog_fan
    from flowcap.report.scenario_chart import write_pareto_chart

    paths = [
        write_backlog_fan(
            report.fan(), chart, f"{report.service_name}: backlog ahead", report.threshold_minutes
        )
    ]
    if report.comparison is not None:
        options = chart.with_name(f"{chart.stem}-options{chart.suffix}")
        paths.append(
            write_pareto_chart(
                report.comparison, options, f"{report.service_name}: options, cost against risk"
            )
        )
    return paths


def _print_ranking(report: workflow.SimulationReport) -> None:
    document = report.comparison.as_json()
    table = Table(title="Contingency options, best value first")
    for column in (
        "option",
        "extra cost (£)",
        "waiting case-days avoided",
        "£ per day avoided",
        "P(all backlogs ≤ threshold)",
    ):
        table.add_column(column, justify="left" if column == "option" else "right")
    baseline_p = report.comparison.outcomes["baseline"].p_meet_target
    table.add_row("(baseline)", "0", "-", "-", f"{baseline_p:.0%}")
    for row in document["ranking"]:
        per_day = row["cost_per_wait_day_avoided"]
        table.add_row(
            row["scenario"],
            f"{row['extra_cost']:,.0f}",
            f"{row['wait_days_avoided']:,.0f}",
            "-" if per_day is None else f"{per_day:,.0f}",
            f"{row['p_meet_target']:.0%}",
        )
    out.print(table)
    out.print(document["recommendation"], soft_wrap=True)


@app.command()
def plan(
    service_dir: ServiceDir,
    target_backlog_minutes: Annotated[
        float, typer.Option(help="Backlog (minutes) not to exceed at the horizon.")
    ] = 2400.0,
    risk: Annotated[float, typer.Option(help="Accepted chance of exceeding it.")] = 0.05,
    horizon: Annotated[int, typer.Option(help="Calendar days ahead.")] = 90,
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD) when there is no history.")
    ] = None,
    replications: Annotated[int, typer.Option(help="Simulated futures per candidate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same results.")] = 0,
    as_json: AsJson = False,
) -> None:
    """The fewest staff per resource that keep the backlog stable and below the target."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        plans = workflow.plan_folder(
            service_dir,
            target_backlog_minutes=target_backlog_minutes,
            risk=risk,
            horizon=horizon,
            replications=replications,
            seed=seed,
            start=_parse_date(start, "--start"),
            progress=progress,
        )
    if as_json:
        sys.stdout.write(json.dumps([p.as_json() for p in plans], allow_nan=False) + "\n")
        return
    table = Table(
        title=f"Minimum staff: P(backlog after {horizon} days > {target_backlog_minutes:,.0f} "
        f"minutes) ≤ {risk:.0%}, backlog not growing"
    )
    for column in ("resource", "min staff", "minutes/working day", "P(exceed) at min", "stable"):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for item in plans:
        table.add_row(
            item.resource,
            "not found" if item.min_staff is None else str(item.min_staff),
            "-" if item.min_capacity_minutes is None else f"{item.min_capacity_minutes:,.0f}",
            f"{item.p_exceed_at_min:.1%}",
            "yes" if item.stable else "no",
        )
    out.print(table)
