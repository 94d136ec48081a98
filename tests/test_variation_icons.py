"""Making Data Count's variation and assurance icons (flowcap.variation.icons) on constructed
series: a shift up is special cause (high), a stable series common cause, limits straddling
the target hit and miss, both limits on the good side consistently passing."""

from __future__ import annotations

import pandas as pd
import pytest

from flowcap.variation.icons import Icons, assurance_icon, variation_icon
from flowcap.variation.spc import xmr

STABLE = [10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 11, 9, 10, 11, 10, 9, 10, 11, 10, 10]


def chart(values):
    return xmr(pd.bdate_range("2025-03-03", periods=len(values)), values)


def test_a_shift_up_is_special_cause_high():
    result = chart(STABLE + [14, 15, 14, 13, 15, 14])  # six in a row above the mean
    assert result.points["shift"].iat[-1]
    assert variation_icon(result) == "neither_high"  # no direction: purple, high
    assert variation_icon(result, "higher") == "improvement_high"
    assert variation_icon(result, "lower") == "concern_high"
    assert Icons.of(result).label == "special cause (high)"


def test_a_drop_below_the_lower_limit_is_special_cause_low():
    result = chart(STABLE + [2])
    assert variation_icon(result) == "neither_low"
    assert variation_icon(result, "higher") == "concern_low"
    assert variation_icon(result, "lower") == "improvement_low"


def test_a_stable_series_is_common_cause():
    result = chart(STABLE)
    assert not result.points["special_cause"].any()
    assert variation_icon(result) == "common_cause"
    assert Icons.of(result, "higher", 10).label == "common cause · hit and miss"


def test_the_icon_reads_the_latest_point_only():
    result = chart([*STABLE[:10], 25, *STABLE[10:]])  # a spike long ago
    assert result.points["special_cause"].any()
    assert variation_icon(result) == "common_cause"


def test_too_few_points_for_limits_have_no_icons():
    result = chart(STABLE[:12])
    assert variation_icon(result) is None
    assert assurance_icon(result, 10, "higher") is None
    assert Icons.of(result).label == "no limits (too few points)"


@pytest.mark.parametrize(
    ("target", "better", "expected"),
    [
        (10, "higher", "hit_and_miss"),  # limits straddle the target
        (10, "lower", "hit_and_miss"),
        (5, "higher", "consistently_passing"),  # both limits above a target to beat
        (15, "lower", "consistently_passing"),  # both limits below a ceiling
        (15, "higher", "consistently_failing"),
        (5, "lower", "consistently_failing"),
    ],
)
def test_assurance_from_the_limits_against_the_target(target, better, expected):
    result = chart(STABLE)
    lower, upper = result.segments[0].lower_limit, result.segments[0].upper_limit
    assert 5 < lower < 10 < upper < 15
    assert assurance_icon(result, target, better) == expected


def test_a_target_on_a_limit_counts_as_passing_or_failing_as_in_the_mdc_sql():
    result = chart(STABLE)
    lower, upper = result.segments[0].lower_limit, result.segments[0].upper_limit
    assert assurance_icon(result, lower, "higher") == "consistently_passing"
    assert assurance_icon(result, upper, "higher") == "consistently_failing"
    assert assurance_icon(result, upper, "lower") == "consistently_passing"


def test_no_assurance_without_a_target_or_a_direction():
    result = chart(STABLE)
    assert assurance_icon(result, None, "higher") is None
    assert assurance_icon(result, 10, None) is None  # MDC: none for "neither"


def test_assurance_uses_the_latest_limits_after_a_recalculation():
    from flowcap.variation.spc import SPCSettings

    values = STABLE + [v + 20 for v in STABLE]
    dates = pd.bdate_range("2025-03-03", periods=len(values))
    result = xmr(dates, values, SPCSettings(recalculate_from=(dates[20].date(),)))
    assert assurance_icon(result, 20, "higher") == "consistently_passing"  # new limits ~25-35


def test_icons_json():
    icons = Icons.of(chart(STABLE), "lower", 15.0)
    assert icons.as_json() == {
        "variation": "common_cause",
        "variation_label": "common cause",
        "assurance": "consistently_passing",
        "assurance_label": "consistently passing",
        "improvement": "lower",
        "target": 15.0,
    }
    with pytest.raises(ValueError, match="improvement"):
        variation_icon(chart(STABLE), "up")
