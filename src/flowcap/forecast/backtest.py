"""How good would last month's forecasts have been? A rolling-origin backtest per resource.

The history is cut at ``n_windows`` forecast origins, ``step`` days apart, the last one
``horizon`` days before the end. By default there are as many origins as the history holds
(each leaving the forecaster enough history before it), up to :data:`MOST_WINDOWS`.
At each origin a fresh forecaster sees only the days up to
it and forecasts the next ``horizon`` days, which are then compared with what happened
(Tashman 2000, "Out-of-sample tests of forecasting accuracy").

Accuracy is the mean absolute scaled error (Hyndman & Koehler 2006):

    MASE_w = mean_t |y_t - yhat_t| / mean_{s in train_w, s > 7} |y_s - y_{s-7}|

the forecast's mean absolute error over window ``w`` divided by the in-sample mean absolute
error of the weekly seasonal naive (lag 7) on that window's own training data; the table
gives the mean over windows. The baseline, the weekly seasonal naive forecast (the last
seven days repeated), is scored on the same windows with the same scale, so a model is
worth having where ``mase < mase_seasonal_naive``. Coverage is the share of all test days
whose actual value lies inside the interval (bounds included).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from flowcap.checks import check_windows
from flowcap.errors import FlowcapError
from flowcap.forecast.model import DemandForecaster, _history_needed

WEEK = 7
#: The most windows a backtest takes by default: 8 windows of 28 days score 224 days.
MOST_WINDOWS = 8
#: Test days a default backtest aims for at short horizons (56 one-day windows at h = 1).
SCORED_DAYS = 56


def backtest(
    y: pd.DataFrame,
    exog: pd.DataFrame | None,
    horizon: int,
    n_windows: int | None = None,
    step: int | None = None,
    forecaster_factory: Callable[[], DemandForecaster] = DemandForecaster,
) -> pd.DataFrame:
    """Rolling-origin backtest of ``forecaster_factory()`` against the weekly seasonal naive.

    Parameters
    ----------
    y : DataFrame
        ``unique_id, ds, y`` as for :meth:`DemandForecaster.fit`; the series end on the same
        day.
    exog : DataFrame or None
        Features covering every day of ``y`` (:func:`holiday_features`).
    horizon : int
        Days forecast from each origin.
    n_windows : int, optional
        Forecast origins. Default: as many as the history holds, at most
        ``max(MOST_WINDOWS, ceil(SCORED_DAYS / horizon))`` (:func:`windows_that_fit`); at
        least 1 must fit. More than fit is an :class:`~flowcap.checks.ArgumentError` on
        ``windows``.
    step : int, optional
        Days between origins; default ``horizon`` (windows that do not overlap).
    forecaster_factory : callable
        Returns an unfitted forecaster with ``fit(y, exog)`` and ``predict(h, exog_future)``.

    Returns
    -------
    DataFrame
        One row per ``unique_id``: ``mase``, ``mase_seasonal_naive`` (means over windows),
        ``coverage{L}`` for each interval level the forecaster returns, ``n_windows`` and
        ``horizon``.
    """
    if horizon < 1:
        raise FlowcapError("horizon must be at least 1")
    check_windows(n_windows)  # at least 1; the most the history holds is checked below
    step = horizon if step is None else step
    if step < 1:
        raise FlowcapError("step must be at least 1 day")
    history = y[["unique_id", "ds", "y"]].copy()
    history["ds"] = pd.to_datetime(history["ds"])
    history = history.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    if exog is not None:
        exog = exog.copy()
        exog["ds"] = pd.to_datetime(exog["ds"])
    end = history["ds"].max()
    season = getattr(forecaster_factory(), "season_length_year", None)
    if season is not None:  # flowcap's forecaster: say how many windows its history holds
        shortest = int(history.groupby("unique_id").size().min())
        fit = windows_that_fit(shortest, horizon, step, season)
        if fit < 1:
            raise FlowcapError(
                f"{shortest} days of history hold not even one {horizon}-day backtest window: "
                f"a {horizon}-day forecast needs {_history_needed(horizon, season)} days before "
                f"its origin (give more history, or forecast fewer days)"
            )
        if n_windows is None:
            n_windows = min(fit, max(MOST_WINDOWS, math.ceil(SCORED_DAYS / horizon)))
        check_windows(
            n_windows, fit, f"{shortest} days of history hold {fit} windows of {horizon} days"
        )
    elif n_windows is None:
        n_windows = MOST_WINDOWS
    rows = []
    for window in range(n_windows):
        cutoff = end - pd.Timedelta(days=horizon + (n_windows - 1 - window) * step)
        stop = cutoff + pd.Timedelta(days=horizon)
        train = history[history["ds"] <= cutoff]
        test = history[(history["ds"] > cutoff) & (history["ds"] <= stop)]
        if train.empty:
            raise FlowcapError(
                f"no history before the first origin ({cutoff.date()}): "
                "use fewer windows or a shorter horizon"
            )
        exog_train = exog_future = None
        if exog is not None:
            exog_train = exog[exog["ds"] <= cutoff]
            exog_future = exog[(exog["ds"] > cutoff) & (exog["ds"] <= stop)]
        forecast = forecaster_factory().fit(train, exog_train).predict(horizon, exog_future)
        levels = sorted(
            int(c[2:]) for c in forecast.columns if c.startswith("lo") and c[2:].isdigit()
        )
        scored = test.merge(forecast, on=["unique_id", "ds"], how="inner")
        for uid, days in scored.groupby("unique_id", sort=True):
            past = train.loc[train["unique_id"] == uid, "y"].to_numpy(dtype=float)
            actual = days["y"].to_numpy(dtype=float)
            scale = np.mean(np.abs(past[WEEK:] - past[:-WEEK])) if past.size > WEEK else np.nan
            naive = np.resize(past[-WEEK:], actual.size)
            with np.errstate(divide="ignore", invalid="ignore"):
                row = {
                    "unique_id": uid,
                    "mase": np.mean(np.abs(actual - days["yhat"].to_numpy())) / scale,
                    "mase_seasonal_naive": np.mean(np.abs(actual - naive)) / scale,
                    "days": actual.size,
                }
            for level in levels:
                inside = (actual >= days[f"lo{level}"].to_numpy()) & (
                    actual <= days[f"hi{level}"].to_numpy()
                )
                row[f"inside{level}"] = int(inside.sum())
            rows.append(row)
    scores = pd.DataFrame(rows)
    grouped = scores.groupby("unique_id", sort=True)
    out = grouped[["mase", "mase_seasonal_naive"]].mean()
    for column in [c for c in scores.columns if c.startswith("inside")]:
        out[f"coverage{column[6:]}"] = grouped[column].sum() / grouped["days"].sum()
    out["n_windows"] = grouped.size()
    out["horizon"] = horizon
    return out.reset_index()


def windows_that_fit(history_days: int, horizon: int, step: int, season_length_year: int = 365):
    """How many backtest windows of ``horizon`` days, ``step`` days apart, a history of
    ``history_days`` days holds, each origin leaving the forecaster the history it needs for
    a calibrated ``horizon``-day forecast (``_history_needed``); 0 when not even one fits."""
    room = history_days - horizon - _history_needed(horizon, season_length_year)
    return 0 if room < 0 else room // step + 1
