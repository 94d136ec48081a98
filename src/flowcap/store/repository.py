"""Writing a checked service folder into the store, reading it back, and erasing a person.

An import is one transaction: it either writes every changed table or nothing, so a failure
or a kill part-way leaves the store exactly as it was. Each table is replaced as a whole when
its file's SHA-256 differs from the last import, so re-importing the same folder adds nothing
and a corrected file replaces the old rows. Case ids are pseudonymised before they are
written (see :mod:`flowcap.io.pseudonym`); erased cases are remembered by pseudonym and kept
out of later imports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, func, insert, select

from flowcap.errors import StoreError
from flowcap.io.folder import ServiceFolder
from flowcap.io.pseudonym import fingerprint, pseudonymise
from flowcap.store import schema

MIGRATIONS = Path(__file__).with_name("migrations")
ABSENT = "absent"


def database_url(folder: str | Path) -> str:
    """``FLOWCAP_DATABASE_URL`` if set, else an SQLite file in the folder's ``.flowcap/``."""
    configured = os.environ.get("FLOWCAP_DATABASE_URL")
    if configured:
        return configured
    path = Path(folder).resolve() / ".flowcap" / "flowcap.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@dataclass
class ImportReport:
    """What an import did, per table: rows written, or ``None`` when the file was unchanged."""

    service: str
    written: dict[str, int | None] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(rows is not None for rows in self.written.values())


@dataclass
class StoredData:
    """A service's data as stored. ``case_key`` is the pseudonym; dates are datetime64.

    ``sessions`` is ``None`` when no sessions file has been imported (activity is then modelled).
    """

    referrals: pd.DataFrame
    waiting: pd.DataFrame
    roster: pd.DataFrame
    sessions: pd.DataFrame | None


class Store:
    """A flowcap store at an SQLAlchemy URL; call :meth:`migrate` before first use."""

    def __init__(self, url: str):
        self.url = url
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @classmethod
    def for_folder(cls, folder: str | Path) -> Store:
        store = cls(database_url(folder))
        store.migrate()
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()

    # --- import --------------------------------------------------------------------------

    def import_folder(self, folder: ServiceFolder, key: bytes) -> ImportReport:
        """Write the folder's changed tables in one transaction.

        Raises
        ------
        StoreError
            If the store was written under a different pseudonymisation key.
        """
        report = ImportReport(folder.service.name)
        with self.engine.begin() as connection:
            self._check_key(connection, key)
            service_id = self._service_id(connection, folder.service.name, create=True)
            erased = set(
                connection.scalars(
                    select(schema.erasures.c.case_key).where(
                        schema.erasures.c.service_id == service_id
                    )
                )
            )
            for table_name, table in schema.DATA_TABLES.items():
                file_name, sha = folder.files.get(table_name, (ABSENT, ABSENT))
                if self._last_sha(connection, service_id, table_name) == sha:
                    report.written[table_name] = None
                    continue
                if sha == ABSENT and not self._has_import(connection, service_id, table_name):
                    report.written[table_name] = None
                    continue
                connection.execute(delete(table).where(table.c.service_id == service_id))
                frame = _frame_for(table_name, folder, key, erased)
                rows = _bulk_insert(connection, table, frame, service_id)
                self._record_import(connection, service_id, table_name, file_name, sha, rows)
                report.written[table_name] = rows
            # The definition is recorded too: a changed service.yaml (a case type renamed, say)
            # means the stored rows must be checked against it again before measuring.
            name, sha = folder.files.get("service", ("service.yaml", ABSENT))
            if self._last_sha(connection, service_id, "service") != sha:
                self._record_import(connection, service_id, "service", name, sha, 0)
        return report

    def _record_import(self, connection, service_id, table_name, file_name, sha, rows) -> None:
        connection.execute(
            insert(schema.imports).values(
                service_id=service_id,
                table_name=table_name,
                file_name=file_name,
                sha256=sha,
                rows=rows,
                imported_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )

    def _check_key(self, connection, key: bytes) -> None:
        stored = connection.scalar(
            select(schema.store_info.c.value).where(schema.store_info.c.key == "key_fingerprint")
        )
        mine = fingerprint(key)
        if stored is None:
            connection.execute(insert(schema.store_info).values(key="key_fingerprint", value=mine))
        elif stored != mine:
            raise StoreError(
                "this store was written with a different pseudonymisation key "
                f"(fingerprint {stored}, yours is {mine}). Restore the original key "
                "(FLOWCAP_KEY or the key file) instead of importing under a new one, "
                "or every case would be counted twice."
            )

    def _service_id(self, connection, name: str, create: bool = False) -> int:
        found = connection.scalar(
            select(schema.services.c.id).where(schema.services.c.name == name)
        )
        if found is not None:
            return found
        if not create:
            raise StoreError(f"no data imported yet for service {name!r}")
        return connection.execute(insert(schema.services).values(name=name)).inserted_primary_key[0]

    def _last_sha(self, connection, service_id: int, table_name: str) -> str | None:
        return connection.scalar(
            select(schema.imports.c.sha256)
            .where(
                schema.imports.c.service_id == service_id, schema.imports.c.table_name == table_name
            )
            .order_by(schema.imports.c.id.desc())
            .limit(1)
        )

    def _has_import(self, connection, service_id: int, table_name: str) -> bool:
        return self._last_sha(connection, service_id, table_name) is not None

    def is_current(self, service_name: str, files: dict[str, tuple[str, str]]) -> bool:
        """True when every table's last import came from exactly these files (by SHA-256)."""
        with self.engine.connect() as connection:
            try:
                service_id = self._service_id(connection, service_name)
            except StoreError:
                return False
            for table_name in ("service", *schema.DATA_TABLES):
                sha = files.get(table_name, (ABSENT, ABSENT))[1]
                last = self._last_sha(connection, service_id, table_name)
                if last != sha and not (last is None and sha == ABSENT):
                    return False
        return True

    # --- reading -------------------------------------------------------------------------

    def load(self, service_name: str) -> StoredData:
        """Everything stored for a service, as DataFrames (referrals ordered by ``case_key``).

        Rows are fetched through the driver's cursor and built into columns directly: going
        through SQLAlchemy's ``Row`` objects costs several seconds per million referrals.
        """
        with self.engine.connect() as connection:
            service_id = self._service_id(connection, service_name)
            frames = {
                table_name: _fetch_frame(connection, table, service_id)
                for table_name, table in schema.DATA_TABLES.items()
            }
            sessions_sha = self._last_sha(connection, service_id, "sessions")
        has_sessions = sessions_sha is not None and sessions_sha != ABSENT
        return StoredData(
            referrals=frames["referrals"],
            waiting=frames["waiting"],
            roster=frames["roster"],
            sessions=frames["sessions"] if has_sessions else None,
        )

    def counts(self, service_name: str) -> dict[str, int]:
        """Rows stored per table for a service (0 for a service never imported)."""
        with self.engine.connect() as connection:
            try:
                service_id = self._service_id(connection, service_name)
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
        its old name). The pseudonym is remembered in ``erasures`` so that a later import of
        an export that still holds the case does not bring it back; a case never imported is
        not remembered (a mistyped id must not block a real case later).
        """
        [case_key] = pseudonymise([case_id], key)
        removed: dict[str, int] = {}
        with self.engine.begin() as connection:
            self._check_key(connection, key)
            self._service_id(connection, service_name)  # the folder's service must exist
            for table_name in ("referrals", "waiting", "sessions"):
                table = schema.DATA_TABLES[table_name]
                result = connection.execute(delete(table).where(table.c.case_key == case_key))
                removed[table_name] = result.rowcount
            if sum(removed.values()):
                now = datetime.now(UTC).replace(tzinfo=None)
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


def _fetch_frame(connection, table, service_id: int) -> pd.DataFrame:
    """One table's rows for a service, with dates as datetime64 and text as object columns."""
    columns = [c for c in table.c if c.name not in ("service_id", "id")]
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
    frame = {}
    for column, data in zip(columns, values, strict=True):
        if isinstance(column.type, schema.Date):
            frame[column.name] = pd.to_datetime(pd.Series(data, dtype=object)).astype(
                "datetime64[ns]"
            )
        elif isinstance(column.type, schema.Float):
            frame[column.name] = pd.Series(np.array(data, dtype=float))
        else:
            frame[column.name] = pd.Series(np.array(data, dtype=object), dtype=object)
    return pd.DataFrame(frame)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-131072")  # 128 MB: imports of a million rows stay in memory
    cursor.close()


def _frame_for(
    table_name: str, folder: ServiceFolder, key: bytes, erased: set[str]
) -> pd.DataFrame:
    """The rows to store for one table: case ids replaced by pseudonyms, erased cases dropped."""
    frame = getattr(folder, table_name)
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


def _bulk_insert(connection, table, frame: pd.DataFrame, service_id: int) -> int:
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
            data[name] = series.dt.strftime("%Y-%m-%d").tolist()
        else:
            data[name] = series.tolist()
    rows = list(zip(*(data[c] for c in columns), strict=True))
    dialect = connection.dialect.name
    raw = connection.connection.driver_connection
    if dialect == "postgresql" and hasattr(raw, "cursor"):
        quoted = ", ".join(f'"{c}"' for c in columns)
        with (
            raw.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row(row)
    elif dialect == "sqlite":
        marks = ", ".join("?" for _ in columns)
        quoted = ", ".join(f'"{c}"' for c in columns)
        connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', rows)
    else:
        connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
    return len(rows)
