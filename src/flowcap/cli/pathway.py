"""Commands on the case-level pathway: des (simulate it) and calibrate (build it from a log)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowcap.cli.app import (
    AsJson,
    Chart,
    ServiceDir,
    ServiceName,
    _note,
    _parse_date,
    app,
    err,
    open_history,
    out,
    running,
)


@app.command()
def des(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
    hours: Annotated[float, typer.Option(help="Hours observed after the warm-up.")] = 2184.0,
    warmup_hours: Annotated[
        float | None,
        typer.Option(
            help="Hours simulated first and left out of the statistics (default 336; built "
            "from the case types, 336 more than the longest case lasts; none with "
            "--from-today).",
            show_default=False,
        ),
    ] = None,
    replications: Annotated[
        int, typer.Option(help="Independent runs (confidence intervals come from them).")
    ] = 20,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same results.")] = 0,
    start: Annotated[
        str | None,
        typer.Option(help="First day (YYYY-MM-DD); default the day after the last referral."),
    ] = None,
    from_today: Annotated[
        bool,
        typer.Option(
            "--from-today",
            help="Start from the cases still waiting at the end of the data, at their ages, "
            "the day after it ends, instead of empty after a warm-up.",
        ),
    ] = False,
    as_json: AsJson = False,
    chart: Chart = None,
) -> None:
    """Case-level simulation of the pathway (service.yaml's pathway:, else the case types'
    steps): waits per step and case type, utilisation beside the measured one."""
    from flowcap.simulate.pathway.report import simulate_service_pathway

    with running() as progress:
        first = _parse_date(start, "--start")
        history = open_history(service_dir, service, progress)
        report = simulate_service_pathway(
            history,
            hours=hours,
            warmup_hours=warmup_hours,
            replications=replications,
            seed=seed,
            start=first,
            progress=progress,
            from_today=from_today,
        )
        if chart is not None:
            from flowcap.report.queue_chart import queue_table, write_queue_chart

            result = report.result
            queues = queue_table(
                result.steps, result.queue_length_hourly, report.start, result.warmup_hours
            )
            title = f"{report.service_name}: cases waiting, hour by hour"
            err.print(f"chart: {write_queue_chart(queues, chart, title)}", markup=False)
    document = report.as_json()
    for warning in report.warnings():
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    if as_json:
        sys.stdout.write(json.dumps(document, allow_nan=False) + "\n")
        return
    if report.waiting_start is not None:
        loaded = document["from_today"]
        if loaded["steps"]:
            out.print(_carried_in(report, loaded))
        out.print(
            f"{loaded['cases']:,} cases waiting at the end of the data carried in at 00:00 on "
            f"{report.start:%d %b %Y}: waits count from midnight of the day a case's work fell "
            "due, so theirs include their time before.",
            soft_wrap=True,
        )
    run = (
        f"{hours:,.4g} hours from the waiting list (no warm-up)"
        if report.waiting_start is not None
        else f"{hours:,.4g} hours after {report.result.warmup_hours:,.4g} hours' warm-up"
    )
    table = Table(
        title=f"{escape(report.service_name)}: pathway from {report.start:%d %b %Y}, "
        f"{run}, {replications} replications"
        + ("" if report.built_from == "pathway" else " (pathway built from the case types)")
    )
    for column in (
        "step",
        "resource",
        "cases",
        "mean wait (min)",
        "95% CI",
        "p90 wait",
        "P(wait)",
        "utilisation",
        "gave up",
    ):
        table.add_column(column, justify="left" if column in ("step", "resource") else "right")
    delays = report.spec.is_delay
    for index, (name, step) in enumerate(document["steps"].items()):
        if delays[index]:  # a wait between steps (after_days): nobody to wait for
            continue
        resource = report.spec.resources[report.spec.step_resource[index]]
        table.add_row(
            escape(name),
            escape(resource),
            f"{step['customers']:,}",
            _number(step["mean_wait_minutes"]),
            "-" if step["ci95"] is None else "–".join(_number(v) for v in step["ci95"]),
            _number(step["p90_wait_minutes"]),
            "-" if step["p_wait"] is None else f"{step['p_wait']:.0%}",
            "-" if step["utilisation"] is None else f"{step['utilisation']:.0%}",
            f"{step['reneged']:,}",
        )
    out.print(table)
    if delays.any():
        out.print(
            "Between steps due on different days (after_days) a case waits the difference "
            "in days, occupying nobody; those waits are left out above (they are in --json)."
        )
    out.print(_waits_by_case_type(report, document))
    end = document["end_to_end"]
    interval = end["ci95"]
    out.print(
        f"End to end: {_number(end['mean_time_minutes'])} minutes on average"
        + ("" if interval is None else f" (95% CI {_number(interval[0])}–{_number(interval[1])})")
    )
    check = Table(title="Utilisation: simulated against measured (activity / capacity)")
    for column in ("resource", "simulated", "measured", "gap (points)"):
        check.add_column(column, justify="left" if column == "resource" else "right")
    for name, row in document["utilisation_check"].items():
        check.add_row(
            escape(name),
            "-" if row["simulated"] is None else f"{row['simulated']:.0%}",
            "-" if row["measured"] is None else f"{row['measured']:.0%}",
            "-" if row["gap_points"] is None else f"{row['gap_points']:+.0f}",
        )
    out.print(check)


def _carried_in(report, loaded: dict) -> Table:
    """The cases carried in from the waiting list, per step: how many, and the oldest."""
    table = Table(
        title=f"Carried in: waiting at the end of {report.waiting_start.data_end:%d %b %Y}"
    )
    for column in ("step", "resource", "cases", "oldest due", "oldest (working days)"):
        table.add_column(column, justify="left" if column in ("step", "resource") else "right")
    for name, step in loaded["steps"].items():
        table.add_row(
            escape(name),
            escape(step["resource"]),
            f"{step['cases']:,}",
            f"{date.fromisoformat(step['oldest_due_date']):%d %b %Y}",
            f"{step['oldest_working_days']:,}",
        )
    return table


def _waits_by_case_type(report, document: dict) -> Table:
    """Mean / p90 wait per case type and step: one column per step for a short pathway,
    else one row per case type and step it reaches."""
    delays = report.spec.is_delay
    steps = [(n, s) for i, (n, s) in enumerate(document["steps"].items()) if not delays[i]]

    def cell(entry: dict | None) -> str | None:
        if not entry or not entry["customers"]:
            return None
        return f"{_number(entry['mean_wait_minutes'])} / {_number(entry['p90_wait_minutes'])}"

    title = "Wait (minutes) by case type: mean / 90th percentile"
    by_type = Table(title=title)
    by_type.add_column("case type")
    if len(steps) <= 6:
        for name, _ in steps:
            by_type.add_column(escape(name), justify="right")
        for case_type in report.spec.case_types:
            cells = [cell(step["by_case_type"].get(case_type)) or "-" for _, step in steps]
            by_type.add_row(escape(case_type), *cells)
        return by_type
    by_type.add_column("step")
    by_type.add_column("cases", justify="right")
    by_type.add_column("mean / p90", justify="right")
    for case_type in report.spec.case_types:
        for name, step in steps:
            entry = step["by_case_type"].get(case_type)
            text = cell(entry)
            if text is not None:
                by_type.add_row(escape(case_type), escape(name), f"{entry['customers']:,}", text)
    return by_type


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


@app.command()
def calibrate(
    log: Annotated[
        Path | None,
        typer.Argument(
            help="Event log (.xes, .xes.gz, .csv, .xlsx) or a service folder with event_log:; "
            "leave out with --service.",
            show_default=False,
        ),
    ] = None,
    service: ServiceName = None,
    case_id: Annotated[str | None, typer.Option(help="CSV/XLSX column of the case id.")] = None,
    activity: Annotated[str | None, typer.Option(help="CSV/XLSX column of the activity.")] = None,
    timestamp: Annotated[str | None, typer.Option(help="CSV/XLSX column of the time.")] = None,
    timezone: Annotated[str | None, typer.Option(help="The log's time zone.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: sniffed).")] = None,
    resource: Annotated[str | None, typer.Option(help="CSV/XLSX column of who did it.")] = None,
    case_type: Annotated[str | None, typer.Option(help="CSV/XLSX column of the case type.")] = None,
    lifecycle: Annotated[
        str | None,
        typer.Option(help="CSV/XLSX column of the lifecycle (only complete events are used)."),
    ] = None,
    replications: Annotated[int, typer.Option(help="Independent simulated runs.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same results.")] = 0,
    service_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write a service.yaml with the calibrated pathway here."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Fit a pathway to an event log, simulate it and set it beside the log."""
    from flowcap.cli.analysis import _log_source
    from flowcap.history import open_event_log
    from flowcap.simulate.pathway.calibrate import calibrate_log, calibrated_service_yaml

    with running() as progress:
        events = open_event_log(
            _log_source(log, service),
            by_name=service is not None,
            progress=progress,
            warn=_note,
            case_id=case_id,
            activity=activity,
            timestamp=timestamp,
            timezone=timezone,
            delimiter=delimiter,
            resource=resource,
            case_type=case_type,
            lifecycle=lifecycle,
        )
        report = calibrate_log(events, replications=replications, seed=seed, progress=progress)
        if service_file is not None:
            service_file.parent.mkdir(parents=True, exist_ok=True)
            service_file.write_text(calibrated_service_yaml(report))
            err.print(f"service: {service_file}", markup=False)
    document = report.as_json()
    if as_json:
        sys.stdout.write(json.dumps(document, allow_nan=False) + "\n")
        return
    out.print(
        f"{escape(report.log_name)}: {report.calibration.cases:,} cases over "
        f"{report.calibration.weeks:,.0f} weeks; {len(report.calibration.steps)} steps. A log of "
        "complete events cannot tell waiting from working, so each step's time is both, with "
        "no queue in the model; what the simulation tests is the routing (visits per case) "
        "and the time end to end.",
        soft_wrap=True,
    )
    table = Table(title="Log against simulation, per step (hours)")
    for column in ("step", "visits/case log", "sim", "mean log", "sim", "p90 log", "sim"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for row in document["steps"]:
        table.add_row(
            escape(row["step"]),
            _share(row["observed_visits_per_case"]),
            _share(row["simulated_visits_per_case"]),
            _number(row["observed_mean_hours"]),
            _number(row["simulated_mean_hours"]),
            _number(row["observed_p90_hours"]),
            _number(row["simulated_p90_hours"]),
        )
    out.print(table)
    e2e = document["end_to_end"]
    out.print(
        f"End to end (hours): mean {_number(e2e['observed_mean_hours'])} in the log, "
        f"{_number(e2e['simulated_mean_hours'])} simulated (95% CI "
        f"{_number(e2e['simulated_ci95_low_hours'])}–{_number(e2e['simulated_ci95_high_hours'])}"
        f"); 90th percentile {_number(e2e['observed_p90_hours'])} in the log, "
        f"{_number(e2e['simulated_p90_hours'])} simulated."
    )
