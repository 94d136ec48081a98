"""From a service's history to the days ahead: the plain arrays the daily Monte Carlo runs on.

An IDVA team on the last day of December: 1,400 minutes of work still waiting, weekly sessions
already due for the cases it holds, a roster that shows who is on leave in January, and the
referrals a January usually brings. :func:`build_spec` turns the service definition, its stored
data and its daily measures into a :class:`~flowcap.simulate.daily.DailySpec` that starts the
day after the data end.

The rules, in one place:

- **Start.** The day after the last day of the measures. With no history (no measures), the
  ``start`` given (default today), from an empty backlog with no existing cases.
- **Staff.** :meth:`flowcap.model.roster.Roster.staffing_ahead`, the rule ``flowcap risk``
  uses too (through :meth:`~flowcap.model.roster.Roster.capacity_ahead`): on each day ahead a
  roster row for the resource wins (its ``staff`` and ``minutes_per_staff``, the resource's
  ``minutes_per_day`` where blank), as in the measures
  (:meth:`~flowcap.model.roster.Roster.capacity_minutes`); otherwise, on a working day, what
  the same weekday had on average over the last 52 weeks of history (the measures' capacity,
  so planned leave in the roster shows), spread over the resource's usual head count; with no such
  history, ``resource.staff`` × ``resource.minutes_per_day``; nobody on other days. A
  fractional head count ``s`` (the store keeps staff as a float) becomes ``ceil(s)`` people
  giving ``s × minutes / ceil(s)`` minutes each: the same capacity, absence drawn per whole
  person. Each person is absent with the resource's ``absence_rate`` (unplanned absence, on
  top of the leave the roster shows).
- **Demand.** New referrals per case type per calendar day. A demand model given in
  ``demand_overrides`` (or on the case type as ``demand`` in service.yaml,
  :class:`~flowcap.model.service.DemandModel`) wins: ``{"dist": "poisson" | "negative_binomial",
  "per_day": mean referrals a calendar day, "dispersion": negative-binomial size}``, constant
  over the horizon (per *calendar* day, as service.yaml's ``per_day`` is, and drawn every
  day). Otherwise the history's empirical mean, see :func:`fit_daily_demand`: the mean number
  of that type's referrals on the same weekday in the same calendar month, falling back to the
  weekday's mean over all months, then to the overall daily mean, where a cell has fewer than
  :data:`MIN_DAYS_PER_MEAN` days of history; and one negative-binomial size per type, by the
  method of moments around those means.
- **Work per case.** Each case type's steps, repeats expanded (one row per occurrence), at the
  step's resource, ``after_days`` (+ ``k × every_days``) calendar days after the referral, in the
  queue of the case type's priority; each row knows which of the type's steps it is
  (``step_number``) and the step's ``target_working_days`` (NaN without one).
- **Opening backlog.** The measures' end-of-day backlog per resource on the last day, split by
  priority from the work items still outstanding then (recorded sessions: the items no session
  has completed, by the measures' rule that a case's k-th session at a resource completes its
  k-th piece of work due there; modelled activity: the same priority-first Lindley recursion
  the measures run, per priority), scaled to the measures' total. Where the items give no split
  but the measures show a backlog, all of it goes to the resource's most urgent priority.
- **Work already due ahead.** Existing cases (referrals and the waiting list) bring the steps
  they have not yet reached: every item due from the start to the end of the horizon that no
  recorded session has already completed goes into ``due_ahead_minutes`` on its due day.
- **Patience.** A case type's ``patience_days`` (``{dist, mean, sd}`` in days) is how long its
  cases wait for first contact (their first step) before giving up; without one nobody does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta

import numpy as np
import pandas as pd

from flowcap.errors import FlowcapError
from flowcap.measures.daily import DailyMeasures
from flowcap.measures.work import step_positions, step_table
from flowcap.model import CaseType, Service, working_calendar
from flowcap.model.roster import Roster
from flowcap.model.service import DemandModel
from flowcap.model.tables import ServiceTables
from flowcap.simulate.daily import DailySpec

#: Fewest days of history behind a weekday-and-month mean (about one month of that weekday);
#: below it the weekday's mean over all months is used, and below that the overall mean.
MIN_DAYS_PER_MEAN = 4
DEMAND_DISTRIBUTIONS = ("poisson", "negative_binomial")


def build_spec(
    service: Service,
    data: ServiceTables | None,
    measures: DailyMeasures | None,
    *,
    horizon_days: int,
    start: date | None = None,
    demand_overrides: Mapping[str, Mapping] | None = None,
) -> tuple[DailySpec, date]:
    """The daily Monte Carlo model of ``service`` for ``horizon_days`` calendar days ahead.

    Parameters
    ----------
    service : the service definition (resources, case types, calendar).
    data : the stored tables the measures came from, or ``None``. Without measures only its
        roster is used (the staffing planned ahead).
    measures : :func:`flowcap.measures.daily_measures` of ``data`` (the whole period, not cut by
        ``between``), or ``None`` for no history.
    horizon_days : H, calendar days to simulate (>= 1).
    start : first day simulated. With history it must be ``None`` or the day after the data
        (measure ``until=start - 1`` to start later); with none it defaults to today.
    demand_overrides : case type -> ``{"dist", "per_day", "dispersion"}``; wins over history.

    Returns
    -------
    spec : :class:`DailySpec` — resources and case types in service.yaml order, priorities
        ascending; minutes throughout, days are calendar days from ``start``.
    start : the date of the spec's day 0.

    Raises
    ------
    FlowcapError
        With no history, when a case type has no demand model; when ``start`` contradicts the
        data; when an override is malformed.
    """
    if horizon_days < 1:  # the caller checks the user's horizon (flowcap.checks)
        raise ValueError(f"horizon_days must be at least 1, not {horizon_days}")
    last = None
    if measures is not None:
        if data is None:
            raise ValueError("measures need the stored data they were computed from")
        last = measures.table["date"].max().date()
    start = first_day_ahead(measures, start)
    end = start + timedelta(days=horizon_days - 1)
    calendar = working_calendar(service, start, end)
    staff, minutes_per_staff = _staffing(
        service,
        None if data is None else data.roster,
        calendar,
        None if measures is None else measures.table,
    )
    priorities = tuple(sorted({ct.priority for ct in service.case_types.values()}))
    means, dispersion = _demand(
        service,
        data if last is not None else None,
        last,
        pd.DatetimeIndex(calendar["date"]),
        demand_overrides or {},
    )
    opening, due_ahead = None, None
    if last is not None:
        opening, due_ahead = _existing_work(service, data, measures, start, horizon_days)
    spec = DailySpec(
        resources=tuple(service.resources),
        priorities=priorities,
        staff=staff,
        minutes_per_staff=minutes_per_staff,
        absence_rate=np.array([r.absence_rate for r in service.resources.values()]),
        case_types=tuple(service.case_types),
        case_priority=np.array([ct.priority for ct in service.case_types.values()]),
        mean_cases_per_day=means,
        dispersion=dispersion,
        steps=_steps(service),
        step_number=_step_numbers(service),
        step_target_working_days=_step_targets(service),
        opening_backlog_minutes=opening,
        due_ahead_minutes=due_ahead,
        patience_days=tuple(
            None if ct.patience_days is None else ct.patience_days.as_tuple()
            for ct in service.case_types.values()
        ),
    )
    return spec, start


def first_day_ahead(measures: DailyMeasures | None, start: date | None = None) -> date:
    """The first day simulated: the day after the data (``start`` must be that day or
    ``None``), or with no history ``start``, by default today."""
    if measures is None:
        return date.today() if start is None else start
    first = measures.table["date"].max().date() + timedelta(days=1)
    if start is not None and start != first:
        raise FlowcapError(
            f"the data end on {first - timedelta(days=1)}, so the simulation starts on {first}, "
            f"not {start} (measure until the day before to start later)"
        )
    return first


def horizon_to_a_working_day(
    service: Service, first: date, horizon_days: int
) -> tuple[int, str | None]:
    """``horizon_days`` stretched so the last day simulated is a working day of the service,
    and a note saying so (``None`` when no stretch was needed).

    The backlog is judged at the end of the last day: on a Sunday or a bank holiday that is
    the work that has fallen due since the last working day with nobody there to do it, so
    the verdict (and the fewest staff) would swing with the weekday the horizon ends on.
    """
    last = first + timedelta(days=horizon_days - 1)
    ahead = working_calendar(service, last, last + timedelta(days=14))
    working = ahead.loc[ahead["is_working_day"], "date"]
    if working.empty or working.iloc[0].date() == last:
        return horizon_days, None
    end = working.iloc[0].date()
    extra = (end - last).days
    note = (
        f"the horizon's last day, {last:%a %d %b %Y}, is not a working day: simulating "
        f"{extra} more day{'s' if extra > 1 else ''} to the end of {end:%a %d %b %Y}, so the "
        "backlog is judged after a working day"
    )
    return horizon_days + extra, note


# --- staff --------------------------------------------------------------------------------


def _staffing(
    service: Service,
    roster: Roster | None,
    calendar: pd.DataFrame,
    history: pd.DataFrame | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Whole people and minutes each, shape (R_n, H), from :meth:`Roster.staffing_ahead`."""
    roster = roster if roster is not None else Roster.empty()
    staff, minutes = roster.staffing_ahead(service, calendar, history)
    whole = np.ceil(staff - 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        minutes = np.where(whole > staff + 1e-9, staff * minutes / whole, minutes)
    return whole.astype(np.int64), minutes


# --- demand -------------------------------------------------------------------------------


def fit_daily_demand(
    dates: pd.DatetimeIndex,
    counts: np.ndarray,
    future: pd.DatetimeIndex,
    *,
    min_days: int = MIN_DAYS_PER_MEAN,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean referrals per day by weekday and month, and a negative-binomial size per type.

    Parameters
    ----------
    dates : history's calendar days, length n (every day, days without referrals included).
    counts : ndarray, shape (n, T_n) — referrals of each type on each day.
    future : the days to give a mean for, length H.
    min_days : fewest history days behind a mean (see below).

    Returns
    -------
    mean_cases_per_day : ndarray, shape (T_n, H) — for each future day the mean count over the
        history days of the same weekday and calendar month when there are at least
        ``min_days`` of them; else over the days of the same weekday when at least
        ``min_days``; else over all days.
    dispersion : ndarray, shape (T_n,) — method-of-moments size ``r`` of a negative binomial
        around those means (variance ``mu + mu**2 / r``):
        ``1 / r = sum_t [s_t - mu_t] / sum_t mu_t**2`` with ``s_t = (x_t - mu_t)**2 · g/(g - 1)``,
        ``mu_t`` the mean that history day itself gets by the rule above and ``g`` the number
        of days behind that mean (the factor undoes the fit's own shrinkage; days whose mean
        rests on one day are left out). ``np.inf`` (Poisson) when the counts vary no more than
        Poisson counts would. Variation the means do not capture (a trend, bank holidays)
        shows up as extra dispersion.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != len(dates) or len(dates) == 0:
        raise ValueError("counts must have shape (n_days >= 1, T_n) matching dates")
    hist_keys = _group_keys(dates)
    future_keys = _group_keys(future)
    mean_hist, size_hist = _lookup(hist_keys, counts, hist_keys, min_days)
    mean_future, _ = _lookup(hist_keys, counts, future_keys, min_days)
    dispersion = np.full(counts.shape[1], np.inf)
    used = size_hist > 1
    g = size_hist[used, None]
    scaled = (counts[used] - mean_hist[used]) ** 2 * g / (g - 1)
    excess = (scaled - mean_hist[used]).sum(axis=0)
    square = (mean_hist[used] ** 2).sum(axis=0)
    over = (excess > 0) & (square > 0)
    dispersion[over] = square[over] / excess[over]
    return mean_future.T.copy(), dispersion


def _group_keys(days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(days.dayofweek), np.asarray(days.month)


def _lookup(hist_keys, counts, keys, min_days) -> tuple[np.ndarray, np.ndarray]:
    """Means for days with ``keys`` (weekday, month) from the history, and days behind each."""
    weekday, month = hist_keys
    cell = weekday * 12 + (month - 1)
    n_cell = np.bincount(cell, minlength=84)
    n_weekday = np.bincount(weekday, minlength=7)
    sum_cell = np.stack([np.bincount(cell, w, minlength=84) for w in counts.T], axis=1)
    sum_weekday = np.stack([np.bincount(weekday, w, minlength=7) for w in counts.T], axis=1)
    day_weekday, day_month = keys
    day_cell = day_weekday * 12 + (day_month - 1)
    size = np.where(
        n_cell[day_cell] >= min_days,
        n_cell[day_cell],
        np.where(n_weekday[day_weekday] >= min_days, n_weekday[day_weekday], len(weekday)),
    )
    total = np.where(
        (n_cell[day_cell] >= min_days)[:, None],
        sum_cell[day_cell],
        np.where(
            (n_weekday[day_weekday] >= min_days)[:, None],
            sum_weekday[day_weekday],
            counts.sum(axis=0),
        ),
    )
    return total / size[:, None], size


def _demand(service, data, last, future, overrides) -> tuple[np.ndarray, np.ndarray]:
    names = list(service.case_types)
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise FlowcapError(f"demand given for unknown case types: {', '.join(unknown)}")
    n_days = len(future)
    means = np.zeros((len(names), n_days))
    dispersion = np.full(len(names), np.inf)
    declared = {}
    for k, name in enumerate(names):
        model = overrides.get(name, _declared_demand(service.case_types[name]))
        if model is not None:
            declared[k] = _parse_demand(name, model)
    fitted = [k for k in range(len(names)) if k not in declared]
    if fitted:
        if data is None:
            missing = ", ".join(names[k] for k in fitted)
            raise FlowcapError(
                f"no history to fit demand from, and no demand model for: {missing} "
                "(give each case type a demand model, or import referrals)"
            )
        dates, counts = _referral_counts(data.referrals, names, last)
        fit_means, fit_dispersion = fit_daily_demand(dates, counts, future)
        means[fitted] = fit_means[fitted]
        dispersion[fitted] = fit_dispersion[fitted]
    for k, (per_day, size) in declared.items():
        means[k] = per_day
        dispersion[k] = size
    return means, dispersion


def _declared_demand(case_type: CaseType) -> Mapping | None:
    """The case type's ``demand`` model from service.yaml, as :func:`_parse_demand` reads it."""
    model = case_type.demand
    if model is None:
        return None
    if not isinstance(model, DemandModel):
        raise TypeError(f"CaseType.demand must be a DemandModel, not {type(model).__name__}")
    return model.model_dump()


def _parse_demand(name: str, model: Mapping) -> tuple[float, float]:
    dist = model.get("dist", "poisson")
    if dist not in DEMAND_DISTRIBUTIONS:
        raise FlowcapError(f"demand of {name!r}: dist must be one of {DEMAND_DISTRIBUTIONS}")
    per_day = model.get("per_day")
    if per_day is None or not math.isfinite(float(per_day)) or float(per_day) < 0:
        raise FlowcapError(f"demand of {name!r}: per_day must be a number >= 0")
    if dist == "poisson":
        return float(per_day), math.inf
    size = model.get("dispersion")
    if size is None or not float(size) > 0:
        raise FlowcapError(f"demand of {name!r}: a negative binomial needs dispersion > 0")
    return float(per_day), float(size)


def _referral_counts(
    referrals: pd.DataFrame, names: list[str], last: date
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Referrals per calendar day and case type from the first referral to ``last``."""
    first = referrals["referral_date"].min()
    dates = pd.date_range(first, pd.Timestamp(last), freq="D")
    kept = referrals[referrals["referral_date"] <= pd.Timestamp(last)]
    day = ((kept["referral_date"] - first) // pd.Timedelta(days=1)).to_numpy(np.int64)
    k = pd.Categorical(kept["case_type"], categories=names).codes
    counts = np.zeros((len(dates), len(names)))
    np.add.at(counts, (day[k >= 0], k[k >= 0]), 1.0)
    return dates, counts


# --- work per case ------------------------------------------------------------------------


def _steps(service: Service) -> np.ndarray:
    """Rows ``[type, resource, offset_days, minutes]``, one per occurrence of each step."""
    table = step_table(service)
    type_index = {name: k for k, name in enumerate(service.case_types)}
    resource_index = {name: r for r, name in enumerate(service.resources)}
    return np.column_stack(
        [
            table["case_type"].map(type_index).to_numpy(float),
            table["resource"].map(resource_index).to_numpy(float),
            table["offset_days"].to_numpy(float),
            table["minutes"].to_numpy(float),
        ]
    )


def _step_numbers(service: Service) -> np.ndarray:
    """Which of its case type's steps each row of :func:`_steps` is (0 = the first)."""
    return np.array(
        [
            number
            for case_type in service.case_types.values()
            for number, step in enumerate(case_type.work)
            for _ in step.due_offsets()
        ],
        dtype=np.int64,
    )


def _step_targets(service: Service) -> np.ndarray:
    """Each row's step's ``target_working_days`` (NaN: none), in :func:`_steps`' order."""
    return np.array(
        [
            math.nan if step.target_working_days is None else float(step.target_working_days)
            for case_type in service.case_types.values()
            for step in case_type.work
            for _ in step.due_offsets()
        ],
        dtype=np.float64,
    )


# --- existing cases: the opening backlog and work already due ahead -------------------------


def _existing_work(
    service: Service, data: ServiceTables, measures: DailyMeasures, start: date, horizon_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Opening backlog (R_n, P_n) and due-ahead minutes (R_n, P_n, H) from existing cases."""
    names = list(service.resources)
    priorities = np.array(sorted({ct.priority for ct in service.case_types.values()}))
    n_res, n_pri = len(names), len(priorities)
    last = np.datetime64(start, "D") - np.timedelta64(1, "D")
    items = _work_items(service, data, last)
    level = np.searchsorted(priorities, items["priority"])
    recorded = measures.recorded and data.sessions is not None

    if recorded:
        waiting = (items["due"] <= last) & ~items["done"]
        split = np.zeros((n_res, n_pri))
        np.add.at(split, (items["resource"][waiting], level[waiting]), items["minutes"][waiting])
    else:
        split = _modelled_backlog(service, data, items, level, last, n_pri)

    table = measures.table
    final = table[table["date"] == table["date"].max()].set_index("resource")["backlog_minutes"]
    opening = np.zeros((n_res, n_pri))
    steps = step_table(service)
    for r, name in enumerate(names):
        measured = float(final.get(name, 0.0))
        if measured <= 0:
            continue
        if split[r].sum() > 0:
            opening[r] = split[r] * (measured / split[r].sum())
        else:
            used = steps.loc[steps["resource"] == name, "priority"]
            most_urgent = used.min() if len(used) else priorities[0]
            opening[r, np.searchsorted(priorities, most_urgent)] = measured

    day = (items["due"] - np.datetime64(start, "D")).astype(np.int64)
    ahead = (day >= 0) & (day < horizon_days) & ~items["done"]
    due_ahead = np.zeros((n_res, n_pri, horizon_days))
    np.add.at(
        due_ahead,
        (items["resource"][ahead], level[ahead], day[ahead]),
        items["minutes"][ahead],
    )
    return opening, due_ahead


def _work_items(
    service: Service, data: ServiceTables, last: np.datetime64
) -> dict[str, np.ndarray]:
    """Every step occurrence of every existing case, and whether a session has completed it.

    Arrays of shape (n_items,): ``due`` (datetime64[D]), ``resource`` (index), ``priority``,
    ``minutes``, ``done``. A case's k-th recorded session at a resource, up to ``last``,
    completes its k-th piece of work due there (ties in step order), as the measures count it.
    """
    referrals = data.referrals[data.referrals["referral_date"] <= pd.Timestamp(last)]
    cases = pd.concat(
        [
            referrals[["case_key", "referral_date", "case_type"]].rename(
                columns={"referral_date": "case_date"}
            ),
            data.waiting[["case_key", "waiting_since", "case_type"]].rename(
                columns={"waiting_since": "case_date"}
            ),
        ],
        ignore_index=True,
    )
    case_row, steps = step_positions(service, cases["case_type"])
    case_day = cases["case_date"].to_numpy("datetime64[D]")[case_row]
    due = case_day + steps["offset_days"].astype("timedelta64[D]")
    n_res = len(service.resources)
    done = np.zeros(len(case_row), dtype=bool)
    sessions = data.sessions
    if sessions is not None and len(sessions) and len(case_row):
        sessions = sessions[sessions["date"] <= pd.Timestamp(last)]
        case = pd.Index(cases["case_key"]).get_indexer(sessions["case_key"].to_numpy(object))
        resource = (
            sessions["resource"]
            .map({name: r for r, name in enumerate(service.resources)})
            .to_numpy(float)
        )
        known = (case >= 0) & ~np.isnan(resource)
        held = np.bincount(
            case[known] * n_res + resource[known].astype(np.int64),
            minlength=len(cases) * n_res,
        )
        pair = case_row * n_res + steps["resource_index"]
        order = np.lexsort((np.arange(len(pair)), due, pair))
        sorted_pair = pair[order]
        starts = np.r_[True, sorted_pair[1:] != sorted_pair[:-1]]
        group_start = np.maximum.accumulate(np.where(starts, np.arange(len(pair)), 0))
        rank = np.empty(len(pair), dtype=np.int64)
        rank[order] = np.arange(len(pair)) - group_start
        done = rank < held[pair]
    return {
        "due": due,
        "resource": steps["resource_index"],
        "priority": steps["priority"],
        "minutes": steps["minutes"],
        "done": done,
    }


def _modelled_backlog(service, data, items, level, last, n_pri) -> np.ndarray:
    """Backlog per resource and priority at the end of ``last`` with modelled activity.

    The measures' rule: capacity goes to priority 1 first, then 2, ... each day, from the first
    referral to ``last``; work due before the first day waits from the first day.
    """
    first = data.referrals["referral_date"].min()
    first_day = np.datetime64(first.date(), "D")
    n_days = int((last - first_day).astype(np.int64)) + 1
    calendar = working_calendar(service, first.date(), pd.Timestamp(last).date())
    capacity = data.roster.capacity_minutes(service, calendar)
    due_day = (items["due"] - first_day).astype(np.int64)
    inside = due_day < n_days
    out = np.zeros((len(service.resources), n_pri))
    for r, name in enumerate(service.resources):
        mine = inside & (items["resource"] == r)
        arriving = np.zeros((n_pri, n_days))
        np.add.at(arriving, (level[mine], np.maximum(due_day[mine], 0)), items["minutes"][mine])
        waiting = np.zeros(n_pri)
        for day in range(n_days):
            left = capacity[name][day]
            for p in range(n_pri):
                queue = waiting[p] + arriving[p, day]
                done = min(queue, left)
                waiting[p] = queue - done
                left -= done
        out[r] = waiting
    return out
