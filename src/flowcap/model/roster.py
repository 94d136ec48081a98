"""The roster, and the rules for capacity it carries: on the days measured, and ahead.

Capacity ahead is the simulation's rule (:func:`flowcap.simulate.build.build_spec`) and the
risk step's (:func:`flowcap.plan.risk.assess_risk`), so it lives with the roster rather than
with either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from flowcap.model.service import Service

#: Columns of a roster: the date, the resource, people on duty and minutes each gives
#: (NaN: the resource's ``minutes_per_day``).
ROSTER_COLUMNS = ("date", "resource", "staff", "minutes_per_staff")
#: The history behind "what this weekday usually has": the last 52 weeks (364 days).
USUAL_WEEKS = 52


@dataclass(frozen=True)
class Roster:
    """Who is on duty on the days that differ from service.yaml's head count.

    ``rows`` has one row per date and resource (:data:`ROSTER_COLUMNS`; dates datetime64 at
    midnight, ``staff`` a float head count that may be part-time); rows after the last day of
    data are plans for the days ahead. Days without a row have the resource's usual staff.
    """

    rows: pd.DataFrame

    @classmethod
    def empty(cls) -> Roster:
        return cls(
            pd.DataFrame(
                {
                    "date": pd.Series(dtype="datetime64[ns]"),
                    "resource": pd.Series(dtype=object),
                    "staff": pd.Series(dtype=float),
                    "minutes_per_staff": pd.Series(dtype=float),
                }
            )
        )

    def __len__(self) -> int:
        return len(self.rows)

    def of(self, resource: str) -> pd.DataFrame:
        """The rows of one resource."""
        return self.rows[self.rows["resource"] == resource]

    def capacity_minutes(self, service: Service, calendar: pd.DataFrame) -> dict[str, np.ndarray]:
        """Minutes of capacity on each day of ``calendar`` per resource, shape (n_days,): a
        roster row's staff × minutes each (the resource's ``minutes_per_day`` where blank),
        else on a working day the resource's ``staff × minutes_per_day``, else 0. The rule of
        the days measured; :meth:`staffing_ahead` is the one for the days ahead."""
        start = calendar["date"].iat[0]
        n_days = len(calendar)
        working = calendar["is_working_day"].to_numpy()
        out = {}
        for name, resource in service.resources.items():
            minutes = np.where(working, resource.capacity_minutes_per_day, 0.0).astype(float)
            rows = self.of(name)
            if len(rows):
                day = _day_numbers(rows["date"], start)
                inside = (day >= 0) & (day < n_days)
                each = rows["minutes_per_staff"].fillna(resource.minutes_per_day).to_numpy(float)
                minutes[day[inside]] = rows["staff"].to_numpy(float)[inside] * each[inside]
            out[name] = minutes
        return out

    def staffing_ahead(
        self, service: Service, calendar: pd.DataFrame, history: pd.DataFrame | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """People rostered and the minutes each gives, on each day ahead, per resource.

        The one rule for capacity ahead, shared by the simulation
        (:func:`flowcap.simulate.build.build_spec`) and the bad-day risk
        (:meth:`capacity_ahead`):

        1. A roster row for the resource and day wins: its ``staff`` and ``minutes_per_staff``
           (the resource's ``minutes_per_day`` where blank), so a planned gap shows.
        2. Otherwise, on a working day, the mean ``capacity_minutes`` of the same weekday over
           the working days of the last 52 weeks (364 days) of ``history``, leave in the
           roster included, as the resource's ``staff`` people giving that mean / ``staff``
           minutes each (as ``mean / minutes_per_day`` people giving ``minutes_per_day`` when
           ``staff`` is 0).
        3. Otherwise, on a working day, ``resource.staff`` people giving ``minutes_per_day``.
        4. On other days, nobody.

        Parameters
        ----------
        calendar : :func:`flowcap.model.working_calendar` of the days ahead, length H.
        history : the measures table (``date, resource, capacity_minutes, is_working_day``),
            or ``None`` for no history.

        Returns
        -------
        staff : ndarray of float, shape (R_n, H) — people rostered (may be fractional: a
            roster row's head count, or rule 2 with ``staff`` 0)
        minutes_per_staff : ndarray of float, shape (R_n, H) — minutes each gives that day
        """
        start = calendar["date"].iat[0].to_datetime64().astype("datetime64[D]")
        days = pd.DatetimeIndex(calendar["date"])
        n_days = len(calendar)
        working = calendar["is_working_day"].to_numpy()
        staff = np.zeros((len(service.resources), n_days))
        minutes = np.zeros_like(staff)
        for r, (name, resource) in enumerate(service.resources.items()):
            staff[r] = np.where(working, resource.staff, 0)
            minutes[r] = np.where(working, resource.minutes_per_day, 0.0)
            usual = _usual_capacity(history, name, days)
            known = working & ~np.isnan(usual)
            if resource.staff > 0:
                minutes[r, known] = usual[known] / resource.staff
            else:
                staff[r, known] = usual[known] / resource.minutes_per_day
            rows = self.of(name)
            if rows.empty:
                continue
            day = (rows["date"].to_numpy("datetime64[D]") - start).astype(np.int64)
            inside = (day >= 0) & (day < n_days)
            staff[r, day[inside]] = rows["staff"].to_numpy(float)[inside]
            each = rows["minutes_per_staff"].fillna(resource.minutes_per_day).to_numpy(float)
            minutes[r, day[inside]] = each[inside]
        return staff, minutes

    def capacity_ahead(
        self, service: Service, calendar: pd.DataFrame, history: pd.DataFrame | None = None
    ) -> dict[str, np.ndarray]:
        """Expected minutes of capacity on each day ahead, per resource (shape (H,)).

        :meth:`staffing_ahead`'s people × minutes each × (1 − ``absence_rate``): the mean of
        the capacity the simulation draws for those days (each person absent with the
        resource's ``absence_rate``). Used by ``flowcap risk`` for the days it forecasts.
        """
        staff, minutes = self.staffing_ahead(service, calendar, history)
        return {
            name: staff[r] * minutes[r] * (1 - resource.absence_rate)
            for r, (name, resource) in enumerate(service.resources.items())
        }


def _day_numbers(dates, start: pd.Timestamp) -> np.ndarray:
    return (
        (np.asarray(dates, dtype="datetime64[ns]") - np.datetime64(start, "ns"))
        // np.timedelta64(1, "D")
    ).astype(np.int64)


def _usual_capacity(
    history: pd.DataFrame | None, resource: str, days: pd.DatetimeIndex
) -> np.ndarray:
    """Mean capacity minutes of each day's weekday over the history's last 52 weeks of
    working days, shape (H,); NaN where there is none."""
    if history is None or history.empty:
        return np.full(len(days), np.nan)
    past = history[(history["resource"] == resource) & history["is_working_day"]]
    past = past[past["date"] > past["date"].max() - pd.Timedelta(weeks=USUAL_WEEKS)]
    by_weekday = past.groupby(past["date"].dt.dayofweek)["capacity_minutes"].mean()
    return days.dayofweek.map(by_weekday).to_numpy(dtype=float)
