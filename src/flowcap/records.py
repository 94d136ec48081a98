"""Keeping records as the law asks: remove a whole service, rotate the pseudonymisation key,
delete case records past a retention period, and back a store up and restore it.

Each verb works on one store: a service folder's own ``.flowcap/`` store, or the store at
``FLOWCAP_DATABASE_URL`` (else the default store) when a service is named instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import delete

from flowcap.errors import FlowcapError, StoreError
from flowcap.io.folder import not_a_folder
from flowcap.io.pseudonym import (
    append_erasure_ledger,
    erasure_ledger_path,
    fingerprint,
    key_file_path,
    key_text,
    load_key,
    new_key,
    parse_key,
    read_erasure_ledger,
    rekey,
)
from flowcap.io.service_yaml import read_service_yaml
from flowcap.store import Store, default_database_url, schema
from flowcap.store import database_url as folder_database_url


def store_url(source: str | Path | None, *, by_name: bool = True) -> tuple[str | None, str]:
    """The service name and store URL a command means: a service folder (its name from its
    service.yaml, its own store unless ``FLOWCAP_DATABASE_URL`` is set) or, with
    ``by_name``, a name in ``FLOWCAP_DATABASE_URL``'s store or the default one; ``None``
    for the store alone."""
    if source is None:
        return None, default_database_url(create=False)
    path = Path(source)
    if not by_name or (path.is_dir() and (path / "service.yaml").is_file()):
        if not path.is_dir():
            raise not_a_folder(path)
        name = read_service_yaml(path / "service.yaml").name
        return name, folder_database_url(path, create=False)
    return str(source), default_database_url(create=False)


# --- a whole service --------------------------------------------------------------------------


def erase_service(
    source: str | Path, *, confirm: bool = False, database_url: str | None = None
) -> dict[str, int]:
    """Remove a whole service from its store (:meth:`Store.delete_service`): rows removed
    per table. Refused without ``confirm``. Its erased cases stay erased."""
    if not confirm:  # refuse before opening anything
        raise StoreError(
            f"removing the whole service {str(source)!r} cannot be undone: confirm it "
            "(--yes on the command line)"
        )
    name, url = store_url(source)
    store = Store.open(database_url or url, existing=True)
    try:
        return store.delete_service(str(name), confirm=True)
    finally:
        store.close()


# --- key rotation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rotation:
    """What :func:`rotate_key` did: ``rows`` case keys rewritten; the fingerprints before and
    after; ``backup``: where the old key file was kept; ``finished``: an interrupted rotation
    was completed rather than a new one made; ``caught_up``: the store was brought to the
    key file's current chain (another store had been rotated) with no new link."""

    rows: int
    old_fingerprint: str
    new_fingerprint: str
    key_file: Path
    backup: Path | None
    finished: bool = False
    caught_up: bool = False


def pending_key_path() -> Path:
    """Where a rotation keeps the new key until the store has committed."""
    path = key_file_path()
    return path.with_name(path.name + ".next")


def _write_private(path: Path, content: str) -> None:
    """Write a file with mode 600 through a temporary file, flushed, then renamed over."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    if os.name == "nt":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _carry_ledger(old_key: bytes, new_key_chain: bytes) -> None:
    """Copy the erasure ledger to the new key: each erased pseudonym re-keyed, appended to
    the new fingerprint's ledger (before the store commits: a ledger for a key no store
    uses yet changes nothing)."""
    erased = sorted(read_erasure_ledger(old_key))
    if not erased:
        return
    for start in range(len(old_key), len(new_key_chain), 32):
        erased = rekey(erased, new_key_chain[start : start + 32])
    append_erasure_ledger(new_key_chain, erased)


def _install(old_key: bytes, chain: bytes) -> Path:
    """Put the new chain in the key file, keeping the old file as ``<key>.<fingerprint>.old``
    (each step atomic: a crash leaves either file whole)."""
    path, pending = key_file_path(), pending_key_path()
    backup = path.with_name(f"{path.name}.{fingerprint(old_key)}.old")
    if path.exists() and not backup.exists():
        _write_private(backup, key_text(old_key))
    os.replace(pending, path)
    _sync_folder(path.parent)
    return backup


def rotate_key(
    source: str | Path | None = None,
    *,
    database_url: str | None = None,
    allow_insecure_key: bool | None = None,
) -> Rotation:
    """Re-pseudonymise every case key in a store under a new key, then put the new key in
    the key file.

    Pseudonyms are keyed hashes of case ids the store does not keep, so the new key is a new
    link of a chain (:mod:`flowcap.io.pseudonym`): each stored pseudonym ``p`` becomes
    ``BLAKE2b(k_new, p)``, and later imports hash a raw id along the whole chain to the same
    value. The steps, and what a crash at each leaves:

    1. The new chain is written to ``<key file>.next`` (mode 600, flushed). A crash here:
       the store and key file are unchanged; running the rotation again discards the file.
    2. The erasure ledger is copied, re-keyed, to the new key's ledger. A crash: an unused
       ledger file, harmless.
    3. One transaction rewrites every case key (referrals, waiting, sessions, events,
       erasures, erased cases), the store's key fingerprint, and records both fingerprints
       in ``key_rotations``. A crash before the commit: nothing changed in the store (rerun).
    4. The old key file is copied to ``<key file>.<old fingerprint>.old``, then
       ``<key file>.next`` is renamed over the key file. A crash between 3 and 4: the store
       is rotated and the key file is not, so every import refuses (nothing is written under
       the wrong key) and says to run the rotation again, which sees the store already at
       the ``.next`` key's fingerprint and only finishes step 4.

    A store still at an earlier link of the key file's chain (the key is shared by several
    stores and another was rotated) is brought up to the current chain, with no new link.

    Raises
    ------
    StoreError
        With ``FLOWCAP_KEY`` set (the rotation writes the key file: move the key into a file
        first), or a store under another key.
    """
    if os.environ.get("FLOWCAP_KEY"):
        raise StoreError(
            "FLOWCAP_KEY is set: a rotation writes the new key to the key file. Put the key "
            f"in {key_file_path()} (mode 600), unset FLOWCAP_KEY and rotate again"
        )
    _, url = store_url(source, by_name=False) if source is not None else store_url(None)
    key = load_key(create=False, allow_insecure_key=allow_insecure_key)
    store = Store.open(database_url or url, existing=True)
    try:
        stored = store.stored_fingerprint()
        pending = pending_key_path()
        if pending.exists():
            chain = parse_key(pending.read_text(), str(pending))
            if stored == fingerprint(chain):  # step 3 committed, step 4 did not
                backup = _install(key, chain)
                return Rotation(0, fingerprint(key), stored, key_file_path(), backup, True)
            pending.unlink()  # step 3 never committed: start again
        for links in range(1, len(key) // 32):
            if stored == fingerprint(key[: links * 32]):
                rows = store.rotate_key(key[: links * 32], key)
                return Rotation(rows, stored, fingerprint(key), key_file_path(), None, False, True)
        chain = key + new_key()
        _write_private(pending, key_text(chain))
        _carry_ledger(key, chain)
        try:
            rows = store.rotate_key(key, chain)
        except BaseException:
            pending.unlink(missing_ok=True)
            raise
        backup = _install(key, chain)
        return Rotation(rows, fingerprint(key), fingerprint(chain), key_file_path(), backup)
    finally:
        store.close()


# --- retention --------------------------------------------------------------------------------

_PERIOD = re.compile(r"\s*(\d{1,3})\s*([ymwd])\s*", re.IGNORECASE)
_UNITS = {"y": "years", "m": "months", "w": "weeks", "d": "days"}
#: Tables whose rows belong to one case (a ``case_key``) and go when it expires.
CASE_TABLES = ("referrals", "waiting", "sessions", "events")


def parse_period(text: str) -> pd.DateOffset:
    """``7y``, ``18m``, ``26w`` or ``90d`` as an offset; :class:`FlowcapError` otherwise."""
    found = _PERIOD.fullmatch(text or "")
    if not found or int(found.group(1)) == 0:
        raise FlowcapError(
            f"--older-than {text!r}: give a period such as 7y, 18m, 26w or 90d (years, months, "
            "weeks, days; at most 999)"
        )
    return pd.DateOffset(**{_UNITS[found.group(2).lower()]: int(found.group(1))})


@dataclass(frozen=True)
class RetentionPlan:
    """What a retention run deletes, or deleted: ``cut``, the first day kept; ``cases``
    whose every record (referral or place on the opening waiting list, sessions, events) is
    dated before it; ``rows`` per table; ``days_before_cut``: measured days that will no
    longer be measured; ``changed_days``: measured days on or after the cut whose measures
    would change (the replay of the work starts from what is left); ``applied``."""

    service: str
    cut: date
    cases: int
    rows: dict[str, int]
    days_before_cut: int
    changed_days: int
    first_day_after: date | None
    applied: bool = False
    changed_examples: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "service": self.service,
            "cut": self.cut.isoformat(),
            "cases": self.cases,
            "rows": self.rows,
            "days_before_cut": self.days_before_cut,
            "changed_days": self.changed_days,
            "first_day_after": None if self.first_day_after is None else str(self.first_day_after),
            "applied": self.applied,
        }


def _expired(tables, events: pd.DataFrame, cut: pd.Timestamp) -> set[str]:
    """Case keys whose last record is before ``cut``."""
    last: list[pd.Series] = [tables.referrals.groupby("case_key")["referral_date"].max()]
    if tables.waiting is not None and len(tables.waiting):
        last.append(tables.waiting.groupby("case_key")["waiting_since"].max())
    if tables.sessions is not None and len(tables.sessions):
        last.append(tables.sessions.groupby("case_key")["date"].max())
    if len(events):
        last.append(events.groupby("case")["timestamp"].max().dt.normalize())
    latest = pd.concat(last).groupby(level=0).max()
    return set(latest.index[latest < cut])


def _without(tables, expired: set[str]):
    """The tables with the expired cases' rows left out."""
    from flowcap.model.tables import ServiceTables

    def keep(frame):
        return None if frame is None else frame[~frame["case_key"].isin(expired)]

    return ServiceTables(
        referrals=keep(tables.referrals),
        waiting=keep(tables.waiting),
        roster=tables.roster,
        sessions=keep(tables.sessions),
    )


def _compare_measures(service, before, after, cut: pd.Timestamp):
    """Days measured before the cut, days on or after it whose measures differ, the first
    day measured after, and a few of the differences in words."""
    from flowcap.measures import daily_measures
    from flowcap.measures.daily import MEASURE_COLUMNS

    if before.referrals.empty:
        return 0, 0, None, []
    old = daily_measures(service, before).table[MEASURE_COLUMNS]
    days_before = int(old.loc[old["date"] < cut, "date"].nunique())
    old = old[old["date"] >= cut].set_index(["date", "resource"]).sort_index()
    if after.referrals.empty:
        return days_before, int(old.index.get_level_values(0).nunique()), None, []
    new = daily_measures(service, after).table[MEASURE_COLUMNS]
    first = new["date"].min().date()
    new = new[new["date"] >= cut].set_index(["date", "resource"]).sort_index()
    both = old.join(new, how="outer", lsuffix="_old", rsuffix="_new")
    differs = pd.Series(False, index=both.index)
    examples = []
    # Days before the first referral kept are no longer measured: a change only where
    # something happened on them (an empty weekend before the first kept referral is not).
    gone = both[[f"{c}_new" for c in MEASURE_COLUMNS[2:]]].isna().all(axis=1)
    empty = (both[[f"{c}_old" for c in MEASURE_COLUMNS[2:]]].fillna(0).abs() < 1e-6).all(axis=1)
    for column in MEASURE_COLUMNS[2:]:
        a, b = both[f"{column}_old"], both[f"{column}_new"]
        off = ~(((a - b).abs() < 1e-6) | (a.isna() & b.isna())) & ~(gone & empty)
        if off.any() and len(examples) < 3:
            (day, resource) = off[off].index[0]
            examples.append(
                f"{column} of {resource} on {day:%Y-%m-%d}: {a[(day, resource)]:g} "
                f"→ {b[(day, resource)]:g}"
            )
        differs |= off
    changed = int(differs[differs].index.get_level_values(0).nunique())
    return days_before, changed, first, examples


def retention(
    source: str | Path,
    older_than: str,
    *,
    apply: bool = False,
    today: date | None = None,
    allow_changed_measures: bool = False,
    database_url: str | None = None,
) -> RetentionPlan:
    """Delete (with ``apply``; else only say what would go) the case records of a service
    older than ``older_than`` (``7y``: seven years before ``today``), for UK GDPR storage
    limitation.

    A case goes as a whole when every record of it — its referral (or its place on the
    opening waiting list), its sessions, its events — is dated before the cut; its rows go
    from referrals, waiting, sessions and events in one transaction. The roster (staff on
    duty, no case) stays.

    No daily figures are kept for the period deleted: the measures before the cut are lost
    (they are computed from the case records, and keeping them separately would be a second
    copy of history that could disagree with the first). What must not happen silently is
    a change to the measures the service still sees: the modelled work is replayed from the
    first referral, so deleting old cases can change the backlog carried into the kept
    period. The plan measures the service with and without the expired cases and counts the
    days on or after the cut whose measures differ; ``apply`` refuses a cut that changes any
    (choose an older cut) unless ``allow_changed_measures``.

    A later import of an export that still holds the deleted cases brings them back:
    delete them at the source too, or run the retention again after each import.

    Raises
    ------
    FlowcapError
        For a malformed period, or an apply that would change measures kept.
    """
    from flowcap.history import _stored_settings

    offset = parse_period(older_than)
    today = today or date.today()
    cut = pd.Timestamp(today) - offset
    name, url = store_url(source)
    store = Store.open(database_url or url, existing=True)
    try:
        service, _, _ = _stored_settings(store, str(name))
        tables = store.load(str(name))
        events = store.events(str(name))
        expired = _expired(tables, events, cut)
        kept = _without(tables, expired)
        days_before, changed, first, examples = _compare_measures(service, tables, kept, cut)
        rows = {
            "referrals": int(tables.referrals["case_key"].isin(expired).sum()),
            "waiting": 0
            if tables.waiting is None
            else int(tables.waiting["case_key"].isin(expired).sum()),
            "sessions": 0
            if tables.sessions is None
            else int(tables.sessions["case_key"].isin(expired).sum()),
            "events": int(events["case"].isin(expired).sum()) if len(events) else 0,
        }
        plan = RetentionPlan(
            str(name),
            cut.date(),
            len(expired),
            rows,
            days_before,
            changed,
            first,
            False,
            examples,
        )
        if not apply or not expired:
            return plan
        if changed and not allow_changed_measures:
            raise FlowcapError(
                f"deleting the {len(expired):,} cases before {cut:%Y-%m-%d} would change the "
                f"measures of {changed:,} day(s) kept (the first: {examples[0]}): choose an "
                "older cut, or accept the change with --allow-changed-measures"
            )
        keys = sorted(expired)
        with store.writing() as connection:
            service_id = store.service_id(connection, str(name))
            for table_name in CASE_TABLES:
                table = getattr(schema, table_name)
                for start in range(0, len(keys), 500):
                    connection.execute(
                        delete(table).where(
                            table.c.service_id == service_id,
                            table.c.case_key.in_(keys[start : start + 500]),
                        )
                    )
        return RetentionPlan(
            plan.service,
            plan.cut,
            plan.cases,
            plan.rows,
            plan.days_before_cut,
            plan.changed_days,
            plan.first_day_after,
            True,
            examples,
        )
    finally:
        store.close()


# --- backup and restore -----------------------------------------------------------------------


def backup(path: str | Path, source: str | Path | None = None) -> dict:
    """Back up the whole store (a folder's own, or ``FLOWCAP_DATABASE_URL``'s, else the
    default) to ``path``: see :mod:`flowcap.store.backup`. Returns the manifest."""
    from flowcap.store.backup import backup_store

    _, url = store_url(source, by_name=False) if source is not None else store_url(None)
    store = Store.open(url, existing=True)
    try:
        return backup_store(store, path)
    finally:
        store.close()


def restore(
    path: str | Path,
    source: str | Path | None = None,
    *,
    allow_insecure_key: bool | None = None,
) -> dict:
    """Restore a backup into an empty store (a folder's own, ``FLOWCAP_DATABASE_URL``'s, or
    the default), checking that your key is the one its case keys were made with. Returns the
    manifest."""
    from flowcap.store.backup import read_backup, restore_store

    manifest, _ = read_backup(path)  # a damaged file is refused before any store is made
    key = load_key(create=False, allow_insecure_key=allow_insecure_key)
    stored = manifest.get("key_fingerprint")
    if stored is not None and stored != fingerprint(key):
        raise StoreError(
            f"{path} was made with another pseudonymisation key (fingerprint {stored}, yours "
            f"is {fingerprint(key)}): restore the key that goes with it first"
        )
    if source is not None:
        folder = Path(source)
        if not folder.is_dir():
            raise not_a_folder(folder)
        url = folder_database_url(folder)
    else:
        url = default_database_url(create=True)
    store = Store.open(url)
    try:
        return restore_store(store, path, fingerprint(key))
    finally:
        store.close()


def erasure_ledger(allow_insecure_key: bool | None = None) -> tuple[Path, int]:
    """Where the erasure ledger for the current key is and how many pseudonyms it holds."""
    key = load_key(create=False, allow_insecure_key=allow_insecure_key)
    return erasure_ledger_path(key), len(read_erasure_ledger(key))
