"""Erasure that holds (issue 14): an erased case stays out of every later import, whatever
the service is called and even into a store rebuilt from nothing; a whole service removed."""

from __future__ import annotations

import shutil

import pytest

from conftest import worked_example
from flowcap import manage, records
from flowcap.errors import StoreError
from flowcap.io.pseudonym import erasure_ledger_path, load_key, pseudonymise
from flowcap.store import Store, database_url


def _referral_keys(folder, name: str) -> set[str]:
    store = Store.open(database_url(folder), existing=True)
    try:
        return set(store.load(name).referrals["case_key"])
    finally:
        store.close()


def _rename(folder, new: str) -> None:
    text = (folder / "service.yaml").read_text().replace("Worked example", new)
    (folder / "service.yaml").write_text(text)


def test_an_erased_case_stays_gone_after_the_service_is_renamed(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    removed = manage.erase_case(folder, "R03")
    assert removed["referrals"] == 1
    [gone] = pseudonymise(["R03"], load_key())
    _rename(folder, "Renamed service")
    report = manage.import_folder(folder)
    assert report.written["referrals"] == 11  # 12 in the file, R03 left out
    kept = _referral_keys(folder, "Renamed service")
    assert gone not in kept
    assert kept == set(pseudonymise([f"R{i:02d}" for i in range(12) if i != 3], load_key()))


def test_an_erased_case_stays_gone_when_the_store_is_deleted_and_rebuilt(tmp_path):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    manage.erase_case(folder, "R03")
    [gone] = pseudonymise(["R03"], load_key())
    assert gone in erasure_ledger_path(load_key()).read_text()
    shutil.rmtree(folder / ".flowcap")
    report = manage.import_folder(folder)
    assert report.written["referrals"] == 11
    assert gone not in _referral_keys(folder, "Worked example")


def test_a_mistyped_case_id_is_not_remembered(tmp_path):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    assert sum(manage.erase_case(folder, "NOT-A-CASE").values()) == 0
    assert not erasure_ledger_path(load_key()).exists()


def test_removing_a_whole_service_needs_confirmation(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    with pytest.raises(StoreError, match="cannot be undone"):
        records.erase_service(folder)
    assert len(_referral_keys(folder, "Worked example")) == 12  # nothing removed
    removed = records.erase_service(folder, confirm=True)
    assert removed["referrals"] == 12 and removed["waiting"] == 20 and removed["settings"] == 1
    _, listing = manage.list_services(database_url(folder))
    assert listing == []


def test_a_removed_service_imported_again_keeps_its_erasures(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    manage.erase_case(folder, "W05")
    records.erase_service(folder, confirm=True)
    report = manage.import_folder(folder)
    assert report.written["waiting"] == 19
    [gone] = pseudonymise(["W05"], load_key())
    store = Store.open(database_url(folder), existing=True)
    try:
        assert gone not in set(store.load("Worked example").waiting["case_key"])
    finally:
        store.close()
