"""What a user does to the store rather than with a service: start and check a folder, import
it, save a setting, erase a person, list what the store holds.

The analyses open a service with :func:`flowcap.open`; these verbs change what it will find.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from flowcap.errors import FlowcapError, InputError, Problem, StoreError
from flowcap.history import ServiceHistory, open_stored
from flowcap.io.folder import (
    ServiceFolder,
    not_a_folder,
    parse_settings,
    read_service_folder,
)
from flowcap.io.pseudonym import load_key
from flowcap.io.service_yaml import read_service_yaml
from flowcap.io.source import read_once
from flowcap.model import Service
from flowcap.progress import Progress, quiet
from flowcap.store import ImportReport, Store, default_database_url
from flowcap.store import database_url as folder_database_url
from flowcap.store.schema import DATA_TABLES, SETTINGS

TEMPLATE = Path(__file__).parent / "io" / "template"


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
    """Check a service folder, its scenarios.yaml and school holidays too, without importing
    it; raises ``InputError`` listing every problem."""
    with read_once():
        return read_service_folder(folder)


def validate_stored(
    name: str, *, database_url: str | None = None, progress: Progress = quiet
) -> ServiceHistory:
    """Check that a stored service still holds under this flowcap: its settings parse and its
    tables measure (the store: ``database_url``, ``FLOWCAP_DATABASE_URL`` or the default).

    Raises
    ------
    StoreError
        For a name the store does not hold, or stored data that no longer measures (the
        message says why).
    InputError
        For stored settings that no longer parse.
    """
    history = open_stored(name, database_url, progress)
    if history.has_history:
        progress("Measuring the stored data")
        try:
            history.measures  # noqa: B018 (computing them is the check)
        except FlowcapError as error:
            raise StoreError(
                f"{history.where()}: the stored data does not measure: {error}"
            ) from None
    return history


def import_folder(
    folder: str | Path,
    *,
    database_url: str | None = None,
    progress: Progress = quiet,
    warn: Progress = quiet,
) -> ImportReport:
    """Check a folder and import what changed since the last import (its tables, settings
    and event log), in one transaction; ``warn`` receives the folder's notes.

    The store: ``database_url``, else ``FLOWCAP_DATABASE_URL``, else the folder's own
    ``.flowcap/flowcap.db`` (the report says which).
    """
    if not Path(folder).is_dir():
        raise not_a_folder(Path(folder), by_name=False)  # an import needs the folder itself
    progress("Checking files")
    with read_once():
        checked = read_service_folder(folder)
    for note in checked.notes:
        warn(note)
    key = load_key()
    progress("Importing")
    store = Store.open(database_url or folder_database_url(folder))
    try:
        return store.import_folder(checked, key)
    finally:
        store.close()


def save_settings(
    service_name: str,
    kind: str,
    content: bytes | None,
    *,
    file_name: str | None = None,
    database_url: str | None = None,
    saved_by: str | None = None,
) -> int | None:
    """Save a new version of a stored service's settings, checked first as an import would
    check the file: ``kind`` is ``service`` (service.yaml; saving one for a new name creates
    the service, with no data yet), ``scenarios`` or ``school_holidays``; ``content`` the
    file's bytes, or ``None`` to remove the file. Returns the version saved, or ``None`` when
    it equals the last one.

    Raises
    ------
    InputError
        Listing the content's problems (nothing is saved). A service.yaml for a stored service
        must still define every case type and resource its stored rows name, must still read
        its stored scenarios and school holidays, and may not change how a stored event log
        is read (``event_log:``, or ``timezone`` for a log without its own): that takes the
        log itself, so import the folder instead.
    StoreError
        For settings of a service the store does not hold, or a service.yaml whose name is
        not ``service_name`` (a rename is a new service).
    """
    if kind not in SETTINGS:
        raise InputError([Problem(kind, f"unknown settings kind; kinds: {', '.join(SETTINGS)}")])
    file_name = file_name or SETTINGS[kind]
    creating = kind == "service"  # a service.yaml may make a service, and its store
    url = database_url or default_database_url(create=creating)
    store = Store.open(url, existing=not creating)
    try:
        if kind == "service":
            if content is None:
                raise InputError([Problem(file_name, "a service cannot be without service.yaml")])
            service = read_service_yaml(Path(file_name), content)
            if service.name != service_name:
                raise StoreError(
                    f"{file_name} names the service {service.name!r}, not {service_name!r}: "
                    "a new name is a new service"
                )
            listed = {entry["name"]: entry for entry in store.services()}
            if service_name in listed:
                _check_against_stored(store, listed[service_name], service, file_name)
        else:
            stored = store.settings(service_name)["service"]
            service = read_service_yaml(Path(stored["file_name"]), stored["content"])
            if content is not None:
                parse_settings(kind, file_name, content, service)
        return store.save_setting(service_name, kind, file_name, content, saved_by)
    finally:
        store.close()


def _check_against_stored(store: Store, entry: dict, service: Service, file_name: str) -> None:
    """Refuse a service.yaml that would leave the stored service unreadable; ``entry`` is
    the service's line of :meth:`Store.services`."""
    name = entry["name"]
    problems = []
    used = store.values_used(name)
    for column, defined, what in (
        ("case_type", service.case_types, "case type"),
        ("resource", service.resources, "resource"),
    ):
        missing = sorted(used[column] - set(defined))
        if missing:
            plural = "s" if len(missing) > 1 else ""
            problems.append(
                Problem(
                    file_name,
                    f"the stored data names the {what}{plural} {', '.join(map(repr, missing))}, "
                    f"which this file does not define; to rename a {what}, rename it in the "
                    "data as well and import the folder",
                )
            )
    try:
        stored = store.settings(name)
    except StoreError:  # imported by an older flowcap: no settings to compare with
        stored = {}
    if "service" in stored:
        before = read_service_yaml(
            Path(stored["service"]["file_name"]), stored["service"]["content"]
        )
        log_zone = before.event_log is not None and before.event_log.timezone is None
        if before.event_log != service.event_log or (
            log_zone and before.timezone != service.timezone
        ):
            if any(entry[table] for table in (*DATA_TABLES, "events")):
                problems.append(
                    Problem(
                        file_name,
                        "changes how the event log is read (event_log:, or the timezone its "
                        "times are read in), but the stored data was read the old way: import "
                        "the folder with its log instead",
                    )
                )
    for kind, row in stored.items():
        if kind != "service" and not problems:
            try:
                parse_settings(kind, row["file_name"], row["content"], service)
            except InputError as error:
                problems.append(
                    Problem(
                        file_name,
                        f"the stored {row['file_name']} no longer reads with it: "
                        + "; ".join(p.message for p in error.problems[:3]),
                    )
                )
    if problems:
        raise InputError(problems)


def erase_case(
    source: str | Path,
    case_id: str,
    *,
    database_url: str | None = None,
    by_name: bool = False,
) -> dict[str, int]:
    """Remove one person's records from the store (right to erasure); rows removed per table.

    ``source`` is the service folder or, with ``by_name``, the service's name in the store at
    ``database_url`` (by default ``FLOWCAP_DATABASE_URL`` or the default store).
    """
    if by_name:
        name, url = str(source), database_url or default_database_url(create=False)
    else:
        path = Path(source)
        if not path.is_dir():
            raise not_a_folder(path)
        name = read_service_yaml(path / "service.yaml").name
        url = database_url or folder_database_url(path, create=False)
    store = Store.open(url, existing=True)
    try:
        return store.erase(name, case_id, load_key(create=False))
    finally:
        store.close()


def list_services(database_url: str | None = None) -> tuple[str, list[dict]]:
    """What a store holds: its location (password hidden) and, per service, its name, last
    change, rows per table and settings versions (:meth:`flowcap.store.Store.services`)."""
    store = Store.open(database_url or default_database_url(create=False), existing=True)
    try:
        return store.where(), store.services()
    finally:
        store.close()
