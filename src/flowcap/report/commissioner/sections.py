"""The report's sections, one function each: the analysis it runs (the library's own), the
tables it keeps and the charts it draws. The words about them are in :mod:`.summary`."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from flowcap.errors import FlowcapError
from flowcap.progress import Progress, quiet
from flowcap.report.commissioner import figures as draw
from flowcap.report.commissioner.document import Section, Table

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory
    from flowcap.measures import DailyMeasures

#: The summary table's columns and how they are shown.
SUMMARY_FORMATS = {
    "from": "date",
    "to": "date",
    "demand": ",.0f",
    "capacity": ",.0f",
    "activity": ",.0f",
    "utilisation": ".0%",
    "backlog_minutes": ",.0f",
    "backlog_cases": ",d",
    "peak_backlog_minutes": ",.0f",
    "peak_date": "date",
}
#: Months of SPC points drawn before the end of the period.
SPC_DRAWN_DAYS = 182


def period_first_contacts(measures: DailyMeasures, start: date, end: date) -> DailyMeasures:
    """``measures`` with only the referrals made ``start``..``end`` in its first contacts (so
    :meth:`~flowcap.measures.DailyMeasures.first_contact_share` is the period's)."""
    made = measures.first_contacts["referral_date"]
    kept = (made >= pd.Timestamp(start)) & (made <= pd.Timestamp(end))
    return replace(measures, first_contacts=measures.first_contacts[kept])


def measures_section(
    history: ServiceHistory,
    start: date,
    end: date,
    previous: tuple[date, date] | None,
    figures: bool = True,
    progress: Progress = quiet,
) -> Section:
    """Demand, capacity, activity and backlog in the period (and the one before), the
    weekly totals, first contacts, the waiting list, steps with a target and caseloads."""
    from flowcap.measures import MEASURE_COLUMNS, measure

    now = measure(history, start, end, progress=progress)
    periods = [("this period", start, end, now)]
    if previous is not None:
        periods.append(("period before", *previous, measure(history, *previous)))
    summaries, contacts = [], []
    for label, first, last, measured in periods:
        summary = measured.summary()
        summary.insert(0, "period", label)
        summary.insert(1, "from", pd.Timestamp(first))
        summary.insert(2, "to", pd.Timestamp(last))
        summaries.append(summary)
        cut = period_first_contacts(measured, first, last)
        counts = cut.first_contact_counts()
        contacts.append(
            {
                "period": label,
                "from": pd.Timestamp(first),
                "to": pd.Timestamp(last),
                "referrals": len(cut.first_contacts),
                **counts,
                "share_met": cut.first_contact_share(),
            }
        )
    source = "recorded sessions" if now.recorded else "modelled from capacity"
    tables = [
        Table(
            "summary",
            "Demand, capacity, activity and backlog",
            pd.concat(summaries, ignore_index=True),
            SUMMARY_FORMATS,
            "demand, capacity and activity: mean minutes per working day; backlog: minutes "
            f"and cases at the end of the period's last day; activity: {source}",
        ),
        Table(
            "first_contacts",
            f"First contact within {now.target_working_days} working days",
            pd.DataFrame(contacts),
            {"from": "date", "to": "date", "share_met": ".0%"},
            "referrals made in each period, by their status at the end of the data; pending: "
            "not contacted yet and still inside the target (left out of the share)",
        ),
        Table(
            "daily",
            "Daily measures",
            now.table[MEASURE_COLUMNS].reset_index(drop=True),
            {"date": "date", **{c: ",.0f" for c in MEASURE_COLUMNS[2:]}},
            "minutes and cases per resource and calendar day",
            detail=True,
        ),
        Table(
            "weekly",
            "Weekly totals (complete ISO weeks, Monday to Sunday)",
            weekly_table(now.table),
            {"week": "date", **{c: ",.0f" for c in WEEKLY_FLOWS + ("backlog_minutes",)}},
            "minutes in the week; backlog at the end of its Sunday; part weeks left out",
        ),
        Table(
            "waiting",
            f"Waiting list at the end of {end:%d %b %Y}",
            now.waiting_list(),
            {
                "oldest_working_days": ",.0f",
                "median_working_days": ",.0f",
                "p90_working_days": ",.0f",
            },
            "ages in working days since the work fell due; blank: nobody waiting",
        ),
    ]
    steps = now.step_targets().by_step()
    if not steps.empty:
        tables.append(
            Table(
                "step_targets",
                "Steps with a contact target (work due in the period)",
                steps,
                {"share_met": ".0%"},
                "met, missed or pending at the end of the data",
            )
        )
    caseloads = now.caseloads().summary()
    if not caseloads.empty:
        tables.append(
            Table(
                "caseloads",
                f"Caseloads at the end of {end:%d %b %Y}",
                caseloads,
                {"open_cases_per_fte": ",.1f", "share_of_standard": ".0%", "peak_date": "date"},
                "open cases per FTE in post against the caseload standard",
            )
        )
    section = Section("measures", "Demand, capacity and backlog", tables=tables)
    if figures:
        progress("Drawing the measures")
        section.figures += draw.measures_figures(now, history.name)
    return section


#: Weekly totals of these daily flows (minutes); the backlog is taken at the week's end.
WEEKLY_FLOWS = ("demand_minutes", "capacity_minutes", "activity_minutes")


def weekly_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per resource and complete ISO week (:func:`flowcap.variation.series.weekly_totals`):
    the week's demand, capacity and activity minutes and the backlog at its end."""
    from flowcap.variation.series import weekly_totals

    frames = []
    for resource, days in table.groupby("resource", sort=False):
        dates = pd.DatetimeIndex(days["date"])
        columns = {c: weekly_totals(dates, days[c].to_numpy()) for c in WEEKLY_FLOWS}
        columns["backlog_minutes"] = weekly_totals(
            dates, days["backlog_minutes"].to_numpy(), level=True
        )
        weeks = pd.DataFrame(columns)
        weeks.insert(0, "resource", str(resource))
        frames.append(weeks.rename_axis("week").reset_index())
    columns = ["week", "resource", *WEEKLY_FLOWS, "backlog_minutes"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def variation_section(
    history: ServiceHistory,
    start: date,
    end: date,
    figures: bool = True,
    progress: Progress = quiet,
) -> Section:
    """SPC (XmR, per working day): each chart's latest point and icons, and the alerts
    (special-cause points) dated in the period."""
    from flowcap.variation import describe_variation

    report = describe_variation(history, progress=progress)
    first, last = start.isoformat(), end.isoformat()
    columns = ["date", "resource", "measure", "rule", "direction", "message"]
    alerts = pd.DataFrame([a for a in report.alerts if first <= a["date"] <= last], columns=columns)
    referral_columns = ["date", "chart", "rule", "direction", "message"]
    referral_alerts = pd.DataFrame(
        [a for a in report.referral_alerts if first <= a["date"] <= last],
        columns=referral_columns,
    )
    for frame in (alerts, referral_alerts):
        frame["date"] = pd.to_datetime(frame["date"])
    charts = pd.DataFrame(report.chart_summaries())
    if "latest" in charts:
        charts["latest"] = pd.to_datetime(charts["latest"])
    section = Section(
        "variation",
        "Variation and SPC",
        tables=[
            Table(
                "spc_charts",
                "SPC charts per working day: the latest point and its Making Data Count icons",
                charts,
                {
                    "latest": "date",
                    "value": ",.0f",
                    "mean": ",.1f",
                    "lower_limit": ",.1f",
                    "upper_limit": ",.1f",
                },
                "over the whole history; limits are the latest",
            ),
            Table(
                "alerts",
                "SPC alerts in the period: demand, activity and backlog minutes",
                alerts,
                {"date": "date"},
                "one alert per flagged point (outside the limits first, then trend, two of "
                "three, shift)",
            ),
            Table(
                "referral_alerts",
                "SPC alerts in the period: referrals",
                referral_alerts,
                {"date": "date"},
            ),
        ],
    )
    if figures:
        progress("Drawing the SPC charts")
        since = pd.Timestamp(end) - pd.Timedelta(days=SPC_DRAWN_DAYS)
        points = {
            key: result.points[
                (result.points["date"] >= since) & (result.points["date"] <= pd.Timestamp(end))
            ]
            for key, result in report.spc.items()
        }
        labels = {key: report.icons[key].label for key in report.spc}
        section.figures += draw.spc_figures(points, labels, history.name, since, end)
    return section


def forecast_section(
    history: ServiceHistory,
    horizon: int,
    k: float,
    figures: bool = True,
    progress: Progress = quiet,
) -> Section:
    """The demand forecast after the data and the risk of bad days (demand above k ×
    capacity), from history and day by day ahead."""
    from flowcap.forecast import forecast_demand
    from flowcap.plan.risk import DEFAULT_KS, assess_risk

    section = Section("forecast", "Forecast and risk of bad days")
    try:
        forecast = forecast_demand(history, horizon, progress=progress)
        risk = assess_risk(history, tuple(sorted({*DEFAULT_KS, k})), horizon, progress=progress)
    except FlowcapError as exc:
        section.missing = f"No forecast or risk ahead could be made: {exc}."
        return section
    risks = pd.DataFrame(
        [
            {
                "resource": item.resource,
                "k": item.k,
                "p_per_working_day": item.p_per_working_day,
                "once_every_working_days": item.once_every_working_days,
                "p_seen": item.p_empirical,
                "working_days_seen": item.n_working_days,
                "riskiest_day": item.riskiest_dates[0][0] if item.riskiest_dates else None,
                "riskiest_day_p": item.riskiest_dates[0][1] if item.riskiest_dates else None,
            }
            for item in risk.risks
        ]
    )
    risks["riskiest_day"] = pd.to_datetime(risks["riskiest_day"])
    section.tables += [
        Table(
            "forecast_summary",
            "Forecast demand, minutes per day",
            forecast.summary(),
            {
                "from": "date",
                "to": "date",
                "mean": ",.0f",
                "lo80": ",.0f",
                "hi80": ",.0f",
                "peak": ",.0f",
                "peak_date": "date",
            },
            "mean over the horizon's calendar days; lo80 and hi80: means of the 80% interval",
        ),
        Table(
            "forecast",
            "Forecast demand by day",
            forecast.forecast.reset_index(drop=True),
            {
                "date": "date",
                **{c: ",.0f" for c in ("demand_minutes", "lo80", "hi80", "lo95", "hi95")},
            },
            detail=True,
        ),
        Table(
            "risk",
            "How often a working day's demand exceeds k × capacity",
            risks,
            {
                "p_per_working_day": ".1%",
                "once_every_working_days": ",.0f",
                "p_seen": ".1%",
                "working_days_seen": ",d",
                "riskiest_day": "date",
                "riskiest_day_p": ".0%",
            },
            "p: the model's chance per working day; seen: the share of past working days",
        ),
        Table(
            "risk_days",
            "Chance of a bad day, day by day ahead",
            risk.daily.reset_index(drop=True),
            {"date": "date", "p": ".1%"},
            detail=True,
        ),
    ]
    section.sentences += [item.sentence() for item in risk.risks if item.k == k]
    if figures:
        progress("Drawing the forecast and risk")
        section.figures += draw.forecast_figures(forecast, risk, history.name)
    return section


def options_section(
    history: ServiceHistory,
    *,
    horizon: int,
    replications: int,
    seed: int,
    threshold_minutes: float,
    risk_target: float,
    figures: bool = True,
    progress: Progress = quiet,
    warn: Progress = quiet,
) -> Section:
    """The backlog simulated ahead and the contingency options ranked
    (:func:`flowcap.plan.simulate_ahead`, as ``flowcap simulate`` runs it)."""
    from flowcap.plan import simulate_ahead

    section = Section("options", "Simulation and contingency options")
    try:
        simulation = simulate_ahead(
            history,
            horizon=horizon,
            replications=replications,
            seed=seed,
            threshold_minutes=threshold_minutes,
            risk_target=risk_target,
            progress=progress,
            warn=warn,
        )
    except FlowcapError as exc:
        section.missing = f"The backlog could not be simulated ahead: {exc}."
        return section
    rows = []
    for resource in simulation.spec.resources:
        summary = simulation.result.summary(resource)
        rows.append(
            {
                "resource": resource,
                "final_backlog_mean": summary["final_backlog_mean"],
                "final_backlog_p90": summary["final_backlog_p90"],
                "p_over_threshold": summary["p_final_backlog_over_threshold"],
                "mean_wait_days": summary["mean_wait_days"],
                "p90_wait_days": summary["p90_wait_days"],
                "days_over_target": summary["days_over_target"],
                "cost": simulation.baseline_cost(resource),
            }
        )
    last_day = simulation.start + timedelta(days=horizon - 1)
    section.tables.append(
        Table(
            "simulation",
            f"The backlog simulated {horizon} days ahead, {replications:,} futures "
            f"({simulation.start:%d %b %Y} to {last_day:%d %b %Y})",
            pd.DataFrame(rows),
            {
                "final_backlog_mean": ",.0f",
                "final_backlog_p90": ",.0f",
                "p_over_threshold": ".1%",
                "mean_wait_days": ",.1f",
                "p90_wait_days": ",.1f",
                "days_over_target": ",.1f",
                "cost": "£,.0f",
            },
            f"final backlog in minutes; over threshold: over {threshold_minutes:,.0f} minutes at "
            "the end; waits in days from falling due to being done; days over target: working "
            "days ending with a case past the first-contact target (mean); cost: staff, £",
        )
    )
    comparison = simulation.comparison
    scenarios = pd.DataFrame(
        columns=[
            "option",
            "extra_cost",
            "wait_days_avoided",
            "cost_per_wait_day_avoided",
            "p_meet_target",
            "recommended",
        ]
    )
    if comparison is not None:
        chosen = comparison.chosen(risk_target)
        base = comparison.outcomes["baseline"]
        ranked = [
            {
                "option": "(baseline)",
                "extra_cost": 0.0,
                "wait_days_avoided": None,
                "cost_per_wait_day_avoided": None,
                "p_meet_target": base.p_meet_target,
                "recommended": False,
            }
        ]
        for row in comparison.as_json(risk_target)["ranking"]:
            ranked.append(
                {
                    "option": row["scenario"],
                    "extra_cost": row["extra_cost"],
                    "wait_days_avoided": row["wait_days_avoided"],
                    "cost_per_wait_day_avoided": row["cost_per_wait_day_avoided"],
                    "p_meet_target": row["p_meet_target"],
                    "recommended": chosen is not None and row["scenario"] == chosen.name,
                }
            )
        scenarios = pd.DataFrame(ranked, columns=scenarios.columns)
    section.tables.append(
        Table(
            "scenarios",
            "Contingency options, best value first",
            scenarios,
            {
                "extra_cost": "£,.0f",
                "wait_days_avoided": ",.0f",
                "cost_per_wait_day_avoided": "£,.0f",
                "p_meet_target": ".0%",
            },
            f"target: every backlog at or under {threshold_minutes:,.0f} minutes at the end in "
            f"at least {1 - risk_target:.0%} of futures; extra cost over the baseline, £",
        )
    )
    section.sentences.append(simulation.recommendation())
    section.data["simulation"] = simulation
    if figures:
        progress("Drawing the simulation")
        section.figures += draw.simulation_figures(simulation, history.name)
    return section


def process_map_section(
    history: ServiceHistory, figures: bool = True, progress: Progress = quiet
) -> Section:
    """The event log's process map: where the waiting accumulates and the longest delays."""
    from flowcap.processmap import process_map

    section = Section("process_map", "Process map")
    log = history.event_log
    if log is None:
        section.missing = "The service has no event log."
        return section
    progress("Mapping the process")
    pmap = process_map(log.sorted_events())
    hours = {"median_wait_hours": ",.1f", "p90_wait_hours": ",.1f", "total_wait_hours": ",.0f"}
    section.tables += [
        Table(
            "bottlenecks",
            "Where the waiting accumulates",
            pmap.bottlenecks.head(10).reset_index(drop=True),
            {**hours, "share": ".0%", "count": ",d"},
            "hand-offs ranked by the total time cases waited on them (hours)",
        ),
        Table(
            "delays",
            "Longest delays (90th percentile)",
            pmap.longest_delays.head(10).reset_index(drop=True),
            {**hours, "mean_wait_hours": ",.1f", "count": ",d", "cases": ",d"},
            "hours between one step and the next",
        ),
    ]
    section.data["process_map"] = pmap
    if figures:
        progress("Drawing the process map")
        section.figures += draw.process_map_figures(pmap, history.name)
    return section
