"""Commands on the data: init, validate, import, services, measures, erase, and the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowcap.cli.app import (
    AsJson,
    Chart,
    ServiceDir,
    ServiceName,
    _errors_to_exit,
    _note,
    _one_source,
    _parse_date,
    app,
    err,
    open_history,
    out,
    running,
)
from flowcap.errors import FlowcapError

if TYPE_CHECKING:
    from flowcap.measures import DailyMeasures


@app.command()
def init(folder: Annotated[Path, typer.Argument(help="Folder to create.")]) -> None:
    """Write a commented template service folder to start from."""
    from flowcap import manage

    with _errors_to_exit():
        written = manage.init_folder(folder)
    for path in written:
        out.print(f"wrote {path}", markup=False)
    out.print(f"Edit the files, then run: flowcap validate {folder}", markup=False)


@app.command()
def validate(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
) -> None:
    """Check a service folder and report every problem, without importing anything.

    scenarios.yaml and school_holidays.csv are checked too. With --service, check that the
    stored service's settings still hold (under this version of flowcap) and list its tables.
    """
    from flowcap import manage

    with running() as progress:
        if _one_source(service_dir, service):
            checked = manage.validate_folder(service_dir)
            name, contents, where = checked.service.name, checked.contents(), "folder"
        else:
            stored = manage.validate_stored(service, progress=progress)
            name, contents, where = stored.name, stored.contents(), "stored service"
    if service_dir is not None:
        for note in checked.notes:
            _note(note)
    table = Table(title=f"{escape(name)}: {where} is valid")
    table.add_column("file" if service_dir is not None else "table")
    table.add_column("rows", justify="right")
    table.add_column("dates")
    for label, rows, first, last in contents:
        span = "" if first is None else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
        table.add_row(escape(label), f"{rows:,}", span)
    out.print(table)


@app.command(name="import")
def import_(
    service_dir: Annotated[
        Path, typer.Argument(help="The service folder to import.", show_default=False)
    ],
) -> None:
    """Import the folder's data and settings into the store (only what changed; atomic)."""
    from flowcap import manage

    with running() as progress:
        report = manage.import_folder(service_dir, progress=progress, warn=_note)
    table = Table(title=f"{escape(report.service)}: import")
    table.add_column("table")
    table.add_column("rows written", justify="right")
    for name, rows in report.written.items():
        table.add_row(name, "unchanged" if rows is None else f"{rows:,}")
    out.print(table)
    saved = [
        f"{kind.replace('_', ' ')} {'removed' if kind in report.removed else 'saved'} (version {v})"
        for kind, v in report.settings.items()
        if v is not None
    ]
    out.print(f"Settings: {', '.join(saved)}." if saved else "Settings unchanged.")
    out.print(f"Store: {report.store}", markup=False)


@app.command()
def services(as_json: AsJson = False) -> None:
    """The services a store holds (FLOWCAP_DATABASE_URL, else the default store)."""
    from flowcap import manage

    with _errors_to_exit():
        where, listing = manage.list_services()
    if as_json:
        for entry in listing:
            stamp = entry["last_change"]
            entry["last_change"] = None if stamp is None else stamp.isoformat(timespec="seconds")
        sys.stdout.write(json.dumps({"store": where, "services": listing}) + "\n")
        return
    if not listing:
        out.print(
            f"The store at {where} holds no services yet: `flowcap import FOLDER` with "
            "FLOWCAP_DATABASE_URL set to it puts one there.",
            markup=False,
        )
        return
    table = Table(title="Services in the store", caption=escape(where))
    for column in (
        "service",
        "last change (UTC)",
        "referrals",
        "waiting",
        "roster",
        "sessions",
        "events",
        "settings (versions)",
    ):
        table.add_column(column, justify="left" if column == "service" else "right")
    for entry in listing:
        stamp = entry["last_change"]
        table.add_row(
            escape(entry["name"]),
            "-" if stamp is None else f"{stamp:%Y-%m-%d %H:%M}",
            *(f"{entry[t]:,}" for t in ("referrals", "waiting", "roster", "sessions", "events")),
            escape(", ".join(f"{kind} {v}" for kind, v in entry["settings"].items())),
        )
    out.print(table)


@app.command()
def measures(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
    as_json: AsJson = False,
    chart: Chart = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day shown (YYYY-MM-DD).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day shown (YYYY-MM-DD).")] = None,
) -> None:
    """Daily demand, capacity, activity and backlog in minutes, per resource.

    Also the waiting list by age, contact targets met and caseloads per FTE against the standard.
    """
    from flowcap.measures import measure

    with running({"start": "--from", "end": "--to"}) as progress:
        start, end = _parse_date(from_, "--from"), _parse_date(to, "--to")
        history = open_history(service_dir, service, progress)
        result = measure(history, start, end, progress=progress)
        if chart is not None:
            from flowcap.report.waiting_chart import write_waiting_chart

            written = [_write_chart(result, chart)]
            ages = chart.with_name(f"{chart.stem}-waiting{chart.suffix}")
            title = f"{result.service_name}: the waiting list by age"
            written.append(write_waiting_chart(result.waiting_profile(), ages, title))
            for path in written:
                err.print(f"chart: {path}", markup=False)
    _warn_flags(result)
    if as_json:
        sys.stdout.write(json.dumps(result.as_json()) + "\n")
        return
    out.print(_summary_table(result))
    out.print(_story(result))
    out.print(_waiting_table(result))
    _print_step_targets(result)
    _print_caseloads(result)


@app.command()
def erase(
    first: Annotated[
        str | None,
        typer.Argument(
            metavar="SERVICE_DIR CASE_ID",
            help="The service folder, then the case id as it appears in your files (with "
            "--service NAME, the case id alone; none, with --yes, removes the whole service).",
            show_default=False,
        ),
    ] = None,
    case_id: Annotated[str | None, typer.Argument(hidden=True, show_default=False)] = None,
    service: ServiceName = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm removing the whole service (--service alone).")
    ] = False,
) -> None:
    """Erase one person's records from the store (right to erasure); with --service NAME
    --yes and no case id, remove the whole service."""
    from flowcap import manage

    if service is not None and first is None:
        from flowcap.cli.records import erase_service

        erase_service(service, yes)
        return
    with _errors_to_exit():
        if first is None:
            raise FlowcapError("give the service folder and the case id (or --service NAME)")
        if service is None and case_id is None:
            raise FlowcapError("give the service folder and the case id (or --service NAME)")
        if service is not None and case_id is not None:
            raise FlowcapError("with --service give the case id alone, not a folder")
        if service is not None:
            removed = manage.erase_case(service, first, by_name=True)
        else:
            removed = manage.erase_case(Path(first), case_id)
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
    from flowcap.measures import measure
    from flowcap.plan import simulate_ahead

    if folder is None:
        bundled = Path("examples/victim-support")
        folder = bundled if (bundled / "service.yaml").is_file() else Path("flowcap-demo")
    with running() as progress:
        if not (folder / "service.yaml").is_file():
            progress("Writing the example service")
            generate_victim_support(folder)
        history = open_history(folder, None, progress)
        result = measure(history, progress=progress)
        targets = chart or [output / f"measures{suffix}" for suffix in (".html", ".png")]
        charts = [_write_chart(result, path) for path in targets]
        # The days ahead: to the end of next summer, with the service's contingency options.
        ahead = simulate_ahead(
            history, horizon=DEMO_HORIZON_DAYS, replications=2000, progress=progress
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
        markup=False,
    )
    if ahead.comparison is not None:
        _print_ranking(ahead)
    for path in charts:
        out.print(f"chart: {path}", markup=False)
    _print_serve_hint()


DEMO_HORIZON_DAYS = 243


def _print_serve_hint() -> None:
    """The one command that serves the example in a browser, and the demo login."""
    from flowcap.web import demo as web

    where = web.address(web.DEFAULT_HOST, web.DEFAULT_PORT)
    out.print(
        f"In a browser: {web.SERVE_COMMAND} (or make serve), then open {where} and log in as "
        f"{web.DEMO_EMAIL} with the password {web.DEMO_PASSWORD}.",
        markup=False,
        soft_wrap=True,
    )


def _write_chart(result: DailyMeasures, path: Path) -> Path:
    from flowcap.report import write_chart

    title = f"{result.service_name}: demand, capacity, activity and backlog"
    return write_chart(result.table, Path(path), title)


def _warn_flags(result: DailyMeasures) -> None:
    flagged = result.table[result.table["activity_exceeds_capacity"]]
    if len(flagged):
        first = flagged.iloc[0]
        err.print(
            f"[yellow]warning:[/] recorded activity exceeds capacity on {len(flagged)} "
            f"resource-day(s), first {first['date']:%Y-%m-%d} ({escape(str(first['resource']))}): "
            "the roster or the sessions file is wrong"
        )


def _waiting_table(result: DailyMeasures) -> Table:
    """Who waits now, per resource and case type, by age in working days."""
    from flowcap.measures.waiting import BAND_COLUMNS, BAND_LABELS

    last = result.period[1]
    table = Table(
        title=f"Waiting list at the end of {last:%a %d %b %Y}",
        caption="ages in working days since the work fell due (that day not counted); "
        "a case waits at a resource until its work there is done",
    )
    for column in ("resource", "case type", "waiting", "oldest", *BAND_LABELS, "median", "p90"):
        table.add_column(column, justify="left" if column in ("resource", "case type") else "right")

    def days(value: float) -> str:
        return "" if value != value else f"{value:,.0f}"  # NaN: nobody waiting

    for row in result.waiting_list().to_dict(orient="records"):
        table.add_row(
            escape(row["resource"]),
            escape(row["case_type"]),
            f"{row['cases_waiting']:,}",
            days(row["oldest_working_days"]),
            *(f"{row[column]:,}" for column in BAND_COLUMNS),
            days(row["median_working_days"]),
            days(row["p90_working_days"]),
        )
    return table


def _share(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.0%}"  # NaN: none decided


def _print_step_targets(result: DailyMeasures) -> None:
    """Steps with a contact target: met, missed and pending, by step and by month due."""
    targets = result.step_targets()
    if targets.steps.empty:
        return
    first, last = result.period
    table = Table(
        title=f"Steps with a target: work due {first:%d %b %Y} to {last:%d %b %Y}",
        caption="target: done within this many working days of falling due (that day not "
        "counted); missed: done later, or still waiting past it; pending: still waiting, "
        "not yet past it (left out of the share)",
    )
    for column in ("case type", "step", "resource", "target", "met", "missed", "pending", "met %"):
        table.add_column(column, justify="left" if column in ("case type", "resource") else "right")
    for row in targets.by_step().to_dict(orient="records"):
        table.add_row(
            escape(row["case_type"]),
            str(row["step"]),
            escape(row["resource"]),
            f"{row['target_working_days']} working day(s)",
            f"{row['met']:,}",
            f"{row['missed']:,}",
            f"{row['pending']:,}",
            _share(row["share_met"]),
        )
    out.print(table)
    by_type = targets.by_case_type()
    if len(by_type) < len(targets.steps):  # a case type with several steps with a target
        for row in by_type.to_dict(orient="records"):
            out.print(
                f"{row['case_type']}: {_share(row['share_met'])} of "
                f"{row['met'] + row['missed']:,} done in time over its steps with a target.",
                markup=False,
            )
    months = Table(title="Steps with a target by the month the work fell due")
    for column in ("month", "case type", "step", "met", "missed", "pending", "met %"):
        months.add_column(column, justify="left" if column in ("month", "case type") else "right")
    for row in targets.by_month(per_step=True).to_dict(orient="records"):
        months.add_row(
            row["month"],
            escape(row["case_type"]),
            str(row["step"]),
            f"{row['met']:,}",
            f"{row['missed']:,}",
            f"{row['pending']:,}",
            _share(row["share_met"]),
        )
    out.print(months)
    overall = targets.overall()
    decided = overall["met"] + overall["missed"]
    done = (
        f"{_share(overall['share_met'])} of {decided:,} done in time"
        if decided
        else "no outcome yet"
    )
    out.print(
        f"Steps with a target: {done} ({overall['pending']:,} still inside the target).",
        markup=False,
    )


def _print_caseloads(result: DailyMeasures) -> None:
    """Open cases per FTE of their case holder against the caseload standard, now."""
    caseloads = result.caseloads()
    summary = caseloads.summary()
    if summary.empty:
        return
    last = result.period[1]
    table = Table(
        title=f"Caseloads at the end of {last:%a %d %b %Y}",
        caption="open: from referral until the last step has fallen due and all the work is "
        "done; FTE: the case holder's staff in post in service.yaml, not those on duty that "
        "day (a sick day does not change a caseload)",
    )
    for column in (
        "resource",
        "case type",
        "open",
        "FTE",
        "per FTE",
        "standard",
        "of standard",
        "peak open",
    ):
        table.add_column(column, justify="left" if column in ("resource", "case type") else "right")
    rows = summary.to_dict(orient="records")
    for row in rows:
        table.add_row(
            escape(row["resource"]),
            escape(row["case_type"]),
            f"{row['open_cases']:,}",
            f"{row['fte']:g}",
            _per_fte(row["open_cases_per_fte"]),
            f"{row['caseload_per_staff']:g}",
            _share(row["share_of_standard"]),
            f"{row['peak_open_cases']:,} on {row['peak_date']:%d %b %Y}",
        )
    out.print(table)
    for row in rows:
        out.print(
            f"{row['resource']}: {row['open_cases']:,} open {row['case_type']} cases, "
            f"{_per_fte(row['open_cases_per_fte'])} per FTE ({row['fte']:g} FTE in post) "
            f"against a standard of {row['caseload_per_staff']:g} "
            f"({_share(row['share_of_standard'])}).",
            markup=False,
        )
    for row in caseloads.shared().to_dict(orient="records"):
        out.print(
            f"{row['resource']} holds {_share(row['caseload_share'])} of a full caseload "
            f"across {row['case_types']}.",
            markup=False,
        )


def _per_fte(value: float) -> str:
    return "-" if value != value else f"{value:,.1f}"  # NaN: no staff in post


def _summary_table(result: DailyMeasures) -> Table:
    first, last = result.period
    source = "recorded sessions" if result.recorded else "modelled from capacity"
    summary = Table(
        title=f"{escape(result.service_name)}: {first:%d %b %Y} to {last:%d %b %Y} "
        f"(activity: {source})",
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
    for row in result.summary().itertuples(index=False):
        summary.add_row(
            escape(row.resource),
            f"{row.demand:,.0f}",
            f"{row.capacity:,.0f}",
            f"{row.activity:,.0f}",
            "-" if row.utilisation != row.utilisation else f"{row.utilisation:.0%}",
            f"{row.backlog_minutes:,.0f} ({row.backlog_cases:,} cases)",
            f"{row.peak_backlog_minutes:,.0f} on {row.peak_date:%d %b %Y}",
        )
    return summary


def _story(result: DailyMeasures) -> str:
    share = result.first_contact_share()
    counts = result.first_contact_counts()
    if share != share:  # nan: no referral has an outcome yet
        return (
            f"First contact within {result.target_working_days} working days: no outcome yet "
            f"({counts['pending']:,} referrals still inside the target)."
        )
    return (
        f"First contact within {result.target_working_days} working days: {share:.0%} of "
        f"{counts['met'] + counts['missed']:,} referrals "
        f"({counts['pending']:,} still inside the target)."
    )
