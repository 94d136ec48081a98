"""Input files read from disk at most once per command.

A command on a service folder hashes the folder's files to see what changed since the last
import, parses the ones that did, and may read a settings file again further on. Inside
:func:`read_once` every reader takes its bytes from here: the first read of a file keeps its
bytes, later reads (the hash, the parse) use them, so each input is opened once. Outside it
(a library call on one file) a read is a plain read.

The bytes are kept only until the ``with`` block ends: a command holds each input in memory
once, for as long as it is parsing it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import BinaryIO

_cache: ContextVar[dict[Path, bytes] | None] = ContextVar("flowcap_read_once", default=None)
#: SHA-256 of the files read inside :func:`read_once`, computed once each.
_digests: ContextVar[dict[Path, str] | None] = ContextVar("flowcap_digests", default=None)


@contextmanager
def read_once() -> Iterator[None]:
    """Within the block each file is read from disk once (nested blocks share the outer one)."""
    if _cache.get() is not None:
        yield
        return
    token, digests = _cache.set({}), _digests.set({})
    try:
        yield
    finally:
        _cache.reset(token)
        _digests.reset(digests)


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes: from the cache inside :func:`read_once`, else from disk."""
    path = Path(path)
    cache = _cache.get()
    if cache is None:
        return path.read_bytes()
    key = path.resolve()
    if key not in cache:
        cache[key] = path.read_bytes()
    return cache[key]


def open_binary(path: str | Path) -> BinaryIO:
    """A binary stream of the file: over the cached bytes inside :func:`read_once`, else the
    file itself (streamed, for a large XES log read once)."""
    if _cache.get() is None:
        return Path(path).open("rb")
    return io.BytesIO(read_bytes(path))


def sha256_of(path: str | Path) -> str:
    """SHA-256 of the file's bytes, hexadecimal (inside :func:`read_once`, computed once)."""
    if _cache.get() is None:
        digest = hashlib.sha256()
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    digests, key = _digests.get(), Path(path).resolve()
    if key not in digests:
        digests[key] = hashlib.sha256(read_bytes(path)).hexdigest()
    return digests[key]
