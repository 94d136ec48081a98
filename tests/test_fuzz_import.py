"""Fuzzing imports into the store: a fuzzed folder is imported whole or not at all.

One store takes every generated folder in turn (the worked example with its referrals,
waiting list or settings fuzzed, :mod:`fuzz_inputs`). After each import the store's rows are
exactly those before (a clear error) or exactly the folder's (a clean import, which a second
import then leaves alone): never a partial write.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from conftest import WORKED_SERVICE, snapshot, worked_example
from flowcap import import_folder
from flowcap.io import read_service_folder
from flowcap.store import Store
from fuzz_inputs import mutated_table, mutated_yaml_text, outcome
from fuzz_profiles import fuzz_settings

# One store per test takes every example (each test has its own key): the fixture is shared
# on purpose.
fuzz = fuzz_settings(
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ]
)

REFERRALS = (
    ["case_id", "referral_date", "case_type"],
    [[f"R{i:02d}", f"2025-03-{4 + i % 3:02d}", "advocacy"] for i in range(8)],
)
WAITING = (
    ["case_id", "case_type", "waiting_since"],
    [[f"W{i:02d}", "advocacy", f"2025-02-{10 + i:02d}"] for i in range(4)],
)


@pytest.fixture
def store_folder():
    """One folder (and its SQLite store) that every example of a test imports into."""
    root = Path(tempfile.mkdtemp(prefix="flowcap-fuzz-import-"))
    folder = worked_example(root / "service")
    yield folder
    shutil.rmtree(root, ignore_errors=True)


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


VALID = {
    "service.yaml": yaml.safe_dump(WORKED_SERVICE).encode(),
    "referrals.csv": _csv(*REFERRALS),
    "waiting.csv": _csv(*WAITING),
}


def _import_and_check(folder: Path, name: str, raw: bytes) -> None:
    before = snapshot(folder)
    for file, content in {**VALID, name: raw}.items():
        (folder / file).write_bytes(content)
    report, error = outcome(lambda: import_folder(folder))
    after = snapshot(folder)
    if error is not None:
        assert after == before, "a failed import changed the store"
        return
    checked = read_service_folder(folder)
    # The service's own rows: an earlier example may have renamed it, leaving another
    # service (with its rows) in the shared store.
    store = Store.for_folder(folder)
    try:
        stored = store.load(checked.service.name)
    finally:
        store.close()
    assert len(stored.referrals) == len(checked.referrals)
    assert len(stored.waiting) == len(checked.waiting)
    again = import_folder(folder)
    assert not again.changed and snapshot(folder) == after


@fuzz
@given(table=st.sampled_from(["referrals", "waiting"]), data=st.data())
def test_a_fuzzed_folder_is_imported_whole_or_not_at_all(store_folder, table, data):
    header, rows = REFERRALS if table == "referrals" else WAITING
    raw = data.draw(mutated_table(header, rows), label=table)
    _import_and_check(store_folder, f"{table}.csv", raw)


@fuzz
@given(raw=mutated_yaml_text(WORKED_SERVICE))
def test_a_fuzzed_service_yaml_is_imported_whole_or_not_at_all(store_folder, raw):
    _import_and_check(store_folder, "service.yaml", raw)
