"""Run a sweep's cells on Dask distributed: a local cluster, or an existing one by address.

:func:`run_sweep` opens each service once, here (its folder imported, or its stored history
read), builds its baseline model, skips the cells an earlier run of the same sweep already
finished (``out``), and sends the rest to the workers with the model they need: workers
never open a folder or the store, so a cluster's workers need flowcap installed and nothing
else. Results come back as they finish and are put in the sweep's order, so the table is
the same on one worker or many, and the same as running the cells one by one
(``workers=0``, in this process).

A cell that raises is tried again, up to the sweep's ``retries`` more times (on Dask, also
when its worker dies), then reported in ``failed`` with its error and the tries it had: never
dropped. A service that does not open fails each of its cells with the reason, untried.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from flowcap.checks import ArgumentError
from flowcap.errors import FlowcapError, InputError
from flowcap.progress import Progress, quiet
from flowcap.sweep.cell import PreparedService, Settings, open_source, prepare_service, run_cell
from flowcap.sweep.file import Sweep
from flowcap.sweep.grid import Cell, cells
from flowcap.sweep.results import Finished, Outcome, SweepResult, cell_key

if TYPE_CHECKING:
    from distributed import Client

#: What runs one cell: ``runner(prepared, cell, settings) -> rows`` (tests put a flaky one in).
CellRunner = Callable[[PreparedService, Cell, Settings], list[dict]]
#: The most characters of an error kept for a failed cell.
MAX_ERROR_CHARS = 500


class CellError(Exception):
    """A cell's failure as it crosses from a worker: its error as one line of text (the
    original exception may not survive pickling whole)."""


def run_sweep(
    sweep: Sweep,
    *,
    base: Path = Path("."),
    out: Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Client | None = None,
    progress: Progress = quiet,
    warn: Progress = quiet,
    runner: CellRunner = run_cell,
) -> SweepResult:
    """Run every cell of ``sweep``; the outcomes in the sweep's order.

    Parameters
    ----------
    base : the folder the sweep's relative service folders are in (the sweep file's).
    out : keep each finished cell there as it finishes, and skip those an earlier run kept
        (:class:`~flowcap.sweep.results.Finished`); ``None``: keep nothing.
    workers : processes of the local Dask cluster started for the sweep (by default one per
        CPU); 0 runs the cells one by one in this process, without Dask.
    scheduler : the address of a running Dask scheduler (``tcp://host:8786``) to use instead.
    client : a connected :class:`distributed.Client` to use instead (tests share one).
    progress : told ``(step, done, total)`` as cells finish; ``warn`` each note and failure.
    runner : what runs one cell (:func:`~flowcap.sweep.cell.run_cell`).
    """
    _check_workers(workers, scheduler)
    prepared, broken = _prepare(sweep, base, progress, warn)
    return run_cells(
        sweep,
        prepared,
        broken=broken,
        out=out,
        workers=workers,
        scheduler=scheduler,
        client=client,
        progress=progress,
        warn=warn,
        runner=runner,
    )


def _check_workers(workers: int | None, scheduler: str | None) -> None:
    if workers is not None and workers < 0:
        raise ArgumentError("workers", f"must be 0 or more, not {workers}")
    if scheduler is not None and workers is not None:
        raise ArgumentError("workers", "sizes a local cluster: leave it out with --scheduler")


def run_cells(
    sweep: Sweep,
    prepared: dict[str, PreparedService],
    *,
    broken: dict[str, str] | None = None,
    out: Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Client | None = None,
    progress: Progress = quiet,
    warn: Progress = quiet,
    runner: CellRunner = run_cell,
) -> SweepResult:
    """:func:`run_sweep` on services already prepared (:func:`~flowcap.sweep.cell.prepare_service`,
    by the sweep's names); ``broken``: the reason of each service that did not open (its
    cells fail with it). A benchmark's synthetic services come in this way."""
    _check_workers(workers, scheduler)
    broken = broken or {}
    settings = Settings.of(sweep)
    finished = Finished(out) if out is not None else None
    outcomes: dict[int, Outcome] = {}
    todo: list[tuple[Cell, str]] = []
    for cell in cells(sweep):
        if cell.service in broken:
            outcomes[cell.index] = Outcome(cell, error=broken[cell.service], attempts=0)
            continue
        model = prepared[cell.service]
        key = cell_key(cell, model, settings)
        record = finished.get(key) if finished is not None else None
        if record is not None:
            outcomes[cell.index] = Outcome(
                cell,
                rows=record["rows"],
                start=record["start"],
                horizon_days=record["horizon_days"],
                resumed=True,
            )
        else:
            todo.append((cell, key))
    total = len(outcomes) + len(todo)
    if outcomes:
        progress(f"{len(outcomes)} of {total} cells kept from an earlier run", len(outcomes), total)

    def finish(cell: Cell, key: str, rows: list[dict] | None, error: str | None, tries: int):
        model = prepared[cell.service]
        if rows is None:
            outcome = Outcome(cell, error=error, attempts=tries)
            warn(f"cell {cell.index + 1} ({cell.label()}) failed after {tries} tries: {error}")
        else:
            outcome = Outcome(
                cell, rows=rows, start=model.start.isoformat(), horizon_days=model.spec.horizon_days
            )
            if finished is not None:
                finished.keep(key, outcome)
        outcomes[cell.index] = outcome
        progress(f"{len(outcomes)} of {total} cells done", len(outcomes), total)

    if todo:
        if workers == 0 and client is None:
            _run_here(todo, prepared, settings, sweep.retries, runner, finish)
        else:
            with _client(client, scheduler, workers) as connected:
                _run_on_dask(connected, todo, prepared, settings, sweep.retries, runner, finish)
    return SweepResult(sweep, [outcomes[i] for i in sorted(outcomes)])


def _prepare(
    sweep: Sweep, base: Path, progress: Progress, warn: Progress
) -> tuple[dict[str, PreparedService], dict[str, str]]:
    """Each service opened and modelled once; the reasons of those that would not."""
    prepared: dict[str, PreparedService] = {}
    broken: dict[str, str] = {}
    for k, source in enumerate(sweep.services, start=1):
        progress(f"Opening service {k} of {len(sweep.services)}: {source}")
        try:
            history = open_source(source, base, warn=warn)
            prepared[source] = prepare_service(history, source, sweep, warn)
        except (FlowcapError, OSError, ValueError) as exc:
            broken[source] = f"the service could not be opened and modelled: {describe(exc)}"
            warn(f"{source}: {broken[source]}")
    return prepared, broken


def describe(exc: BaseException) -> str:
    """An error as one line for the failed list: flowcap's own message (an input error's
    problems joined by "; "), else the exception's type and first line."""
    if isinstance(exc, CellError):
        return str(exc)
    if isinstance(exc, InputError):
        text = "; ".join(str(p) for p in exc.problems)
    elif isinstance(exc, ArgumentError):
        text = f"{exc.parameter} {exc.rule}"
    elif isinstance(exc, FlowcapError):
        text = str(exc)
    else:
        first = (str(exc).strip().splitlines() or [""])[0]
        text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "…"


def _attempt(runner: CellRunner, prepared: PreparedService, cell: Cell, settings: Settings):
    """One try of a cell on a worker; its error as a :class:`CellError` (so Dask retries it
    and its text crosses back whole)."""
    try:
        return runner(prepared, cell, settings)
    except Exception as exc:
        raise CellError(describe(exc)) from None


def _run_here(todo, prepared, settings, retries, runner, finish) -> None:
    """The cells one by one in this process, each tried up to 1 + ``retries`` times."""
    for cell, key in todo:
        error = None
        for tries in range(1, retries + 2):
            try:
                rows = _attempt(runner, prepared[cell.service], cell, settings)
            except CellError as exc:
                error = str(exc)
                continue
            finish(cell, key, rows, None, tries)
            break
        else:
            finish(cell, key, None, error, retries + 1)


def _run_on_dask(client, todo, prepared, settings, retries, runner, finish) -> None:
    """The cells as Dask tasks (each service's model sent to the cluster once), gathered as
    they finish."""
    from distributed import as_completed

    models = {
        source: client.scatter(model, hash=False)
        for source, model in prepared.items()
        if any(cell.service == source for cell, _ in todo)
    }
    futures = {}
    for cell, key in todo:
        future = client.submit(
            _attempt,
            runner,
            models[cell.service],
            cell,
            settings,
            retries=retries,
            pure=False,
            key=f"flowcap-sweep-cell-{cell.index}-{key[:16]}",
        )
        futures[future] = (cell, key)
    for future in as_completed(futures):
        cell, key = futures.pop(future)
        if future.status == "finished":
            finish(cell, key, future.result(), None, None)
        else:
            exc = future.exception()
            finish(cell, key, None, describe(exc), retries + 1)
        future.release()


@contextmanager
def _client(client, scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """The client given, one connected to ``scheduler``, or one on a new local cluster of
    ``workers`` single-threaded processes (closed afterwards)."""
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            connected = Client(scheduler, timeout="20s")
        except (OSError, ValueError) as exc:
            raise FlowcapError(
                f"could not reach the Dask scheduler at {scheduler}: {describe(exc)}"
            ) from None
        with connected:
            yield connected
        return
    n = workers if workers is not None else (os.cpu_count() or 1)
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected
