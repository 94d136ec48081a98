"""A service's demand forecast as reported (flowcap.forecast.report): the summary per resource."""

from __future__ import annotations

import pandas as pd
import pytest

from flowcap.forecast.report import ForecastReport, backtest_notes


def forecast() -> pd.DataFrame:
    """Three days for IDVA (its peak on two days: the first counts) and two for triage."""
    rows = [
        ("2025-03-03", "idva", 100.0, 80.0, 120.0),
        ("2025-03-04", "idva", 160.0, 130.0, 190.0),
        ("2025-03-05", "idva", 160.0, 140.0, 200.0),
        ("2025-03-03", "triage", 30.0, 20.0, 40.0),
        ("2025-03-04", "triage", 50.0, 40.0, 60.0),
    ]
    table = pd.DataFrame(rows, columns=["date", "resource", "demand_minutes", "lo80", "hi80"])
    table["date"] = pd.to_datetime(table["date"])
    table["lo95"], table["hi95"] = table["lo80"] - 10, table["hi80"] + 10
    return table


def test_summary_has_the_mean_interval_and_first_peak_per_resource():
    report = ForecastReport("Test", history=pd.DataFrame(), forecast=forecast())
    summary = report.summary().set_index("resource")
    assert list(summary.index) == ["idva", "triage"]
    idva = summary.loc["idva"]
    assert idva["from"] == pd.Timestamp("2025-03-03") and idva["to"] == pd.Timestamp("2025-03-05")
    assert idva["mean"] == pytest.approx((100 + 160 + 160) / 3)
    assert idva["lo80"] == pytest.approx((80 + 130 + 140) / 3)
    assert idva["hi80"] == pytest.approx((120 + 190 + 200) / 3)
    assert idva["peak"] == 160 and idva["peak_date"] == pd.Timestamp("2025-03-04")
    triage = summary.loc["triage"]
    assert (triage["mean"], triage["peak"]) == (40, 50)
    assert triage["peak_date"] == pd.Timestamp("2025-03-04")


def test_a_backtest_that_loses_to_the_naive_or_covers_too_little_is_flagged():
    # Issue #10: a backtest worse than the weekly seasonal naive, or whose 95% interval holds
    # under 90% of the actual days, must be said, not only tabled.
    scores = pd.DataFrame(
        {
            "unique_id": ["caseworker", "idva", "triage"],
            "mase": [0.9, 1.3, 0.5],
            "mase_seasonal_naive": [1.0, 1.2, 0.8],
            "coverage80": [0.8, 0.8, 0.7],
            "coverage95": [0.95, 0.96, 0.85],
            "n_windows": [4, 4, 4],
            "horizon": [28, 28, 28],
        }
    )
    notes = backtest_notes(scores)
    assert len(notes) == 2
    assert notes[0].startswith("idva: the forecast lost to the weekly seasonal naive")
    assert "MASE 1.300 against 1.200" in notes[0]
    assert notes[1].startswith("triage: the 95% interval held 85% of the actual days")
    assert backtest_notes(scores.iloc[[0]]) == []
