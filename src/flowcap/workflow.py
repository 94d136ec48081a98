"""The steps a user runs on a service folder, end to end: check, import, measure, erase.

Each is a plain function so the CLI, a notebook and (later) the web app call the same code.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

from flowcap.errors import FlowcapError
from flowcap.io import ServiceFolder, read_service_folder, read_service_yaml
from flowcap.io.folder import file_hashes
from flowcap.io.pseudonym import load_key
from flowcap.measures import DailyMeasures, daily_measures
from flowcap.store import ImportReport, Store

TEMPLATE = Path(__file__).with_name("io") / "template"
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
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
    """Check a service folder without importing it; raises ``InputError`` listing every problem."""
    return read_service_folder(folder)


def import_folder(folder: str | Path, progress: Progress = _quiet) -> ImportReport:
    """Check a folder and import what changed since the last import, in one transaction."""
    progress("Checking files")
    checked = read_service_folder(folder)
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
) -> DailyMeasures:
    """Import what is new, then compute the daily measures; the table covers ``start``..``end``.

    Measuring always runs from the first day of data, so the backlog on ``start`` is right.
    """
    if start is not None and end is not None and start > end:
        raise FlowcapError(f"--from {start} is after --to {end}")
    service = read_service_yaml(Path(folder) / "service.yaml")
    key = load_key()
    store = Store.for_folder(folder)
    try:
        # Reading and checking a large export takes seconds; skip it when nothing changed.
        if not store.is_current(service.name, file_hashes(folder)):
            progress("Importing what is new")
            checked = read_service_folder(folder)
            service = checked.service
            store.import_folder(checked, key)
        progress("Reading the store")
        data = store.load(service.name)
    finally:
        store.close()
    progress("Measuring")
    measures = daily_measures(service, data, until=end)
    measures.table = measures.between(start, end)
    if measures.table.empty:
        raise FlowcapError(
            f"no days between {start} and {end}: the data run from the first referral date onwards"
        )
    return measures


def erase_case(folder: str | Path, case_id: str) -> dict[str, int]:
    """Remove one person's records from the store (right to erasure); rows removed per table."""
    service = read_service_yaml(Path(folder) / "service.yaml")
    key = load_key(create=False)
    store = Store.for_folder(folder)
    try:
        return store.erase(service.name, case_id, key)
    finally:
        store.close()
