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
