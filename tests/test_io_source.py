"""Input files read from disk at most once inside read_once (flowcap.io.source)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flowcap.io.source import open_binary, read_bytes, read_once, sha256_of


def test_inside_read_once_a_file_is_read_from_disk_once(tmp_path, monkeypatch):
    path = tmp_path / "referrals.csv"
    path.write_bytes(b"case_id\nA\n")
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real(self))
    with read_once():
        assert sha256_of(path) == hashlib.sha256(b"case_id\nA\n").hexdigest()
        path.write_bytes(b"changed on disk meanwhile\n")
        assert read_bytes(path) == b"case_id\nA\n"  # what was hashed is what is parsed
        assert open_binary(tmp_path / "." / "referrals.csv").read() == b"case_id\nA\n"
        with read_once():  # a nested block shares the outer one's reads
            assert read_bytes(path) == b"case_id\nA\n"
    assert len(reads) == 1
    assert read_bytes(path) == b"changed on disk meanwhile\n"  # outside: a plain read
    assert len(reads) == 2


def test_outside_read_once_files_are_streamed_and_hashed_in_blocks(tmp_path):
    path = tmp_path / "log.xes"
    data = bytes(range(256)) * 10_000
    path.write_bytes(data)
    with open_binary(path) as stream:
        assert stream.read(3) == bytes([0, 1, 2])
    assert sha256_of(path) == hashlib.sha256(data).hexdigest()
