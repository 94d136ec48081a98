"""Daily measures as the series the statistics need: one value per working day.

An office-hours IDVA team does not see Saturday's referrals until Monday, so for SPC and the
risk of bad days the demand that falls due on a non-working day is counted on the next
working day. Activity and backlog are taken as they stood at the end of each working day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Measures that flow (summed into the next working day) and that are levels (taken as is).
FLOWS = ("demand_minutes", "demand_cases")


def working_day_series(table: pd.DataFrame, resource: str) -> pd.DataFrame:
    """One resource's measures on working days only.

    Parameters
    ----------
    table : the daily measures table (``DailyMeasures.table``), all calendar days.
    resource : which resource.

    Returns
    -------
    DataFrame indexed by working date with ``demand_minutes`` and ``demand_cases`` (including
    what fell due on the non-working days just before), ``capacity_minutes``,
    ``activity_minutes``, ``backlog_minutes`` and ``backlog_cases``. Demand falling due after
    the last working day is left out.
    """
    rows = table[table["resource"] == resource].sort_values("date")
    working = rows["is_working_day"].to_numpy(dtype=bool)
    if not working.any():
        raise ValueError(f"{resource!r} has no working days in the period")
    out = (
        rows[working]
        .set_index("date")[
            ["capacity_minutes", "activity_minutes", "backlog_minutes", "backlog_cases"]
        ]
        .copy()
    )
    days = pd.DatetimeIndex(rows["date"])
    for column in FLOWS:
        out[column] = fold_to_working_days(days, rows[column].to_numpy(float), working).to_numpy()
    out["demand_cases"] = out["demand_cases"].round().astype(np.int64)
    return out[
        [
            "demand_minutes",
            "demand_cases",
            "capacity_minutes",
            "activity_minutes",
            "backlog_minutes",
            "backlog_cases",
        ]
    ]


def fold_to_working_days(
    dates: pd.DatetimeIndex, values: np.ndarray, working: np.ndarray
) -> pd.Series:
    """Sum each non-working day's value into the next working day.

    Parameters
    ----------
    dates : consecutive calendar days, shape (n,).
    values : a flow on each day (minutes due), shape (n,).
    working : whether each day is a working day, shape (n,).

    Returns
    -------
    Series indexed by the working days; values after the last working day are dropped.
    """
    working = np.asarray(working, dtype=bool)
    positions = np.flatnonzero(working)
    owner = np.searchsorted(positions, np.arange(len(dates)), side="left")
    inside = owner < len(positions)
    summed = np.bincount(
        owner[inside], weights=np.asarray(values, float)[inside], minlength=len(positions)
    )
    return pd.Series(summed, index=pd.DatetimeIndex(dates)[positions])


def weekly_totals(dates: pd.DatetimeIndex, values: np.ndarray, level: bool = False) -> pd.Series:
    """A daily series as one value per complete ISO week (Monday to Sunday).

    Parameters
    ----------
    dates : consecutive calendar days, shape (n,).
    values : the measure on each day, shape (n,).
    level : False for a flow (the week's total: referrals, minutes due or done); True for a
        level (backlog): the value at the end of the week, on its Sunday.

    Returns
    -------
    Series indexed by each week's Monday. Weeks the dates do not cover from Monday to Sunday
    (a part week at either end) are left out, so a part week never looks like a quiet one.
    """
    dates = pd.DatetimeIndex(dates).normalize()
    series = pd.Series(np.asarray(values, float), index=dates)
    monday = dates - pd.to_timedelta(dates.dayofweek, unit="D")
    weeks = series.groupby(monday)
    days = weeks.size()
    out = weeks.last() if level else weeks.sum()
    out = out[days == 7]
    out.index = pd.DatetimeIndex(out.index)
    return out


def daily_referrals(
    referrals: pd.DataFrame, column: str | None, days: pd.DatetimeIndex
) -> pd.DataFrame:
    """Referrals on each calendar day of ``days`` (consecutive), one column per value of
    ``column`` (``case_type`` or ``source``; missing sources are "(not given)"), or a single
    column ``all`` when ``column`` is None. Referrals outside ``days`` are left out."""
    days = pd.DatetimeIndex(days).normalize()
    when = pd.to_datetime(referrals["referral_date"]).dt.normalize()
    if column is None:
        group = pd.Series("all", index=referrals.index)
    else:
        group = referrals[column].astype(object).where(referrals[column].notna(), "(not given)")
        group = group.astype(str).str.strip().replace("", "(not given)")
    counts = pd.crosstab(when, group)
    counts.index = pd.DatetimeIndex(counts.index)
    return counts.reindex(days, fill_value=0).astype(float)
