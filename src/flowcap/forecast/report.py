"""Forecasts of a service's daily demand minutes per resource, with intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from flowcap._json import json_number
from flowcap.checks import check_horizon
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
) -> ForecastReport:
    """Forecast each resource's daily demand minutes ``horizon`` days past the data, with
    the service's bank holidays and school holidays as regressors."""
    check_horizon(horizon)
    progress("Measuring")
    table = history.require_measures("a forecast").table
    return forecast_measures(
        history.service, table, history.school_holidays, horizon, backtest, progress
    )


def forecast_measures(
    service: Service,
    table: pd.DataFrame,
    school_holidays: pd.DataFrame,
    horizon: int,
    backtest: bool = False,
    progress: Progress = quiet,
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
        scored = min(horizon, 28)
        # Short horizons need more windows to score enough days (56 one-day windows at h = 1).
        windows = max(BACKTEST_WINDOWS, math.ceil(56 / scored))
        scores = run_backtest(y, exog[exog["ds"] <= last], horizon=scored, n_windows=windows)
    return ForecastReport(service.name, history.copy(), forecast, scores)


BACKTEST_WINDOWS = 8
