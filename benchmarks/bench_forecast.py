"""Benchmark: flowcap's daily demand forecast against Prophet, 500 series, 90 days ahead.

Run: ``python benchmarks/bench_forecast.py [--series 500] [--prophet-series N]``. Prophet is
a benchmark-only extra (``pip install prophet``, or ``pip install -e .[bench]``); without it
the script says so and still times flowcap.

Each series is two years (730 days, 2024-01-01 to 2025-12-30) of seeded daily demand in
minutes, like a victim-service team's: case counts (negative binomial) with a weekly cycle
(a busy Monday, quiet weekends), an annual wave, a trend, England's bank holidays (quiet),
the day after them (busy), school holidays and the festive fortnight, times a per-series
mix of 20–120-minute case types. The last 90 days (to 2026-03-30) are held out.

Both forecasters get the same four holiday flags (bank_holiday, after_bank_holiday,
school_holiday, festive): flowcap as exogenous regressors, Prophet through
``add_regressor``, with yearly and weekly seasonality on and its default 80% intervals.
Prophet's negative forecasts are clipped at zero as flowcap's are. Accuracy is MASE: the
mean absolute error over the 90 days divided by the in-sample mean absolute error of the
weekly seasonal naive on the 730 training days (Hyndman & Koehler 2006), averaged over
series. flowcap fits all series in one call (statsforecast; the harmonic regression in one
process, ARIMA escalations, if any, in a pool); Prophet fits one series at a time, as it is
used. Imports and a first call on
one series (a warm-up) are left out of both timings. With ``--prophet-series N``
Prophet runs on the first N series only: its time for all series is extrapolated from its
series per second, and the MASE comparison is made on those N series for both.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

import numpy as np
import pandas as pd

from flowcap.forecast import DemandForecaster, holiday_features

HOLIDAYS = ["bank_holiday", "after_bank_holiday", "school_holiday", "festive"]
# A typical pattern of English school holidays (dates vary by local authority).
SCHOOL_HOLIDAYS = pd.DataFrame(
    [
        ("2023-12-23", "2024-01-07"),
        ("2024-02-10", "2024-02-18"),
        ("2024-03-23", "2024-04-07"),
        ("2024-05-25", "2024-06-02"),
        ("2024-07-20", "2024-09-01"),
        ("2024-10-26", "2024-11-03"),
        ("2024-12-21", "2025-01-05"),
        ("2025-02-15", "2025-02-23"),
        ("2025-04-05", "2025-04-21"),
        ("2025-05-24", "2025-06-01"),
        ("2025-07-19", "2025-08-31"),
        ("2025-10-25", "2025-11-02"),
        ("2025-12-20", "2026-01-04"),
        ("2026-02-14", "2026-02-22"),
        ("2026-03-28", "2026-04-12"),
    ],
    columns=["start", "end"],
)


def generate(n_series: int, seed: int, train_days: int = 730, horizon: int = 90):
    """Seeded series: ``(y, exog, last_training_day)``; ``y`` has train and held-out days."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=train_days + horizon, freq="D")
    exog = holiday_features(dates, "GB-ENG", SCHOOL_HOLIDAYS)
    n, t = n_series, np.arange(len(dates))
    cases_per_day = np.exp(rng.uniform(np.log(3), np.log(30), n))
    weekday = np.column_stack(
        [rng.uniform(1.2, 1.8, n)]  # Monday: the weekend's referrals
        + [rng.uniform(0.85, 1.15, n) for _ in range(4)]
        + [rng.uniform(0.0, 0.15, n) for _ in range(2)]
    )
    rate = cases_per_day[:, None] * weekday[:, dates.dayofweek.to_numpy()]
    amplitude, phase = rng.uniform(0.05, 0.3, n), rng.uniform(0, 365.25, n)
    day_of_year = dates.dayofyear.to_numpy()[None, :]
    rate *= 1 + amplitude[:, None] * np.sin(2 * np.pi * (day_of_year - phase[:, None]) / 365.25)
    rate *= (1 + rng.uniform(-0.05, 0.10, n)[:, None]) ** (t[None, :] / 365.25)
    for column, low, high in (
        ("bank_holiday", 0.05, 0.3),
        ("after_bank_holiday", 1.3, 2.0),
        ("school_holiday", 0.85, 1.3),
        ("festive", 1.0, 1.3),
    ):
        effect = rng.uniform(low, high, n)[:, None]
        rate *= np.where(exog[column].to_numpy()[None, :] == 1, effect, 1.0)
    dispersion = rng.uniform(5, 30, n)[:, None]
    minutes = rng.choice([20, 30, 45, 60, 90, 120], size=(n, 3))
    share = rng.dirichlet([2.0, 2.0, 2.0], n)
    demand = np.zeros((n, len(dates)))
    for k in range(3):
        mean = rate * share[:, k : k + 1]
        cases = rng.poisson(rng.gamma(dispersion, mean / dispersion))
        demand += cases * minutes[:, k : k + 1]
    ids = [f"team{i:03d}" for i in range(n)]
    y = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, len(dates)),
            "ds": np.tile(dates, n),
            "y": demand.ravel(),
        }
    )
    return y, exog, dates[train_days - 1]


def mase(train: pd.DataFrame, test: pd.DataFrame, forecast: pd.DataFrame) -> pd.Series:
    """MASE per series: held-out MAE over the in-sample lag-7 seasonal-naive MAE."""
    scale = train.groupby("unique_id")["y"].apply(
        lambda s: float(np.mean(np.abs(s.to_numpy()[7:] - s.to_numpy()[:-7])))
    )
    scored = test.merge(forecast, on=["unique_id", "ds"])
    error = (scored["y"] - scored["yhat"]).abs().groupby(scored["unique_id"]).mean()
    return error / scale.reindex(error.index)


def coverage(test: pd.DataFrame, forecast: pd.DataFrame, level: int) -> float:
    scored = test.merge(forecast, on=["unique_id", "ds"])
    inside = (scored["y"] >= scored[f"lo{level}"]) & (scored["y"] <= scored[f"hi{level}"])
    return float(inside.mean())


def run_prophet(y: pd.DataFrame, exog: pd.DataFrame, cutoff: pd.Timestamp, ids: list[str]):
    from prophet import Prophet

    # Prophet sets its loggers' levels on import; quieten them afterwards.
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    frame = y[y["unique_id"].isin(ids)].merge(exog, on="ds")
    out = []
    for uid, series in frame.groupby("unique_id", sort=False):
        model = Prophet(yearly_seasonality=True, weekly_seasonality=True, daily_seasonality=False)
        for column in HOLIDAYS:
            model.add_regressor(column)
        model.fit(series[series["ds"] <= cutoff])
        predicted = model.predict(series.loc[series["ds"] > cutoff, ["ds", *HOLIDAYS]])
        out.append(
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": predicted["ds"].to_numpy(),
                    "yhat": predicted["yhat"].clip(lower=0).to_numpy(),
                    "lo80": predicted["yhat_lower"].clip(lower=0).to_numpy(),
                    "hi80": predicted["yhat_upper"].clip(lower=0).to_numpy(),
                }
            )
        )
    return pd.concat(out, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument(
        "--prophet-series",
        type=int,
        default=None,
        help="fit Prophet to the first N series only and extrapolate its time (default: all)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    y, exog, cutoff = generate(args.series, args.seed, horizon=args.horizon)
    train, test = y[y["ds"] <= cutoff], y[y["ds"] > cutoff]
    exog_train, exog_future = exog[exog["ds"] <= cutoff], exog[exog["ds"] > cutoff]
    print(
        f"{args.series} series x {train['ds'].nunique()} days, horizon {args.horizon} days, "
        f"seed {args.seed}, {os.cpu_count()} cores"
    )

    # Imports and a first call (one series, 28 days) are left out of both timings.
    warm = train[train["unique_id"] == train["unique_id"].iloc[0]]
    DemandForecaster().fit(warm, exog_train).predict(28, exog_future)

    started = time.perf_counter()
    model = DemandForecaster()
    ours = model.fit(train, exog_train).predict(args.horizon, exog_future)
    ours_seconds = time.perf_counter() - started
    ours_mase = mase(train, test, ours)
    chosen = ", ".join(f"{k} {v}" for k, v in model.chosen_.value_counts().items())
    rows = [
        (
            "flowcap DemandForecaster",
            args.series,
            ours_seconds,
            ours_mase.mean(),
            coverage(test, ours, 80),
            coverage(test, ours, 95),
        )
    ]

    prophet_note = None
    n_prophet = min(args.prophet_series or args.series, args.series)
    prophet_ids = list(dict.fromkeys(y["unique_id"]))[:n_prophet]
    try:
        run_prophet(y, exog, cutoff, prophet_ids[:1])  # warm-up, as for flowcap
        started = time.perf_counter()
        theirs = run_prophet(y, exog, cutoff, prophet_ids)
        prophet_seconds = time.perf_counter() - started
    except Exception as error:  # ImportError, or cmdstan failing to run
        prophet_note = f"Prophet could not run here ({type(error).__name__}: {error})"
    else:
        from prophet import __version__ as prophet_version

        theirs_mase = mase(train, test, theirs)
        rows.append(
            (
                f"Prophet {prophet_version} (one at a time)",
                n_prophet,
                prophet_seconds,
                theirs_mase.mean(),
                coverage(test, theirs, 80),
                float("nan"),
            )
        )

    print(f"flowcap models chosen: {chosen}")
    print()
    header = f"{'forecaster':<36}{'series':>7}{'seconds':>9}{'series/s':>10}"
    print(header + f"{'mean MASE':>11}{'cover80':>9}{'cover95':>9}")
    for label, n, seconds, mean_mase, cover80, cover95 in rows:
        cover95_text = "-" if np.isnan(cover95) else f"{cover95:.3f}"
        print(
            f"{label:<36}{n:>7}{seconds:>9.2f}{n / seconds:>10.1f}"
            f"{mean_mase:>11.3f}{cover80:>9.3f}{cover95_text:>9}"
        )
    print()
    if prophet_note:
        print(prophet_note)
        print("Only flowcap was timed; install prophet (pip install prophet) to compare.")
        return
    ratio = (prophet_seconds / n_prophet) / (ours_seconds / args.series)
    prophet_all = prophet_seconds * args.series / n_prophet
    same = ours_mase.reindex(prophet_ids).mean()
    if n_prophet < args.series:
        print(
            f"Prophet ran on {n_prophet} of {args.series} series; "
            f"its time for all {args.series} is extrapolated: {prophet_all:.1f} s."
        )
    print(f"speed: flowcap is {ratio:.1f}x faster than Prophet (series per second)")
    print(
        f"MASE on the same {n_prophet} series: flowcap {same:.3f}, Prophet {theirs_mase.mean():.3f}"
    )
    met = ratio >= 20 and same <= theirs_mase.mean()
    print(f"goal (>= 20x faster, MASE no worse): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
