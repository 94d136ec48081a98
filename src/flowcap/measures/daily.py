"""An IDVA team's day in four numbers, all in minutes: demand, capacity, activity, backlog.

For each critical resource and each calendar day:

- ``demand_minutes``: work that fell due that day (from the case types' steps);
- ``capacity_minutes``: staff on duty × minutes each (roster, else the defaults; 0 on days
  that are not working days unless the roster adds someone);
- ``activity_minutes``: work done — recorded sessions where a sessions file exists, otherwise
  modelled as ``min(capacity, opening backlog + demand)``, taken by priority (1 first) and
  oldest due first within a priority;
- ``opening_backlog_minutes`` and ``backlog_minutes`` (end of day = opening + demand − activity);
- ``demand_cases``, ``activity_cases``, ``backlog_cases``: distinct cases with work due, worked
  on, and still waiting at the end of the day. A case leaves the backlog when all its due work
  at that resource is done.

The same replay says when each piece of each case's work was done
(:class:`~flowcap.measures.casework.CaseWork`): the waiting list by age, the steps' contact
targets met and the caseloads per FTE are counted from it.

Worked example (DESIGN.md): 12 referrals needing 60 IDVA minutes → demand 720; 2 IDVAs × 240
→ capacity 480; 20 cases already waiting × 60 → opening backlog 1,200; the day ends at
1,200 + 720 − 480 = 1,440 and the next day, with no referrals, at 960.

The modelled activity is computed without a per-case loop: for each priority the minutes
served form a Lindley recursion on daily totals, and because work is first-in-first-out within
a priority, each item's first and last day of service follow from where its cumulative minutes
fall in the cumulative minutes served (``numpy.searchsorted``). A million referrals take
seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from flowcap.errors import FlowcapError
from flowcap.measures.caseload import Caseloads, caseload_standards
from flowcap.measures.casework import CaseWork
from flowcap.measures.step_targets import STATUSES, StepTargets, targeted_steps
from flowcap.measures.waiting import BAND_COLUMNS, SNAPSHOT_COLUMNS, WaitingList
from flowcap.measures.work import step_positions
from flowcap.model import Service, working_calendar
from flowcap.model.tables import ServiceTables
from flowcap.targets import past_contact_target

#: The columns of the measures table (and the keys of ``flowcap measures --json``).
MEASURE_COLUMNS = [
    "date",
    "resource",
    "demand_minutes",
    "capacity_minutes",
    "activity_minutes",
    "opening_backlog_minutes",
    "backlog_minutes",
    "demand_cases",
    "activity_cases",
    "backlog_cases",
]
#: Per resource and day in ``--json``: occurrences of steps with a target at the resource
#: that fell due that day, by how they stand at the end of the data.
DAY_TARGET_COLUMNS = ("step_targets_met", "step_targets_missed", "step_targets_pending")
#: Per resource and day in ``--json``: its open cases of the case types it holds with a
#: caseload standard, per FTE, and as a share of a full caseload (:class:`Caseloads`).
DAY_CASELOAD_COLUMNS = ("open_cases", "open_cases_per_fte", "caseload_share")
_EPS = 1e-6


@dataclass
class DailyMeasures:
    """The result of :func:`daily_measures`.

    Attributes
    ----------
    table : DataFrame
        One row per resource and day: :data:`MEASURE_COLUMNS` plus
        ``activity_planned_minutes`` (the planned minutes of the work done: equal to
        ``activity_minutes`` when activity is modelled; with recorded sessions, backlog =
        opening + demand − this, exactly), ``is_working_day``, ``bank_holiday`` and
        ``activity_exceeds_capacity`` (recorded work above the capacity the roster gives: the
        roster or the data is wrong).
    first_contacts : DataFrame
        One row per referral: ``case_key``, ``case_type``, ``referral_date``,
        ``first_contact_date`` (NaT if none yet), ``working_days_to_contact`` and ``status``
        (``met``, ``missed`` or ``pending``: not contacted yet, deadline not yet passed).
    recorded : bool
        True when activity comes from recorded sessions, False when it is modelled.
    waiting : WaitingList
        Who waits at each resource and for how long, in working days
        (:class:`~flowcap.measures.waiting.WaitingList`).
    casework : CaseWork
        Every piece of every case's work with the day it fell due and the day it was done
        (:class:`~flowcap.measures.casework.CaseWork`), from which :meth:`step_targets`
        and :meth:`caseloads` are counted.
    """

    table: pd.DataFrame
    first_contacts: pd.DataFrame
    recorded: bool
    target_working_days: int
    service_name: str = ""
    waiting: WaitingList | None = field(default=None, repr=False)
    casework: CaseWork | None = field(default=None, repr=False)
    # The step targets and caseloads of every measured day, made on first use (a copy cut to
    # fewer days by ``dataclasses.replace`` shares them).
    _over_all_days: dict = field(default_factory=dict, repr=False, compare=False)

    def first_contact_share(self) -> float:
        """Share of referrals (with a decided outcome) first contacted within the target."""
        decided = self.first_contacts["status"] != "pending"
        if not decided.any():
            return float("nan")
        return float((self.first_contacts.loc[decided, "status"] == "met").mean())

    @property
    def period(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The first and last day of the table."""
        return self.table["date"].min(), self.table["date"].max()

    def first_contact_counts(self) -> dict[str, int]:
        """Referrals by first-contact status: ``met``, ``missed`` and ``pending``."""
        counts = self.first_contacts["status"].value_counts()
        return {status: int(counts.get(status, 0)) for status in ("met", "missed", "pending")}

    def summary(self) -> pd.DataFrame:
        """One row per resource over the table's days: ``demand``, ``capacity`` and
        ``activity`` as mean minutes per working day (demand and activity falling on other
        days count towards the working days), ``utilisation`` (activity / capacity, NaN with
        no capacity), ``backlog_minutes`` and ``backlog_cases`` on the last day, and the
        ``peak_backlog_minutes`` with its ``peak_date`` (the first, on a tie)."""
        rows = []
        for resource, days in self.table.groupby("resource", sort=False):
            working = days[days["is_working_day"]]
            if working.empty:
                working = days
            demand = days["demand_minutes"].sum() / max(len(working), 1)
            capacity = working["capacity_minutes"].mean()
            activity = days["activity_minutes"].sum() / max(len(working), 1)
            peak = days.loc[days["backlog_minutes"].idxmax()]
            now = days.iloc[-1]
            rows.append(
                {
                    "resource": str(resource),
                    "demand": demand,
                    "capacity": capacity,
                    "activity": activity,
                    "utilisation": activity / capacity if capacity else float("nan"),
                    "backlog_minutes": now["backlog_minutes"],
                    "backlog_cases": int(now["backlog_cases"]),
                    "peak_backlog_minutes": peak["backlog_minutes"],
                    "peak_date": peak["date"],
                }
            )
        return pd.DataFrame(rows)

    def waiting_list(self) -> pd.DataFrame:
        """Who waits at the end of the table's last day, per resource and case type
        (:meth:`WaitingList.snapshot`; empty without the waiting list)."""
        if self.waiting is None:
            return pd.DataFrame(columns=list(SNAPSHOT_COLUMNS))
        return self.waiting.snapshot(on=self.table["date"].max())

    def waiting_profile(self) -> pd.DataFrame:
        """The table's days with the cases waiting at the end of each by age band
        (:meth:`WaitingList.profile`): ``date``, ``resource`` and :data:`BAND_COLUMNS`."""
        keys = self.table[["date", "resource"]]
        if self.waiting is None:
            return keys.assign(**{column: 0 for column in BAND_COLUMNS})
        return keys.merge(self.waiting.profile(), on=["date", "resource"], how="left")

    def step_targets(self) -> StepTargets:
        """How the work with a step target that fell due on the table's days stands at the
        end of the data: met, missed or pending (:class:`StepTargets`)."""
        first, last = self.period
        return self._measured(StepTargets).between(first, last)

    def caseloads(self) -> Caseloads:
        """Open cases per FTE of their case holder against the standard, on the table's
        days (:class:`Caseloads`)."""
        first, last = self.period
        return self._measured(Caseloads).between(first, last)

    def _measured(self, kind: type[StepTargets] | type[Caseloads]) -> StepTargets | Caseloads:
        """``kind`` over every measured day, made once."""
        if self.casework is None:
            raise FlowcapError("these measures were made without the cases' work")
        if kind not in self._over_all_days:
            self._over_all_days[kind] = kind.measure(self.casework)
        return self._over_all_days[kind]

    def as_json(self) -> list[dict]:
        """The ``flowcap measures --json`` document: one object per resource and day with
        :data:`MEASURE_COLUMNS` as keys (dates ISO, minutes to 3 decimals, cases whole),
        then the cases waiting at the end of the day by age band (:data:`BAND_COLUMNS`).
        A service with a step with ``target_working_days`` also gets
        :data:`DAY_TARGET_COLUMNS`, and one with a ``caseload_per_staff``
        :data:`DAY_CASELOAD_COLUMNS` (null on the rows of a resource with no such step, or
        holding no such case type)."""
        table = self.table[list(MEASURE_COLUMNS)].copy()
        profile = self.waiting_profile()
        for column in BAND_COLUMNS:
            table[column] = profile[column].to_numpy()
        keys, counts, ratios = ["date", "resource"], [], []
        service = None if self.casework is None else self.casework.service
        if service is not None and not targeted_steps(service).empty:
            targets = self.step_targets().by_day(self.table[keys])
            renamed = dict(zip(STATUSES, DAY_TARGET_COLUMNS, strict=True))
            table = table.merge(targets.rename(columns=renamed), on=keys, how="left")
            counts += DAY_TARGET_COLUMNS
        if service is not None and not caseload_standards(service).empty:
            table = table.merge(self.caseloads().by_resource(), on=keys, how="left")
            counts.append("open_cases")
            ratios += ["open_cases_per_fte", "caseload_share"]
        table["date"] = table["date"].dt.strftime("%Y-%m-%d")
        records = table.to_dict(orient="records")
        for record in records:
            for name in ("demand_cases", "activity_cases", "backlog_cases", *BAND_COLUMNS):
                record[name] = int(record[name])
            for name in MEASURE_COLUMNS[2:7]:
                record[name] = round(float(record[name]), 3)
            for name in counts:
                value = record[name]
                record[name] = None if value != value else int(value)
            for name in ratios:
                value = record[name]
                record[name] = None if value != value else round(float(value), 4)
        return records

    def between(self, start: date | None, end: date | None) -> pd.DataFrame:
        """The table's rows from ``start`` to ``end`` inclusive (either may be ``None``)."""
        table = self.table
        if start is not None:
            table = table[table["date"] >= pd.Timestamp(start)]
        if end is not None:
            table = table[table["date"] <= pd.Timestamp(end)]
        return table.reset_index(drop=True)


def measure_period(
    data: ServiceTables, until: date | None = None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day measured: first referral to the last referral or session (or ``until``).

    Roster rows after that are plans: they set the capacity of days ahead, not the period.
    """
    start = data.referrals["referral_date"].min()
    ends = [data.referrals["referral_date"].max()]
    if data.sessions is not None and len(data.sessions):
        ends.append(data.sessions["date"].max())
    if until is not None:
        ends.append(pd.Timestamp(until))
    return start, max(ends)


def daily_measures(
    service: Service, data: ServiceTables, until: date | None = None
) -> DailyMeasures:
    """Compute the daily measures for every resource of ``service``.

    Parameters
    ----------
    service : the service definition.
    data : the stored tables (pseudonymised); see :class:`flowcap.model.tables.ServiceTables`.
    until : measure up to this day even if the data stop earlier. With modelled activity the
        days after the data show the backlog being worked off; with recorded sessions they
        have no activity (nothing was recorded), so callers should not go past the last
        session (``flowcap measures --to`` refuses to).
    """
    if data.referrals.empty:
        raise FlowcapError("no referrals stored (all erased, or none imported yet)")
    start, end = measure_period(data, until)
    days = pd.date_range(start, end, freq="D")
    n_days = len(days)
    calendar = working_calendar(service, start.date(), end.date())
    capacity = data.roster.capacity_minutes(service, calendar)
    cases, keys = _cases(data, start)
    items = _items(service, cases, start, n_days)
    done = (
        _sessions(service, data.sessions, keys, start, n_days)
        if data.sessions is not None
        else None
    )

    frames, waits = [], []
    first_day = np.full(len(keys), n_days, dtype=np.int64)  # n_days = no contact yet
    for index, resource in enumerate(service.resources):
        at = {name: column[items["resource"] == index] for name, column in items.items()}
        if done is None:
            measures, waited = _modelled(at, capacity[resource], n_days, first_day)
        else:
            mine = {name: column[done["resource"] == index] for name, column in done.items()}
            measures, waited = _recorded(at, mine, n_days, first_day)
        waits.append(pd.DataFrame(waited).assign(resource=index))
        measures.insert(0, "resource", resource)
        measures.insert(0, "date", days)
        measures.insert(3, "capacity_minutes", capacity[resource])
        measures["is_working_day"] = calendar["is_working_day"].to_numpy()
        measures["bank_holiday"] = calendar["bank_holiday"].to_numpy()
        frames.append(measures)

    table = pd.concat(frames, ignore_index=True)
    table["activity_exceeds_capacity"] = (
        table["activity_minutes"] > table["capacity_minutes"] + _EPS
    ) & (done is not None)
    # Rows by day, then resources in the order service.yaml lists them.
    order = np.lexsort(
        (np.repeat(np.arange(len(frames)), n_days), np.tile(np.arange(n_days), len(frames)))
    )
    table = table.iloc[order][
        MEASURE_COLUMNS
        + [
            "activity_planned_minutes",
            "is_working_day",
            "bank_holiday",
            "activity_exceeds_capacity",
        ]
    ]
    contacts = _first_contacts(service, cases, keys, first_day, start, calendar)
    waited = pd.concat(waits, ignore_index=True)
    type_index = pd.Index(list(service.case_types))
    case_types = type_index.get_indexer(cases["case_type"].to_numpy(dtype=object))
    waiting = WaitingList.build(
        service,
        days,
        waited["resource"].to_numpy(dtype=np.int64),
        case_types[waited["case"].to_numpy(dtype=np.int64)],
        *(waited[name].to_numpy(dtype=np.int64) for name in ("case", "due_day", "begin", "end")),
    )
    casework = CaseWork.build(service, days, cases, waited)
    return DailyMeasures(
        table.reset_index(drop=True),
        contacts,
        done is not None,
        service.first_contact_target_working_days,
        service.name,
        waiting,
        casework,
    )


def _cases(data: ServiceTables, start: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    """Referrals then waiting cases, each in ``case_key`` order, numbered 0..n-1.

    Numbering in key order makes ties (same priority, due day and case date) break the same
    way whatever order the store returned the rows in.
    """
    referrals = data.referrals
    if not referrals["case_key"].is_monotonic_increasing:
        referrals = referrals.sort_values("case_key", kind="stable")
    waiting = data.waiting.sort_values("case_key", kind="stable")
    keys = np.concatenate(
        [referrals["case_key"].to_numpy(dtype=object), waiting["case_key"].to_numpy(dtype=object)]
    )
    cases = pd.DataFrame(
        {
            "case": np.arange(len(keys)),
            "case_date": np.concatenate(
                [
                    referrals["referral_date"].to_numpy("datetime64[ns]"),
                    waiting["waiting_since"].to_numpy("datetime64[ns]"),
                ]
            ),
            "case_type": np.concatenate(
                [
                    referrals["case_type"].to_numpy(dtype=object),
                    waiting["case_type"].to_numpy(dtype=object),
                ]
            ),
            "referred": np.arange(len(keys)) < len(referrals),
        }
    )
    return cases, keys


def _day_numbers(dates, start: pd.Timestamp) -> np.ndarray:
    return (
        (np.asarray(dates, dtype="datetime64[ns]") - np.datetime64(start, "ns"))
        // np.timedelta64(1, "D")
    ).astype(np.int64)


def _items(service: Service, cases: pd.DataFrame, start: pd.Timestamp, n_days: int) -> dict:
    """Due work as arrays: case, case_day, day (due; negative = before the period), minutes,
    priority, resource (index into ``service.resources``) and step (its place in the case
    type's list, from 1); work due after the period is left out."""
    case_row, steps = step_positions(service, cases["case_type"])
    case_day = _day_numbers(cases["case_date"], start)[case_row]
    day = case_day + steps["offset_days"]
    keep = day < n_days
    return {
        "case": case_row[keep],
        "case_day": case_day[keep],
        "day": day[keep],
        "minutes": steps["minutes"][keep],
        "priority": steps["priority"][keep],
        "resource": steps["resource_index"][keep],
        "step": steps["step"][keep],
    }


def _sessions(
    service: Service, sessions: pd.DataFrame, keys: np.ndarray, start: pd.Timestamp, n_days: int
) -> dict:
    """Recorded sessions as arrays: case, day, minutes, resource; after the period left out."""
    case = pd.Index(keys).get_indexer(sessions["case_key"].to_numpy(dtype=object))
    day = _day_numbers(sessions["date"], start)
    resource = sessions["resource"].map({name: i for i, name in enumerate(service.resources)})
    keep = (case >= 0) & (day < n_days) & resource.notna().to_numpy()
    return {
        "case": case[keep],
        "day": day[keep],
        "minutes": sessions["minutes"].to_numpy(float)[keep],
        "resource": resource.to_numpy(float)[keep].astype(np.int64),
    }


def _modelled(
    items: dict, capacity: np.ndarray, n_days: int, first_day: np.ndarray
) -> tuple[pd.DataFrame, dict]:
    """Activity as capacity allows: priority first, oldest due first within a priority.

    Updates ``first_day`` (per case, the first day any of its work was done) in place.
    Returns the day's measures and each piece of work's time waiting (``case``, ``step``,
    ``due_day``, ``begin``, ``end``: waiting at the end of days ``begin`` to ``end - 1``, done
    on day ``end``; ``n_days`` if not done by the last day).
    """
    order = np.lexsort((items["case"], items["case_day"], items["day"], items["priority"]))
    case = items["case"][order]
    due_day = items["day"][order]
    minutes = items["minutes"][order]
    arrival = np.maximum(due_day, 0)  # work due before the period waits from day 0
    priorities, level = np.unique(items["priority"][order], return_inverse=True)

    # Minutes arriving per priority and day; day 0 also holds the opening backlog.
    arriving = np.zeros((len(priorities), n_days))
    np.add.at(arriving, (level, arrival), minutes)
    served = np.zeros_like(arriving)
    waiting = np.zeros(len(priorities))
    for day in range(n_days):
        left = capacity[day]
        for p in range(len(priorities)):
            queue = waiting[p] + arriving[p, day]
            done = min(queue, left)
            served[p, day] = done
            waiting[p] = queue - done
            left -= done
    cumulative_served = np.cumsum(served, axis=1)

    # FIFO within a priority: each item's place in the cumulative minutes of its priority.
    start_day = np.empty(len(case), dtype=np.int64)
    end_day = np.empty(len(case), dtype=np.int64)
    for p in range(len(priorities)):
        mask = level == p
        cum_end = np.cumsum(minutes[mask])
        cum_start = cum_end - minutes[mask]
        start_day[mask] = np.searchsorted(cumulative_served[p], cum_start + _EPS, side="right")
        end_day[mask] = np.searchsorted(cumulative_served[p], cum_end - _EPS, side="left")
    np.minimum.at(first_day, case, start_day)

    before = due_day < 0
    opening = minutes[before].sum()
    demand = np.bincount(arrival[~before], weights=minutes[~before], minlength=n_days)
    activity = served.sum(axis=0)
    backlog = opening + np.cumsum(demand) - np.cumsum(activity)
    backlog[np.abs(backlog) < _EPS] = 0.0
    return pd.DataFrame(
        {
            "demand_minutes": demand,
            "activity_minutes": activity,
            "activity_planned_minutes": activity,
            "opening_backlog_minutes": np.concatenate([[opening], backlog[:-1]]),
            "backlog_minutes": backlog,
            "demand_cases": _distinct_per_day(case[~before], arrival[~before], n_days),
            # Worked on from its first to its last day of service, on the days its priority got any.
            "activity_cases": _cases_served(case, level, start_day, end_day, served, n_days),
            # Outstanding from the day it falls due until the day it is finished.
            "backlog_cases": _cases_covering(case, arrival, end_day, n_days),
        }
    ), {
        "case": case,
        "step": items["step"][order],
        "due_day": due_day,
        "begin": arrival,
        "end": np.minimum(end_day, n_days),
    }


def _recorded(
    items: dict, sessions: dict, n_days: int, first_day: np.ndarray
) -> tuple[pd.DataFrame, dict]:
    """Activity from recorded sessions (and, as :func:`_modelled`, each piece's wait).

    Each session at a resource completes its case's oldest piece of work due there (a
    session before the work falls due completes it on its due day). The backlog is the work
    due and not yet completed, in the minutes the case type plans for it: "cases waiting ×
    minutes each needs". ``activity_minutes`` is what the sessions recorded;
    ``activity_planned_minutes`` is the planned minutes of the work they completed, so that
    backlog = opening + demand − activity_planned_minutes exactly. The two activities differ
    by how much longer or shorter the sessions were than planned. Updates ``first_day``.
    """
    due_day, minutes, case, step = items["day"], items["minutes"], items["case"], items["step"]
    worked = sessions["day"] >= 0
    activity = np.bincount(
        sessions["day"][worked], weights=sessions["minutes"][worked], minlength=n_days
    )
    np.minimum.at(first_day, sessions["case"], np.maximum(sessions["day"], 0))

    # The k-th session of a case at this resource completes its k-th piece of due work.
    done_on = pd.Series(
        sessions["day"],
        index=pd.MultiIndex.from_arrays(
            [sessions["case"], _rank_within(sessions["case"], sessions["day"])]
        ),
    )
    completed = done_on.reindex(
        pd.MultiIndex.from_arrays([case, _rank_within(case, due_day)])
    ).to_numpy(dtype=float)
    # Work both due and completed before the first day is history, not backlog.
    keep = ~((due_day < 0) & (completed < 0))
    due_day, minutes, case, completed = due_day[keep], minutes[keep], case[keep], completed[keep]
    step = step[keep]
    arrival = np.maximum(due_day, 0)
    finish = np.where(np.isnan(completed), n_days, np.maximum(completed, arrival)).astype(np.int64)

    now = due_day >= 0
    demand = np.bincount(due_day[now], weights=minutes[now], minlength=n_days)
    opening = float(minutes[~now].sum())
    ended = finish < n_days
    planned = np.bincount(finish[ended], weights=minutes[ended], minlength=n_days)
    backlog = opening + np.cumsum(demand) - np.cumsum(planned)
    backlog[np.abs(backlog) < _EPS] = 0.0
    return pd.DataFrame(
        {
            "demand_minutes": demand,
            "activity_minutes": activity,
            "activity_planned_minutes": planned,
            "opening_backlog_minutes": np.concatenate([[opening], backlog[:-1]]),
            "backlog_minutes": backlog,
            "demand_cases": _distinct_per_day(case[now], due_day[now], n_days),
            "activity_cases": _distinct_per_day(
                sessions["case"][worked], sessions["day"][worked], n_days
            ),
            "backlog_cases": _cases_covering(case, arrival, finish, n_days),
        }
    ), {"case": case, "step": step, "due_day": due_day, "begin": arrival, "end": finish}


def _rank_within(case: np.ndarray, day: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... for each case's entries in day order (ties in the order given)."""
    order = np.lexsort((np.arange(len(case)), day, case))
    ranks = np.empty(len(case), dtype=np.int64)
    sorted_case = case[order]
    starts = np.r_[True, sorted_case[1:] != sorted_case[:-1]] if len(case) else np.array([], bool)
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(case)), 0))
    ranks[order] = np.arange(len(case)) - group_start
    return ranks


def _cases_served(case, level, start_day, end_day, served, n_days) -> np.ndarray:
    """Distinct cases given any minutes each day, shape (n_days,).

    Within a priority, work is first in first out, so an item is served on every day from its
    first to its last day of service on which its priority was given any minutes at all.
    A case type has one priority, so the counts of the priorities add up.
    """
    counts = np.zeros(n_days, dtype=np.int64)
    for p in range(served.shape[0]):
        mask = (level == p) & (start_day < n_days)
        covering = _cases_covering(
            case[mask], start_day[mask], np.minimum(end_day[mask], n_days - 1) + 1, n_days
        )
        counts += np.where(served[p] > _EPS, covering, 0)
    return counts


def _distinct_per_day(case: np.ndarray, day: np.ndarray, n_days: int) -> np.ndarray:
    """Number of distinct cases on each day, shape (n_days,)."""
    pairs = np.sort(case.astype(np.int64) * (n_days + 1) + day)
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs
    return np.bincount(pairs % (n_days + 1), minlength=n_days)[:n_days].astype(np.int64)


def _cases_covering(
    case: np.ndarray, begin: np.ndarray, end: np.ndarray, n_days: int
) -> np.ndarray:
    """Count distinct cases whose intervals [begin, end) cover each day, shape (n_days,).

    Intervals of the same case are merged first, so a case with two outstanding items counts once.
    """
    keep = end > begin
    case, begin, end = case[keep], begin[keep], end[keep]
    if len(case) == 0:
        return np.zeros(n_days, dtype=np.int64)
    order = np.lexsort((begin, case))
    case, begin, end = case[order], begin[order], end[order]
    reach = pd.Series(end).groupby(case, sort=False).cummax().to_numpy()
    new_case = np.r_[True, case[1:] != case[:-1]]
    new_run = new_case | (begin > np.r_[0, reach[:-1]])
    run_begin = begin[new_run]
    run_end = np.maximum.reduceat(reach, np.flatnonzero(new_run))
    change = np.zeros(n_days + 1, dtype=np.int64)
    np.add.at(change, run_begin, 1)
    np.add.at(change, np.minimum(run_end, n_days), -1)
    return np.cumsum(change)[:n_days]


_CONTACT_STATUS = np.array(["met", "missed", "pending"], dtype=object)


def _first_contacts(service, cases, keys, first_day, start, calendar) -> pd.DataFrame:
    """Whether each referral's first session came within the target in working days."""
    working = calendar["is_working_day"].to_numpy()
    # worked[d] = working days in days 1..d of the period; the elapsed count excludes the
    # referral day itself, so a Monday referral contacted on Wednesday took 2 working days.
    worked = np.concatenate([[0], np.cumsum(working[1:])])
    n_days = len(calendar)
    referred = cases["referred"].to_numpy()
    referral_day = _day_numbers(cases["case_date"], start)[referred]
    contact_day = first_day[referred]
    contacted = contact_day < n_days
    target = service.first_contact_target_working_days
    elapsed = np.where(
        contacted, worked[np.minimum(contact_day, n_days - 1)] - worked[referral_day], np.nan
    )
    elapsed_so_far = worked[n_days - 1] - worked[referral_day]
    # Labels taken by code from one object array: numpy's own text array of a million
    # "met"/"missed" costs a third of a second to turn into pandas' column of str.
    status = _CONTACT_STATUS[
        np.where(
            contacted,
            np.where(elapsed <= target, 0, 1),
            np.where(past_contact_target(elapsed_so_far, target), 1, 2),
        )
    ]
    contact_date = np.datetime64(start, "ns") + contact_day.astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "case_key": keys[referred],
            "case_type": cases["case_type"].to_numpy()[referred],
            "referral_date": cases["case_date"].to_numpy()[referred],
            "first_contact_date": np.where(contacted, contact_date, np.datetime64("NaT")),
            "working_days_to_contact": elapsed,
            "status": status,
        }
    )
