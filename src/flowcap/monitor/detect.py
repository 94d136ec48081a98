"""What a morning's monitoring finds in a service's data, as findings a manager can act on.

Each check reads a result the library already computes, and only turns it into sentences:

- **special causes** (``spc``): Making Data Count's rules on the charts of
  :func:`flowcap.variation.describe_variation` (one point one alert, the rules in MDC's
  precedence), in the direction that is bad news: demand and backlog minutes up, activity
  minutes down, referrals up (a chart with ``spc_targets:`` uses its ``better`` direction; the
  referral charts of case types and sources are watched only when they have a target);
- **risky days** (``risk``): working days in the next :data:`HORIZON_DAYS` whose chance of
  demand past ``k`` × capacity (:func:`flowcap.plan.risk.assess_risk`) is above the service's
  ``risk_threshold``;
- **backlog forecast over its threshold** (``backlog``): a resource whose median simulated
  backlog (the daily Monte Carlo of ``flowcap simulate``, baseline only) is over
  ``backlog_threshold_minutes`` on a day in the next :data:`HORIZON_DAYS`;
- **first-contact misses** (``first_contact``): the referrals of a day that passed the
  first-contact target without a first contact (:attr:`DailyMeasures.first_contacts`).

A finding has a ``key`` (the same alert found again has the same key) and an ``episode`` (a
signal that goes on: the same chart's special causes in the same direction, the same
resource's backlog over its threshold); see :mod:`flowcap.monitor.records` for how they keep
each alert to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flowcap.model import working_calendar
from flowcap.progress import Progress, quiet

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory
    from flowcap.measures import DailyMeasures
    from flowcap.plan.risk import RiskReport
    from flowcap.variation import VariationReport

#: The checks, in the order they run and are listed.
CHECKS = ("spc", "risk", "backlog", "first_contact")
#: Days ahead that risky days and the backlog forecast are judged over.
HORIZON_DAYS = 14
#: Special causes and first-contact deadlines in this many calendar days up to the end of the
#: data are looked at: a week, so a run or two missed (a bank holiday, a failed import) loses
#: nothing, and older history never floods the first run.
WINDOW_DAYS = 7
#: Simulated futures for the backlog forecast, and their seed (a run repeats exactly).
REPLICATIONS = 1000
SEED = 0

#: The direction of a special cause that is bad news, by measure, unless ``spc_targets:``
#: says which way is better.
CONCERNING = {"demand": "high", "activity": "low", "backlog": "high", "referrals": "high"}

_RULE_WORDS = {
    "outside_limits": "outside the process limits",
    "trend": "a run of rising or falling points",
    "two_of_three": "two of three points near a limit",
    "shift": "a run of points on one side of the mean",
}
_WHY = {
    "demand": (
        "More work is falling due at {resource} than its ordinary day-to-day variation "
        "explains, so the backlog will grow unless capacity follows. Look at the referrals "
        "behind it (flowcap variation --period week: by case type and source) and at the rota "
        "for the coming days."
    ),
    "activity": (
        "Less work is being done at {resource} than its ordinary variation explains. Check "
        "absence and the rota, and whether sessions are being recorded."
    ),
    "backlog": (
        "Work is waiting at {resource} longer than its ordinary variation explains, so "
        "first contacts and step targets are at risk. Look at the waiting list (flowcap "
        "measures) and at who is on the rota."
    ),
    "referrals": (
        "More referrals are arriving than ordinary variation explains: more work will fall "
        "due in the days and weeks ahead. Look at where they come from (flowcap variation "
        "--period week) and at the rota."
    ),
}


@dataclass(frozen=True)
class Finding:
    """One thing monitoring found. ``day`` is the day it is about (a special cause's first
    point, a risky day, the first day the backlog is forecast over its threshold, a day's
    referrals); ``last_seen`` the last day it still showed (a special cause's latest point;
    the last forecast day over the threshold). ``title`` is one line, ``message`` a paragraph:
    what happened, why it matters and what to look at."""

    kind: str
    key: str
    episode: str
    day: date
    last_seen: date
    title: str
    message: str


def _day(value) -> str:
    """Mon 1 Dec 2025."""
    value = pd.Timestamp(value)
    return f"{value:%a} {value.day} {value:%b %Y}"


def _share(p: float) -> str:
    """A probability as a percentage that never rounds to a certainty it is not: 100% and 0%
    only when it is; ">99%", "<1%" near them."""
    if p >= 1:
        return "100%"
    if p <= 0:
        return "0%"
    if p > 0.99:
        return ">99%"
    if p < 0.01:
        return "<1%"
    return f"{p:.0%}"


def _label(resource: str) -> str:
    """A resource as a sentence names it: "IDVA" (a short name is an acronym), "Caseworker"."""
    return resource.upper() if len(resource) <= 4 else resource.capitalize()


def _team(resource: str) -> str:
    """ "the IDVA team", "the caseworker team"."""
    return f"the {resource.upper() if len(resource) <= 4 else resource} team"


# --- special causes -------------------------------------------------------------------------------


def spc_findings(
    report: VariationReport, service, data_end: date, window_days: int = WINDOW_DAYS
) -> list[Finding]:
    """Special causes in the bad-news direction on the watched charts whose latest flagged
    point lies in the ``window_days`` up to ``data_end``: one finding per episode (the chart's
    flagged points in a row, in that direction), told by the latest point's sentence."""
    from flowcap.variation.report import chart_name

    targets = service.spc_targets
    charts: dict[str, tuple[object, str, str]] = {}  # name -> (result, measure, subject)
    for (resource, measure), result in report.spc.items():
        charts[chart_name((resource, measure))] = (result, measure, resource)
    for key, result in report.referral_spc.items():
        name = chart_name(key, referrals=True)
        if key[0] == "all" or name in targets:
            charts[name] = (result, "referrals", name)
    alerts = [
        {**a, "chart": chart_name((a["resource"], a["measure"]))} for a in report.alerts
    ] + report.referral_alerts
    found = []
    first_day = data_end - timedelta(days=window_days - 1)
    for name, (result, measure, subject) in charts.items():
        target = targets.get(name)
        bad = CONCERNING[measure]
        if target is not None:
            bad = "high" if target.better == "lower" else "low"
        mine = sorted(
            (a for a in alerts if a["chart"] == name and a["direction"] == bad),
            key=lambda a: a["date"],
        )
        if not mine:
            continue
        position = {d.date().isoformat(): i for i, d in enumerate(result.points["date"])}
        episodes: list[list[dict]] = []
        for alert in mine:
            i = position[alert["date"]]
            if episodes and position[episodes[-1][-1]["date"]] == i - 1:
                episodes[-1].append(alert)
            else:
                episodes.append([alert])
        for episode in episodes:
            start, latest = episode[0], episode[-1]
            last = date.fromisoformat(latest["date"])
            if last < first_day:
                continue
            found.append(_spc_finding(name, measure, subject, bad, episode, start, latest))
    return sorted(found, key=lambda f: (f.day, f.key))


def _spc_finding(name, measure, subject, direction, episode, start, latest) -> Finding:
    first, last = date.fromisoformat(start["date"]), date.fromisoformat(latest["date"])
    points = len(episode)
    since = (
        f"on {_day(first)}"
        if points == 1
        else f"on {points} working days in a row, from {_day(first)} to {_day(last)}"
    )
    why = _WHY[measure].format(resource=_team(subject))
    title = f"{name}: special cause ({_RULE_WORDS[latest['rule']]}, {direction}) {since}"
    message = (
        f"Special cause on the chart of {name} ({_RULE_WORDS[latest['rule']]}), {since}. "
        f"{latest['message']} {why}"
    )
    return Finding(
        kind="spc",
        key=f"spc|{name}|{direction}|{first.isoformat()}",
        episode=f"spc|{name}|{direction}",
        day=first,
        last_seen=last,
        title=title,
        message=message,
    )


# --- risky days ahead ---------------------------------------------------------------------------


def risk_findings(report: RiskReport, k: float, threshold: float) -> list[Finding]:
    """One finding per resource and working day ahead whose chance of demand past ``k`` ×
    capacity is above ``threshold`` (the report's ``daily`` table)."""
    daily = report.daily
    risky = daily[(daily["k"] == k) & (daily["p"] > threshold)].sort_values(["date", "resource"])
    found = []
    for row in risky.itertuples(index=False):
        day = pd.Timestamp(row.date).date()
        resource = _label(row.resource)
        found.append(
            Finding(
                kind="risk",
                key=f"risk|{row.resource}|{k:g}|{day.isoformat()}",
                episode=f"risk|{row.resource}|{k:g}|{day.isoformat()}",
                day=day,
                last_seen=day,
                title=(
                    f"{row.resource}: {_share(row.p)} chance that demand on {_day(day)} is over "
                    f"{k:g} × capacity"
                ),
                message=(
                    f"The chance that {resource} demand on {_day(day)} is more than {k:g} × "
                    f"the capacity the rota gives that day is {_share(row.p)}, above the "
                    f"{threshold:.0%} this service alerts at (the demand forecast against the "
                    "roster, as flowcap risk gives it). A day like that leaves work waiting "
                    "and the backlog rises. Look at the leave and cover booked for that day, "
                    "and at planned work that could move to a quieter one."
                ),
            )
        )
    return found


# --- the backlog forecast -------------------------------------------------------------------------


def backlog_findings(
    history: ServiceHistory,
    threshold_minutes: float,
    horizon_days: int = HORIZON_DAYS,
    progress: Progress = quiet,
) -> list[Finding]:
    """Resources whose median simulated backlog is over ``threshold_minutes`` on a day in
    the next ``horizon_days`` (the daily Monte Carlo, :data:`REPLICATIONS` futures, seed
    :data:`SEED`, the rota ahead and the service's referrals; no contingency options)."""
    from flowcap.simulate.build import build_spec
    from flowcap.simulate.daily import run as run_daily
    from flowcap.simulate.daily.spec import PERCENTILES

    measures = history.require_measures("the backlog forecast")
    progress("Forecasting the backlog")
    spec, start = build_spec(history.service, history.tables, measures, horizon_days=horizon_days)
    result = run_daily(spec, REPLICATIONS, SEED, threshold_minutes=threshold_minutes)
    table = measures.table
    end = table["date"].max()
    median = list(PERCENTILES).index(50)
    found = []
    for r, resource in enumerate(spec.resources):
        p_over = np.asarray(result.p_backlog_over_threshold[r])
        p50 = np.asarray(result.backlog_percentiles[r][median])
        over = np.flatnonzero(p50 > threshold_minutes)
        if not len(over):
            continue
        first, last = int(over[0]), int(over[-1])
        day = start + timedelta(days=first)
        now = table[(table["resource"] == resource) & (table["date"] == end)]
        backlog_now = float(now["backlog_minutes"].iloc[0]) if len(now) else float("nan")
        already = backlog_now > threshold_minutes
        head = (
            f"{_label(resource)}'s backlog, already {backlog_now:,.0f} minutes at the end of "
            f"{_day(end)} (over this service's threshold of {threshold_minutes:,.0f} minutes), "
            f"is forecast to stay over it"
            if already
            else f"{_label(resource)}'s backlog, {backlog_now:,.0f} minutes at the end of "
            f"{_day(end)}, is forecast to pass this service's threshold of "
            f"{threshold_minutes:,.0f} minutes"
        )
        found.append(
            Finding(
                kind="backlog",
                key=f"backlog|{resource}|{day.isoformat()}",
                episode=f"backlog|{resource}",
                day=day,
                last_seen=start + timedelta(days=last),
                title=(
                    f"{resource}: backlog forecast over {threshold_minutes:,.0f} minutes "
                    f"from {_day(day)}"
                ),
                message=(
                    f"{head} on {_day(day)}: median forecast {p50[first]:,.0f} minutes, over "
                    f"the threshold in {_share(p_over[first])} of the simulated futures. The "
                    f"median forecast is over it on {len(over)} of the next {len(p50)} days "
                    f"({REPLICATIONS:,} simulated futures of referrals and the rota, as flowcap "
                    "simulate runs them). Work left waiting that long puts first contacts and "
                    "step targets at risk. Look at the rota and leave for the next two weeks, "
                    "and at the contingency options (flowcap simulate)."
                ),
            )
        )
    return found


# --- first-contact misses ----------------------------------------------------------------------


def first_contact_findings(
    measures: DailyMeasures, service, data_end: date, window_days: int = WINDOW_DAYS
) -> list[Finding]:
    """One finding per referral day whose first-contact deadline (the ``target``-th working
    day after it, the day itself with a target of 0) fell in the ``window_days`` up to
    ``data_end``, and some of whose referrals missed the target."""
    contacts = measures.first_contacts
    target = service.first_contact_target_working_days
    missed = contacts[contacts["status"] == "missed"]
    if missed.empty:
        return []
    first_day = data_end - timedelta(days=window_days - 1)
    # Referral days whose deadline can fall in the window: at most target working days, and
    # so (with weekends and holidays) a few weeks, before it.
    earliest = first_day - timedelta(days=7 * target + 21)
    calendar = working_calendar(service, earliest, data_end)
    working_dates = calendar.loc[calendar["is_working_day"], "date"].dt.date.to_numpy()
    referral_days = sorted(
        {d for d in pd.to_datetime(missed["referral_date"]).dt.date if d >= earliest}
    )
    found = []
    for referred in referral_days:
        later = working_dates[working_dates > referred]
        if target == 0:
            deadline = referred
        elif len(later) >= target:
            deadline = later[target - 1]
        else:
            continue
        if not first_day <= deadline <= data_end:
            continue
        day = pd.Timestamp(referred)
        of_day = contacts[contacts["referral_date"] == day]
        misses = of_day[of_day["status"] == "missed"]
        waiting = int(misses["first_contact_date"].isna().sum())
        still = (
            (
                "; still waiting for one"
                if len(of_day) == 1
                else f"; {waiting} of them {'is' if waiting == 1 else 'are'} still waiting for one"
            )
            if waiting
            else ("; contacted since" if len(misses) == 1 else "; all contacted since")
        )
        days = f"{target} working day{'s' if target != 1 else ''}"
        target_words = f"{target}-working-day"
        counted = (
            f"The only referral of {_day(referred)} had"
            if len(of_day) == 1
            else f"{len(misses)} of the {len(of_day)} referrals of {_day(referred)} had"
        )
        found.append(
            Finding(
                kind="first_contact",
                key=f"first_contact|{referred.isoformat()}",
                episode=f"first_contact|{referred.isoformat()}",
                day=referred,
                last_seen=deadline,
                title=(
                    f"first contact: {len(misses)} of {len(of_day)} referrals of "
                    f"{_day(referred)} missed the {target_words} target"
                ),
                message=(
                    f"{counted} no first contact within the first-contact target of {days} "
                    f"(by the end of {_day(deadline)}){still}. Victims referred that day "
                    "waited longer than the service promises (the Victims' Code's right to be "
                    "contacted in time). Look at the rota for those days and at who is still "
                    "waiting (flowcap measures)."
                ),
            )
        )
    return found
