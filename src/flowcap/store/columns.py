"""Stored columns read back into DataFrame columns, refusing values flowcap never writes.

flowcap writes only checked rows (dates within 1900-2200, finite minutes and staff not below
zero, pseudonyms of 32 hexadecimal characters), so a stored value outside those rules was
put there by something else: a hand edit in a database tool, a script, a broken disk. Such a
value would otherwise surface as a parser's traceback (a date ``2024-13-45``) or, worse, as
quietly wrong measures (negative minutes counted as capacity). Each is refused as a
:class:`~flowcap.errors.StoreError` that begins "the store is damaged", names the table, the
column and how many rows, and quotes the first bad value (cut short; never a case key).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Column

from flowcap.errors import StoreError, shorten
from flowcap.model.limits import FIRST_DATE, LAST_DATE
from flowcap.store import schema

#: Columns whose numbers may not be below zero (minutes of work, head counts).
NOT_NEGATIVE = {("roster", "staff"), ("roster", "minutes_per_staff"), ("sessions", "minutes")}
#: Characters of a pseudonymised case key (:func:`flowcap.io.pseudonym.pseudonymise`).
KEY_CHARS = 32
_FIRST = pd.Timestamp(FIRST_DATE)
_LAST = pd.Timestamp(LAST_DATE) + pd.Timedelta(days=1)  # timestamps through 2200-12-31


def read_column(values: tuple | list, column: Column, service: str) -> pd.Series:
    """The stored ``values`` of ``column`` as a pandas column: dates and times as
    datetime64[ns], integers as int64, numbers as float64, text as objects.

    Raises
    ------
    StoreError
        "the store is damaged: ..." for a value flowcap would not have written.
    """
    table = column.table.name
    if isinstance(column.type, schema.Date | schema.DateTime):
        return _dates(values, column, table, service)
    if isinstance(column.type, schema.Integer):
        try:
            return pd.Series(np.array(values, dtype=np.int64))
        except (TypeError, ValueError, OverflowError):
            numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
            bad = numbers.isna() | (numbers != numbers.round())
            raise _damaged(table, column.name, service, values, bad, "a whole number") from None
    if isinstance(column.type, schema.Float):
        return _numbers(values, column, table, service)
    if column.name == "case_key":
        _check_keys(values, table, service)
    return pd.Series(np.array(values, dtype=object), dtype=object)


def _dates(values, column: Column, table: str, service: str) -> pd.Series:
    raw = pd.Series(values, dtype=object)
    # Stored by SQLite as ISO text, by PostgreSQL as date/datetime objects; ISO8601 reads
    # both and turns anything else (2024-13-45, a word) into NaT instead of raising.
    parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce")
    bad = parsed.isna() & raw.notna()
    if bad.any():
        raise _damaged(table, column.name, service, values, bad.to_numpy(), "a date")
    parsed = parsed.astype("datetime64[ns]")
    out_of_range = ((parsed < _FIRST) | (parsed >= _LAST)).to_numpy()
    if out_of_range.any():
        raise _damaged(
            table,
            column.name,
            service,
            values,
            out_of_range,
            f"a date from {FIRST_DATE:%Y-%m-%d} to {LAST_DATE:%Y-%m-%d}",
        )
    return parsed


def _numbers(values, column: Column, table: str, service: str) -> pd.Series:
    try:
        numbers = np.array(values, dtype=float)  # NULL (None) becomes NaN
        unreadable = np.zeros(len(numbers), dtype=bool)
    except (TypeError, ValueError):
        # Text in a number column (SQLite keeps whatever it is given): NaN where unreadable.
        numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float)
        unreadable = pd.Series(values, dtype=object).notna().to_numpy() & np.isnan(numbers)
    # NaN is a NULL in a column that allows one (PostgreSQL also keeps a NaN, never written).
    bad = unreadable | np.isinf(numbers)
    if not column.nullable:
        bad |= np.isnan(numbers)
    if bad.any():
        raise _damaged(table, column.name, service, values, bad, "a finite number")
    if (table, column.name) in NOT_NEGATIVE:
        negative = numbers < 0  # False for NaN
        if negative.any():
            raise _damaged(table, column.name, service, values, negative, "a number from 0 up")
    return pd.Series(numbers)


def _check_keys(keys: tuple | list, table: str, service: str) -> None:
    """Every case key a pseudonym: 32 lower-case hexadecimal characters. A raw case id put
    into the store by hand is refused (and, like any key, never quoted)."""
    if not len(keys):
        return
    # Plain Python over the driver's tuple: about 0.15 s a million keys (through a pandas
    # Series, 0.5 s).
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    joined = "".join(keys) if bool((lengths == KEY_CHARS).all()) else ""
    try:
        hex_ok = bool(joined) and joined == joined.lower() and bool(bytes.fromhex(joined))
    except ValueError:
        hex_ok = False
    if not hex_ok:
        raise StoreError(
            f"the store is damaged: table {table} of {service!r} holds a case key that is not "
            "a pseudonym (flowcap stores 32 hexadecimal characters, never a case id): it was "
            "changed outside flowcap. " + _REMEDY
        )


_REMEDY = (
    "Restore a backup (flowcap restore FILE), or remove the service (flowcap erase --service "
    "NAME --yes) and import its folder again"
)


def _damaged(
    table: str, column: str, service: str, values, bad: np.ndarray, expected: str
) -> StoreError:
    count = int(np.count_nonzero(bad))
    first = values[int(np.flatnonzero(bad)[0])]
    return StoreError(
        f"the store is damaged: table {table} of {service!r} holds {count:,} row(s) whose "
        f"{column} is not {expected} (the first: {shorten(repr(first))}); flowcap never "
        f"writes one, so the store was changed outside flowcap. {_REMEDY}"
    )
