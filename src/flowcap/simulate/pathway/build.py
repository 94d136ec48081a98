"""From a service folder to a :class:`PathwaySpec`: the pathway, its rota and its arrivals.

- **Steps, routing, service times** come from ``pathway:`` in service.yaml; without one,
  from the case types' steps (:func:`case_type_pathway`), the same description of the work
  the daily model simulates, so the two cannot disagree about what a case needs.
- **People on duty**: on each working day (the service's week, less bank holidays unless it
  works them) ``staff`` people are on duty for ``minutes_per_day`` from ``day_starts``; a
  roster.csv row for that date and resource replaces both (rostered absence). Shifts may run
  past midnight; ``minutes_per_day: 1440`` on all seven days is around the clock.
- **Arrivals**: ``pathway.arrivals`` when given (case types it leaves out do not arrive);
  otherwise each case type's referrals per weekday over the last ``history_weeks`` weeks of
  the referrals history, spread over the day as the event log's cases arrived by weekday and
  hour when the folder has an ``event_log:``, else evenly (referrals carry a date, not a time);
  otherwise, with no history, the case type's ``demand.per_day``.
- **Patience**: a case type's ``patience_days``, in minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from flowcap.errors import FlowcapError
from flowcap.model.calendar import working_calendar
from flowcap.model.distribution import Distribution
from flowcap.model.service import Service
from flowcap.simulate.pathway.spec import HOURS_PER_WEEK, NO_RESOURCE, Duration, PathwaySpec

MINUTES_PER_DAY = 1440.0
#: Weeks of referrals history the arrival rates are averaged over.
HISTORY_WEEKS = 52
#: The most steps a pathway built from the case types may have (the routing is dense: case
#: types × steps × steps); beyond it, give a ``pathway:`` section.
MAX_CASE_TYPE_STEPS = 400


@dataclass(frozen=True)
class CaseTypePathway:
    """The pathway the case types' steps describe (:func:`case_type_pathway`).

    ``steps`` in order; ``step_resource[s]`` a resource name, or None for a delay;
    ``service[s][t]`` the step's time for case type ``t`` (minutes; None where the type never
    reaches the step); ``routing`` (T, S, S), each type's one path through its steps, with
    probability 1; ``entry[t]`` the step where type ``t`` arrives.
    """

    steps: tuple[str, ...]
    step_resource: tuple[str | None, ...]
    service: tuple[tuple[Duration | None, ...], ...]
    routing: np.ndarray
    entry: tuple[int, ...]
    #: Days from referral to the last step's due day, for the longest case type.
    longest_days: int = 0


def case_type_pathway(service: Service) -> CaseTypePathway:
    """The case-level pathway of ``service``'s case types: each case's steps one after another.

    A case type's steps (repeats written out: ``after_days + k * every_days``) in the order
    they fall due (the order listed on a tie) are visits to their resource, each taking
    exactly its ``minutes`` (a fixed time, as the daily model plans it). Between two visits
    due ``d`` days apart the case **waits ``d`` days** at a delay step, which occupies nobody;
    so does the first visit when its ``after_days`` is above 0 (counted from the referral).
    The delay runs from the end of the previous visit: a case whose triage came on time
    reaches its next step on the day the daily model makes it due (at the same time of day),
    one whose triage was late reaches it late by as much, where the daily model makes it due
    anyway (a sequential case cannot be in two queues at once).

    Case types share a step where they visit the same resource on the same day after the
    referral (``idva day 1``); the step's minutes and routing are per case type, and the
    queue is the resource's anyway, so sharing changes only how the results are grouped. A
    delay step (``wait: idva day 7``) is shared by the types reaching the step it leads to.
    """
    case_types = list(service.case_types)
    resource_order = {name: k for k, name in enumerate(service.resources)}
    keys: dict[tuple, tuple] = {}  # step name -> sort key
    resources: dict[str, str | None] = {}
    times: dict[tuple[str, int], float] = {}  # (step, type) -> minutes
    paths: list[list[str]] = []
    for t, case_type in enumerate(service.case_types.values()):
        visits = sorted(
            (
                (offset, k, step.resource, step.minutes)
                for k, step in enumerate(case_type.work)
                for offset in step.due_offsets()
            ),
            key=lambda visit: (visit[0], visit[1]),
        )
        path: list[str] = []
        seen: dict[tuple[str, int], int] = {}
        previous = 0
        for offset, _, resource, minutes in visits:
            n = seen.get((resource, offset), 0)
            seen[(resource, offset)] = n + 1
            name = f"{resource} day {offset}" + (f" ({n + 1})" if n else "")
            key = (offset, n, resource_order[resource])
            if offset > previous:
                wait = f"wait: {name}"
                keys[wait], resources[wait] = (*key, 0), None
                times[(wait, t)] = (offset - previous) * MINUTES_PER_DAY
                path.append(wait)
            keys[name], resources[name] = (*key, 1), resource
            times[(name, t)] = float(minutes)
            path.append(name)
            previous = offset
        paths.append(path)
    steps = sorted(keys, key=keys.__getitem__)
    if len(steps) > MAX_CASE_TYPE_STEPS:
        raise FlowcapError(
            f"the case types' steps make a pathway of {len(steps)} steps, more than "
            f"{MAX_CASE_TYPE_STEPS}: give service.yaml a pathway: section (see the README)"
        )
    index = {name: s for s, name in enumerate(steps)}
    routing = np.zeros((len(case_types), len(steps), len(steps)))
    for t, path in enumerate(paths):
        for here, there in zip(path, path[1:], strict=False):
            routing[t, index[here], index[there]] = 1.0
    return CaseTypePathway(
        steps=tuple(steps),
        step_resource=tuple(resources[name] for name in steps),
        service=tuple(
            tuple(
                None if (name, t) not in times else Duration("fixed", times[(name, t)])
                for t in range(len(case_types))
            )
            for name in steps
        ),
        routing=routing,
        entry=tuple(index[path[0]] for path in paths),
        longest_days=max(max(s.due_offsets()) for c in service.case_types.values() for s in c.work),
    )


def duration(dist: Distribution, scale: float = 1.0) -> Duration:
    """A service-folder distribution as the engine's :class:`Duration`, times ``scale``."""
    if dist.values is not None:
        return Duration("empirical", values=np.asarray(dist.values, dtype=float) * scale)
    assert dist.mean is not None
    return Duration(dist.dist, dist.mean * scale, (dist.sd or 0.0) * scale)


def build_pathway_spec(
    service: Service,
    *,
    start: date,
    days: int,
    referrals: pd.DataFrame | None = None,
    roster: pd.DataFrame | None = None,
    history_weeks: int = HISTORY_WEEKS,
    hour_shares: np.ndarray | None = None,
) -> PathwaySpec:
    """The pathway of ``service`` simulated from midnight on ``start`` for ``days`` days.

    ``referrals`` (columns ``referral_date``, ``case_type``) and ``roster`` (``date``,
    ``resource``, ``staff``, ``minutes_per_staff``) are the stored history, or None;
    ``hour_shares`` spreads referrals over the hours of their day (see :func:`arrival_rates`).
    Without a ``pathway:`` section the steps come from the case types
    (:func:`case_type_pathway`).
    """
    pathway = service.pathway
    if days < 1:
        raise FlowcapError("the simulation must cover at least one day")
    resources = list(service.resources)
    case_types = list(service.case_types)
    entry = None
    if pathway is None:
        built = case_type_pathway(service)
        steps = list(built.steps)
        step_resource = [
            NO_RESOURCE if r is None else resources.index(r) for r in built.step_resource
        ]
        # A type that never reaches a step gets any duration there (it is never drawn).
        service_times = tuple(
            tuple(d if d is not None else next(x for x in row if x is not None) for d in row)
            for row in built.service
        )
        routing = built.routing
        entry = np.array(built.entry)
    else:
        steps = list(pathway.steps)
        step_resource = [resources.index(s.resource) for s in pathway.steps.values()]
        service_times = tuple(
            tuple(duration(step.service_for(t)) for t in case_types)
            for step in pathway.steps.values()
        )
        routing = np.zeros((len(case_types), len(steps), len(steps)))
        for k, case_type in enumerate(case_types):
            for i, step in enumerate(pathway.steps.values()):
                for target, probability in step.next_for(case_type).items():
                    routing[k, i, steps.index(target)] = probability
    return PathwaySpec(
        steps=tuple(steps),
        step_resource=np.array(step_resource),
        resources=tuple(resources),
        case_types=tuple(case_types),
        case_priority=np.array([service.case_types[t].priority for t in case_types]),
        arrival_rate_per_hour=arrival_rates(service, referrals, start, history_weeks, hour_shares),
        service=service_times,
        entry_step=entry,
        routing=routing if (routing != routing[:1]).any() else routing[0],
        schedule=tuple(on_duty(service, r, start, days, roster) for r in resources),
        start_hour_of_week=start.weekday() * 24,
        patience=tuple(
            None if c.patience_days is None else duration(c.patience_days, MINUTES_PER_DAY)
            for c in service.case_types.values()
        ),
    )


def arrival_rates(
    service: Service,
    referrals: pd.DataFrame | None,
    start: date,
    history_weeks: int = HISTORY_WEEKS,
    hour_shares: np.ndarray | None = None,
) -> np.ndarray:
    """Arrivals per hour, shape (case types, 168), Monday 00:00 first (see the module doc).

    ``hour_shares`` (7, 24), each row adding up to 1, spreads each weekday's referrals over
    its hours (from an event log's times, :func:`hour_shares_of`); by default evenly."""
    within_day = np.full((7, 24), 1 / 24) if hour_shares is None else np.asarray(hour_shares)
    case_types = list(service.case_types)
    rates = np.zeros((len(case_types), HOURS_PER_WEEK))
    arrivals = service.pathway.arrivals if service.pathway else None
    if arrivals is not None:
        for k, name in enumerate(case_types):
            if name in arrivals:
                rates[k] = arrivals[name].hourly_rates()
        return rates
    if referrals is not None and len(referrals):
        dates = pd.to_datetime(referrals["referral_date"]).dt.normalize()
        last = dates.max()
        first = max(dates.min(), last - pd.Timedelta(weeks=history_weeks) + pd.Timedelta(days=1))
        window = dates >= first
        weekdays_seen = pd.date_range(first, last, freq="D").day_of_week
        n_days = np.bincount(weekdays_seen, minlength=7)
        for k, name in enumerate(case_types):
            mine = dates[window & (referrals["case_type"] == name).to_numpy()]
            per_weekday = np.bincount(mine.dt.day_of_week, minlength=7) / np.maximum(n_days, 1)
            rates[k] = (per_weekday[:, None] * within_day).ravel()
        return rates
    missing = [n for n, c in service.case_types.items() if c.demand is None]
    if missing:
        raise FlowcapError(
            "no referrals history to take arrival rates from: give pathway.arrivals in "
            f"service.yaml, or a demand: model for {', '.join(missing)}"
        )
    for k, case_type in enumerate(service.case_types.values()):
        assert case_type.demand is not None
        rates[k] = case_type.demand.per_day / 24.0
    return rates


def hour_shares_of(arrivals: pd.Series, history_weeks: int = HISTORY_WEEKS) -> np.ndarray:
    """How each weekday's arrivals spread over its hours, shape (7, 24), rows adding up to
    1: the shares of ``arrivals`` (local timestamps of cases' first events) over the last
    ``history_weeks`` weeks, evenly where a weekday has none."""
    times = pd.to_datetime(arrivals)
    times = times[times >= times.max() - pd.Timedelta(weeks=history_weeks)]
    counts = np.zeros((7, 24))
    np.add.at(counts, (times.dt.dayofweek.to_numpy(), times.dt.hour.to_numpy()), 1.0)
    totals = counts.sum(axis=1, keepdims=True)
    return np.where(totals > 0, counts / np.maximum(totals, 1), 1 / 24)


def on_duty(
    service: Service,
    resource: str,
    start: date,
    days: int,
    roster: pd.DataFrame | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """People on duty at ``resource`` as ``(times, servers)``: minute change points from 0.

    Each working day contributes ``staff`` people from ``day_starts`` for ``minutes_per_day``
    (or the roster's numbers for that date); overlapping shifts add up.
    """
    spec = service.resources[resource]
    # One day before the start: a shift that began yesterday evening may still be running.
    calendar = working_calendar(service, start - timedelta(days=1), start + timedelta(days=days))
    staff = np.where(calendar["is_working_day"], spec.staff, 0).astype(np.int64)
    minutes = np.full(len(calendar), spec.minutes_per_day)
    if roster is not None and len(roster):
        mine = roster[roster["resource"] == resource]
        rostered = dict(
            zip(
                pd.to_datetime(mine["date"]),
                zip(mine["staff"], mine["minutes_per_staff"], strict=True),
                strict=True,
            )
        )
        for i, day in enumerate(calendar["date"]):
            if day in rostered:
                people, each = rostered[day]
                # A blank minutes_per_staff means the resource's usual minutes; a part-time
                # head count (2.5) is that many people's minutes shared by whole people (3),
                # as the daily model does.
                each = spec.minutes_per_day if pd.isna(each) else float(each)
                whole = math.ceil(float(people))
                staff[i] = whole
                minutes[i] = each * float(people) / whole if whole else each
    begin = spec.start_time.hour * 60 + spec.start_time.minute
    offsets = (np.arange(len(calendar)) - 1) * MINUTES_PER_DAY + begin
    change = np.concatenate([offsets, offsets + minutes])
    delta = np.concatenate([staff, -staff])
    order = np.argsort(change, kind="stable")
    change, level = change[order], np.cumsum(delta[order])
    # The level after the last change at each distinct time, from minute 0 on.
    keep = np.append(change[1:] != change[:-1], True)
    change, level = change[keep], level[keep]
    before = change <= 0
    initial = level[before][-1] if before.any() else 0
    times = np.concatenate([[0.0], change[~before]])
    servers = np.concatenate([[initial], level[~before]])
    inside = times < days * MINUTES_PER_DAY
    times, servers = times[inside], servers[inside]
    same = np.append(True, servers[1:] != servers[:-1])
    return times[same], servers[same].astype(np.int64)
