"""The daily model's spec and result types (flowcap.simulate.daily.spec): shapes checked,
the patience survival function, histogram quantiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from conftest import anchor_spec
from flowcap.simulate import DailySpec
from flowcap.simulate.daily import histogram_quantile, patience_survival


@pytest.mark.parametrize(
    ("entry", "frozen"),
    [
        (("exponential", 4.0, 0.0), stats.expon(scale=4.0)),
        (("gamma", 6.0, 2.5), stats.gamma(a=(6 / 2.5) ** 2, scale=2.5**2 / 6)),
        (
            ("lognormal", 6.0, 2.5),
            stats.lognorm(
                s=math.sqrt(math.log1p((2.5 / 6) ** 2)),
                scale=math.exp(math.log(6) - math.log1p((2.5 / 6) ** 2) / 2),
            ),
        ),
    ],
)
def test_patience_survival_matches_scipy(entry, frozen):
    for days in (0.5, 1, 3, 6, 12, 30):
        assert patience_survival(entry, days) == pytest.approx(frozen.sf(days), abs=1e-12)


def test_histogram_quantile_is_the_smallest_value_reaching_the_share():
    assert histogram_quantile(np.array([5, 4, 0, 1]), 0.9) == 1
    assert histogram_quantile(np.array([5, 3, 0, 2]), 0.9) == 3
    assert math.isnan(histogram_quantile(np.zeros(2), 0.9))  # nothing done


def test_spec_rejects_inconsistent_shapes():
    with pytest.raises(ValueError, match="minutes_per_staff"):
        DailySpec(
            resources=("a",),
            priorities=(1,),
            staff=np.ones((1, 5)),
            minutes_per_staff=np.ones((1, 4)),
            absence_rate=np.zeros(1),
            case_types=("c",),
            case_priority=np.array([1]),
            mean_cases_per_day=np.ones((1, 5)),
            dispersion=np.array([np.inf]),
            steps=np.array([[0, 0, 0, 10.0]]),
        )
    with pytest.raises(ValueError, match="patience"):
        anchor_spec(days=5, patience_days=("weibull", 3.0, 1.0))
