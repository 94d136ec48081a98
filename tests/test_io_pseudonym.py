"""Pseudonyms for case ids (flowcap.io.pseudonym): a keyed hash, and the key kept private."""

from __future__ import annotations

import hashlib
import stat

import pytest

from flowcap.errors import StoreError
from flowcap.io.pseudonym import load_key, pseudonymise

KEY = bytes(range(32))


def test_a_pseudonym_is_the_keyed_blake2b_of_the_case_id():
    a, b, again = pseudonymise(["A", "B", "A"], KEY)
    assert a == again != b
    # The stored pseudonyms must not change between releases: 16-byte keyed BLAKE2b, personalised.
    expected = hashlib.blake2b(b"A", key=KEY, digest_size=16, person=b"flowcap-case").hexdigest()
    assert a == expected and len(a) == 32
    assert pseudonymise(["A"], bytes(32)) != [a]  # another key, another pseudonym


def test_the_key_file_is_made_once_private_and_read_back(isolated_key):
    assert not isolated_key.exists()
    with pytest.raises(StoreError, match="no pseudonymisation key"):
        load_key(create=False)
    key = load_key()
    assert len(key) == 32 and isolated_key.read_text().strip() == key.hex()
    assert stat.S_IMODE(isolated_key.stat().st_mode) == 0o600
    assert load_key() == key


def test_a_key_in_the_environment_wins_and_must_be_64_hex_characters(monkeypatch, isolated_key):
    monkeypatch.setenv("FLOWCAP_KEY", KEY.hex())
    assert load_key() == KEY and not isolated_key.exists()
    for bad in ("zz" * 32, "ab" * 31):
        monkeypatch.setenv("FLOWCAP_KEY", bad)
        with pytest.raises(StoreError, match="FLOWCAP_KEY must be"):
            load_key()
