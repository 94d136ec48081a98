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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from flowcap.errors import FlowcapError
from flowcap.processmap.dfg import START
from flowcap.simulate.pathway.spec import HOURS_PER_WEEK, Duration, PathwaySpec

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
