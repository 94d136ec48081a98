"""The days ahead of a service: its backlog simulated with contingency options, and the
minimum capacity that keeps it in hand (``flowcap simulate`` and ``flowcap plan``)."""

from __future__ import annotations

import shlex
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
    check_day,
    check_horizon,
    check_minutes,
    check_optimise,
    check_replications,
    check_risk,
    check_seed,
    check_simulation_size,
)
from flowcap.errors import FlowcapError
from flowcap.io.scenarios_yaml import read_scenarios
from flowcap.model import Service
from flowcap.model.scenario import BASELINE
from flowcap.plan.capacity import MinutesPlan, StaffPlan, minimum_minutes_per_day, minimum_staff
from flowcap.plan.scenarios import (
    MAX_COMBINED_OPTIONS,
    SUMMARY_KEYS,
    Combination,
    ScenarioComparison,
    baseline_cost,
    cheapest_combination,
    compare_scenarios,
    inert_options,
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
        now = "" if resource is None else f" (head count now {resource.staff})"
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
    (``staff``), and the fewest minutes each at the usual head count (``minutes``)."""

    staff: StaffPlan
    minutes: MinutesPlan

    @property
    def resource(self) -> str:
        return self.staff.resource

    def as_json(self) -> dict:
        """The ``flowcap plan --json`` record: the head-count search's keys, then the minutes
        search's."""
        document = self.staff.as_json()
        document["min_minutes_per_staff"] = json_number(self.minutes.min_minutes_per_staff)
        document["fewest_capacity_minutes"] = json_number(self.minutes.min_capacity_minutes)
        return document


def plan_capacity(
    history: ServiceHistory,
    *,
    target_backlog_minutes: float,
    risk: float,
    horizon: int = 90,
    replications: int = PLAN_REPLICATIONS,
    seed: int = 0,
    start: date | None = None,
    device: str = "cpu",
    progress: Progress = quiet,
    warn: Progress = quiet,
) -> list[ResourcePlan]:
    """The fewest staff per resource that keep P(backlog at the horizon > B) ≤ risk, stably,
    and the fewest minutes each at the usual head count (both searches reuse one set of
    random numbers).

    ``device``: ``"cpu"`` (NumPy) or ``"cuda"`` (PyTorch on a GPU).
    """
    _check_device(device)
    check_risk(risk, "risk")
    check_minutes(target_backlog_minutes, "target_backlog_minutes")
    check_replications(replications)
    check_seed(seed)
    check_horizon(horizon)
    check_simulation_size(replications, horizon, len(history.service.resources))
    check_day(start, "start")
    spec, _ = _spec(history, horizon, start, progress, warn)
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
