"""How good would last month's forecasts have been? A rolling-origin backtest per resource.

The history is cut at ``n_windows`` forecast origins, ``step`` days apart, the last one
``horizon`` days before the end. At each origin a fresh forecaster sees only the days up to
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

from flowcap.errors import FlowcapError
from flowcap.forecast.model import DemandForecaster, _history_needed

WEEK = 7


def backtest(
    y: pd.DataFrame,
    exog: pd.DataFrame | None,
    horizon: int,
    n_windows: int,
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
    n_windows : int
        Forecast origins.
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
    if horizon < 1 or n_windows < 1:
        raise FlowcapError("horizon and n_windows must be at least 1")
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
    _check_history(history, end, horizon, n_windows, step, forecaster_factory)
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


def _check_history(history, end, horizon, n_windows, step, forecaster_factory) -> None:
    """Refuse, saying what to change, when the first origin leaves too short a history."""
    season = getattr(forecaster_factory(), "season_length_year", None)
    if season is None:  # not flowcap's forecaster: it checks its own history
        return
    first = end - pd.Timedelta(days=horizon + (n_windows - 1) * step)
    sizes = history[history["ds"] <= first].groupby("unique_id").size()
    needed = _history_needed(horizon, season)  # 28 days at least, as fit requires
    if sizes.empty or int(sizes.min()) >= needed:
        return  # an empty first window gets its own message below
    shortest = int(sizes.min())
    usable = n_windows - math.ceil((needed - shortest) / step)  # the later origins have enough
    advice = (
        f"use at most {usable} windows or a shorter horizon"
        if usable > 0
        else "shorten the horizon"
    )
    raise FlowcapError(
        f"the backtest's first origin ({first.date()}) leaves {shortest} days of history, "
        f"too short for a {horizon}-day forecast with calibrated intervals (it needs "
        f"{needed}): {advice}"
    )
