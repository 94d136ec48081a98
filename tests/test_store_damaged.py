"""A store altered outside flowcap is refused with "the store is damaged: ...", not a parser's
traceback or quietly wrong measures (issue #14: a date 2024-13-45, text in a date column,
negative minutes were a traceback or accepted)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from conftest import log_folder
from flowcap import import_folder
from flowcap.cli.main import app
from flowcap.errors import StoreError
from flowcap.store import Store
from flowcap.store.repository import database_url

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
NAME = "Northshire Victim Support Hub"


@pytest.fixture(scope="module")
def imported_example(tmp_path_factory):
    """The bundled example imported once into an SQLite store, copied for each test."""
    folder = tmp_path_factory.mktemp("example") / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    return folder


def _example(tmp_path: Path, imported_example: Path) -> tuple[Path, Store]:
    folder = tmp_path / "victim-support"
    shutil.copytree(imported_example, folder, ignore=shutil.ignore_patterns(".flowcap"))
    import_folder(folder)
    return folder, Store.open(database_url(folder))


def _tamper(store: Store, statement: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(statement))


def _refused(store: Store, name: str = NAME) -> str:
    with pytest.raises(StoreError) as caught:
        store.load(name)
    return str(caught.value)


SQLITE_ONLY = [
    # (statement, what the message says): SQLite keeps whatever it is given.
    (
        "UPDATE referrals SET referral_date = '2024-13-45' "
        "WHERE case_key IN (SELECT case_key FROM referrals LIMIT 3)",
        "holds 3 row(s) whose referral_date is not a date (the first: '2024-13-45')",
    ),
    (
        "UPDATE waiting SET waiting_since = 'last Tuesday' "
        "WHERE case_key IN (SELECT case_key FROM waiting LIMIT 1)",
        "holds 1 row(s) whose waiting_since is not a date (the first: 'last Tuesday')",
    ),
    (
        "UPDATE roster SET staff = 'three' WHERE rowid IN (SELECT rowid FROM roster LIMIT 2)",
        "holds 2 row(s) whose staff is not a finite number (the first: 'three')",
    ),
]
BOTH = [
    (
        "UPDATE sessions SET minutes = -30 WHERE id IN (SELECT id FROM sessions LIMIT 4)",
        "holds 4 row(s) whose minutes is not a number from 0 up (the first: -30.0)",
    ),
    (
        "UPDATE roster SET staff = -1 WHERE date = (SELECT MIN(date) FROM roster)",
        "whose staff is not a number from 0 up (the first: -1.0)",
    ),
    (
        "UPDATE referrals SET referral_date = '1700-01-01' "
        "WHERE case_key IN (SELECT case_key FROM referrals LIMIT 1)",
        "whose referral_date is not a date from 1900-01-01 to 2200-12-31",
    ),
    (
        "UPDATE referrals SET case_key = 'Jane Doe 1984' "
        "WHERE case_key IN (SELECT case_key FROM referrals LIMIT 1)",
        "holds a case key that is not a pseudonym",
    ),
]


@pytest.mark.parametrize(("statement", "said"), SQLITE_ONLY + BOTH)
def test_a_value_flowcap_never_writes_is_refused_on_sqlite(
    tmp_path, imported_example, statement, said
):
    folder, store = _example(tmp_path, imported_example)
    _tamper(store, statement)
    message = _refused(store)
    store.close()
    assert message.startswith(f"the store is damaged: table {statement.split()[1]} of '{NAME}'")
    assert said in message
    assert "Jane Doe" not in message  # a case id put in by hand is never quoted


@pytest.mark.postgres
@pytest.mark.parametrize(("statement", "said"), BOTH)
def test_a_value_flowcap_never_writes_is_refused_on_postgresql(
    tmp_path, imported_example, backend, statement, said
):
    if backend != "postgresql":
        pytest.skip("the SQLite cases are the test above")
    folder, store = _example(tmp_path, imported_example)
    _tamper(store, statement)
    message = _refused(store)
    store.close()
    assert message.startswith("the store is damaged: ")
    assert said in message


def test_a_damaged_event_is_refused(tmp_path):
    folder = log_folder(tmp_path / "log")
    import_folder(folder)
    store = Store.open(database_url(folder))
    _tamper(
        store,
        "UPDATE events SET timestamp = '2025-02-30 25:00:00' "
        "WHERE position = (SELECT MIN(position) FROM events)",
    )
    with pytest.raises(StoreError, match="table events of .* whose timestamp is not a date"):
        store.events(_only(store))
    store.close()


def _only(store: Store) -> str:
    with store.engine.connect() as connection:
        return connection.execute(text("SELECT name FROM services")).scalar_one()


def test_the_cli_says_so_in_one_line_and_changes_nothing(tmp_path, imported_example):
    folder, store = _example(tmp_path, imported_example)
    _tamper(
        store,
        "UPDATE referrals SET referral_date = '2024-13-45' "
        "WHERE case_key IN (SELECT case_key FROM referrals LIMIT 1)",
    )
    store.close()
    result = CliRunner().invoke(app, ["measures", str(folder)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "the store is damaged: table referrals" in lines[0]
    assert "Traceback" not in result.output
