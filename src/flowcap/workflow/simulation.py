"""Simulation of the days ahead, contingency options and minimum capacity, for a service folder."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from flowcap._json import json_number
from flowcap.errors import FlowcapError
from flowcap.io.scenarios_yaml import read_scenarios
from flowcap.model.calendar import working_calendar
from flowcap.plan.capacity import MinutesPlan, StaffPlan, minimum_minutes_per_day, minimum_staff
from flowcap.plan.scenarios import (
    BASELINE,
    MAX_COMBINED_OPTIONS,
    SUMMARY_KEYS,
    Combination,
    ScenarioComparison,
    cheapest_combination,
    compare_scenarios,
    inert_options,
)
from flowcap.report.fan_chart import backlog_fan_table
from flowcap.simulate.build import build_spec
from flowcap.simulate.daily import DailyResult, DailySpec, DeviceUnavailableError, check_device
from flowcap.simulate.daily import run as run_daily
from flowcap.simulate.daily.spec import PERCENTILES
from flowcap.waitinglist import pressure, queue_load, relief_capacity, target_queue_size
from flowcap.workflow.data import Progress, _history, _quiet


@dataclass
class SimulationReport:
    """A Monte Carlo run of the days ahead from where the data end (or from ``start``).

    ``combination`` is the cheapest combination of options meeting the risk target (or the
    one coming closest, ``meets_target`` false) when the run was asked to optimise.
    """

    service_name: str
    start: date
    spec: DailySpec
    result: DailyResult
    threshold_minutes: float
    cost_per_hour: dict[str, float | None]
    comparison: ScenarioComparison | None = None
    combination: Combination | None = None
    risk_target: float = 0.05
    target_working_days: int | None = None
    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")

    def baseline_cost(self, resource: str) -> float | None:
        """Rostered cost over the horizon: staff × minutes/60 × cost per hour, summed (pounds)."""
        rate = self.cost_per_hour.get(resource)
        if rate is None:
            return None
        r = self.spec.resources.index(resource)
        hours = (self.spec.staff[r] * self.spec.minutes_per_staff[r]).sum() / 60
        return float(hours * rate)

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

    def as_json(self) -> dict:
        """The ``flowcap simulate --json`` document (see the command's help and the README)."""
        if self.comparison is not None:
            document = self.comparison.as_json(self.risk_target)
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
                "recommendation": "Only the baseline was simulated: give contingency options in "
                "scenarios.yaml (or --scenarios FILE) to compare them.",
            }
        if self.combination is not None:
            document["cheapest_combination"] = self.combination.as_json()
        document["baseline_by_day"] = self.by_day()
        document["waiting_list_check"] = self.waiting_list_check()
        return document

    def waiting_list_check(self) -> dict:
        """The waiting-list formulas beside the simulation, per resource, in minutes of work
        (the simulation is the reference; these are the quick check a manager can follow).

        ``queue_load`` = mean work falling due a day / mean capacity a day over the horizon
        (above 1 the list grows); ``target_queue_size_minutes`` = demand × target wait / 4,
        the list that keeps most first contacts within the target (target wait: the service's
        first-contact target in working days, as calendar days); ``queue_size_minutes`` the
        backlog at the start; ``relief_capacity_minutes_per_day`` the capacity a day that
        brings the list to its target size by the horizon; ``pressure`` = 2 × the simulated
        mean wait for first contact / target wait (below 1: on course). Fong et al. 2022,
        :mod:`flowcap.waitinglist`."""
        days = self.spec.horizon_days
        target_days = None
        if self.target_working_days:
            target_days = self.target_working_days * 7 / max(len(self.working_days), 1)
        opening = self.spec.opening_backlog_minutes
        document = {}
        for r, resource in enumerate(self.spec.resources):
            demand = float(self.result.demand_mean[r].mean())
            capacity = float(self.result.capacity_mean[r].mean())
            queue = 0.0 if opening is None else float(np.asarray(opening)[r].sum())
            entry = {
                "queue_load": json_number(queue_load(demand, capacity)) if capacity > 0 else None,
                "queue_size_minutes": json_number(queue),
                "target_queue_size_minutes": None,
                "relief_capacity_minutes_per_day": None,
                "pressure": None,
            }
            if target_days:
                target_size = float(target_queue_size(demand, target_days))
                entry["target_queue_size_minutes"] = json_number(target_size)
                entry["relief_capacity_minutes_per_day"] = json_number(
                    relief_capacity(demand, queue, target_size, time_to_target=days)
                )
                wait = self.result.summary(resource).get("mean_first_contact_wait_days")
                if wait is not None and math.isfinite(wait):
                    entry["pressure"] = json_number(pressure(wait, target_days))
            document[resource] = entry
        return document


def simulate_folder(
    folder: str | Path,
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
    progress: Progress = _quiet,
    warn: Progress = _quiet,
) -> SimulationReport:
    """Simulate every resource's backlog ``horizon`` days ahead, ``replications`` times.

    Contingency options come from ``scenarios`` or, when it is ``None``, from the folder's
    ``scenarios.yaml`` if there is one; each runs with the baseline's random numbers. Waits are
    measured, and days over the service's first-contact target counted. With ``optimise``,
    the cheapest combination of the options that keeps every resource's final backlog at or
    under ``threshold_minutes`` in at least 1 − ``risk_target`` of the runs is searched for
    (:func:`flowcap.plan.scenarios.cheapest_combination`). ``device``: ``"cpu"`` (NumPy) or
    ``"cuda"`` (PyTorch on a GPU, ``pip install 'flowcap[gpu]'``).
    """
    _check_device(device)
    if replications < 1:
        raise FlowcapError("--replications must be at least 1")
    if not 0 < risk_target < 1:
        raise FlowcapError("--risk must be between 0 and 1")
    _check_seed(seed)
    if not math.isfinite(threshold_minutes) or threshold_minutes < 0:
        raise FlowcapError("--threshold-minutes must be a number of minutes, 0 or more")
    service, data, measures = _history(folder, progress)
    spec, first = _spec_to_a_working_day(service, data, measures, horizon, start, warn)
    options_file = Path(scenarios) if scenarios else Path(folder) / "scenarios.yaml"
    if scenarios and not options_file.is_file():
        raise FlowcapError(f"no scenarios file at {options_file}")
    options = read_scenarios(options_file, service) if options_file.is_file() else {}
    if options:
        last = first + timedelta(days=spec.horizon_days - 1)
        for reason in inert_options(options, first, last).values():
            warn(f"{reason} It changes nothing in this run.")
    if optimise and not options:
        raise FlowcapError(
            "--optimise combines contingency options: give them in scenarios.yaml in the folder "
            "or with --scenarios FILE"
        )
    if optimise and len(options) > MAX_COMBINED_OPTIONS:
        raise FlowcapError(
            f"--optimise combines at most {MAX_COMBINED_OPTIONS} options; "
            f"{options_file} has {len(options)}"
        )
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
    costs = {name: r.cost_per_hour for name, r in service.resources.items()}
    return SimulationReport(
        service.name,
        first,
        spec,
        result,
        threshold_minutes,
        costs,
        comparison,
        combination,
        risk_target,
        target,
        service.working_days,
    )


@dataclass(frozen=True)
class ResourcePlan:
    """Minimum capacity of one resource two ways: the fewest people at their usual minutes
    (``staff``), and the fewest minutes each at the usual head count (``minutes``)."""

    staff: StaffPlan
    minutes: MinutesPlan

    @property
    def resource(self) -> str:
        return self.staff.resource

    def as_json(self) -> dict:
        """The ``flowcap plan --json`` record: the issue's keys, then the minutes search's."""
        document = self.staff.as_json()
        document["min_minutes_per_staff"] = json_number(self.minutes.min_minutes_per_staff)
        document["fewest_capacity_minutes"] = json_number(self.minutes.min_capacity_minutes)
        return document


def plan_folder(
    folder: str | Path,
    *,
    target_backlog_minutes: float,
    risk: float,
    horizon: int = 90,
    replications: int = 2000,
    seed: int = 0,
    start: date | None = None,
    device: str = "cpu",
    progress: Progress = _quiet,
    warn: Progress = _quiet,
) -> list[ResourcePlan]:
    """The fewest staff per resource that keep P(backlog at the horizon > B) ≤ risk, stably,
    and the fewest minutes each at the usual head count (both searches reuse one set of
    random numbers).

    ``device``: ``"cpu"`` (NumPy) or ``"cuda"`` (PyTorch on a GPU).
    """
    _check_device(device)
    if not 0 < risk < 1:
        raise FlowcapError("--risk must be between 0 and 1")
    if not math.isfinite(target_backlog_minutes) or target_backlog_minutes < 0:
        raise FlowcapError("--target-backlog-minutes must not be negative")
    _check_seed(seed)
    service, data, measures = _history(folder, progress)
    spec, _ = _spec_to_a_working_day(service, data, measures, horizon, start, warn)
    plans = []
    search = dict(
        target_backlog_minutes=target_backlog_minutes,
        risk=risk,
        replications=replications,
        seed=seed,
        device=device,
    )
    for k, resource in enumerate(spec.resources, start=1):
        n = len(spec.resources)
        progress(f"Planning {resource} ({k} of {n}): head count", 2 * k - 2, 2 * n)
        staff = minimum_staff(spec, resource, **search)
        progress(f"Planning {resource} ({k} of {n}): minutes each", 2 * k - 1, 2 * n)
        plans.append(ResourcePlan(staff, minimum_minutes_per_day(spec, resource, **search)))
    return plans


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise FlowcapError(f"--seed must be 0 or more, not {seed}")


def _spec_to_a_working_day(service, data, measures, horizon, start, warn):
    """The spec over ``horizon`` days, stretched to end on a working day of the service.

    The backlog is judged at the end of the last day: on a Sunday or a bank holiday that is
    the work that has fallen due since the last working day with nobody there to do it, so
    the verdict (and the fewest staff) would swing with the weekday the horizon ends on.
    """
    spec, first = build_spec(service, data, measures, horizon_days=horizon, start=start)
    if horizon < 1:
        return spec, first
    last = first + timedelta(days=horizon - 1)
    ahead = working_calendar(service, last, last + timedelta(days=14))
    working = ahead.loc[ahead["is_working_day"], "date"]
    if working.empty or working.iloc[0].date() == last:
        return spec, first
    end = working.iloc[0].date()
    extra = (end - last).days
    warn(
        f"the horizon's last day, {last:%a %d %b %Y}, is not a working day: simulating "
        f"{extra} more day{'s' if extra > 1 else ''} to the end of {end:%a %d %b %Y}, so the "
        "backlog is judged after a working day"
    )
    spec, first = build_spec(service, data, measures, horizon_days=horizon + extra, start=start)
    return spec, first


def _check_device(device: str) -> None:
    """A device this machine can run, or a :class:`FlowcapError` saying what to install."""
    try:
        check_device(device)
    except (DeviceUnavailableError, ValueError) as exc:
        raise FlowcapError(str(exc)) from None
