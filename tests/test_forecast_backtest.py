"""The rolling-origin backtest of the demand forecasts (flowcap.forecast.backtest).

Every random series has a fixed seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import WEEKLY, weekly_series
from flowcap.checks import ArgumentError
from flowcap.errors import FlowcapError
from flowcap.forecast import backtest, fourier_terms


@pytest.mark.slow
def test_a_perfectly_seasonal_series_has_mase_zero():
    # sqrt(demand) = weekday level + an annual wave: exactly the harmonic regression's form,
    # while the weekly seasonal naive misses the wave, so its scale is not zero.
    days = pd.date_range("2023-01-01", periods=500)
    wave = fourier_terms(days, 365, 1)["year_sin1"].to_numpy()
    root = np.sqrt(WEEKLY + 30.0)[days.dayofweek] + 2.0 * wave
    y = pd.DataFrame({"unique_id": "triage", "ds": days, "y": root**2})
    scores = backtest(y, None, horizon=14, n_windows=3)
    assert list(scores.columns) == [
        "unique_id",
        "mase",
        "mase_seasonal_naive",
        "coverage80",
        "coverage95",
        "n_windows",
        "horizon",
    ]
    row = scores.iloc[0]
    assert row["mase"] < 1e-6
    assert row["mase_seasonal_naive"] > 0.5
    assert row["n_windows"] == 3 and row["horizon"] == 14


def test_a_backtest_too_long_for_the_history_says_how_many_windows_fit():
    days = pd.date_range("2024-01-01", periods=200)
    y = weekly_series(days, 5.0, seed=10)
    # 28-day windows: the first of 6 origins leaves 32 days, a 28-day forecast needs 55, so
    # (200 - 28 - 55) // 28 + 1 = 5 windows fit.
    with pytest.raises(ArgumentError, match=r"at most 5, not 6 \(200 days .* hold 5 windows"):
        backtest(y, None, horizon=28, n_windows=6)


def test_the_windows_adapt_to_six_months_of_history():
    # Issue #10: with six months of history the CLI's 8 windows of 28 days did not fit and
    # there was no option to ask for fewer. 183 days: a 28-day forecast needs 55 days before
    # its origin, so (183 - 28 - 55) // 28 + 1 = 4 windows fit, and 4 are used.
    days = pd.date_range("2025-06-01", periods=183)
    y = weekly_series(days, 5.0, seed=13)
    scores = backtest(y, None, horizon=28)
    assert scores["n_windows"].tolist() == [4]
    assert backtest(y, None, horizon=28, n_windows=2)["n_windows"].tolist() == [2]
    with pytest.raises(ArgumentError, match=r"windows must be at most 4, not 5 .*183 days"):
        backtest(y, None, horizon=28, n_windows=5)


def test_a_history_too_short_for_one_window_says_so():
    # 60 days: a 28-day forecast needs 55 days before its origin, and 60 - 28 leaves 32.
    y = weekly_series(pd.date_range("2025-06-01", periods=60), 5.0, seed=14)
    with pytest.raises(FlowcapError, match=r"60 days .* not even one 28-day backtest window"):
        backtest(y, None, horizon=28)
