"""A pathway estimated from an event log, to simulate and hold up against the log.

The log is read as a semi-Markov process over its activities: a case arrives with its first
event; after each event it *stays* at that activity until its next event (the holding time,
in minutes; 0 after its last event) and then moves to the next activity with the probability
seen in the log, or leaves. So:

- **arrivals**: cases' first events counted by hour of the week, over the log's weeks;
- **routing**: the directly-follows counts out of each activity, as shares (ends leave);
- **holding times**: the empirical distribution of the time from each event of an activity to
  the case's next event (kept as the means of 1,000 equal shares of the sorted times, so the
  mean survives exactly);
- **servers**: in effect unlimited (:meth:`Calibration.servers`: ten standard deviations
  above the cases Little's law puts at the step at the busiest hour's arrival rate), because
  a log of *complete* events cannot tell waiting from working: the holding time is both. A
  log of start and complete events could separate them; the three real logs have complete
  events only.

Two properties make the fit checkable. The fitted routing is the maximum-likelihood Markov
chain, whose expected visits per case to each activity equal the log's; and the mean holding
time, zeros included, times the visits adds up to the log's mean time from first to last
event. The simulation must reproduce both (within its Monte Carlo error). What a first-order
Markov chain cannot reproduce — paths whose next step depends on more than the last one — shows
up in the spread of the time end to end (its 90th percentile), and the README's table says
by how much on each real log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flowcap._json import json_number
from flowcap.checks import check_replications, check_seed
from flowcap.errors import FlowcapError
from flowcap.io.eventlog import EventLog
from flowcap.processmap.dfg import START, complete_events
from flowcap.progress import Progress, quiet
from flowcap.simulate.pathway.result import mean_ci95
from flowcap.simulate.pathway.spec import HOURS_PER_WEEK, Duration, PathwaySpec

if TYPE_CHECKING:  # the engine is imported when simulating: Numba compiles it then
    from flowcap.simulate.pathway import PathwayResult

#: Values kept of each holding-time distribution.
QUANTILES = 1000
#: The instant step added when cases start with different activities (the process map's
#: name for where cases come from, so no activity can share it).
ARRIVAL_STEP = START
_MINUTE = np.timedelta64(60, "s")


@dataclass(frozen=True)
class Calibration:
    """A pathway fitted to a log (see the module doc), with what the log itself shows.

    Attributes
    ----------
    steps : activity names; the first is where cases arrive
    arrivals_per_hour : (168,) cases per hour in each hour of the week, Monday 00:00 first
    routing : (S, S) probability of going from step i to step j next
    holding_minutes : per step, its holding times (minutes), compressed to 1,000 values
    observed : DataFrame, one row per step: ``step``, ``visits_per_case``,
        ``mean_hours`` and ``p90_hours`` (holding time)
    observed_end_to_end : ``{"mean_hours", "p90_hours", "sd_hours"}`` first to last event
    cases, weeks : the log's cases and the weeks its first events span
    """

    steps: tuple[str, ...]
    arrivals_per_hour: np.ndarray
    routing: np.ndarray
    holding_minutes: tuple[np.ndarray, ...]
    observed: pd.DataFrame
    observed_end_to_end: dict[str, float]
    cases: int
    weeks: float

    def servers(self) -> np.ndarray:
        """People on duty per step so that nobody waits: the cases at a step at once are
        about Poisson with mean m = busiest arrival rate x visits x mean holding time (an
        infinite-server queue), so m + 10 sqrt(m) + 50 is practically never reached."""
        visits = self.observed["visits_per_case"].to_numpy()
        means = np.array([h.mean() for h in self.holding_minutes]) / 60
        m = self.arrivals_per_hour.max() * visits * means
        return np.ceil(m + 10 * np.sqrt(m) + 50).astype(np.int64)

    def spec(self, start_hour_of_week: int = 0) -> PathwaySpec:
        """The calibrated pathway as an engine model: one resource per step, never short."""
        n = len(self.steps)
        return PathwaySpec(
            steps=self.steps,
            step_resource=np.arange(n),
            resources=self.steps,
            case_types=("case",),
            case_priority=np.array([1]),
            arrival_rate_per_hour=self.arrivals_per_hour[None, :],
            service=tuple((Duration("empirical", values=v),) for v in self.holding_minutes),
            routing=self.routing,
            schedule=tuple((np.array([0.0]), np.array([c])) for c in self.servers()),
            start_hour_of_week=start_hour_of_week,
        )

    def pathway_yaml(self) -> dict:
        """The ``pathway:`` section for service.yaml (resources named after the steps)."""
        steps = {}
        for i, name in enumerate(self.steps):
            steps[name] = {
                "resource": name,
                "service_minutes": {
                    "dist": "empirical",
                    "values": [round(float(v), 3) for v in self.holding_minutes[i]],
                },
                "next": _rounded_choices(self.steps, self.routing[i]),
            }
        per_hour = float(self.arrivals_per_hour.mean())
        weekday = self.arrivals_per_hour.reshape(7, 24).sum(axis=1)
        hour = self.arrivals_per_hour.reshape(7, 24).sum(axis=0)
        arrivals = {"per_hour": round(per_hour, 6)}
        if weekday.sum() > 0:
            arrivals["weekday"] = [round(float(v), 4) for v in weekday / weekday.mean()]
            arrivals["hour"] = [round(float(v), 4) for v in hour / hour.mean()]
        return {"arrivals": {"case": arrivals}, "steps": steps}


def _rounded_choices(steps: tuple[str, ...], row: np.ndarray) -> dict[str, float]:
    """A routing row as ``{step: probability}`` to 6 decimals, never adding up to more than
    the row did (rounding up could push a row that adds up to 1 over it)."""
    choices = {steps[j]: round(float(p), 6) for j, p in enumerate(row) if p > 0}
    excess = sum(choices.values()) - round(float(row.sum()), 6)
    if choices and excess > 0:
        largest = max(choices, key=choices.__getitem__)
        choices[largest] = round(choices[largest] - excess, 6)
    return choices


def calibrate(events: pd.DataFrame) -> Calibration:
    """Fit the semi-Markov pathway of a log; ``events`` sorted by case then time (as
    :meth:`flowcap.io.eventlog.EventLog.sorted_events` gives), with ``case``, ``activity``,
    ``timestamp``."""
    if len(events) == 0:
        raise FlowcapError("the event log has no events to calibrate from")
    case = pd.factorize(events["case"].to_numpy())[0]
    activity, names = pd.factorize(events["activity"].astype(str).to_numpy())
    when = _minutes(events["timestamp"])
    n_events = len(case)
    first = np.ones(n_events, dtype=bool)
    first[1:] = case[1:] != case[:-1]
    last = np.ones(n_events, dtype=bool)
    last[:-1] = first[1:]
    holding = np.zeros(n_events)
    holding[~last] = when[1:][~last[:-1]] - when[:-1][~last[:-1]]
    n_cases = int(first.sum())
    starts = activity[first]

    names = [str(n) for n in names]
    if ARRIVAL_STEP in names:
        raise FlowcapError(
            f"the log has an activity called {ARRIVAL_STEP!r}, the name flowcap gives to where "
            "cases come from; rename it in the log"
        )
    n_act = len(names)
    entry_shares = np.bincount(starts, minlength=n_act) / n_cases
    needs_arrival = np.count_nonzero(entry_shares) > 1
    offset = 1 if needs_arrival else 0
    if not needs_arrival:  # the one start activity goes first
        head = int(np.flatnonzero(entry_shares)[0])
        order = [head] + [a for a in range(n_act) if a != head]
    else:
        order = list(range(n_act))
    position = np.empty(n_act, dtype=np.int64)
    position[order] = np.arange(n_act) + offset
    step_of = position[activity]
    steps = ([ARRIVAL_STEP] if needs_arrival else []) + [names[a] for a in order]
    n = len(steps)

    moves = np.zeros((n, n))
    np.add.at(moves, (step_of[:-1][~last[:-1]], step_of[1:][~last[:-1]]), 1.0)
    visits = np.bincount(step_of, minlength=n).astype(float)
    if needs_arrival:
        moves[0, offset:] = entry_shares[order] * n_cases
        visits[0] = n_cases
    routing = np.divide(moves, visits[:, None], out=np.zeros_like(moves), where=visits[:, None] > 0)

    holding_minutes, rows = [], []
    for s in range(n):
        mine = holding[step_of == s] if not (needs_arrival and s == 0) else np.zeros(1)
        holding_minutes.append(_compressed(mine) if mine.size else np.zeros(1))
        rows.append(
            {
                "step": steps[s],
                "visits_per_case": float(visits[s] / n_cases),
                "mean_hours": float(mine.mean() / 60) if mine.size else 0.0,
                "p90_hours": float(np.quantile(mine, 0.9) / 60) if mine.size else 0.0,
            }
        )

    first_time = when[first]
    span = (when[last] - first_time) / 60
    weeks = max((first_time.max() - first_time.min()) / (60 * HOURS_PER_WEEK), 1.0)
    hour_of_week = _hour_of_week(events["timestamp"][first])
    arrivals = np.bincount(hour_of_week, minlength=HOURS_PER_WEEK) / weeks
    return Calibration(
        steps=tuple(steps),
        arrivals_per_hour=arrivals.astype(float),
        routing=routing,
        holding_minutes=tuple(holding_minutes),
        observed=pd.DataFrame(rows),
        observed_end_to_end={
            "mean_hours": float(span.mean()),
            "p90_hours": float(np.quantile(span, 0.9)),
            "sd_hours": float(span.std(ddof=1)) if span.size > 1 else 0.0,
        },
        cases=n_cases,
        weeks=float(weeks),
    )


def _compressed(values: np.ndarray, size: int = QUANTILES) -> np.ndarray:
    """At most ``size`` values standing for ``values``, each the mean of the sorted values over
    one equal share of probability (fractions of a value split between shares), so the mean
    survives exactly (quantiles would lose a heavy tail's mean)."""
    values = np.sort(values)
    n = values.size
    if n <= size:
        return values
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    at = np.arange(size + 1) * (n / size)
    whole = np.minimum(np.floor(at).astype(np.int64), n - 1)
    # Sum of the first ``at`` values, counting a fraction of the value at the boundary.
    partial = cumulative[whole] + (at - whole) * values[whole]
    return np.diff(partial) / (n / size)


def _minutes(timestamps: pd.Series) -> np.ndarray:
    """Minutes since the epoch, as floats (time zone aware or not)."""
    values = pd.to_datetime(timestamps)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return (values.to_numpy("datetime64[ns]") - np.datetime64(0, "ns")) / _MINUTE


def _hour_of_week(timestamps: pd.Series) -> np.ndarray:
    """Hour of the week (Monday 00:00 = 0) in the timestamps' own (local) zone."""
    values = pd.to_datetime(timestamps)
    return (values.dt.dayofweek * 24 + values.dt.hour).to_numpy(dtype=np.int64)


def calibrated_service(calibration: Calibration, name: str) -> dict:
    """A whole service.yaml (as a mapping) whose ``pathway:`` is the calibrated one, so
    ``flowcap des`` runs it: one resource per step, on duty around the clock with
    :meth:`Calibration.servers` people, and one case type, ``case``, arriving as the log's
    cases did (its daily-model ``minutes`` are a placeholder of 1 minute at the first step: a
    log of complete events gives no work minutes).
    """
    first = calibration.steps[0]
    per_day = round(float(calibration.arrivals_per_hour.sum()) / 7, 6)
    return {
        "name": f"{name} (calibrated)"[:200],
        "region": "GB-ENG",
        "timezone": "UTC",
        "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "work_bank_holidays": True,
        "resources": {
            step: {"staff": int(c), "minutes_per_day": 1440, "day_starts": "00:00"}
            for step, c in zip(calibration.steps, calibration.servers(), strict=True)
        },
        "case_types": {
            "case": {
                "priority": 1,
                "resource": first,
                "minutes": 1,
                "demand": {"dist": "poisson", "per_day": per_day},
            }
        },
        "pathway": calibration.pathway_yaml(),
    }


# --- fitted, simulated and set beside the log ------------------------------------------------


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
    log: EventLog,
    *,
    replications: int = 10,
    seed: int = 0,
    progress: Progress = quiet,
) -> CalibrationReport:
    """Fit a pathway to an event log (read from a file, or a service's stored log), simulate
    it and set it beside the log (see the module docstring)."""
    from flowcap.simulate.pathway import simulate_pathway

    check_replications(replications, minimum=2)
    check_seed(seed)
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
    return CalibrationReport(log.source, fitted, result, steps, end_to_end, warmup, hours)


def calibrated_service_yaml(report: CalibrationReport) -> str:
    """A service.yaml with the calibrated pathway, headed by how to simulate it as calibrate
    did (its window: cases of a long pathway need as long a one for times end to end)."""
    import yaml

    document = calibrated_service(report.calibration, report.log_name)
    return (
        f"# Calibrated from {report.log_name} by flowcap calibrate: see the README.\n"
        f"# Its cases are long: simulate it as calibrate did, for times end to end\n"
        f"#   flowcap des FOLDER --warmup-hours {math.ceil(report.warmup_hours)} "
        f"--hours {math.ceil(report.hours)}\n"
        + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    )
