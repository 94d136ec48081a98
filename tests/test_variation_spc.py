"""XmR charts and the Making Data Count rules, on series whose answers are known.

Reference values are from research/methods.md §3.3: NHSRplotthedots snapshots and vignettes
(R), and nhspy-plotthedots' limit tests. Rule tests follow the MDC SQL v2.6 definitions, which
flag every point of a run (NHSRplotthedots flags a shift only from its 7th point on).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from flowcap.variation.spc import (
    SPCSettings,
    _shift_flags,
    _trend_flags,
    _trend_runs,
    _two_of_three_flags,
    _two_of_three_runs,
    xmr,
)

#: R: set.seed(123); rnorm(20)
RNORM_20 = np.array(
    [-0.56047564655, -0.23017748948, 1.55870831415, 0.07050839142, 0.12928773516,
     1.71506498688, 0.46091620599, -1.26506123461, -0.68685285189, -0.44566197010,
     1.22408179744, 0.35981382706, 0.40077145059, 0.11068271595, -0.55584113475,
     1.78691313680, 0.49785047823, -1.96661715663, 0.70135590156, -0.47279140773]
)  # fmt: skip
SCREENED = SPCSettings(screen_outliers=True)


def working_days(n: int, start: str = "2025-03-03") -> pd.DatetimeIndex:
    """``n`` weekdays from Monday 3 March 2025."""
    return pd.bdate_range(start, periods=n)


def chart(values, settings: SPCSettings = SPCSettings(), **kwargs):
    return xmr(working_days(len(values)), values, settings, **kwargs)


def only_segment(result):
    (segment,) = result.segments
    return segment


# --- limits --------------------------------------------------------------------------------


def test_ptd_rnorm_screened_limits_and_all_common_cause():
    result = chart(RNORM_20, SCREENED)
    segment = only_segment(result)
    assert segment.mean == pytest.approx(0.1416238, abs=1e-7)
    assert segment.lower_limit == pytest.approx(-3.01138, abs=1e-5)
    assert segment.upper_limit == pytest.approx(3.294627, abs=1e-6)
    assert segment.has_limits and segment.n_points == 20
    assert not result.points["special_cause"].any()
    assert result.alerts == []


@pytest.mark.parametrize(
    ("screen", "lower", "upper"),
    [(True, -2.383666, 3.722497), (False, -4.596625, 5.935457)],
)
def test_ptd_rnorm_with_an_outlier_screened_and_unscreened(screen, lower, upper):
    values = RNORM_20.copy()
    values[14] = 10
    result = chart(values, SPCSettings(screen_outliers=screen))
    segment = only_segment(result)
    assert segment.mean == pytest.approx(0.6694159, abs=1e-7)
    assert segment.lower_limit == pytest.approx(lower, abs=1e-6)
    assert segment.upper_limit == pytest.approx(upper, abs=1e-6)
    flagged = result.points.index[result.points["outside_limits"]].tolist()
    assert flagged == [14]
    assert result.points.loc[14, "direction"] == "high"


def test_ptd_rnorm_facets_of_ten_via_recalculation():
    days = working_days(20)
    settings = SPCSettings(screen_outliers=True, min_points=10, recalculate_from=(days[10],))
    first, second = xmr(days, RNORM_20, settings).segments
    assert (first.start, first.end, first.n_points) == (date(2025, 3, 3), date(2025, 3, 14), 10)
    assert (second.start, second.end, second.n_points) == (date(2025, 3, 17), date(2025, 3, 28), 10)
    assert (first.mean, first.lower_limit, first.upper_limit) == pytest.approx(
        (0.0746, -2.60, 2.75), abs=0.005
    )
    assert (second.mean, second.lower_limit, second.upper_limit) == pytest.approx(
        (0.209, -3.28, 3.70), abs=0.005
    )


@pytest.mark.parametrize(
    ("screen", "lower", "upper"),
    [(True, -0.715556, 4.604444), (False, -3.062614, 6.951503)],
)
def test_ptd_deviations_vignette_point_five_is_high(screen, lower, upper):
    values = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]
    result = chart(values, SPCSettings(screen_outliers=screen))
    segment = only_segment(result)
    assert segment.mean == pytest.approx(1.944444, abs=1e-6)
    assert (segment.lower_limit, segment.upper_limit) == pytest.approx((lower, upper), abs=1e-6)
    points = result.points
    assert points.index[points["special_cause"]].tolist() == [4]
    assert points.loc[4, "outside_limits"] and points.loc[4, "direction"] == "high"


def test_ptd_two_of_three_on_opposite_sides_is_common_cause():
    values = np.array([1.0, -1.0] * 8)
    values[14], values[15] = 5.5, -5.5
    result = chart(values, SCREENED)
    segment = only_segment(result)
    assert (segment.lower_limit, segment.upper_limit) == pytest.approx((-6.175, 6.175), abs=1e-3)
    last_two = result.points.iloc[14:]
    assert (last_two["value"].abs() > last_two["upper_2sigma"]).all()  # both beyond 2 sigma
    assert not result.points["special_cause"].any()


@pytest.mark.parametrize(
    ("values", "mean", "lower", "upper"),
    [
        (list(range(1, 11)), 5.5, 2.84, 8.16),
        ([1, 2, 3, 4, 5, 4, 3, 2, 1, 2], 2.7, 0.04, 5.36),
        ([1, 2, 3], 2.0, -0.66, 4.66),
        (list(range(20)), 9.5, 6.84, 12.16),
        ([3, 1, 4, 1, 5, 9, 2], 3.5714286, -6.6252381, 13.7680952),
        ([1, 2, 3, 2, 1, 2, 3, 4, 5, 6, 7, 4, 3, 2, 1, 2], 3.0, -0.0146667, 6.0146667),
        ([16, 9, 4, 2, 1], 6.4, -3.575, 16.375),
        ([1, 6, 1, 8, 0, 3], 3.1666667, -11.7293333, 18.0626667),
        ([1, 1, 1, 1, 2], 1.2, 1.2, 1.2),  # MR̄ is 0 once the moving range of 1 is screened out
    ],
)
def test_nhspy_screened_limits(values, mean, lower, upper):
    segment = only_segment(chart(values, SPCSettings(screen_outliers=True, min_points=2)))
    assert (segment.mean, segment.lower_limit, segment.upper_limit) == pytest.approx(
        (mean, lower, upper), abs=1e-6
    )


def test_two_sigma_lines_are_two_thirds_of_the_way_to_the_limits():
    points = chart(list(range(1, 11)), SPCSettings(screen_outliers=True, min_points=2)).points
    assert points["lower_2sigma"].iloc[0] == pytest.approx(3.726667, abs=1e-6)
    assert points["upper_2sigma"].iloc[0] == pytest.approx(7.273333, abs=1e-6)


def test_unscreened_is_the_default_and_keeps_large_moving_ranges():
    values = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]
    assert only_segment(chart(values)).upper_limit == pytest.approx(6.951503, abs=1e-6)


def test_fewer_than_min_points_is_a_run_chart_without_limits_or_alerts():
    values = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 50]  # 12 points, the last far out
    result = chart(values)
    segment = only_segment(result)
    assert not segment.has_limits and segment.n_points == 12
    assert segment.mean == pytest.approx(np.mean(values))
    assert np.isnan(segment.lower_limit) and np.isnan(segment.upper_limit)
    assert result.points[["lower_limit", "upper_limit", "upper_2sigma"]].isna().all().all()
    assert not result.points[["outside_limits", "shift", "trend", "two_of_three"]].any().any()
    assert result.alerts == []
    thirteen = chart([1, *values])
    assert only_segment(thirteen).has_limits and thirteen.points["outside_limits"].iloc[-1]


# --- rules on their own -----------------------------------------------------------------------


def test_trend_of_seven_rising_points_flags_all_seven():
    assert _trend_flags(np.arange(1, 8), 7).tolist() == [1] * 7
    assert _trend_flags(np.arange(1, 8), 8).tolist() == [0] * 7
    assert _trend_flags(np.arange(7, 0, -1), 6).tolist() == [-1] * 7


def test_equal_values_break_a_trend():
    values = [1, 2, 3, 3, 4, 5, 6]
    assert _trend_flags(values, 7).tolist() == [0] * 7
    assert _trend_flags(values, 4).tolist() == [0, 0, 0, 1, 1, 1, 1]


def test_trend_flags_only_the_run_inside_a_longer_series():
    assert _trend_flags([2, 1, 2, 3, 4, 5, 6, 7, 3], 7).tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 0]


def test_peak_between_a_rising_and_a_falling_trend_belongs_to_the_rise():
    direction, start, length = _trend_runs([1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1], 6)
    assert direction.tolist() == [1] * 6 + [-1] * 5
    assert (start[5], length[5]) == (0, 6)
    assert (start[6], length[6]) == (5, 6)


def test_shift_flags_every_point_of_the_run_once_it_is_long_enough():
    assert _shift_flags([1] * 8 + [-1], 0.0, 7).tolist() == [1] * 8 + [0]
    assert _shift_flags([-1] * 6 + [1], 0.0, 6).tolist() == [-1] * 6 + [0]
    assert _shift_flags([-1] * 5 + [1], 0.0, 6).tolist() == [0] * 6


def test_a_point_exactly_on_the_mean_breaks_a_shift():
    values = [1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1]
    assert _shift_flags(values, 0.0, 6).tolist() == [1] * 6 + [0] * 6
    assert _shift_flags(values, 0.0, 7).tolist() == [0] * 12


def test_shift_does_not_run_across_a_break():
    breaks = np.zeros(8, bool)
    breaks[4] = True
    assert _shift_flags([1] * 8, 0.0, 6, breaks).tolist() == [0] * 8
    assert _shift_flags([1] * 8, 0.0, 4, breaks).tolist() == [1] * 8


def test_two_of_three_flags_only_the_points_beyond_two_sigma():
    # mean 0, limits ±3, 2-sigma lines ±2
    values = [0.5, 0.5, 2.5, 0.5, 2.5, 0.5, 0.5]
    assert _two_of_three_flags(values, 0.0, 3.0).tolist() == [0, 0, 1, 0, 1, 0, 0]
    negated = [-v for v in values]
    assert _two_of_three_flags(negated, 0.0, 3.0).tolist() == [0, 0, -1, 0, -1, 0, 0]


def test_two_of_three_needs_all_three_on_the_same_side_of_the_mean():
    assert _two_of_three_flags([0.5, 2.5, -0.5, 2.5, 0.5], 0.0, 3.0).tolist() == [0] * 5
    assert _two_of_three_flags([2.5, -2.5, 2.5, -2.5], 0.0, 3.0).tolist() == [0] * 4
    assert _two_of_three_flags([0.0, 2.5, 2.5, 0.0], 0.0, 3.0).tolist() == [0] * 4  # on the mean


def test_two_sigma_line_itself_is_not_beyond_it():
    assert _two_of_three_flags([2.0, 2.0, 2.0], 0.0, 3.0).tolist() == [0, 0, 0]


def test_three_of_three_beyond_two_sigma():
    direction, count = _two_of_three_runs([2.5, 2.5, 2.5, 0.5], 0.0, 3.0)
    assert direction.tolist() == [1, 1, 1, 0]
    assert count.tolist() == [3, 3, 3, 0]


def test_points_beyond_the_limits_count_in_two_of_three_only_when_asked():
    values = [0.5, 2.5, 3.5, 0.5]  # the 3.5 is beyond the upper limit of 3
    assert _two_of_three_flags(values, 0.0, 3.0, True).tolist() == [0, 1, 1, 0]
    assert _two_of_three_flags(values, 0.0, 3.0, False).tolist() == [0, 0, 0, 0]


def test_two_of_three_windows_do_not_straddle_a_break():
    breaks = np.array([True, False, True, False])
    assert _two_of_three_flags([2.5, 2.5, 0.5, 0.5], 0.0, 3.0, True, breaks).tolist() == [0] * 4


# --- rules on a chart -------------------------------------------------------------------------


def test_point_on_the_mean_breaks_a_shift_on_a_chart():
    values = [10, 10, 11, 12, 11, 10, 11, 12, 11, 6, 6, 10, 10]  # mean exactly 10
    result = chart(values)
    assert only_segment(result).mean == 10
    assert not result.points["shift"].any()
    values[5] = 11  # now 7 in a row above the mean
    shifted = chart(values).points
    assert shifted.index[shifted["shift"]].tolist() == [2, 3, 4, 5, 6, 7, 8]
    assert set(shifted.loc[shifted["shift"], "direction"]) == {"high"}


def test_two_of_three_on_a_chart():
    values = [-1.0, 1.0] * 10 + [4.2, 4.2, 1.0]
    result = chart(values)
    points = result.points
    assert (points["upper_2sigma"] < 4.2).all() and (points["upper_limit"] > 4.2).all()
    assert points.index[points["two_of_three"]].tolist() == [20, 21]
    assert points.index[points["special_cause"]].tolist() == [20, 21]
    assert [(a.rule, a.direction) for a in result.alerts] == [("two_of_three", "high")] * 2
    message = result.alerts[0].message
    assert "is one of 2 of 3 days in a row beyond the upper 2-sigma line" in message


def test_recalculation_gives_each_period_its_own_limits():
    values = [9.0, 11.0] * 8 + [19.0, 21.0] * 8
    days = working_days(32, "2025-02-28")  # days[16] is Monday 24 March
    unsplit = xmr(days, values)
    assert unsplit.points["shift"].all()
    saturday = days[16].date() - pd.Timedelta(days=2)  # a step change dated on a weekend
    result = xmr(days, values, SPCSettings(recalculate_from=(saturday,)))
    first, second = result.segments
    assert (first.end, second.start) == (days[15].date(), days[16].date())
    assert (first.mean, second.mean) == (10, 20)
    assert (first.lower_limit, first.upper_limit) == pytest.approx((10 - 5.32, 10 + 5.32))
    assert (second.lower_limit, second.upper_limit) == pytest.approx((20 - 5.32, 20 + 5.32))
    assert result.points["mean"].tolist() == [10] * 16 + [20] * 16
    assert result.alerts == []


def test_recalculation_dates_outside_the_series_change_nothing():
    days = working_days(20)
    settings = SPCSettings(recalculate_from=(date(2020, 1, 1), days[0].date(), date(2030, 1, 1)))
    assert len(xmr(days, RNORM_20, settings).segments) == 1


def crossing_series():
    """Two 13-point segments; a rise of 6 and 7 points above the means straddle the boundary."""
    first = [-1.0, 1.0] * 5 + [0.2, 0.4, 0.6]
    second = [0.8, 1.0, 1.2] + [-1.0, 1.0] * 5
    days = working_days(26)
    return days, first + second, (days[13],)


def test_trend_crosses_a_recalculation_but_shift_does_not_by_default():
    days, values, step = crossing_series()
    points = xmr(days, values, SPCSettings(recalculate_from=step)).points
    assert points.index[points["trend"]].tolist() == [10, 11, 12, 13, 14, 15]
    assert not points["shift"].any()


def test_shift_crosses_a_recalculation_when_asked():
    days, values, step = crossing_series()
    settings = SPCSettings(recalculate_from=step, runs_cross_recalculations=True)
    points = xmr(days, values, settings).points
    assert points.index[points["shift"]].tolist() == [9, 10, 11, 12, 13, 14, 15]


def test_runs_do_not_reach_into_a_segment_without_limits():
    days, values, _ = crossing_series()
    values = values[:13] + values[13:16]  # the second segment has 3 points: no limits
    result = xmr(days[:16], values, SPCSettings(recalculate_from=(days[13],)))
    assert [s.has_limits for s in result.segments] == [True, False]
    assert not result.points["trend"].any()  # only 3 rising points before the boundary


# --- alerts ----------------------------------------------------------------------------------


def test_alert_sentences_name_the_day_the_value_and_the_rule():
    values = [1240] + [800, 820] * 6  # mean 843.08, MR̄ 55
    result = chart(values, label="IDVA demand", unit="minutes")
    first = result.alerts[0]
    assert (first.date, first.rule, first.direction) == (date(2025, 3, 3), "outside_limits", "high")
    assert first.message == (
        "IDVA demand of 1,240 minutes on Mon 3 Mar 2025 is above the upper process limit (989)."
    )
    shifts = [a for a in result.alerts if a.rule == "shift"]
    assert len(shifts) == 12 and {a.direction for a in shifts} == {"low"}
    assert shifts[4].message == (
        "IDVA demand of 800 minutes on Mon 10 Mar 2025 is the 5th of 12 days in a row below the "
        "mean of 843 (Tue 4 Mar 2025 to Wed 19 Mar 2025)."
    )


def test_trend_alert_sentence():
    values = [5, 3] * 4 + [1, 2, 3, 4, 5, 6] + [3]
    result = chart(values, label="referrals")
    trends = [a for a in result.alerts if a.rule == "trend"]
    assert len(trends) == 6
    assert trends[0].message == (
        "Referrals of 1 on Thu 13 Mar 2025 is part of a run of 6 rising days "
        "(Thu 13 Mar 2025 to Thu 20 Mar 2025)."
    )


def test_one_alert_per_flagged_point_per_rule():
    rng = np.random.default_rng(7)
    values = rng.normal(100, 10, 300)
    values[50:60] += 25  # a shift, with some points beyond 2 sigma and the limits
    values[200:208] = np.arange(8) * 8 + 80  # a trend
    values[120] = 200
    result = chart(values, label="demand", unit="minutes")
    flags = result.points[["outside_limits", "shift", "trend", "two_of_three"]]
    assert len(result.alerts) == int(flags.to_numpy().sum())
    assert result.points["special_cause"].tolist() == flags.any(axis=1).tolist()
    special = result.points["special_cause"]
    assert result.points.loc[special, "direction"].isin(["high", "low"]).all()
    assert (result.points.loc[~special, "direction"] == "").all()
    words = {
        "outside_limits": "process limit",
        "shift": "days in a row",
        "trend": "run of",
        "two_of_three": "of 3 days in a row beyond",
    }
    for alert in result.alerts:
        day = pd.Timestamp(alert.date)
        assert f"{day:%a} {day.day} {day:%b %Y}" in alert.message
        assert words[alert.rule] in alert.message and alert.message.startswith("Demand of ")
    assert {"outside_limits", "shift", "trend"} <= {a.rule for a in result.alerts}
    assert [a.date for a in result.alerts] == sorted(a.date for a in result.alerts)


def test_points_table_columns():
    points = chart(RNORM_20).points
    assert points.columns.tolist() == [
        "date", "value", "mean", "lower_limit", "upper_limit", "lower_2sigma", "upper_2sigma",
        "outside_limits", "shift", "trend", "two_of_three", "special_cause", "direction",
        "unfloored_lower_limit",
    ]  # fmt: skip
    assert points["date"].iloc[0] == pd.Timestamp("2025-03-03")


# --- inputs ----------------------------------------------------------------------------------


def test_missing_values_are_dropped():
    days = working_days(21)
    values = np.insert(RNORM_20, 5, np.nan)
    result = xmr(days, values, SCREENED)
    assert len(result.points) == 20 and days[5] not in set(result.points["date"])
    assert only_segment(result).upper_limit == pytest.approx(
        only_segment(chart(RNORM_20, SCREENED)).upper_limit
    )


def test_empty_series_gives_an_empty_chart():
    result = xmr([], [])
    assert result.segments == [] and result.alerts == [] and result.points.empty


@pytest.mark.parametrize(
    "kwargs", [{"shift_run": 1}, {"trend_run": 0}, {"min_points": 1}, {"shift_run": 6.5}]
)
def test_settings_are_checked_when_built(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SPCSettings(**kwargs)


def test_recalculation_dates_must_be_dates():
    with pytest.raises(ValueError, match="recalculate_from"):
        SPCSettings(recalculate_from=("2025-03-03",))
    settings = SPCSettings(recalculate_from=(date(2025, 4, 1), pd.Timestamp("2025-03-03")))
    assert settings.recalculate_from == (date(2025, 3, 3), date(2025, 4, 1))


def test_dates_must_increase_and_match_the_values():
    with pytest.raises(ValueError, match="increasing"):
        xmr([date(2025, 3, 4), date(2025, 3, 3)], [1.0, 2.0])
    with pytest.raises(ValueError, match="one value per date"):
        xmr([date(2025, 3, 3)], [1.0, 2.0])


# --- a floor for measures that cannot go below zero -------------------------------------------


#: Small counts with one busy day: x̄ = 37/14 ≈ 2.64, MR̄ = 26/13 = 2 (moving ranges
#: 0,1,1,1,0,1,1,0,1,9,9,1,1), so the lower limit x̄ − 2.66·MR̄ ≈ −2.68 is below zero.
LOW_COUNTS = np.array([2, 2, 3, 2, 1, 1, 2, 3, 3, 2, 11, 2, 1, 2], float)


def test_the_floor_lifts_the_lower_limit_shown_to_zero():
    raw, floored = chart(LOW_COUNTS), chart(LOW_COUNTS, floor=0.0)
    mean = LOW_COUNTS.mean()
    mr_bar = np.abs(np.diff(LOW_COUNTS)).mean()  # hand formula: x̄ − 2.66·MR̄
    assert mean - 2.66 * mr_bar == pytest.approx(37 / 14 - 2.66 * 2)
    assert mean - 2.66 * mr_bar < 0
    assert only_segment(raw).lower_limit == pytest.approx(mean - 2.66 * mr_bar)
    assert only_segment(floored).lower_limit == 0.0
    assert only_segment(floored).upper_limit == only_segment(raw).upper_limit
    assert (floored.points["lower_limit"] == 0.0).all()
    assert (floored.points["lower_2sigma"] >= 0.0).all()
    assert floored.points["unfloored_lower_limit"].tolist() == pytest.approx(
        raw.points["lower_limit"].tolist()
    )
    # the upper lines and the mean are untouched
    for column in ("mean", "upper_limit", "upper_2sigma"):
        assert floored.points[column].tolist() == raw.points[column].tolist()


def test_the_floor_leaves_a_lower_limit_above_it_alone():
    values = np.array([50, 52, 49, 51, 50, 48, 52, 51, 50, 49, 51, 50, 52, 49], float)
    raw, floored = chart(values), chart(values, floor=0.0)
    assert only_segment(raw).lower_limit > 0
    assert floored.points["lower_limit"].tolist() == raw.points["lower_limit"].tolist()
    assert floored.points["lower_2sigma"].tolist() == raw.points["lower_2sigma"].tolist()


def test_the_floor_changes_no_flag_and_no_alert():
    """Every rule, including 2-of-3 in the outer third (which uses the limits' width), is
    judged on the limits as computed: the floor changes what is shown, nothing else."""
    rng = np.random.default_rng(7)
    for trial in range(200):
        values = rng.poisson(rng.uniform(0.5, 4.0), size=40).astype(float)
        raw, floored = chart(values), chart(values, floor=0.0)
        for column in ("outside_limits", "shift", "trend", "two_of_three", "direction"):
            assert floored.points[column].tolist() == raw.points[column].tolist(), (trial, column)
        assert floored.alerts == raw.alerts, trial


def test_two_of_three_uses_the_unfloored_sigma():
    """Two of three points beyond the upper 2-sigma line: x̄ + (2/3)·2.66·MR̄, from the
    moving ranges as computed, whatever the floor does to the lower lines."""
    values = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 3, 3, 1], float)
    mean = values.mean()
    mr_bar = np.abs(np.diff(values)).mean()
    two_sigma = mean + 2 / 3 * 2.66 * mr_bar
    assert mean - 2.66 * mr_bar < 0 < 3 - two_sigma  # a negative limit; 3 is beyond 2 sigma
    assert 3 < mean + 2.66 * mr_bar  # but within the process limits
    floored = chart(values, floor=0.0)
    flagged = floored.points.index[floored.points["two_of_three"]].tolist()
    assert flagged == [13, 14]
    assert floored.points["upper_2sigma"].iat[0] == pytest.approx(two_sigma)
    [alert, *_] = [a for a in floored.alerts if a.rule == "two_of_three"]
    assert f"upper 2-sigma line ({f'{two_sigma:.2f}'.rstrip('0').rstrip('.')})" in alert.message
