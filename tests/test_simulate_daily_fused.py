"""The compiled daily kernel (flowcap.simulate.daily.fused) against the NumPy engine.

With ``streams="pcg64"`` it inverts the NumPy engine's own uniforms against the same tables,
so every number must agree; with ``streams="counter"`` (splitmix64) the sample differs and
the distributions must agree within a few standard errors.
"""

import math

import numpy as np
import pytest

from flowcap.simulate import DailySpec, run
from flowcap.simulate.daily import fused
from flowcap.simulate.daily.numpy import RunSettings
from flowcap.simulate.daily.numpy import run as numpy_run

FIELDS = (
    "final_backlog",
    "backlog_mean",
    "backlog_mean_by_priority",
    "p_backlog_over_threshold",
    "demand_mean",
    "capacity_mean",
    "activity_mean",
    "backlog_percentiles",
    "days_over_threshold",
)


def anchor(**changes) -> DailySpec:
    kwargs = dict(
        days=60,
        mean_cases_per_day=10,
        minutes_per_case=60,
        staff=3,
        minutes_per_staff=240,
        absence_rate=0.1,
    )
    kwargs.update(changes)
    return DailySpec.one_resource(**kwargs)


def two_resources() -> DailySpec:
    """Two resources, two priorities, a step 3 days after referral, work due ahead, an opening
    backlog, a seasonal demand and a roster that changes by day."""
    days = 40
    season = 6 + 3 * np.sin(np.arange(days) / 5)
    staff = np.vstack([np.where(np.arange(days) % 7 < 5, 2, 0), np.full(days, 1)])
    due = np.zeros((2, 2, days))
    due[0, 1, 3] = 500.0
    return DailySpec(
        resources=("idva", "triage"),
        priorities=(1, 2),
        staff=staff,
        minutes_per_staff=np.vstack([np.full(days, 300.0), np.full(days, 200.0)]),
        absence_rate=np.array([0.15, 0.0]),
        case_types=("high", "standard"),
        case_priority=np.array([1, 2]),
        mean_cases_per_day=np.vstack([season / 3, season]),
        dispersion=np.array([np.inf, 4.0]),
        steps=np.array(
            [[0, 1, 0, 20], [0, 0, 0, 90], [1, 1, 0, 15], [1, 0, 3, 37.5]], dtype=np.float64
        ),
        opening_backlog_minutes=np.array([[100.0, 700.0], [0.0, 60.0]]),
        due_ahead_minutes=due,
    )


@pytest.mark.parametrize("make", [anchor, two_resources])
@pytest.mark.parametrize("chunk_size", [None, 333])
def test_pcg64_streams_give_the_numpy_engines_numbers(make, chunk_size):
    spec = make()
    settings = dict(threshold_minutes=600.0, chunk_size=chunk_size, fan_replications=500)
    expected = numpy_run(spec, 1000, 7, **settings)
    got = run(spec, 1000, 7, engine="fused", **settings)
    for field in FIELDS:
        np.testing.assert_allclose(getattr(got, field), getattr(expected, field), rtol=1e-12)
    assert got.final_backlog.std() > 0  # not a degenerate model


def test_counter_streams_agree_in_distribution_and_repeat():
    spec = anchor(days=120)
    n = 20_000
    a = numpy_run(spec, n, 1, threshold_minutes=2400.0).final_backlog[0]
    b = run(spec, n, 2, engine="fused", streams="counter", threshold_minutes=2400.0)
    again = run(spec, n, 2, engine="fused", streams="counter", chunk_size=999)
    np.testing.assert_array_equal(b.final_backlog, again.final_backlog)  # chunking-free
    c = b.final_backlog[0]
    se = math.sqrt(a.var() / n + c.var() / n)
    assert abs(a.mean() - c.mean()) < 4 * se
    for q in (0.5, 0.9):  # quantiles: binomial standard error of the share below
        share = np.mean(c <= np.quantile(a, q))
        assert abs(share - q) < 4 * math.sqrt(q * (1 - q) * 2 / n) + 0.01
    other = run(spec, n, 3, engine="fused", streams="counter").final_backlog
    assert not np.array_equal(other, b.final_backlog)  # seeds matter


def test_what_the_kernel_does_not_run_is_refused():
    patient = anchor(patience_days=("exponential", 30.0, 0.0))
    assert not fused.supports(patient, RunSettings())
    assert not fused.supports(anchor(), RunSettings(waits=True))
    assert fused.supports(anchor(), RunSettings())
    with pytest.raises(ValueError, match="fused"):
        run(patient, 10, 0, engine="fused")
    with pytest.raises(ValueError, match="engine"):
        run(anchor(), 10, 0, engine="turbo")
    with pytest.raises(ValueError, match="counter"):
        run(anchor(), 10, 0, streams="counter")
