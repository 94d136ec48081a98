"""Contingency options for a stretched service, costed and compared on the same simulated futures.

The IDVA team is falling behind before the summer peak. The manager can book an agency IDVA,
pay overtime, move a caseworker across, or triage harder. :func:`apply_scenario` turns an
option (a list of dated changes, :mod:`flowcap.model.scenario`, read from ``scenarios.yaml``
by :mod:`flowcap.io.scenarios_yaml`) into a changed :class:`~flowcap.simulate.daily.DailySpec` and
what it costs over the baseline; :func:`compare_scenarios` runs the baseline and every option
on the same random numbers and ranks them by cost per day of waiting avoided;
:func:`cheapest_combination` finds the cheapest set of options that meets a risk target.

Cost rules (pounds; all costs are what falls inside the horizon)
----------------------------------------------------------------
- **Baseline** per resource per day: ``staff × minutes_per_staff / 60 × cost_per_hour`` over
  the spec's rostered people (service.yaml's ``staff × minutes_per_day / 60 × cost_per_hour``
  per working day, with the roster where it differs). A resource without ``cost_per_hour`` costs
  0, and the comparison says so in ``notes``.
- **Transfer**: no extra cost. The same people are paid the same, and their pay stays with
  their home team. On each day from ``start`` to ``end`` that both resources work, the
  sending resource loses up to ``staff`` people (no more than it still has rostered that
  day), and from ``start + handover_days`` the receiving resource gains exactly those people,
  at its minutes per person. People are never created: a transfer of 3 from a team with 2
  rostered moves 2. On a day the sending resource works and the receiving one does not,
  nobody moves (they stay and work at home); on a day the sending resource does not work,
  there is nobody to move. Handover days (the first ``handover_days`` calendar days) are lost
  to both teams: the sending resource loses the people on each of its working days, and the
  receiving one does not gain them yet.
- **Agency**: ``staff × day_rate`` on each working day of the resource from availability
  (``start + lead_days``) to ``end`` (or the end of the horizon), including induction days
  (``induction_days`` after arriving, paid but not yet doing casework). Absent days are still
  paid, which errs on the side of cost. If ``end`` falls inside the horizon and fewer than
  ``min_days`` working days were paid, the shortfall (``min_days`` − days paid) ×
  ``staff × day_rate`` is charged on the last day paid. An engagement running past the
  horizon, or begun before it, is assumed to reach its minimum outside it, so nothing extra
  is charged. Agency people
  give the resource's minutes per person and are absent at its ``absence_rate``.
- **Overtime**: each of the resource's own people still rostered that day (after transfers
  out; not agency staff or people transferred in) gives ``minutes_per_day`` more on the
  resource's working days. The cost is ``own people × minutes_per_day / 60 × cost_per_hour ×
  premium``, with ``sunday_premium`` on Sundays and bank holidays (domain notes: 1.5× and 2×).
- **Vacancy** (a post empty, or a long-term sickness): on each working day of the resource
  from ``start`` to ``end`` it loses up to ``staff`` of its own people still rostered that
  day (never below zero; applied before transfers and overtime, so the missing people are
  neither moved nor paid overtime). With ``paid: false`` (the default: an empty post) the
  option saves their pay, ``lost people × minutes_per_staff / 60 × cost_per_hour`` a working
  day (a negative extra cost); with ``paid: true`` (a long-term sickness on sick pay) it
  saves nothing.
- **Recruit**: ``staff`` permanent people join on ``start + lead_days`` and stay to the end of
  the horizon, at the resource's minutes per person on its working days, but for their
  first ``induction_days`` calendar days at ``induction_output`` of them (default half).
  Each costs ``salary / 365`` pounds a calendar day from the day they join (``salary`` a
  year, the cost to the employer). Like agency people (the same code adds both) they are
  absent at the resource's ``absence_rate`` and do no overtime.
- **Demand** and **triage**: no cost. Triage sets the minutes of one step for new cases over
  the whole horizon. Work already due from existing cases (opening backlog, due-ahead
  minutes) keeps its minutes. Two triage changes to one step: the later one wins. Demand
  factors on overlapping days multiply.

A day is a *working day* of resource ``r`` when the spec gives its people minutes that day
(``minutes_per_staff[r, t] > 0``), so rostered days count and closed days do not. The spec
keeps whole people and one minutes-per-person figure per resource per day. Where people of
different hours mix (overtime, people transferred in), that figure is their average, so
capacity with everyone present is exact.

Common random numbers
---------------------
Every option runs with the baseline's seed, replications and chunk size, so it draws from the
same uniforms. There is one referral stream per case type and one absence stream per resource
(:mod:`flowcap.simulate.daily.numpy`). Transfer, agency, overtime and triage leave every day's
referrals identical in every replication, so only capacity, or a step's minutes, differs.
Referrals and absences are drawn by inversion, so extra staff on a day means at least as many
people present in each replication. A ``demand`` change alters the expected referrals of its
case type on its days. Those counts come from the same uniforms, so they stay coupled: a factor
≥ 1 gives at least as many referrals each day in every replication. Other case types, and all
days outside the change, are unchanged. The coupling is broken only where NumPy's own sampler
stands in for inversion (more than 32,767 possible values a day).

Waiting avoided
---------------
``wait_days_avoided = Σ_t Σ_r (B_base[r, t] − B_option[r, t]) / m_r``, where ``B`` is the
mean end-of-day backlog in minutes. ``m_r`` is the baseline's minutes per piece of work at
``r``: the mean of the minutes of the steps falling at ``r``, weighted by their case type's
mean referrals per day over the horizon. A backlog of ``B`` minutes is then about ``B / m_r``
pieces of work (cases) waiting, and summing over days gives case-days of waiting. A resource
with no steps has no yardstick and is left out (see ``notes``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from flowcap._json import json_number
from flowcap.model import Service, bank_holidays
from flowcap.model.scenario import (
    BASELINE,
    Agency,
    Change,
    Demand,
    Overtime,
    Recruit,
    Scenario,
    Transfer,
    Triage,
    Vacancy,
)
from flowcap.simulate.daily import DailyResult, DailySpec, run
from flowcap.simulate.horizon import step_targets, waiting_at_horizon, waiting_totals

__all__ = [
    "BASELINE",
    "Combination",
    "ScenarioComparison",
    "ScenarioOutcome",
    "apply_scenario",
    "baseline_cost",
    "cheapest_combination",
    "compare_scenarios",
    "horizon_json",
    "inert_options",
    "minutes_per_case",
]

#: A recruit's yearly salary is paid this many days' worth a year (pro rata per calendar day).
DAYS_A_YEAR = 365
#: Most options :func:`cheapest_combination` will combine (2**10 subsets).
MAX_COMBINED_OPTIONS = 10
#: Per resource in ``--json``, with ``cost`` (see :meth:`DailyResult.summary` for each).
SUMMARY_KEYS = (
    "final_backlog_mean",
    "final_backlog_p50",
    "final_backlog_p90",
    "p_final_backlog_over_threshold",
    "mean_wait_days",
    "cases_reneged",
    "p90_wait_days",
    "mean_first_contact_wait_days",
    "p90_first_contact_wait_days",
    "days_over_target",
    "mean_wait_days_done",
    "p90_wait_days_done",
    "mean_first_contact_wait_days_done",
    "p90_first_contact_wait_days_done",
)
RANKING_KEYS = (
    "scenario",
    "extra_cost",
    "wait_days_avoided",
    "cost_per_wait_day_avoided",
    "p_meet_target",
)


# --- costs and changes ----------------------------------------------------------------------


def baseline_cost(spec: DailySpec, service: Service) -> np.ndarray:
    """Rostered cost, shape (R_n, H), pounds: ``staff × minutes_per_staff / 60 × cost_per_hour``
    (0 for a resource without ``cost_per_hour``)."""
    rate = _rates(spec, service)
    return spec.staff * spec.minutes_per_staff / 60.0 * rate[:, None]


def _rates(spec: DailySpec, service: Service) -> np.ndarray:
    rates = []
    for name in spec.resources:
        resource = service.resources.get(name)
        rate = None if resource is None else resource.cost_per_hour
        rates.append(0.0 if rate is None else float(rate))
    return np.array(rates)


def apply_scenario(
    spec: DailySpec, start: date, service: Service, changes: Sequence[Change]
) -> tuple[DailySpec, np.ndarray]:
    """The spec as the option changes it, and what the option costs over the baseline.

    Parameters
    ----------
    spec : the baseline model, day 0 = ``start``; its resource and case type names are the
        service's (as :func:`flowcap.simulate.build.build_spec` makes it).
    start : the date of the spec's day 0.
    service : gives the costs per hour, the steps a triage change refers to, and bank holidays.
    changes : an option's changes (``Scenario.changes``, as
        :func:`flowcap.io.scenarios_yaml.read_scenarios` reads them), applied vacancies
        first, then transfers (nobody can be moved who is not there), then the rest in
        order. Changes outside the horizon have no effect there
        (:func:`inert_options` names the options with none at all). A transfer moves people,
        never creates them: each day the receiving resource gains exactly the people the
        sending one loses, and nobody moves on a day the receiving resource does not work.

    Returns
    -------
    spec : the changed :class:`DailySpec`
    extra_cost : ndarray, shape (R_n, H) — pounds over the baseline per resource per day (see
        the module's cost rules)
    """
    n_res, n_days = len(spec.resources), spec.horizon_days
    working = spec.minutes_per_staff > 0
    rate = _rates(spec, service)
    own = spec.staff.astype(np.float64)  # the resource's own people still there
    own_minutes = spec.minutes_per_staff.copy()
    added_people = np.zeros((n_res, n_days))
    added_minutes = np.zeros((n_res, n_days))
    extra = np.zeros((n_res, n_days))
    means = spec.mean_cases_per_day.copy()
    steps = spec.steps.copy()
    last = start + timedelta(days=n_days - 1)

    def days(first: date, end: date | None) -> slice:
        lo = max(0, (first - start).days)
        hi = n_days if end is None else min(n_days, (end - start).days + 1)
        return slice(lo, max(lo, hi))

    def join(
        r: int, staff: int, arrive: date, end: date | None, induction: int, output: float
    ) -> None:
        """``staff`` more people at ``r`` on its working days from ``arrive`` to ``end`` (or
        the horizon); for their first ``induction`` calendar days each gives ``output`` of
        the resource's minutes a person (with 0 they are not there for the work yet)."""
        settled = arrive + timedelta(days=induction)
        spans = [(days(settled, end), 1.0)]
        if induction > 0 and output > 0:
            inducted = settled - timedelta(days=1)
            spans.append((days(arrive, inducted if end is None else min(end, inducted)), output))
        for w, share in spans:
            on = working[r, w]
            added_people[r, w] += staff * on
            added_minutes[r, w] += staff * share * spec.minutes_per_staff[r, w] * on

    # posts empty first (nobody can be moved or do overtime who is not there), then transfers
    ordered = [c for c in changes if isinstance(c, Vacancy)]
    ordered += [c for c in changes if isinstance(c, Transfer)]
    ordered += [c for c in changes if not isinstance(c, Vacancy | Transfer)]
    for change in ordered:
        if isinstance(change, Transfer):
            src, dst = _resource(spec, change.from_), _resource(spec, change.to)
            w = days(change.start, change.end)
            helping = np.zeros(n_days, dtype=bool)  # days they work at the receiving team
            helping[days(change.start + timedelta(days=change.handover_days), change.end)] = True
            handover = np.zeros(n_days, dtype=bool)
            handover[w] = ~helping[w]
            # the people who move each day: up to ``staff`` of those still rostered at the
            # sending team, on its working days; after the handover, only on days the
            # receiving team works too (nobody is moved to sit idle), so the receiving team
            # gains exactly the people the sending team loses
            moves = (handover | (helping & working[dst])) & working[src]
            moved = np.where(moves, np.minimum(change.staff, own[src]), 0.0)
            own[src] -= moved
            gained = np.where(helping, moved, 0.0)
            added_people[dst] += gained
            added_minutes[dst] += gained * spec.minutes_per_staff[dst]
        elif isinstance(change, Agency):
            r = _resource(spec, change.resource)
            arrive = change.start + timedelta(days=change.lead_days)
            paid = days(arrive, change.end)
            paid_days = np.flatnonzero(working[r, paid]) + paid.start
            extra[r, paid_days] += change.staff * change.day_rate
            if change.end is not None and start <= arrive and change.end <= last:
                short = change.min_days - paid_days.size
                if short > 0:
                    at = paid_days[-1] if paid_days.size else max(0, (change.end - start).days)
                    extra[r, at] += short * change.staff * change.day_rate
            join(r, change.staff, arrive, change.end, change.induction_days, 0.0)
        elif isinstance(change, Recruit):
            r = _resource(spec, change.resource)
            extra[r, days(change.joins, None)] += change.staff * change.salary / DAYS_A_YEAR
            join(
                r,
                change.staff,
                change.joins,
                None,
                change.induction_days,
                change.induction_output,
            )
        elif isinstance(change, Vacancy):
            r = _resource(spec, change.resource)
            w = days(change.start, change.end)
            lost = np.where(working[r, w], np.minimum(change.staff, own[r, w]), 0.0)
            own[r, w] -= lost
            if not change.paid:
                extra[r, w] -= lost * spec.minutes_per_staff[r, w] / 60 * rate[r]
        elif isinstance(change, Overtime):
            r = _resource(spec, change.resource)
            w = days(change.start, change.end)
            on = working[r, w] & (own[r, w] > 0)
            own_minutes[r, w] += change.minutes_per_day * on
            premium = np.where(
                _sunday_or_bank_holiday(service, start, n_days)[w],
                change.sunday_premium,
                change.premium,
            )
            extra[r, w] += own[r, w] * on * change.minutes_per_day / 60 * rate[r] * premium
        elif isinstance(change, Demand):
            k = _case_type(spec, change.case_type)
            means[k, days(change.start, change.end)] *= change.factor
        elif isinstance(change, Triage):
            rows = _step_rows(spec, service, change.case_type, change.step)
            steps[rows, 3] = change.minutes
        else:  # pragma: no cover - the reader only makes the seven kinds
            raise TypeError(f"not a scenario change: {change!r}")

    staff = own + added_people
    changed = (added_people > 0) | (own_minutes != spec.minutes_per_staff)
    with np.errstate(invalid="ignore", divide="ignore"):
        average = (own * own_minutes + added_minutes) / staff
    minutes = np.where(changed & (staff > 0), average, spec.minutes_per_staff)
    new = dataclasses.replace(
        spec,
        staff=np.rint(staff).astype(np.int64),
        minutes_per_staff=minutes,
        mean_cases_per_day=means,
        steps=steps,
    )
    return new, extra


def inert_options(options: Sequence[Scenario], first: date, last: date) -> dict[str, str]:
    """The options that would change nothing between ``first`` and ``last`` (inclusive), by
    name, each with a one-sentence reason, in the order given; options that act are left out.

    A change acts on the days from when it takes effect to its ``end`` (inclusive): a
    transfer, overtime, vacancy or demand change from its ``start`` (a transfer's handover
    days count: the sending team loses people), an agency booking from ``start + lead_days``
    (when its staff arrive and are paid) to ``end`` or for good, a recruitment from
    ``start + lead_days`` (when its people join) for good. A triage change has no dates and always
    acts. An option is inert when every one of its changes starts after ``last`` or ends
    before ``first``; one that overlaps the horizon by even a day is not. For example::

        {"agency IDVA for the summer":
            "'agency IDVA for the summer' starts on 1 Jun 2026, after the horizon ends on "
            "31 Mar 2026."}
    """
    if last < first:
        raise ValueError(f"the horizon ends ({last}) before it starts ({first})")
    found = {}
    for scenario in options:
        name = scenario.name
        later: list[tuple[date, Change]] = []  # (when it takes effect, change)
        earlier: list[date] = []  # when it ends
        acts = False
        for change in scenario.changes:
            if isinstance(change, Triage):
                acts = True
                break
            begins = change.start
            if isinstance(change, Agency | Recruit):
                begins += timedelta(days=change.lead_days)
            ends = getattr(change, "end", None)  # a recruit stays
            if begins > last:
                later.append((begins, change))
            elif ends is not None and ends < first:
                earlier.append(ends)
            else:
                acts = True
                break
        if acts:
            continue
        horizon = f"the horizon ({_day(first)} to {_day(last)})"
        if not later and not earlier:
            found[name] = f"'{name}' has no changes, so it changes nothing in {horizon}."
        elif not earlier:
            begins, change = min(later, key=lambda pair: pair[0])
            if isinstance(change, Agency | Recruit) and change.lead_days > 0:
                who = "agency staff arrive" if isinstance(change, Agency) else "recruits join"
                when = (
                    f"starts to act on {_day(begins)}, when its {who} "
                    f"({change.lead_days} days after its start on {_day(change.start)})"
                )
            else:
                when = f"starts on {_day(begins)}"
            found[name] = f"'{name}' {when}, after the horizon ends on {_day(last)}."
        elif not later:
            found[name] = (
                f"'{name}' ends on {_day(max(earlier))}, before the horizon starts on "
                f"{_day(first)}."
            )
        else:
            found[name] = (
                f"'{name}' has no change inside {horizon}: its earlier changes end by "
                f"{_day(max(earlier))} and its later ones start on "
                f"{_day(min(b for b, _ in later))}."
            )
    return found


def _day(d: date) -> str:
    """``1 Jun 2026``."""
    return f"{d.day} {d:%b %Y}"


def _resource(spec: DailySpec, name: str) -> int:
    if name not in spec.resources:
        raise ValueError(
            f"resource {name!r} is not in the simulation ({', '.join(spec.resources)})"
        )
    return spec.resources.index(name)


def _case_type(spec: DailySpec, name: str) -> int:
    if name not in spec.case_types:
        raise ValueError(f"case type {name!r} is not in the simulation")
    return spec.case_types.index(name)


def _step_rows(spec: DailySpec, service: Service, case_type: str, step: int) -> np.ndarray:
    """Rows of ``spec.steps`` that are occurrences of the service's step ``step`` of the type
    (the spec lists each type's steps in service order, one row per occurrence)."""
    k = _case_type(spec, case_type)
    work = service.case_types[case_type].work
    if not 0 <= step < len(work):
        raise ValueError(f"case type {case_type!r} has no step {step}")
    rows = np.flatnonzero(spec.step_type == k)
    expected = [(s, off) for s, item in enumerate(work) for off in item.due_offsets()]
    offsets = spec.step_offset_days[rows]
    if len(expected) != rows.size or any(o != e[1] for o, e in zip(offsets, expected, strict=True)):
        raise ValueError(f"the spec's steps for {case_type!r} do not follow the service's")
    return rows[[i for i, (s, _) in enumerate(expected) if s == step]]


def _sunday_or_bank_holiday(service: Service, start: date, n_days: int) -> np.ndarray:
    end = start + timedelta(days=n_days - 1)
    holidays = bank_holidays(service.region, start, end)
    return np.array(
        [(d := start + timedelta(days=t)).weekday() == 6 or d in holidays for t in range(n_days)]
    )


def minutes_per_case(spec: DailySpec) -> np.ndarray:
    """Minutes per piece of work at each resource, shape (R_n,): the steps' minutes weighted by
    their case type's mean referrals a day (plain mean when none; NaN for no steps)."""
    arrivals = spec.mean_cases_per_day.mean(axis=1)
    out = np.full(len(spec.resources), np.nan)
    for r in range(len(spec.resources)):
        rows = np.flatnonzero(spec.step_resource == r)
        if rows.size == 0:
            continue
        weight = arrivals[spec.step_type[rows]]
        minutes = spec.step_minutes[rows]
        out[r] = (weight @ minutes) / weight.sum() if weight.sum() > 0 else minutes.mean()
    return out


# --- comparison ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioOutcome:
    """One scenario's simulation and cost.

    result : the engine's :class:`DailyResult`
    cost : ndarray, shape (R_n, H) — pounds per resource per day (baseline + extra)
    extra_cost_by_day : ndarray, shape (R_n, H) — pounds over the baseline
    p_meet_target : share of replications in which every resource ends the horizon with a
        backlog at or under the threshold
    wait_days_avoided : case-days of waiting avoided over the horizon against the baseline
    """

    name: str
    result: DailyResult
    cost: np.ndarray
    extra_cost_by_day: np.ndarray
    p_meet_target: float
    wait_days_avoided: float

    @property
    def extra_cost(self) -> float:
        return float(self.extra_cost_by_day.sum())

    @property
    def cost_per_wait_day_avoided(self) -> float | None:
        if not self.wait_days_avoided > 0:
            return None
        return self.extra_cost / self.wait_days_avoided


@dataclass(frozen=True)
class ScenarioComparison:
    """The baseline and every option, run on the same random numbers; see the module notes.

    ``outcomes`` holds the baseline first, then the options in the order given, by name.
    ``ranking`` lists the options (not the baseline): the non-dominated ones by cost per wait
    day avoided (options avoiding none last), then the dominated ones in the same order, then
    those worse than the baseline (:meth:`harms`; a vacancy that saves pay but adds waiting
    is cheap and not dominated, but it is no value). An option is dominated when another
    option, or the baseline, costs less and avoids more waiting, or costs no more and meets
    the target in a larger share of runs.
    """

    resources: tuple[str, ...]
    start: date
    horizon_days: int
    threshold_minutes: float
    risk_target: float
    replications: int
    seed: int
    outcomes: dict[str, ScenarioOutcome]
    minutes_per_case: np.ndarray
    notes: tuple[str, ...] = ()
    ranking: list[dict] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ranking", self._rank())

    @property
    def last_day(self) -> date:
        return self.start + timedelta(days=self.horizon_days - 1)

    @property
    def options(self) -> list[ScenarioOutcome]:
        return [o for name, o in self.outcomes.items() if name != BASELINE]

    def _rank(self) -> list[dict]:
        everyone = list(self.outcomes.values())
        rows = []
        for o in self.options:
            dominated = any(_dominates(other, o) for other in everyone if other is not o)
            rows.append(
                {
                    "scenario": o.name,
                    "extra_cost": o.extra_cost,
                    "wait_days_avoided": o.wait_days_avoided,
                    "cost_per_wait_day_avoided": o.cost_per_wait_day_avoided,
                    "p_meet_target": o.p_meet_target,
                    "dominated": dominated,
                    "harms": bool(self.harms(o)),
                }
            )

        def key(row: dict):
            per_day = row["cost_per_wait_day_avoided"]
            return (
                row["harms"],
                row["dominated"],
                per_day is None,
                per_day if per_day is not None else 0.0,
                row["extra_cost"],
                -row["p_meet_target"],
            )

        return sorted(rows, key=key)

    def pareto_front(self) -> list[dict]:
        """Scenarios (baseline included) no other beats on both extra cost and risk
        (1 − ``p_meet_target``), cheapest first: ``{scenario, extra_cost, risk}``."""
        points = [(o.name, o.extra_cost, 1.0 - o.p_meet_target) for o in self.outcomes.values()]
        front = [
            p
            for p in points
            if not any(
                q[1] <= p[1] and q[2] <= p[2] and (q[1] < p[1] or q[2] < p[2]) for q in points
            )
        ]
        front.sort(key=lambda p: (p[1], p[2]))
        return [{"scenario": n, "extra_cost": c, "risk": r} for n, c, r in front]

    def harms(self, option: ScenarioOutcome) -> list[str]:
        """How ``option`` is worse than the baseline, in words (empty when it is not): more
        waiting (negative ``wait_days_avoided``, in case-days), more working days ending with
        a first contact past its target at any resource (``days_over_target``, mean over the
        futures), a step contact target met less often (a lower ``p_met``,
        :meth:`~flowcap.simulate.daily.DailyResult.step_targets`), or the target met in
        fewer runs (``p_meet_target``).

        Strict comparisons: with common random numbers an option that changes nothing at a
        resource gives exactly the baseline's figures there, so any excess is the option's.
        """
        base = self.outcomes[BASELINE]
        reasons = []
        if option.wait_days_avoided < 0:
            reasons.append(f"more waiting: {-option.wait_days_avoided:,.0f} case-days added")
        later = []
        for resource in self.resources:
            ours = option.result.summary(resource)["days_over_target"]
            theirs = base.result.summary(resource)["days_over_target"]
            if math.isfinite(ours) and math.isfinite(theirs) and ours > theirs:
                later.append(f"{resource} {ours:,.1f} against the baseline's {theirs:,.1f}")
        if later:
            days = option.result.target_working_days
            target = "first-contact target"
            if days is not None:
                target = f"{days:g}-working-day {target}"
            reasons.append(f"more working days past the {target}: {', '.join(later)}")
        theirs = {row["label"]: row["p_met"] for row in step_targets(base.result)}
        for row in step_targets(option.result):
            before = theirs.get(row["label"], math.nan)
            if math.isfinite(row["p_met"]) and math.isfinite(before) and row["p_met"] < before:
                reasons.append(
                    f"meets the step target {row['label']} less often: "
                    f"{_share(row['p_met'])} against {_share(before)}"
                )
        if option.p_meet_target < base.p_meet_target:
            reasons.append(
                f"meets the target in fewer runs: {option.p_meet_target:.0%} against "
                f"{base.p_meet_target:.0%}"
            )
        return reasons

    def chosen(self, risk_target: float | None = None) -> ScenarioOutcome | None:
        """The option the recommendation names: the cheapest meeting the target that is no
        worse than the baseline (:meth:`harms`); ``None`` when none is, or when the baseline
        meets the target already."""
        need = 1.0 - (self.risk_target if risk_target is None else float(risk_target))
        if self.outcomes[BASELINE].p_meet_target >= need:
            return None
        meeting = [o for o in self.options if o.p_meet_target >= need and not self.harms(o)]
        if not meeting:
            return None
        return min(meeting, key=lambda o: (o.extra_cost, -o.p_meet_target, o.name))

    def recommendation(self, risk_target: float | None = None, to_meet: str | None = None) -> str:
        """A plain-English paragraph: the cheapest option meeting the risk target, never one
        worse than the baseline (:meth:`harms`). When none does: say so, name the option that
        avoids the most waiting a pound among those that improve on the baseline, name the
        harmful ones, and say what would meet the target — ``to_meet`` (a sentence, e.g. the
        staff ``flowcap plan`` finds, as :func:`flowcap.plan.outlook.simulate_ahead` gives
        it), or by default the ``flowcap plan`` options that find it."""
        risk = self.risk_target if risk_target is None else float(risk_target)
        need = 1.0 - risk
        target = (
            f"every resource's backlog at or under {self.threshold_minutes:,.0f} minutes at the "
            f"end of {self.last_day:%d %b %Y} in at least {_percent(need)} of runs"
        )
        base = self.outcomes[BASELINE]
        if base.p_meet_target >= need:
            return (
                f"No change is needed: the baseline already meets the target ({target}) in "
                f"{base.p_meet_target:.0%} of {self.replications:,} runs."
            )
        harms = {o.name: self.harms(o) for o in self.options}
        harmful = [o for o in self.options if harms[o.name]]
        not_recommended = ""
        if harmful:
            named = "; ".join(f"'{o.name}' ({'; '.join(harms[o.name])})" for o in harmful)
            not_recommended = f" Not recommended: {named}."
        best = self.chosen(risk)
        if best is not None:
            per_day = best.cost_per_wait_day_avoided
            value = f", about {_money(per_day)} per case-day of waiting avoided" if per_day else ""
            return (
                f"Choose '{best.name}': the cheapest option that meets the target ({target}) "
                f"and is no worse than the baseline; it does in {best.p_meet_target:.0%} of "
                f"runs {_for(best.extra_cost)}{value}.{not_recommended}"
            )
        if not self.options:
            return (
                f"The baseline does not meet the target ({target}): it does in "
                f"{base.p_meet_target:.0%} of runs, and there are no options to compare."
            )
        # Nothing safe meets the target: "comes closest" (most runs meeting it, then the
        # cheapest) once named a free transfer that added waiting, so name instead the option
        # that does the most good a pound, among those doing any.
        harmful_meets = any(o.p_meet_target >= need for o in harmful)
        head = f"No option meets the target ({target})" + (
            " without being worse than the baseline" if harmful_meets else ""
        )
        parts = [f"{head}; the baseline does in {base.p_meet_target:.0%} of runs."]
        helping = [o for o in self.options if not harms[o.name] and o.wait_days_avoided > 0]
        if helping:
            value = min(
                helping, key=lambda o: (o.cost_per_wait_day_avoided, -o.wait_days_avoided, o.name)
            )
            per_day = value.cost_per_wait_day_avoided
            price = f" (about {_money(per_day)} per case-day)" if per_day else ""
            parts.append(
                f"'{value.name}' helps most per pound: it avoids "
                f"{value.wait_days_avoided:,.0f} waiting case-days {_for(value.extra_cost)}"
                f"{price}, meeting the target in {value.p_meet_target:.0%} of runs."
            )
        else:
            parts.append("None of the options improves on the baseline.")
        if not_recommended:
            parts.append(not_recommended.strip())
        if to_meet is None:
            to_meet = (
                f"To meet the target with staff, `flowcap plan` finds the fewest per resource "
                f"(--target-backlog-minutes {self.threshold_minutes:g} --risk {risk:g}, with "
                "this run's --horizon)."
            )
        parts.append(to_meet)
        if len(self.options) > 1:
            parts.append("Combining options may also meet it (--optimise).")
        return " ".join(parts)

    def as_json(self, risk_target: float | None = None, to_meet: str | None = None) -> dict:
        """``{"scenarios": {name: {resource: {SUMMARY_KEYS and "cost"}}}, "ranking": [...],
        "recommendation", "step_targets", "waiting_at_horizon"}`` (``to_meet``: as for
        :meth:`recommendation`; the last two by scenario, :func:`horizon_json`). Each ranking
        row carries its option's ``step_targets``: ``{label, p_met, days_over_target}``."""
        scenarios = {}
        for name, o in self.outcomes.items():
            per_resource = {}
            for r, resource in enumerate(self.resources):
                summary = o.result.summary(resource)
                row = {key: json_number(summary[key]) for key in SUMMARY_KEYS}
                row["cost"] = round(float(o.cost[r].sum()), 2)
                per_resource[resource] = row
            scenarios[name] = per_resource
        ranking = [
            {
                "scenario": row["scenario"],
                "extra_cost": round(row["extra_cost"], 2),
                "wait_days_avoided": json_number(row["wait_days_avoided"]),
                "cost_per_wait_day_avoided": None
                if row["cost_per_wait_day_avoided"] is None
                else round(row["cost_per_wait_day_avoided"], 2),
                "p_meet_target": json_number(row["p_meet_target"]),
                "step_targets": [
                    {
                        "label": target["label"],
                        "p_met": json_number(target["p_met"]),
                        "days_over_target": json_number(target["days_over_target"]),
                    }
                    for target in step_targets(self.outcomes[row["scenario"]].result)
                ],
            }
            for row in self.ranking
        ]
        return {
            "scenarios": scenarios,
            "ranking": ranking,
            "recommendation": self.recommendation(risk_target, to_meet),
            **horizon_json({name: o.result for name, o in self.outcomes.items()}),
        }


def horizon_json(results: Mapping[str, DailyResult]) -> dict:
    """The step targets and the waiting list at the horizon of each scenario's result, for
    ``--json``: ``{"step_targets": {scenario: [row]}, "waiting_at_horizon": {scenario:
    {"totals": {resource: {contacts_waiting, over_20_working_days}}, "by_case_type":
    [row]}}}``, rows as :func:`flowcap.simulate.horizon.step_targets` and
    :func:`~flowcap.simulate.horizon.waiting_at_horizon` give them (counts are means over
    the futures; contacts are pieces of work, not cases)."""

    def numbers(row: dict) -> dict:
        return {
            key: numbers(value)
            if isinstance(value, dict)
            else value
            if isinstance(value, str | int)
            else json_number(value)
            for key, value in row.items()
        }

    return {
        "step_targets": {
            name: [numbers(row) for row in step_targets(result)] for name, result in results.items()
        },
        "waiting_at_horizon": {
            name: {
                "totals": numbers(waiting_totals(result)),
                "by_case_type": [numbers(row) for row in waiting_at_horizon(result)],
            }
            for name, result in results.items()
        },
    }


def _dominates(a: ScenarioOutcome, b: ScenarioOutcome) -> bool:
    """``a`` costs less and avoids more waiting (no more cost, strictly more waiting avoided,
    counts too), or costs no more and meets the target in a larger share of runs."""
    cheaper, no_dearer = a.extra_cost < b.extra_cost, a.extra_cost <= b.extra_cost
    avoids = a.wait_days_avoided > b.wait_days_avoided
    if (cheaper and a.wait_days_avoided >= b.wait_days_avoided) or (no_dearer and avoids):
        return True
    return no_dearer and a.p_meet_target > b.p_meet_target


def _for(extra_cost: float) -> str:
    if extra_cost == 0:
        return "at no extra cost"
    return f"for {_money(extra_cost)} over the baseline"


def _share(p: float) -> str:
    """A probability as a percentage with one decimal (``93.8%``)."""
    return f"{p:.1%}"


def _percent(share: float) -> str:
    whole = round(share * 100, 6) == round(share * 100)
    return f"{share:.0%}" if whole else f"{share:.1%}"


def _money(value: float | None) -> str:
    if value is None:
        return "—"
    return f"£{value:,.0f}" if abs(value) >= 100 else f"£{value:,.2f}"


def _p_meet(result: DailyResult, threshold: float) -> float:
    return float(np.mean(np.all(result.final_backlog <= threshold, axis=0)))


def _names(options: Sequence[Scenario]) -> list[str]:
    """The options' names, in order; a :class:`ValueError` when two share one."""
    names = [scenario.name for scenario in options]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"two options are named {', '.join(repr(n) for n in twice)}")
    return names


def compare_scenarios(
    spec: DailySpec,
    start: date,
    service: Service,
    options: Sequence[Scenario],
    *,
    replications: int,
    seed: int,
    threshold_minutes: float,
    risk_target: float = 0.05,
    chunk_size: int | None = None,
    waits: bool = True,
    device: str = "cpu",
    progress: Callable[[str, int, int], None] | None = None,
) -> ScenarioComparison:
    """Run the baseline and every option with the same seed, and cost and rank the options.

    ``options`` are run in the order given; their names must differ, and none may be
    :data:`BASELINE`. ``risk_target`` is the accepted chance of missing the target (every
    resource's backlog at or under ``threshold_minutes`` at the end of the horizon), used by
    the recommendation. With ``waits`` each run also measures waits and days over the service's
    ``first_contact_target_working_days`` (:func:`flowcap.simulate.daily.run`). ``device``
    and ``chunk_size`` go to that function (``"cuda"``: PyTorch on a GPU; ``None``: its default
    chunk for the device). ``progress(step, done, total)`` is told each run as it starts.
    """
    names = _names(options)
    if BASELINE in names:
        raise ValueError(f"{BASELINE!r} is the unchanged service; name the option differently")
    if not 0 <= risk_target < 1:
        raise ValueError("risk_target must be in [0, 1)")
    base_cost = baseline_cost(spec, service)
    per_case = minutes_per_case(spec)
    notes = _notes(spec, service, per_case)

    def simulate(name: str, changed: DailySpec, extra: np.ndarray, base: DailyResult | None):
        result = run(
            changed,
            replications,
            seed,
            threshold_minutes=threshold_minutes,
            chunk_size=chunk_size,
            waits=waits,
            target_working_days=service.first_contact_target_working_days if waits else None,
            device=device,
        )
        avoided = 0.0
        if base is not None:
            gap = (base.backlog_mean - result.backlog_mean).sum(axis=1)
            use = np.isfinite(per_case)
            avoided = float((gap[use] / per_case[use]).sum())
        return ScenarioOutcome(
            name, result, base_cost + extra, extra, _p_meet(result, threshold_minutes), avoided
        )

    total = len(options) + 1
    if progress is not None:
        progress("Simulating the baseline", 0, total)
    baseline = simulate(BASELINE, spec, np.zeros_like(base_cost), None)
    outcomes = {BASELINE: baseline}
    for k, scenario in enumerate(options, start=1):
        name = scenario.name
        if progress is not None:
            progress(f"Simulating option {k} of {total - 1}: {name}", k, total)
        changed, extra = apply_scenario(spec, start, service, scenario.changes)
        outcomes[name] = simulate(name, changed, extra, baseline.result)
    return ScenarioComparison(
        resources=spec.resources,
        start=start,
        horizon_days=spec.horizon_days,
        threshold_minutes=float(threshold_minutes),
        risk_target=float(risk_target),
        replications=replications,
        seed=seed,
        outcomes=outcomes,
        minutes_per_case=per_case,
        notes=notes,
    )


def _notes(spec: DailySpec, service: Service, per_case: np.ndarray) -> tuple[str, ...]:
    notes = []
    unpriced = [
        name
        for name in spec.resources
        if name not in service.resources or service.resources[name].cost_per_hour is None
    ]
    if unpriced:
        notes.append(
            f"no cost_per_hour for {', '.join(unpriced)}: their staff time is costed at £0 "
            "(agency day rates still count)"
        )
    no_steps = [name for name, m in zip(spec.resources, per_case, strict=True) if math.isnan(m)]
    if no_steps:
        notes.append(
            f"no case type has steps at {', '.join(no_steps)}: waiting avoided there is not counted"
        )
    return tuple(notes)


# --- the cheapest combination ---------------------------------------------------------------


@dataclass(frozen=True)
class Combination:
    """A set of options run together.

    names : the options, in the order given (empty: the baseline)
    extra_cost : pounds over the baseline
    p_meet_target : share of runs with every resource's final backlog at or under the threshold
    p_exceed : resource -> share of runs with its final backlog over the threshold
    meets_target : whether ``p_meet_target >= 1 − risk_target``
    """

    names: tuple[str, ...]
    extra_cost: float
    p_meet_target: float
    p_exceed: dict[str, float] = field(default_factory=dict)
    meets_target: bool = True

    def as_json(self) -> dict:
        """``{"scenarios", "extra_cost", "p_meet_target", "p_exceed": {resource: p},
        "meets_target"}``."""
        return {
            "scenarios": list(self.names),
            "extra_cost": round(self.extra_cost, 2),
            "p_meet_target": json_number(self.p_meet_target),
            "p_exceed": {name: json_number(p) for name, p in self.p_exceed.items()},
            "meets_target": bool(self.meets_target),
        }


def cheapest_combination(
    spec: DailySpec,
    start: date,
    service: Service,
    options: Sequence[Scenario],
    *,
    risk_target: float,
    replications: int,
    seed: int,
    threshold_minutes: float,
    closest: bool = False,
    device: str = "cpu",
    known: Mapping[tuple[str, ...], DailyResult] | None = None,
) -> Combination | None:
    """The cheapest subset of the options that meets ``p_meet_target ≥ 1 − risk_target``.

    ``options`` are taken in the order given, and their names must differ. A subset's changes
    are its options' changes one after another (see :func:`apply_scenario` for how they
    combine). Costs need no simulation, so subsets are tried cheapest first (then fewest
    options, then in the order given) and the first that meets the target is returned, all on
    the same random numbers. When no subset does: ``None``, or with ``closest`` the subset
    meeting it in the largest share of runs (the cheapest of those), with ``meets_target``
    false. Options with a ``vacancy`` change are left out (what-ifs, not ways to meet the
    target). At most :data:`MAX_COMBINED_OPTIONS` options (``2**n`` subsets). ``device``: as in
    :func:`compare_scenarios`. ``known``: results already simulated with the same seed and
    replications, by the names of the options in them (``()`` for the baseline) — a
    comparison's — which are used instead of running again.
    """
    names = _names(options)
    if len(names) > MAX_COMBINED_OPTIONS:
        raise ValueError(f"at most {MAX_COMBINED_OPTIONS} options can be combined")
    # a vacancy is a what-if (losing staff), not a way to meet the target: leaving a post
    # empty saves pay, so it would otherwise be the "cheapest" way whenever the target holds
    options = [o for o in options if not any(isinstance(c, Vacancy) for c in o.changes)]
    names = _names(options)
    need = 1.0 - risk_target

    def combined(subset: tuple[int, ...]) -> list[Change]:
        return [c for i in subset for c in options[i].changes]

    known = known or {}
    candidates = []
    for size in range(len(names) + 1):
        for subset in itertools.combinations(range(len(names)), size):
            changed, extra = apply_scenario(spec, start, service, combined(subset))
            candidates.append((float(extra.sum()), size, subset, changed))
    candidates.sort(key=lambda c: c[:3])
    best = None
    for cost, _, subset, changed in candidates:
        result = known.get(tuple(names[i] for i in subset))
        if result is None:
            result = run(
                changed, replications, seed, threshold_minutes=threshold_minutes, device=device
            )
        p = _p_meet(result, threshold_minutes)
        exceed = {
            name: float(np.mean(result.final_backlog[r] > threshold_minutes))
            for r, name in enumerate(spec.resources)
        }
        found = Combination(tuple(names[i] for i in subset), cost, p, exceed, p >= need)
        if found.meets_target:
            return found
        if best is None or p > best.p_meet_target:
            best = found
    return best if closest else None
