"""A case-level simulation of a service's pathway (``flowcap des``), with what makes its
numbers less than they seem."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from flowcap.checks import (
    check_day,
    check_hours,
    check_pathway_size,
    check_replications,
    check_seed,
)
from flowcap.errors import FlowcapError
from flowcap.progress import Progress, quiet
from flowcap.simulate.pathway.build import build_pathway_spec, hour_shares_of
from flowcap.simulate.pathway.spec import PathwaySpec

if TYPE_CHECKING:  # the engine is imported when simulating: Numba compiles it then
    from flowcap.history import ServiceHistory
    from flowcap.simulate.pathway import PathwayResult


@dataclass(frozen=True)
class PathwayReport:
    """A pathway simulation of one service: what was run, from when, and its result."""

    service_name: str
    start: date
    spec: PathwaySpec
    result: PathwayResult

    def as_json(self) -> dict:
        document = self.result.summary()
        document["start"] = self.start.isoformat()
        document["warnings"] = self.warnings()
        return document

    def warnings(self) -> list[str]:
        """What makes these numbers less than they seem: nobody on duty at a step cases
        reach, a team busy all the time it is on duty, a window too short for the pathway."""
        result, found = self.result, []
        on_duty = result.on_duty_minutes.sum(axis=0)
        utilisation = result.utilisation()
        joined = result.joined.sum(axis=0)
        for s, step in enumerate(result.steps):
            r = int(result.step_resource[s])
            if joined[s] and on_duty[r] == 0:
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
        return found


def simulate_service_pathway(
    history: ServiceHistory,
    *,
    hours: float = 24 * 7 * 13,
    warmup_hours: float = 24 * 7 * 2,
    replications: int = 20,
    seed: int = 0,
    start: date | None = None,
    progress: Progress = quiet,
) -> PathwayReport:
    """Simulate the folder's ``pathway:`` ``replications`` times over ``warmup_hours`` +
    ``hours`` from midnight on ``start`` (default: the day after the last referral, or today
    with no history); statistics cover the ``hours`` after the warm-up."""
    check_hours(hours)
    check_hours(warmup_hours, "warmup_hours", allow_zero=True)
    check_replications(replications)
    check_pathway_size(replications, warmup_hours + hours)
    check_seed(seed)
    check_day(start, "start")
    from flowcap.simulate.pathway import simulate_pathway

    service, data = history.service, history.tables
    if service.pathway is None:
        raise FlowcapError(
            f"{history.where()}: service.yaml has no pathway: section (the steps a case goes "
            "through, each with resource, service_minutes and next); see the README"
        )
    referrals = data.referrals if len(data.referrals) else None
    if start is None:
        if referrals is not None:
            start = (pd.Timestamp(referrals["referral_date"].max()) + pd.Timedelta(days=1)).date()
        else:
            start = date.today()
    days = math.ceil((warmup_hours + hours) / 24) + 1
    shares = None
    if referrals is not None and service.event_log is not None and not service.pathway.arrivals:
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
    )
    return PathwayReport(service.name, start, spec, result)
