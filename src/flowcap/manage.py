"""What a user does to the store rather than with a service: start and check a folder, import
it, save a setting, erase a person, list what the store holds.

The analyses open a service with :func:`flowcap.open`; these verbs change what it will find.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from flowcap.errors import FlowcapError, InputError, Problem, StoreError
from flowcap.io.folder import (
    ServiceFolder,
    not_a_folder,
    parse_settings,
    read_service_folder,
)
from flowcap.io.pseudonym import load_key
from flowcap.io.service_yaml import read_service_yaml
from flowcap.io.source import read_once
from flowcap.progress import Progress, quiet
from flowcap.store import ImportReport, Store, database_url, default_database_url
from flowcap.store.schema import SETTINGS

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
    progress("Checking files")
    with read_once():
        checked = read_service_folder(folder)
    for note in checked.notes:
        warn(note)
    key = load_key()
    progress("Importing")
    store = _open_store(database_url or _folder_url(folder))
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
        Listing the content's problems (nothing is saved).
    StoreError
        For settings of a service the store does not hold, or a service.yaml whose name is
        not ``service_name`` (a rename is a new service).
    """
    if kind not in SETTINGS:
        raise InputError([Problem(kind, f"unknown settings kind; kinds: {', '.join(SETTINGS)}")])
    file_name = file_name or SETTINGS[kind]
    url = database_url or default_database_url(create=kind == "service")
    store = _open_store(url)
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
        else:
            stored = store.settings(service_name)["service"]
            service = read_service_yaml(Path(stored["file_name"]), stored["content"])
            if content is not None:
                parse_settings(kind, file_name, content, service)
        return store.save_setting(service_name, kind, file_name, content, saved_by)
    finally:
        store.close()


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
        url = database_url or _folder_url(path)
    key = load_key(create=False)
    store = _open_store(url)
    try:
        return store.erase(name, case_id, key)
    finally:
        store.close()


def list_services(database_url: str | None = None) -> tuple[str, list[dict]]:
    """What a store holds: its location (password hidden) and, per service, its name, last
    change, rows per table and settings versions (:meth:`flowcap.store.Store.services`)."""
    store = _open_store(database_url or default_database_url(create=False))
    try:
        return store.where(), store.services()
    finally:
        store.close()


def _open_store(url: str) -> Store:
    store = Store(url)
    store.migrate()
    return store


def _folder_url(folder: str | Path) -> str:
    return database_url(folder)
