"""Reading an event log (XES, CSV or XLSX) into one row per event, in the log's time zone.

A case system's export records, for every case, which activity happened when (and, where it
has them, who did it, the case type and the lifecycle transition). This module reads such a
log whatever its format, checks it and puts it in one shape for the process map, the demand
measures and the pathway simulation:

- **Formats**, by the file's suffix: ``.xes`` / ``.xes.gz`` (read safely with
  :func:`flowcap.io.xes.read_xes`), ``.csv`` / ``.txt`` / ``.tsv`` with any delimiter (given,
  or sniffed from the header among ``, ; tab |``), and ``.xlsx``.
- **Everything is text first**: a case id such as ``NA`` is a case id, not a missing value
  (the sepsis log has one; pandas would silently drop its 24 events).
- **Time zones**: a log has one zone, ``timezone`` from the config or else the service's.
  Timestamps with an offset (``Z``, ``+01:00``) are converted to it; timestamps without one
  are taken to be local times in it. So a road-fines date recorded at local midnight
  (``2006-07-24T00:00:00+02:00``, 22:00 UTC) lands on 24 July in Europe/Rome, not on the
  23rd. A naive local time that a clock change makes ambiguous is read as the earlier
  (summer-time) one; one that does not exist (skipped at the spring change) is moved forward.
  XES timestamps almost always carry offsets; one without is read as UTC by ``read_xes``.
- **Errors** are :class:`~flowcap.errors.InputError` with every problem at once (capped per
  file), each naming the file, row (header = row 1) and column: missing columns (with the
  columns the file does have), unparseable or missing timestamps, missing case ids or
  activities, an empty file, a file over ``FLOWCAP_MAX_FILE_MB``.
- **Pseudonyms**: with ``key`` the case ids are replaced by their keyed pseudonyms
  (:func:`flowcap.io.pseudonym.pseudonymise`, 32 hex characters), hashing each distinct id
  once. The CLI always passes the key, so no raw case id goes further; tests may leave it
  out to see the raw ids.
- **Order**: :attr:`EventLog.events` keeps the file's order, and its ``order`` column is each
  event's position in the file; :meth:`EventLog.sorted_events` sorts by case, then timestamp,
  then ``order``, so events with equal timestamps keep their order in the file (as pm4py's
  directly-follows counts assume).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flowcap.errors import InputError, Problem, shorten
from flowcap.io.pseudonym import pseudonymise
from flowcap.io.source import read_bytes
from flowcap.io.tables import (
    LISTED_PER_PROBLEM,
    UK_DATE_FORMATS,
    TableCheck,
    check_cell_lengths,
    check_rows,
    max_file_bytes,
    read_csv,
    read_xlsx,
)
from flowcap.io.xes import read_xes
from flowcap.model.eventlog import EventLogConfig, check_zone
from flowcap.model.limits import FIRST_DATE, LAST_DATE

#: Columns of :attr:`EventLog.events`, in this order.
COLUMNS = (
    "case",
    "activity",
    "timestamp",
    "local_date",
    "resource",
    "case_type",
    "lifecycle",
    "order",
)
#: Delimiters sniffed from a CSV header when none is configured.
SNIFFED_DELIMITERS = (",", ";", "\t", "|")
_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_XLSX_SUFFIXES = (".xlsx", ".xlsm")
#: An offset after a time of day (a bare date such as 2024-01-02 has none).
_OFFSET = r":\d\d(?:[.,]\d+)?\s*(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"
#: Formats tried, in order, for timestamps that are not ISO 8601.
_OTHER_FORMATS = UK_DATE_FORMATS + ("%Y/%m/%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S")
#: The instants a log may hold, as for every dated row (:mod:`flowcap.model.limits`): checked
#: before any time-zone conversion, which near pandas' bounds (1677, 2262) would silently
#: wrap a date round to the other end of its range.
_FIRST = pd.Timestamp(FIRST_DATE)
_AFTER_LAST = pd.Timestamp(LAST_DATE) + pd.Timedelta(days=1)
_OUTSIDE = f"outside {FIRST_DATE} to {LAST_DATE} (a mistyped year?)"
#: A four-digit year on its own in a timestamp's text.
_YEAR = r"(?<!\d)(\d{4})(?!\d)"


def _outside(instants: pd.Series) -> pd.Series:
    """Whether each naive (wall or UTC) instant lies outside :data:`FIRST_DATE` to
    :data:`LAST_DATE`; missing ones are not."""
    return (instants < _FIRST) | (instants >= _AFTER_LAST)


@dataclass(frozen=True, eq=False)
class EventLog:
    """An event log read by :func:`read_event_log`.

    ``events`` has one row per event in file order, with columns ``case`` (str: the
    pseudonym when a key was given, else the raw case id), ``activity`` (str), ``timestamp``
    (tz-aware, in :attr:`timezone`), ``local_date`` (datetime64 at local midnight, tz-naive:
    the calendar date in :attr:`timezone`), ``resource``, ``case_type`` and ``lifecycle``
    (str, ``""`` where the log has none) and ``order`` (int: the event's position in the
    file, from 0).

    ``rows`` gives, for a CSV or XLSX log, each event's row in the file (header = row 1),
    in the order of ``events``, so that problems found later can name the row; ``None`` for
    XES.
    """

    events: pd.DataFrame
    timezone: str
    source: str
    rows: np.ndarray | None = None

    def row_of(self, position: int) -> int | None:
        """The file row (header = row 1) of the event at ``position`` in :attr:`events`."""
        return None if self.rows is None else int(self.rows[position])

    @property
    def n_cases(self) -> int:
        """Number of distinct cases."""
        return int(self.events["case"].nunique())

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.events)

    def activities(self) -> list[str]:
        """Activity names, most frequent first (ties by name)."""
        counts = self.events["activity"].value_counts()
        return sorted(counts.index, key=lambda name: (-counts[name], name))

    def sorted_events(self) -> pd.DataFrame:
        """Events by case, then timestamp, then position in the file (ties keep file order)."""
        return self.events.sort_values(["case", "timestamp", "order"], kind="stable").reset_index(
            drop=True
        )


def read_event_log(
    path: Path,
    config: EventLogConfig | None = None,
    *,
    service_timezone: str = "Europe/London",
    key: bytes | None = None,
) -> EventLog:
    """Read and check an event log; see the module docstring for the rules.

    Parameters
    ----------
    path : Path
        The log file (``config.file`` is not used here: resolve it with
        :meth:`EventLogConfig.path_in` first).
    config : EventLogConfig, optional
        Column names, time zone and delimiter; defaults to columns ``case_id``,
        ``activity`` and ``timestamp``.
    service_timezone : str
        The zone used when ``config.timezone`` is not given.
    key : bytes, optional
        Pseudonymisation key; when given, case ids are replaced by their pseudonyms.

    Raises
    ------
    InputError
        Listing every problem found (file, row, column).
    """
    path = Path(path)
    name = path.name
    config = config or EventLogConfig(file=name)
    zone = config.timezone or service_timezone
    try:
        check_zone(zone)
    except ValueError as error:
        raise InputError([Problem(name, str(error))]) from None
    if not path.is_file():
        raise InputError([Problem(name, f"file not found in {path.parent}")])
    size = path.stat().st_size
    limit = max_file_bytes()
    if size > limit:
        raise InputError(
            [Problem(name, f"file is {size:,} bytes; the limit is {limit:,} (FLOWCAP_MAX_FILE_MB)")]
        )
    if size == 0:
        raise InputError([Problem(name, "file is empty")])

    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-1] if suffixes else ""
    if suffix == ".xes" or suffixes[-2:] == [".xes", ".gz"]:
        frame = _read_xes_events(path, zone)
    elif suffix in _CSV_SUFFIXES or suffix in _XLSX_SUFFIXES:
        frame = _read_table_events(path, config, zone, xlsx=suffix in _XLSX_SUFFIXES)
    else:
        raise InputError(
            [
                Problem(
                    name,
                    f"unknown event-log format {suffix or '(no suffix)'!r}: "
                    "use .xes, .xes.gz, .csv, .txt, .tsv or .xlsx",
                )
            ]
        )

    # Case and activity are categorical: each string is hashed once here, on reading, rather
    # than by every analysis (half the cost of a process map of 561,000 events otherwise).
    codes, uniques = pd.factorize(frame["case"], sort=True)  # sorted_events: by case id
    if key is not None:
        uniques = pd.Index(pseudonymise([str(u) for u in uniques], key))
    frame["case"] = pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))
    frame["activity"] = pd.Categorical(frame["activity"])
    frame["local_date"] = frame["timestamp"].dt.tz_localize(None).dt.normalize()
    frame["order"] = np.arange(len(frame), dtype=np.int64)
    rows = frame["row"].to_numpy(dtype=np.int64) if "row" in frame else None
    frame = frame[list(COLUMNS)].reset_index(drop=True)
    return EventLog(events=frame, timezone=zone, source=name, rows=rows)


# --- XES ------------------------------------------------------------------------------------


def _read_xes_events(path: Path, zone: str) -> pd.DataFrame:
    name = path.name
    try:
        raw = read_xes(path)
    except ValueError as error:  # a time:timestamp that is not ISO 8601
        if isinstance(error, InputError):
            raise
        raise InputError(
            [Problem(name, f"unreadable time:timestamp: {error}", None, "time:timestamp")]
        ) from None
    if raw.empty:
        raise InputError([Problem(name, "the log has no events")])
    check = TableCheck(name)
    for column, key in (("activity", "concept:name"), ("timestamp", "time:timestamp")):
        missing = np.flatnonzero(raw[column].isna().to_numpy())
        check.unlisted += max(len(missing) - LISTED_PER_PROBLEM, 0)
        for position in missing[:LISTED_PER_PROBLEM]:
            # Named by its place in the log: a case id is never quoted.
            check.problems.append(
                Problem(name, f"event {position + 1:,} of the log has no {key}", None, key)
            )
    far = np.flatnonzero(_outside(raw["timestamp"].dt.tz_localize(None)).to_numpy())
    check.unlisted += max(len(far) - LISTED_PER_PROBLEM, 0)
    for position in far[:LISTED_PER_PROBLEM]:
        stamp = raw["timestamp"].iat[position]
        check.problems.append(
            Problem(
                name,
                f"event {position + 1:,} of the log: time:timestamp {stamp:%Y-%m-%d} {_OUTSIDE}",
                None,
                "time:timestamp",
            )
        )
    if check.problems:
        raise InputError(check.capped())
    frame = pd.DataFrame(
        {
            "case": raw["case_id"].astype(str),
            "activity": raw["activity"].astype(str),
            "timestamp": raw["timestamp"].dt.tz_convert(zone),
        }
    )
    for column in ("resource", "lifecycle"):
        frame[column] = raw[column].fillna("").astype(str) if column in raw else ""
    frame["case_type"] = ""
    return frame


# --- CSV and XLSX ---------------------------------------------------------------------------


def _read_table_events(
    path: Path, config: EventLogConfig, zone: str, *, xlsx: bool
) -> pd.DataFrame:
    name = path.name
    check = TableCheck(name)
    raw = read_bytes(path)
    table = (
        read_xlsx(raw, check)
        if xlsx
        else read_csv(raw, check, delimiter=config.delimiter, delimiters=SNIFFED_DELIMITERS)
    )
    if table is None:
        raise InputError(check.capped())

    wanted = {
        "case": config.case_id,
        "activity": config.activity,
        "timestamp": config.timestamp,
        "resource": config.resource,
        "case_type": config.case_type,
        "lifecycle": config.lifecycle,
    }
    header = [str(c) for c in table.columns]
    folded = {}
    for column in header:
        folded.setdefault(column.strip().lower(), column)
    found: dict[str, str] = {}
    for role, column in wanted.items():
        if column is None:
            continue
        actual = column if column in header else folded.get(column.strip().lower())
        if actual is None:
            check.problems.append(
                Problem(
                    name,
                    f"missing column {column!r} for the {role.replace('_', ' ')}; the file's "
                    f"columns are: {_listed(header)}",
                    1,
                    column,
                )
            )
        else:
            found[role] = actual
    if check.problems:
        raise InputError(check.capped())

    text = {
        role: table[column].fillna("").astype(str).str.strip() for role, column in found.items()
    }
    # Blank lines (every used cell empty) are skipped; the index keeps each row's place.
    used = pd.DataFrame(text)
    keep = (used != "").any(axis=1)
    used = used[keep]
    if used.empty:
        raise InputError([Problem(name, "file has a header but no events")])
    if not check_cell_lengths(used, list(used.columns), check):
        named = {role: found[role] for role in used.columns}
        for i, problem in enumerate(check.problems):  # the file's column, not the role
            check.problems[i] = Problem(
                problem.file, problem.message, problem.row, named.get(problem.column)
            )
        raise InputError(check.capped())
    check_rows(check, used["case"] == "", config.case_id, "missing case id")
    check_rows(check, used["activity"] == "", config.activity, "missing activity")
    timestamps = _parse_timestamps(used["timestamp"], zone, check, config.timestamp)
    if check.problems:
        check.problems.sort(key=_row_key)
        raise InputError(check.capped())
    frame = pd.DataFrame(
        {
            "case": used["case"].to_numpy(dtype=object),
            "activity": used["activity"].to_numpy(dtype=object),
            "timestamp": timestamps.reset_index(drop=True),
        }
    )
    for role in ("resource", "case_type", "lifecycle"):
        frame[role] = used[role].to_numpy(dtype=object) if role in used else ""
    frame["row"] = used.index.to_numpy(dtype=np.int64) + 2  # header = row 1; blank lines count
    return frame


#: The most column names a message lists.
LISTED_COLUMNS = 20


def _listed(names: list[str]) -> str:
    """Column names for a message: the first :data:`LISTED_COLUMNS`, each cut to a readable
    length (a header may be one 25,000-character name, or thousands of names)."""
    shown = ", ".join(shorten(name) for name in names[:LISTED_COLUMNS])
    more = len(names) - LISTED_COLUMNS
    return shown + (f" and {more:,} more" if more > 0 else "")


def _row_key(problem: Problem) -> tuple[int, str]:
    return (problem.row if problem.row is not None else 0, problem.column or "")


def _parse_timestamps(text: pd.Series, zone: str, check: TableCheck, column: str) -> pd.Series:
    """Timestamps in ``zone``: offsets converted, naive times localised; bad cells reported.

    The two kinds are parsed apart: pandas, given both in one column, reads a naive time
    after an offset-bearing one as if it had that offset.
    """
    empty = text == ""
    has_offset = text.str.contains(_OFFSET, regex=True) & ~empty
    naive = ~has_offset & ~empty
    result = pd.Series(pd.NaT, index=text.index, dtype=f"datetime64[ns, {zone}]")
    outside = pd.Series(False, index=text.index)
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], format="ISO8601", errors="coerce", utc=True)
        far = _outside(aware.dt.tz_localize(None))
        outside[has_offset] = far
        aware = aware.where(~far)
        result[has_offset] = aware.dt.tz_convert(zone).astype(result.dtype)
    if naive.any():
        wall = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        for other in _OTHER_FORMATS:
            retry = wall.isna()
            if not retry.any():
                break
            wall = wall.copy()
            wall[retry] = pd.to_datetime(text[naive][retry], format=other, errors="coerce")
        far = _outside(wall)
        outside[naive] = far
        wall = wall.where(~far)
        # Ambiguous wall times (the autumn change) read as the earlier, summer-time instant.
        summer = np.ones(len(wall), dtype=bool)
        local = wall.dt.tz_localize(zone, ambiguous=summer, nonexistent="shift_forward")
        result[naive] = local.astype(result.dtype)
    check_rows(check, empty, column, "missing timestamp")
    # A year pandas cannot hold (before 1677, after 2262) is outside too, not "not a timestamp".
    unread = result.isna() & ~empty & ~outside
    years = pd.to_numeric(text.where(unread).str.extract(_YEAR, expand=False), errors="coerce")
    outside |= unread & ((years < FIRST_DATE.year) | (years > LAST_DATE.year))
    check_rows(check, outside, column, _OUTSIDE, text)
    check_rows(
        check,
        result.isna() & ~empty & ~outside,
        column,
        "not a timestamp (use ISO 8601, e.g. 2024-03-01T09:30:00 or with an offset +01:00)",
        text,
    )
    return result
