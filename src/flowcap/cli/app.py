"""The Typer app and what every command shares: consoles, argument types, error handling,
the pseudonymisation-key notice and the progress bar.

Human output goes through Rich; ``--json`` prints only JSON on stdout and everything else
(progress, warnings) on stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import SQLAlchemyError

from flowcap.checks import CHART_SUFFIXES, PROCESS_MAP_SUFFIXES, ArgumentError, check_chart
from flowcap.errors import FlowcapError, InputError
from flowcap.io.pseudonym import key_file_path
from flowcap.progress import Progress as ProgressFn

app = typer.Typer(
    name="flowcap",
    help="Demand, capacity, activity and backlog planning for public services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


err = Console(stderr=True, highlight=False, soft_wrap=True)


ServiceDir = Annotated[
    Path | None,
    typer.Argument(
        help="The service folder (service.yaml and data files); leave out with --service.",
        show_default=False,
    ),
]


ServiceName = Annotated[
    str | None,
    typer.Option(
        "--service",
        help="A service in the store, by name, instead of a folder (the store: "
        "FLOWCAP_DATABASE_URL, else the default store; see `flowcap services`).",
        show_default=False,
    ),
]


def _checked_chart(path: Path | None, suffixes: tuple[str, ...]) -> Path | None:
    """--chart checked before any work (the library's rule, :func:`flowcap.checks.check_chart`)."""
    try:
        check_chart(path, suffixes=suffixes)
    except ArgumentError as exc:
        raise typer.BadParameter(exc.rule, param_hint="--chart") from None
    return path


def _chart_file(value: Path | None) -> Path | None:
    return _checked_chart(value, CHART_SUFFIXES)


def _map_file(value: Path | None) -> Path | None:
    return _checked_chart(value, PROCESS_MAP_SUFFIXES)


Chart = Annotated[
    Path | None,
    typer.Option("--chart", help="Write the chart to FILE.html or FILE.png.", callback=_chart_file),
]
MapChart = Annotated[
    Path | None,
    typer.Option("--chart", help="Write the map to FILE.svg, .png or .html.", callback=_map_file),
]


AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout, nothing else.")]


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise FlowcapError(f"{option} {value!r} is not a date (use YYYY-MM-DD)") from None


#: The flag of each library parameter whose name is not simply ``--`` + its name.
FLAGS = {"risk_target": "--risk", "ks": "--k", "end": "--to"}


@contextmanager
def _errors_to_exit(flags: dict[str, str] | None = None) -> Iterator[None]:
    """Turn flowcap's own errors into a message on stderr and exit code 1 (no traceback).

    An :class:`~flowcap.checks.ArgumentError` names the library's parameter: it is printed
    with the command's flag for it (``flags``, then :data:`FLAGS`, else ``--name-like-this``).
    """
    try:
        yield
    except ArgumentError as exc:
        known = {**FLAGS, **(flags or {})}
        flag = known.get(exc.parameter, "--" + exc.parameter.replace("_", "-"))
        err.print(f"[bold red]error:[/] {escape(flag)} {escape(exc.rule)}")
        raise typer.Exit(1) from None
    except InputError as exc:
        err.print(f"[bold red]{len(exc.problems)} problem(s) found:[/]")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(1) from None
    except FlowcapError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        cause = escape(str(exc.__cause__ or exc))
        err.print(f"[bold red]store error:[/] {type(exc).__name__}: {cause}")
        raise typer.Exit(1) from None
    except OSError as exc:
        message = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        err.print(f"[bold red]error:[/] {escape(message)}")
        raise typer.Exit(1) from None
    except ImportError as exc:
        err.print(
            f"[bold red]error:[/] {escape(str(exc))}. For PostgreSQL use a postgresql+psycopg:// "
            "URL (pip install 'flowcap\\[postgres]')"
        )
        raise typer.Exit(1) from None
    except MemoryError:
        err.print(
            "[bold red]error:[/] out of memory: ask for less (fewer replications, a shorter "
            "horizon or fewer hours, a shorter span of days)"
        )
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
def _progress(enabled: bool = True) -> Iterator[ProgressFn]:
    """A progress bar on stderr that names the step a long command is on."""
    if not enabled or not err.is_terminal:
        yield lambda *_: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("Starting", total=None)

        def update(step: str, done: int | None = None, total: int | None = None) -> None:
            # With a count the bar fills (replications, options, resources); without, it
            # names the step and pulses.
            if total is None:
                bar.update(task, description=step, total=None, advance=1)
            else:
                bar.update(task, description=step, total=total, completed=done)

        yield update


@contextmanager
def running(flags: dict[str, str] | None = None) -> Iterator[ProgressFn]:
    """What every command on a service wraps its work in: errors to a message and exit code
    1, the key notice, and a progress bar; yields the progress callback."""
    with _errors_to_exit(flags), _key_notice(), _progress() as progress:
        yield progress


def open_history(service_dir: Path | None, service: str | None, progress: ProgressFn):
    """The service a command works on: its folder, or ``--service NAME`` in the store."""
    from flowcap.history import open_folder, open_stored

    if _one_source(service_dir, service):
        return open_folder(service_dir, progress=progress, warn=_note)
    return open_stored(service, progress=progress)


def _one_source(service_dir: Path | None, service: str | None) -> bool:
    """True for a folder, False for a stored service; a usage error for both or neither."""
    if (service_dir is None) == (service is None):
        raise FlowcapError(
            "give a service folder, or --service NAME for a service in the store (not both)"
        )
    return service_dir is not None


def _note(note: str) -> None:
    """Something the user should know that does not stop the command (stderr, in yellow)."""
    err.print("[yellow]note:[/] ", end="")
    err.print(note, markup=False, highlight=False)


def _cell(value, spec: str) -> str:
    """A statistic for a table cell, or "-" where there is none (None or NaN)."""
    return "-" if value is None or value != value else format(value, spec)
