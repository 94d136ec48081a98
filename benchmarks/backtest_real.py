"""Backtest flowcap's demand forecast on the bundled example and on a real public-service log.

Run: ``python benchmarks/backtest_real.py``. Prints one table per horizon: for each
resource of ``examples/victim-support`` (daily demand minutes, measured by
``flowcap.open(folder).measures`` on a temporary copy of the folder) and for the road-traffic-fines
log in ``../shared/data/real/`` (new fines per day, by the local date in Europe/Rome of each
case's first event, over the log's last three years, 2010-06-19 to 2013-06-18, where every
month has fines), the rolling-origin MASE of the model and of the weekly seasonal naive, and
the empirical coverage of the 80% and 95% intervals.

The acceptance check (issue 3) is ``mase < mase_seasonal_naive`` and ``0.90 <= coverage95
<= 0.99``; the 28-day, 8-window backtest is the one ``flowcap forecast --backtest`` runs.
Holidays: England's bank holidays and the example's ``school_holidays.csv`` for the example;
Italy's public holidays (``holidays.country_holidays("IT")``) for the fines.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "victim-support"
FINES = ROOT.parent / "shared" / "data" / "real" / "road_traffic_fines.xes.gz"
YEARS_OF_FINES = 3
SETTINGS = ((28, 8), (90, 4))  # (horizon days, windows)
AHEAD = 28  # holiday flags past the data, to show which model a forecast from today uses


def example_series() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily demand minutes per resource of the bundled example, with its holiday flags."""
    import flowcap
    from flowcap.forecast import holiday_features
    from flowcap.io import read_service_yaml

    with tempfile.TemporaryDirectory() as scratch:
        os.environ["FLOWCAP_KEY_FILE"] = str(Path(scratch) / "pseudonym.key")
        os.environ.pop("FLOWCAP_KEY", None)
        os.environ.pop("FLOWCAP_DATABASE_URL", None)
        folder = Path(scratch) / "victim-support"
        shutil.copytree(EXAMPLE, folder)
        table = flowcap.open(folder).measures.table
        service = read_service_yaml(folder / "service.yaml")
        school = pd.read_csv(folder / "school_holidays.csv")
    y = table.rename(columns={"resource": "unique_id", "date": "ds", "demand_minutes": "y"})
    y = y[["unique_id", "ds", "y"]]
    days = pd.date_range(y["ds"].min(), y["ds"].max() + pd.Timedelta(days=AHEAD), freq="D")
    return y, holiday_features(days, service.region, school)


def fines_series() -> tuple[pd.DataFrame, pd.DataFrame]:
    """New road-traffic fines per day over the log's last three years, Italy's holidays."""
    from flowcap.forecast import holiday_features
    from flowcap.io.xes import daily_new_cases, read_xes

    counts = daily_new_cases(read_xes(FINES), "Europe/Rome")
    start = counts.index.max() - pd.DateOffset(years=YEARS_OF_FINES) + pd.Timedelta(days=1)
    counts = counts[counts.index >= start]
    y = pd.DataFrame({"unique_id": "road_fines", "ds": counts.index, "y": counts.to_numpy()})
    days = pd.date_range(counts.index.min(), counts.index.max() + pd.Timedelta(days=AHEAD))
    return y, holiday_features(days, "IT")


def main() -> None:
    from flowcap.forecast import DemandForecaster, backtest

    warnings.filterwarnings("ignore")
    series = [("examples/victim-support", *example_series())]
    if FINES.exists():
        series.append(("road-traffic-fines (last 3 years)", *fines_series()))
    else:
        print(f"{FINES} is absent: only the example is backtested")
    for label, y, exog in series:
        last = y["ds"].max()
        model = DemandForecaster().fit(y, exog[exog["ds"] <= last])
        model.predict(AHEAD, exog[exog["ds"] > last])
        chosen = ", ".join(f"{uid} {name}" for uid, name in model.chosen_.items())
        print(f"{label}: {y['ds'].min().date()} to {last.date()}; model chosen now: {chosen}")
    print()
    header = (
        f"{'series':<14}{'horizon':>8}{'windows':>8}{'mase':>8}{'naive':>8}"
        f"{'cover80':>9}{'cover95':>9}  check"
    )
    for horizon, windows in SETTINGS:
        print(f"Rolling origin: {horizon}-day horizon, {windows} windows, step {horizon} days")
        print(header)
        started = time.perf_counter()
        for _, y, exog in series:
            scores = backtest(y, exog, horizon=horizon, n_windows=windows)
            for row in scores.itertuples(index=False):
                ok = row.mase < row.mase_seasonal_naive and 0.90 <= row.coverage95 <= 0.99
                print(
                    f"{row.unique_id:<14}{row.horizon:>8}{row.n_windows:>8}{row.mase:>8.3f}"
                    f"{row.mase_seasonal_naive:>8.3f}{row.coverage80:>9.3f}"
                    f"{row.coverage95:>9.3f}  {'ok' if ok else 'FAIL'}"
                )
        print(f"({time.perf_counter() - started:.1f} s)")
        print()


if __name__ == "__main__":
    main()
