"""Working-day series: weekend demand lands on Monday; levels are taken as they stood."""

from __future__ import annotations

import numpy as np
import pandas as pd

from flowcap.variation.series import fold_to_working_days, working_day_series


def test_weekend_demand_counts_on_the_next_working_day():
    dates = pd.date_range("2025-03-07", "2025-03-11")  # Fri..Tue
    table = pd.DataFrame(
        {
            "date": dates,
            "resource": "idva",
            "demand_minutes": [60.0, 30.0, 90.0, 10.0, 20.0],
            "demand_cases": [1, 1, 2, 1, 1],
            "capacity_minutes": [480.0, 0, 0, 480, 480],
            "activity_minutes": [60.0, 0, 0, 130, 20],
            "backlog_minutes": [0.0, 30, 120, 0, 0],
            "backlog_cases": [0, 1, 3, 0, 0],
            "is_working_day": [True, False, False, True, True],
        }
    )
    series = working_day_series(table, "idva")
    assert list(series.index) == [dates[0], dates[3], dates[4]]
    assert series["demand_minutes"].tolist() == [60.0, 130.0, 20.0]
    assert series["demand_cases"].tolist() == [1, 4, 1]
    assert series["backlog_minutes"].tolist() == [0.0, 0.0, 0.0]


def test_fold_drops_what_comes_after_the_last_working_day():
    dates = pd.date_range("2025-03-06", periods=4)  # Thu..Sun
    folded = fold_to_working_days(dates, np.array([1.0, 2, 3, 4]), np.array([1, 1, 0, 0], bool))
    assert folded.tolist() == [1.0, 2.0]
