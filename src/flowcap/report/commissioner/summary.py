"""The report's first page: where the service stands, in sentences a service manager can
act on, each made from the report's own tables (no number typed twice).

Every number is read from a :class:`~.document.Table` of the report (or the analysis object
the table came from), so the summary and the tables cannot disagree.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from flowcap.report.commissioner.document import Report

#: How many of the riskiest days ahead the summary names.
RISKIEST_SHOWN = 3


def missing(value) -> bool:
    """True for None and NaN (a statistic that could not be computed)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def count(n: int, word: str, plural: str | None = None) -> str:
    """``1 case``, ``3 cases``, ``1,204 referrals``."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def minutes(value: float) -> str:
    """Minutes rounded to whole ones, with their unit: ``1 minute``, ``1,234 minutes``."""
    return count(round(value), "minute")


def working_days(value: float) -> str:
    return count(round(value), "working day")


def day(value) -> str:
    """``Wed 31 Dec 2025``."""
    return f"{pd.Timestamp(value):%a %d %b %Y}"


def share(value: float) -> str:
    """A share as a whole percentage; ``under 1%`` (or ``over 99%``) rather than a rounded
    0% or 100% that is not one."""
    if 0 < value < 0.005:
        return "under 1%"
    if 0.995 <= value < 1:
        return "over 99%"
    return f"{value:.0%}"


def summary_sentences(report: Report, k: float) -> list[str]:
    """The summary page's sentences, in the order a manager reads them."""
    sentences = [period_sentence(report)]
    sentences += backlog_sentences(report)
    sentences += waiting_sentences(report)
    sentences.append(alerts_sentence(report))
    sentences.append(risk_sentence(report, k))
    sentences.append(options_sentence(report))
    pmap = report.section("process_map")
    if pmap is not None:
        sentences.append(process_map_sentence(pmap))
    return sentences


def period_sentence(report: Report) -> str:
    n = (report.end - report.start).days + 1
    text = f"This report covers {day(report.start)} to {day(report.end)} ({count(n, 'day')})"
    if report.previous is None:
        text += (
            "; the data do not cover as many days before it, so it is not compared with an "
            "earlier period."
        )
    else:
        first, last = report.previous
        text += f" and compares it with the {count(n, 'day')} before ({day(first)} to {day(last)})."
    ahead = report.data_end + timedelta(days=1)
    return (
        f"{text} Forecasts, risks and the simulation look ahead from {day(ahead)}, the day "
        "after the last day of data."
    )


def backlog_sentences(report: Report) -> list[str]:
    """Per resource: the backlog at the end of the period and its change from the end of
    the period before; demand against capacity."""
    summary = report.table("summary").frame
    now = summary[summary["period"] == "this period"]
    before = summary[summary["period"] == "period before"].set_index("resource")
    sentences = []
    for row in now.itertuples(index=False):
        text = (
            f"{row.resource}: {waiting(row.backlog_minutes, row.backlog_cases)} at the end of "
            f"{day(report.end)}"
        )
        if row.resource in before.index:
            old = before.loc[row.resource]
            change = round(row.backlog_minutes) - round(old["backlog_minutes"])
            if change == 0:
                moved = "the same as"
            else:
                moved = f"{'up' if change > 0 else 'down'} {minutes(abs(change))} from"
            text += (
                f", {moved} {minutes(old['backlog_minutes'])} "
                f"({count(int(old['backlog_cases']), 'case')}) at the end of the period before"
            )
        if missing(row.utilisation):
            load = "with no capacity rostered"
        else:
            load = (
                f"against a capacity of {minutes(row.capacity)} "
                f"({share(row.utilisation)} of it used)"
            )
        text += f". Demand averaged {minutes(row.demand)} per working day, {load}"
        if row.resource in before.index:
            text += f"; {minutes(before.loc[row.resource, 'demand'])} in the period before"
        sentences.append(text + ".")
    return sentences


def waiting(backlog_minutes: float, backlog_cases: int) -> str:
    """``no work waiting`` or ``1,234 minutes of work waiting (23 cases)``."""
    if round(backlog_minutes) == 0 and backlog_cases == 0:
        return "no work waiting"
    return f"{minutes(backlog_minutes)} of work waiting ({count(int(backlog_cases), 'case')})"


def waiting_sentences(report: Report) -> list[str]:
    """Who waits at the end of the period, and first contacts made within the target."""
    waiting = report.table("waiting").frame
    total = int(waiting["cases_waiting"].sum()) if len(waiting) else 0
    if total == 0:
        text = f"Nobody was waiting at the end of {day(report.end)}."
    else:
        aged = waiting.dropna(subset=["oldest_working_days"])
        oldest = aged.loc[aged["oldest_working_days"].idxmax()]
        text = (
            f"{count(total, 'case was', 'cases were')} waiting at the end of {day(report.end)}; "
            f"the longest wait was {working_days(oldest['oldest_working_days'])} "
            f"({oldest['case_type']} at {oldest['resource']})."
        )
        if oldest["oldest_working_days"] < 1:
            text = text.replace(
                f"the longest wait was {working_days(oldest['oldest_working_days'])}",
                "all of them fell due that day",
            )
    return [text, first_contact_sentence(report)]


def first_contact_sentence(report: Report) -> str:
    table = report.table("first_contacts")
    rows = table.frame.set_index("period")

    def said(row) -> str:
        decided = int(row["met"] + row["missed"])
        pending = (
            f"{count(int(row['pending']), 'referral')} still inside the target"
            if row["pending"]
            else "none still inside the target"
        )
        if row["referrals"] == 0:
            return "no referrals were made"
        if decided == 0:
            return f"no referral has an outcome yet ({pending})"
        return (
            f"{share(row['share_met'])} of {count(decided, 'referral')} with an outcome ({pending})"
        )

    now = rows.loc["this period"]
    text = f"{table.title}: {said(now)} in this period"
    if "period before" in rows.index:
        text += f", against {said(rows.loc['period before'])} in the period before"
    return text + "."


def alerts_sentence(report: Report) -> str:
    alerts = report.table("alerts").frame
    referrals = report.table("referral_alerts").frame
    on_referrals = (
        f" and {count(len(referrals), 'SPC alert')} on referrals" if len(referrals) else ""
    )
    if alerts.empty:
        none = "No SPC alerts (special-cause variation) on demand, activity or backlog"
        return f"{none} in the period{on_referrals.replace(' and', '; there were', 1)}."
    counts = alerts.groupby(["resource", "measure"], sort=False).size()
    where = ", ".join(f"{n} on {resource} {measure}" for (resource, measure), n in counts.items())
    latest = alerts.iloc[-1]
    return (
        f"{count(len(alerts), 'SPC alert')} (special-cause points) on demand, activity or "
        f"backlog in the period ({where}){on_referrals}. The latest: {latest['message']}"
    )


def risk_sentence(report: Report, k: float) -> str:
    section = report.section("forecast")
    if section.missing:
        return section.missing
    days = section.table("risk_days").frame
    days = days[(days["k"] == k) & days["p"].notna()]
    if days.empty:
        return f"No risk of demand above {k:g} × capacity could be assessed ahead."
    top = days.sort_values(["p", "date"], ascending=[False, True]).head(RISKIEST_SHOWN)
    named = ", ".join(
        f"{day(row.date)} at {row.resource} ({share(row.p)})" for row in top.itertuples()
    )
    span = f"{day(days['date'].min())} to {day(days['date'].max())}"
    return (
        f"The riskiest working days ahead ({span}), with the chance that demand exceeds "
        f"{k:g} × capacity: {named}."
    )


def options_sentence(report: Report) -> str:
    section = report.section("options")
    if section.missing:
        return section.missing
    simulation = section.data["simulation"]
    scenarios = section.table("scenarios").frame
    if len(scenarios) <= 1:
        sim = section.table("simulation").frame
        worst = sim.loc[sim["p_over_threshold"].idxmax()]
        return (
            "No contingency options were compared: the service has no scenarios "
            "(scenarios.yaml). Without changes, the simulation puts the chance that the "
            f"{worst['resource']} backlog ends over {minutes(simulation.threshold_minutes)} at "
            f"{share(worst['p_over_threshold'])}."
        )
    return simulation.recommendation()


def process_map_sentence(section) -> str:
    if section.missing:
        return section.missing
    pmap = section.data["process_map"]
    bottlenecks = section.table("bottlenecks").frame
    text = f"The event log holds {count(pmap.n_cases, 'case')}"
    if bottlenecks.empty or bottlenecks["share"].iloc[0] == 0:
        return text + ", with no waiting between steps."
    top = bottlenecks.iloc[0]
    return (
        f"{text}; the waiting accumulates most between '{top['from']}' and '{top['to']}' "
        f"({share(top['share'])} of all the waiting, a median of "
        f"{top['median_wait_hours']:,.1f} hours)."
    )


__all__ = ["count", "day", "minutes", "share", "summary_sentences"]
