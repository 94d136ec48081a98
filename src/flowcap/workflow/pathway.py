"""Case-level pathway simulation of a service folder (``flowcap des``), and a pathway fitted
to an event log and held up against it (``flowcap calibrate``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flowcap._json import json_number
from flowcap.errors import FlowcapError
from flowcap.io.eventlog import read_event_log
from flowcap.io.pseudonym import load_key
from flowcap.processmap.calibrate import Calibration, calibrate
from flowcap.processmap.dfg import complete_events
from flowcap.simulate.pathway.build import build_pathway_spec, hour_shares_of
from flowcap.simulate.pathway.result import mean_ci95
from flowcap.simulate.pathway.spec import PathwaySpec
from flowcap.workflow.data import Progress, _history, _quiet, event_log_source

if TYPE_CHECKING:  # the engine is imported when simulating: Numba compiles it then
    from flowcap.simulate.pathway import PathwayResult


#: The longest run ``des`` takes (hours): 100 years of simulated time.
MAX_HOURS = 876_600


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


def des_folder(
    folder: str | Path,
    *,
    hours: float = 24 * 7 * 13,
    warmup_hours: float = 24 * 7 * 2,
    replications: int = 20,
    seed: int = 0,
    start: date | None = None,
    progress: Progress = _quiet,
) -> PathwayReport:
    """Simulate the folder's ``pathway:`` ``replications`` times over ``warmup_hours`` +
    ``hours`` from midnight on ``start`` (default: the day after the last referral, or today
    with no history); statistics cover the ``hours`` after the warm-up."""
    if not (math.isfinite(hours) and 0 < hours <= MAX_HOURS):
        raise FlowcapError(f"--hours must be more than 0 and at most {MAX_HOURS:,} (100 years)")
    if not (math.isfinite(warmup_hours) and 0 <= warmup_hours <= MAX_HOURS):
        raise FlowcapError(f"--warmup-hours must be between 0 and {MAX_HOURS:,} (100 years)")
    if replications < 1:
        raise FlowcapError("--replications must be at least 1")
    from flowcap.simulate.pathway import simulate_pathway

    service, data, _ = _history(folder, progress)
    if service.pathway is None:
        raise FlowcapError(
            f"{Path(folder) / 'service.yaml'} has no pathway: section (the steps a case goes "
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
        config = service.event_log
        events = read_event_log(
            config.path_in(Path(folder)), config, service_timezone=service.timezone, key=load_key()
        ).events
        shares = hour_shares_of(events.groupby("case", observed=True)["timestamp"].min())
    spec = build_pathway_spec(
        service,
        start=start,
        days=days,
        referrals=referrals,
        roster=data.roster,
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


@dataclass(frozen=True)
class CalibrationReport:
    """A pathway fitted to an event log, simulated, and set beside the log.

    ``steps`` has one row per step: visits per case, and the mean and 90th-percentile time at
    the step (waiting plus doing it, hours), in the log and in the simulation;
    ``end_to_end`` the time from a case's first to last event, logged and simulated.
    """

    log_name: str
    calibration: Calibration
    result: PathwayResult
    steps: pd.DataFrame
    end_to_end: dict
    #: The window simulated (hours): long enough for the log's cases; ``des`` on the
    #: calibrated service needs as long a one for its times end to end.
    warmup_hours: float = 0.0
    hours: float = 0.0

    def as_json(self) -> dict:
        return {
            "log": self.log_name,
            "cases": self.calibration.cases,
            "weeks": round(self.calibration.weeks, 2),
            "replications": self.result.replications,
            "steps": [
                {key: json_number(value) if key != "step" else value for key, value in row.items()}
                for row in self.steps.to_dict("records")
            ],
            "end_to_end": {key: json_number(value) for key, value in self.end_to_end.items()},
        }


def calibrate_log(
    log_or_folder: str | Path,
    *,
    replications: int = 10,
    seed: int = 0,
    progress: Progress = _quiet,
    **columns: str | None,
) -> CalibrationReport:
    """Fit a pathway to an event log (a file, or a service folder's ``event_log:``), simulate
    it and compare (see :mod:`flowcap.processmap.calibrate`). ``columns`` are the log's column
    settings (``case_id``, ``activity``, ``timestamp``, ``timezone``, ``delimiter``)."""
    from flowcap.simulate.pathway import simulate_pathway

    if replications < 2:
        raise FlowcapError("--replications must be at least 2 (the intervals need two)")
    path, config, zone = event_log_source(log_or_folder, **columns)
    progress("Reading the event log")
    log = read_event_log(path, config, service_timezone=zone, key=load_key())
    events = log.sorted_events()
    # A start/complete pair is one visit: the holding time runs from complete to complete.
    events, _ = complete_events(events)
    progress("Fitting arrivals, routing and times at each step")
    fitted = calibrate(events)
    observed = fitted.observed_end_to_end
    # Times end to end count cases that arrive in the window and finish inside it, so a
    # long case arriving late is missed; a window 40 times the log's 99th-percentile case
    # keeps that bias to about a percent of the mean even on heavy-tailed logs.
    span = events.groupby("case", observed=True)["timestamp"].agg(["min", "max"])
    p99_hours = float(np.quantile((span["max"] - span["min"]).dt.total_seconds() / 3600, 0.99))
    warmup = max(p99_hours, 24.0 * 7)
    hours = max(40 * p99_hours, 24.0 * 7 * 52)

    def tick(done: int) -> None:
        progress(f"Simulated {done} of {replications} replications", done, replications)

    weeks = hours / 24 / 7
    progress(f"Simulating {replications} replications of {weeks:,.0f} weeks", 0, replications)
    result = simulate_pathway(
        fitted.spec(),
        hours=hours,
        warmup_hours=warmup,
        replications=replications,
        seed=seed,
        progress=tick,
        detail=False,  # windows of decades: keep counts and sums, not every wait
    )  # fmt: skip
    # Visits per case: visits counted in the window over the cases that arrived in it (in a
    # steady state the visits of cases arriving before the window stand in for those after).
    served = result.served.sum(axis=(0, 2)).astype(float)
    arrived = float(result.arrived.sum())
    steps = fitted.observed.rename(
        columns={
            "visits_per_case": "observed_visits_per_case",
            "mean_hours": "observed_mean_hours",
            "p90_hours": "observed_p90_hours",
        }
    )
    steps.insert(2, "simulated_visits_per_case", served / arrived if arrived else np.nan)
    # Time at each step as simulated: the wait (none here) and the drawn service, per visit.
    time_at_step = result.time_at_step_minutes()
    with np.errstate(invalid="ignore"):
        weights = result.served.sum(axis=2)
        pooled = np.nansum(time_at_step * weights, axis=0) / np.maximum(weights.sum(axis=0), 1)
    steps.insert(4, "simulated_mean_hours", pooled / 60)
    p90 = [result.time_at_step_percentile(s, 90) for s in range(len(fitted.steps))]
    steps["simulated_p90_hours"] = [np.nan if v is None else v / 60 for v in p90]
    e2e_mean, e2e_ci = mean_ci95(result.end_to_end_minutes())
    p90 = result.end_to_end_percentile(90)
    end_to_end = {
        "observed_mean_hours": observed["mean_hours"],
        "simulated_mean_hours": e2e_mean / 60,
        "simulated_ci95_low_hours": None if e2e_ci is None else e2e_ci[0] / 60,
        "simulated_ci95_high_hours": None if e2e_ci is None else e2e_ci[1] / 60,
        "observed_p90_hours": observed["p90_hours"],
        "simulated_p90_hours": None if p90 is None else p90 / 60,
    }
    return CalibrationReport(path.name, fitted, result, steps, end_to_end, warmup, hours)
