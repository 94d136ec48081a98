"""Forecasts of a service's daily demand minutes per resource, with intervals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from flowcap._json import json_number
from flowcap.checks import check_horizon, check_windows
from flowcap.forecast.backtest import backtest as run_backtest
from flowcap.forecast.model import DemandForecaster, holiday_features
from flowcap.model import Service
from flowcap.progress import Progress, quiet

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory


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

    def summary(self) -> pd.DataFrame:
        """One row per resource over the horizon: ``from`` and ``to`` (dates), the ``mean``
        forecast minutes a day, the means of the 80% interval's ends (``lo80``, ``hi80``), and
        the ``peak`` day's forecast with its ``peak_date`` (the first, on a tie)."""
        rows = []
        for resource, days in self.forecast.groupby("resource", sort=False):
            peak = days.loc[days["demand_minutes"].idxmax()]
            rows.append(
                {
                    "resource": str(resource),
                    "from": days["date"].min(),
                    "to": days["date"].max(),
                    "mean": days["demand_minutes"].mean(),
                    "lo80": days["lo80"].mean(),
                    "hi80": days["hi80"].mean(),
                    "peak": peak["demand_minutes"],
                    "peak_date": peak["date"],
                }
            )
        return pd.DataFrame(rows)

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


def forecast_demand(
    history: ServiceHistory,
    horizon: int,
    backtest: bool = False,
    progress: Progress = quiet,
    *,
    windows: int | None = None,
    warn: Progress = quiet,
) -> ForecastReport:
    """Forecast each resource's daily demand minutes ``horizon`` days past the data, with
    the service's bank holidays and school holidays as regressors; with ``backtest``, score
    ``windows`` rolling origins (default: as many as the history holds, up to 8) and
    ``warn`` of what :func:`backtest_notes` finds."""
    check_horizon(horizon)
    check_windows(windows)
    progress("Measuring")
    table = history.require_measures("a forecast").table
    return forecast_measures(
        history.service,
        table,
        history.school_holidays,
        horizon,
        backtest,
        progress,
        windows=windows,
        warn=warn,
    )


def forecast_measures(
    service: Service,
    table: pd.DataFrame,
    school_holidays: pd.DataFrame,
    horizon: int,
    backtest: bool = False,
    progress: Progress = quiet,
    *,
    windows: int | None = None,
    warn: Progress = quiet,
) -> ForecastReport:
    """:func:`forecast_demand` on a measures table (``date, resource, demand_minutes``, every
    calendar day) already at hand; ``horizon`` days (checked by the caller)."""
    history = table[["date", "resource", "demand_minutes"]]
    y = history.rename(columns={"resource": "unique_id", "date": "ds", "demand_minutes": "y"})
    last = y["ds"].max()
    future = pd.date_range(last + pd.Timedelta(days=1), periods=horizon, freq="D")
    exog = holiday_features(
        pd.date_range(y["ds"].min(), future[-1], freq="D"), service.region, school_holidays
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
        scored = min(horizon, BACKTEST_DAYS)
        scores = run_backtest(y, exog[exog["ds"] <= last], horizon=scored, n_windows=windows)
        for note in backtest_notes(scores):
            warn(note)
    return ForecastReport(service.name, history.copy(), forecast, scores)


#: The backtest forecasts at most this many days from each origin (days).
BACKTEST_DAYS = 28
#: A 95% interval that holds fewer of the backtest's actual days than this is flagged.
LOW_COVERAGE95 = 0.90


def backtest_notes(scores: pd.DataFrame) -> list[str]:
    """Warnings on a backtest (:func:`flowcap.forecast.backtest`), one per finding: a
    resource whose forecast lost to the weekly seasonal naive (a higher MASE), or whose 95%
    interval held under :data:`LOW_COVERAGE95` of the actual days."""
    notes = []
    for row in scores.sort_values("unique_id").to_dict("records"):
        windows = f"{row['n_windows']} windows of {row['horizon']} days"
        if row["mase"] > row["mase_seasonal_naive"]:
            notes.append(
                f"{row['unique_id']}: the forecast lost to the weekly seasonal naive in the "
                f"backtest (MASE {row['mase']:.3f} against {row['mase_seasonal_naive']:.3f}, "
                f"{windows}): last weeks' repeat would have done better"
            )
        coverage = row.get("coverage95")
        if coverage is not None and coverage < LOW_COVERAGE95:
            notes.append(
                f"{row['unique_id']}: the 95% interval held {coverage:.0%} of the actual days "
                f"in the backtest ({windows}), under {LOW_COVERAGE95:.0%}: the intervals are "
                "too narrow for this history"
            )
    return notes
