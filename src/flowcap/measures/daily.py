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

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from flowcap.measures.work import due_work
from flowcap.model import Service, working_calendar
from flowcap.store import StoredData

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
_EPS = 1e-6


@dataclass
class DailyMeasures:
    """The result of :func:`daily_measures`.

    Attributes
    ----------
    table : DataFrame
        One row per resource and day: :data:`MEASURE_COLUMNS` plus ``is_working_day``,
        ``bank_holiday`` and ``activity_exceeds_capacity`` (recorded work above the capacity
        the roster gives: the roster or the data is wrong).
    first_contacts : DataFrame
        One row per referral: ``case_key``, ``case_type``, ``referral_date``,
        ``first_contact_date`` (NaT if none yet), ``working_days_to_contact`` and ``status``
        (``met``, ``missed`` or ``pending``: not contacted yet, deadline not yet passed).
    recorded : bool
        True when activity comes from recorded sessions, False when it is modelled.
    """

    table: pd.DataFrame
    first_contacts: pd.DataFrame
    recorded: bool
    target_working_days: int

    def first_contact_share(self) -> float:
        """Share of referrals (with a decided outcome) first contacted within the target."""
        decided = self.first_contacts["status"] != "pending"
        if not decided.any():
            return float("nan")
        return float((self.first_contacts.loc[decided, "status"] == "met").mean())

    def between(self, start: date | None, end: date | None) -> pd.DataFrame:
        """The table's rows from ``start`` to ``end`` inclusive (either may be ``None``)."""
        table = self.table
        if start is not None:
            table = table[table["date"] >= pd.Timestamp(start)]
        if end is not None:
            table = table[table["date"] <= pd.Timestamp(end)]
        return table.reset_index(drop=True)


def measure_period(data: StoredData, until: date | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day measured: first referral to the last date in any table (or ``until``)."""
    start = data.referrals["referral_date"].min()
    ends = [data.referrals["referral_date"].max()]
    if data.sessions is not None and len(data.sessions):
        ends.append(data.sessions["date"].max())
    if len(data.roster):
        ends.append(data.roster["date"].max())
    if until is not None:
        ends.append(pd.Timestamp(until))
    return start, max(ends)


def daily_measures(service: Service, data: StoredData, until: date | None = None) -> DailyMeasures:
    """Compute the daily measures for every resource of ``service``.

    Parameters
    ----------
    service : the service definition.
    data : the stored tables (pseudonymised); see :class:`flowcap.store.StoredData`.
    until : measure up to this day even if the data stop earlier (days after the last data
        show the backlog being worked off under the default capacity).
    """
    if data.referrals.empty:
        raise ValueError("no referrals stored: import a referrals file first")
    start, end = measure_period(data, until)
    days = pd.date_range(start, end, freq="D")
    n_days = len(days)
    calendar = working_calendar(service, start.date(), end.date())
    capacity = _capacity(service, data.roster, calendar)
    items = due_work(service, data.referrals, data.waiting)
    items = items[items["due_date"] <= end]
    items["day"] = (items["due_date"] - start).dt.days.to_numpy()

    frames = []
    first_service_days = []
    for resource in service.resources:
        at = items[items["resource"] == resource]
        if data.sessions is None:
            measures, first = _modelled(at, capacity[resource], n_days)
        else:
            done = data.sessions[data.sessions["resource"] == resource]
            measures, first = _recorded(at, done, start, n_days)
        measures["capacity_minutes"] = capacity[resource]
        measures["date"] = days
        measures["resource"] = resource
        measures["is_working_day"] = calendar["is_working_day"].to_numpy()
        measures["bank_holiday"] = calendar["bank_holiday"].to_numpy()
        frames.append(measures)
        first_service_days.append(first)

    table = pd.concat(frames, ignore_index=True)
    table["activity_exceeds_capacity"] = (
        table["activity_minutes"] > table["capacity_minutes"] + _EPS
    ) & (data.sessions is not None)
    order = {name: i for i, name in enumerate(service.resources)}
    table = table.sort_values(["date", "resource"], key=lambda s: s.map(order) if s.name == "resource" else s)
    columns = MEASURE_COLUMNS + ["is_working_day", "bank_holiday", "activity_exceeds_capacity"]
    table = table[columns].reset_index(drop=True)
    first = pd.concat(first_service_days).groupby(level=0).min() if first_service_days else None
    contacts = _first_contacts(service, data.referrals, first, start, calendar)
    return DailyMeasures(table, contacts, data.sessions is not None,
                         service.first_contact_target_working_days)


def _capacity(service: Service, roster: pd.DataFrame, calendar: pd.DataFrame) -> dict[str, np.ndarray]:
    """Minutes of capacity per day for each resource, shape (n_days,)."""
    start = calendar["date"].iat[0]
    n_days = len(calendar)
    working = calendar["is_working_day"].to_numpy()
    out = {}
    for name, resource in service.resources.items():
        minutes = np.where(working, resource.capacity_minutes_per_day, 0.0).astype(float)
        rows = roster[roster["resource"] == name]
        if len(rows):
            day = (rows["date"] - start).dt.days.to_numpy()
            inside = (day >= 0) & (day < n_days)
            each = rows["minutes_per_staff"].fillna(resource.minutes_per_day).to_numpy(float)
            minutes[day[inside]] = rows["staff"].to_numpy(float)[inside] * each[inside]
        out[name] = minutes
    return out


def _modelled(items: pd.DataFrame, capacity: np.ndarray, n_days: int):
    """Activity as capacity allows: priority first, oldest due first within a priority."""
    items = items.assign(arrival=np.maximum(items["day"].to_numpy(), 0))
    items = items.sort_values(["priority", "due_date", "case_date", "case_key"], kind="stable")
    priorities = np.sort(items["priority"].unique())
    arrival = items["arrival"].to_numpy()
    minutes = items["minutes"].to_numpy(float)
    level = np.searchsorted(priorities, items["priority"].to_numpy())

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
    start_day = np.empty(len(items), dtype=np.int64)
    end_day = np.empty(len(items), dtype=np.int64)
    for p in range(len(priorities)):
        mask = level == p
        cum_end = np.cumsum(minutes[mask])
        cum_start = cum_end - minutes[mask]
        start_day[mask] = np.searchsorted(cumulative_served[p], cum_start + _EPS, side="right")
        end_day[mask] = np.searchsorted(cumulative_served[p], cum_end - _EPS, side="left")

    due_day = items["day"].to_numpy()
    opening = minutes[due_day < 0].sum()
    demand = np.bincount(arrival[due_day >= 0], weights=minutes[due_day >= 0], minlength=n_days)
    activity = served.sum(axis=0)
    backlog = opening + np.cumsum(demand) - np.cumsum(activity)
    backlog[np.abs(backlog) < _EPS] = 0.0
    keys = items["case_key"].to_numpy()
    measures = pd.DataFrame({
        "demand_minutes": demand,
        "activity_minutes": activity,
        "opening_backlog_minutes": np.concatenate([[opening], backlog[:-1]]),
        "backlog_minutes": backlog,
        "demand_cases": _distinct_per_day(keys[due_day >= 0], arrival[due_day >= 0], n_days),
        # Outstanding from the day it falls due until the day it is finished.
        "backlog_cases": _cases_covering(keys, arrival, end_day, n_days),
        # Worked on from its first to its last day of service, on the days its priority got any.
        "activity_cases": _cases_served(keys, level, start_day, end_day, served, n_days),
    })
    first = pd.Series(start_day, index=keys).groupby(level=0).min()
    return measures, first[first < n_days]


def _recorded(items: pd.DataFrame, sessions: pd.DataFrame, start: pd.Timestamp, n_days: int):
    """Activity from recorded sessions; each session pays off its own case's due work.

    A case's outstanding work at a resource is ``max(0, minutes due so far − minutes done so
    far)``: work done early or beyond the case type's plan is credited to that case, never to
    another case's backlog.
    """
    due_day = items["day"].to_numpy()
    sessions = sessions.assign(day=(sessions["date"] - start).dt.days.to_numpy())
    sessions = sessions[sessions["day"] < n_days]
    demand = np.bincount(due_day[due_day >= 0], weights=items["minutes"].to_numpy()[due_day >= 0],
                         minlength=n_days)
    worked = sessions[sessions["day"] >= 0]
    activity = np.bincount(worked["day"], weights=worked["minutes"], minlength=n_days)

    # Case-level ledger; day -1 gathers everything before the first day (the opening backlog).
    ledger = pd.concat([
        pd.DataFrame({"case_key": items["case_key"].to_numpy(), "day": np.maximum(due_day, -1),
                      "due": items["minutes"].to_numpy(float), "done": 0.0}),
        pd.DataFrame({"case_key": sessions["case_key"].to_numpy(),
                      "day": np.maximum(sessions["day"].to_numpy(), -1),
                      "due": 0.0, "done": sessions["minutes"].to_numpy(float)}),
    ])
    ledger = ledger.groupby(["case_key", "day"], sort=True, as_index=False)[["due", "done"]].sum()
    by_case = ledger.groupby("case_key", sort=False)
    outstanding = np.maximum(by_case["due"].cumsum() - by_case["done"].cumsum(), 0.0).to_numpy(copy=True)
    outstanding[outstanding < _EPS] = 0.0
    ledger["outstanding"] = outstanding
    ledger["waiting"] = (outstanding > 0).astype(float)
    previous = ledger.groupby("case_key", sort=False)[["outstanding", "waiting"]].shift(fill_value=0.0)
    slot = ledger["day"].to_numpy() + 1  # shift so day -1 is slot 0
    delta_minutes = np.bincount(slot, weights=ledger["outstanding"] - previous["outstanding"],
                                minlength=n_days + 1)
    delta_cases = np.bincount(slot, weights=ledger["waiting"] - previous["waiting"],
                              minlength=n_days + 1)
    backlog_all = np.cumsum(delta_minutes)
    backlog_all[np.abs(backlog_all) < _EPS] = 0.0
    cases_all = np.rint(np.cumsum(delta_cases)).astype(np.int64)
    measures = pd.DataFrame({
        "demand_minutes": demand,
        "activity_minutes": activity,
        "opening_backlog_minutes": backlog_all[:-1],
        "backlog_minutes": backlog_all[1:],
        "demand_cases": _distinct_per_day(items["case_key"].to_numpy()[due_day >= 0],
                                          due_day[due_day >= 0], n_days),
        "backlog_cases": cases_all[1:],
        "activity_cases": _distinct_per_day(worked["case_key"].to_numpy(), worked["day"].to_numpy(),
                                            n_days),
    })
    first = sessions.groupby("case_key")["day"].min()
    return measures, first


def _cases_served(keys, level, start_day, end_day, served, n_days) -> np.ndarray:
    """Distinct cases given any minutes each day, shape (n_days,).

    Within a priority, work is first in first out, so an item is served on every day from its
    first to its last day of service on which its priority was given any minutes at all.
    A case type has one priority, so the counts of the priorities add up.
    """
    counts = np.zeros(n_days, dtype=np.int64)
    for p in range(served.shape[0]):
        mask = (level == p) & (start_day < n_days)
        covering = _cases_covering(
            keys[mask], start_day[mask], np.minimum(end_day[mask], n_days - 1) + 1, n_days
        )
        counts += np.where(served[p] > _EPS, covering, 0)
    return counts


def _distinct_per_day(keys: np.ndarray, day: np.ndarray, n_days: int) -> np.ndarray:
    """Number of distinct keys on each day, shape (n_days,)."""
    if len(keys) == 0:
        return np.zeros(n_days, dtype=np.int64)
    pairs = pd.DataFrame({"k": keys, "d": day}).drop_duplicates()
    return np.bincount(pairs["d"].to_numpy(), minlength=n_days).astype(np.int64)


def _cases_covering(keys: np.ndarray, begin: np.ndarray, end: np.ndarray, n_days: int) -> np.ndarray:
    """Count distinct keys whose intervals [begin, end) cover each day, shape (n_days,).

    Intervals of the same key are merged first, so a case with two outstanding items counts once.
    """
    if len(keys) == 0:
        return np.zeros(n_days, dtype=np.int64)
    frame = pd.DataFrame({"k": keys, "b": begin, "e": end})
    frame = frame[frame["e"] > frame["b"]].sort_values(["k", "b"], kind="stable")
    reach = frame.groupby("k", sort=False)["e"].cummax()
    previous_reach = reach.groupby(frame["k"], sort=False).shift()
    new_run = previous_reach.isna() | (frame["b"] > previous_reach)
    run = new_run.cumsum()
    runs = pd.DataFrame({"b": frame["b"], "e": reach, "run": run}).groupby("run").agg(
        b=("b", "min"), e=("e", "max")
    )
    change = np.zeros(n_days + 1, dtype=np.int64)
    np.add.at(change, runs["b"].to_numpy(), 1)
    np.add.at(change, np.minimum(runs["e"].to_numpy(), n_days), -1)
    return np.cumsum(change)[:n_days]


def _first_contacts(service, referrals, first_day, start, calendar) -> pd.DataFrame:
    """Whether each referral's first session came within the target in working days."""
    working = calendar["is_working_day"].to_numpy()
    # worked[d] = working days in days 1..d of the period; the elapsed count excludes the
    # referral day itself, so a Monday referral contacted on Wednesday took 2 working days.
    worked = np.concatenate([[0], np.cumsum(working[1:])])
    n_days = len(calendar)
    referral_day = (referrals["referral_date"] - start).dt.days.to_numpy()
    contact_day = (
        referrals["case_key"].map(first_day).to_numpy(dtype=float)
        if first_day is not None else np.full(len(referrals), np.nan)
    )
    contacted = ~np.isnan(contact_day)
    target = service.first_contact_target_working_days
    elapsed = np.full(len(referrals), np.nan)
    safe_contact = np.clip(np.nan_to_num(contact_day, nan=0), 0, n_days - 1).astype(int)
    elapsed[contacted] = worked[safe_contact[contacted]] - worked[referral_day[contacted]]
    elapsed_so_far = worked[n_days - 1] - worked[referral_day]
    status = np.where(
        contacted,
        np.where(elapsed <= target, "met", "missed"),
        np.where(elapsed_so_far > target, "missed", "pending"),
    )
    contact_date = pd.to_datetime(start) + pd.to_timedelta(contact_day, unit="D")
    return pd.DataFrame({
        "case_key": referrals["case_key"].to_numpy(),
        "case_type": referrals["case_type"].to_numpy(),
        "referral_date": referrals["referral_date"].to_numpy(),
        "first_contact_date": contact_date,
        "working_days_to_contact": elapsed,
        "status": status,
    })
