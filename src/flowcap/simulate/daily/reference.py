"""The daily backlog model for one replication, written as plainly as possible: the definition.

Each day at an IDVA service, in this order:

1. **Referrals.** New cases of each type arrive: Poisson, or negative binomial with size ``r``,
   with the day's mean.
2. **Work falls due.** Each step of a case referred on day ``a`` puts ``minutes`` of work at its
   resource on day ``a + offset_days`` (inside the horizon), in the queue of the case type's
   priority; existing cases' ``due_ahead_minutes`` join first. Within a queue work is kept in
   the order it fell due; on the same day existing work first, then steps in ``steps`` row order.
3. **Giving up.** A case still waiting for its first contact (its first step, no minute of it
   worked) on its ``d``-th day in the queue gives up with probability ``h[d]`` (see
   :meth:`DailySpec.renege_hazard`). Its first-step minutes leave the queue, its later steps
   that have not yet fallen due are cancelled, and it is counted in ``reneged_cases``.
   Work already waiting before day 0 never gives up.
4. **Capacity.** Each rostered person turns up with probability ``1 - absence_rate``:
   capacity = people present × ``minutes_per_staff``.
5. **Work.** Capacity goes to priority 1 first, then 2, …; oldest first within a priority.
   Work done = min(capacity, waiting work), so the backlog follows the Lindley recursion
   ``B_t = max(0, B_{t-1} + D_t - C_t)`` per resource (methods.md §4.1).
6. **Waits.** Minutes done today of work that fell due on day ``a`` (in the horizon) waited
   ``t - a`` days; minutes of a first contact count as cases (minutes / step minutes). At the
   end of the day the longest-waiting case still waiting for first contact is noted (by its
   referral day). Work still waiting after the last day is counted at the age it has reached
   (``H - a``). See :class:`DailyPaths` for what is and is not counted.
7. **Step targets.** An occurrence of a step with a target done on day ``s`` was done within
   it when the resource's working days after the day it fell due, up to and including ``s``,
   are at most the target; one still waiting at the end of a working day is past it once
   they reach the target (:func:`flowcap.targets.past_contact_target`, the one rule). At the
   end, what still waits is counted by case type at its age in working days, and a step's
   occurrences still waiting past the target as such.

Random numbers come from one ``numpy.random.Generator`` per source and index —
``SeedSequence(seed, spawn_key=(source, index))`` with source 0 = arrivals (per case type),
1 = absence (per resource), 2 = patience (per case type) — or from :class:`Draws` given.
"""

from __future__ import annotations

import math

import numpy as np

from flowcap.targets import past_contact_target

from .spec import DailyPaths, DailySpec, Draws

ARRIVALS, ABSENCE, PATIENCE = 0, 1, 2
#: Minutes below which a first contact no longer counts as waiting (rounding after reneging).
WAITING_EPS = 1e-9


def stream(seed: int, source: int, index: int, *chunk: int) -> np.random.Generator:
    """The generator for one source of randomness (``chunk`` is used by the fast path)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(source, index, *chunk)))


def draw_cases(rng: np.random.Generator, mean: float, dispersion: float) -> int:
    """New cases on one day: Poisson(mean), or negative binomial with size ``dispersion``."""
    if mean <= 0:
        return 0
    if math.isinf(dispersion):
        return int(rng.poisson(mean))
    return int(rng.negative_binomial(dispersion, dispersion / (dispersion + mean)))


def run_reference(spec: DailySpec, seed: int, *, draws: Draws | None = None) -> DailyPaths:
    """Simulate one replication day by day; returns :class:`DailyPaths` with ``n_reps = 1``.

    ``draws`` (one replication: arrays of shape (1, T_n, H) and (1, R_n, H)) replaces the
    arrival and absence random numbers, so another engine can be checked against this one exactly.
    """
    n_days, n_res, n_pri, n_types = (
        spec.horizon_days,
        len(spec.resources),
        len(spec.priorities),
        len(spec.case_types),
    )
    arrival_rng = [stream(seed, ARRIVALS, k) for k in range(n_types)]
    absence_rng = [stream(seed, ABSENCE, r) for r in range(n_res)]
    patience_rng = [stream(seed, PATIENCE, k) for k in range(n_types)]
    hazard = [spec.renege_hazard(k) for k in range(n_types)]
    first_row = [spec.first_step(k) if spec.patience_days[k] else None for k in range(n_types)]
    types, res, offsets, minutes = (
        spec.step_type,
        spec.step_resource,
        spec.step_offset_days,
        spec.step_minutes,
    )
    last_offset = [int(offsets[types == k].max(initial=0)) for k in range(n_types)]
    contact_row = first_contact_rows(spec)

    cases = np.zeros((n_types, n_days), dtype=np.int64)  # cases referred, less those who gave up
    # queue[r][p]: list of [due_day, step_row, minutes_waiting]; step_row -1 = existing work
    queue = [[[] for _ in range(n_pri)] for _ in range(n_res)]
    for r in range(n_res):
        for p in range(n_pri):
            if spec.opening_backlog_minutes[r, p] > 0:
                queue[r][p].append([-1, -1, float(spec.opening_backlog_minutes[r, p])])
    shape = (n_res, n_days)
    backlog_by_priority = np.zeros((n_res, n_pri, n_days))
    demand, capacity, activity, reneged = (np.zeros(shape) for _ in range(4))
    served_by_wait = np.zeros((n_res, n_days))
    contacts_by_wait = np.zeros((n_res, n_days))
    oldest_contact = np.full(shape, -1, dtype=np.int64)
    # step targets: each row's target step (-1: none), met / late / still waiting past it
    counted = np.cumsum(spec.minutes_per_staff > 0, axis=1)  # working days in days 0..t
    target_of, targets = spec.step_target_index, spec.step_target_working_days
    target_steps = spec.target_steps
    outcomes = np.zeros((len(target_steps), 3))
    days_over_step = np.zeros(len(target_steps))

    for t in range(n_days):
        # 1. referrals
        for k in range(n_types):
            if draws is not None:
                cases[k, t] = draws.arrivals[0, k, t]
            else:
                mean = spec.mean_cases_per_day[k, t]
                cases[k, t] = draw_cases(arrival_rng[k], mean, spec.dispersion[k])
        # 2. work falls due
        for r in range(n_res):
            for p in range(n_pri):
                due = float(spec.due_ahead_minutes[r, p, t])
                if due > 0:
                    queue[r][p].append([t, -1, due])
                    demand[r, t] += due
        for s in range(len(spec.steps)):
            k, referred = types[s], t - offsets[s]
            if referred >= 0:
                work = cases[k, referred] * minutes[s]
                queue[res[s]][spec.priority_index(k)].append([t, s, work])
                demand[res[s], t] += work
        # 3. giving up
        for r in range(n_res):
            for p in range(n_pri):
                for item in queue[r][p]:
                    due_day, s, waiting = item
                    if s < 0 or first_row[types[s]] != s or minutes[s] <= 0:
                        continue
                    k = types[s]
                    h = hazard[k][t - due_day]
                    if h <= 0:
                        continue
                    unstarted = math.floor(waiting / minutes[s] + 1e-9)
                    gone = unstarted if h >= 1 else int(patience_rng[k].binomial(unstarted, h))
                    item[2] = max(0.0, waiting - gone * minutes[s])
                    reneged[r, t] += gone
                    referred = due_day - offsets[s]
                    if referred + last_offset[k] > t:  # later steps not yet due: cancelled
                        cases[k, referred] -= gone
        # 4. capacity
        for r in range(n_res):
            if draws is not None:
                present = draws.present_staff[0, r, t]
            elif spec.absence_rate[r] > 0:
                present = absence_rng[r].binomial(spec.staff[r, t], 1 - spec.absence_rate[r])
            else:
                present = spec.staff[r, t]
            capacity[r, t] = present * spec.minutes_per_staff[r, t]
        # 5. work: most urgent first, oldest first; 6. waits
        for r in range(n_res):
            left = capacity[r, t]
            for p in range(n_pri):
                for item in queue[r][p]:
                    take = min(left, item[2])
                    item[2] -= take
                    left -= take
                    due_day, s = item[0], item[1]
                    if due_day >= 0:
                        served_by_wait[r, t - due_day] += take
                        if s >= 0 and contact_row[s]:
                            contacts_by_wait[r, t - due_day] += take / minutes[s]
                        if s >= 0 and target_of[s] >= 0 and take > 0:
                            elapsed = counted[r, t] - counted[r, due_day]
                            met = elapsed <= targets[s]  # done on a day not yet past it
                            outcomes[target_of[s], 0 if met else 1] += take / minutes[s]
                queue[r][p] = [item for item in queue[r][p] if item[2] > 0]
                backlog_by_priority[r, p, t] = sum(item[2] for item in queue[r][p])
            activity[r, t] = capacity[r, t] - left
            waiting_since = [
                due_day - offsets[s]
                for p in range(n_pri)
                for due_day, s, waiting in queue[r][p]
                if s >= 0 and contact_row[s] and waiting > WAITING_EPS
            ]
            oldest_contact[r, t] = min(waiting_since, default=-1)
            if spec.minutes_per_staff[r, t] > 0:
                late_steps = {
                    target_of[s]
                    for p in range(n_pri)
                    for due_day, s, waiting in queue[r][p]
                    if s >= 0
                    and due_day >= 0
                    and target_of[s] >= 0
                    and waiting > WAITING_EPS
                    and past_contact_target(counted[r, t] - counted[r, due_day], targets[s])
                }
                for g in late_steps:
                    days_over_step[g] += 1

    # Work still waiting at the end, at the age it has reached (censored waits).
    waiting_by_age = np.zeros((n_res, n_days + 1))
    contacts_waiting_by_age = np.zeros((n_res, n_days + 1))
    by_working_age = np.zeros((n_res, n_types, n_days + 1))
    for r in range(n_res):
        for p in range(n_pri):
            for due_day, s, waiting in queue[r][p]:
                if due_day >= 0:
                    waiting_by_age[r, n_days - due_day] += waiting
                    if s >= 0 and contact_row[s]:
                        contacts_waiting_by_age[r, n_days - due_day] += waiting / minutes[s]
                if due_day < 0 or s < 0 or minutes[s] <= 0:
                    continue  # existing work: no case type
                age = counted[r, n_days - 1] - counted[r, due_day]
                by_working_age[r, types[s], age] += waiting / minutes[s]
                if target_of[s] >= 0 and past_contact_target(age, targets[s]):
                    outcomes[target_of[s], 2] += waiting / minutes[s]

    def one_rep(a):
        return a[:, None, :]

    return DailyPaths(
        backlog_minutes=one_rep(backlog_by_priority.sum(axis=1)),
        backlog_minutes_by_priority=backlog_by_priority[:, :, None, :],
        demand_minutes=one_rep(demand),
        capacity_minutes=one_rep(capacity),
        activity_minutes=one_rep(activity),
        reneged_cases=one_rep(reneged),
        served_minutes_by_wait=served_by_wait[:, None, :],
        first_contacts_by_wait=contacts_by_wait[:, None, :],
        oldest_first_contact_referral=one_rep(oldest_contact),
        waiting_minutes_by_age=one_rep(waiting_by_age),
        first_contacts_waiting_by_age=one_rep(contacts_waiting_by_age),
        contacts_waiting_by_working_age=by_working_age[:, :, None, :],
        step_target_outcomes=outcomes[:, :, None],
        days_over_step_target=days_over_step[:, None],
    )


def first_contact_rows(spec: DailySpec) -> np.ndarray:
    """Whether each row of ``spec.steps`` is a first contact, shape (S,): its case type's first
    step (:meth:`DailySpec.first_step`), with minutes to do."""
    flags = np.zeros(len(spec.steps), dtype=bool)
    for k in range(len(spec.case_types)):
        row = spec.first_step(k)
        if row is not None and spec.step_minutes[row] > 0:
            flags[row] = True
    return flags
