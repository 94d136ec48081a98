"""Variation, SPC, forecasts and the risk of bad days, for a service folder."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flowcap._json import json_number
from flowcap.errors import FlowcapError
from flowcap.forecast import DemandForecaster, holiday_features
from flowcap.forecast import backtest as run_backtest
from flowcap.io.school_holidays import read_school_holidays, school_holiday_days
from flowcap.model import bank_holidays, working_calendar
from flowcap.plan.risk import DEFAULT_KS, BadDayRisk, bad_day_risk
from flowcap.simulate.build import capacity_ahead
from flowcap.variation.series import fold_to_working_days, working_day_series
from flowcap.variation.spc import RULES, SPCResult, SPCSettings, xmr
from flowcap.variation.stats import variation_summary, weekday_month_table
from flowcap.workflow.data import Progress, _measure, _quiet


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


SPC_MEASURES = {
    "demand": "demand_minutes",
    "activity": "activity_minutes",
    "backlog": "backlog_minutes",
}


def variation_folder(
    folder: str | Path, settings: SPCSettings | None = None, progress: Progress = _quiet
) -> VariationReport:
    """Describe each resource's daily demand and run XmR charts of demand, activity, backlog.

    The statistics use demand as it fell due on the service's weekdays (bank holidays
    included, so their effect can be measured); the weekday × month profile uses every day.
    SPC runs over working days, with demand that fell due on other days counted on the next
    working day (:func:`flowcap.variation.series.working_day_series`).
    """
    settings = settings or SPCSettings()
    service, _, measures = _measure(folder, None, progress)
    school = read_school_holidays(Path(folder), service.timezone)
    progress("Describing variation")
    table = measures.table
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


@dataclass
class ForecastReport:
    """Daily demand forecasts per resource, with the history they came from.

    ``history``: date, resource, demand_minutes (calendar days). ``forecast``: date, resource,
    demand_minutes (the forecast mean), lo80, hi80, lo95, hi95. ``backtest``: one row per
    resource (mase, mase_seasonal_naive, coverage80, coverage95) or ``None``.
    """

    service_name: str
    history: pd.DataFrame
    forecast: pd.DataFrame
    backtest: pd.DataFrame | None = None

    def as_json(self) -> dict:
        forecast = self.forecast.copy()
        forecast["date"] = forecast["date"].dt.strftime("%Y-%m-%d")
        for column in ("demand_minutes", "lo80", "hi80", "lo95", "hi95"):
            forecast[column] = forecast[column].astype(float).round(1)
        out: dict = {"forecast": forecast.to_dict(orient="records"), "backtest": {}}
        if self.backtest is not None:
            out["backtest"] = {
                str(row["unique_id"]): {
                    name: json_number(row[name])
                    for name in ("mase", "mase_seasonal_naive", "coverage80", "coverage95")
                }
                for _, row in self.backtest.iterrows()
            }
        return out


def forecast_folder(
    folder: str | Path,
    horizon: int,
    backtest: bool = False,
    progress: Progress = _quiet,
) -> ForecastReport:
    """Forecast each resource's daily demand minutes ``horizon`` days past the data."""
    if horizon < 1:
        raise FlowcapError("--horizon must be at least 1 day")
    service, _, measures = _measure(folder, None, progress)
    school = read_school_holidays(Path(folder), service.timezone)
    return _forecast(service, measures.table, school, horizon, backtest, progress)


def _forecast(service, table, school, horizon, backtest, progress) -> ForecastReport:
    history = table[["date", "resource", "demand_minutes"]]
    y = history.rename(columns={"resource": "unique_id", "date": "ds", "demand_minutes": "y"})
    last = y["ds"].max()
    future = pd.date_range(last + pd.Timedelta(days=1), periods=horizon, freq="D")
    exog = holiday_features(
        pd.date_range(y["ds"].min(), future[-1], freq="D"), service.region, school
    )
    progress("Fitting the forecast")
    model = DemandForecaster().fit(y, exog[exog["ds"] <= last])
    predicted = model.predict(horizon, exog[exog["ds"] > last])
    forecast = predicted.rename(
        columns={"unique_id": "resource", "ds": "date", "yhat": "demand_minutes"}
    )
    scores = None
    if backtest:
        progress("Backtesting")
        scored = min(horizon, 28)
        # Short horizons need more windows to score enough days (56 one-day windows at h = 1).
        windows = max(BACKTEST_WINDOWS, math.ceil(56 / scored))
        scores = run_backtest(y, exog[exog["ds"] <= last], horizon=scored, n_windows=windows)
    return ForecastReport(service.name, history.copy(), forecast, scores)


BACKTEST_WINDOWS = 8


@dataclass
class RiskReport:
    """Bad-day risks per resource and ratio, and each forecast day's probability."""

    service_name: str
    risks: list[BadDayRisk]
    daily: pd.DataFrame  # date, resource, k, p over the horizon

    def as_json(self) -> list[dict]:
        return [risk.as_json() for risk in self.risks]


def risk_folder(
    folder: str | Path,
    ks: tuple[float, ...] = DEFAULT_KS,
    horizon: int = 90,
    progress: Progress = _quiet,
) -> RiskReport:
    """How often each resource's demand exceeds k × capacity, from history and ahead."""
    if not all(np.isfinite(k) and k > 0 for k in ks):
        raise FlowcapError("--k must be a number more than 0")
    if horizon < 1:
        raise FlowcapError("--horizon must be at least 1 day")
    service, data, measures = _measure(folder, None, progress)
    school = read_school_holidays(Path(folder), service.timezone)
    report = _forecast(service, measures.table, school, horizon, False, progress)
    measures_table = measures.table
    future_days = pd.date_range(report.forecast["date"].min(), report.forecast["date"].max())
    calendar = working_calendar(service, future_days[0].date(), future_days[-1].date())
    capacity = capacity_ahead(service, data.roster, calendar, measures_table)
    progress("Assessing the risk of bad days")
    risks, daily = [], []
    working = calendar["is_working_day"].to_numpy()
    for resource in service.resources:
        history = working_day_series(measures_table, resource)
        predicted = report.forecast[report.forecast["resource"] == resource].sort_values("date")
        ahead = pd.DataFrame(
            {
                "demand_minutes": fold_to_working_days(
                    future_days, predicted["demand_minutes"].to_numpy(), working
                ),
            }
        )
        ahead["capacity_minutes"] = pd.Series(capacity[resource], index=future_days)[ahead.index]
        found = bad_day_risk(history, ks, resource=resource, ahead=ahead)
        risks += found
        for risk in found:
            if risk.ahead is not None:
                daily.append(
                    pd.DataFrame(
                        {
                            "date": risk.ahead.index,
                            "resource": resource,
                            "k": risk.k,
                            "p": risk.ahead.to_numpy(),
                        }
                    )
                )
    daily_table = (
        pd.concat(daily, ignore_index=True)
        if daily
        else pd.DataFrame(columns=["date", "resource", "k", "p"])
    )
    return RiskReport(service.name, risks, daily_table)
