"""Checked reading of the service folder's tables (CSV or XLSX).

Every cell is read as text and then parsed column by column with vectorised pandas
operations, so a million-row referrals file is checked in about a second and every bad
cell is reported with its row (header = row 1, as a spreadsheet shows it) and column.
Only the columns flowcap knows are kept: anything else (a victim's name, free-text notes)
is dropped on reading and never reaches the store.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from flowcap.errors import Problem
from flowcap.io.source import read_bytes

DEFAULT_MAX_FILE_MB = 512
#: Day-first formats tried after ISO 8601, as UK spreadsheets export them.
UK_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y")


def max_file_bytes() -> int:
    """The largest data file accepted, from ``FLOWCAP_MAX_FILE_MB`` (default 512 MB)."""
    return int(float(os.environ.get("FLOWCAP_MAX_FILE_MB", DEFAULT_MAX_FILE_MB)) * 1_000_000)


@dataclass
class TableCheck:
    """Problems and notes collected while checking one file."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self, message: str, rows: pd.Index | np.ndarray | None = None, column: str | None = None
    ):
        """Record ``message`` once per row in ``rows`` (0-based data-row positions)."""
        if rows is None:
            self.problems.append(Problem(self.file, message, None, column))
            return
        for row in np.asarray(rows)[:100]:
            self.problems.append(Problem(self.file, message, int(row) + 2, column))


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
        frame[column] = frame[column].astype(str).str.strip()
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
    delimiter = delimiter or _sniff(text.lstrip("\r\n").split("\n", 1)[0], delimiters)
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


def _ragged_rows(text: str, delimiter: str, check: TableCheck) -> bool:
    """Report every row with more fields than the header (the first 100); True if any."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    width, found, reported = None, False, 0
    for row in reader:
        if width is None:
            width = len(row)
        elif len(row) > width:
            found = True
            if reported < 100:
                reported += 1
                check.problems.append(
                    Problem(
                        check.file,
                        f"{len(row)} fields where the header has {width} (a stray delimiter, "
                        "or a value that needs quotes?)",
                        reader.line_num,
                    )
                )
    return found


def read_xlsx(raw: bytes, check: TableCheck) -> pd.DataFrame | None:
    """The first sheet's cells as strings, or ``None`` with the problem in ``check``."""
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
    return frame


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
    check_rows(check, empty, column, "missing date")
    check_rows(check, result.isna() & ~empty, column, "not a date (use YYYY-MM-DD)", text)
    return result.astype("datetime64[ns]")


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
    for position in positions[:100]:
        detail = f"{message}: {text.iat[position]!r}" if text is not None else message
        # The index holds each record's place in the file, blank lines included.
        check.problems.append(Problem(check.file, detail, int(mask.index[position]) + 2, column))
