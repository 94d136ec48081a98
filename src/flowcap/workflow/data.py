"""The steps a user runs on a service folder's data: check, import, measure, erase."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from flowcap.errors import FlowcapError
from flowcap.io import ServiceFolder, read_service_folder, read_service_yaml
from flowcap.io.eventlog import EventLogConfig, read_event_log
from flowcap.io.folder import file_hashes
from flowcap.io.pseudonym import load_key
from flowcap.io.scenarios_yaml import read_scenarios
from flowcap.measures import DailyMeasures, daily_measures
from flowcap.model.service import Service
from flowcap.processmap import ProcessMap, process_map
from flowcap.store import ImportReport, Store, StoredData

TEMPLATE = Path(__file__).parent.parent / "io" / "template"


#: Told each step of a long run: ``progress(step)``, or ``progress(step, done, total)`` when
#: the run knows how far along it is (the CLI then fills its bar).
Progress = Callable[..., None]


def _quiet(*_: object) -> None:
    pass


def init_folder(folder: str | Path) -> list[Path]:
    """Write a commented template service folder; refuse to overwrite existing files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    targets = [
        (source, folder / source.name)
        for source in sorted(TEMPLATE.iterdir())
        if source.suffix in (".yaml", ".csv")
    ]
    existing = [target.name for _, target in targets if target.exists()]
    if existing:
        raise FlowcapError(f"{folder} already has {', '.join(existing)}; not overwriting")
    for source, target in targets:
        shutil.copyfile(source, target)
    return [target for _, target in targets]


def validate_folder(folder: str | Path) -> ServiceFolder:
    """Check a service folder without importing it; raises ``InputError`` listing every problem.

    ``scenarios.yaml``, when present, is checked against the service too.
    """
    checked = read_service_folder(folder)
    options = Path(folder) / "scenarios.yaml"
    if options.is_file():
        read_scenarios(options, checked.service)
    return checked


def import_folder(
    folder: str | Path, progress: Progress = _quiet, warn: Progress = _quiet
) -> ImportReport:
    """Check a folder and import what changed since the last import, in one transaction.

    ``warn`` receives the folder's notes (columns ignored, event-log activities that are not
    work, ...): things the user should know that do not stop the import.
    """
    progress("Checking files")
    checked = read_service_folder(folder)
    for note in checked.notes:
        warn(note)
    key = load_key()
    progress("Importing")
    store = Store.for_folder(folder)
    try:
        return store.import_folder(checked, key)
    finally:
        store.close()


def measure_folder(
    folder: str | Path,
    start: date | None = None,
    end: date | None = None,
    progress: Progress = _quiet,
    warn: Progress = _quiet,
) -> DailyMeasures:
    """Import what is new, then compute the daily measures; the table covers ``start``..``end``.

    Measuring always runs from the first day of data, so the backlog on ``start`` is right.
    ``warn`` receives the folder's notes when something new was imported.
    """
    if start is not None and end is not None and start > end:
        raise FlowcapError(f"--from {start} is after --to {end}")
    _, data, measures = _measure(folder, end, progress, warn=warn)
    if measures.recorded and end is not None:
        last = max(data.sessions["date"].max(), data.referrals["referral_date"].max())
        if pd.Timestamp(end) > last:
            raise FlowcapError(
                f"--to {end} is after the last recorded data ({last:%Y-%m-%d}): no activity is "
                "recorded after it, so the backlog would only grow"
            )
    measures.table = measures.between(start, end)
    if measures.table.empty:
        span = f"from {start}" if end is None else f"between {start or 'the start'} and {end}"
        raise FlowcapError(
            f"no days {span}: the measures run from the first referral date to the last day of data"
        )
    return measures


def _measure(
    folder: str | Path, until: date | None, progress: Progress, *, warn: Progress = _quiet
) -> tuple[Service, StoredData, DailyMeasures]:
    """Import what changed, load the store and measure: the service, its data and measures.

    A folder whose service.yaml has ``event_log:`` is imported from its log (see
    :mod:`flowcap.io.folder`); the log's bytes and its settings decide what is new.
    """
    service = read_service_yaml(Path(folder) / "service.yaml")
    key = load_key()
    store = Store.for_folder(folder)
    try:
        # Reading and checking a large export takes seconds; skip it when nothing changed.
        if not store.is_current(service.name, file_hashes(folder, service)):
            progress("Importing what is new")
            checked = read_service_folder(folder)
            for note in checked.notes:
                warn(note)
            service = checked.service
            store.import_folder(checked, key)
        progress("Reading the store")
        data = store.load(service.name)
    finally:
        store.close()
    progress("Measuring")
    return service, data, daily_measures(service, data, until=until)


def erase_case(folder: str | Path, case_id: str) -> dict[str, int]:
    """Remove one person's records from the store (right to erasure); rows removed per table."""
    service = read_service_yaml(Path(folder) / "service.yaml")
    key = load_key(create=False)
    store = Store.for_folder(folder)
    try:
        return store.erase(service.name, case_id, key)
    finally:
        store.close()


def _history(folder: str | Path, progress: Progress):
    """The service, its stored data and measures; data without measures when there is no
    history (every case type then carries a ``demand`` model)."""
    checked = read_service_folder(folder)
    if checked.referrals.empty:
        empty = checked.referrals.rename(columns={"case_id": "case_key"})
        waiting = checked.waiting.rename(columns={"case_id": "case_key"})
        return checked.service, StoredData(empty, waiting, checked.roster, None), None
    return _measure(folder, None, progress)


def event_log_source(
    log_or_folder: str | Path, **given: str | None
) -> tuple[Path, EventLogConfig, str]:
    """Where an event log is and how to read it: ``(path, config, service time zone)``.

    ``log_or_folder`` is a log file, or a service folder whose service.yaml has
    ``event_log:`` (its column names, delimiter and time zone are used, and the service's
    time zone is the default). ``given`` are settings the user gave (``case_id``,
    ``activity``, ``timestamp``, ``timezone``, ``delimiter``; ``None`` = not given), which
    override the folder's.
    """
    path = Path(log_or_folder)
    given = {name: value for name, value in given.items() if value is not None}
    if not path.is_dir():
        return path, _log_config({"file": str(path)}, given), "Europe/London"
    service = read_service_yaml(path / "service.yaml")
    if service.event_log is None:
        raise FlowcapError(
            f"{path / 'service.yaml'} has no event_log: section; give the event log file "
            "itself, or add event_log: {file: ...} to service.yaml"
        )
    config = _log_config(service.event_log.model_dump(), given)
    return config.path_in(path), config, service.timezone


def _log_config(settings: dict, given: dict) -> EventLogConfig:
    try:
        return EventLogConfig(**{**settings, **given})
    except ValidationError as error:
        reasons = "; ".join(
            f"--{'-'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}"
            for e in error.errors()
        )
        raise FlowcapError(reasons) from None


def process_map_of(
    log: str | Path,
    config: EventLogConfig | None = None,
    *,
    service_timezone: str = "Europe/London",
    progress: Progress = _quiet,
) -> ProcessMap:
    """The process map of an event log (XES, CSV or XLSX), case ids pseudonymised on reading.

    Where the log records lifecycle transitions (XES, or ``config.lifecycle``), only complete
    events are mapped; :attr:`ProcessMap.left_out` counts the others.
    """
    progress("Reading the event log")
    events = read_event_log(
        Path(log), config, service_timezone=service_timezone, key=load_key()
    ).sorted_events()
    progress("Mapping the process")
    return process_map(events)
