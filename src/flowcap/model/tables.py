"""The four tables of a service's history, as one type wherever they come from."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from flowcap.model.roster import Roster


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

    @property
    def has_history(self) -> bool:
        """True when there is at least one referral (measures need one)."""
        return len(self.referrals) > 0
