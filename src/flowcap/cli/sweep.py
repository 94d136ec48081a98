"""``flowcap sweep``: many services × options × parameters, simulated on Dask distributed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowcap.cli.app import AsJson, _cell, _note, app, err, out, running
from flowcap.progress import Progress

#: A sweep's table is printed whole up to this many rows; past it, the files say it all.
MAX_PRINTED_ROWS = 60


@app.command()
def sweep(
    sweep_file: Annotated[
        Path,
        typer.Argument(
            help="The sweep file (YAML): services, options, grid, seed, replications, "
            "horizon_days; see the README.",
            show_default=False,
        ),
    ],
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="A running Dask scheduler's address (tcp://host:8786) instead of a local cluster.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Processes of the local cluster (default: one per CPU); 0 runs the cells one "
            "by one here, without Dask.",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for results.parquet, results.csv, failed.json, summary.png and each "
            "finished cell (a rerun skips those). Default: SWEEP-results beside the file.",
            show_default=False,
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Simulate every cell of a sweep (each service × option × grid combination) as `flowcap
    simulate` does, on a Dask cluster; gather them into one table, in the sweep's order.

    Each cell is seeded from the sweep's seed and its coordinates, so the numbers do not
    depend on the workers. A failed cell is tried again (retries: in the file), then listed
    as failed (exit code 1). Stopped or failed cells run again on a rerun; finished ones are
    kept.
    """
    from flowcap.sweep import read_sweep, run_sweep

    folder = out_dir if out_dir is not None else sweep_file.with_name(f"{sweep_file.stem}-results")
    with running({"workers": "--workers", "scheduler": "--scheduler"}) as bar:
        plan = read_sweep(sweep_file)
        result = run_sweep(
            plan,
            base=sweep_file.parent,
            out=folder,
            workers=workers,
            scheduler=scheduler,
            progress=bar if err.is_terminal else _lines(),
            warn=_note,
        )
        paths = result.write(folder)
    if as_json:
        sys.stdout.write(json.dumps(result.as_json(), allow_nan=False, ensure_ascii=False) + "\n")
        if result.failed:
            raise typer.Exit(1)
        return
    _print_table(result)
    done, failed = len(result.done), len(result.failed)
    kept = f" ({result.resumed} kept from an earlier run)" if result.resumed else ""
    out.print(
        f"{done + failed:,} cells: {done:,} done{kept}, {failed:,} failed. "
        f"Table: {paths['parquet']} and {paths['csv']}; chart: {paths['chart']}",
        markup=False,
        soft_wrap=True,
    )
    for outcome in result.failed:
        err.print(
            f"[bold red]failed:[/] {escape(outcome.cell.label())} "
            f"({outcome.attempts} tries): {escape(outcome.error or '')}"
        )
    if failed:
        raise typer.Exit(1)


def _print_table(result) -> None:
    table = result.table()
    keys = list(result.sweep.grid)
    title = (
        f"Sweep: {result.sweep.replications:,} simulated futures a cell; final backlog "
        f"(minutes): mean, p90, P(> {result.sweep.threshold_minutes:,.0f})"
    )
    grid = Table(title=escape(title))
    for column in (
        "service",
        "option",
        *keys,
        "resource",
        "backlog mean",
        "p90",
        "P(over)",
        "wait days",
        "cost (£)",
    ):
        justify = "left" if column in ("service", "option", "resource") else "right"
        grid.add_column(escape(column), justify=justify)
    for record in table.head(MAX_PRINTED_ROWS).to_dict("records"):
        grid.add_row(
            escape(str(record["service"])),
            escape(str(record["option"])),
            *(format(record[k], "g") for k in keys),
            escape(str(record["resource"])),
            _cell(record["final_backlog_mean"], ",.0f"),
            _cell(record["final_backlog_p90"], ",.0f"),
            _cell(record["p_final_backlog_over_threshold"], ".1%"),
            _cell(record["mean_wait_days"], ".1f"),
            _cell(record["cost"], ",.0f"),
        )
    out.print(grid)
    if len(table) > MAX_PRINTED_ROWS:
        out.print(f"… and {len(table) - MAX_PRINTED_ROWS:,} more rows in the table files.")


def _lines() -> Progress:
    """Progress as plain lines on stderr (no terminal for a bar: a batch job's log), about
    one line in twenty of the cells."""
    state = {"last": -1}

    def tell(step: str, done: int | None = None, total: int | None = None) -> None:
        if done is None or total is None:
            err.print(step, markup=False)
            return
        twentieth = done * 20 // max(total, 1)
        if twentieth != state["last"] or done == total:
            state["last"] = twentieth
            err.print(step, markup=False)

    return tell
