"""A service's variation report (flowcap.variation.report): its alerts, one per flagged day,
and the alerts counted by rule."""

from __future__ import annotations

from datetime import date

import pandas as pd

from flowcap.variation.report import VariationReport
from flowcap.variation.spc import RULES, Alert, SPCResult


def spc(*alerts: tuple[date, str, str]) -> SPCResult:
    """A chart with only these alerts (its points and segments play no part here)."""
    return SPCResult(
        [], pd.DataFrame(), [Alert(d, rule, way, f"{rule} {d}") for d, rule, way in alerts]
    )


REPORT = VariationReport(
    service_name="Test",
    stats={},
    spc={
        ("idva", "demand"): spc(
            (date(2025, 3, 3), "outside_limits", "high"),
            (date(2025, 3, 10), "shift", "low"),
            (date(2025, 3, 10), "two_of_three", "low"),  # the same day, flagged twice
            (date(2025, 3, 11), "shift", "low"),
        ),
        ("idva", "backlog"): spc(),
        ("isva", "demand"): spc((date(2025, 3, 5), "trend", "high")),
    },
    profiles={},
)


def test_alert_counts_count_every_rule_per_chart_with_any_alert():
    counts = REPORT.alert_counts()
    assert list(counts.columns) == ["resource", "measure", *RULES, "latest"]
    assert counts.to_dict("records") == [
        {
            "resource": "idva",
            "measure": "demand",
            "outside_limits": 1,
            "trend": 0,
            "two_of_three": 1,
            "shift": 2,
            "latest": date(2025, 3, 11),
        },
        {
            "resource": "isva",
            "measure": "demand",
            "outside_limits": 0,
            "trend": 1,
            "two_of_three": 0,
            "shift": 0,
            "latest": date(2025, 3, 5),
        },
    ]


def test_no_alerts_give_an_empty_table_with_the_columns():
    quiet = VariationReport("Test", {}, {("idva", "demand"): spc()}, {})
    counts = quiet.alert_counts()
    assert counts.empty and list(counts.columns) == ["resource", "measure", *RULES, "latest"]


def test_alerts_keep_one_per_day_by_the_rules_precedence():
    alerts = REPORT.alerts
    assert [(a["date"], a["resource"], a["rule"]) for a in alerts] == [
        ("2025-03-03", "idva", "outside_limits"),
        ("2025-03-05", "isva", "trend"),
        ("2025-03-10", "idva", "two_of_three"),  # two of three comes before a shift
        ("2025-03-11", "idva", "shift"),
    ]
    assert alerts[0]["message"] == "outside_limits 2025-03-03"


def test_holiday_effects_say_how_many_events_and_warn_when_too_few():
    # Issue #10: a school-holiday effect from under a year of data is confounded with month,
    # and a bank-holiday effect from one bank holiday is one observation. Each effect carries
    # its events (holiday periods / bank holidays / days) and says so in `caution`.
    import numpy as np

    from flowcap.variation.stats import variation_summary

    dates = pd.bdate_range("2025-06-02", "2025-11-28")  # six months of weekdays
    rng = np.random.default_rng(15)
    minutes = rng.poisson(300, len(dates)).astype(float)
    august_bank_holiday = dates == pd.Timestamp("2025-08-25")
    summer = (dates >= "2025-07-23") & (dates <= "2025-08-31")
    half_term = (dates >= "2025-10-27") & (dates <= "2025-10-31")
    stats = variation_summary(
        dates,
        minutes,
        np.round(minutes / 60),
        bank_holiday=august_bank_holiday,
        school_holiday=summer | half_term,
    )
    bank, after, school = (
        stats[f"{kind}_effect"] for kind in ("bank_holiday", "after_bank_holiday", "school_holiday")
    )
    assert (bank["n_events"], after["n_events"], school["n_events"]) == (1, 1, 2)
    assert "one bank holiday" in bank["caution"]
    assert "one day after a bank holiday" in after["caution"]
    assert "under a year of data" in school["caution"] and "month" in school["caution"]
    # Two full years and eight bank holidays a year: enough events, no caution.
    years = pd.bdate_range("2023-06-05", "2025-06-04")
    holidays = years.isin(
        pd.to_datetime(
            [
                "2023-08-28",
                "2023-12-25",
                "2023-12-26",
                "2024-01-01",
                "2024-03-29",
                "2024-04-01",
                "2024-05-06",
                "2024-05-27",
                "2024-08-26",
            ]
        )
    )
    schools = (years.month == 8) | ((years.month == 2) & (years.day <= 16))
    many = variation_summary(
        years,
        rng.poisson(300, len(years)).astype(float),
        np.ones(len(years)),
        bank_holiday=holidays,
        school_holiday=schools,
    )
    assert many["bank_holiday_effect"]["n_events"] == 9
    assert many["school_holiday_effect"]["n_events"] == 4
    assert many["bank_holiday_effect"]["caution"] is None
    assert many["school_holiday_effect"]["caution"] is None
