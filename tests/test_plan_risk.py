"""Risk of bad days against closed forms: Poisson cases × fixed minutes vs fixed capacity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from flowcap.plan.risk import bad_day_risk

MINUTES_PER_CASE = 60.0
CAPACITY = 720.0  # 12 cases' worth
RATE = 10.0  # cases per working day


def poisson_history(n_days: int = 3000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cases = rng.poisson(RATE, n_days)
    dates = pd.bdate_range("2015-01-05", periods=n_days)
    return pd.DataFrame(
        {
            "demand_minutes": cases * MINUTES_PER_CASE,
            "demand_cases": cases,
            "capacity_minutes": CAPACITY,
        },
        index=dates,
    )


@pytest.mark.parametrize("k", [1.0, 1.5, 2.0])
def test_fitted_probability_matches_the_poisson_tail(k):
    history = poisson_history()
    [risk] = bad_day_risk(history, (k,), resource="idva", n_boot=200, seed=3)
    truth = stats.poisson.sf(np.floor(k * CAPACITY / MINUTES_PER_CASE), RATE)
    # The bootstrap spread is the standard error of the fitted probability.
    se = (risk.ci_high - risk.ci_low) / (2 * 1.96)
    assert abs(risk.p_per_working_day - truth) <= 3 * se + 1e-12
    # The empirical share is a binomial proportion over 3,000 days.
    binomial_se = np.sqrt(truth * (1 - truth) / len(history))
    assert abs(risk.p_empirical - truth) <= 3 * binomial_se + 1 / len(history)
    assert risk.once_every_working_days == pytest.approx(1 / risk.p_per_working_day)


def test_known_values_of_the_closed_form():
    truth = stats.poisson.sf([12, 18, 24], RATE)
    # P(N > 12) for Poisson(10) is about once every 5 working days; P(N > 18) once in 140.
    assert truth[0] == pytest.approx(0.2084, abs=1e-4)
    assert truth[1] == pytest.approx(1 / 139.6, rel=0.004)  # once in about 140 days
    risks = bad_day_risk(poisson_history(), (1.0, 1.5, 2.0), n_boot=50)
    assert [r.k for r in risks] == [1.0, 1.5, 2.0]
    assert risks[0].p_per_working_day > risks[1].p_per_working_day > risks[2].p_per_working_day


def test_days_ahead_with_a_roster_gap_come_first():
    history = poisson_history(1000)
    ahead_dates = pd.bdate_range("2026-01-05", periods=20)
    capacity = np.full(20, CAPACITY)
    capacity[7] = CAPACITY / 2  # half the team away
    capacity[12] = 0.0  # nobody in
    ahead = pd.DataFrame(
        {"demand_minutes": RATE * MINUTES_PER_CASE, "capacity_minutes": capacity}, index=ahead_dates
    )
    [risk] = bad_day_risk(history, (1.0,), ahead=ahead, n_boot=20)
    first, second = risk.riskiest_dates[:2]
    assert first[0] == ahead_dates[12].date() and first[1] == pytest.approx(1.0, abs=1e-3)
    assert second[0] == ahead_dates[7].date()
    # Half capacity = 6 cases: P(N > 6) for Poisson(10), with the fitted mean.
    assert second[1] == pytest.approx(stats.poisson.sf(6, RATE), abs=0.03)
    assert len(risk.ahead) == 20


def test_the_sentence_says_how_often():
    [risk] = bad_day_risk(poisson_history(), (1.5,), resource="idva", n_boot=50)
    sentence = risk.sentence()
    assert sentence.startswith("idva: demand above 1.5 × capacity about once every ")
    assert "working days" in sentence


def test_the_return_period_has_one_rounding_rule():
    """The table said 575 and the sentence 570 for the same return period (issue 10, item 11):
    one function rounds it for both, to tens from 100 working days up."""
    from flowcap.plan.risk import BadDayRisk, format_every

    assert [format_every(v) for v in (None, float("inf"), 4.26, 57.4, 574.6, 1234.5)] == [
        "never", "never", "4.3", "57", "570", "1,230",
    ]  # fmt: skip
    risk = BadDayRisk("idva", 1.5, 1 / 574.6, 0.002, 1 / 1234.5, 1 / 304.6, 500)
    assert risk.sentence() == (
        "idva: demand above 1.5 × capacity about once every 570 working days "
        "(95% CI once every 300 to 1,230; seen on 0.2% of 500 working days)."
    )


def test_a_resource_with_no_demand_never_has_a_bad_day():
    history = pd.DataFrame(
        {"demand_minutes": 0.0, "demand_cases": 0, "capacity_minutes": 480.0},
        index=pd.bdate_range("2025-01-06", periods=50),
    )
    [risk] = bad_day_risk(history, (1.0,), n_boot=10)
    assert risk.p_per_working_day == 0 and risk.once_every_working_days is None
    assert "not expected" in risk.sentence()


@pytest.mark.parametrize("k", [1.0, 2.0])
def test_catch_up_days_after_weekends_and_bank_holidays_are_expected_not_noise(k):
    """Poisson(6) cases every calendar day, met on England's working days: Monday gathers
    three days and the Tuesday after Easter five. The truth is a known Poisson mixture."""
    from datetime import date

    from flowcap.model import Service, working_calendar
    from flowcap.variation.series import fold_to_working_days

    service = Service.model_validate(
        {
            "name": "x",
            "resources": {"idva": {"staff": 2, "minutes_per_day": 240}},
            "case_types": {"a": {"priority": 1, "resource": "idva", "minutes": 60}},
        }
    )
    calendar = working_calendar(service, date(2014, 1, 1), date(2023, 12, 31))
    days = pd.DatetimeIndex(calendar["date"])
    counts = np.random.default_rng(5).poisson(6.0, len(days)).astype(float)
    folded = fold_to_working_days(days, counts, calendar["is_working_day"].to_numpy())
    history = pd.DataFrame(
        {"demand_minutes": folded * 60, "demand_cases": folded, "capacity_minutes": 480.0},
        index=folded.index,
    )
    gathered = np.diff(folded.index.to_numpy("datetime64[D]").astype(np.int64), prepend=0)
    gathered[0] = 1
    truth = stats.poisson.sf(np.floor(k * 8), 6.0 * gathered).mean()
    [risk] = bad_day_risk(history, (k,), n_boot=200, seed=1)
    se = (risk.ci_high - risk.ci_low) / (2 * 1.96)
    assert abs(risk.p_per_working_day - truth) <= 3 * se
