"""Daily demand forecasts per resource: holidays, prediction intervals and a backtest.

The boundary with statsforecast is long format, ``unique_id, ds, y``: one row per resource
and calendar day, ``y`` in minutes of demand.
"""

from flowcap.forecast.backtest import backtest
from flowcap.forecast.model import DemandForecaster, fourier_terms, holiday_features
from flowcap.forecast.report import ForecastReport, forecast_demand

__all__ = [
    "DemandForecaster",
    "ForecastReport",
    "backtest",
    "forecast_demand",
    "fourier_terms",
    "holiday_features",
]
