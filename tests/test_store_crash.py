"""``flowcap import`` killed at random moments leaves the store exactly as before or exactly
as after the import (issue #14): never half written, and importable again at once.

A large folder (version 1) is imported and one of its cases erased; the folder then becomes
version 2 (:mod:`crash_folder`: every table and the settings change). One uninterrupted run of
the real CLI measures how long the import takes and when it writes, and gives the "after"
store. Then separate runs are killed with SIGKILL: most at seeded random delays spread over
the whole run (start-up, reading the files, writing, committing, exiting), the rest aimed at
the write itself (a seeded offset after the run is seen to start writing) and, on SQLite, at
the commit (the moment the write-ahead log starts to grow). After each kill
the store, read as the next command would read it, must equal the "before" or the "after"
store in every table, and the key and erasure ledger beside it must be untouched; then the
"before" store is put back for the next kill. The last killed store is imported into
normally: no stale lock, the SQLite write-ahead log recovered.

Whether a run was writing when it was killed is read from outside it: on SQLite, whether it
held the write-ahead log's write lock (``/proc/locks``); on PostgreSQL, whether its session
had a transaction id (which the import's first DELETE assigns). Run with ``-s`` to see the
figures (kill points, how many ended before and after, the import's duration).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import MetaData, create_engine, make_url, select, text

from conftest import POSTGRES_URL
from crash_folder import erased_case, write_version
from flowcap import import_folder
from flowcap.io.pseudonym import load_key, pseudonymise
from flowcap.manage import erase_case

#: Referral rows (and half as many sessions): an import whose write phase took 0.4 to 1.2 s
#: on a busy 2-core machine (about a fifth of the run; the CLI's start-up is most of the rest),
#: long enough for kills to land inside it, short enough for over 20 runs per backend.
REFERRALS = 20_000
#: Kills at random delays over the whole run (0.05 to 1.1 times its measured duration),
#: and kills aimed at the write phase.
SPREAD_KILLS = 14
AIMED_KILLS = 6
#: PostgreSQL's share (the issue's 20 points are SQLite's 22): each kill costs a CLI start-up
#: and a database copied from its template, and CI's 15 minutes are near.
KILLS_ON_POSTGRESQL = {"spread": 5, "aimed": 3}
#: On SQLite, kills as the commit writes the write-ahead log (the pages stay in SQLite's
#: 128 MB cache until then), leaving log frames for the next connection to replay or discard.
COMMIT_KILLS = 2
SEED = 14
#: Columns an import stamps with the time it ran: two imports of the same files differ there.
WRITE_TIMES = {"imports": {"imported_at"}, "settings": {"saved_at"}}
#: How often (seconds) the uninterrupted run is looked at for its write. Each look on
#: PostgreSQL is a query that competes with the import for the CPU: looked at every 10 ms on
#: a busy 2-core machine, it ran longer than the unwatched runs, and 12 of the 20 kills spread
#: over its duration came after the run had ended. Runs to be killed mid-write are looked at
#: every 5 ms from their start.
WATCH_SECONDS = 0.05
AIM_SECONDS = 0.005
#: The name the runs under test give their PostgreSQL sessions (libpq reads ``PGAPPNAME``),
#: so that the server's autovacuum, which writes statistics in transactions of its own, and
#: this test's own sessions are not taken for them.
APPLICATION = "flowcap-crash-test"
#: SQLite's unix VFS locks byte 120 of the ``-shm`` file (the WAL write lock) from a
#: transaction's first write to its end.
SQLITE_WAL_WRITE_LOCK = "120"

pytestmark = pytest.mark.skipif(
    not Path("/proc/locks").exists(), reason="reads lock holders from Linux's /proc/locks"
)


def flowcap_command() -> list[str]:
    """The installed ``flowcap`` command beside this interpreter (or the same app run by it)."""
    script = Path(sys.executable).with_name("flowcap")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from flowcap.cli.main import app; app()"]


def run_environment() -> dict[str, str]:
    """The test's environment (key file, store URL) with the runs' PostgreSQL session name."""
    return {**os.environ, "PGAPPNAME": APPLICATION}


def store_state(url: str, ids: bool = True) -> dict[str, tuple[int, str]]:
    """Every table of the store as (rows, digest of its rows in order of every column), read
    through a fresh connection as the next command would (on SQLite that recovers the
    write-ahead log). The :data:`WRITE_TIMES` columns are left out; surrogate ids stay in (the
    stores are restored whole, so they must match too) unless ``ids`` is false: a store not
    restored after a kill has PostgreSQL sequence values the killed transaction used up."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            metadata = MetaData()
            metadata.reflect(connection)
            state = {}
            for table in metadata.sorted_tables:
                left_out = WRITE_TIMES.get(table.name, set()) | (set() if ids else {"id"})
                columns = [c for c in table.c if c.name not in left_out]
                query = select(*columns).order_by(*columns).compile(dialect=connection.dialect)
                # The driver's own rows: three times faster than SQLAlchemy's typed ones.
                cursor = connection.connection.driver_connection.cursor()
                try:
                    cursor.execute(str(query))
                    rows = cursor.fetchall()
                finally:
                    cursor.close()
                digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
                state[table.name] = (len(rows), digest)
    finally:
        engine.dispose()
    return state


def rows_of_case(url: str, case_key: str) -> int:
    """Referral and session rows stored for one pseudonym."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return sum(
                connection.scalar(
                    text(f"SELECT count(*) FROM {table} WHERE case_key = :key"), {"key": case_key}
                )
                for table in ("referrals", "sessions")
            )
    finally:
        engine.dispose()


class SqliteStore:
    """The folder's own SQLite store: saved and restored as files (database, WAL, index)."""

    def __init__(self, folder: Path, saved: Path):
        self.database = folder / ".flowcap" / "flowcap.db"
        self.url = f"sqlite:///{self.database}"
        self.saved = saved

    def files(self) -> list[Path]:
        return [self.database.with_name(self.database.name + end) for end in ("", "-wal", "-shm")]

    def copy_to(self, target: Path) -> None:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for path in self.files():
            if path.exists():
                shutil.copy2(path, target / path.name)

    def copy_from(self, source: Path) -> None:
        for path in self.files():
            path.unlink(missing_ok=True)
            if (source / path.name).exists():
                shutil.copy2(source / path.name, path)

    def save(self) -> None:
        self.copy_to(self.saved)

    def restore(self) -> None:
        self.copy_from(self.saved)

    def writing(self, pid: int) -> bool:
        """Whether process ``pid`` holds the write-ahead log's write lock (it is between its
        first write and the end of its transaction)."""
        try:
            index = os.stat(self.database.with_name(self.database.name + "-shm")).st_ino
        except FileNotFoundError:
            return False
        for line in Path("/proc/locks").read_text().splitlines():
            # "7: POSIX  ADVISORY  WRITE 4012 fe:00:2147137 120 120"; a waiter's line has "->"
            fields = line.split()
            if (
                len(fields) == 8
                and fields[3:5] == ["WRITE", str(pid)]
                and fields[5].rsplit(":", 1)[-1] == str(index)
                and fields[6] == SQLITE_WAL_WRITE_LOCK
            ):
                return True
        return False

    def wal_bytes(self) -> int | None:
        """The write-ahead log's size as the kill left it: frames there were written by a
        commit under way (or done), which the next connection replays or throws away."""
        wal = self.database.with_name(self.database.name + "-wal")
        return wal.stat().st_size if wal.exists() else 0

    def settle(self) -> None:
        """Nothing to wait for: a killed process holds no lock (the kernel drops them)."""

    def check(self) -> None:
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                assert connection.scalar(text("PRAGMA integrity_check")) == "ok"
        finally:
            engine.dispose()

    def close(self) -> None:
        """Nothing to remove: the files live in the test's folder."""


class PostgresStore:
    """The test's PostgreSQL database: saved as a template database, restored by dropping it
    and creating it again from the template (sequences included, so ids repeat)."""

    def __init__(self):
        self.url = os.environ["FLOWCAP_DATABASE_URL"]
        self.name = make_url(self.url).database
        self.template = f"{self.name}_before"
        self.admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        self.watch = self.admin.connect()

    def save(self) -> None:
        self.watch.execute(text(f'CREATE DATABASE "{self.template}" TEMPLATE "{self.name}"'))

    def restore(self) -> None:
        self.watch.execute(text(f'DROP DATABASE "{self.name}" WITH (FORCE)'))
        self.watch.execute(text(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}"'))

    def writing(self, pid: int) -> bool:
        """Whether the run's session has written in its open transaction (``pid`` is the
        client's, which the server does not know: the session is known by its name)."""
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :name "
            "AND application_name = :application AND backend_xid IS NOT NULL"
        )
        return bool(self.watch.scalar(query, {"name": self.name, "application": APPLICATION}))

    def wal_bytes(self) -> int | None:
        """Not seen from here: the server keeps its own log."""
        return None

    def settle(self) -> None:
        """Wait until the killed client's server session has gone (the server notices the
        closed socket and rolls back), as the next command would find the store."""
        deadline = time.monotonic() + 30
        query = text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = :name AND application_name = :application"
        )
        names = {"name": self.name, "application": APPLICATION}
        while self.watch.scalar(query, names) and time.monotonic() < deadline:
            time.sleep(0.005)

    def check(self) -> None:
        """PostgreSQL checks its own pages; the state comparison is the check."""

    def close(self) -> None:
        self.watch.execute(text(f'DROP DATABASE IF EXISTS "{self.template}"'))
        self.watch.close()
        self.admin.dispose()


@dataclass(frozen=True)
class Kill:
    """One killed run: seconds from its start to the kill; its exit status (-9: killed while
    running; 0: it had finished first); whether it was writing at the kill; the SQLite WAL it
    left (bytes); and the store it left: ``before``, ``after`` or ``neither``, with the
    tables that were as after (or as neither) in a mixed store."""

    at: float
    returncode: int
    writing: bool
    wal_bytes: int | None = None
    outcome: str = ""
    mixed: dict[str, list[str]] = field(default_factory=dict)


def watched_import(store, folder: Path) -> tuple[float, float, float]:
    """Run ``flowcap import`` to the end: its duration, and when it started and stopped
    writing (seconds from its start)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [*flowcap_command(), "import", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=run_environment(),
    )
    seen = []
    while process.poll() is None:
        if store.writing(process.pid):
            seen.append(time.monotonic() - started)
        time.sleep(WATCH_SECONDS)
    duration = time.monotonic() - started
    assert process.returncode == 0, process.stderr.read().decode()
    assert seen, "the import was never seen writing"
    return duration, seen[0], seen[-1]


def killed_import(
    store,
    folder: Path,
    *,
    delay: float | None = None,
    write_offset: float | None = None,
    at_commit: bool = False,
) -> Kill:
    """Start ``flowcap import`` and SIGKILL it ``delay`` seconds after its start,
    ``write_offset`` seconds after it is seen to start writing, or (SQLite, ``at_commit``)
    as soon as its commit is seen to write the log."""
    started = time.monotonic()
    process = subprocess.Popen(
        [*flowcap_command(), "import", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=run_environment(),
    )
    if delay is not None:
        time.sleep(max(0.0, started + delay - time.monotonic()))
    else:
        while process.poll() is None and not store.writing(process.pid):
            time.sleep(AIM_SECONDS)
        if at_commit:
            while process.poll() is None and not store.wal_bytes():
                time.sleep(0.0002)  # the commit writes a few megabytes in milliseconds
        else:
            time.sleep(write_offset)
    writing = process.poll() is None and store.writing(process.pid)
    process.kill()  # SIGKILL; nothing if it has already been reaped
    at = time.monotonic() - started
    return Kill(at=at, returncode=process.wait(timeout=60), writing=writing)


def judged(kill: Kill, state: dict, before: dict, after: dict, wal_bytes: int | None) -> Kill:
    """The kill with the store it left compared with the stores before and after."""
    if state == before:
        return replace(kill, wal_bytes=wal_bytes, outcome="before")
    if state == after:
        return replace(kill, wal_bytes=wal_bytes, outcome="after")
    mixed = {
        "as after": sorted(n for n in state if state[n] == after.get(n) != before.get(n)),
        "as neither": sorted(n for n in state if state[n] not in (before.get(n), after.get(n))),
    }
    return replace(kill, wal_bytes=wal_bytes, outcome="neither", mixed=mixed)


def key_files(key_file: Path) -> dict[str, bytes]:
    """The key file and everything beside it (the erasure ledger), by name."""
    return {path.name: path.read_bytes() for path in sorted(key_file.parent.iterdir())}


def run_cli_import(folder: Path) -> float:
    """An ordinary ``flowcap import`` that must succeed; its seconds."""
    started = time.monotonic()
    done = subprocess.run(
        [*flowcap_command(), "import", str(folder)],
        capture_output=True,
        timeout=120,
        env=run_environment(),
    )
    assert done.returncode == 0, done.stderr.decode()
    return time.monotonic() - started


def describe(
    backend: str,
    kills: list[Kill],
    reference: tuple[float, float, float],
    spread: int = SPREAD_KILLS,
    aimed: int = AIMED_KILLS,
) -> str:
    """The figures of a run of kills, for the report and any failure."""
    duration, write_start, write_end = reference
    running = [k for k in kills if k.returncode == -9]
    mid_write = [k for k in running if k.writing]
    count = Counter(k.outcome for k in kills)
    at_commit = f", {COMMIT_KILLS} at its commit" if backend == "sqlite" else ""
    text = (
        f"{backend}: {len(kills)} kill points ({spread} spread over 0.05-1.1 x the "
        f"{duration:.2f} s import, {aimed} aimed at its {write_end - write_start:.2f} s "
        f"write from {write_start:.2f} s{at_commit}); {len(running)} killed while running, "
        f"{len(mid_write)} of them mid-write; the store ended as before {count['before']} "
        f"times ({sum(k.outcome == 'before' for k in mid_write)} of them mid-write), as after "
        f"{count['after']} ({sum(k.outcome == 'after' for k in running)} of them killed after "
        f"the commit), neither {count['neither']}"
    )
    if backend == "sqlite":
        with_wal = [k for k in running if k.wal_bytes]
        outcomes = dict(Counter(k.outcome for k in with_wal))
        text += f"; {len(with_wal)} kills left WAL frames to recover (then {outcomes})"
    return text + f"; kill times (s) {[round(k.at, 2) for k in kills]}"


def test_import_killed_at_random_moments_leaves_the_store_before_or_after(
    tmp_path, backend, isolated_key
):
    folder = write_version(tmp_path / "svc", REFERRALS, 1)
    import_folder(folder)
    erase_case(folder, erased_case(REFERRALS))
    keys = key_files(isolated_key)
    assert len(keys) == 2 and all(keys.values())  # the key and a ledger with the erasure
    store = SqliteStore(folder, tmp_path / "before") if backend == "sqlite" else PostgresStore()
    try:
        before = store_state(store.url)
        store.save()
        write_version(folder, REFERRALS, 2)
        reference = duration, write_start, write_end = watched_import(store, folder)
        after = store_state(store.url)
        after_content = store_state(store.url, ids=False)
        changed = {name for name in after if after[name] != before.get(name)}
        assert {"referrals", "sessions", "waiting", "roster", "imports", "settings"} <= changed
        [erased] = pseudonymise([erased_case(REFERRALS)], load_key())
        assert rows_of_case(store.url, erased) == 0  # the erasure held through the import

        rng = np.random.default_rng(SEED)
        spread, aimed = SPREAD_KILLS, AIMED_KILLS
        if backend == "postgresql":
            spread, aimed = KILLS_ON_POSTGRESQL["spread"], KILLS_ON_POSTGRESQL["aimed"]
        plans = [{"delay": d} for d in rng.uniform(0.05, 1.1, spread) * duration]
        offsets = rng.uniform(0.0, 0.9, aimed) * (write_end - write_start)
        plans += [{"write_offset": offset} for offset in offsets]
        if backend == "sqlite":  # the last: the re-import below recovers its log
            plans += [{"at_commit": True}] * COMMIT_KILLS
        kills = []
        for number, plan in enumerate(plans, start=1):
            store.restore()
            kill = killed_import(store, folder, **plan)
            store.settle()
            if number == len(plans) and backend == "sqlite":
                store.copy_to(tmp_path / "killed")  # as the kill left it, for the re-import
            wal_bytes = store.wal_bytes()
            kills.append(judged(kill, store_state(store.url), before, after, wal_bytes))
            store.check()
            assert key_files(isolated_key) == keys, f"kill {number} changed the key or ledger"

        # The last kill's store as it was left (no state read first): the next import works.
        if backend == "sqlite":
            store.copy_from(tmp_path / "killed")
        reimport = run_cli_import(folder)
        assert store_state(store.url, ids=False) == after_content
    finally:
        store.close()

    summary = describe(backend, kills, reference, spread, aimed)
    summary += f"; re-import after the last {reimport:.2f} s"
    print(summary)
    strays = [k for k in kills if k.outcome == "neither"]
    assert not strays, f"{summary}; stores neither before nor after: {strays}"
    # A spread kill lands before the end with chance (1.0 - 0.05) / 1.05 = 0.9 when runs take
    # as long as the measured one; on a shared machine they vary: were every run 1.5 times
    # faster, the chance would be (1 / 1.5 - 0.05) / 1.05 = 0.59, about 8 of the 14, plus the
    # aimed kills. Fewer than a third killed while running means the timing is broken.
    assert sum(k.returncode == -9 for k in kills) >= len(kills) // 3, summary
    # Aimed kills wait at most 0.9 of the reference write after it is seen to start, so most
    # land inside it even when a run is 10% faster than the reference.
    assert sum(k.writing and k.returncode == -9 for k in kills) >= aimed // 2, summary
