"""Variation of a service's daily demand, and SPC of demand, activity and backlog."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flowcap._json import json_number
from flowcap.io.school_holidays import school_holiday_days
from flowcap.model import bank_holidays
from flowcap.progress import Progress, quiet
from flowcap.variation.series import working_day_series
from flowcap.variation.spc import RULES, SPCResult, SPCSettings, xmr
from flowcap.variation.stats import variation_summary, weekday_month_table

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory


@dataclass
class VariationReport:
    """Statistics, SPC charts and alerts for every resource of a service.

    ``spc`` maps (resource, measure) to an :class:`~flowcap.variation.spc.SPCResult`, measure
    being ``demand``, ``activity`` or ``backlog`` (minutes, working days); ``profiles`` maps a
    resource to its weekday × month table of mean daily demand minutes.
    """

    service_name: str
    stats: dict[str, dict]
    spc: dict[tuple[str, str], SPCResult]
    profiles: dict[str, pd.DataFrame]

    def days_observed(self, resource: str) -> int:
        """Calendar days from the first to the last day of the resource's SPC series."""
        points = self.spc[(resource, "demand")].points
        return 0 if points.empty else int((points["date"].max() - points["date"].min()).days) + 1

    @property
    def alerts(self) -> list[dict]:
        """One alert per flagged point: the rule first in Making Data Count precedence
        (outside the limits, trend, two of three, shift) when several flag the same point."""
        out = []
        for (resource, measure), result in self.spc.items():
            first: dict = {}
            for alert in sorted(result.alerts, key=lambda a: RULES.index(a.rule)):
                first.setdefault(alert.date, alert)
            for alert in first.values():
                out.append(
                    {
                        "date": alert.date.isoformat(),
                        "resource": resource,
                        "measure": measure,
                        "rule": alert.rule,
                        "direction": alert.direction,
                        "message": alert.message,
                    }
                )
        return sorted(out, key=lambda a: (a["date"], a["resource"], a["measure"], a["rule"]))

    def trend(self, resource: str) -> dict | None:
        """The resource's fitted trend in demand, or ``None`` from under a year of data, where
        a trend is mostly the season (the statistics keep it either way)."""
        trend = self.stats[resource].get("trend")
        if not trend or trend.get("relative_per_year") is None:
            return None
        return trend if self.days_observed(resource) >= MIN_DAYS_FOR_TREND else None

    def alert_counts(self) -> pd.DataFrame:
        """Per resource and measure with any alert: alerts by rule (one column per rule in
        :data:`~flowcap.variation.spc.RULES`) and the ``latest`` alert's date."""
        rows = []
        for (resource, measure), result in self.spc.items():
            if not result.alerts:
                continue
            row = {"resource": resource, "measure": measure}
            for rule in RULES:
                row[rule] = sum(a.rule == rule for a in result.alerts)
            row["latest"] = max(a.date for a in result.alerts)
            rows.append(row)
        return pd.DataFrame(rows, columns=["resource", "measure", *RULES, "latest"])

    def as_json(self) -> dict:
        resources = {}
        for resource, stats in self.stats.items():
            resources[resource] = {
                "stats": stats,
                "spc": {
                    measure: [
                        {
                            "from": s.start.isoformat(),
                            "to": s.end.isoformat(),
                            "mean": json_number(s.mean),
                            "lower_limit": json_number(s.lower_limit) if s.has_limits else None,
                            "upper_limit": json_number(s.upper_limit) if s.has_limits else None,
                        }
                        for s in self.spc[(resource, measure)].segments
                    ]
                    for measure in SPC_MEASURES
                },
            }
        return {"resources": resources, "alerts": self.alerts}


#: Days of data before a trend is worth showing: a year (under it, a trend is mostly season).
MIN_DAYS_FOR_TREND = 365

SPC_MEASURES = {
    "demand": "demand_minutes",
    "activity": "activity_minutes",
    "backlog": "backlog_minutes",
}


def describe_variation(
    history: ServiceHistory, settings: SPCSettings | None = None, progress: Progress = quiet
) -> VariationReport:
    """Describe each resource's daily demand and run XmR charts of demand, activity, backlog.

    The statistics use demand as it fell due on the service's weekdays (bank holidays
    included, so their effect can be measured); the weekday × month profile uses every day.
    SPC runs over working days, with demand that fell due on other days counted on the next
    working day (:func:`flowcap.variation.series.working_day_series`).
    """
    settings = settings or SPCSettings()
    service, school = history.service, history.school_holidays
    progress("Measuring")
    table = history.require_measures("variation").table
    progress("Describing variation")
    first, last = table["date"].min(), table["date"].max()
    holiday_dates = pd.DatetimeIndex(
        sorted(bank_holidays(service.region, first.date(), last.date()))
    )
    stats, spc, profiles = {}, {}, {}
    weekdays = sorted(service.weekday_numbers)
    for resource in service.resources:
        # Statistics on demand as it fell due, on the service's weekdays (bank holidays
        # included, so their effect shows): folding would read the catch-up as variation.
        days = table[(table["resource"] == resource) & table["date"].dt.dayofweek.isin(weekdays)]
        dates = pd.DatetimeIndex(days["date"])
        stats[resource] = variation_summary(
            dates,
            days["demand_minutes"].to_numpy(),
            days["demand_cases"].to_numpy(),
            bank_holiday=np.isin(dates, holiday_dates),
            bank_holiday_dates=holiday_dates,
            school_holiday=school_holiday_days(school, dates),
        )
        every_day = table[table["resource"] == resource]
        profiles[resource] = weekday_month_table(
            pd.DatetimeIndex(every_day["date"]), every_day["demand_minutes"].to_numpy()
        )
        # SPC on working days, with demand due on other days counted on the next one.
        series = working_day_series(table, resource)
        dates = pd.DatetimeIndex(series.index)
        for measure, column in SPC_MEASURES.items():
            spc[(resource, measure)] = xmr(
                dates,
                series[column].to_numpy(),
                settings,
                label=f"{resource} {measure}",
                unit="minutes",
            )
    return VariationReport(service.name, stats, spc, profiles)
