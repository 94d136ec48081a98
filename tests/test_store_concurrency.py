"""Two imports at once, in separate processes released together, on SQLite and PostgreSQL.

Each import is its store's only writer while it runs (``Store.writing``): the second waits
and then finds what the first wrote. Before, two first imports into a fresh store failed
with "table alembic_version already exists" (SQLite and PostgreSQL alike) or a unique
constraint on the key's fingerprint, and two processes could each make a different key.

The processes are started with ``spawn`` (a fresh interpreter, as two ``flowcap import``
commands would be) and wait at a barrier until both have imported flowcap and read their
folders, so the writes really do start together.
"""

from __future__ import annotations

import multiprocessing
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import worked_example
from flowcap.store import Store, schema
from flowcap.store.repository import database_url

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "victim-support"


def _import_at_barrier(folder: str, barrier, results) -> None:
    from flowcap.io import read_service_folder
    from flowcap.io.pseudonym import load_key
    from flowcap.store import Store
    from flowcap.store.repository import database_url

    checked = read_service_folder(folder)
    barrier.wait(timeout=120)
    try:
        store = Store.open(database_url(folder))
        try:
            report = store.import_folder(checked, load_key())
        finally:
            store.close()
        results.put((folder, "ok", report.written))
    except Exception as exc:  # reported to the test, which names it
        results.put((folder, "failed", f"{type(exc).__name__}: {exc}"))


def _import_together(*folders: Path) -> list[tuple[str, str, object]]:
    """Import each folder in its own process, all released at once; their outcomes."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(folders))
    results = context.Queue()
    processes = [
        context.Process(target=_import_at_barrier, args=(str(folder), barrier, results))
        for folder in folders
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


def _failures(outcomes: list[tuple[str, str, object]]) -> str:
    """Each failed import's folder and whole error (pytest would cut the list's repr short)."""
    return "\n".join(
        f"{Path(folder).name}: {what}" for folder, status, what in outcomes if status != "ok"
    )


def _row_counts(url: str) -> dict[tuple[str, str], int]:
    """Rows per (service, table) in the store."""
    store = Store(url)
    counts = {}
    with store.engine.connect() as connection:
        for name, service_id in connection.execute(
            select(schema.services.c.name, schema.services.c.id)
        ):
            for table_name, table in schema.DATA_TABLES.items():
                counts[name, table_name] = connection.scalar(
                    select(func.count()).select_from(table).where(table.c.service_id == service_id)
                )
    store.close()
    return counts


def _second_service(tmp_path: Path) -> Path:
    other = tmp_path / "other"
    shutil.copytree(EXAMPLE, other, ignore=shutil.ignore_patterns(".flowcap"))
    text = (other / "service.yaml").read_text()
    (other / "service.yaml").write_text(
        text.replace("name: Northshire Victim Support Hub", "name: Southshire Hub", 1)
    )
    return other


@pytest.fixture
def shared_store(tmp_path, backend, monkeypatch):
    """One store for every folder of the test: PostgreSQL's database, or one SQLite file."""
    if backend == "sqlite":
        monkeypatch.setenv("FLOWCAP_DATABASE_URL", f"sqlite:///{tmp_path / 'shared.db'}")
    return database_url(tmp_path)


def test_two_first_imports_of_different_services_into_a_fresh_store(tmp_path, shared_store):
    first = tmp_path / "first"
    shutil.copytree(EXAMPLE, first, ignore=shutil.ignore_patterns(".flowcap"))
    second = _second_service(tmp_path)

    outcomes = _import_together(first, second)

    assert [status for _, status, _ in outcomes] == ["ok", "ok"], _failures(outcomes)
    counts = _row_counts(shared_store)
    for name in ("Northshire Victim Support Hub", "Southshire Hub"):
        # Each service holds its folder's rows exactly once (the example: 6,165 referrals).
        assert counts[name, "referrals"] == 6165
        assert counts[name, "roster"] == 1521
    store = Store(shared_store)
    with store.engine.connect() as connection:
        fingerprints = connection.scalars(
            select(schema.store_info.c.value).where(schema.store_info.c.key == "key_fingerprint")
        ).all()
    store.close()
    assert len(fingerprints) == 1


def test_two_imports_of_the_same_changed_service_neither_lose_nor_double_rows(
    tmp_path, shared_store
):
    folder = worked_example(tmp_path / "service")
    _import_together(folder)
    # A second copy of the folder whose referrals changed: both processes replace the table.
    referrals = "case_id,referral_date,case_type\n" + "".join(
        f"N{i:03d},2025-03-05,advocacy\n" for i in range(40)
    )
    (folder / "referrals.csv").write_text(referrals)
    twin = tmp_path / "twin"
    shutil.copytree(folder, twin, ignore=shutil.ignore_patterns(".flowcap"))

    outcomes = _import_together(folder, twin)

    assert [status for _, status, _ in outcomes] == ["ok", "ok"], _failures(outcomes)
    written = sorted(
        (report["referrals"] for _, _, report in outcomes), key=lambda rows: rows is None
    )
    # The first to get the lock replaces the referrals; the second finds them current.
    assert written == [40, None]
    counts = _row_counts(shared_store)
    assert counts["Worked example", "referrals"] == 40
    assert counts["Worked example", "waiting"] == 20


def test_a_store_already_migrated_is_opened_without_taking_the_write_lock(tmp_path, shared_store):
    """Opening an up-to-date store only reads its revision: a reader never waits for an
    import that holds the write lock (SQLite would wait 30 s and then say it is busy)."""
    folder = worked_example(tmp_path / "service")
    _import_together(folder)
    writer = Store.open(shared_store)
    opened = []

    def open_reader():
        reader = Store.open(shared_store)
        opened.append(reader)

    try:
        with writer.writing():
            thread = threading.Thread(target=open_reader, daemon=True)
            thread.start()
            # Opening reads one row; 10 s is far beyond that even on a loaded machine, and
            # far below SQLite's 30 s wait for a lock (PostgreSQL would wait for ever).
            thread.join(timeout=10)
            assert opened, "opening a migrated store waited for another writer"
    finally:
        writer.close()
        thread.join(timeout=60)
        for reader in opened:
            reader.close()


def test_a_new_sqlite_store_is_whole_and_in_wal_mode_before_anyone_opens_it(tmp_path):
    from flowcap.store.repository import _create_sqlite_file

    path = tmp_path / "flowcap.db"
    Store(f"sqlite:///{path}").close()
    header = path.read_bytes()[:100]
    assert header.startswith(b"SQLite format 3\x00")
    assert header[18:20] == b"\x02\x02"  # the file format's write and read versions: WAL
    before = path.read_bytes()
    _create_sqlite_file(path)  # another process lost the race: its draft goes, the file stays
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flowcap.db"]
