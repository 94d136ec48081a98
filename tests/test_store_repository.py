"""The store: atomic, idempotent imports; pseudonyms only; the key guarded; erasure."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import text

from conftest import snapshot, worked_example
from flowcap import import_folder
from flowcap.errors import StoreError
from flowcap.io import read_service_folder
from flowcap.io.pseudonym import load_key, pseudonymise
from flowcap.store import Store
from flowcap.store.repository import database_url


def test_import_writes_every_table_and_migrates_to_head(tmp_path, backend):
    folder = worked_example(tmp_path)
    report = import_folder(folder)
    assert report.written == {
        "referrals": 12,
        "waiting": 20,
        "roster": None,
        "sessions": None,
        "events": None,  # not an event-log service
    }
    store = Store.for_folder(folder)
    with store.engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0006"
    assert store.counts("Worked example") == {
        "referrals": 12,
        "waiting": 20,
        "roster": 0,
        "sessions": 0,
    }
    store.close()


def test_reimporting_the_same_files_adds_nothing(tmp_path, backend):
    folder = worked_example(tmp_path)
    import_folder(folder)
    before = snapshot(folder)
    report = import_folder(folder)
    assert not report.changed
    assert snapshot(folder) == before


def test_a_changed_file_replaces_that_table_only(tmp_path, backend):
    folder = worked_example(tmp_path)
    import_folder(folder)
    with (folder / "referrals.csv").open("a") as handle:
        handle.write("R99,2025-03-05,advocacy\n")
    report = import_folder(folder)
    assert report.written == {
        "referrals": 13,
        "waiting": None,
        "roster": None,
        "sessions": None,
        "events": None,
    }


def test_a_failure_mid_import_leaves_the_store_as_it_was(tmp_path, backend, monkeypatch):
    folder = worked_example(tmp_path)
    import_folder(folder)
    before = snapshot(folder)
    (folder / "referrals.csv").write_text(
        "case_id,referral_date,case_type\nNEW,2025-03-06,advocacy\n"
    )
    (folder / "roster.csv").write_text("date,resource,staff\n2025-03-06,idva,3\n")

    from flowcap.store import repository

    real_insert = repository.bulk_insert
    calls = []

    def fail_on_second_table(connection, table, frame, service_id):
        calls.append(table.name)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_insert(connection, table, frame, service_id)

    monkeypatch.setattr(repository, "bulk_insert", fail_on_second_table)
    with pytest.raises(RuntimeError, match="disk full"):
        import_folder(folder)
    assert calls == ["referrals", "roster"]
    assert snapshot(folder) == before


def test_a_kill_mid_import_leaves_the_store_as_it_was(tmp_path, backend):
    folder = worked_example(tmp_path)
    import_folder(folder)
    before = snapshot(folder)
    (folder / "referrals.csv").write_text(
        "case_id,referral_date,case_type\nNEW,2025-03-06,advocacy\n"
    )
    (folder / "roster.csv").write_text("date,resource,staff\n2025-03-06,idva,3\n")
    script = textwrap.dedent(f"""
        import os, signal
        from flowcap.store import repository
        from flowcap import import_folder
        real = repository.bulk_insert
        def insert_then_die(connection, table, frame, service_id):
            rows = real(connection, table, frame, service_id)
            if table.name == "roster":
                os.kill(os.getpid(), signal.SIGKILL)
            return rows
        repository.bulk_insert = insert_then_die
        import_folder({str(folder)!r})
    """)
    done = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), timeout=120)
    assert done.returncode == -9
    assert snapshot(folder) == before


def test_no_raw_case_id_is_written_to_the_store(tmp_path, backend):
    folder = worked_example(tmp_path)
    (folder / "sessions.csv").write_text("date,case_id,resource,minutes\n2025-03-04,R05,idva,60\n")
    import_folder(folder)
    raw_ids = [f"R{i:02d}" for i in range(12)] + [f"W{i:02d}" for i in range(20)]
    dumped = str(snapshot(folder))
    assert not any(f"'{case_id}'" in dumped for case_id in raw_ids)
    if backend == "sqlite":
        database = (folder / ".flowcap" / "flowcap.db").read_bytes()
        assert not any(case_id.encode() + b"," in database for case_id in raw_ids)
        assert pseudonymise(["R05"], load_key())[0].encode() in database


def test_the_key_file_is_private(tmp_path, isolated_key):
    import_folder(worked_example(tmp_path))
    assert stat.S_IMODE(isolated_key.stat().st_mode) == 0o600


def test_an_import_under_another_key_is_refused(tmp_path, backend, monkeypatch):
    folder = worked_example(tmp_path)
    import_folder(folder)
    before = snapshot(folder)
    (folder / "referrals.csv").write_text(
        "case_id,referral_date,case_type\nNEW,2025-03-06,advocacy\n"
    )
    monkeypatch.setenv("FLOWCAP_KEY", "ab" * 32)
    with pytest.raises(StoreError, match="different pseudonymisation key"):
        import_folder(folder)
    monkeypatch.delenv("FLOWCAP_KEY")
    assert snapshot(folder) == before


def test_erasure_removes_every_record_and_survives_reimport(tmp_path, backend):
    folder = worked_example(tmp_path)
    (folder / "sessions.csv").write_text(
        "date,case_id,resource,minutes\n2025-03-04,R05,idva,60\n2025-03-04,R06,idva,60\n"
    )
    import_folder(folder)
    store = Store.for_folder(folder)
    removed = store.erase("Worked example", "R05", load_key())
    assert removed == {"referrals": 1, "waiting": 0, "sessions": 1, "events": 0}
    # The export changes (another referral arrives) but still holds R05: it stays erased.
    with (folder / "referrals.csv").open("a") as handle:
        handle.write("R99,2025-03-05,advocacy\n")
    with (folder / "sessions.csv").open("a") as handle:
        handle.write("2025-03-05,R05,idva,30\n")
    import_folder(folder)
    key = pseudonymise(["R05"], load_key())[0]
    data = store.load("Worked example")
    assert key not in set(data.referrals["case_key"]) | set(data.sessions["case_key"])
    assert len(data.referrals) == 12 and len(data.sessions) == 1
    store.close()


def test_database_url_comes_from_the_environment(tmp_path, monkeypatch):
    assert database_url(tmp_path).startswith("sqlite:///")
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert database_url(tmp_path) == "postgresql+psycopg://u@h/db"


def test_sessions_removed_from_the_folder_are_removed_from_the_store(tmp_path):
    folder = worked_example(tmp_path)
    (folder / "sessions.csv").write_text("date,case_id,resource,minutes\n2025-03-04,R05,idva,60\n")
    import_folder(folder)
    (folder / "sessions.csv").unlink()
    assert import_folder(folder).written["sessions"] == 0
    store = Store.for_folder(folder)
    assert store.load("Worked example").sessions is None
    store.close()
    assert read_service_folder(folder).sessions is None


def test_a_row_the_database_refuses_is_a_store_error_and_nothing_is_imported(tmp_path, backend):
    import yaml

    folder = worked_example(tmp_path / "svc")
    long_type = "t" * 150  # over the 100 characters the referrals' case_type column holds
    service = yaml.safe_load((folder / "service.yaml").read_text())
    service["case_types"] = {long_type: service["case_types"]["advocacy"]}
    (folder / "service.yaml").write_text(yaml.safe_dump(service))
    referrals = f"case_id,referral_date,case_type\nA,2025-03-04,{long_type}\n"
    (folder / "referrals.csv").write_text(referrals)
    (folder / "waiting.csv").unlink()
    if backend == "sqlite":  # SQLite keeps text of any length
        assert import_folder(folder).written["referrals"] == 1
        return
    with pytest.raises(StoreError, match="the store refused the referrals rows"):
        import_folder(folder)
    store = Store.for_folder(folder)
    assert store.services() == []  # the one transaction rolled back, the service row too
    store.close()
