"""Calibrating a pathway from an event log (flowcap.simulate.pathway.calibrate): arrivals,
routing and holding times, and the calibrated sepsis pathway simulated against its log."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flowcap.history import open_event_log
from flowcap.io.eventlog import EventLogConfig, read_event_log
from flowcap.simulate.pathway.calibrate import ARRIVAL_STEP, calibrate, calibrate_log

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
LOGS = {
    "receipt": (REAL / "receipt.xes.gz", EventLogConfig(file="receipt.xes.gz")),
    "sepsis": (
        REAL / "sepsis.csv",
        EventLogConfig(file="sepsis.csv", resource="resource", lifecycle="lifecycle"),
    ),
}


@pytest.fixture(scope="module", params=sorted(LOGS))
def real_log(request) -> pd.DataFrame:
    path, config = LOGS[request.param]
    if not path.exists():
        pytest.fail(f"real log missing: {path} (../shared/data/real must sit beside the repo)")
    return read_event_log(path, config).sorted_events()


def _log(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    events = pd.DataFrame(rows, columns=["case", "activity", "timestamp"])
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    return events


def expected_visits(routing: np.ndarray) -> np.ndarray:
    """Visits per case to each step of an absorbing Markov chain entered at step 0."""
    n = len(routing)
    return np.linalg.solve(np.eye(n) - routing.T, np.eye(n)[0])


def test_a_small_log_by_hand():
    events = _log(
        [
            ("a", "register", "2026-01-05 09:00"),  # a Monday
            ("a", "assess", "2026-01-05 10:00"),
            ("a", "close", "2026-01-05 12:00"),
            ("b", "register", "2026-01-06 09:30"),
            ("b", "close", "2026-01-06 10:00"),
            ("c", "register", "2026-01-12 09:15"),
            ("c", "assess", "2026-01-12 09:45"),
            ("c", "assess", "2026-01-12 11:45"),
            ("c", "close", "2026-01-12 12:45"),
        ]
    )
    fitted = calibrate(events)
    assert fitted.steps[0] == "register"  # every case starts there: no arrival step
    step = {name: i for i, name in enumerate(fitted.steps)}
    r = fitted.routing
    assert r[step["register"], step["assess"]] == pytest.approx(2 / 3)
    assert r[step["register"], step["close"]] == pytest.approx(1 / 3)
    assert r[step["assess"], step["assess"]] == pytest.approx(1 / 3)
    assert r[step["assess"], step["close"]] == pytest.approx(2 / 3)
    assert r[step["close"]].sum() == 0
    # register holds 60, 30, 30 minutes; assess 120, 120, 60; close 0 (last events).
    assert sorted(fitted.holding_minutes[step["register"]]) == [30, 30, 60]
    assert sorted(fitted.holding_minutes[step["assess"]]) == [60, 120, 120]
    assert list(fitted.holding_minutes[step["close"]]) == [0, 0, 0]
    # First events span one week (Mon 5 to Mon 12 January): 3 cases a week.
    weeks = (7 * 24 + 0.25) / (7 * 24)
    assert fitted.weeks == pytest.approx(weeks)
    assert fitted.arrivals_per_hour.sum() == pytest.approx(3.0 / weeks)
    assert fitted.arrivals_per_hour[9] == pytest.approx(2.0 / weeks)  # Monday 09:00-10:00
    assert fitted.arrivals_per_hour[24 + 9] == pytest.approx(1.0 / weeks)
    assert fitted.observed_end_to_end["mean_hours"] == pytest.approx((3 + 0.5 + 3.5) / 3)


def test_several_start_activities_get_an_arrival_step():
    events = _log(
        [
            ("a", "phone", "2026-01-05 09:00"),
            ("a", "close", "2026-01-05 10:00"),
            ("b", "email", "2026-01-05 11:00"),
            ("b", "close", "2026-01-05 12:00"),
            ("c", "email", "2026-01-06 11:00"),
        ]
    )
    fitted = calibrate(events)
    assert fitted.steps[0] == ARRIVAL_STEP
    step = {name: i for i, name in enumerate(fitted.steps)}
    assert fitted.routing[0, step["phone"]] == pytest.approx(1 / 3)
    assert fitted.routing[0, step["email"]] == pytest.approx(2 / 3)
    assert list(fitted.holding_minutes[0]) == [0]
    assert fitted.observed.set_index("step").loc["email", "visits_per_case"] == pytest.approx(2 / 3)


@pytest.mark.slow
def test_real_logs_keep_visits_and_mean_time_end_to_end(real_log):
    fitted = calibrate(real_log)
    # The maximum-likelihood chain's expected visits are the log's visits per case, exactly.
    observed_visits = fitted.observed["visits_per_case"].to_numpy()
    assert np.allclose(expected_visits(fitted.routing), observed_visits, rtol=1e-9)
    # Visits x mean holding time adds up to the mean time from first to last event; the
    # compression to 1,000 values keeps each mean exactly (up to rounding).
    means = np.array([h.mean() for h in fitted.holding_minutes]) / 60
    total = float(observed_visits @ means)
    assert total == pytest.approx(fitted.observed_end_to_end["mean_hours"], rel=1e-9)
    assert fitted.arrivals_per_hour.sum() * fitted.weeks == pytest.approx(fitted.cases)
    for held in fitted.holding_minutes:  # sorted, up to rounding in the cumulative sums
        assert len(held) <= 1000 and np.all(np.diff(held) >= -1e-6 * held.max())
    assert np.all(fitted.routing.sum(axis=1) <= 1 + 1e-12)


# --- the calibrated sepsis pathway, simulated -------------------------------------------------


@pytest.fixture(scope="module")
def sepsis_report():
    log = REAL / "sepsis.csv"
    if not log.exists():
        pytest.fail(f"real log missing: {log}")
    return calibrate_log(open_event_log(log, timezone="Europe/Amsterdam"), replications=4, seed=1)


@pytest.mark.slow
def test_calibrated_sepsis_pathway_reproduces_visits_and_mean_time(sepsis_report):
    report = sepsis_report
    served = report.result.served.sum(axis=(0, 2)).astype(float)
    steps = report.steps
    # Visits per case: with n cases simulated, the share at a step has standard error
    # sqrt(Var(visits of one case) / n); for an absorbing Markov chain entered at step 0,
    # with N = (I - P)^-1, that variance is row 0 of N (2 diag(N) - I) - N * N (Kemeny and
    # Snell, Finite Markov Chains, th. 3.3.5). 4 standard errors.
    routing = report.calibration.routing
    fundamental = np.linalg.inv(np.eye(len(routing)) - routing)
    variance = fundamental @ (2 * np.diag(np.diag(fundamental)) - np.eye(len(routing)))
    variance = (variance - fundamental * fundamental)[0]
    tolerance = 4 * np.sqrt(np.maximum(variance, 0) / served[0]) + 1e-9
    gap = (steps["simulated_visits_per_case"] - steps["observed_visits_per_case"]).abs()
    assert (gap <= tolerance).all(), steps[gap > tolerance]
    # Mean time from first to last event: the log's own mean has standard error
    # sd / sqrt(1,050); the simulation's comes from its interval; 3 combined, plus the 1.5%
    # the window's end can cut off long cases (see simulate.pathway.calibrate.calibrate_log).
    e2e = report.end_to_end
    events = report.calibration
    log_se = events.observed_end_to_end["sd_hours"] / math.sqrt(events.cases)
    sim_se = (e2e["simulated_ci95_high_hours"] - e2e["simulated_ci95_low_hours"]) / 2 / 3.18
    allowed = 3 * math.hypot(log_se, sim_se) + 0.015 * e2e["observed_mean_hours"]
    assert abs(e2e["simulated_mean_hours"] - e2e["observed_mean_hours"]) <= allowed
