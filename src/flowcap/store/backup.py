"""A whole store in one file and back: ``flowcap backup`` and ``flowcap restore``.

A backup is a zip holding one Parquet file per table (``tables/<name>.parquet``, typed
columns: dates stay dates, nothing is re-parsed from text) and ``manifest.json``: the format
and its version, the store's schema revision (Alembic), the fingerprint of the
pseudonymisation key its case keys were made with, and per table the rows and the SHA-256 of
its Parquet file. The key itself is never in a backup: restoring needs the same key, kept
apart (the restore compares fingerprints), so a stolen backup holds only pseudonyms. A
backup does hold the web app's accounts (Argon2id password hashes, token hashes): keep it as
carefully as the store.

A restore checks every checksum and the schema revision before writing anything, goes only
into an empty store (SQLite or PostgreSQL, whichever the backup came from), and writes every
table in one transaction.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, insert, inspect, select, text

from flowcap.errors import StoreError
from flowcap.store import schema
from flowcap.store.repository import MIGRATIONS, Store

FORMAT = "flowcap-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Rows inserted per statement on restore.
BATCH_ROWS = 5_000
#: The most a manifest may be (a backup's manifest is a few kilobytes).
MAX_MANIFEST_BYTES = 1_000_000


def head_revision() -> str:
    """The schema revision this flowcap's migrations end at."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def _arrow_type(column) -> pa.DataType:
    kind = column.type
    if isinstance(kind, schema.Boolean):
        return pa.bool_()
    if isinstance(kind, schema.Integer):
        return pa.int64()
    if isinstance(kind, schema.Float):
        return pa.float64()
    if isinstance(kind, schema.DateTime):
        return pa.timestamp("us")
    if isinstance(kind, schema.Date):
        return pa.date32()
    if isinstance(kind, schema.LargeBinary):
        return pa.binary()
    return pa.string()


def _table_bytes(connection, table) -> tuple[bytes, int]:
    """One table as Parquet (rows in primary-key order) and its row count."""
    order = list(table.primary_key.columns) or list(table.c)
    rows = connection.execute(select(table).order_by(*order)).all()
    fields = [pa.field(c.name, _arrow_type(c), nullable=True) for c in table.c]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(fields)
    arrays = [pa.array(list(data), type=f.type) for f, data in zip(fields, columns, strict=True)]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), buffer)
    return buffer.getvalue(), len(rows)


def backup_store(store: Store, path: str | Path) -> dict:
    """Write the whole store to ``path`` (a zip; see the module's docstring), atomically:
    the file appears complete or not at all. Returns the manifest.

    Raises
    ------
    StoreError
        When the store holds tables this flowcap does not know (a backup would miss them),
        or the file cannot be written.
    """
    path = Path(path)
    engine = store.engine
    if engine.dialect.name == "postgresql":  # one snapshot for every table read
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.begin() as connection:  # SQLite: one read transaction, one snapshot
        present = set(inspect(connection).get_table_names()) - {"alembic_version"}
        unknown = sorted(present - set(schema.metadata.tables))
        if unknown:
            raise StoreError(
                f"the store holds tables this flowcap does not know ({', '.join(unknown)}): "
                "back it up with the flowcap that made them"
            )
        revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
        manifest: dict = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_revision": revision,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": connection.dialect.name,
            "key_fingerprint": store.stored_fingerprint(connection),
            "tables": {},
        }
        members: dict[str, bytes] = {}
        for table in schema.metadata.sorted_tables:
            data, rows = _table_bytes(connection, table)
            member = f"tables/{table.name}.parquet"
            members[member] = data
            manifest["tables"][table.name] = {
                "file": member,
                "rows": rows,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".flowcap-backup-", dir=path.parent)
        with os.fdopen(descriptor, "wb") as handle:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(MANIFEST, json.dumps(manifest, indent=2) + "\n")
                for member, data in members.items():
                    archive.writestr(member, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except OSError as error:
        raise StoreError(f"cannot write the backup {path}: {error.strerror or error}") from None
    return manifest


def read_backup(path: str | Path) -> tuple[dict, dict[str, pa.Table]]:
    """A backup's manifest and tables, every checksum checked.

    Raises
    ------
    StoreError
        For a file that is not a flowcap backup, a newer format, or a table whose checksum
        or row count does not match (a damaged or altered backup).
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise StoreError(f"{path} is not a flowcap backup ({error})") from None
    with archive:
        try:
            info = archive.getinfo(MANIFEST)
            if info.file_size > MAX_MANIFEST_BYTES:
                raise StoreError(f"{path}: its manifest is too large to be a flowcap backup's")
            manifest = json.loads(archive.read(MANIFEST))
        except (KeyError, ValueError):
            raise StoreError(f"{path} is not a flowcap backup (no readable manifest)") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise StoreError(f"{path} is not a flowcap backup")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise StoreError(
                f"{path} is a backup in format {manifest.get('format_version')!r}; this flowcap "
                f"reads format {FORMAT_VERSION}"
            )
        tables: dict[str, pa.Table] = {}
        for name, entry in manifest.get("tables", {}).items():
            try:
                data = archive.read(entry["file"])
            except (KeyError, TypeError):
                raise StoreError(f"{path}: the table {name} is missing") from None
            if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                raise StoreError(
                    f"{path}: the table {name} does not match its checksum (the backup is "
                    "damaged or was altered); nothing was restored"
                )
            table = pq.read_table(io.BytesIO(data))
            if table.num_rows != entry.get("rows"):
                raise StoreError(f"{path}: the table {name} has the wrong number of rows")
            tables[name] = table
    return manifest, tables


def restore_store(store: Store, path: str | Path, key_fingerprint: str | None) -> dict:
    """Restore a backup into ``store``, which must be empty; returns the manifest.

    ``key_fingerprint`` is the fingerprint of the key the user has now: a backup whose case
    keys were made with another key is refused, because every later import would count its
    cases twice.

    Raises
    ------
    StoreError
        For a damaged backup, another schema revision, another key, or a store that already
        holds rows (nothing is written).
    """
    manifest, tables = read_backup(path)
    revision = head_revision()
    if manifest.get("schema_revision") != revision:
        raise StoreError(
            f"{path} was made at schema revision {manifest.get('schema_revision')!r}; this "
            f"flowcap's is {revision!r}: restore it with the flowcap that made it, then upgrade"
        )
    stored_print = manifest.get("key_fingerprint")
    if stored_print is not None and stored_print != key_fingerprint:
        raise StoreError(
            f"{path} was made with another pseudonymisation key (fingerprint {stored_print}, "
            f"yours is {key_fingerprint}): restore the key that goes with it first"
        )
    unknown = sorted(set(tables) - set(schema.metadata.tables))
    missing = sorted(set(schema.metadata.tables) - set(tables))
    if unknown or missing:
        raise StoreError(
            f"{path} does not hold this flowcap's tables (unknown: {', '.join(unknown) or '-'}; "
            f"missing: {', '.join(missing) or '-'})"
        )
    with store.writing() as connection:
        full = [
            table.name
            for table in schema.metadata.sorted_tables
            if connection.scalar(select(func.count()).select_from(table))
        ]
        if full:
            raise StoreError(
                f"the store at {store.where()} is not empty ({', '.join(full)} hold rows): "
                "restore into a new, empty store"
            )
        for table in schema.metadata.sorted_tables:
            rows = tables[table.name].to_pylist()
            for start in range(0, len(rows), BATCH_ROWS):
                connection.execute(insert(table), rows[start : start + BATCH_ROWS])
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection)
    return manifest


def _reset_sequences(connection) -> None:
    """Move each PostgreSQL id sequence past the restored ids (new rows get new ids)."""
    for table in schema.metadata.sorted_tables:
        if "id" not in table.c or not table.c.id.autoincrement:
            continue
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f'COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM "{table.name}"'
            )
        )
