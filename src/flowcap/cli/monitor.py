"""``flowcap monitor``: the morning check after the day's import; it records what is new and,
with ``--notify``, sends it."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowcap.cli.app import (
    AsJson,
    ServiceDir,
    ServiceName,
    _parse_date,
    app,
    err,
    open_history,
    out,
    running,
)
from flowcap.errors import FlowcapError

if TYPE_CHECKING:
    from flowcap.monitor import MonitorRun


@app.command()
def monitor(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every service in the store, one after another.")
    ] = False,
    notify: Annotated[
        bool,
        typer.Option(
            "--notify",
            help="Send the alerts not yet delivered to the service's webhook and email "
            "(alerts: in service.yaml; FLOWCAP_WEBHOOK_SECRET, FLOWCAP_SMTP_URL).",
        ),
    ] = False,
    day: Annotated[
        str | None,
        typer.Option(
            "--day",
            help="Judge the data as they stood at the end of DATE (YYYY-MM-DD), to replay a "
            "past morning; by default all of them.",
            show_default=False,
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Find what is new since the last run (Making Data Count special causes, risky days in
    the next 14, the backlog forecast over its threshold, first-contact misses), record each
    alert once, and with --notify send it. Run it daily after the import (cron or a systemd
    timer)."""
    from flowcap.monitor import monitor as run_monitor
    from flowcap.monitor import monitor_all

    with running() as progress:
        if every:
            if service_dir is not None or service is not None or day is not None:
                raise FlowcapError("--all takes no folder, --service or --day")
            outcomes = monitor_all(notify=notify, progress=progress)
        else:
            when = _parse_date(day, "--day")
            history = open_history(service_dir, service, progress)
            outcomes = None
            run = run_monitor(history, notify=notify, day=when, progress=progress)
    if outcomes is None:
        if as_json:
            sys.stdout.write(json.dumps(run.as_json()) + "\n")
        else:
            _print_run(run)
        return
    if as_json:
        document = [
            {"service": o.service, "error": o.error}
            if o.run is None
            else {**o.run.as_json(), "error": None}
            for o in outcomes
        ]
        sys.stdout.write(json.dumps(document) + "\n")
    else:
        for outcome in outcomes:
            if outcome.run is None:
                err.print(f"[bold red]{escape(outcome.service)}:[/] {escape(outcome.error)}")
            else:
                _print_run(outcome.run)
    if any(o.error for o in outcomes):
        raise typer.Exit(1)


def _print_run(run: MonitorRun) -> None:
    where = f"{run.service}, data to {run.data_end:%a %d %b %Y}"
    if not run.new:
        out.print(f"No new alerts for {where}.", markup=False)
    else:
        table = Table(title=escape(f"New alerts for {where}"), show_lines=True)
        for column in ("id", "kind", "day", "alert"):
            table.add_column(column, justify="right" if column == "id" else "left")
        for alert in run.new:
            table.add_row(str(alert.id), alert.kind, f"{alert.day:%d %b %Y}", escape(alert.title))
        out.print(table)
        out.print("Each alert's message (what happened, why it matters, what to look at): --json.")
    for delivery in run.deliveries:
        target = escape(delivery.target)
        if delivery.ok:
            out.print(f"sent to {delivery.channel} {target}")
        else:
            err.print(
                f"[yellow]not sent to {delivery.channel} {target}:[/] {escape(delivery.error)}"
            )
    if run.notified and run.unsent:
        err.print(
            f"[yellow]{len(run.unsent)} alert(s) not delivered yet: the next run with --notify "
            "tries again.[/]"
        )
