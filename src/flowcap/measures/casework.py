"""Each case's work and the day each piece was done, as the measures replayed it.

The daily measures count minutes and cases per resource. A manager's next questions are
about single cases: was this victim's risk assessment done within a working day of falling
due, and how many cases is each IDVA holding? Both need, for every piece of work a case
needed, the day it fell due and the day it was done. Those days come from the measures'
replay: recorded sessions where a sessions file exists (the k-th session of a case at a
resource completes its k-th piece of work due there, on its due day at the earliest),
otherwise the modelled activity (priority first, oldest first).

Days are numbered from the first day measured (day 0); work and cases from before it (the
opening backlog) have negative day numbers. Working days are counted as the contact targets
count them (:func:`flowcap.targets.past_contact_target`): the working days after one day up
to and including another, so work due on a Monday and done on the Wednesday took 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from flowcap.model import Service, working_calendar


@dataclass(frozen=True)
class CaseWork:
    """Every case and every piece of its due work, with the day the piece was done.

    Attributes
    ----------
    service : Service
        The service whose case types' steps the work comes from.
    dates : DatetimeIndex
        The measured days, day 0 first (first referral to the last day of data).
    cases : DataFrame
        One row per case (referrals, then the opening backlog): ``case`` (its number: the
        cases are numbered 0, 1, 2, ... in row order), ``case_type`` (position in
        ``service.case_types``) and ``case_day`` (day number of the referral date, or of
        ``waiting_since`` for the opening backlog: negative).
    work : DataFrame
        One row per piece of due work the measures replayed (due by the last day measured):
        ``case``, ``case_type`` (position in ``service.case_types``), ``step`` (the step's
        place in its case type's list, from 1), ``resource`` (position in
        ``service.resources``), ``due_day`` and ``done_day`` (day numbers; ``done_day`` is
        ``len(dates)`` for work not done by the last day measured). With recorded sessions,
        work both due and done before day 0 is history and left out.
    worked : ndarray of int
        ``worked[d - first_day]``: working days from day ``first_day`` up to and including
        day ``d``.
    first_day : int
        The earliest day number ``worked`` covers (0, or the earliest case before day 0).
    """

    service: Service
    dates: pd.DatetimeIndex
    cases: pd.DataFrame
    work: pd.DataFrame
    worked: np.ndarray
    first_day: int

    @classmethod
    def build(
        cls,
        service: Service,
        dates: pd.DatetimeIndex,
        cases: pd.DataFrame,
        waited: pd.DataFrame,
    ) -> CaseWork:
        """From the measures' cases (``case``, ``case_date``, ``case_type`` name) and pieces of
        work (``resource`` position, ``case``, ``step``, ``due_day``, ``end``: the day it was
        done, or ``len(dates)``). Types and resources are kept as positions, not names: a
        million referrals bring millions of pieces of work."""
        case_day = (
            (cases["case_date"].to_numpy("datetime64[ns]") - np.datetime64(dates[0], "ns"))
            // np.timedelta64(1, "D")
        ).astype(np.int64)
        case_type = pd.Index(list(service.case_types)).get_indexer(
            cases["case_type"].to_numpy(dtype=object)
        )
        case = waited["case"].to_numpy(dtype=np.int64)
        work = pd.DataFrame(
            {
                "case": case,
                "case_type": case_type[case],
                "step": waited["step"].to_numpy(dtype=np.int64),
                "resource": waited["resource"].to_numpy(dtype=np.int64),
                "due_day": waited["due_day"].to_numpy(dtype=np.int64),
                "done_day": waited["end"].to_numpy(dtype=np.int64),
            }
        )
        earliest = [0]
        if len(case_day):
            earliest.append(int(case_day.min()))
        if len(work):
            earliest.append(int(work["due_day"].min()))
        first_day = min(earliest)
        calendar = working_calendar(
            service, (dates[0] + timedelta(days=first_day)).date(), dates[-1].date()
        )
        worked = np.cumsum(calendar["is_working_day"].to_numpy(dtype=np.int64))
        return cls(
            service,
            dates,
            pd.DataFrame(
                {"case": cases["case"].to_numpy(), "case_type": case_type, "case_day": case_day}
            ),
            work,
            worked,
            first_day,
        )

    @property
    def n_days(self) -> int:
        """The number of days measured (also the ``done_day`` of work not yet done)."""
        return len(self.dates)

    def working_days_between(self, since: np.ndarray, until: np.ndarray) -> np.ndarray:
        """Working days after day ``since`` up to and including day ``until`` (day numbers
        from ``first_day`` to the last day measured; 0 when ``until`` is ``since``)."""
        since = np.asarray(since, dtype=np.int64) - self.first_day
        until = np.asarray(until, dtype=np.int64) - self.first_day
        return self.worked[until] - self.worked[since]
