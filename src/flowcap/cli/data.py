"""Commands on the data: init, validate, import, measures, erase, and the demo."""

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
    _note,
    _parse_date,
    _progress,
    app,
    err,
    out,
)
from flowcap.io.folder import log_tables
from flowcap.measures import MEASURE_COLUMNS, DailyMeasures


@app.command()
def init(folder: Annotated[Path, typer.Argument(help="Folder to create.")]) -> None:
    """Write a commented template service folder to start from."""
    with _errors_to_exit():
        written = workflow.init_folder(folder)
    for path in written:
        out.print(f"wrote {path}")
    out.print(f"Edit the files, then run: flowcap validate {folder}")


@app.command()
def validate(service_dir: ServiceDir) -> None:
    """Check a service folder and report every problem, without importing anything."""
    with _errors_to_exit():
        checked = workflow.validate_folder(service_dir)
    for note in checked.notes:
        _note(note)
    table = Table(title=f"{checked.service.name}: folder is valid")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("dates")
    from_log = log_tables(checked.service)
    for name, frame, column in (
        ("referrals", checked.referrals, "referral_date"),
        ("waiting", checked.waiting, "waiting_since"),
        ("roster", checked.roster, "date"),
        ("sessions", checked.sessions, "date"),
    ):
        if name not in checked.files:
            continue
        span = (
            f"{frame[column].min():%Y-%m-%d} to {frame[column].max():%Y-%m-%d}"
            if len(frame)
            else ""
        )
        file = checked.files[name][0]
        table.add_row(f"{file} ({name})" if name in from_log else file, f"{len(frame):,}", span)
    out.print(table)


@app.command(name="import")
def import_(service_dir: ServiceDir) -> None:
    """Import the folder's data into the store (only files that changed; atomic)."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        report = workflow.import_folder(service_dir, progress=progress, warn=_note)
    table = Table(title=f"{report.service}: import")
    table.add_column("table")
    table.add_column("rows written", justify="right")
    for name, rows in report.written.items():
        table.add_row(name, "unchanged" if rows is None else f"{rows:,}")
    out.print(table)


@app.command()
def measures(
    service_dir: ServiceDir,
    as_json: AsJson = False,
    chart: Chart = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day shown (YYYY-MM-DD).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day shown (YYYY-MM-DD).")] = None,
) -> None:
    """Daily demand, capacity, activity and backlog in minutes, per resource."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        result = workflow.measure_folder(
            service_dir,
            _parse_date(from_, "--from"),
            _parse_date(to, "--to"),
            progress=progress,
            warn=_note,
        )
        if chart is not None:
            _write_chart(result, chart, service_dir)
    _warn_flags(result)
    if as_json:
        sys.stdout.write(measures_json(result) + "\n")
        return
    out.print(_summary_table(result))
    out.print(_story(result))


@app.command()
def erase(
    service_dir: ServiceDir,
    case_id: Annotated[str, typer.Argument(help="The case id as it appears in your files.")],
) -> None:
    """Erase one person's records from the store (right to erasure)."""
    with _errors_to_exit():
        removed = workflow.erase_case(service_dir, case_id)
    total = sum(removed.values())
    detail = ", ".join(f"{rows} {name}" for name, rows in removed.items())
    if total:
        out.print(f"Erased {total} record(s): {detail}.")
        out.print("Later imports will skip this case. Remove it from the source files as well.")
    else:
        out.print("No records of that case are stored (check the id); nothing was changed.")


@app.command()
def demo(
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Service folder to use; the bundled example is written there "
            "if it has no service.yaml. Default: examples/victim-support if present, "
            "else ./flowcap-demo.",
        ),
    ] = None,
    output: Annotated[Path, typer.Option("--out", help="Folder for the charts.")] = Path("out"),
    chart: Annotated[
        list[Path] | None,
        typer.Option("--chart", help="Chart file(s), .html or .png (default: OUT/measures.*)."),
    ] = None,
) -> None:
    """Run the main job on the bundled victim-support example: import, measure, chart."""
    from flowcap.cli.simulation import _print_ranking, _simulation_charts
    from flowcap.examples import generate_victim_support

    if folder is None:
        bundled = Path("examples/victim-support")
        folder = bundled if (bundled / "service.yaml").is_file() else Path("flowcap-demo")
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        if not (folder / "service.yaml").is_file():
            progress("Writing the example service")
            generate_victim_support(folder)
        result = workflow.measure_folder(folder, progress=progress)
        targets = chart or [output / f"measures{suffix}" for suffix in (".html", ".png")]
        charts = [_write_chart(result, path, folder) for path in targets]
        # The days ahead: to the end of next summer, with the folder's contingency options.
        ahead = workflow.simulate_folder(
            folder, horizon=DEMO_HORIZON_DAYS, replications=2000, progress=progress
        )
        charts += _simulation_charts(ahead, output / "backlog-ahead.png")
    out.print(_summary_table(result))
    out.print(_story(result))
    out.print(
        f"Simulated {ahead.spec.horizon_days} days ahead from {ahead.start:%d %b %Y}, "
        "2,000 futures: "
        "final backlog by resource (minutes) "
        + ", ".join(
            f"{r} {ahead.result.summary(r)['final_backlog_mean']:,.0f}"
            for r in ahead.spec.resources
        )
        + ".",
        soft_wrap=True,
    )
    if ahead.comparison is not None:
        _print_ranking(ahead)
    for path in charts:
        out.print(f"chart: {path}")


DEMO_HORIZON_DAYS = 243


def measures_json(result: DailyMeasures) -> str:
    """The ``--json`` document: an array of objects with :data:`MEASURE_COLUMNS` as keys."""
    table = result.table[MEASURE_COLUMNS].copy()
    table["date"] = table["date"].dt.strftime("%Y-%m-%d")
    records = table.to_dict(orient="records")
    for record in records:
        for name in ("demand_cases", "activity_cases", "backlog_cases"):
            record[name] = int(record[name])
        for name in MEASURE_COLUMNS[2:7]:
            record[name] = round(float(record[name]), 3)
    return json.dumps(records)


def _write_chart(result: DailyMeasures, path: Path, service_dir: Path) -> Path:
    from flowcap.report import write_chart

    title = f"{result.service_name}: demand, capacity, activity and backlog"
    return write_chart(result.table, Path(path), title)


def _warn_flags(result: DailyMeasures) -> None:
    flagged = result.table[result.table["activity_exceeds_capacity"]]
    if len(flagged):
        first = flagged.iloc[0]
        err.print(
            f"[yellow]warning:[/] recorded activity exceeds capacity on {len(flagged)} "
            f"resource-day(s), first {first['date']:%Y-%m-%d} ({first['resource']}): "
            "the roster or the sessions file is wrong"
        )


def _summary_table(result: DailyMeasures) -> Table:
    table = result.table
    first, last = table["date"].min(), table["date"].max()
    source = "recorded sessions" if result.recorded else "modelled from capacity"
    summary = Table(
        title=f"{result.service_name}: {first:%d %b %Y} to {last:%d %b %Y} (activity: {source})",
        caption="demand, capacity and activity: mean minutes per working day; backlog: minutes",
    )
    for column, justify in (
        ("resource", "left"),
        ("demand", "right"),
        ("capacity", "right"),
        ("activity", "right"),
        ("utilisation", "right"),
        ("backlog now", "right"),
        ("peak backlog", "right"),
    ):
        summary.add_column(column, justify=justify)
    for resource, rows in table.groupby("resource", sort=False):
        working = rows[rows["is_working_day"]]
        if working.empty:
            working = rows
        demand = rows["demand_minutes"].sum() / max(len(working), 1)
        capacity = working["capacity_minutes"].mean()
        activity = rows["activity_minutes"].sum() / max(len(working), 1)
        peak = rows.loc[rows["backlog_minutes"].idxmax()]
        now = rows.iloc[-1]
        summary.add_row(
            str(resource),
            f"{demand:,.0f}",
            f"{capacity:,.0f}",
            f"{activity:,.0f}",
            f"{activity / capacity:.0%}" if capacity else "-",
            f"{now['backlog_minutes']:,.0f} ({now['backlog_cases']:,} cases)",
            f"{peak['backlog_minutes']:,.0f} on {peak['date']:%d %b %Y}",
        )
    return summary


def _story(result: DailyMeasures) -> str:
    share = result.first_contact_share()
    statuses = result.first_contacts["status"].value_counts()
    if share != share:  # nan: no referral has an outcome yet
        return (
            f"First contact within {result.target_working_days} working days: no outcome yet "
            f"({statuses.get('pending', 0):,} referrals still inside the target)."
        )
    return (
        f"First contact within {result.target_working_days} working days: {share:.0%} of "
        f"{statuses.get('met', 0) + statuses.get('missed', 0):,} referrals "
        f"({statuses.get('pending', 0):,} still inside the target)."
    )
