"""The four tables of a service's history, as one type wherever they come from."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class ServiceTables:
    """A service's referrals, opening waiting list, roster and recorded sessions.

    Read from a folder, cases are named by ``case_id`` (raw, never stored); loaded from the
    store, by ``case_key`` (the keyed pseudonym). Dates are datetime64 at midnight, minutes
    floats.

    - ``referrals``: case, referral_date, case_type, source
    - ``waiting``: case, case_type, waiting_since (may be empty)
    - ``roster``: date, resource, staff, minutes_per_staff (NaN = the resource's default);
      rows after the last day of data are plans for the days ahead
    - ``sessions``: date, case, resource, minutes; ``None`` when none are recorded (activity
      is then modelled from capacity)
    """

    referrals: pd.DataFrame
    waiting: pd.DataFrame
    roster: pd.DataFrame
    sessions: pd.DataFrame | None

    @property
    def has_history(self) -> bool:
        """True when there is at least one referral (measures need one)."""
        return len(self.referrals) > 0
