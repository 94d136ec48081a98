"""School holidays from the service folder: weeks when referrals to victim services change.

``school_holidays.csv`` (or ``.xlsx``) is optional, one row per holiday with ``start`` and
``end`` (both inclusive, YYYY-MM-DD or DD/MM/YYYY) and an optional ``name``::

    start,end,name
    2024-07-20,2024-09-01,Summer 2024

Bad rows are reported with file, row and column, as for the other tables (:mod:`.tables`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from flowcap.errors import InputError, Problem
from flowcap.io.folder import find_table
from flowcap.io.tables import (
    LISTED_PER_PROBLEM,
    TableCheck,
    check_rows,
    parse_dates,
    read_text_table,
)

TABLE = "school_holidays"
MAX_NAME_CHARS = 100


def empty_school_holidays() -> pd.DataFrame:
    """No school holidays: the frame :func:`read_school_holidays` gives without a file."""
    return pd.DataFrame(
        {
            "start": pd.Series(dtype="datetime64[ns]"),
            "end": pd.Series(dtype="datetime64[ns]"),
            "name": pd.Series(dtype=object),
        }
    )


def read_school_holidays(folder: Path, timezone: str) -> pd.DataFrame:
    """The school holidays listed in ``folder``, or an empty frame when there is no file.

    Returns
    -------
    DataFrame with ``start`` and ``end`` (datetime64 at midnight, both days inclusive) and
    ``name`` (text, may be empty), in the file's order.

    Raises
    ------
    InputError
        For an unreadable, empty or oversize file, a missing column, a missing or bad date,
        an end before its start, or an over-long name, each with file, row and column.
    """
    path, problems = find_table(Path(folder), TABLE)
    if problems:
        raise InputError(problems)
    if path is None:
        return empty_school_holidays()
    return parse_school_holidays(path, timezone)


def parse_school_holidays(path: Path, timezone: str, raw: bytes | None = None) -> pd.DataFrame:
    """:func:`read_school_holidays` on one file; ``raw`` is its content when it came from the
    store (``path`` then only names it)."""
    check = TableCheck(path.name)
    text = read_text_table(path, ["start", "end"], ["name"], check, raw)
    if text is None:
        raise InputError(check.capped())
    start = parse_dates(text, "start", check, timezone)
    end = parse_dates(text, "end", check, timezone)
    names = text["name"] if "name" in text else pd.Series("", index=text.index)
    backwards = np.flatnonzero((end < start).to_numpy())
    check.unlisted += max(len(backwards) - LISTED_PER_PROBLEM, 0)
    for row in backwards[:LISTED_PER_PROBLEM]:
        message = f"end {text['end'].iat[row]!r} is before start {text['start'].iat[row]!r}"
        # The index keeps each row's place in the file (blank lines dropped).
        check.problems.append(Problem(check.file, message, int(text.index[row]) + 2, "end"))
    check_rows(
        check, names.str.len() > MAX_NAME_CHARS, "name", f"longer than {MAX_NAME_CHARS} characters"
    )
    if check.problems:
        raise InputError(check.capped())
    return pd.DataFrame({"start": start, "end": end, "name": names.astype(object)})


def school_holiday_days(holidays: pd.DataFrame, dates: pd.DatetimeIndex) -> np.ndarray:
    """True for each of ``dates`` that falls in a school holiday (``start`` ≤ day ≤ ``end``).

    ``holidays`` is :func:`read_school_holidays`'s frame; overlapping periods are fine.
    Returns a bool array of shape ``(len(dates),)``.
    """
    days = pd.DatetimeIndex(dates)
    if days.tz is not None:
        days = days.tz_localize(None)
    days = days.normalize().values
    inside = np.zeros(len(days), dtype=bool)
    for start, end in zip(holidays["start"], holidays["end"], strict=True):
        inside |= (days >= np.datetime64(start, "ns")) & (days <= np.datetime64(end, "ns"))
    return inside
