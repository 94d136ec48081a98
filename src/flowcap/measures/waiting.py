"""The waiting list as people see it: cases waiting at each resource and how long they have
waited, in working days.

The daily measures count the backlog in minutes and cases; a manager asks who is waiting and
for how long. Each piece of due work waits at its resource from the day it falls due (or
the first day measured, for work already waiting) until the day it is done, and a case is
on the list while any of its work there waits, at the age of its oldest waiting piece.

Ages are working days since the work fell due, that day not counted, as the first-contact
target counts them (:func:`flowcap.targets.past_contact_target`): work due on Monday and
still waiting at the end of Wednesday is 2 working days old. The bands are those a manager
reads a waiting list by: 0–2 working days, 3–5, 6–10, 11–20 and over 20.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from flowcap.model import Service, working_calendar

#: Age bands in working days: the first age in each band (the last band has no end).
BAND_STARTS = (0, 3, 6, 11, 21)
#: How the bands are named in tables, charts and JSON keys.
BAND_LABELS = ("0-2", "3-5", "6-10", "11-20", "over 20")
#: The per-band JSON keys and frame columns (cases waiting in each band).
BAND_COLUMNS = tuple(
    f"waiting_{label.replace('-', '_').replace(' ', '_')}_working_days" for label in BAND_LABELS
)
SNAPSHOT_COLUMNS = (
    "resource",
    "case_type",
    "cases_waiting",
    "oldest_working_days",
    *BAND_COLUMNS,
    "median_working_days",
    "p90_working_days",
)


def _reach_before(resource: np.ndarray, case: np.ndarray, end: np.ndarray) -> np.ndarray:
    """For rows sorted by resource and case: the latest ``end`` of the rows before each one
    in its (resource, case) group, or -1 for a group's first row (a grouped cummax shifted
    by one, in numpy: each group's ends are lifted above every earlier group's, so one
    running maximum never carries across groups)."""
    if len(end) == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.ones(len(end), dtype=bool)
    first[1:] = (resource[1:] != resource[:-1]) | (case[1:] != case[:-1])
    group = np.cumsum(first, dtype=np.int64)
    low = int(end.min())
    span = int(end.max()) - low + 1
    lift = group * span
    reach = np.maximum.accumulate(end.astype(np.int64) - low + lift) - lift + low
    before = np.empty(len(end), dtype=np.int64)
    before[0] = -1
    before[1:] = reach[:-1]
    before[first] = -1
    return before


@dataclass
class WaitingList:
    """Every piece of due work's time on the waiting list of its resource.

    ``items`` has one row per piece of work that waited at all: ``resource``, ``case_type``,
    ``case`` (a number per case), ``due_day`` (day number in the measured period it fell
    due; negative for work already waiting on the first day), ``begin`` and ``end`` (the
    case is on the list at the end of days ``begin`` to ``end - 1``, counted by its oldest
    waiting piece, so a case is never on one list twice). ``dates`` are the measured days;
    ``worked[i]`` counts working days up to and including day ``i + first_day``.
    """

    items: pd.DataFrame
    dates: pd.DatetimeIndex
    resources: tuple[str, ...]
    case_types: tuple[str, ...]
    worked: np.ndarray
    first_day: int
    # The profile of every day, made once: a range of the measures (a cut of the whole table)
    # asks for it again, and it takes most of a second on a million referrals.
    _profile: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        service: Service,
        dates: pd.DatetimeIndex,
        resource: np.ndarray,
        case_type: np.ndarray,
        case: np.ndarray,
        due_day: np.ndarray,
        begin: np.ndarray,
        end: np.ndarray,
    ) -> WaitingList:
        """The list from the measures' pieces of work (arrays of one length; ``resource``
        an index into ``service.resources``, ``end`` ``len(dates)`` for work still waiting)."""
        waited = end > begin
        # A case with two pieces waiting at one resource is on the list once, by the older:
        # sorted by resource, case, due day and begin (stable), each piece waits only from
        # where the ones before it at that resource and case stopped waiting.
        order = np.flatnonzero(waited)
        order = order[np.lexsort((begin[order], due_day[order], case[order], resource[order]))]
        columns = {
            "resource": resource[order],
            "case_type": case_type[order],
            "case": case[order],
            "due_day": due_day[order],
            "begin": begin[order],
            "end": end[order],
        }
        columns["begin"] = np.maximum(
            columns["begin"], _reach_before(columns["resource"], columns["case"], columns["end"])
        )
        keep = columns["end"] > columns["begin"]
        frame = pd.DataFrame({name: values[keep] for name, values in columns.items()})
        first_day = int(min(0, frame["due_day"].min())) if len(frame) else 0
        calendar = working_calendar(
            service,
            (dates[0] + timedelta(days=first_day)).date(),
            dates[-1].date(),
        )
        worked = np.cumsum(calendar["is_working_day"].to_numpy(dtype=np.int64))
        return cls(
            frame,
            dates,
            tuple(service.resources),
            tuple(service.case_types),
            worked,
            first_day,
        )

    def _worked_at(self, day: np.ndarray) -> np.ndarray:
        return self.worked[np.asarray(day) - self.first_day]

    def ages_on(self, day: int) -> pd.DataFrame:
        """The cases waiting at the end of day number ``day``, with their ``age`` (working
        days)."""
        on = self.items[(self.items["begin"] <= day) & (day < self.items["end"])]
        ages = self._worked_at(np.full(len(on), day)) - self._worked_at(on["due_day"].to_numpy())
        return on.assign(age=ages)

    def snapshot(self, on: pd.Timestamp | None = None) -> pd.DataFrame:
        """The list at the end of ``on`` (default the last day measured): one row per
        resource and case type (:data:`SNAPSHOT_COLUMNS`), in service.yaml's order, every
        case type listed for every resource it has work at, even with none waiting; the
        median and 90th percentile are the smallest whole numbers of working days that half
        and 90% waited no longer than (NaN with none waiting)."""
        day = len(self.dates) - 1 if on is None else int((on - self.dates[0]).days)
        ages = self.ages_on(day)
        present = self.items[["resource", "case_type"]].drop_duplicates()
        rows = []
        for r, resource in enumerate(self.resources):
            for k, case_type in enumerate(self.case_types):
                has_work = ((present["resource"] == r) & (present["case_type"] == k)).any()
                if not has_work:
                    continue
                mine = ages.loc[(ages["resource"] == r) & (ages["case_type"] == k), "age"]
                values = mine.to_numpy()
                bands = np.bincount(
                    np.searchsorted(BAND_STARTS, values, side="right") - 1,
                    minlength=len(BAND_STARTS),
                )
                row = {
                    "resource": resource,
                    "case_type": case_type,
                    "cases_waiting": len(values),
                    "oldest_working_days": int(values.max()) if len(values) else np.nan,
                    **{c: int(n) for c, n in zip(BAND_COLUMNS, bands, strict=True)},
                    "median_working_days": _quantile(values, 0.5),
                    "p90_working_days": _quantile(values, 0.9),
                }
                rows.append(row)
        return pd.DataFrame(rows, columns=list(SNAPSHOT_COLUMNS))

    def profile(self) -> pd.DataFrame:
        """Cases waiting at the end of each day by age band, per resource: ``date``,
        ``resource`` and :data:`BAND_COLUMNS` (a case moves to the next band on the day its
        age reaches the band's first age)."""
        if self._profile is None:
            self._profile = self._count_profile()
        return self._profile.copy()

    def _count_profile(self) -> pd.DataFrame:
        n_days, n_res = len(self.dates), len(self.resources)
        counts = np.zeros((n_res, len(BAND_STARTS), n_days + 1), dtype=np.int64)
        items = self.items
        due = self._worked_at(items["due_day"].to_numpy())
        begin, end = items["begin"].to_numpy(), items["end"].to_numpy()
        resource = items["resource"].to_numpy()
        # The day (number) each piece's age reaches each band's first age.
        enters = [
            np.searchsorted(self.worked, due + start, side="left") + self.first_day
            for start in BAND_STARTS
        ]
        enters.append(np.full(len(items), n_days))
        for b in range(len(BAND_STARTS)):
            lo = np.clip(np.maximum(begin, enters[b]), 0, n_days)
            hi = np.clip(np.minimum(end, enters[b + 1]), 0, n_days)
            keep = hi > lo
            np.add.at(counts[:, b], (resource[keep], lo[keep]), 1)
            np.add.at(counts[:, b], (resource[keep], hi[keep]), -1)
        waiting = np.cumsum(counts, axis=2)[:, :, :n_days]  # (R, bands, days)
        frame = pd.DataFrame(
            {
                "date": np.tile(self.dates.to_numpy(), n_res),
                "resource": np.repeat(self.resources, n_days),
            }
        )
        for b, column in enumerate(BAND_COLUMNS):
            frame[column] = waiting[:, b, :].reshape(-1)
        return frame


def _quantile(values: np.ndarray, q: float) -> float:
    """The smallest value that at least ``q`` of ``values`` are at or below (NaN if none)."""
    if not len(values):
        return np.nan
    return float(np.quantile(values, q, method="inverted_cdf"))
