"""Variation of a service's daily demand, and SPC of demand, activity, backlog and referrals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flowcap._json import json_number
from flowcap.io.school_holidays import school_holiday_days
from flowcap.model import bank_holidays
from flowcap.progress import Progress, quiet
from flowcap.variation.icons import Icons
from flowcap.variation.series import (
    daily_referrals,
    fold_to_working_days,
    weekly_totals,
    working_day_series,
)
from flowcap.variation.spc import PERIODS, RULES, SPCResult, SPCSettings, xmr
from flowcap.variation.stats import variation_summary, weekday_month_table

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory


@dataclass
class VariationReport:
    """Statistics, SPC charts and alerts for every resource of a service.

    ``spc`` maps (resource, measure) to an :class:`~flowcap.variation.spc.SPCResult`, measure
    being ``demand``, ``activity`` or ``backlog`` (minutes); ``profiles`` maps a resource to
    its weekday × month table of mean daily demand minutes. ``referral_spc`` maps
    (``"all"``, ``"all"``), (``"case_type"``, name) and (``"source"``, name) to the XmR chart
    of the referrals (cases). ``period`` is what one point is: ``day`` (a working day) or
    ``week`` (a complete ISO week). ``icons`` and ``referral_icons`` hold each chart's Making
    Data Count variation and assurance icons (:class:`~flowcap.variation.icons.Icons`).
    """

    service_name: str
    stats: dict[str, dict]
    spc: dict[tuple[str, str], SPCResult]
    profiles: dict[str, pd.DataFrame]
    referral_spc: dict[tuple[str, str], SPCResult] = field(default_factory=dict)
    period: str = "day"
    icons: dict[tuple[str, str], Icons] = field(default_factory=dict)
    referral_icons: dict[tuple[str, str], Icons] = field(default_factory=dict)

    def days_observed(self, resource: str) -> int:
        """Calendar days from the first to the last day of the resource's SPC series."""
        points = self.spc[(resource, "demand")].points
        if points.empty:
            return 0
        extra = 7 if self.period == "week" else 1  # a weekly point is dated by its Monday
        return int((points["date"].max() - points["date"].min()).days) + extra

    @property
    def referral_alerts(self) -> list[dict]:
        """Like :attr:`alerts`, for the referral charts: ``chart`` names the chart
        (:func:`chart_name`) in place of resource and measure."""
        out = []
        for key, result in self.referral_spc.items():
            for alert in _one_per_point(result.alerts):
                out.append(
                    {
                        "date": alert.date.isoformat(),
                        "chart": chart_name(key, referrals=True),
                        "rule": alert.rule,
                        "direction": alert.direction,
                        "message": alert.message,
                    }
                )
        return sorted(out, key=lambda a: (a["date"], a["chart"], a["rule"]))

    def chart_summaries(self) -> list[dict]:
        """One row per chart, minutes first, then referrals: ``chart`` (its name), the
        ``latest`` point's date and ``value``, the latest ``mean`` and limits, and the MDC
        icons in words (``variation``, ``assurance``; ``None`` where there is none)."""
        rows = []
        for referrals, charts, icons in (
            (False, self.spc, self.icons),
            (True, self.referral_spc, self.referral_icons),
        ):
            for key, result in charts.items():
                points, icon = result.points, icons.get(key) or Icons.of(result)
                last = points.iloc[-1] if len(points) else None
                rows.append(
                    {
                        "chart": chart_name(key, referrals=referrals),
                        "latest": None if last is None else last["date"].date(),
                        "value": None if last is None else float(last["value"]),
                        "mean": None if last is None else float(last["mean"]),
                        "lower_limit": None if last is None else float(last["lower_limit"]),
                        "upper_limit": None if last is None else float(last["upper_limit"]),
                        "variation": icon.label.split(" · ")[0],
                        "assurance": icon.label.split(" · ")[1] if icon.assurance else None,
                        "target": icon.target,
                    }
                )
        return rows

    @property
    def alerts(self) -> list[dict]:
        """One alert per flagged point: the rule first in Making Data Count precedence
        (outside the limits, trend, two of three, shift) when several flag the same point."""
        out = []
        for (resource, measure), result in self.spc.items():
            for alert in _one_per_point(result.alerts):
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
                    measure: _segments(self.spc[(resource, measure)]) for measure in SPC_MEASURES
                },
                "icons": {
                    measure: self._icons(self.icons, self.spc, (resource, measure)).as_json()
                    for measure in SPC_MEASURES
                },
            }
        referrals: dict = {"all": None, "case_type": {}, "source": {}}
        for key, result in self.referral_spc.items():
            chart = {
                "spc": _segments(result),
                "icons": self._icons(self.referral_icons, self.referral_spc, key).as_json(),
            }
            if key[0] == "all":
                referrals["all"] = chart
            else:
                referrals[key[0]][key[1]] = chart
        return {
            "resources": resources,
            "alerts": self.alerts,
            "period": self.period,
            "referrals": referrals,
            "referral_alerts": self.referral_alerts,
        }

    @staticmethod
    def _icons(icons: dict, charts: dict, key: tuple[str, str]) -> Icons:
        return icons.get(key) or Icons.of(charts[key])


def chart_name(key: tuple[str, str], referrals: bool = False) -> str:
    """A chart's name, as ``spc_targets:`` in service.yaml and the console give it:
    "idva backlog"; "referrals", "referrals da_standard", "source police"."""
    if not referrals:
        return f"{key[0]} {key[1]}"
    kind, name = key
    return (
        "referrals"
        if kind == "all"
        else f"referrals {name}"
        if kind == "case_type"
        else (f"source {name}")
    )


def _segments(result: SPCResult) -> list[dict]:
    return [
        {
            "from": s.start.isoformat(),
            "to": s.end.isoformat(),
            "mean": json_number(s.mean),
            "lower_limit": json_number(s.lower_limit) if s.has_limits else None,
            "upper_limit": json_number(s.upper_limit) if s.has_limits else None,
        }
        for s in result.segments
    ]


#: Days of data before a trend is worth showing: a year (under it, a trend is mostly season).
MIN_DAYS_FOR_TREND = 365

SPC_MEASURES = {
    "demand": "demand_minutes",
    "activity": "activity_minutes",
    "backlog": "backlog_minutes",
}


def describe_variation(
    history: ServiceHistory,
    settings: SPCSettings | None = None,
    progress: Progress = quiet,
    period: str = "day",
) -> VariationReport:
    """Describe each resource's daily demand and run XmR charts of demand, activity and
    backlog minutes per resource, and of referrals (cases): all, by case type and by source.

    The statistics use demand as it fell due on the service's weekdays (bank holidays
    included, so their effect can be measured); the weekday × month profile uses every day.
    With ``period="day"`` SPC runs over working days, with demand and referrals that fell due
    on other days counted on the next working day
    (:func:`flowcap.variation.series.working_day_series`). With ``period="week"`` one point
    is a complete ISO week, Monday to Sunday (part weeks at either end are left out): the
    week's total of referrals, demand or activity minutes, and the backlog as it stood at
    the end of its Sunday (:func:`flowcap.variation.series.weekly_totals`).

    Every series here is minutes or referrals, which cannot go below zero: each chart's lower
    process limit (and lower 2-sigma line) is shown floored at 0, the rules judged on the
    limits as computed (:func:`flowcap.variation.spc.xmr`'s ``floor``).

    Each chart gets Making Data Count's variation icon and, where ``service.spc_targets``
    sets a target for it and the period, the assurance icon (:mod:`flowcap.variation.icons`).
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
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
        for measure, series in _minute_series(table, resource, period).items():
            spc[(resource, measure)] = xmr(
                series.index,
                series.to_numpy(),
                settings,
                label=f"{resource} {measure}",
                unit="minutes",
                period=period,
                floor=0.0,  # minutes cannot go below zero: nor does the lower limit shown
            )
    referral_spc = {}
    for key, series in _referral_series(history, table, period).items():
        kind, name = key
        label = {"all": "referrals", "case_type": f"referrals ({name})"}.get(
            kind, f"referrals (source {name})"
        )
        referral_spc[key] = xmr(
            series.index, series.to_numpy(), settings, label, period=period, floor=0.0
        )
    targets = service.spc_targets
    icons = {key: _icons(result, targets.get(chart_name(key)), period)
             for key, result in spc.items()}  # fmt: skip
    referral_icons = {
        key: _icons(result, targets.get(chart_name(key, True)), period)
        for key, result in referral_spc.items()
    }
    return VariationReport(
        service.name, stats, spc, profiles, referral_spc, period, icons, referral_icons
    )


def _icons(result: SPCResult, target, period: str) -> Icons:
    """A chart's icons, with the improvement direction and target ``spc_targets`` gives."""
    if target is None:
        return Icons.of(result)
    return Icons.of(result, target.better, getattr(target, period))


def _minute_series(table: pd.DataFrame, resource: str, period: str) -> dict[str, pd.Series]:
    """Demand, activity and backlog minutes of one resource, per working day or per week."""
    if period == "day":
        # SPC on working days, with demand due on other days counted on the next one.
        series = working_day_series(table, resource)
        return {measure: series[column] for measure, column in SPC_MEASURES.items()}
    rows = table[table["resource"] == resource].sort_values("date")
    days = pd.DatetimeIndex(rows["date"])
    return {
        measure: weekly_totals(days, rows[column].to_numpy(float), level=measure == "backlog")
        for measure, column in SPC_MEASURES.items()
    }


def _referral_series(
    history: ServiceHistory, table: pd.DataFrame, period: str
) -> dict[tuple[str, str], pd.Series]:
    """Referrals per working day (those on other days counted on the next working day) or
    per complete ISO week: all of them, by case type (types with any referral, in
    service.yaml's order) and by source (when any referral gives one)."""
    calendar = table.drop_duplicates("date").sort_values("date")
    days = pd.DatetimeIndex(calendar["date"])
    working = calendar["is_working_day"].to_numpy(bool)
    referrals = history.tables.referrals
    groups: dict[tuple[str, str], pd.Series] = {}
    has_source = "source" in referrals.columns and referrals["source"].notna().any()
    order = {name: i for i, name in enumerate(history.service.case_types)}
    for kind, column in (("all", None), ("case_type", "case_type"), ("source", "source")):
        if kind == "source" and not has_source:
            continue
        counts = daily_referrals(referrals, column, days)
        names = list(counts.columns)
        if kind == "case_type":
            names.sort(key=lambda name: (order.get(name, len(order)), name))
        else:
            names.sort()
        for name in names:
            values = counts[name].to_numpy()
            if values.sum() == 0:
                continue
            if period == "day":
                series = fold_to_working_days(days, values, working)
            else:
                series = weekly_totals(days, values)
            groups[(kind, "all" if kind == "all" else str(name))] = series
    return groups


def _one_per_point(alerts) -> list:
    """One alert per flagged point: the rule first in Making Data Count precedence (outside
    the limits, trend, two of three, shift) when several flag the same point."""
    first: dict = {}
    for alert in sorted(alerts, key=lambda a: RULES.index(a.rule)):
        first.setdefault(alert.date, alert)
    return list(first.values())
