"""Key handling (issue 14): a key file others can read is refused; ``flowcap key rotate``
re-keys every stored case key in one transaction, erasures kept, and survives a crash at each
step."""

from __future__ import annotations

import hashlib
import json
import stat

import pytest
from sqlalchemy import select

from conftest import worked_example
from flowcap import manage, records
from flowcap.errors import StoreError
from flowcap.io.pseudonym import (
    fingerprint,
    load_key,
    pseudonymise,
    rekey,
)
from flowcap.store import Store, database_url, schema

K1, K2 = bytes(range(32)), bytes(range(100, 132))


# --- the chain --------------------------------------------------------------------------------


def test_a_chained_key_rekeys_the_single_key_pseudonym():
    single = pseudonymise(["A", "B"], K1)
    expected = [
        hashlib.blake2b(p.encode(), key=K2, digest_size=16, person=b"flowcap-rotate").hexdigest()
        for p in single
    ]
    assert pseudonymise(["A", "B"], K1 + K2) == rekey(single, K2) == expected
    assert (
        fingerprint(K1)
        == hashlib.blake2b(b"flowcap key fingerprint", key=K1, digest_size=8).hexdigest()
    )  # stores made before rotation existed keep their fingerprint
    assert len({fingerprint(K1), fingerprint(K1 + K2), fingerprint(K2)}) == 3


def test_a_key_file_of_two_lines_is_a_chain(isolated_key):
    isolated_key.write_text(K1.hex() + "\n" + K2.hex() + "\n")
    isolated_key.chmod(0o600)
    assert load_key() == K1 + K2


# --- permissions ------------------------------------------------------------------------------


def test_a_key_file_others_can_read_is_refused_with_the_chmod_to_run(isolated_key, monkeypatch):
    load_key()
    isolated_key.chmod(0o644)
    with pytest.raises(StoreError, match=r"chmod 600 .*pseudonym\.key.*--allow-insecure-key"):
        load_key()
    assert len(load_key(allow_insecure_key=True)) == 32
    monkeypatch.setenv("FLOWCAP_ALLOW_INSECURE_KEY", "1")
    assert len(load_key()) == 32


def test_an_import_with_a_readable_key_file_fails_cleanly_and_writes_nothing(
    tmp_path, isolated_key
):
    load_key()
    isolated_key.chmod(0o640)
    folder = worked_example(tmp_path / "svc")
    with pytest.raises(StoreError, match="chmod 600"):
        manage.import_folder(folder)
    assert not (folder / ".flowcap" / "flowcap.db").exists()


# --- rotation ---------------------------------------------------------------------------------


def _case_keys(folder) -> dict[str, list[str]]:
    store = Store.open(database_url(folder), existing=True)
    try:
        with store.engine.connect() as connection:
            return {
                name: sorted(connection.scalars(select(getattr(schema, name).c.case_key)))
                for name in schema.CASE_KEY_TABLES
            }
    finally:
        store.close()


def _measures_json(folder) -> str:
    from flowcap.history import open_service

    return json.dumps(open_service(folder).measures.as_json(), sort_keys=True)


def test_rotation_rekeys_every_case_key_and_keeps_measures_and_erasures(
    tmp_path, isolated_key, backend
):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    manage.erase_case(folder, "R03")
    before, measures = _case_keys(folder), _measures_json(folder)
    old = load_key()
    rotation = records.rotate_key(folder)
    chain = load_key()
    assert chain[:32] == old and len(chain) == 64
    assert rotation.old_fingerprint == fingerprint(old)
    assert rotation.new_fingerprint == fingerprint(chain)
    assert rotation.rows == sum(len(v) for v in before.values())  # 11 + 20 + 1 + 1
    after = _case_keys(folder)
    link = chain[32:]
    assert after == {name: sorted(rekey(keys, link)) for name, keys in before.items()}
    # The old key is kept beside the new one, private; the store records both fingerprints.
    backup = rotation.backup
    assert backup.read_text().strip() == old.hex()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(isolated_key.stat().st_mode) == 0o600
    store = Store.open(database_url(folder), existing=True)
    with store.engine.connect() as connection:
        row = connection.execute(select(schema.key_rotations)).one()
    store.close()
    assert (row.old_fingerprint, row.new_fingerprint) == (fingerprint(old), fingerprint(chain))
    assert _measures_json(folder) == measures
    # A later import sees raw ids: they hash along the chain to the rotated keys, and the
    # erased case stays out.
    text = (folder / "referrals.csv").read_text() + "R12,2025-03-04,advocacy\n"
    (folder / "referrals.csv").write_text(text)
    report = manage.import_folder(folder)
    assert report.written["referrals"] == 12  # 13 in the file, R03 still erased
    ids = [f"R{i:02d}" for i in range(13) if i != 3]
    assert _case_keys(folder)["referrals"] == sorted(pseudonymise(ids, chain))


def test_a_rotation_that_fails_before_its_commit_changes_nothing(tmp_path, monkeypatch):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    old, before = load_key(), _case_keys(folder)

    def crash(*_):
        raise RuntimeError("killed")

    monkeypatch.setattr(Store, "rotate_key", crash)
    with pytest.raises(RuntimeError):
        records.rotate_key(folder)
    assert load_key() == old and _case_keys(folder) == before
    assert not records.pending_key_path().exists()


def test_a_kill_before_the_commit_leaves_a_pending_key_that_a_rerun_discards(tmp_path):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    old = load_key()
    pending = records.pending_key_path()
    pending.write_text(old.hex() + "\n" + K2.hex() + "\n")  # as a kill after step 1 leaves it
    pending.chmod(0o600)
    manage.import_folder(folder)  # the store and key file still agree
    rotation = records.rotate_key(folder)
    assert not rotation.finished and load_key()[32:] != K2
    assert not pending.exists()


def test_a_kill_between_the_commit_and_the_key_file_is_finished_by_a_rerun(tmp_path, monkeypatch):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    old = load_key()

    def crash(*_):
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(records, "_install", crash)
        with pytest.raises(RuntimeError):
            records.rotate_key(folder)
    assert load_key() == old  # the key file still holds the old key...
    with pytest.raises(StoreError, match="rotation was interrupted.*flowcap key rotate"):
        manage.import_folder(folder)  # ...so imports refuse rather than write under it
    rotation = records.rotate_key(folder)
    assert rotation.finished and rotation.rows == 0
    assert load_key()[:32] == old and len(load_key()) == 64
    manage.import_folder(folder)


def test_a_second_store_under_the_same_key_is_brought_up_to_the_rotated_key(tmp_path):
    a, b = worked_example(tmp_path / "a"), worked_example(tmp_path / "b")
    manage.import_folder(a)
    manage.import_folder(b)
    old_b = _case_keys(b)
    records.rotate_key(a)
    with pytest.raises(StoreError, match="has not been rotated.*flowcap key rotate"):
        manage.import_folder(b)
    rotation = records.rotate_key(b)
    assert rotation.caught_up and len(load_key()) == 64  # no new link
    assert _case_keys(b)["referrals"] == sorted(rekey(old_b["referrals"], load_key()[32:]))
    assert _case_keys(a) == _case_keys(b)


def test_rotation_refuses_a_key_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", K1.hex())
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    with pytest.raises(StoreError, match="FLOWCAP_KEY is set"):
        records.rotate_key(folder)


def test_rotation_keeps_every_measure_of_the_bundled_example(tmp_path):
    import shutil

    from typer.testing import CliRunner

    from conftest import REAL
    from flowcap.cli.main import app

    folder = tmp_path / "victim-support"
    example = REAL.parents[1].parent / "main" / "examples" / "victim-support"
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns(".flowcap"))
    runner = CliRunner()
    before = runner.invoke(app, ["measures", str(folder), "--json"])
    assert before.exit_code == 0, before.output
    assert records.rotate_key(folder).rows > 1000
    after = runner.invoke(app, ["measures", str(folder), "--json"])
    assert json.loads(after.stdout) == json.loads(before.stdout)
