"""One service with its whole history, loaded once: from a service folder or from the store.

:func:`open_service` (``flowcap.open``) is the one way in for the CLI, the web app, a notebook
and a sweep::

    import flowcap
    history = flowcap.open("examples/victim-support")          # a folder: imports what changed
    history = flowcap.open("Northshire Victim Support Hub",    # the store alone, no folder
                           database_url="postgresql+psycopg://...")
    history.measures.table                                    # computed once, on first use

Every analysis is then a function of the :class:`ServiceHistory` in the package that owns it
(:func:`flowcap.measures.measure`, :func:`flowcap.variation.describe_variation`,
:func:`flowcap.forecast.forecast_demand`, :func:`flowcap.plan.risk.assess_risk`,
:func:`flowcap.plan.outlook.simulate_ahead`, :func:`flowcap.plan.outlook.plan_capacity`,
:func:`flowcap.simulate.pathway.report.simulate_service_pathway`,
:func:`flowcap.simulate.pathway.calibrate.calibrate_log`,
:func:`flowcap.processmap.process_map`).

Opening a folder reads each of its files once (:func:`flowcap.io.source.read_once`): the
files are hashed; when the store already holds exactly these files nothing is parsed but the
settings, else the folder is checked and imported in one transaction. The tables, and an
event-log service's events, always come back from the store, pseudonymised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from flowcap.checks import ArgumentError
from flowcap.errors import FlowcapError, InputError, StoreError
from flowcap.io.eventlog import COLUMNS as EVENT_COLUMNS
from flowcap.io.eventlog import EventLog, read_event_log
from flowcap.io.folder import (
    file_hashes,
    not_a_folder,
    parse_settings,
    read_service_folder,
    settings_file,
)
from flowcap.io.pseudonym import load_key
from flowcap.io.service_yaml import read_service_yaml
from flowcap.io.source import read_bytes, read_once
from flowcap.model import Scenario, Service
from flowcap.model.eventlog import EventLogConfig
from flowcap.model.tables import DATE_COLUMNS, Contents, ServiceTables, describe_contents
from flowcap.progress import Progress, quiet
from flowcap.store import Store, default_database_url
from flowcap.store import database_url as folder_database_url


@dataclass(eq=False)  # frames do not compare to a bool: two histories are equal only as one
class ServiceHistory:
    """A service's settings and pseudonymised history, as one object.

    ``tables`` are the stored tables (``case_key`` pseudonyms); ``scenarios`` the contingency
    options in file order (empty when the service has none); ``school_holidays`` a frame of
    ``start``, ``end`` (inclusive) and ``name``; ``folder`` the service folder it was opened
    from (``None`` when opened from the store by name); ``notes`` what the import had to say
    (ignored columns, unmapped log activities) when the folder had something new;
    ``settings_version`` the stored version of each settings kind.
    """

    service: Service
    tables: ServiceTables
    scenarios: tuple[Scenario, ...] = ()
    school_holidays: pd.DataFrame = field(default_factory=lambda: _holidays(None))
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)
    settings_version: dict[str, int] = field(default_factory=dict)
    _events: StoredEvents | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def has_history(self) -> bool:
        """True when at least one referral is stored (measures need one)."""
        return self.tables.has_history

    @cached_property
    def measures(self):
        """The daily measures from the first referral to the last day of data
        (:class:`~flowcap.measures.DailyMeasures`), computed on first use; ``None`` without
        history (a service whose case types all carry ``demand`` models)."""
        if not self.has_history:
            return None
        from flowcap.measures import daily_measures

        return daily_measures(self.service, self.tables)

    def require_measures(self, purpose: str = "this analysis"):
        """:attr:`measures`, or a clear error naming ``purpose`` for a service with no
        referrals."""
        if self.measures is None:
            raise FlowcapError(
                f"{self.where()}: no referrals stored (all erased, or none imported yet), and "
                f"{purpose} needs history"
            )
        return self.measures

    @cached_property
    def event_log(self) -> EventLog | None:
        """The service's event log as stored (case pseudonyms), or ``None`` without
        ``event_log:``; read from the store on first use."""
        return None if self._events is None else self._events()

    def contents(self) -> Contents:
        """What the store holds for the service, line by line (:func:`describe_contents`)."""
        labels = {table: table for table in DATE_COLUMNS}
        labels |= {"school_holidays": "school holidays", "scenarios": "scenarios (options)"}
        holidays = self.school_holidays if len(self.school_holidays) else None
        return describe_contents(self.tables, holidays, len(self.scenarios) or None, labels)

    def where(self) -> str:
        """Where the service was opened from, for messages: its folder, or its name."""
        return str(self.folder) if self.folder is not None else f"service {self.name!r}"


def open_service(
    source: str | Path,
    *,
    database_url: str | None = None,
    by_name: bool = False,
    progress: Progress = quiet,
    warn: Progress = quiet,
) -> ServiceHistory:
    """Open a service: a folder (``source`` a directory; what changed is imported into its
    store first) or, with ``database_url`` or the default store, a service by name.

    ``database_url``: an SQLAlchemy URL; for a folder the default is ``FLOWCAP_DATABASE_URL``
    or the folder's ``.flowcap/flowcap.db``, for a name ``FLOWCAP_DATABASE_URL`` or the user's
    default store (:func:`flowcap.store.repository.default_database_url`). ``warn`` receives
    the folder's notes when something new is imported. ``source`` is taken for a folder when it
    is one, or looks like a path (a ``/``, a leading ``.`` or ``~``); ``by_name`` takes it for
    a name whatever it looks like (``"Leeds / Bradford IDVA"``).

    Raises
    ------
    InputError
        For a folder with problems (every one listed; nothing is imported).
    StoreError
        For a name the store does not hold.
    """
    path = Path(source)
    if by_name:
        return open_stored(str(source), database_url, progress)
    if path.is_dir() or path.exists() or isinstance(source, Path) or _looks_like_a_path(source):
        return open_folder(path, database_url, progress, warn)
    return open_stored(str(source), database_url, progress)


def _looks_like_a_path(source: str) -> bool:
    """A string that names a place on disk rather than a service: it has a folder separator
    or starts like a path (``.``, ``~``)."""
    return "/" in source or "\\" in source or source.startswith((".", "~"))


def open_folder(
    folder: Path,
    database_url: str | None = None,
    progress: Progress = quiet,
    warn: Progress = quiet,
    *,
    service: Service | None = None,
) -> ServiceHistory:
    """:func:`open_service` on a folder: import what changed, then load from the store.

    ``service`` is the folder's service.yaml when the caller has parsed it already.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise not_a_folder(folder)
    url = database_url
    with read_once():
        service = service or read_service_yaml(folder / "service.yaml")
        files = file_hashes(folder, service)
        store = Store.open(url or folder_database_url(folder))
        try:
            notes: list[str] = []
            # Reading and checking a large export takes seconds; skip it when nothing changed.
            if not store.is_current(service.name, files):
                progress("Importing what is new")
                checked = read_service_folder(folder, service)
                notes = list(checked.notes)
                for note in notes:
                    warn(note)
                store.import_folder(checked, load_key())
                scenarios, school = checked.scenarios, checked.school_holidays
            else:
                scenarios, school = _folder_settings(folder, service)
            progress("Reading the store")
            tables = store.load(service.name)
            versions = {k: v["version"] for k, v in store.settings(service.name).items()}
        finally:
            store.close()
    return ServiceHistory(
        service=service,
        tables=tables,
        scenarios=scenarios,
        school_holidays=_holidays(school),
        folder=folder,
        notes=notes,
        settings_version=versions,
        _events=StoredEvents.of(store.url, service),
    )


def _folder_settings(
    folder: Path, service: Service
) -> tuple[tuple[Scenario, ...], pd.DataFrame | None]:
    """The folder's scenarios and school holidays, parsed (the store already has them)."""
    parsed: dict = {}
    for kind in ("scenarios", "school_holidays"):
        path, problems = settings_file(folder, kind)
        if problems:
            raise InputError(problems)
        if path is not None:
            parsed[kind] = parse_settings(kind, path.name, read_bytes(path), service)
    return parsed.get("scenarios", ()), parsed.get("school_holidays")


def open_stored(
    name: str, database_url: str | None = None, progress: Progress = quiet
) -> ServiceHistory:
    """:func:`open_service` on a service's name: everything from the store, no folder.

    ``database_url``: by default ``FLOWCAP_DATABASE_URL`` or the default store (which is not
    created by reading it).
    """
    url = database_url or default_database_url(create=False)
    progress("Reading the store")
    store = Store.open(url, existing=True)
    try:
        service, settings, parsed = _stored_settings(store, name)
        tables = store.load(name)
    finally:
        store.close()
    return ServiceHistory(
        service=service,
        tables=tables,
        scenarios=parsed.get("scenarios", ()),
        school_holidays=_holidays(parsed.get("school_holidays")),
        settings_version={kind: row["version"] for kind, row in settings.items()},
        _events=StoredEvents.of(url, service),
    )


def _stored_settings(store: Store, name: str) -> tuple[Service, dict, dict]:
    """The stored service's definition, its settings rows and the other settings parsed."""
    try:
        settings = store.settings(name)
    except StoreError:
        known = [entry["name"] for entry in store.services()]
        if name in known:
            raise
        listing = ", ".join(repr(k) for k in known) or "none"
        raise StoreError(
            f"the store at {store.where()} holds no service {name!r} (it holds: {listing}). A "
            "folder imported without FLOWCAP_DATABASE_URL is in its own .flowcap/ store: "
            "open the folder, or import it with FLOWCAP_DATABASE_URL set"
        ) from None
    row = settings["service"]
    service = read_service_yaml(Path(row["file_name"]), row["content"])
    parsed = {
        kind: parse_settings(kind, entry["file_name"], entry["content"], service)
        for kind, entry in settings.items()
        if kind != "service"
    }
    return service, settings, parsed


def _holidays(frame: pd.DataFrame | None) -> pd.DataFrame:
    from flowcap.io.school_holidays import empty_school_holidays

    return empty_school_holidays() if frame is None else frame


@dataclass(frozen=True)
class StoredEvents:
    """Reads a service's event log from the store when called (a plain object, so a history
    pickles for a distributed sweep; the URL, which may hold a password, stays out of repr).
    A pickled history carries that URL, password included, so that a worker can read the
    log: send it only to machines trusted with the store."""

    url: str = field(repr=False)
    service: Service

    @classmethod
    def of(cls, url: str, service: Service) -> StoredEvents | None:
        return None if service.event_log is None else cls(url, service)

    def __call__(self) -> EventLog:
        store = Store(self.url)
        try:
            stored = store.events(self.service.name)
        finally:
            store.close()
        return stored_event_log(stored, self.service)


def stored_event_log(stored: pd.DataFrame, service: Service) -> EventLog:
    """An :class:`EventLog` from the store's rows, as :func:`read_event_log` gives it with
    the key: case pseudonyms in the log's order of case ids, timestamps in the log's zone."""
    config = service.event_log
    zone = config.timezone or service.timezone
    ranks = stored["case_rank"].to_numpy()
    order = pd.Series(stored["case"].to_numpy(), index=ranks)
    categories = order[~order.index.duplicated()].sort_index()
    case = pd.Categorical.from_codes(
        pd.Index(categories.index).get_indexer(ranks),
        categories=pd.Index(categories.to_numpy(), dtype=object),
    )
    timestamp = stored["timestamp"].dt.tz_localize("UTC").dt.tz_convert(zone)
    frame = pd.DataFrame(
        {
            "case": case,
            "activity": pd.Categorical(stored["activity"].astype(str)),
            "timestamp": timestamp,
            "local_date": timestamp.dt.tz_localize(None).dt.normalize(),
            "resource": "",  # who did it is not stored
            "case_type": stored["case_type"].astype(str),
            "lifecycle": stored["lifecycle"].astype(str),
            "order": pd.RangeIndex(len(stored)).to_numpy(dtype="int64"),
        }
    )
    return EventLog(events=frame[list(EVENT_COLUMNS)], timezone=zone, source=Path(config.file).name)


# --- an event log to map or calibrate ----------------------------------------------------------


def open_event_log(
    source: str | Path,
    *,
    database_url: str | None = None,
    by_name: bool = False,
    progress: Progress = quiet,
    warn: Progress = quiet,
    **columns: str | None,
) -> EventLog:
    """The event log to map or calibrate, case ids pseudonymised.

    ``source`` is a log file (XES, CSV, XLSX; ``columns`` say how to read it: ``case_id``,
    ``activity``, ``timestamp``, ``resource``, ``case_type``, ``lifecycle``, ``timezone``,
    ``delimiter``, ``None`` meaning not given), a service folder whose service.yaml has
    ``event_log:`` (its stored log, imported first if it changed; ``columns`` given read the
    file again with them instead), or with ``by_name`` a service's name in the store.
    """
    path = Path(source)
    given = {name: value for name, value in columns.items() if value is not None}
    if by_name:
        if given:
            raise ArgumentError(
                sorted(given)[0],
                "says how to read a log file; a stored service's log was read when imported",
            )
        store = Store.open(database_url or default_database_url(create=False), existing=True)
        try:
            service, _, _ = _stored_settings(store, str(source))
            _needs_event_log(service, f"service {service.name!r}: service.yaml")
            progress("Reading the event log")
            return stored_event_log(store.events(service.name), service)
        finally:
            store.close()
    if not path.is_dir():  # a log file (read_event_log says so if there is none)
        config = _log_config({"file": str(path)}, given)
        progress("Reading the event log")
        return read_event_log(path, config, service_timezone="Europe/London", key=load_key())
    with read_once():  # service.yaml is looked at here and again when the folder is opened
        service = read_service_yaml(path / "service.yaml")
        _needs_event_log(service, str(path / "service.yaml"))
        if given:
            config = _log_config(service.event_log.model_dump(), given)
            progress("Reading the event log")
            return read_event_log(
                config.path_in(path), config, service_timezone=service.timezone, key=load_key()
            )
        history = open_folder(path, database_url, progress, warn, service=service)
    progress("Reading the event log")
    return history.event_log


def _needs_event_log(service: Service, where: str) -> None:
    if service.event_log is None:
        raise FlowcapError(
            f"{where} has no event_log: section; give the event log file itself, or add "
            "event_log: {file: ...} to service.yaml"
        )


def _log_config(settings: dict, given: dict) -> EventLogConfig:
    try:
        return EventLogConfig(**{**settings, **given})
    except ValidationError as error:
        first = error.errors()[0]
        reasons = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
        raise ArgumentError("_".join(map(str, first["loc"])), reasons) from None
