"""How much one input file may hold, each limit settable by an environment variable.

A referrals export of a busy hub is tens of megabytes, a few columns wide, with short cells.
A file far past that is a mistake (the wrong export, a notes column pasted whole) or an
attack (a header of 200,000 commas, which ``pandas.read_csv`` takes minutes over; a 1.6 MB
workbook that inflates to 405 MB): each is refused before it is parsed, with the limit and
the variable that raises it. Each limit is read when a file is checked, so a changed
variable applies to the next command.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from flowcap.errors import FlowcapError


@dataclass(frozen=True)
class Limit:
    """One limit: its environment variable, its default and its unit (``scale`` turns the
    variable's value into the unit the code counts in: megabytes to bytes)."""

    variable: str
    default: float
    what: str
    integer: bool = True
    scale: int = 1

    def value(self) -> int:
        """The limit now: the variable's value (a finite number more than 0) × ``scale``,
        else the default; a bad value is a :class:`~flowcap.errors.FlowcapError` naming it."""
        given = os.environ.get(self.variable)
        if given is None or not given.strip():
            return int(self.default * self.scale)
        try:
            number = float(given.strip().replace("_", ""))
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0) or (self.integer and number % 1):
            kind = "a whole number" if self.integer else "a number"
            raise FlowcapError(
                f"{self.variable} must be {kind} of {self.what} more than 0, not "
                f"{given.strip()[:40]!r} (unset it for the default, {self.default:,g})"
            )
        return int(number * self.scale)


#: The largest data file (CSV, XLSX, an event log), in megabytes.
FILE_MB = Limit("FLOWCAP_MAX_FILE_MB", 512, "megabytes", integer=False, scale=1_000_000)
#: Columns in one table's header.
COLUMNS = Limit("FLOWCAP_MAX_COLUMNS", 200, "columns")
#: Characters in one cell of a column flowcap reads.
CELL_CHARS = Limit("FLOWCAP_MAX_CELL_CHARS", 10_000, "characters")
#: Rows (lines) in one table or event log.
ROWS = Limit("FLOWCAP_MAX_ROWS", 10_000_000, "rows")
#: What one XLSX workbook may inflate to, all its parts together, in megabytes: Excel's
#: 1,048,576 rows of a four-column table are about 260 MB (the example's sessions: 245 bytes
#: a row).
XLSX_MB = Limit("FLOWCAP_MAX_XLSX_MB", 300, "megabytes", integer=False, scale=1_000_000)
#: How many times larger than its compressed size an XLSX workbook may inflate: a real table
#: inflates 12 to 18 times (the example's tables; 200,000 identical rows), a zip bomb
#: hundreds of times.
XLSX_RATIO = Limit("FLOWCAP_MAX_XLSX_RATIO", 100, "times", integer=False)

#: Every limit, in the order the README lists them.
ALL = (FILE_MB, COLUMNS, CELL_CHARS, ROWS, XLSX_MB, XLSX_RATIO)
