"""``flowcap report``: the commissioner's report as HTML, PDF or an Excel workbook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flowcap.cli.app import (
    ServiceDir,
    ServiceName,
    _note,
    _parse_date,
    app,
    err,
    open_history,
    running,
)


@app.command()
def report(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="html, pdf or xlsx (default: from --out's suffix, else html).",
            show_default=False,
        ),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="First day reported (YYYY-MM-DD; default: a month before --to)."
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Last day reported (YYYY-MM-DD; default: the last day of data)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="File to write (default: <service>-report-<to>.<format> in this folder).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """A report for commissioners and boards: a one-page summary in plain English, then the
    measures, variation and SPC, forecast and risk, simulation and options, and the process
    map where there is an event log; the period is compared with the one before it."""
    from flowcap.report.commissioner import build_report, default_name, report_format, write_report

    with running({"start": "--from", "end": "--to"}) as progress:
        chosen = report_format(fmt, out)
        start, end = _parse_date(from_, "--from"), _parse_date(to, "--to")
        history = open_history(service_dir, service, progress)
        document = build_report(
            history, start, end, figures=chosen != "xlsx", progress=progress, warn=_note
        )
        path = out or Path(default_name(history.name, document.end, chosen))
        progress(f"Writing the {chosen.upper()} report")
        written = write_report(document, path, chosen)
    err.print(f"report: {written}", markup=False)
