"""``flowcap`` commands. Thin: each parses its arguments, calls one library function and prints.

Human output goes through Rich; ``--json`` prints only JSON on stdout and everything else
(progress, warnings) on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from flowcap import workflow
from flowcap.errors import FlowcapError, InputError
from flowcap.io.pseudonym import key_file_path
from flowcap.measures import MEASURE_COLUMNS, DailyMeasures

app = typer.Typer(
    name="flowcap",
    help="Demand, capacity, activity and backlog planning for public services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (make demo, CI logs) gets room for the summary table instead of 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ServiceDir = Annotated[
    Path,
    typer.Argument(help="The service folder (service.yaml and data files).", show_default=False),
]
Chart = Annotated[
    Path | None, typer.Option("--chart", help="Write the chart to FILE.html or FILE.png.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout, nothing else.")]


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise FlowcapError(f"{option} {value!r} is not a date (use YYYY-MM-DD)") from None


@contextmanager
def _errors_to_exit() -> Iterator[None]:
    """Turn flowcap's own errors into a message on stderr and exit code 1 (no traceback)."""
    try:
        yield
    except InputError as exc:
        err.print(f"[bold red]{len(exc.problems)} problem(s) found:[/]")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(1) from None
    except FlowcapError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        err.print(f"[bold red]store error:[/] {type(exc).__name__}: {exc.__cause__ or exc}")
        raise typer.Exit(1) from None


@contextmanager
def _key_notice() -> Iterator[None]:
    """Tell the user, once, that a pseudonymisation key was created and must be backed up."""
    path = key_file_path()
    existed = bool(os.environ.get("FLOWCAP_KEY")) or path.exists()
    yield
    if not existed and path.exists():
        err.print(
            f"[yellow]note:[/] created the pseudonymisation key {path} (mode 600). Back it up: "
            "the store refuses imports under another key."
        )


@contextmanager
def _progress(enabled: bool = True) -> Iterator[workflow.Progress]:
    """A progress bar on stderr that names the step a long command is on."""
    if not enabled or not err.is_terminal:
        yield lambda step: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("Starting", total=None)
        yield lambda step: bar.update(task, description=step, advance=1)


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
        err.print(f"[yellow]note:[/] {note}", markup=True)
    table = Table(title=f"{checked.service.name}: folder is valid")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("dates")
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
        table.add_row(checked.files[name][0], f"{len(frame):,}", span)
    out.print(table)


@app.command(name="import")
def import_(service_dir: ServiceDir) -> None:
    """Import the folder's data into the store (only files that changed; atomic)."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        report = workflow.import_folder(service_dir, progress=progress)
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
            service_dir, _parse_date(from_, "--from"), _parse_date(to, "--to"), progress=progress
        )
        if chart is not None:
            _write_chart(result, chart, service_dir)
    _warn_flags(result)
    if as_json:
        sys.stdout.write(measures_json(result) + "\n")
        return
    out.print(_summary_table(result))


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
    else:
        out.print("No records of that case are stored.")
    out.print("Later imports will skip this case. Remove it from the source files as well.")


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
) -> None:
    """Run the main job on the bundled victim-support example: import, measure, chart."""
    from flowcap.examples import generate_victim_support

    if folder is None:
        bundled = Path("examples/victim-support")
        folder = bundled if (bundled / "service.yaml").is_file() else Path("flowcap-demo")
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        if not (folder / "service.yaml").is_file():
            progress("Writing the example service")
            generate_victim_support(folder)
        result = workflow.measure_folder(folder, progress=progress)
        charts = [
            _write_chart(result, output / f"measures{suffix}", folder)
            for suffix in (".html", ".png")
        ]
    out.print(_summary_table(result))
    out.print(_story(result))
    for path in charts:
        out.print(f"chart: {path}")


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
    return (
        f"First contact within {result.target_working_days} working days: {share:.0%} of "
        f"{statuses.get('met', 0) + statuses.get('missed', 0):,} referrals "
        f"({statuses.get('pending', 0):,} still inside the target)."
    )


if __name__ == "__main__":  # pragma: no cover
    app()
