"""The four tables of a service's history, as one type wherever they come from."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from flowcap.model.roster import Roster

#: The date column of each table.
DATE_COLUMNS = {
    "referrals": "referral_date",
    "waiting": "waiting_since",
    "roster": "date",
    "sessions": "date",
}


@dataclass
class ServiceTables:
    """A service's referrals, opening waiting list, roster and recorded sessions.

    Read from a folder, cases are named by ``case_id`` (raw, never stored); loaded from the
    store, by ``case_key`` (the keyed pseudonym). Dates are datetime64 at midnight, minutes
    floats.

    - ``referrals``: case, referral_date, case_type, source
    - ``waiting``: case, case_type, waiting_since (may be empty)
    - ``roster``: a :class:`~flowcap.model.roster.Roster` (given as its rows, a frame of
      date, resource, staff, minutes_per_staff, it is wrapped)
    - ``sessions``: date, case, resource, minutes; ``None`` when none are recorded (activity
      is then modelled from capacity)
    """

    referrals: pd.DataFrame
    waiting: pd.DataFrame
    roster: Roster
    sessions: pd.DataFrame | None

    def __post_init__(self) -> None:
        if self.roster is None:
            self.roster = Roster.empty()
        elif isinstance(self.roster, pd.DataFrame):
            self.roster = Roster(self.roster)

    def spans(self) -> dict[str, tuple[int, pd.Timestamp | None, pd.Timestamp | None]]:
        """Per table: its rows and its first and last date (``None`` when empty); sessions
        left out when none are recorded."""
        found = {}
        for table, column in DATE_COLUMNS.items():
            frame = self.roster.rows if table == "roster" else getattr(self, table)
            if frame is None:
                continue
            dates = frame[column]
            found[table] = (
                len(frame),
                dates.min() if len(frame) else None,
                dates.max() if len(frame) else None,
            )
        return found

    @property
    def has_history(self) -> bool:
        """True when there is at least one referral (measures need one)."""
        return len(self.referrals) > 0


Contents = list[tuple[str, int, "pd.Timestamp | None", "pd.Timestamp | None"]]


def describe_contents(
    tables: ServiceTables,
    school_holidays: pd.DataFrame | None,
    options: int | None,
    labels: dict[str, str],
) -> Contents:
    """What a service holds, line by line: ``(label, rows, first date, last date)`` for each
    table and the school holidays named in ``labels`` (table or ``school_holidays`` ->
    label), then ``(labels["scenarios"], options, None, None)`` when ``options`` is given."""
    found: Contents = []
    for table, (rows, first, last) in tables.spans().items():
        if table in labels:
            found.append((labels[table], rows, first, last))
    if school_holidays is not None and "school_holidays" in labels:
        holidays = school_holidays
        first = holidays["start"].min() if len(holidays) else None
        last = holidays["end"].max() if len(holidays) else None
        found.append((labels["school_holidays"], len(holidays), first, last))
    if options is not None and "scenarios" in labels:
        found.append((labels["scenarios"], options, None, None))
    return found
