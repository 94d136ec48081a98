"""Daily demand statistics against data whose answer is known by construction.

Random data come from fixed seeds, and every tolerance is at least three standard errors,
each computed from theory or from a parametric bootstrap, never tuned to the seed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from flowcap.variation.stats import (
    WEEKDAYS,
    after_bank_holiday_days,
    chi_square_gof,
    day_effect,
    describe,
    fit_counts,
    month_profile,
    trend,
    variation_summary,
    weekday_month_table,
    weekday_profile,
)

WEEKDAY_MULTIPLIER = np.array([1.3, 1.1, 1.0, 1.0, 0.9, 0.5, 0.4])
DAYS = pd.date_range("2022-01-01", "2024-12-31", freq="D")


def seasonal_mean(dates: pd.DatetimeIndex, base: float = 20.0) -> np.ndarray:
    """Mean demand with a weekly cycle and a ±10% annual cycle peaking in January."""
    month = 1 + 0.1 * np.cos(2 * np.pi * (dates.month.to_numpy() - 1) / 12)
    return base * WEEKDAY_MULTIPLIER[dates.dayofweek] * month


def log_se(effect) -> float:
    """Standard error of log(ratio), recovered from the 95% CI (t quantile ≈ 1.96 here)."""
    return math.log(effect.ci_high / effect.ci_low) / (2 * 1.962)


# --- describe -----------------------------------------------------------------------------


def test_describe_a_small_array_by_hand():
    # mean 4; squared deviations 9+4+1+0+36 = 50, /4 → sd √12.5; linear percentiles at
    # positions q·(n−1): p80 = 4 + 0.2·6, p90 = 4 + 0.6·6, p95 = 4 + 0.8·6, p99 = 4 + 0.96·6.
    got = describe([1, 2, 3, 4, 10])
    assert got["n"] == 5 and got["mean"] == 4
    assert got["sd"] == pytest.approx(math.sqrt(12.5))
    assert got["cv"] == pytest.approx(math.sqrt(12.5) / 4)
    assert [got[k] for k in ("p50", "p80", "p90", "p95", "p99")] == pytest.approx(
        [3, 5.2, 7.6, 8.8, 9.76]
    )


def test_describe_gives_nan_cv_when_the_mean_is_zero():
    got = describe([0.0, 0.0, math.nan])
    assert got["n"] == 2 and got["sd"] == 0 and math.isnan(got["cv"])


# --- distribution of daily case counts ------------------------------------------------------


def test_poisson_counts_fit_poisson():
    n, lam = 2000, 12.0
    counts = np.random.default_rng(11).poisson(lam, n)
    fit = fit_counts(counts)
    # The choice for any one sample is left to the next test: AIC picks the negative binomial
    # for about 8% of Poisson samples by chance.
    assert abs(fit.mean - lam) <= 3 * math.sqrt(lam / n)
    # Under the Poisson, (n − 1)·variance/mean ≈ χ²(n − 1): sd of the dispersion √(2/(n − 1)).
    assert abs(fit.dispersion - 1) <= 3 * math.sqrt(2 / (n - 1))
    assert fit.p_value > 1e-3
    assert fit.sf(15) == pytest.approx(stats.poisson.sf(15, fit.mean))


def test_aic_picks_the_poisson_for_poisson_counts_at_the_expected_rate():
    # Under the Poisson, 2·(loglik_NB − loglik_P) is ½χ²₀ + ½χ²₁, so AIC (penalty 2) picks
    # the negative binomial with probability ½·P(χ²₁ > 2) = 0.0787. Over 200 samples the
    # share has standard error √(0.0787·0.9213/200) = 0.019.
    rng = np.random.default_rng(17)
    picks = [fit_counts(rng.poisson(12.0, 500)).best == "negative_binomial" for _ in range(200)]
    expected = 0.5 * stats.chi2.sf(2, 1)
    assert abs(np.mean(picks) - expected) <= 3 * math.sqrt(expected * (1 - expected) / 200)


def test_negative_binomial_counts_fit_negative_binomial():
    n, size, p = 3000, 4.0, 0.25  # mean 12, dispersion 1 + 12/4 = 4
    counts = stats.nbinom.rvs(size, p, size=n, random_state=12)
    fit = fit_counts(counts)
    assert fit.best == "negative_binomial"
    assert fit.aic_negative_binomial < fit.aic_poisson and fit.lrt_p_value < 1e-6
    # Standard errors of the size MLE and of the dispersion by a parametric bootstrap at the
    # fitted parameters (the asymptotic formula for r understates the sd by ~8% at n = 3000:
    # the MLE of r is skewed).
    rng = np.random.default_rng(13)
    boot = rng.negative_binomial(fit.nb_size, fit.nb_p, size=(200, n))
    sizes = [fit_counts(sample).nb_size for sample in boot]
    dispersions = boot.var(axis=1, ddof=1) / boot.mean(axis=1)
    assert abs(fit.nb_size - size) <= 3 * np.std(sizes, ddof=1)
    assert abs(fit.dispersion - 4.0) <= 3 * np.std(dispersions, ddof=1)
    # Goodness of fit: the right model is not rejected, the Poisson is, overwhelmingly.
    assert fit.p_value > 1e-3
    _, p_poisson = chi_square_gof(counts, stats.poisson(fit.mean), 1)
    assert p_poisson < 1e-12


def test_tail_probabilities_match_scipy_for_the_fitted_parameters():
    counts = stats.nbinom.rvs(4, 0.25, size=3000, random_state=14)
    fit = fit_counts(counts)
    x = np.array([-1, 0, 3.5, 12, 12.9, 30])
    expected = stats.nbinom.sf(np.floor(x), fit.nb_size, fit.nb_p)
    np.testing.assert_allclose(fit.sf(x), expected, rtol=1e-12)
    assert fit.sf(-1) == 1.0
    means = np.array([6.0, 20.0])
    np.testing.assert_allclose(
        fit.sf_with_mean([10, 10], means),
        stats.nbinom.sf(10, fit.nb_size, fit.nb_size / (fit.nb_size + means)),
        rtol=1e-12,
    )
    # Underdispersed counts always fit the Poisson, whose sf_with_mean takes the new mean.
    poisson = fit_counts(np.random.default_rng(15).binomial(20, 0.25, 500))
    assert poisson.best == "poisson"
    assert poisson.sf_with_mean(7, 9.0) == pytest.approx(stats.poisson.sf(7, 9.0))


def test_underdispersed_counts_are_poisson_without_a_negative_binomial():
    counts = np.random.default_rng(16).binomial(20, 0.5, 1000)  # variance 5 < mean 10
    fit = fit_counts(counts)
    assert fit.best == "poisson" and fit.nb_size is None and fit.aic_negative_binomial is None
    assert fit.dispersion < 1


def test_fit_counts_refuses_fractions_and_negatives():
    for bad in ([1, 2.5], [1, -1], []):
        with pytest.raises(ValueError):
            fit_counts(bad)


# --- seasonality ----------------------------------------------------------------------------


def test_weekday_profile_recovers_the_weekday_multipliers():
    weekdays = pd.bdate_range("2025-01-06", periods=50)  # ten whole Mon–Fri weeks
    values = 10 * WEEKDAY_MULTIPLIER[weekdays.dayofweek]
    profile = weekday_profile(weekdays, values)
    expected = WEEKDAY_MULTIPLIER[:5] / WEEKDAY_MULTIPLIER[:5].mean()
    assert list(profile) == list(WEEKDAYS)
    assert [profile[d] for d in WEEKDAYS[:5]] == pytest.approx(expected)
    assert math.isnan(profile["sat"]) and math.isnan(profile["sun"])


def test_month_profile_and_table_recover_the_month_means():
    days = pd.date_range("2023-01-01", "2023-12-31")
    values = days.month.to_numpy(float)  # the value of a day is its month number
    profile = month_profile(days, values)
    assert profile[2] == pytest.approx(2 / values.mean())
    table = weekday_month_table(days, values + days.dayofweek.to_numpy())
    assert table.shape == (7, 12) and list(table.index) == list(WEEKDAYS)
    assert table.loc["wed", 3] == pytest.approx(3 + 2)
    assert math.isnan(weekday_month_table(days[:10], values[:10]).loc["mon", 6])


# --- kinds of day ---------------------------------------------------------------------------


def flagged_days(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(len(DAYS)) < 0.1


def test_day_effect_recovers_a_known_multiplier_on_poisson_data():
    flag = flagged_days(20)
    mean = seasonal_mean(DAYS) * np.where(flag, 1.3, 1.0)
    cases = np.random.default_rng(21).poisson(mean)
    effect = day_effect(DAYS, cases, flag)
    assert effect.n_days == flag.sum()
    se = log_se(effect)  # ≈ 1/√(110 days × 20 cases) ≈ 0.02
    assert abs(math.log(effect.ratio) - math.log(1.3)) <= 3 * se
    # log 1.3 ≈ 0.26 ≈ 13 standard errors from 0: the interval excludes 1 for any seed.
    assert effect.ci_low > 1.0
    assert abs(effect.dispersion - 1) < 0.3  # Poisson data: φ ≈ 1 (sd of φ̂ ≈ √(2/n) ≈ 0.04)


def test_day_effect_is_the_same_in_minutes_as_in_cases():
    flag = flagged_days(22)
    cases = np.random.default_rng(23).poisson(seasonal_mean(DAYS) * np.where(flag, 1.3, 1.0))
    in_cases, in_minutes = day_effect(DAYS, cases, flag), day_effect(DAYS, 45.0 * cases, flag)
    assert in_minutes.ratio == pytest.approx(in_cases.ratio, rel=1e-9)
    assert in_minutes.ci_low == pytest.approx(in_cases.ci_low, rel=1e-9)
    assert in_minutes.dispersion == pytest.approx(45 * in_cases.dispersion, rel=1e-9)


def test_overdispersed_data_get_a_wider_interval_than_poisson_would_give():
    flag = flagged_days(24)
    mean = seasonal_mean(DAYS) * np.where(flag, 1.3, 1.0)
    size = 5.0  # variance = mean + mean²/5: φ ≈ 1 + 20/5 ≈ 5
    cases = np.random.default_rng(25).negative_binomial(size, size / (size + mean))
    quasi, poisson = day_effect(DAYS, cases, flag), day_effect(DAYS, cases, flag, quasi=False)
    assert quasi.ratio == pytest.approx(poisson.ratio)
    assert poisson.dispersion == 1.0 and quasi.dispersion > 3
    # The log-interval widens by at least √φ̂ ≈ 2 (more if the sandwich estimate is larger).
    assert log_se(quasi) >= math.sqrt(quasi.dispersion) * log_se(poisson) * (1 - 1e-9)
    assert log_se(quasi) > 1.5 * log_se(poisson)
    assert abs(math.log(quasi.ratio) - math.log(1.3)) <= 3 * log_se(quasi)


def test_closed_days_with_no_demand_do_not_change_the_effect():
    flag = flagged_days(26)
    cases = np.random.default_rng(27).poisson(seasonal_mean(DAYS) * np.where(flag, 1.3, 1.0))
    open_days = DAYS.dayofweek < 5
    with_weekends = day_effect(DAYS, np.where(open_days, cases, 0), flag & open_days)
    without = day_effect(DAYS[open_days], cases[open_days], flag[open_days])
    assert with_weekends.ratio == pytest.approx(without.ratio, rel=1e-6)
    assert with_weekends.ci_high == pytest.approx(without.ci_high, rel=1e-6)


def test_no_flagged_days_gives_nan():
    effect = day_effect(DAYS, np.ones(len(DAYS)), np.zeros(len(DAYS), dtype=bool))
    assert math.isnan(effect.ratio) and effect.n_days == 0


def test_the_day_after_a_bank_holiday_is_the_next_working_day():
    working = pd.bdate_range("2025-04-14", "2025-05-09")
    holidays = pd.to_datetime(["2025-04-18", "2025-04-21", "2025-05-05"])
    after = after_bank_holiday_days(working, bank_holiday_dates=holidays)
    assert list(working[after].strftime("%Y-%m-%d")) == ["2025-04-22", "2025-05-06"]
    # With calendar days, the holiday itself is flagged by the mask and skipped.
    calendar = pd.date_range("2025-04-14", "2025-04-30")
    mask = calendar.isin(holidays)
    after = after_bank_holiday_days(calendar, mask)
    assert list(calendar[after].strftime("%Y-%m-%d")) == ["2025-04-19", "2025-04-22"]


# --- trend ----------------------------------------------------------------------------------


def test_trend_recovers_a_known_slope():
    years = (DAYS - DAYS[0]).days.to_numpy() / 365.25
    noise = np.random.default_rng(30).normal(0, 5, len(DAYS))
    values = 50 + 6 * years + 10 * WEEKDAY_MULTIPLIER[DAYS.dayofweek] + noise
    found = trend(DAYS, values)
    se = (found.ci_high - found.ci_low) / (2 * 1.962)
    assert found.ci_low < found.per_year < found.ci_high
    assert abs(found.per_year - 6) <= 3 * se  # se ≈ 0.2 minutes per year
    assert found.relative_per_year == pytest.approx(found.per_year / values.mean())
    assert found.p_value < 1e-12
    flat = trend(DAYS, 50 + noise)
    assert abs(flat.per_year) <= 3 * (flat.ci_high - flat.ci_low) / (2 * 1.962)


# --- summary --------------------------------------------------------------------------------


def test_variation_summary_is_plain_json_with_every_part():
    holidays = pd.to_datetime(
        ["2023-04-07", "2023-04-10", "2023-05-01", "2023-12-25", "2023-12-26"]
    )
    working = DAYS[(DAYS.dayofweek < 5) & ~DAYS.isin(holidays)]  # closed on bank holidays
    flag = np.random.default_rng(40).random(len(working)) < 0.2
    cases = np.random.default_rng(41).poisson(seasonal_mean(working) * np.where(flag, 1.2, 1))
    summary = variation_summary(
        working, 45.0 * cases, cases, school_holiday=flag, bank_holiday_dates=holidays
    )
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    assert set(summary) == {
        "demand_minutes",
        "demand_cases",
        "case_count_fit",
        "weekday_profile",
        "month_profile",
        "bank_holiday_effect",
        "after_bank_holiday_effect",
        "school_holiday_effect",
        "trend",
    }
    assert summary["bank_holiday_effect"]["ratio"] is None  # closed: holidays not in the days
    assert summary["after_bank_holiday_effect"]["n_days"] == 3  # 11 Apr, 2 May, 27 Dec
    assert summary["school_holiday_effect"]["ci_low"] > 1
    assert summary["weekday_profile"]["sat"] is None
    fit = summary["case_count_fit"]
    assert fit["dispersion"] == pytest.approx(fit["variance"] / fit["mean"])
