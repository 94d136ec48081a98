"""What a user does to the store rather than with a service: start and check a folder, import
it, save a setting, erase a person, list what the store holds.

The analyses open a service with :func:`flowcap.open`; these verbs change what it will find.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from flowcap.errors import FlowcapError, InputError, Problem, StoreError
from flowcap.history import ServiceHistory, open_stored
from flowcap.io.folder import (
    _PARSERS,
    SETTINGS_FILES,
    TABLES,
    ServiceFolder,
    _check_across_tables,
    event_log_hash,
    find_table,
    log_tables,
    not_a_folder,
    parse_settings,
    read_service_folder,
    settings_file,
    tables_from_event_log,
)
from flowcap.io.pseudonym import load_key, pseudonymise
from flowcap.io.service_yaml import check_service_yaml, read_service_yaml
from flowcap.io.source import read_bytes, read_once, sha256_of
from flowcap.io.tables import TableCheck, max_file_bytes, read_text_table
from flowcap.model import Service
from flowcap.model.tables import ServiceTables
from flowcap.progress import Progress, quiet
from flowcap.store import ImportReport, Store, default_database_url, schema
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


# --- uploads: files for a stored service, checked, previewed, then imported --------------------

#: The most files one upload may hold, and its default size in all (``FLOWCAP_MAX_UPLOAD_MB``).
MAX_UPLOAD_FILES = 10
DEFAULT_MAX_UPLOAD_MB = 50
#: Each table's key when an upload's rows are compared with the stored ones (sessions have
#: none: they are compared row by row).
TABLE_KEYS = {"referrals": ["case_key"], "waiting": ["case_key"], "roster": ["date", "resource"]}


class UploadTooLarge(InputError):
    """An upload over the limits on files, bytes per file or bytes in all (HTTP 413)."""


@dataclass(frozen=True)
class UploadLimits:
    """How much one upload may hold: ``file_bytes`` per file (``FLOWCAP_MAX_FILE_MB``, as the
    CLI reads a folder), ``total_bytes`` in all (``FLOWCAP_MAX_UPLOAD_MB``, default 50) and
    ``files``."""

    file_bytes: int
    total_bytes: int
    files: int = MAX_UPLOAD_FILES

    @classmethod
    def from_environment(cls) -> UploadLimits:
        total = float(os.environ.get("FLOWCAP_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB))
        return cls(file_bytes=max_file_bytes(), total_bytes=int(total * 1_000_000))


@dataclass(frozen=True)
class TableChange:
    """What an upload does to one stored table: ``rows_now`` and ``rows_after``; of the
    rows after, ``added`` (a case, or a roster date and resource, not stored before) and
    ``replaced`` (stored before with other values); ``removed``: stored rows the upload does
    not have (a file replaces its table as a whole); ``unchanged``."""

    table: str
    file: str
    rows_now: int
    rows_after: int
    added: int
    replaced: int
    removed: int
    unchanged: int


@dataclass(frozen=True)
class UploadPreview:
    """An upload checked against a stored service: per table it replaces, what changes;
    the settings kinds it saves a new version of; the notes of the check (ignored columns,
    unmapped log activities); ``imported`` once it is in the store."""

    service: str
    files: tuple[str, ...]
    tables: tuple[TableChange, ...]
    settings: tuple[str, ...]
    notes: tuple[str, ...] = ()
    imported: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.settings) or any(
            t.added or t.replaced or t.removed or t.rows_now != t.rows_after for t in self.tables
        )

    def as_json(self) -> dict:
        return {
            "service": self.service,
            "files": list(self.files),
            "imported": self.imported,
            "changed": self.changed,
            "tables": [asdict(t) for t in self.tables],
            "settings": list(self.settings),
            "notes": list(self.notes),
        }


def upload_file_names(service: Service) -> list[str]:
    """The file names an upload for ``service`` may hold: a folder's tables (CSV or XLSX),
    its settings files and, when service.yaml names one, its event log."""
    names = [f"{table}{ext}" for table in TABLES for ext in (".csv", ".xlsx")]
    names += ["school_holidays.csv", "school_holidays.xlsx", "scenarios.yaml", "service.yaml"]
    if service.event_log is not None:
        names.append(Path(service.event_log.file).name)
    return names


def check_upload_size(sizes: dict[str, int], limits: UploadLimits | None = None) -> None:
    """Refuse an upload of too many files or bytes (``sizes``: bytes per file name), before
    its content is read any further.

    Raises
    ------
    UploadTooLarge
        Naming each file over the limit, or the upload's total.
    """
    limits = limits or UploadLimits.from_environment()
    problems = []
    if len(sizes) > limits.files:
        problems.append(
            Problem("upload", f"{len(sizes)} files; an upload holds at most {limits.files}")
        )
    for name, size in sizes.items():
        if size > limits.file_bytes:
            problems.append(
                Problem(
                    name,
                    f"file is more than {limits.file_bytes:,} bytes, the limit per file "
                    "(FLOWCAP_MAX_FILE_MB)",
                )
            )
    total = sum(sizes.values())
    if total > limits.total_bytes:
        problems.append(
            Problem(
                "upload",
                f"the files come to more than {limits.total_bytes:,} bytes, the limit of one "
                "upload (FLOWCAP_MAX_UPLOAD_MB): upload them a few at a time",
            )
        )
    if problems:
        raise UploadTooLarge(problems)


def preview_upload(
    service_name: str,
    files: dict[str, bytes],
    *,
    database_url: str | None = None,
    limits: UploadLimits | None = None,
) -> UploadPreview:
    """Check files for a stored service as ``flowcap validate`` checks a folder, against
    what the store holds, and say what importing them would change; nothing is stored.

    ``files`` maps each file's name (as in a service folder: ``referrals.csv``,
    ``roster.xlsx``, ``scenarios.yaml``, ...) to its bytes. A data file replaces its table as
    a whole, as a folder's changed file does; the tables and settings not uploaded stay as
    stored, and the uploaded ones are checked with them (sessions against the stored
    referrals, say).

    Raises
    ------
    UploadTooLarge
        Over :class:`UploadLimits`.
    InputError
        Every problem of every file, by file, row and column as ``flowcap validate`` numbers
        them (rows of a stored table that the upload would break are summed up in one problem
        naming that table).
    StoreError
        For a service the store does not hold, or one imported before it kept settings.
    """
    store = Store.open(database_url or default_database_url(create=False), existing=True)
    try:
        _, preview = _checked_upload(store, service_name, files, load_key(), limits)
        return preview
    finally:
        store.close()


def import_upload(
    service_name: str,
    files: dict[str, bytes],
    *,
    database_url: str | None = None,
    saved_by: str | None = None,
    limits: UploadLimits | None = None,
) -> UploadPreview:
    """Check files as :func:`preview_upload` does and, when every one is clean, import them
    in one transaction (nothing is stored otherwise); returns the preview, ``imported``.
    ``saved_by`` names who saved any settings file in it."""
    store = Store.open(database_url or default_database_url(create=False), existing=True)
    key = load_key()
    try:
        before = _last_imports(store, service_name)
        folder, preview = _checked_upload(store, service_name, files, key, limits)
        if _last_imports(store, service_name) != before:
            raise StoreError(
                f"{service_name!r} was imported again while these files were checked: "
                "upload them again to check them against its new data"
            )
        store.import_folder(folder, key, saved_by=saved_by)
        return replace(preview, imported=True)
    finally:
        store.close()


def _checked_upload(
    store: Store, name: str, files: dict[str, bytes], key: bytes, limits: UploadLimits | None
) -> tuple[ServiceFolder, UploadPreview]:
    """The upload as a :class:`ServiceFolder` ready for :meth:`Store.import_folder` (the
    tables not uploaded carry their last import's hash, so the import leaves them alone) and
    its preview; raises :class:`InputError` listing every problem."""
    check_upload_size({n: len(content) for n, content in files.items()}, limits)
    if not files:
        raise InputError([Problem("upload", "no files: choose one or more files to upload")])
    stored_settings = store.settings(name)
    row = stored_settings["service"]
    service = read_service_yaml(Path(row["file_name"]), row["content"])
    with tempfile.TemporaryDirectory(prefix="flowcap-upload-") as tmp, read_once():
        folder = Path(tmp)
        problems: list[Problem] = []
        if "service.yaml" in files:
            new, found = check_service_yaml(folder / "service.yaml", files["service.yaml"])
            if new is None:
                raise InputError(found)
            if new.name != name:
                raise InputError(
                    [
                        Problem(
                            "service.yaml",
                            f"names the service {new.name!r}, not {name!r}: a new name is a "
                            "new service",
                            None,
                            "name",
                        )
                    ]
                )
            entry = next(e for e in store.services() if e["name"] == name)
            try:
                _check_against_stored(store, entry, new, "service.yaml")
            except InputError as error:
                problems += error.problems
            service = new
        problems += _upload_name_problems(files, service)
        if problems:
            raise InputError(problems)
        for file_name, content in files.items():
            target = folder / file_name
            if service.event_log is not None and file_name == Path(service.event_log.file).name:
                target = service.event_log.path_in(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return _read_upload(store, name, folder, files, service, stored_settings, key)


def _upload_name_problems(files: dict[str, bytes], service: Service) -> list[Problem]:
    """Names outside a service folder's, with folders in them, or two files for one table."""
    known = upload_file_names(service)
    problems = []
    for file_name in files:
        if (
            not file_name
            or Path(file_name).name != file_name
            or any(c in file_name for c in "/\\\0")
            or file_name in (".", "..")
        ):
            problems.append(
                Problem(str(file_name)[:200], "a file name only, with no folder in it", None)
            )
        elif file_name not in known:
            problems.append(
                Problem(
                    file_name[:200],
                    "not a file of a service folder; upload files named "
                    + ", ".join(known)
                    + " (rename the file to the table it holds)",
                )
            )
    for table in (*TABLES, "school_holidays"):
        twins = [f"{table}{ext}" for ext in (".csv", ".xlsx") if f"{table}{ext}" in files]
        if len(twins) > 1:
            problems.append(Problem(twins[0], f"both {twins[0]} and {twins[1]}; upload one"))
    config = service.event_log
    if config is not None and Path(config.file).name in files:
        path = Path(config.file).expanduser()
        if path.is_absolute() or ".." in path.parts:
            problems.append(
                Problem(
                    Path(config.file).name,
                    "service.yaml names this log by a path outside the service folder; "
                    "import the folder with flowcap import instead",
                )
            )
    for table in log_tables(service):
        for ext in (".csv", ".xlsx"):
            if f"{table}{ext}" in files:
                problems.append(
                    Problem(
                        f"{table}{ext}",
                        f"service.yaml has event_log: the {table} come from "
                        f"{config.file}; upload the log instead",
                    )
                )
    return problems


def _read_upload(
    store: Store,
    name: str,
    folder: Path,
    files: dict[str, bytes],
    service: Service,
    stored_settings: dict,
    key: bytes,
) -> tuple[ServiceFolder, UploadPreview]:
    """Parse the uploaded files in ``folder`` with the readers of ``flowcap validate`` and
    check them with the stored tables (see :func:`preview_upload`)."""
    stored = store.load(name)
    last = _last_imports(store, name)
    erased = _erased(store, name)
    problems: list[Problem] = []
    notes: list[str] = []
    frames: dict[str, pd.DataFrame | None] = {}
    hashes: dict[str, tuple[str, str]] = {}
    uploaded: dict[str, str] = {}  # table -> file name
    for table in TABLES:
        path, _ = find_table(folder, table)
        if path is None:
            continue
        check = TableCheck(path.name)
        required, optional = TABLES[table]
        text = read_text_table(path, required, optional, check)
        frames[table] = None if text is None else _PARSERS[table](text, check, service)
        hashes[table] = (path.name, sha256_of(path))
        uploaded[table] = path.name
        problems += check.capped()
        notes += check.notes
    event_log = None
    config = service.event_log
    if config is not None and Path(config.file).name in files:
        tables, log_problems, log_notes, event_log = tables_from_event_log(folder, service)
        problems += log_problems
        notes += log_notes
        if tables is not None:
            source = event_log_hash(folder, service)
            for table in (*log_tables(service), "events"):
                hashes[table] = source
            for table in log_tables(service):
                frames[table] = tables[table]
                uploaded[table] = source[0]
    problems += _across_tables(stored, frames, uploaded, key, service)
    settings = {kind: (r["file_name"], r["content"]) for kind, r in stored_settings.items()}
    setting_hashes = {kind: (r["file_name"], r["sha256"]) for kind, r in stored_settings.items()}
    changed_settings = []
    for kind in ("service", *SETTINGS_FILES):
        path = folder / "service.yaml" if kind == "service" else settings_file(folder, kind)[0]
        if path is None or not path.is_file():
            continue
        raw = read_bytes(path)
        if kind != "service":
            try:
                parse_settings(kind, path.name, raw, service)
            except InputError as error:
                problems += error.problems
        settings[kind] = (path.name, raw)
        setting_hashes[kind] = (path.name, sha256_of(path))
        if kind not in stored_settings or stored_settings[kind]["sha256"] != sha256_of(path):
            changed_settings.append(kind)
    if problems:
        raise InputError(problems)
    for table in (*TABLES, "events"):
        if table not in hashes and table in last:
            hashes[table] = last[table]  # as stored: the import leaves it alone
    changes = tuple(
        _table_change(table, uploaded[table], stored, frames[table], key, erased)
        for table in TABLES
        if table in uploaded
    )
    if event_log is not None:
        now = store.services()
        before = next(e for e in now if e["name"] == name)["events"]
        after = len(event_log.events)
        changes += (TableChange("events", uploaded["referrals"], before, after, 0, 0, 0, 0),)
    checked = ServiceFolder(
        referrals=_or_stored(frames, "referrals", stored),
        waiting=_or_stored(frames, "waiting", stored),
        roster=_or_stored(frames, "roster", stored),
        sessions=_or_stored(frames, "sessions", stored),
        path=folder,
        service=service,
        files={**hashes, **setting_hashes},
        notes=notes,
        settings=settings,
        event_log=event_log,
    )
    preview = UploadPreview(
        service=name,
        files=tuple(sorted(files)),
        tables=changes,
        settings=tuple(changed_settings),
        notes=tuple(notes),
    )
    return checked, preview


def _across_tables(
    stored: ServiceTables, frames: dict, uploaded: dict[str, str], key: bytes, service: Service
) -> list[Problem]:
    """The rules across tables (:func:`flowcap.io.folder._check_across_tables`) on the
    uploaded tables with the stored ones, all named by pseudonym (the store holds no case
    ids). A stored table's rows that the upload would break come back as one problem."""
    if not set(uploaded) & {"referrals", "waiting", "sessions"}:
        return []  # a roster alone changes nothing the rules look at
    merged: dict[str, pd.DataFrame | None] = {}
    names: dict[str, tuple[str, str]] = {}
    for table in TABLES:
        if table in uploaded:
            frame = frames.get(table)
            if frame is not None and "case_id" in frame:
                frame = frame.copy()
                given = frame["case_id"] != ""
                frame.loc[given, "case_id"] = pseudonymise(
                    frame.loc[given, "case_id"].tolist(), key
                )
            names[table] = (uploaded[table], "")
        else:
            frame = stored.roster.rows if table == "roster" else getattr(stored, table)
            if frame is not None:
                frame = frame.rename(columns={"case_key": "case_id"})
            names[table] = (f"{table} (stored)", "")
        merged[table] = frame
    if merged["referrals"] is None:
        return []  # unreadable: its own problems say why
    problems = []
    broken: dict[str, list[Problem]] = {}
    for problem in _check_across_tables(merged, names, service):
        if problem.file.endswith(" (stored)"):
            broken.setdefault(problem.file, []).append(problem)
            continue
        if "referrals" not in uploaded:  # a stored row's place means nothing to the user
            message = re.sub(
                r"in referrals \(row \d+\)", "in the stored referrals", problem.message
            )
            problem = Problem(problem.file, message, problem.row, problem.column)
        problems.append(problem)
    for file, found in broken.items():
        table = file.removesuffix(" (stored)")
        rows = sum(1 for p in found if p.row is not None)
        for p in found:  # capped: "... and N more problems in this file"
            more = re.match(r"\.\.\. and (\d+) more", p.message)
            rows += int(more.group(1)) if more else 0
        problems.append(
            Problem(
                ", ".join(sorted(uploaded.values())),
                f"with this upload, {'at least ' if rows >= 100 else ''}{rows:,} stored "
                f"{table} row(s) would no longer fit (the first: {found[0].message}); upload "
                f"a corrected {table} file with it",
            )
        )
    return problems


def _table_change(
    table: str,
    file: str,
    stored: ServiceTables,
    frame: pd.DataFrame,
    key: bytes,
    erased: set[str],
) -> TableChange:
    """Compare an uploaded table (raw case ids) with the stored one (pseudonyms)."""
    old = stored.roster.rows if table == "roster" else getattr(stored, table)
    new = frame.copy()
    if "case_id" in new:
        new.insert(0, "case_key", pseudonymise(new.pop("case_id").tolist(), key))
        new = new[~new["case_key"].isin(erased)] if erased else new
    if old is None:
        old = new.iloc[0:0]
    columns = list(new.columns)
    old, new = _comparable(old[columns]), _comparable(new)
    keys = TABLE_KEYS.get(table)
    if keys:
        merged = old.merge(new, on=keys, how="outer", suffixes=("_old", "_new"), indicator=True)
        both = merged[merged["_merge"] == "both"]
        differs = pd.Series(False, index=both.index)
        for column in columns:
            if column in keys:
                continue
            a, b = both[f"{column}_old"], both[f"{column}_new"]
            differs |= ~((a == b) | (a.isna() & b.isna()))
        replaced = int(differs.sum())
        added = int((merged["_merge"] == "right_only").sum())
        removed = int((merged["_merge"] == "left_only").sum())
        unchanged = len(both) - replaced
    else:
        before = old.value_counts(dropna=False)
        after = new.value_counts(dropna=False)
        unchanged = int(pd.concat([before, after], axis=1).fillna(0).min(axis=1).sum())
        added, removed, replaced = len(new) - unchanged, len(old) - unchanged, 0
    return TableChange(table, file, len(old), len(new), added, replaced, removed, unchanged)


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Text as text (empty for none) and numbers as floats, so stored and read rows compare."""
    frame = frame.copy()
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            frame[column] = series.astype("datetime64[ns]")
        elif pd.api.types.is_numeric_dtype(series) or column in ("staff", "minutes_per_staff"):
            frame[column] = pd.to_numeric(series, errors="coerce").astype(float)
        else:
            frame[column] = series.fillna("").astype(str)
    return frame.reset_index(drop=True)


def _or_stored(frames: dict, table: str, stored: ServiceTables) -> pd.DataFrame | None:
    """The uploaded table, else the stored one (carrying its last hash, it is not written)."""
    if frames.get(table) is not None:
        return frames[table]
    frame = stored.roster.rows if table == "roster" else getattr(stored, table)
    return None if frame is None else frame.rename(columns={"case_key": "case_id"})


def _last_imports(store: Store, name: str) -> dict[str, tuple[str, str]]:
    """The file name and SHA-256 of each table's last import (``events`` included)."""
    imports, services = schema.imports, schema.services
    with store.engine.connect() as connection:
        service_id = connection.scalar(select(services.c.id).where(services.c.name == name))
        rows = connection.execute(
            select(imports.c.table_name, imports.c.file_name, imports.c.sha256)
            .where(imports.c.service_id == service_id)
            .order_by(imports.c.id)
        ).all()
    return {table: (file_name, sha) for table, file_name, sha in rows}


def _erased(store: Store, name: str) -> set[str]:
    """The pseudonyms of the service's erased cases (an import leaves them out)."""
    erasures, services = schema.erasures, schema.services
    with store.engine.connect() as connection:
        service_id = connection.scalar(select(services.c.id).where(services.c.name == name))
        return set(
            connection.scalars(
                select(erasures.c.case_key).where(erasures.c.service_id == service_id)
            )
        )
