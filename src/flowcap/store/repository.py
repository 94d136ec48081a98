"""Writing a checked service folder into the store, reading it back, and erasing a person.

An import is one transaction: it either writes every changed table or nothing, so a failure
or a kill part-way leaves the store exactly as it was. Each table is replaced as a whole when
its file's SHA-256 differs from the last import, so re-importing the same folder adds nothing
and a corrected file replaces the old rows. Case ids are pseudonymised before they are
written (see :mod:`flowcap.io.pseudonym`); erased cases are remembered by pseudonym and kept
out of later imports.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    make_url,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from flowcap.errors import StoreError
from flowcap.io.folder import ServiceFolder
from flowcap.io.pseudonym import (
    append_erasure_ledger,
    fingerprint,
    pseudonymise,
    read_erasure_ledger,
    rekey,
)
from flowcap.model.tables import ServiceTables
from flowcap.store import schema
from flowcap.store.columns import read_column

MIGRATIONS = Path(__file__).with_name("migrations")
#: How long an SQLite write waits for another connection's write to end (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
ABSENT = "absent"


def default_database_url(create: bool = True) -> str:
    """The store a service is opened from by name: ``FLOWCAP_DATABASE_URL`` if set, else the
    user's SQLite file ``$XDG_DATA_HOME/flowcap/flowcap.db`` (``~/.local/share/...``).

    With ``create`` false nothing is made on disk, and a default store that does not exist yet
    is a :class:`StoreError` (reading by name must not leave an empty store behind).
    """
    configured = os.environ.get("FLOWCAP_DATABASE_URL")
    if configured:
        return configured
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    path = base / "flowcap" / "flowcap.db"
    if not create and not path.is_file():
        raise StoreError(
            f"there is no store at {path} yet. A folder's import goes to the folder's own "
            ".flowcap/ store unless FLOWCAP_DATABASE_URL names one: import it with "
            "FLOWCAP_DATABASE_URL set, then open it by name"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def database_url(folder: str | Path, create: bool = True) -> str:
    """``FLOWCAP_DATABASE_URL`` if set, else an SQLite file in the folder's ``.flowcap/``
    (its folder made unless ``create`` is false)."""
    configured = os.environ.get("FLOWCAP_DATABASE_URL")
    if configured:
        return configured
    path = Path(folder).resolve() / ".flowcap" / "flowcap.db"
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names; ``None`` for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


@dataclass
class ImportReport:
    """What an import did: per table the rows written, or ``None`` when its file was unchanged
    (``events``: an event-log service's events); per settings kind the new version saved, or
    ``None`` when unchanged (``removed`` names those whose new version is the file's removal);
    and the store it went to (its URL without a password)."""

    service: str
    written: dict[str, int | None] = field(default_factory=dict)
    settings: dict[str, int | None] = field(default_factory=dict)
    store: str = ""
    #: Settings kinds whose new version records the file's removal.
    removed: set[str] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        return any(rows is not None for rows in self.written.values())


#: Alembic's commands are not thread-safe (see :meth:`Store.migrate`).
_MIGRATING = threading.Lock()


class Store:
    """A flowcap store at an SQLAlchemy URL; call :meth:`migrate` before first use."""

    def __init__(self, url: str):
        self.url = url
        path = sqlite_file(url)
        if path is not None and path.parent.is_dir() and not path.exists():
            _create_sqlite_file(path)
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @classmethod
    def open(cls, url: str, *, existing: bool = False) -> Store:
        """The store at ``url`` with its schema brought up to date (:meth:`migrate`).

        With ``existing`` (reading, erasing) an SQLite file that is not there is a
        :class:`StoreError`, not a new empty store: a mistyped ``FLOWCAP_DATABASE_URL`` or a
        folder never imported says so and leaves nothing behind.
        """
        path = sqlite_file(url)
        if existing and path is not None and not path.is_file():
            raise StoreError(
                f"there is no store at {path}: nothing has been imported there (import the "
                "service folder first, or check FLOWCAP_DATABASE_URL)"
            )
        store = cls(url)
        store.migrate()
        return store

    @classmethod
    def for_folder(cls, folder: str | Path) -> Store:
        """The store a folder imports into (:func:`database_url`)."""
        return cls.open(database_url(folder))

    def where(self) -> str:
        """The store's URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision.

        Alembic keeps the running migration's context in module globals, so two threads
        migrating at once (the web app's requests and its job workers each open stores) break
        each other: one lock per process makes them take turns.
        """
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with _MIGRATING:
            if self._at_head(config):
                return
            # Another process may be migrating the same store (two first imports at once
            # used to fail with "table alembic_version already exists"): the store's write
            # lock makes them take turns, and the second finds the schema already at head.
            with self.writing() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")

    def _at_head(self, config: Config) -> bool:
        """Whether the schema is already at the newest revision (read without a lock, so
        opening an up-to-date store never waits for another process's write)."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(config).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current == head

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A transaction that is the store's only writer until it ends (committed on success,
        rolled back on an exception).

        Another process writing the same store waits (SQLite: ``BEGIN IMMEDIATE``, up to
        :data:`SQLITE_BUSY_TIMEOUT_MS`; PostgreSQL: a transaction-scoped advisory lock), so
        two imports at once run one after the other: neither reads what the other is about
        to replace, and neither fails on the other's new rows.
        """
        with self.engine.begin() as connection:
            _lock_for_writing(connection)
            yield connection

    def close(self) -> None:
        self.engine.dispose()

    # --- import --------------------------------------------------------------------------

    def import_folder(
        self, folder: ServiceFolder, key: bytes, saved_by: str | None = None
    ) -> ImportReport:
        """Write the folder's changed tables, settings and event log in one transaction.

        A settings file whose SHA-256 differs from its last stored version becomes a new
        version (``saved_by``: who imported it, by default the system user), and so does a
        removed one (a version with no content).

        Raises
        ------
        StoreError
            If the store was written under a different pseudonymisation key.
        """
        report = ImportReport(folder.service.name, store=self.where())
        with self.writing() as connection:
            self.check_key(connection, key)
            service_id = self.service_id(connection, folder.service.name, create=True)
            erased = self.erased_everywhere(connection, key, service_id)
            for table_name, table in schema.DATA_TABLES.items():
                file_name, sha = folder.files.get(table_name, (ABSENT, ABSENT))
                if self.last_sha(connection, service_id, table_name) == sha:
                    report.written[table_name] = None
                    continue
                if sha == ABSENT and not self._has_import(connection, service_id, table_name):
                    report.written[table_name] = None
                    continue
                connection.execute(delete(table).where(table.c.service_id == service_id))
                frame = _frame_for(table_name, folder, key, erased)
                rows = bulk_insert(connection, table, frame, service_id)
                self.record_import(connection, service_id, table_name, file_name, sha, rows)
                report.written[table_name] = rows
            self._import_events(connection, service_id, folder, key, erased, report)
            who = saved_by or _user()
            for kind in schema.SETTINGS:
                file_name, content = folder.settings.get(kind, (schema.SETTINGS[kind], None))
                sha = folder.files.get(kind, (file_name, ABSENT))[1]
                report.settings[kind] = self._save_setting(
                    connection, service_id, kind, file_name, sha, content, who
                )
                if report.settings[kind] is not None and content is None:
                    report.removed.add(kind)
        return report

    def _import_events(self, connection, service_id, folder, key, erased, report) -> None:
        """An event-log service's events, replaced when the log or its reading changed (and
        removed when the service no longer has a log), like a table of their own."""
        file_name, sha = folder.files.get("events", (ABSENT, ABSENT))
        last = self.last_sha(connection, service_id, "events")
        if last == sha or (last is None and sha == ABSENT):
            report.written["events"] = None
            return
        events = schema.events
        connection.execute(delete(events).where(events.c.service_id == service_id))
        rows = 0
        if folder.event_log is not None:
            rows = bulk_insert(
                connection, events, _event_rows(folder.event_log, key, erased), service_id
            )
        self.record_import(connection, service_id, "events", file_name, sha, rows)
        report.written["events"] = rows

    def _save_setting(
        self, connection, service_id, kind, file_name, sha, content, who
    ) -> int | None:
        """A new version of one settings kind when it differs from the last one stored: its
        version number, or ``None`` when nothing was saved."""
        last = connection.execute(
            select(schema.settings.c.version, schema.settings.c.sha256)
            .where(schema.settings.c.service_id == service_id, schema.settings.c.kind == kind)
            .order_by(schema.settings.c.version.desc())
            .limit(1)
        ).first()
        if (last is None and content is None) or (last is not None and last.sha256 == sha):
            return None
        version = 1 if last is None else last.version + 1
        connection.execute(
            insert(schema.settings).values(
                service_id=service_id,
                kind=kind,
                version=version,
                file_name=file_name[:200],
                sha256=sha,
                content=content,
                saved_at=_now(),
                saved_by=who[:200],
            )
        )
        return version

    def record_import(self, connection, service_id, table_name, file_name, sha, rows) -> None:
        """Record, in ``connection``'s transaction, that ``table_name`` of the service was
        replaced from ``file_name`` (its SHA-256 ``sha``, ``rows`` rows): the revision the
        web app's cache and ``flowcap services`` read."""
        connection.execute(
            insert(schema.imports).values(
                service_id=service_id,
                table_name=table_name,
                file_name=file_name,
                sha256=sha,
                rows=rows,
                imported_at=_now(),
            )
        )

    def check_key(self, connection, key: bytes) -> None:
        """Refuse (:class:`StoreError`) a pseudonymisation key other than the one the store's
        case keys were made with; a new store records its fingerprint."""
        stored = connection.scalar(
            select(schema.store_info.c.value).where(schema.store_info.c.key == "key_fingerprint")
        )
        mine = fingerprint(key)
        if stored is None:
            connection.execute(insert(schema.store_info).values(key="key_fingerprint", value=mine))
        elif stored != mine:
            behind = _rotation_hint(stored, key)
            if behind:
                raise StoreError(behind)
            raise StoreError(
                "this store was written with a different pseudonymisation key "
                f"(fingerprint {stored}, yours is {mine}). Restore the original key "
                "(FLOWCAP_KEY or the key file) instead of importing under a new one, "
                "or every case would be counted twice."
            )

    def service_id(self, connection, name: str, create: bool = False) -> int:
        """The id of the service called ``name`` (made when ``create``; else a
        :class:`StoreError` when the store has no such service)."""
        found = connection.scalar(
            select(schema.services.c.id).where(schema.services.c.name == name)
        )
        if found is not None:
            return found
        if not create:
            raise StoreError(f"the store at {self.where()} holds no service {name!r}")
        return connection.execute(insert(schema.services).values(name=name)).inserted_primary_key[0]

    def last_sha(self, connection, service_id: int, table_name: str) -> str | None:
        """The SHA-256 of the file ``table_name`` was last imported from (``None``: never)."""
        return connection.scalar(
            select(schema.imports.c.sha256)
            .where(
                schema.imports.c.service_id == service_id, schema.imports.c.table_name == table_name
            )
            .order_by(schema.imports.c.id.desc())
            .limit(1)
        )

    def _has_import(self, connection, service_id: int, table_name: str) -> bool:
        return self.last_sha(connection, service_id, table_name) is not None

    def is_current(self, service_name: str, files: dict[str, tuple[str, str]]) -> bool:
        """True when every table's last import came from exactly these files (by SHA-256)."""
        with self.engine.connect() as connection:
            try:
                service_id = self.service_id(connection, service_name)
            except StoreError:
                return False
            for table_name in (*schema.DATA_TABLES, "events"):
                sha = files.get(table_name, (ABSENT, ABSENT))[1]
                last = self.last_sha(connection, service_id, table_name)
                if last != sha and not (last is None and sha == ABSENT):
                    return False
            stored = self._settings(connection, service_id)
            for kind in schema.SETTINGS:
                sha = files.get(kind, (ABSENT, ABSENT))[1]
                last = stored[kind]["sha256"] if kind in stored else None
                if last != sha and not (last is None and sha == ABSENT):
                    return False
        return True

    # --- reading -------------------------------------------------------------------------

    def load(self, service_name: str) -> ServiceTables:
        """Everything stored for a service, as DataFrames (referrals ordered by ``case_key``).

        Rows are fetched through the driver's cursor and built into columns directly: going
        through SQLAlchemy's ``Row`` objects costs several seconds per million referrals.
        """
        with self.engine.connect() as connection:
            service_id = self.service_id(connection, service_name)
            frames = {
                table_name: _fetch_frame(connection, table, service_id, service_name)
                for table_name, table in schema.DATA_TABLES.items()
            }
            sessions_sha = self.last_sha(connection, service_id, "sessions")
        has_sessions = sessions_sha is not None and sessions_sha != ABSENT
        return ServiceTables(
            referrals=frames["referrals"],
            waiting=frames["waiting"],
            roster=frames["roster"],
            sessions=frames["sessions"] if has_sessions else None,
        )

    def settings(self, service_name: str) -> dict[str, dict]:
        """The newest version of each settings kind the service has (removed files left
        out): ``{kind: {file_name, content (bytes), version, sha256, saved_at, saved_by}}``.

        Raises
        ------
        StoreError
            When the service is not in the store, or was imported before the store kept
            settings (import its folder again).
        """
        with self.engine.connect() as connection:
            service_id = self.service_id(connection, service_name)
            found = self._settings(connection, service_id)
        if "service" not in found:
            raise StoreError(
                f"the store holds data for {service_name!r} but not its settings (it was "
                "imported by an older flowcap): import its folder again"
            )
        return {kind: row for kind, row in found.items() if row["content"] is not None}

    def setting_versions(self, service_name: str) -> list[dict]:
        """Every stored version of each of the service's settings, by kind (in
        :data:`schema.SETTINGS` order) and newest first: ``{kind, version, file_name,
        content (bytes; None: the file was removed), sha256, saved_at, saved_by}``.

        Raises
        ------
        StoreError
            When the service is not in the store.
        """
        table = schema.settings
        with self.engine.connect() as connection:
            service_id = self.service_id(connection, service_name)
            rows = connection.execute(
                select(table)
                .where(table.c.service_id == service_id)
                .order_by(table.c.version.desc())
            ).mappings()
            found = [dict(row) for row in rows]
        rank = {kind: place for place, kind in enumerate(schema.SETTINGS)}
        found.sort(key=lambda row: (rank.get(row["kind"], len(rank)), -row["version"]))
        for row in found:
            row.pop("id", None)
            row.pop("service_id", None)
        return found

    def _settings(self, connection, service_id: int) -> dict[str, dict]:
        table = schema.settings
        rows = connection.execute(
            select(table).where(table.c.service_id == service_id).order_by(table.c.version)
        ).mappings()
        return {row["kind"]: dict(row) for row in rows}

    def events(self, service_name: str) -> pd.DataFrame:
        """The service's stored event-log events in file order: ``case`` (pseudonym),
        ``case_rank`` (the case's place among the log's case ids, which decides the order of
        cases as reading the file does), ``activity``, ``timestamp`` (UTC, naive),
        ``case_type``, ``lifecycle``; empty when it has no event log. Who did each event
        (the log's resource column: often a member of staff) is not stored."""
        table = schema.events
        with self.engine.connect() as connection:
            service_id = self.service_id(connection, service_name)
            frame = _fetch_frame(
                connection, table, service_id, service_name, order=[table.c.position]
            )
        return frame.rename(columns={"case_key": "case"})

    def values_used(self, service_name: str) -> dict[str, set[str]]:
        """The case types (referrals, waiting list) and resources (roster, sessions)
        the service's stored rows name: what a new service.yaml must still define (an event
        log's own case-type values are not names: reading maps them)."""
        used: dict[str, set[str]] = {"case_type": set(), "resource": set()}
        with self.engine.connect() as connection:
            service_id = self.service_id(connection, service_name)
            for column, tables in (
                ("case_type", (schema.referrals, schema.waiting)),
                ("resource", (schema.roster, schema.sessions)),
            ):
                for table in tables:
                    used[column].update(
                        connection.scalars(
                            select(table.c[column])
                            .where(table.c.service_id == service_id)
                            .distinct()
                        )
                    )
        return used

    def services(self) -> list[dict]:
        """Every service in the store, by name: ``name``; ``last_change`` (UTC, naive): the
        latest import of a table or save of a setting; rows per data table (``referrals``,
        ``waiting``, ``roster``, ``sessions``) and ``events``; ``settings``: the newest
        version of each settings kind it has (``{"service": 3, "scenarios": 1}``)."""
        listing = []
        with self.engine.connect() as connection:
            services = connection.execute(
                select(schema.services.c.id, schema.services.c.name).order_by(
                    schema.services.c.name
                )
            ).all()
            for service_id, name in services:
                entry: dict = {"name": name}
                stamps = [
                    connection.scalar(
                        select(func.max(column)).where(table.c.service_id == service_id)
                    )
                    for table, column in (
                        (schema.imports, schema.imports.c.imported_at),
                        (schema.settings, schema.settings.c.saved_at),
                    )
                ]
                entry["last_change"] = max((t for t in stamps if t is not None), default=None)
                for table_name in (*schema.DATA_TABLES, "events"):
                    table = getattr(schema, table_name)
                    entry[table_name] = connection.scalar(
                        select(func.count())
                        .select_from(table)
                        .where(table.c.service_id == service_id)
                    )
                versions = connection.execute(
                    select(schema.settings.c.kind, func.max(schema.settings.c.version))
                    .where(schema.settings.c.service_id == service_id)
                    .group_by(schema.settings.c.kind)
                ).all()
                entry["settings"] = {kind: version for kind, version in sorted(versions)}
                listing.append(entry)
        return listing

    def save_setting(
        self,
        service_name: str,
        kind: str,
        file_name: str,
        content: bytes | None,
        saved_by: str | None = None,
    ) -> int | None:
        """Save a new version of one of a service's settings (``content`` ``None``: the file
        is removed), creating the service when ``kind`` is ``service`` and it is new; the
        version saved, or ``None`` when it equals the last one. The caller checks the content
        (:func:`flowcap.manage.save_settings` does)."""
        if kind not in schema.SETTINGS:
            raise ValueError(f"unknown settings kind {kind!r}; kinds: {', '.join(schema.SETTINGS)}")
        sha = ABSENT if content is None else hashlib.sha256(content).hexdigest()
        with self.writing() as connection:
            service_id = self.service_id(connection, service_name, create=kind == "service")
            return self._save_setting(
                connection, service_id, kind, file_name, sha, content, saved_by or _user()
            )

    def counts(self, service_name: str) -> dict[str, int]:
        """Rows stored per table for a service (0 for a service never imported)."""
        with self.engine.connect() as connection:
            try:
                service_id = self.service_id(connection, service_name)
            except StoreError:
                return {name: 0 for name in schema.DATA_TABLES}
            return {
                name: connection.scalar(
                    select(func.count()).select_from(table).where(table.c.service_id == service_id)
                )
                for name, table in schema.DATA_TABLES.items()
            }

    # --- erasure -------------------------------------------------------------------------

    def erase(self, service_name: str, case_id: str, key: bytes) -> dict[str, int]:
        """Remove every record of one case (right to erasure); return rows removed per table.

        Rows go from every service in the store (a renamed service keeps its old rows under
        its old name). The pseudonym is remembered so that a later import of an export that
        still holds the case does not bring it back, whatever the service is then called and
        even into a store rebuilt from nothing: in ``erased_cases`` (store-wide), in
        ``erasures`` (per service, for the readers that look there) and in the erasure
        ledger beside the key (:func:`flowcap.io.pseudonym.erasure_ledger_path`), written
        and flushed before the store commits. A case never imported is not remembered (a
        mistyped id must not block a real case later).
        """
        [case_key] = pseudonymise([case_id], key)
        removed: dict[str, int] = {}
        with self.writing() as connection:
            self.check_key(connection, key)
            self.service_id(connection, service_name)  # the folder's service must exist
            for table_name in ("referrals", "waiting", "sessions", "events"):
                table = getattr(schema, table_name)
                result = connection.execute(delete(table).where(table.c.case_key == case_key))
                removed[table_name] = result.rowcount
            if sum(removed.values()):
                now = datetime.now(UTC).replace(tzinfo=None)
                append_erasure_ledger(key, [case_key])
                self._remember_erased(connection, {case_key}, now)
                for service_id in connection.scalars(select(schema.services.c.id)):
                    already = connection.scalar(
                        select(func.count())
                        .select_from(schema.erasures)
                        .where(
                            schema.erasures.c.service_id == service_id,
                            schema.erasures.c.case_key == case_key,
                        )
                    )
                    if not already:
                        connection.execute(
                            insert(schema.erasures).values(
                                service_id=service_id, case_key=case_key, erased_at=now
                            )
                        )
        return removed

    def erased_everywhere(self, connection, key: bytes, service_id: int | None = None) -> set[str]:
        """Every erased pseudonym under ``key``: the store's ``erased_cases`` and the erasure
        ledger beside the key. Those the ledger adds (a store rebuilt from nothing) are
        written to ``erased_cases``, and with ``service_id`` the service's ``erasures`` gain
        any it lacks (a service new or renamed since the erasure), in ``connection``'s
        transaction."""
        known = set(connection.scalars(select(schema.erased_cases.c.case_key)))
        ledger = read_erasure_ledger(key)
        now = _now()
        if ledger - known:
            self._remember_erased(connection, ledger - known, now)
        erased = known | ledger
        if service_id is not None and erased:
            table = schema.erasures
            have = set(
                connection.scalars(select(table.c.case_key).where(table.c.service_id == service_id))
            )
            missing = sorted(erased - have)
            if missing:
                connection.execute(
                    insert(table),
                    [{"service_id": service_id, "case_key": k, "erased_at": now} for k in missing],
                )
        return erased

    def _remember_erased(self, connection, case_keys: set[str], now: datetime) -> None:
        """Add pseudonyms to ``erased_cases`` (those already there are left as they are)."""
        table = schema.erased_cases
        known = set(
            connection.scalars(select(table.c.case_key).where(table.c.case_key.in_(case_keys)))
        )
        new = sorted(set(case_keys) - known)
        if new:
            connection.execute(insert(table), [{"case_key": k, "erased_at": now} for k in new])

    def delete_service(self, service_name: str, *, confirm: bool = False) -> dict[str, int]:
        """Remove a whole service: its rows in every table that names it (data, events,
        imports, settings, memberships, jobs, alerts, its per-service erasures) and its name;
        rows removed per table. The store-wide erasures stay, so its erased cases stay
        out of any later import; the audit log keeps its lines (they name the service).

        Raises
        ------
        StoreError
            Without ``confirm`` (nothing is removed), or for a service the store does not hold.
        """
        if not confirm:
            raise StoreError(
                f"removing the whole service {service_name!r} cannot be undone: confirm it "
                "(--yes on the command line)"
            )
        removed: dict[str, int] = {}
        with self.writing() as connection:
            service_id = self.service_id(connection, service_name)
            for table in reversed(schema.metadata.sorted_tables):
                if table.name == "services" or "service_id" not in table.c:
                    continue
                if table.name not in connection.dialect.get_table_names(connection):
                    continue
                result = connection.execute(delete(table).where(table.c.service_id == service_id))
                removed[table.name] = result.rowcount
            connection.execute(delete(schema.services).where(schema.services.c.id == service_id))
        return removed

    def stored_fingerprint(self, connection=None) -> str | None:
        """The fingerprint of the key the store's case keys were made with (``None``: none
        recorded yet, a store never written to)."""
        query = select(schema.store_info.c.value).where(
            schema.store_info.c.key == "key_fingerprint"
        )
        if connection is not None:
            return connection.scalar(query)
        with self.engine.connect() as connection:
            return connection.scalar(query)

    def rotate_key(self, old_key: bytes, new_key: bytes) -> int:
        """Re-key every stored case key from the chain ``old_key`` to ``new_key`` (which is
        ``old_key`` with one or more links added: :func:`flowcap.io.pseudonym.rekey` applied
        per link), in one transaction: every table of :data:`schema.CASE_KEY_TABLES`, the
        recorded fingerprint, and a ``key_rotations`` row with both fingerprints. Returns the
        rows rewritten. The caller writes the new key to its file only after this returns
        (see :func:`flowcap.records.rotate_key`).

        Raises
        ------
        StoreError
            When the store was not written under ``old_key``, or ``new_key`` does not extend
            it (nothing is changed).
        """
        if len(new_key) <= len(old_key) or new_key[: len(old_key)] != old_key:
            raise StoreError("a rotated key must extend the store's key with new links")
        old_print, new_print = fingerprint(old_key), fingerprint(new_key)
        rows = 0
        with self.writing() as connection:
            stored = self.stored_fingerprint(connection)
            if stored is None:
                raise StoreError(
                    f"the store at {self.where()} holds no case keys yet: nothing to rotate"
                )
            if stored != old_print:
                raise StoreError(
                    f"the store at {self.where()} was written with another key (fingerprint "
                    f"{stored}; the key given is {old_print}): nothing was rotated"
                )
            tables = [getattr(schema, name) for name in schema.CASE_KEY_TABLES]
            keys: set[str] = set()
            for table in tables:
                keys.update(connection.scalars(select(table.c.case_key).distinct()))
            old_keys = sorted(keys)
            new_keys = old_keys
            for start in range(len(old_key), len(new_key), 32):
                new_keys = rekey(new_keys, new_key[start : start + 32])
            mapping = Table(
                "flowcap_key_map",
                MetaData(),
                Column("old", String(32), primary_key=True),
                Column("new", String(32), nullable=False),
                prefixes=["TEMPORARY"],
            )
            mapping.create(connection)
            if old_keys:
                connection.execute(
                    insert(mapping),
                    [{"old": o, "new": n} for o, n in zip(old_keys, new_keys, strict=True)],
                )
            for table in tables:
                renamed = (
                    select(mapping.c.new).where(mapping.c.old == table.c.case_key).scalar_subquery()
                )
                rows += connection.execute(update(table).values(case_key=renamed)).rowcount
            mapping.drop(connection)
            connection.execute(
                update(schema.store_info)
                .where(schema.store_info.c.key == "key_fingerprint")
                .values(value=new_print)
            )
            connection.execute(
                insert(schema.key_rotations).values(
                    rotated_at=_now(),
                    old_fingerprint=old_print,
                    new_fingerprint=new_print,
                    rows=rows,
                )
            )
        return rows


def _rotation_hint(stored: str, key: bytes) -> str | None:
    """Why a store's fingerprint differs from the key's, when a rotation explains it: the
    store is still at an earlier link of the key's chain (another store was rotated), or a
    rotation committed to the store before the new key reached the key file."""
    from flowcap.io.pseudonym import key_file_path, parse_key

    for links in range(1, len(key) // 32):
        if fingerprint(key[: links * 32]) == stored:
            return (
                "this store has not been rotated to the current pseudonymisation key (it is "
                f"at fingerprint {stored}, an earlier link of your key): run `flowcap key "
                "rotate` on this store to bring it up to date"
            )
    pending = key_file_path().with_name(key_file_path().name + ".next")
    try:
        if fingerprint(parse_key(pending.read_text(), str(pending))) == stored:
            return (
                "a key rotation was interrupted after the store was rotated and before the "
                f"new key replaced the key file ({pending} holds it): run `flowcap key "
                "rotate` again to finish it"
            )
    except (OSError, UnicodeDecodeError, StoreError):
        pass
    return None


def _fetch_frame(connection, table, service_id: int, service: str, order=None) -> pd.DataFrame:
    """One table's rows for a service, with dates as datetime64 and text as object columns
    (ordered by ``order``, by default the case key where the table has one); a value flowcap
    never writes is a "store is damaged" :class:`StoreError` naming ``service``."""
    skip = ("service_id", "id", "position")
    columns = [c for c in table.c if c.name not in skip]
    if order is None:
        order = [table.c.case_key] if "case_key" in table.c else []
    query = select(*columns).where(table.c.service_id == service_id).order_by(*order)
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    frame = {
        column.name: read_column(data, column, service)
        for column, data in zip(columns, values, strict=True)
    }
    return pd.DataFrame(frame)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


STAMP = "%Y-%m-%d %H:%M:%S.%f"


def _event_rows(log, key: bytes, erased: set[str]) -> pd.DataFrame:
    """An event log's rows as stored: pseudonyms for case ids, timestamps in UTC, erased
    cases left out."""
    events = log.events
    cases = events["case"]
    pseudonyms = np.asarray(pseudonymise([str(c) for c in cases.cat.categories], key), dtype=object)
    codes = cases.cat.codes.to_numpy()
    rows = pd.DataFrame(
        {
            "position": events["order"].to_numpy(dtype=np.int64),
            "case_key": pseudonyms[codes],
            "case_rank": codes.astype(np.int64),
            "activity": events["activity"].astype(str).to_numpy(dtype=object),
            "timestamp": events["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None),
            "case_type": events["case_type"].astype(str).to_numpy(dtype=object),
            "lifecycle": events["lifecycle"].astype(str).to_numpy(dtype=object),
        }
    )
    return rows[~rows["case_key"].isin(erased)] if erased else rows


#: The PostgreSQL advisory lock every writing transaction takes (any fixed 64-bit number
#: other programs sharing the database are unlikely to use: "flowcap" in ASCII).
WRITE_LOCK_ID = int.from_bytes(b"flowcap", "big")


def _lock_for_writing(connection: Connection) -> None:
    """Take the store's write lock in ``connection``'s new transaction (see
    :meth:`Store.writing`); it is released when the transaction ends."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        # pysqlite opens its own (deferred) transaction only before a data change, so an
        # explicit BEGIN IMMEDIATE here is the transaction SQLAlchemy commits or rolls back.
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except SQLAlchemyError as exc:
            raise StoreError(
                "the store is busy: another flowcap command has been writing to it for more "
                f"than {SQLITE_BUSY_TIMEOUT_MS // 1000} s; try again when it has finished"
            ) from exc
    elif dialect == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_ID})")


def _create_sqlite_file(path: Path) -> None:
    """Make an empty SQLite store at ``path``, already in write-ahead-log mode, whole.

    The file is made under a name of its own and linked into place, so two first commands at
    once never both open an empty file and switch it to WAL together. Each would hold a read
    lock while asking for the write lock, and SQLite answers one of them "database is locked"
    at once rather than wait for a deadlock (its busy handler's documented exception). One
    of two first imports in CI failed with an OperationalError that way, we believe (the
    message was cut short and the race did not recur in 480 tries here). Losing the race to
    another process is fine: its file is just as good.
    """
    import sqlite3

    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    connection = sqlite3.connect(draft)
    try:
        connection.execute("PRAGMA journal_mode=WAL")  # writes the header: the file is whole
    finally:
        connection.close()
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # First, so that every statement below waits for another connection's lock too.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-131072")  # 128 MB: imports of a million rows stay in memory
    # Write-ahead logging: a long read (the web app opening a million referrals) no longer
    # blocks a write (a login, a token's last use) until it ends, which answered "database is
    # locked" under the load benchmark; a write waits up to 30 s for another write.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _frame_for(
    table_name: str, folder: ServiceFolder, key: bytes, erased: set[str]
) -> pd.DataFrame:
    """The rows to store for one table: case ids replaced by pseudonyms, erased cases dropped."""
    frame = folder.roster.rows if table_name == "roster" else getattr(folder, table_name)
    if frame is None:
        return pd.DataFrame()
    frame = frame.copy()
    if "case_id" in frame:
        frame.insert(0, "case_key", pseudonymise(frame.pop("case_id").tolist(), key))
        if erased:
            frame = frame[~frame["case_key"].isin(erased)]
    if table_name == "roster":
        frame["minutes_per_staff"] = (
            frame["minutes_per_staff"]
            .astype(object)
            .where(frame["minutes_per_staff"].notna(), None)
        )
    return frame


def _formatted_times(series: pd.Series, form: str) -> list:
    """``series.dt.strftime(form).tolist()``, formatting each distinct time once: a million
    referrals fall on a few hundred days, and strftime costs a microsecond a cell."""
    codes, distinct = pd.factorize(series)
    texts = np.asarray(pd.DatetimeIndex(distinct).strftime(form), dtype=object)
    # Code -1 is a missing time, which strftime gives as NaN (stored as NULL).
    formatted = np.full(len(codes), np.nan, dtype=object)
    known = codes >= 0
    formatted[known] = texts[codes[known]]
    return formatted.tolist()


#: Most rows in one SQLite INSERT: a statement of many rows costs the driver a third less per
#: row than one row a statement (same transaction, same durability); fewer for a wide table,
#: so no statement binds more than the 999 values an SQLite before 3.32 allows.
SQLITE_ROWS_PER_INSERT = 100


def _insert_sqlite(connection, insert_into: str, rows: list[tuple]) -> None:
    """Insert ``rows`` with ``insert_into`` (``INSERT INTO "t" (...) VALUES ``) in the
    connection's transaction, many rows a statement."""
    from itertools import chain

    width = len(rows[0])
    per = max(1, min(SQLITE_ROWS_PER_INSERT, 999 // width))
    one = "(" + ", ".join("?" * width) + ")"
    whole = len(rows) - len(rows) % per
    if whole:
        chunks = [
            tuple(chain.from_iterable(rows[start : start + per])) for start in range(0, whole, per)
        ]
        connection.exec_driver_sql(insert_into + ", ".join([one] * per), chunks)
    if whole < len(rows):
        connection.exec_driver_sql(insert_into + one, rows[whole:])


def bulk_insert(connection, table, frame: pd.DataFrame, service_id: int) -> int:
    """Insert a frame's rows fast: COPY on PostgreSQL, executemany of tuples elsewhere."""
    if frame.empty:
        return 0
    if "case_key" in frame:
        # Rows in key order fill the primary-key B-tree from one end: twice as fast in SQLite.
        frame = frame.iloc[np.argsort(frame["case_key"].to_numpy(dtype="S32"), kind="stable")]
    columns = ["service_id", *frame.columns]
    data = {"service_id": [service_id] * len(frame)}
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            stamp = isinstance(table.c[name].type, schema.DateTime)
            data[name] = _formatted_times(series, STAMP if stamp else "%Y-%m-%d")
        else:
            data[name] = series.tolist()
    rows = list(zip(*(data[c] for c in columns), strict=True))
    dialect = connection.dialect.name
    raw = connection.connection.driver_connection
    quoted = ", ".join(f'"{c}"' for c in columns)
    try:
        if dialect == "postgresql" and hasattr(raw, "cursor"):
            with (
                raw.cursor() as cursor,
                cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        elif dialect == "sqlite":
            _insert_sqlite(connection, f'INSERT INTO "{table.name}" ({quoted}) VALUES ', rows)
        else:
            records = [dict(zip(columns, row, strict=True)) for row in rows]
            connection.execute(insert(table), records)
    except SQLAlchemyError:
        raise
    except Exception as exc:  # the driver's own error (COPY runs on the raw cursor)
        raise StoreError(
            f"the store refused the {table.name} rows ({type(exc).__name__}: {exc}); "
            "nothing was imported"
        ) from exc
    return len(rows)
