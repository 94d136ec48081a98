"""A case-level simulation of a service's pathway (``flowcap des``), with what makes its
numbers less than they seem.

It starts empty after a warm-up, or (``from_today``) from the waiting list at the end of the
data (:mod:`.today`): the cases still waiting then, in the queues of their steps since the
days their work fell due, with no warm-up, from midnight after the last day measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from flowcap.checks import (
    check_day,
    check_hours,
    check_pathway_cases,
    check_pathway_size,
    check_replications,
    check_seed,
)
from flowcap.errors import FlowcapError
from flowcap.progress import Progress, quiet
from flowcap.simulate.pathway.build import (
    HISTORY_WEEKS,
    build_pathway_spec,
    case_type_pathway,
    hour_shares_of,
)
from flowcap.simulate.pathway.spec import PathwaySpec
from flowcap.simulate.pathway.today import WaitingStart, waiting_start

if TYPE_CHECKING:  # the engine is imported when simulating: Numba compiles it then
    from flowcap.history import ServiceHistory
    from flowcap.simulate.pathway import PathwayResult

#: Simulated and measured utilisation further apart than this (a share) get a note.
UTILISATION_GAP = 0.10
#: The default warm-up: two weeks (more for a pathway built from the case types).
WARMUP_HOURS = 24 * 7 * 2


@dataclass(frozen=True)
class PathwayReport:
    """A pathway simulation of one service: what was run, from when, and its result."""

    service_name: str
    start: date
    spec: PathwaySpec
    result: PathwayResult
    #: ``pathway`` (service.yaml's ``pathway:``) or ``case_types`` (built from their steps).
    built_from: str = "pathway"
    #: Measured utilisation per resource over the recent history (:func:`measured_utilisation`),
    #: or None without history.
    measured: dict[str, float | None] | None = None
    #: The waiting list it started from (``from_today``), or None: it started empty.
    waiting_start: WaitingStart | None = None

    def as_json(self) -> dict:
        document = self.result.summary()
        document["start"] = self.start.isoformat()
        document["pathway_from"] = self.built_from
        document["utilisation_check"] = self.utilisation_check()
        document["warnings"] = self.warnings()
        if self.waiting_start is not None:
            document["from_today"] = self.waiting_start.as_json(self.start)
        return document

    def utilisation_check(self) -> dict[str, dict]:
        """Per resource: the ``simulated`` utilisation (busy / on duty), the ``measured``
        one (activity / capacity over the history's last weeks, None without it) and
        ``gap_points``, simulated minus measured in percentage points."""
        simulated = self.result.utilisation()
        check = {}
        for r, name in enumerate(self.result.resources):
            sim = float(simulated[r]) if math.isfinite(simulated[r]) else None
            measured = None if self.measured is None else self.measured.get(name)
            gap = None if sim is None or measured is None else 100 * (sim - measured)
            check[name] = {"simulated": sim, "measured": measured, "gap_points": gap}
        return check

    def warnings(self) -> list[str]:
        """What makes these numbers less than they seem: nobody on duty at a step cases
        reach, a team busy all the time it is on duty, a window too short for the pathway."""
        result, found = self.result, []
        carried = self.waiting_start
        if carried is not None and carried.cases.empty and carried.not_loaded.empty:
            found.append(
                f"nobody was waiting at the end of the data ({carried.data_end:%d %b %Y}), so "
                "the simulation started empty, as without --from-today (and with no warm-up: "
                "empty is the real state)"
            )
        if carried is not None and not carried.not_loaded.empty:
            missing = carried.not_loaded
            pairs = ", ".join(
                f"{row.cases:,} {row.case_type} at {row.resource}"
                for row in missing.itertuples(index=False)
            )
            found.append(
                f"{int(missing['cases'].sum()):,} cases waiting at the end of the data were "
                f"left out: their case type's pathway never visits the resource ({pairs})"
            )
        on_duty = result.on_duty_minutes.sum(axis=0)
        utilisation = result.utilisation()
        joined = result.joined.sum(axis=0)
        for s, step in enumerate(result.steps):
            r = int(result.step_resource[s])
            if r >= 0 and joined[s] and on_duty[r] == 0:
                found.append(
                    f"nobody from {result.resources[r]} is on duty at any time in the window, "
                    f"so the {int(joined[s]):,} cases that reached {step} waited to the end"
                )
        for r, name in enumerate(result.resources):
            if on_duty[r] and utilisation[r] >= 0.98:
                found.append(
                    f"{name} is busy {utilisation[r]:.0%} of the time it is on duty: the queue "
                    "may be growing without limit, and then its waits depend on how long the "
                    "run is rather than settling"
                )
        unfinished = result.unfinished_share()
        if unfinished is not None and unfinished > 0.05:
            found.append(
                f"{unfinished:.0%} of the cases that arrived in the window were still in the "
                "pathway at its end; the times end to end count only those that had left, so "
                "they are understated: run with a longer --hours"
            )
        for name, row in self.utilisation_check().items():
            gap = row["gap_points"]
            if gap is not None and abs(gap) > 100 * UTILISATION_GAP:
                found.append(
                    f"{name} is busy {row['simulated']:.0%} of its time on duty in the "
                    f"simulation against {row['measured']:.0%} measured over the last "
                    f"{HISTORY_WEEKS} weeks: the pathway's minutes or routing disagree with the "
                    "history (or it leaves out some of the team's work)"
                )
        return found


def measured_utilisation(
    history: ServiceHistory, weeks: int = HISTORY_WEEKS
) -> dict[str, float | None] | None:
    """Activity / capacity per resource over the last ``weeks`` weeks of the measures (the
    weeks the simulated arrivals are averaged over), as ``DailyMeasures.summary`` counts it:
    all the activity over the capacity of the working days; None without history, None for
    a resource with no capacity."""
    measures = history.measures
    if measures is None or not len(measures.table):
        return None
    table = measures.table
    recent = table[table["date"] > table["date"].max() - pd.Timedelta(weeks=weeks)]
    found: dict[str, float | None] = {}
    for resource, days in recent.groupby("resource", sort=False):
        working = days[days["is_working_day"]]
        if working.empty:
            working = days
        capacity = float(working["capacity_minutes"].sum())
        activity = float(days["activity_minutes"].sum())
        found[str(resource)] = activity / capacity if capacity > 0 else None
    return found


def simulate_service_pathway(
    history: ServiceHistory,
    *,
    hours: float = 24 * 7 * 13,
    warmup_hours: float | None = None,
    replications: int = 20,
    seed: int = 0,
    start: date | None = None,
    progress: Progress = quiet,
    from_today: bool = False,
) -> PathwayReport:
    """Simulate the folder's ``pathway:`` (without one, the pathway its case types' steps
    describe) ``replications`` times over ``warmup_hours`` + ``hours`` from midnight on
    ``start`` (default: the day after the last referral, or today with no history);
    statistics cover the ``hours`` after the warm-up, by default 2 weeks, and for a pathway
    built from the case types 2 weeks more than its longest case lasts (a simulation starts
    empty, and the weekly sessions of cases referred months ago are part of the load). The
    simulated utilisation is set
    beside the measured one (:meth:`PathwayReport.utilisation_check`).

    With ``from_today`` it starts instead from the cases still waiting at the end of the
    data (:func:`~flowcap.simulate.pathway.today.waiting_start`), at midnight after the last
    day measured, with no warm-up (the start is the real state; giving ``warmup_hours`` or
    ``start`` is refused). Their waits count from when they began waiting."""
    check_hours(hours)
    if warmup_hours is not None:
        check_hours(warmup_hours, "warmup_hours", allow_zero=True)
    check_replications(replications)
    check_seed(seed)
    check_day(start, "start")
    from flowcap.simulate.pathway import simulate_pathway

    service, data = history.service, history.tables
    measures = None
    if from_today:
        if warmup_hours is not None:
            raise FlowcapError(
                "--from-today starts from the cases waiting at the end of the data, the real "
                "state, so it has no warm-up: leave out --warmup-hours"
            )
        if start is not None:
            raise FlowcapError("--from-today starts the day after the data end: leave out --start")
        measures = history.require_measures("des --from-today")
        start = (measures.period[1] + pd.Timedelta(days=1)).date()
        warmup_hours = 0.0
    if warmup_hours is None:
        warmup_hours = WARMUP_HOURS
        if service.pathway is None:
            warmup_hours += 24 * case_type_pathway(service).longest_days
    check_pathway_size(replications, warmup_hours + hours)
    referrals = data.referrals if len(data.referrals) else None
    if start is None:
        if referrals is not None:
            start = (pd.Timestamp(referrals["referral_date"].max()) + pd.Timedelta(days=1)).date()
        else:
            start = date.today()
    days = math.ceil((warmup_hours + hours) / 24) + 1
    shares = None
    declared = service.pathway is not None and service.pathway.arrivals
    if referrals is not None and service.event_log is not None and not declared:
        # The log has times of day, which the referrals it became have lost.
        progress("Reading the event log's arrival times")
        events = history.event_log.events
        shares = hour_shares_of(events.groupby("case", observed=True)["timestamp"].min())
    spec = build_pathway_spec(
        service,
        start=start,
        days=days,
        referrals=referrals,
        roster=data.roster.rows,
        hour_shares=shares,
    )
    # The referrals it would draw, bounded before any is (the rates are known only now).
    check_pathway_cases(
        replications, warmup_hours + hours, float(spec.arrival_rate_per_hour.sum()) / 168
    )

    carried = None
    if measures is not None:
        carried = waiting_start(service, measures, data, spec)
        progress(f"Carrying in {len(carried.cases):,} cases waiting on {carried.data_end}")

    def tick(done: int) -> None:
        progress(f"Simulated {done} of {replications} replications", done, replications)

    progress(
        f"Simulating {replications} replications of {hours + warmup_hours:,.0f} hours",
        0,
        replications,
    )
    result = simulate_pathway(
        spec,
        hours=hours,
        warmup_hours=warmup_hours,
        replications=replications,
        seed=seed,
        progress=tick,
        carried=None if carried is None else carried.carried(),
    )
    return PathwayReport(
        service.name,
        start,
        spec,
        result,
        built_from="pathway" if service.pathway is not None else "case_types",
        measured=measured_utilisation(history) if referrals is not None else None,
        waiting_start=carried,
    )
