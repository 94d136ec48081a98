"""Backup and restore (issue 14): a whole store round-trips, every measure identical; the key
is not in the backup, and a restore under another key, into a store with rows, or from a
damaged file is refused with nothing written."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from conftest import REAL, worked_example
from flowcap import manage, records
from flowcap.cli.main import app
from flowcap.errors import StoreError
from flowcap.io.pseudonym import fingerprint, load_key
from flowcap.store import Store, database_url, schema

EXAMPLE = REAL.parents[1].parent / "main" / "examples" / "victim-support"
runner = CliRunner()


def _measures(folder) -> dict:
    result = runner.invoke(app, ["measures", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _dump(url: str) -> dict[str, list]:
    store = Store.open(url, existing=True)
    try:
        with store.engine.connect() as connection:
            return {
                table.name: sorted(map(repr, connection.execute(select(table)).all()))
                for table in schema.metadata.sorted_tables
            }
    finally:
        store.close()


@pytest.fixture
def example(tmp_path):
    folder = tmp_path / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    return folder


def test_a_backup_restores_every_row_and_every_measure(tmp_path, example, backend):
    manage.import_folder(example)
    manage.erase_case(example, "C00007")
    before = _measures(example)
    rows_before = _dump(database_url(example))
    file = tmp_path / "backup.zip"
    manifest = records.backup(file, example)
    assert manifest["key_fingerprint"] == fingerprint(load_key())
    assert manifest["tables"]["referrals"]["rows"] > 1000
    # The key is nowhere in the backup, in any table.
    raw = b"".join(zipfile.ZipFile(file).read(n) for n in zipfile.ZipFile(file).namelist())
    assert load_key().hex().encode() not in raw and load_key() not in raw
    if backend == "sqlite":
        shutil.rmtree(example / ".flowcap")  # the store is lost...
    else:
        store = Store.open(database_url(example))
        with store.engine.begin() as connection:  # ...emptied, as a new database would be
            for table in reversed(schema.metadata.sorted_tables):
                connection.execute(table.delete())
        store.close()
    records.restore(file, example)
    assert _dump(database_url(example)) == rows_before
    assert _measures(example) == before


def test_a_restore_under_another_key_is_refused(tmp_path, isolated_key):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    file = tmp_path / "b.zip"
    records.backup(file, folder)
    isolated_key.unlink()
    load_key()  # a new key
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="another pseudonymisation key"):
        records.restore(file, tmp_path / "empty")
    assert not (tmp_path / "empty" / ".flowcap").exists()  # nothing made


def test_a_restore_into_a_store_with_rows_is_refused(tmp_path):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    file = tmp_path / "b.zip"
    records.backup(file, folder)
    before = _dump(database_url(folder))
    with pytest.raises(StoreError, match="not empty"):
        records.restore(file, folder)
    assert _dump(database_url(folder)) == before


def test_a_damaged_backup_is_refused_before_anything_is_made(tmp_path):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    file = tmp_path / "b.zip"
    records.backup(file, folder)
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(file) as source, zipfile.ZipFile(damaged, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "tables/referrals.parquet":
                data = data[:-20] + bytes(20)
            target.writestr(name, data)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StoreError, match="checksum"):
        records.restore(damaged, empty)
    assert not (empty / ".flowcap").exists()
    (tmp_path / "junk.zip").write_text("not a zip")
    with pytest.raises(StoreError, match="not a flowcap backup"):
        records.restore(tmp_path / "junk.zip", empty)
