"""The days ahead of a service: its backlog simulated with contingency options, the minimum
capacity that keeps it in hand, and the people to recruit to bring it under a target by a
date (``flowcap simulate``, ``flowcap plan`` and ``flowcap plan --by``).

Backlog targets (:func:`backlog_targets`) may be given three ways, each turned into minutes of
work waiting at the resource, the unit the simulation judges:

- **minutes** of work waiting (``target_backlog_minutes``, by default 2,400), the same at
  every resource;
- **cases** waiting (``target_backlog_cases``): × the resource's mean minutes per piece of
  work (:func:`flowcap.plan.scenarios.minutes_per_case`, the minutes of the steps falling at
  the resource weighted by their case type's mean referrals a day — the yardstick the options'
  "waiting case-days avoided" use). A resource with no steps has no yardstick and is left out;
- **weeks the oldest case waits** (``target_wait_weeks``, W): × 7 × λ, λ the expected minutes
  of work falling due a calendar day at the resource over the horizon's final window (the
  last quarter, at least 28 days: :func:`flowcap.plan.capacity.final_window_days`). Taken
  oldest first, the work waiting behind the oldest case is what fell due since it did, so a
  list of B minutes has its oldest case about B / λ days old (Little's law, L = λW, for the
  last in the queue); B ≤ 7Wλ keeps it under W weeks. Priorities break it: a low-priority case
  may wait longer than the list's size says, so the simulated waits stay the reference.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flowcap._json import json_number
from flowcap.checks import (
    ArgumentError,
    check_backlog_target,
    check_day,
    check_horizon,
    check_minutes,
    check_optimise,
    check_recruitment,
    check_replications,
    check_risk,
    check_seed,
    check_simulation_size,
)
from flowcap.errors import FlowcapError
from flowcap.io.scenarios_yaml import read_scenarios
from flowcap.model import Service
from flowcap.model.scenario import (
    BASELINE,
    INDUCTION_DAYS,
    INDUCTION_OUTPUT,
    RECRUITMENT_LEAD_DAYS,
    Recruit,
)
from flowcap.plan.capacity import (
    MAX_RECRUITS,
    MinutesPlan,
    StaffPlan,
    expected_demand_minutes,
    expected_load,
    final_window_days,
    latest_delay,
    minimum_added,
    minimum_minutes_per_day,
    minimum_staff,
)
from flowcap.plan.scenarios import (
    MAX_COMBINED_OPTIONS,
    SUMMARY_KEYS,
    Combination,
    ScenarioComparison,
    apply_scenario,
    baseline_cost,
    cheapest_combination,
    compare_scenarios,
    horizon_json,
    inert_options,
    minutes_per_case,
)
from flowcap.plan.waitinglist import waiting_list_check
from flowcap.progress import Progress, quiet
from flowcap.simulate.build import build_spec, first_day_ahead, horizon_to_a_working_day
from flowcap.simulate.daily import DailyResult, DailySpec, DeviceUnavailableError, check_device
from flowcap.simulate.daily import run as run_daily
from flowcap.simulate.daily.spec import PERCENTILES

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory

#: Futures per candidate head count in ``flowcap plan`` (its default), and in the staff that
#: ``simulate`` quotes when nothing meets the target, so both print the same numbers.
PLAN_REPLICATIONS = 2000
#: ``flowcap plan``'s backlog target when none is given (minutes of work waiting).
DEFAULT_TARGET_MINUTES = 2400.0


@dataclass
class SimulationReport:
    """A Monte Carlo run of the days ahead from where the data end (or from ``start``).

    ``combination`` is the cheapest combination of options meeting the risk target (or the
    one coming closest, ``meets_target`` false) when the run was asked to optimise.
    ``to_meet`` says what staff would meet the target (:func:`staff_to_meet`) when the
    baseline misses it and no option that is no worse than the baseline meets it.
    """

    service: Service
    start: date
    spec: DailySpec
    result: DailyResult
    threshold_minutes: float
    comparison: ScenarioComparison | None = None
    combination: Combination | None = None
    risk_target: float = 0.05
    to_meet: str | None = None

    @property
    def service_name(self) -> str:
        return self.service.name

    @property
    def cost_per_hour(self) -> dict[str, float | None]:
        return {name: r.cost_per_hour for name, r in self.service.resources.items()}

    @property
    def target_working_days(self) -> int | None:
        return self.service.first_contact_target_working_days

    @property
    def working_days(self) -> tuple[str, ...]:
        return self.service.working_days

    def baseline_cost(self, resource: str) -> float | None:
        """Rostered cost over the horizon (pounds, :func:`flowcap.plan.scenarios.baseline_cost`
        summed), or ``None`` for a resource with no ``cost_per_hour``."""
        if self.cost_per_hour.get(resource) is None:
            return None
        return float(self._costs[self.spec.resources.index(resource)].sum())

    @cached_property
    def _costs(self) -> np.ndarray:
        return baseline_cost(self.spec, self.service)

    def fan(self) -> pd.DataFrame:
        days = pd.date_range(self.start, periods=self.spec.horizon_days, freq="D")
        fan = backlog_fan_table(days, self.spec.resources, self.result.backlog_percentiles)
        fan["p_over"] = self.result.p_backlog_over_threshold.ravel()
        return fan

    def by_day(self) -> dict:
        """Per resource, day by day: the median and 95th-percentile backlog (minutes) and the
        probability that the backlog is over the threshold at the end of the day."""
        days = [
            d.date().isoformat() for d in pd.date_range(self.start, periods=self.spec.horizon_days)
        ]
        percentiles = list(PERCENTILES)
        document = {}
        for r, resource in enumerate(self.spec.resources):
            fan = self.result.backlog_percentiles[r]
            document[resource] = {
                "dates": days,
                "backlog_p50": [json_number(v) for v in fan[percentiles.index(50)]],
                "backlog_p95": [json_number(v) for v in fan[percentiles.index(95)]],
                "p_over_threshold": [
                    json_number(v) for v in self.result.p_backlog_over_threshold[r]
                ],
            }
        return document

    def recommendation(self) -> str:
        """What to do, in plain English: the comparison's recommendation
        (:meth:`~flowcap.plan.scenarios.ScenarioComparison.recommendation`, with ``to_meet``),
        or with no options a pointer to them (and ``to_meet`` when the baseline misses)."""
        if self.comparison is not None:
            return self.comparison.recommendation(self.risk_target, self.to_meet)
        text = (
            "Only the baseline was simulated: give contingency options in scenarios.yaml (or "
            "--scenarios FILE) to compare them."
        )
        return text if self.to_meet is None else f"{text} {self.to_meet}"

    def as_json(self) -> dict:
        """The ``flowcap simulate --json`` document (see the command's help and the README)."""
        if self.comparison is not None:
            document = self.comparison.as_json(self.risk_target, self.to_meet)
        else:
            baseline = {}
            for resource in self.spec.resources:
                summary = self.result.summary(resource)
                baseline[resource] = {name: json_number(summary[name]) for name in SUMMARY_KEYS}
                cost = self.baseline_cost(resource)
                baseline[resource]["cost"] = None if cost is None else round(cost, 2)
            document = {
                "scenarios": {"baseline": baseline},
                "ranking": [],
                "recommendation": self.recommendation(),
                **horizon_json({"baseline": self.result}),
            }
        if self.combination is not None:
            document["cheapest_combination"] = self.combination.as_json()
        document["baseline_by_day"] = self.by_day()
        document["waiting_list_check"] = self.waiting_list_check()
        return document

    def waiting_list_check(self) -> dict:
        """The waiting-list formulas beside the simulation, per resource
        (:func:`flowcap.plan.waitinglist.waiting_list_check`)."""
        return waiting_list_check(
            self.spec, self.result, self.target_working_days, self.working_days
        )


def simulate_ahead(
    history: ServiceHistory,
    *,
    horizon: int = 90,
    replications: int = 10_000,
    seed: int = 0,
    threshold_minutes: float = 2400.0,
    start: date | None = None,
    scenarios: str | Path | None = None,
    risk_target: float = 0.05,
    optimise: bool = False,
    device: str = "cpu",
    progress: Progress = quiet,
    warn: Progress = quiet,
) -> SimulationReport:
    """Simulate every resource's backlog ``horizon`` days ahead, ``replications`` times.

    Contingency options come from ``scenarios`` (a scenarios.yaml file) or, when it is
    ``None``, from the service's own (``history.scenarios``); each runs with the baseline's
    random numbers. Waits are measured, and days over the service's first-contact target
    counted. With ``optimise``, the cheapest combination of the options that keeps every
    resource's final backlog at or under ``threshold_minutes`` in at least 1 − ``risk_target``
    of the runs is searched for (:func:`flowcap.plan.scenarios.cheapest_combination`).
    ``device``: ``"cpu"`` (NumPy) or ``"cuda"`` (PyTorch on a GPU, ``pip install
    'flowcap[gpu]'``).
    """
    _check_device(device)
    check_replications(replications)
    check_risk(risk_target)
    check_seed(seed)
    check_minutes(threshold_minutes, "threshold_minutes")
    check_horizon(horizon)
    check_simulation_size(replications, horizon, len(history.service.resources))
    check_day(start, "start")
    service = history.service
    spec, first = _spec(history, horizon, start, progress, warn)
    if scenarios is not None:
        options_file = Path(scenarios)
        if not options_file.is_file():
            raise FlowcapError(f"no scenarios file at {options_file}")
        options = read_scenarios(options_file, service)
    else:
        options_file = "the service's scenarios.yaml"
        options = history.scenarios
    if options:
        last = first + timedelta(days=spec.horizon_days - 1)
        for reason in inert_options(options, first, last).values():
            warn(f"{reason} It changes nothing in this run.")
    check_optimise(optimise, len(options), str(options_file), MAX_COMBINED_OPTIONS)
    target = service.first_contact_target_working_days
    comparison = None
    if options:
        progress(f"Simulating {replications:,} futures, and each of {len(options)} option(s)")
        comparison = compare_scenarios(
            spec,
            first,
            service,
            options,
            replications=replications,
            seed=seed,
            threshold_minutes=threshold_minutes,
            risk_target=risk_target,
            device=device,
            progress=progress,
        )
        result = comparison.outcomes[BASELINE].result
    else:
        progress(f"Simulating {replications:,} futures")
        result = run_daily(
            spec,
            replications,
            seed,
            threshold_minutes=threshold_minutes,
            waits=True,
            target_working_days=target,
            device=device,
        )
    combination = None
    if optimise:
        progress(f"Combining {len(options)} option(s): up to {2 ** len(options)} sets")
        combination = cheapest_combination(
            spec,
            first,
            service,
            options,
            risk_target=risk_target,
            replications=replications,
            seed=seed,
            threshold_minutes=threshold_minutes,
            closest=True,
            device=device,
            known=None
            if comparison is None
            else {
                (() if name == BASELINE else (name,)): outcome.result
                for name, outcome in comparison.outcomes.items()
            },
        )
    to_meet = None
    missed = float(np.mean(np.all(result.final_backlog <= threshold_minutes, axis=0))) < (
        1 - risk_target
    )
    if missed and (comparison is None or comparison.chosen() is None):
        to_meet = staff_to_meet(
            history,
            spec,
            result,
            horizon=horizon,
            start=start,
            threshold_minutes=threshold_minutes,
            risk_target=risk_target,
            seed=seed,
            device=device,
            progress=progress,
        )
    return SimulationReport(
        service,
        first,
        spec,
        result,
        threshold_minutes,
        comparison,
        combination,
        risk_target,
        to_meet,
    )


def staff_to_meet(
    history: ServiceHistory,
    spec: DailySpec,
    result: DailyResult,
    *,
    horizon: int,
    start: date | None,
    threshold_minutes: float,
    risk_target: float,
    seed: int,
    device: str = "cpu",
    progress: Progress = quiet,
) -> str:
    """A sentence saying what staff would meet the target, as ``flowcap plan`` finds it.

    For each resource whose backlog ends over ``threshold_minutes`` (minutes) in more than
    ``risk_target`` of the baseline's runs (``result``), the fewest people rostered a working
    day (:func:`flowcap.plan.capacity.minimum_staff`, with ``flowcap plan``'s
    :data:`PLAN_REPLICATIONS` and this run's seed, so ``flowcap plan`` prints the same
    number), and the ``flowcap plan`` command that finds it and the minutes-each alternative.
    ``horizon`` and ``start`` are as the caller gave them (calendar days; ``plan`` stretches
    the horizon to a working day as ``simulate`` does).
    """
    short = [
        name
        for r, name in enumerate(spec.resources)
        if float(np.mean(result.final_backlog[r] > threshold_minutes)) > risk_target
    ]
    found = []
    for k, name in enumerate(short, start=1):
        progress(f"Finding the staff that would meet the target: {name} ({k} of {len(short)})")
        plan = minimum_staff(
            spec,
            name,
            target_backlog_minutes=threshold_minutes,
            risk=risk_target,
            replications=PLAN_REPLICATIONS,
            seed=seed,
            device=device,
        )
        resource = history.service.resources.get(name)
        now = "" if resource is None else f" (staff now {resource.staff:g} FTE)"
        if plan.min_staff is None:
            found.append(f"no head count that `flowcap plan` tries is enough at {name}")
        else:
            found.append(f"{name} {plan.min_staff} people rostered each working day{now}")
    where = (
        shlex.quote(str(history.folder))
        if history.folder is not None
        else f"--service {shlex.quote(history.name)}"
    )
    options = [
        f"--target-backlog-minutes {threshold_minutes:g}",
        f"--risk {risk_target:g}",
        f"--horizon {horizon}",
    ]
    if start is not None:
        options.append(f"--start {start:%Y-%m-%d}")
    if seed:
        options.append(f"--seed {seed}")
    if device != "cpu":
        options.append(f"--device {device}")
    command = f"flowcap plan {where} {' '.join(options)}"
    if not found:
        # Each resource alone meets the risk, but not all of them together in enough runs.
        return f"To meet the target with staff, `{command}` finds the fewest per resource."
    return (
        f"To meet the target with staff: {'; '.join(found)}, as `{command}` finds (it also "
        "gives the fewest minutes each at today's head count)."
    )


@dataclass(frozen=True)
class ResourcePlan:
    """Minimum capacity of one resource two ways: the fewest people at their usual minutes
    (``staff``), and the fewest minutes each at the usual head count (``minutes``), for a
    backlog target of ``target_backlog_minutes`` (:func:`backlog_targets`)."""

    staff: StaffPlan
    minutes: MinutesPlan
    target_backlog_minutes: float = DEFAULT_TARGET_MINUTES
    fte_now: float | None = None

    @property
    def resource(self) -> str:
        return self.staff.resource

    @property
    def fte_needed(self) -> float | None:
        """Full-time equivalents in post that are enough, with leave and absence as now:
        today's FTE (``staff`` in service.yaml) × the share of today's capacity that the
        minutes search found enough (``None`` when it found none or nobody is in post). A
        team of 4 FTE whose fewest minutes are 624 a working day against 920 now needs
        4 × 624 / 920 = 2.7 FTE: the same capacity, counted in posts."""
        plan = self.minutes
        if not self.fte_now or plan.min_capacity_minutes is None:
            return None
        if not plan.usual_capacity_minutes > 0:
            return None
        return self.fte_now * plan.min_capacity_minutes / plan.usual_capacity_minutes

    def as_json(self) -> dict:
        """The ``flowcap plan --json`` record: the head-count search's keys, then the minutes
        search's, then the target in minutes."""
        document = self.staff.as_json()
        document["min_minutes_per_staff"] = json_number(self.minutes.min_minutes_per_staff)
        document["fewest_capacity_minutes"] = json_number(self.minutes.min_capacity_minutes)
        document["target_backlog_minutes"] = json_number(self.target_backlog_minutes)
        document["fte_now"] = json_number(self.fte_now)
        document["fte_needed"] = json_number(self.fte_needed)
        return document


def backlog_targets(
    spec: DailySpec,
    *,
    minutes: float | None = None,
    cases: float | None = None,
    weeks: float | None = None,
) -> dict[str, float]:
    """The backlog target of each resource in minutes of work waiting, from a target given one
    way (the module's rules; minutes, by default :data:`DEFAULT_TARGET_MINUTES`). Resources
    with no yardstick for ``cases`` (no steps) are left out."""
    if cases is not None:
        per_case = minutes_per_case(spec)
        return {
            name: float(cases * m)
            for name, m in zip(spec.resources, per_case, strict=True)
            if np.isfinite(m)
        }
    if weeks is not None:
        window = final_window_days(spec.horizon_days)
        return {
            name: float(weeks * 7 * expected_demand_minutes(spec, name)[-window:].mean())
            for name in spec.resources
        }
    target = DEFAULT_TARGET_MINUTES if minutes is None else float(minutes)
    return dict.fromkeys(spec.resources, target)


def _targets(spec: DailySpec, minutes, cases, weeks, warn: Progress) -> dict[str, float]:
    targets = backlog_targets(spec, minutes=minutes, cases=cases, weeks=weeks)
    left_out = [name for name in spec.resources if name not in targets]
    if left_out:
        warn(
            f"no case type has steps at {', '.join(left_out)}, so a target in cases waiting "
            "means nothing there: left out"
        )
    return targets


def plan_capacity(
    history: ServiceHistory,
    *,
    target_backlog_minutes: float | None = None,
    risk: float,
    horizon: int = 90,
    replications: int = PLAN_REPLICATIONS,
    seed: int = 0,
    start: date | None = None,
    target_backlog_cases: float | None = None,
    target_wait_weeks: float | None = None,
    device: str = "cpu",
    progress: Progress = quiet,
    warn: Progress = quiet,
) -> list[ResourcePlan]:
    """The fewest staff per resource that keep P(backlog at the horizon > B) ≤ risk, stably,
    and the fewest minutes each at the usual head count (both searches reuse one set of
    random numbers).

    B is given one way at most (the module's rules): ``target_backlog_minutes`` (by default
    :data:`DEFAULT_TARGET_MINUTES`), ``target_backlog_cases`` or ``target_wait_weeks``.
    ``device``: ``"cpu"`` (NumPy) or ``"cuda"`` (PyTorch on a GPU).
    """
    _check_device(device)
    check_risk(risk, "risk")
    check_backlog_target(target_backlog_minutes, target_backlog_cases, target_wait_weeks)
    check_replications(replications)
    check_seed(seed)
    check_horizon(horizon)
    check_simulation_size(replications, horizon, len(history.service.resources))
    check_day(start, "start")
    spec, _ = _spec(history, horizon, start, progress, warn)
    targets = _targets(spec, target_backlog_minutes, target_backlog_cases, target_wait_weeks, warn)
    plans = []
    search = dict(risk=risk, replications=replications, seed=seed, device=device)
    n = len(targets)
    for k, (resource, target) in enumerate(targets.items(), start=1):
        progress(f"Planning {resource} ({k} of {n}): head count", 2 * k - 2, 2 * n)
        staff = minimum_staff(spec, resource, target_backlog_minutes=target, **search)
        progress(f"Planning {resource} ({k} of {n}): minutes each", 2 * k - 1, 2 * n)
        minutes = minimum_minutes_per_day(spec, resource, target_backlog_minutes=target, **search)
        posts = history.service.resources.get(resource)
        plans.append(ResourcePlan(staff, minutes, target, None if posts is None else posts.staff))
    return plans


@dataclass(frozen=True)
class RecruitPlan:
    """The people to recruit to one resource to bring its list under the target by a date.

    Attributes
    ----------
    resource : the resource's name.
    target_backlog_minutes : the target, in minutes of work waiting (:func:`backlog_targets`).
    recruits : fewest extra people, recruited from ``recruit_from``, with which
        P(backlog at the end of ``by`` > target) ≤ risk; 0 when none are needed; ``None``
        when even :data:`~flowcap.plan.capacity.MAX_RECRUITS` are not enough.
    recruit_from, joins, by : recruiting starts; the recruits' first day (``recruit_from +
        lead_days``), after which they work at reduced output for ``induction_days``; the day
        the list is judged (the last day simulated, a working day).
    head_count : the resource's ``staff`` in service.yaml now.
    p_exceed_now : P(backlog at ``by`` > target) with nobody recruited.
    p_exceed : the same with ``recruits`` (with the most tried when none is enough).
    load_after_joining : expected work falling due / expected capacity after absence, from
        ``joins`` to ``by``, with them: at 1 or more the list grows again once it is down.
    candidates : ``(n, p)`` for every number simulated.
    latest_recruit_from : the latest day recruiting can start for ``recruits`` people to be
        enough (joining ``lead_days`` later; every start from ``recruit_from`` to it is enough),
        by :func:`flowcap.plan.capacity.latest_delay`; ``None`` when nobody is needed or
        none is enough.
    """

    resource: str
    target_backlog_minutes: float
    recruits: int | None
    recruit_from: date
    joins: date
    by: date
    head_count: float | None
    p_exceed_now: float
    p_exceed: float
    load_after_joining: float
    candidates: tuple[tuple[int, float], ...]
    latest_recruit_from: date | None = None

    def as_json(self) -> dict:
        """The ``flowcap plan --by --json`` record."""
        return {
            "resource": self.resource,
            "target_backlog_minutes": json_number(self.target_backlog_minutes),
            "recruits": self.recruits,
            "recruit_from": self.recruit_from.isoformat(),
            "joins": self.joins.isoformat(),
            "by": self.by.isoformat(),
            "head_count": self.head_count,
            "p_exceed_now": json_number(self.p_exceed_now),
            "p_exceed": json_number(self.p_exceed),
            "load_after_joining": json_number(self.load_after_joining),
            "latest_recruit_from": None
            if self.latest_recruit_from is None
            else self.latest_recruit_from.isoformat(),
        }


def plan_recruitment(
    history: ServiceHistory,
    *,
    by: date,
    risk: float,
    recruit_from: date | None = None,
    target_backlog_minutes: float | None = None,
    target_backlog_cases: float | None = None,
    target_wait_weeks: float | None = None,
    lead_days: int = RECRUITMENT_LEAD_DAYS,
    induction_days: int = INDUCTION_DAYS,
    induction_output: float = INDUCTION_OUTPUT,
    replications: int = PLAN_REPLICATIONS,
    seed: int = 0,
    start: date | None = None,
    device: str = "cpu",
    progress: Progress = quiet,
    warn: Progress = quiet,
) -> list[RecruitPlan]:
    """How many more people, recruited from ``recruit_from``, bring each resource's list under
    the target by ``by``: the fewest with P(backlog at the end of ``by`` > target) ≤ ``risk``.

    The days from the first day after the data (or ``start``) to ``by`` are simulated (a
    ``by`` on a closed day runs on to the next working day, as every horizon does). The
    recruits are a scenario ``recruit`` change (:class:`flowcap.model.scenario.Recruit`,
    applied by :func:`flowcap.plan.scenarios.apply_scenario`): they join ``lead_days`` after
    ``recruit_from`` (by default the first day simulated; default lead time
    :data:`~flowcap.model.scenario.RECRUITMENT_LEAD_DAYS`, an assumption) and give
    ``induction_output`` of a person's minutes for their first ``induction_days``. Each
    resource is searched on its own (:func:`flowcap.plan.capacity.minimum_added`), every
    number of recruits on the same random numbers; the others keep their staffing. The target
    is given one way at most (the module's rules; by default
    :data:`DEFAULT_TARGET_MINUTES`). Only the list on ``by`` is judged: whether it would grow
    again after is ``load_after_joining``.
    """
    _check_device(device)
    check_risk(risk, "risk")
    check_backlog_target(target_backlog_minutes, target_backlog_cases, target_wait_weeks)
    check_replications(replications)
    check_seed(seed)
    check_day(start, "start")
    check_day(by, "by")
    check_day(recruit_from, "recruit_from")
    service = history.service
    if history.has_history:
        progress("Measuring")
    first = first_day_ahead(history.measures, start)
    begin = first if recruit_from is None else recruit_from
    check_recruitment(first, begin, by, lead_days, induction_days, induction_output)
    horizon = (by - first).days + 1
    check_simulation_size(replications, horizon, len(service.resources))
    spec, _ = _spec(history, horizon, start, progress, warn)
    last = first + timedelta(days=spec.horizon_days - 1)
    joins = begin + timedelta(days=lead_days)
    targets = _targets(spec, target_backlog_minutes, target_backlog_cases, target_wait_weeks, warn)

    def recruited(name: str, start: date = begin) -> Callable[[DailySpec, int], DailySpec]:
        def with_added(model: DailySpec, n: int) -> DailySpec:
            if n == 0:
                return model
            hire = Recruit(
                resource=name,
                staff=n,
                start=start,
                salary=0,
                lead_days=lead_days,
                induction_days=induction_days,
                induction_output=induction_output,
            )
            return apply_scenario(model, first, service, [hire])[0]

        return with_added

    plans = []
    after = (last - max(joins, first)).days + 1
    for k, (name, target) in enumerate(targets.items(), start=1):
        progress(f"Planning recruits for {name} ({k} of {len(targets)})", k - 1, len(targets))
        found, p, candidates = minimum_added(
            spec,
            name,
            recruited(name),
            target_backlog_minutes=target,
            risk=risk,
            replications=replications,
            seed=seed,
            device=device,
        )
        at = found if found is not None else MAX_RECRUITS
        latest = None
        if found:  # the latest day to start recruiting them: later starts join later
            progress(f"Latest start for {name}'s recruits ({k} of {len(targets)})")
            delay, _ = latest_delay(
                spec,
                name,
                lambda model, d, name=name, n=found: recruited(name, begin + timedelta(d))(
                    model, n
                ),
                most=max(0, (last - joins).days),
                target_backlog_minutes=target,
                risk=risk,
                replications=replications,
                seed=seed,
                device=device,
            )
            latest = None if delay is None else begin + timedelta(days=delay)
        resource = service.resources.get(name)
        plans.append(
            RecruitPlan(
                resource=name,
                target_backlog_minutes=target,
                recruits=found,
                recruit_from=begin,
                joins=joins,
                by=last,
                head_count=None if resource is None else resource.staff,
                p_exceed_now=dict(candidates)[0],
                p_exceed=p,
                load_after_joining=expected_load(recruited(name)(spec, at), name, last_days=after),
                candidates=candidates,
                latest_recruit_from=latest,
            )
        )
    return plans


def _spec(history: ServiceHistory, horizon: int, start, progress: Progress, warn: Progress):
    """The daily model over ``horizon`` days, stretched to end on a working day (built once)."""
    if history.has_history:
        progress("Measuring")
    measures = history.measures
    first = first_day_ahead(measures, start)
    days, note = horizon_to_a_working_day(history.service, first, horizon)
    if note:
        warn(note)
    return build_spec(history.service, history.tables, measures, horizon_days=days, start=start)


def _check_device(device: str) -> None:
    """A device this machine can run, or an :class:`ArgumentError` saying what to install."""
    try:
        check_device(device)
    except ValueError:
        raise ArgumentError("device", "must be 'cpu' or 'cuda' (or 'cuda:N')") from None
    except DeviceUnavailableError as exc:
        raise ArgumentError("device", str(exc)) from None


def backlog_fan_table(dates: pd.DatetimeIndex, resources, percentiles: np.ndarray) -> pd.DataFrame:
    """Long table: date, resource, p5, p25, p50, p75, p95 from an (R, 5, H) array. A
    ``p_over`` column (probability over the threshold that day), when present, shows on hover."""
    rows = []
    for r, resource in enumerate(resources):
        frame = pd.DataFrame(percentiles[r].T, columns=["p5", "p25", "p50", "p75", "p95"])
        frame.insert(0, "resource", resource)
        frame.insert(0, "date", dates)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)
