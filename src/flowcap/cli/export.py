"""``flowcap export``: a service's measures, SPC alerts, forecasts and simulation summaries as
CSV or Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowcap.cli.app import ServiceDir, ServiceName, app, open_history, out, running
from flowcap.cli.defaults import EXPORT_FORMATS as FORMATS
from flowcap.cli.defaults import EXPORT_HORIZON_DAYS as HORIZON_DAYS
from flowcap.cli.defaults import EXPORT_REPLICATIONS as REPLICATIONS


@app.command()
def export(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    out_dir: Annotated[
        Path, typer.Option("--out", help="The folder to write the files into.")
    ] = Path("export"),
    cases: Annotated[
        bool,
        typer.Option(
            "--cases",
            help="Add cases.FORMAT: one row per referral, by its pseudonym (case_key) only.",
        ),
    ] = False,
    horizon: Annotated[int, typer.Option(help="Days ahead to forecast and simulate.")] = (
        HORIZON_DAYS
    ),
    replications: Annotated[int, typer.Option(help="Futures simulated.")] = REPLICATIONS,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 0,
) -> None:
    """Write the measures, SPC alerts, forecast, risk, simulated backlog and options, and the
    monitoring alerts as files (pseudonymised: no case rows unless --cases, and then only
    case keys)."""
    from flowcap.export import export_service

    if fmt not in FORMATS:
        raise typer.BadParameter(f"use {' or '.join(FORMATS)}, not {fmt!r}", param_hint="--format")
    with running({"fmt": "--format", "out": "--out"}) as progress:
        history = open_history(service_dir, service, progress)
        written = export_service(
            history,
            out_dir,
            fmt,
            cases=cases,
            horizon=horizon,
            replications=replications,
            seed=seed,
            progress=progress,
        )
    table = Table(title=escape(f"{history.name}: exported to {out_dir}"))
    table.add_column("file")
    table.add_column("rows", justify="right")
    for item in written:
        table.add_row(escape(item.path.name), f"{item.rows:,}")
    out.print(table)
