"""The Typer app and what every command shares: consoles, argument types, error handling,
the pseudonymisation-key notice and the progress bar.

Human output goes through Rich; ``--json`` prints only JSON on stdout and everything else
(progress, warnings) on stderr.

Two rules keep the console safe and the start quick:

- Every string printed passes through :func:`printable` (control characters and terminal
  escape sequences out: a name cannot retitle the terminal or hide text); user text placed
  inside the CLI's own markup is still escaped with :func:`rich.markup.escape`.
- This module and the command modules import only Typer, Rich and flowcap's light modules
  (errors, checks, progress) when they load; each command imports the library it calls
  inside its body, so ``flowcap --help`` loads neither pandas nor SQLAlchemy
  (tests/test_cli_startup.py).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.errors import MarkupError
from rich.markup import escape
from typer.core import TyperGroup
from typer.exceptions import TyperException

from flowcap.checks import CHART_SUFFIXES, PROCESS_MAP_SUFFIXES, ArgumentError, check_chart
from flowcap.errors import FlowcapError, InputError, shorten_quotes
from flowcap.progress import Progress as ProgressFn

#: Terminal escape sequences (CSI ``ESC [ ... final``, OSC/DCS/APC/PM/SOS strings ended by BEL
#: or ST, two-character ``ESC x``), their 8-bit forms, and every other C0/C1 control character
#: but tab and newline.
_CONTROL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)"  # strings
    r"|\x1b[ -~]?"  # ESC and one character
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # any other control character
)


def printable(text: str) -> str:
    """``text`` without control characters or terminal escape sequences (tab and newline
    kept): what the console prints of any string, so a name cannot drive the terminal."""
    return _CONTROL.sub("", text)


#: Print a string whose markup does not parse as plain text rather than fail. A test turns it
#: off, so that user text left unescaped inside the CLI's markup fails there.
MARKUP_FALLBACK = True


class SafeConsole(Console):
    """A Rich console that strips control characters from every string it renders (printed,
    a table's title, caption or cell) before parsing its markup."""

    def render_str(self, text: str, **kwargs):
        text = printable(text)
        try:
            return super().render_str(text, **kwargs)
        except MarkupError:
            if not MARKUP_FALLBACK:
                raise
            return super().render_str(text, **{**kwargs, "markup": False})


class FlowcapGroup(TyperGroup):
    """The ``flowcap`` command group: any exception a command lets through becomes a one-line
    error and exit code 1 (the traceback only with ``flowcap --debug``); usage errors stay
    Click's (exit code 2)."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except PASSED_THROUGH:
            raise
        except Exception as exc:
            if _debug():
                raise
            _report(exc)
            raise typer.Exit(1) from None


#: What Typer handles itself: usage errors (exit 2; all are TyperExceptions), exits, aborts.
PASSED_THROUGH = (TyperException, typer.Exit, typer.Abort)

app = typer.Typer(
    name="flowcap",
    cls=FlowcapGroup,
    help="Demand, capacity, activity and backlog planning for public services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="On an error, print the traceback (for a bug report)."),
    ] = False,
    allow_insecure_key: Annotated[
        bool,
        typer.Option(
            "--allow-insecure-key",
            help="Use a key file that others may read (refused otherwise: chmod 600 it).",
        ),
    ] = False,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            metavar="SECONDS",
            envvar="FLOWCAP_TIME_LIMIT",
            help="Stop the command with an error after this many seconds (wall clock).",
        ),
    ] = None,
) -> None:
    """Demand, capacity, activity and backlog planning for public services."""
    _state["debug"] = debug
    if allow_insecure_key:  # read where the key is loaded, by every command that loads it
        os.environ["FLOWCAP_ALLOW_INSECURE_KEY"] = "1"
    if time_limit is not None:
        from flowcap.budget import cancel_time_limit, start_time_limit

        start_time_limit(time_limit)
        ctx.call_on_close(cancel_time_limit)


def _debug() -> bool:
    return _state["debug"]


out = SafeConsole(highlight=False, width=None if sys.stdout.isatty() else 120)


err = SafeConsole(stderr=True, highlight=False, soft_wrap=True)


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
    Any other exception is left to :class:`FlowcapGroup`, which prints it in one line.
    """
    try:
        yield
    except PASSED_THROUGH:
        raise
    except Exception as exc:
        if _debug() or not _report(exc, flags, expected_only=True):
            raise
        raise typer.Exit(1) from None


def _report(exc: Exception, flags: dict[str, str] | None = None, expected_only=False) -> bool:
    """Print ``exc`` on stderr as an error message; False (and nothing printed) for an
    exception flowcap does not expect when ``expected_only``."""
    if isinstance(exc, ArgumentError):
        known = {**FLAGS, **(flags or {})}
        flag = known.get(exc.parameter, "--" + exc.parameter.replace("_", "-"))
        err.print(f"[bold red]error:[/] {escape(flag)} {escape(exc.rule)}")
    elif isinstance(exc, InputError):
        err.print(f"[bold red]{len(exc.problems)} problem(s) found:[/]")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
    elif isinstance(exc, FlowcapError):
        err.print(f"[bold red]error:[/] {escape(shorten_quotes(str(exc)))}")
    elif _is_store_error(exc):
        cause = escape(_one_line(str(exc.__cause__ or exc)))
        err.print(f"[bold red]store error:[/] {type(exc).__name__}: {cause}")
    elif isinstance(exc, OSError):
        message = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        err.print(f"[bold red]error:[/] {escape(_one_line(message))}")
    elif isinstance(exc, ImportError):
        err.print(
            f"[bold red]error:[/] {escape(_one_line(str(exc)))}. For PostgreSQL use a "
            "postgresql+psycopg:// URL (pip install 'flowcap\\[postgres]')"
        )
    elif isinstance(exc, MemoryError):
        err.print(
            "[bold red]error:[/] out of memory: ask for less (fewer replications, a shorter "
            "horizon or fewer hours, a shorter span of days)"
        )
    elif expected_only:
        return False
    else:
        detail = _one_line(str(exc))
        err.print(
            f"[bold red]error:[/] unexpected {type(exc).__name__}"
            + (f": {escape(detail)}" if detail else "")
            + " (a fault in flowcap: run again as `flowcap --debug ...` to see where, and "
            "report it)"
        )
    return True


def _is_store_error(exc: Exception) -> bool:
    """A SQLAlchemy error, told without importing SQLAlchemy (a command that never loaded it
    cannot have raised one)."""
    module = sys.modules.get("sqlalchemy.exc")
    return module is not None and isinstance(exc, module.SQLAlchemyError)


#: The most characters of an exception's text an error line quotes.
MAX_ERROR_CHARS = 300


def _one_line(text: str) -> str:
    """The first line of ``text``, cut to :data:`MAX_ERROR_CHARS` characters."""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > MAX_ERROR_CHARS:
        return first[:MAX_ERROR_CHARS] + f"… ({len(first):,} characters)"
    return first + (" …" if len(lines) > 1 else "")


@contextmanager
def _key_notice() -> Iterator[None]:
    """Tell the user, once, that a pseudonymisation key was created and must be backed up."""
    from flowcap.io.pseudonym import key_file_path

    path = key_file_path()
    existed = bool(os.environ.get("FLOWCAP_KEY")) or path.exists()
    yield
    if not existed and path.exists():
        err.print(
            f"[yellow]note:[/] created the pseudonymisation key {escape(str(path))} (mode 600). "
            "Back it up: "
            "the store refuses imports under another key."
        )


@contextmanager
def _progress(enabled: bool = True) -> Iterator[ProgressFn]:
    """A progress bar on stderr that names the step a long command is on."""
    if not enabled or not err.is_terminal:
        yield lambda *_: None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("Starting", total=None)

        def update(step: str, done: int | None = None, total: int | None = None) -> None:
            # With a count the bar fills (replications, options, resources); without, it
            # names the step and pulses. The column parses markup and prints as it is.
            step = escape(printable(step))
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
