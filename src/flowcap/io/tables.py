"""Checked reading of the service folder's tables (CSV or XLSX).

Every cell is read as text and then parsed column by column with vectorised pandas
operations, so a million-row referrals file is checked in about a second and every bad
cell is reported with its row (header = row 1, as a spreadsheet shows it) and column.
Only the columns flowcap knows are kept: anything else (a victim's name, free-text notes)
is dropped on reading and never reaches the store.

A file past the limits of :mod:`flowcap.io.limits` (its size, columns, rows, characters per
cell, or for a workbook what it inflates to) is refused before pandas parses it. A cell a
problem quotes is cut to :data:`QUOTE_CHARS` characters.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from flowcap.errors import MAX_PROBLEMS_PER_FILE, Problem
from flowcap.io import limits
from flowcap.io.source import read_bytes
from flowcap.model.limits import FIRST_DATE, LAST_DATE

DEFAULT_MAX_FILE_MB = limits.FILE_MB.default
#: Problems listed per kind of problem and column; the rest are counted.
LISTED_PER_PROBLEM = 100
#: The most characters of a cell a problem quotes.
QUOTE_CHARS = 40
#: Day-first formats tried after ISO 8601, as UK spreadsheets export them.
UK_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y")


def max_file_bytes() -> int:
    """The largest data file accepted, from ``FLOWCAP_MAX_FILE_MB`` (default 512 MB); a
    value that is not a number more than 0 is a :class:`~flowcap.errors.FlowcapError`."""
    return limits.FILE_MB.value()


def quote(value: object) -> str:
    """``value`` as a problem quotes it: ``repr``, so control characters show escaped, and
    cut to :data:`QUOTE_CHARS` characters (a pasted note is not echoed whole)."""
    text = str(value)
    if len(text) > QUOTE_CHARS:
        return repr(text[:QUOTE_CHARS]) + f" (cut; {len(text):,} characters)"
    return repr(text)


@dataclass
class TableCheck:
    """Problems and notes collected while checking one file.

    Each kind of problem lists its first :data:`LISTED_PER_PROBLEM` rows; ``unlisted`` counts
    the rest, so :meth:`capped` says how many there are in all.
    """

    file: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unlisted: int = 0

    def add(
        self, message: str, rows: pd.Index | np.ndarray | None = None, column: str | None = None
    ):
        """Record ``message`` once per row in ``rows`` (0-based data-row positions)."""
        if rows is None:
            self.problems.append(Problem(self.file, message, None, column))
            return
        rows = np.asarray(rows)
        for row in rows[:LISTED_PER_PROBLEM]:
            self.problems.append(Problem(self.file, message, int(row) + 2, column))
        self.unlisted += max(len(rows) - LISTED_PER_PROBLEM, 0)

    def capped(self, limit: int = MAX_PROBLEMS_PER_FILE) -> list[Problem]:
        """The first ``limit`` problems, then one line counting every other one (those
        listed and those only counted)."""
        return capped_problems(self.problems, self.file, self.unlisted, limit)


def capped_problems(
    problems: list[Problem], file: str, unlisted: int = 0, limit: int = MAX_PROBLEMS_PER_FILE
) -> list[Problem]:
    """The first ``limit`` of one file's ``problems``, then "... and N more problems in this
    file", N counting the problems past ``limit`` and the ``unlisted`` ones found but not
    kept (:func:`flowcap.errors.capped` with the true count)."""
    extra = max(len(problems) - limit, 0) + unlisted
    if not extra:
        return problems
    return problems[:limit] + [Problem(file, f"... and {extra} more problems in this file")]


def read_text_table(
    path: Path,
    required: list[str],
    optional: list[str],
    check: TableCheck,
    raw: bytes | None = None,
):
    """Read a CSV or XLSX file as strings; return the known columns or ``None`` when unusable.

    ``raw`` is the file's content when it came from elsewhere (the store); ``path`` then only
    names it (its suffix says CSV or XLSX).
    """
    if raw is None:
        size = path.stat().st_size
    else:
        size = len(raw)
    limit = max_file_bytes()
    if size > limit:
        check.add(f"file is {size:,} bytes; the limit is {limit:,} (FLOWCAP_MAX_FILE_MB)")
        return None
    if size == 0:
        check.add("file is empty")
        return None
    raw = read_bytes(path) if raw is None else raw
    if path.suffix.lower() in XLSX_SUFFIXES:
        frame = read_xlsx(raw, check)
    else:
        frame = read_csv(raw, check, delimiters=TABLE_DELIMITERS, save_as="'CSV UTF-8'")
    if frame is None:
        return None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    # Names that differ only in case or spaces (case_id, CASE_ID) are one column twice.
    names = list(frame.columns)
    twice = [c for c in required + optional if names.count(c) > 1]
    for column in twice:
        places = ", ".join(str(i + 1) for i, name in enumerate(names) if name == column)
        check.problems.append(
            Problem(check.file, f"column {column!r} is given twice (columns {places})", 1, column)
        )
    if twice:
        return None
    missing = [c for c in required if c not in frame.columns]
    for column in missing:
        check.problems.append(
            Problem(
                check.file, f"missing column {column!r} (the header row must name it)", 1, column
            )
        )
    if missing:
        return None
    dropped = [c for c in frame.columns if c not in required + optional]
    if dropped:
        check.notes.append(
            f"{check.file}: ignored column(s) {', '.join(dropped)}: flowcap stores no other fields"
        )
    keep = [c for c in required + optional if c in frame.columns]
    frame = frame[keep].copy()
    for column in keep:
        frame[column] = stripped_text(frame[column])
    if not check_cell_lengths(frame, keep, check):
        return None
    # Blank lines stay in the index (it is the row number - 2) but not in the data.
    frame = frame[(frame != "").any(axis=1)]
    if len(frame) == 0:
        check.add("file has a header but no rows")
        return None
    return frame


#: Delimiters told apart in a service table's header; an event log also allows ``|``.
TABLE_DELIMITERS = (",", ";", "\t")
XLSX_SUFFIXES = (".xlsx", ".xlsm")


def read_csv(
    raw: bytes,
    check: TableCheck,
    *,
    delimiter: str | None = None,
    delimiters: tuple[str, ...] = TABLE_DELIMITERS,
    save_as: str = "UTF-8",
) -> pd.DataFrame | None:
    """A delimited text file's cells as strings (nothing read as missing: ``NA`` is a value),
    or ``None`` with the problems in ``check``.

    ``delimiter`` is used when given, else the one of ``delimiters`` the header has most of;
    ``save_as`` names the encoding a problem asks the user to save as.
    """
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        check.add(f"file is UTF-16 text: save it as {save_as} instead")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        row = raw[: exc.start].count(b"\n") + 1
        header = raw.split(b"\n", 1)[0].decode("utf-8", "replace")
        sep = delimiter or _sniff(header, delimiters)
        index = raw[line_start : exc.start].count(sep.encode())
        names = [h.strip().lower() for h in header.split(sep)]
        column = names[index] if index < len(names) else None
        check.problems.append(
            Problem(
                check.file,
                f"byte 0x{raw[exc.start]:02x} is not UTF-8: save the file as {save_as}",
                row,
                column,
            )
        )
        return None
    if not text.strip():
        check.add("file is empty")
        return None
    header = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = delimiter or _sniff(header, delimiters)
    if not _within_shape(text, header, delimiter, check):
        return None
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        if not _ragged_rows(text, delimiter, check):
            check.add(f"not a readable delimited table ({delimiter!r}): {exc}")
        return None
    # When every data row has one field more than the header, pandas quietly takes the first
    # column as the index instead of failing: treat that as the ragged rows it is.
    if not isinstance(frame.index, pd.RangeIndex):
        if not _ragged_rows(text, delimiter, check):
            check.add("rows have more fields than the header")
        return None
    return frame


def _within_shape(text: str, header: str, delimiter: str, check: TableCheck) -> bool:
    """Whether a delimited text's rows and header columns are within :mod:`.limits`, counted
    before pandas parses it (its time grows faster than the columns: 20,000 took 14 s)."""
    most_rows = limits.ROWS.value()
    lines = text.count("\n") + (not text.endswith("\n"))
    if lines - 1 > most_rows:
        check.add(
            f"{lines - 1:,} lines after the header; the limit is {most_rows:,} rows "
            f"({limits.ROWS.variable})"
        )
        return False
    most_columns = limits.COLUMNS.value()
    if header.count(delimiter) + 1 > most_columns:
        # The count is an upper bound (a quoted delimiter is part of a name): count exactly.
        try:
            columns = len(next(csv.reader([header], delimiter=delimiter)))
        except csv.Error:
            columns = header.count(delimiter) + 1
        if columns > most_columns:
            check.add(
                f"the header has {columns:,} columns; the limit is {most_columns:,} "
                f"({limits.COLUMNS.variable})",
                np.array([-1]),
            )
            return False
    return True


def stripped_text(column: pd.Series) -> pd.Series:
    """``column.astype(str).str.strip()`` in one plain pass: the same strings, at a fraction of
    the time of pandas' string accessor (which wraps every cell in a lambda; a million-row
    file has four million cells)."""
    values = _as_strings(column)
    stripped = np.empty(len(values), dtype=object)
    stripped[:] = list(map(str.strip, values))
    return pd.Series(stripped, index=column.index, name=column.name, dtype=object)


def text_lengths(column: pd.Series) -> np.ndarray:
    """``column.astype(str).str.len()`` as an integer array, in one plain pass."""
    values = _as_strings(column)
    return np.fromiter(map(len, values), dtype=np.int64, count=len(values))


def _as_strings(column: pd.Series) -> np.ndarray:
    """The column's cells as an object array of ``str`` (each cell ``str(cell)`` as
    ``astype(str)`` makes it, when any is not already text)."""
    values = column.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values
    return column.astype(str).to_numpy(dtype=object)


def check_cell_lengths(frame: pd.DataFrame, columns: list[str], check: TableCheck) -> bool:
    """Report every cell of ``columns`` longer than :data:`limits.CELL_CHARS` (its row and
    column, not its text); True when there is none."""
    most = limits.CELL_CHARS.value()
    fine = True
    for column in columns:
        long = pd.Series(text_lengths(frame[column]) > most, index=frame.index)
        if long.any():
            fine = False
            check_rows(
                check,
                long,
                column,
                f"cell longer than {most:,} characters ({limits.CELL_CHARS.variable}): a "
                "value, not free text",
            )
    return fine


def _ragged_rows(text: str, delimiter: str, check: TableCheck) -> bool:
    """Report every row with more fields than the header (the first 100); True if any."""
    # newline="": a bare carriage return inside a field is the field's, as pandas reads it.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    width, found, reported, before = None, False, 0, len(check.problems)
    for row in _rows_until_error(reader, check):
        if width is None:
            width = len(row)
        elif len(row) > width:
            found = True
            if reported == LISTED_PER_PROBLEM:
                check.unlisted += 1
            else:
                reported += 1
                check.problems.append(
                    Problem(
                        check.file,
                        f"{len(row)} fields where the header has {width} (a stray delimiter, "
                        "or a value that needs quotes?)",
                        reader.line_num,
                    )
                )
    return found or len(check.problems) > before


def _rows_until_error(reader, check: TableCheck):
    """The rows of a ``csv.reader``; a row it cannot read ends them, as a problem."""
    try:
        yield from reader
    except csv.Error as exc:
        check.problems.append(
            Problem(check.file, f"not a readable delimited table: {exc}", reader.line_num + 1)
        )


def read_xlsx(raw: bytes, check: TableCheck) -> pd.DataFrame | None:
    """The first sheet's cells as strings, or ``None`` with the problem in ``check``.

    The workbook (a zip) is refused unopened when its parts declare more than
    ``FLOWCAP_MAX_XLSX_MB`` uncompressed, or more than ``FLOWCAP_MAX_XLSX_RATIO`` times their
    compressed size; its columns and rows are checked against :mod:`.limits` once read.
    """
    if not _xlsx_within_limits(raw, check):
        return None
    try:
        frame = pd.read_excel(
            io.BytesIO(raw), dtype=str, keep_default_na=False, na_filter=False, engine="openpyxl"
        )
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        check.add(f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}")
        return None
    if frame.columns.empty:
        check.add("the first sheet is empty")
        return None
    most_columns, most_rows = limits.COLUMNS.value(), limits.ROWS.value()
    if len(frame.columns) > most_columns:
        check.add(
            f"the first sheet has {len(frame.columns):,} columns; the limit is "
            f"{most_columns:,} ({limits.COLUMNS.variable})",
            np.array([-1]),
        )
        return None
    if len(frame) > most_rows:
        check.add(
            f"the first sheet has {len(frame):,} rows after the header; the limit is "
            f"{most_rows:,} ({limits.ROWS.variable})"
        )
        return None
    return frame


def _xlsx_within_limits(raw: bytes, check: TableCheck) -> bool:
    """Whether a workbook's declared uncompressed size and compression ratio are within
    :mod:`.limits` (read from the zip's directory, nothing inflated); a file that is not a
    zip passes here and fails in the reader with its own message."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, NotImplementedError):
        return True
    inflated = sum(part.file_size for part in parts)
    packed = sum(part.compress_size for part in parts)
    most = limits.XLSX_MB.value()
    if inflated > most:
        check.add(
            f"the workbook inflates to {inflated:,} bytes; the limit is {most:,} "
            f"({limits.XLSX_MB.variable}): save the sheet as CSV UTF-8, or keep only the "
            "columns flowcap reads"
        )
        return False
    ratio = inflated / max(packed, 1)
    most_ratio = limits.XLSX_RATIO.value()
    if ratio > most_ratio and inflated > 1_000_000:
        check.add(
            f"the workbook inflates {ratio:,.0f} times its size ({inflated:,} bytes from "
            f"{packed:,}); the limit is {most_ratio:,} times ({limits.XLSX_RATIO.variable}): "
            "a workbook like this is more likely a zip bomb than a table"
        )
        return False
    return True


def _sniff(header: str, delimiters: tuple[str, ...]) -> str:
    counts = {d: header.count(d) for d in delimiters}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


# --- column parsers: each returns the parsed column and records bad cells -------------------


def parse_dates(frame: pd.DataFrame, column: str, check: TableCheck, timezone: str) -> pd.Series:
    """Parse ISO dates (2025-03-01, with or without a time) or UK dates (01/03/2025).

    Times with an offset are converted to the service's time zone before the date is taken.
    Returns a datetime64 column at midnight; bad or empty cells are reported.
    """
    text = frame[column]
    # A date column repeats a few thousand days over a million rows: parse each distinct
    # text once and spread the results (and the masks of bad cells) back over the rows.
    codes, distinct = pd.factorize(text.to_numpy(dtype=object), use_na_sentinel=False)
    result, empty, unread, outside = (
        pd.Series(values.to_numpy()[codes], index=text.index)
        for values in _parse_distinct_dates(pd.Series(distinct, dtype=object), timezone)
    )
    check_rows(check, empty, column, "missing date")
    check_rows(
        check, outside, column, f"date outside {FIRST_DATE} to {LAST_DATE} (a mistyped year?)", text
    )
    check_rows(check, unread & ~outside, column, "not a date (use YYYY-MM-DD)", text)
    return result.where(~outside).astype("datetime64[ns]")


def _parse_distinct_dates(
    text: pd.Series, timezone: str
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """:func:`parse_dates` for distinct texts: the dates at midnight, and the masks of the
    empty, unread and out-of-range ones."""
    empty = text == ""
    parsed = pd.to_datetime(text.where(~empty), format="ISO8601", errors="coerce", utc=True)
    for uk_format in UK_DATE_FORMATS:
        retry = parsed.isna() & ~empty
        if not retry.any():
            break
        parsed = parsed.copy()
        parsed[retry] = pd.to_datetime(text[retry], format=uk_format, errors="coerce", utc=True)
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    local = parsed.dt.tz_convert(timezone).dt.tz_localize(None)
    naive = parsed.dt.tz_localize(None)
    result = naive.where(~has_offset, local).dt.normalize()
    unread = result.isna() & ~empty
    # pandas cannot hold a date before 1677 or after 2262: say so rather than "not a date".
    years = pd.to_numeric(text.where(unread).str.extract(_YEAR, expand=False), errors="coerce")
    outside = (result < pd.Timestamp(FIRST_DATE)) | (result > pd.Timestamp(LAST_DATE))
    outside |= unread & ((years < FIRST_DATE.year) | (years > LAST_DATE.year))
    return result, empty, unread, outside


#: A four-digit year on its own in a date's text (2025-03-01, 01/03/2025).
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def parse_numbers(
    frame: pd.DataFrame,
    column: str,
    check: TableCheck,
    *,
    integer: bool = False,
    minimum: float = 0.0,
    strictly_positive: bool = False,
    maximum: float | None = None,
    required: bool = True,
) -> pd.Series:
    """Parse a numeric column; report missing, non-numeric, negative and out-of-range cells."""
    text = frame[column]
    empty = text == ""
    values = pd.to_numeric(text.where(~empty), errors="coerce")
    if required:
        check_rows(check, empty, column, "missing value")
    check_rows(check, values.isna() & ~empty, column, "not a number", text)
    infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
    check_rows(check, pd.Series(infinite, index=values.index), column, "not a finite number", text)
    values = values.where(~infinite)
    bad_low = values <= minimum if strictly_positive else values < minimum
    check_rows(
        check,
        bad_low,
        column,
        "must be more than 0" if strictly_positive else "must not be negative",
        text,
    )
    if maximum is not None:
        check_rows(check, values > maximum, column, f"must be at most {maximum:g}", text)
    if integer:
        check_rows(
            check, values.notna() & (values % 1 != 0), column, "must be a whole number", text
        )
    return values


def check_rows(
    check: TableCheck,
    mask: pd.Series,
    column: str,
    message: str,
    text: pd.Series | None = None,
) -> None:
    """Report every row where ``mask`` is true, quoting the cell when ``text`` is given."""
    positions = np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False))
    check.unlisted += max(len(positions) - LISTED_PER_PROBLEM, 0)
    for position in positions[:LISTED_PER_PROBLEM]:
        detail = f"{message}: {quote(text.iat[position])}" if text is not None else message
        # The index holds each record's place in the file, blank lines included.
        check.problems.append(Problem(check.file, detail, int(mask.index[position]) + 2, column))
