"""One cell of a sweep: a service, one of its options and the grid's parameters, simulated.

The service is opened once, where the sweep starts (:func:`prepare_service`: its folder
imported or its stored history read, the daily model of the days ahead built as ``flowcap
simulate`` builds it). A worker then gets that model, plain arrays, and needs neither the
folder nor the store: :func:`run_cell` applies the parameters to the baseline, then the
option's dated changes (:func:`flowcap.plan.scenarios.apply_scenario`), and runs the daily
Monte Carlo with waits, as ``flowcap simulate`` does.

Parameters, applied to the baseline before the option:

- ``staff.RESOURCE: n`` — n people rostered on each of the resource's working days in the
  horizon (its days with people rostered, else its days with minutes; ``flowcap plan``'s
  head count), at their usual minutes each. The cost follows: ``n × minutes / 60 ×
  cost_per_hour`` a working day. An option then acts on those n (a vacancy of one leaves
  n − 1).
- ``demand_factor: f`` — every case type's expected new cases on every day × f (as a
  ``demand`` change over the whole horizon for every case type). Work already waiting, and
  existing cases' work falling due, are unchanged.
- ``agency_day_rate: £`` — the day rate of every agency change in the cell's option (what an
  agency person costs a working day): the cost follows, the backlog does not. It changes
  nothing for the baseline or an option that books no agency staff.

Per resource the cell gives the final backlog's mean and 90th percentile (minutes), the
chance it ends over the threshold, the mean wait in days (every minute of work falling due,
work still waiting at the end counted at the age it has reached) and the cost over the
horizon (pounds: the rostered cost plus the option's extra; ``NaN`` for a resource without
``cost_per_hour``, whose rostered cost is unknown): the numbers ``flowcap simulate --json``
gives under these names.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from flowcap.checks import check_simulation_size
from flowcap.errors import FlowcapError
from flowcap.history import ServiceHistory, open_folder, open_stored
from flowcap.model import Service
from flowcap.model.scenario import BASELINE, Agency, Change
from flowcap.plan.scenarios import apply_scenario, baseline_cost, inert_options
from flowcap.progress import Progress, quiet
from flowcap.simulate.build import build_spec, first_day_ahead, horizon_to_a_working_day
from flowcap.simulate.daily import DailySpec
from flowcap.simulate.daily import run as run_daily
from flowcap.sweep.file import AGENCY_DAY_RATE, DEMAND_FACTOR, STAFF, Sweep
from flowcap.sweep.grid import Cell

#: What each cell gives per resource, in this order (``flowcap simulate``'s names).
METRICS = (
    "final_backlog_mean",
    "final_backlog_p90",
    "p_final_backlog_over_threshold",
    "mean_wait_days",
    "cost",
)


@dataclass(frozen=True)
class PreparedService:
    """A service ready to simulate: ``source`` as the sweep names it; ``spec`` the baseline
    daily model from ``start`` (the horizon stretched to end on a working day, as ``flowcap
    simulate`` does); ``options`` each scenario's changes by name; ``fingerprint`` a hash of
    all of it (a finished cell is reused on resuming only when it still matches)."""

    source: str
    service: Service
    spec: DailySpec
    start: date
    options: dict[str, tuple[Change, ...]]
    fingerprint: str

    @property
    def name(self) -> str:
        return self.service.name


@dataclass(frozen=True)
class Settings:
    """What every cell of a sweep shares."""

    replications: int
    threshold_minutes: float

    @classmethod
    def of(cls, sweep: Sweep) -> Settings:
        return cls(sweep.replications, sweep.threshold_minutes)


def open_source(source: str, base: Path, progress: Progress = quiet, warn: Progress = quiet):
    """The :class:`~flowcap.history.ServiceHistory` a sweep names: a folder (relative to
    ``base``, the sweep file's folder) when there is one or the name looks like a path (a
    ``/``, a leading ``.`` or ``~``), else a service in the store by name."""
    folder = (base / Path(source).expanduser()).resolve()
    if folder.is_dir() or "/" in source or "\\" in source or source.startswith((".", "~")):
        return open_folder(folder, progress=progress, warn=warn)
    return open_stored(source, progress=progress)


def prepare_service(
    history: ServiceHistory, source: str, sweep: Sweep, warn: Progress = quiet
) -> PreparedService:
    """The baseline model of ``history`` over the sweep's horizon, and its options.

    ``warn`` hears, once per service, when the horizon is stretched to a working day and
    when an option the sweep names changes nothing in the horizon.
    """
    service = history.service
    measures = history.measures
    first = first_day_ahead(measures, sweep.start)
    days, note = horizon_to_a_working_day(service, first, sweep.horizon_days)
    if note:
        warn(f"{source}: {note}")
    check_simulation_size(sweep.replications, days, len(service.resources))
    spec, start = build_spec(
        service, history.tables, measures, horizon_days=days, start=sweep.start
    )
    options = {scenario.name: scenario.changes for scenario in history.scenarios}
    named = [s for s in history.scenarios if s.name in sweep.options]
    last = start + timedelta(days=days - 1)
    for reason in inert_options(named, start, last).values():
        warn(f"{source}: {reason} It changes nothing in this sweep.")
    return PreparedService(
        source, service, spec, start, options, _fingerprint(service, spec, start, options)
    )


def _fingerprint(
    service: Service, spec: DailySpec, start: date, options: dict[str, tuple[Change, ...]]
) -> str:
    digest = hashlib.sha256()
    digest.update(service.model_dump_json().encode())
    digest.update(start.isoformat().encode())
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        digest.update(field.name.encode())
        if isinstance(value, np.ndarray):
            digest.update(str(value.dtype).encode() + str(value.shape).encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        else:
            digest.update(repr(value).encode())
    digest.update(repr(sorted(options.items())).encode())
    return digest.hexdigest()


def cell_spec(prepared: PreparedService, cell: Cell) -> tuple[DailySpec, np.ndarray]:
    """The cell's model and its cost per resource per day, shape (R_n, H), pounds: the
    parameters applied to the baseline, then the option (see the module)."""
    spec = prepared.spec
    day_rate = None
    for key, value in cell.params:
        if key == AGENCY_DAY_RATE:
            day_rate = float(value)
        elif key == DEMAND_FACTOR:
            spec = dataclasses.replace(spec, mean_cases_per_day=spec.mean_cases_per_day * value)
        else:
            spec = with_head_count(spec, key.removeprefix(STAFF), int(value))
    cost = baseline_cost(spec, prepared.service)
    if cell.option == BASELINE:
        return spec, cost
    changes = prepared.options.get(cell.option)
    if changes is None:
        known = ", ".join(repr(name) for name in prepared.options) or "none"
        raise FlowcapError(
            f"{prepared.source} has no option {cell.option!r} in its scenarios.yaml "
            f"(options: {known})"
        )
    if day_rate is not None:
        changes = [with_day_rate(change, day_rate) for change in changes]
    changed, extra = apply_scenario(spec, prepared.start, prepared.service, changes)
    return changed, cost + extra


def with_day_rate(change: Change, day_rate: float) -> Change:
    """``change`` with its day rate set to ``day_rate`` pounds when it books agency staff."""
    if isinstance(change, Agency):
        return change.model_copy(update={"day_rate": day_rate})
    return change


def with_head_count(spec: DailySpec, resource: str, people: int) -> DailySpec:
    """``spec`` with ``people`` rostered at ``resource`` on each of its working days (its days
    with people rostered, else with minutes: ``flowcap plan``'s head count)."""
    if resource not in spec.resources:
        raise FlowcapError(
            f"no resource {resource!r} to set staff.{resource} (resources: "
            f"{', '.join(spec.resources)})"
        )
    r = spec.resources.index(resource)
    days = spec.staff[r] > 0
    if not days.any():
        days = spec.minutes_per_staff[r] > 0
    if not days.any():
        raise FlowcapError(f"{resource} has no working days in the horizon to staff")
    staff = spec.staff.copy()
    staff[r, days] = people
    return dataclasses.replace(spec, staff=staff)


def run_cell(prepared: PreparedService, cell: Cell, settings: Settings) -> list[dict]:
    """Simulate one cell: one row per resource (in the service's order), each with
    ``resource`` and the :data:`METRICS` as floats (NaN where there is none)."""
    spec, cost = cell_spec(prepared, cell)
    result = run_daily(
        spec,
        settings.replications,
        cell.seed,
        threshold_minutes=settings.threshold_minutes,
        waits=True,
        target_working_days=prepared.service.first_contact_target_working_days,
    )
    rows = []
    for r, resource in enumerate(spec.resources):
        summary = result.summary(resource)
        priced = prepared.service.resources[resource].cost_per_hour is not None
        rows.append(
            {
                "resource": resource,
                **{key: float(summary[key]) for key in METRICS[:-1]},
                "cost": float(cost[r].sum()) if priced else float("nan"),
            }
        )
    return rows
