"""SPC where a spike shows (issue #10): referrals (cases) by case type and by source, per
working day and per ISO week, with Making Data Count's variation and assurance icons.

The issue's case: standard domestic-abuse referrals ran at about 11 a week for months, then
27 in one week, and no alert fired (SPC ran on daily minutes only). Weekly, the 27 is far
above the upper process limit; this file pins that, and what the daily view of the same data
shows.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import yaml
from typer.testing import CliRunner

import flowcap
from conftest import write_folder, yaml_problems
from flowcap.cli.main import app
from flowcap.variation import describe_variation
from flowcap.variation.series import weekly_totals

runner = CliRunner()
FIRST_MONDAY = date(2025, 6, 2)
#: Standard-DA referrals a week for 20 weeks (mean 11.05), then the spike week.
BASELINE = [11, 10, 12, 11, 9, 13, 11, 12, 10, 11, 12, 10, 11, 13, 9, 11, 12, 10, 11, 12]
SPIKE = 27
SPIKE_MONDAY = FIRST_MONDAY + timedelta(weeks=len(BASELINE))  # Mon 20 Oct 2025
SERVICE = {
    "name": "Spike",
    "region": "GB-ENG",
    "resources": {
        "triage": {"staff": 2, "minutes_per_day": 300},
        "caseworker": {"staff": 2, "minutes_per_day": 300},
    },
    "case_types": {
        "da_standard": {
            "priority": 2,
            "steps": [
                {"resource": "triage", "minutes": 30},
                {"resource": "caseworker", "minutes": 60, "after_days": 2},
            ],
        },
        "burglary": {"priority": 3, "resource": "triage", "minutes": 25},
    },
}


def referrals_csv() -> str:
    """Each week's referrals spread over all seven days (police refer at weekends too), in
    a fixed pattern; burglary 5 a week throughout; every fourth referral self-referred."""
    rows, n = ["case_id,referral_date,case_type,source"], 0
    for week, count in enumerate([*BASELINE, SPIKE]):
        monday = FIRST_MONDAY + timedelta(weeks=week)
        for case_type, k in (("da_standard", count), ("burglary", 5)):
            for i in range(k):
                day = monday + timedelta(days=(3 * i + week) % 7)
                source = "self" if n % 4 == 3 else "police"
                rows.append(f"R{n:05d},{day.isoformat()},{case_type},{source}")
                n += 1
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(
        tmp_path_factory.mktemp("spike") / "spike", SERVICE, referrals=referrals_csv()
    )


@pytest.fixture(scope="module")
def history(folder, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("FLOWCAP_KEY_FILE", str(tmp_path_factory.mktemp("key") / "key"))
    patch.delenv("FLOWCAP_DATABASE_URL", raising=False)
    yield flowcap.open(folder)
    patch.undo()


def test_the_series_is_as_the_issue_tells_it(history):
    counts = history.tables.referrals.query("case_type == 'da_standard'")["referral_date"]
    weekly = counts.dt.to_period("W-SUN").value_counts().sort_index().to_numpy()
    assert list(weekly) == [*BASELINE, SPIKE]
    assert sum(BASELINE) / len(BASELINE) == pytest.approx(11.05)


def test_a_rise_from_11_to_27_a_week_alerts_weekly(history):
    report = describe_variation(history, period="week")
    chart = report.referral_spc[("case_type", "da_standard")]
    points = chart.points
    assert len(points) == 21  # 21 complete ISO weeks, dated by their Mondays
    assert points["date"].iat[-1].date() == SPIKE_MONDAY
    assert points["value"].iat[-1] == SPIKE
    segment = chart.segments[0]
    assert segment.mean == pytest.approx((sum(BASELINE) + SPIKE) / 21)
    assert segment.upper_limit < 19  # ordinary weeks vary by a couple of referrals
    assert bool(points["outside_limits"].iat[-1]) and points["direction"].iat[-1] == "high"
    alerts = [a for a in report.referral_alerts if a["chart"] == "referrals da_standard"]
    assert alerts[-1]["date"] == "2025-10-20"
    assert alerts[-1]["rule"] == "outside_limits"
    assert alerts[-1]["message"].startswith(
        "Referrals (da_standard) of 27 in the week of Mon 20 Oct 2025 is above the upper "
        "process limit"
    )
    icons = report.referral_icons[("case_type", "da_standard")]
    assert icons.variation == "neither_high"  # more referrals: neither good nor bad (purple)
    assert icons.label == "special cause (high)"
    assert icons.assurance is None  # no target set
    # The other charts that hold it alert too; burglary, flat at 5, does not.
    assert report.referral_icons[("all", "all")].variation == "neither_high"
    assert report.referral_icons[("case_type", "burglary")].variation == "common_cause"
    assert report.referral_icons[("source", "police")].variation == "neither_high"
    # So does the triage demand it brings (30 minutes a referral), weekly.
    assert report.icons[("triage", "demand")].variation == "neither_high"


def test_the_daily_view_of_the_same_data(history):
    """Per working day the spike barely shows. Weekend referrals are counted on Monday, so
    Monday 20 Oct holds 7 (the weekend before it and the Monday), just above the upper limit
    of 6.65: the only day flagged in 21 weeks. The other days of the spike week (4, 4, 3, 4)
    are inside the limits, its own weekend falls after the last working day and is left out,
    and the latest point, Friday 24 Oct, is common cause: so is the variation icon. A rise of
    2-3 referrals a day is lost in day-to-day noise (limits -2.0 to 6.65 around a mean of
    2.3); the weekly chart is the one that sees it."""
    report = describe_variation(history, period="day")
    chart = report.referral_spc[("case_type", "da_standard")]
    (segment,) = chart.segments
    assert segment.mean == pytest.approx(2.3077, abs=1e-4)
    assert segment.upper_limit == pytest.approx(6.6463, abs=1e-4)
    points = chart.points.set_index("date")
    assert points.index[-1].date() == date(2025, 10, 24)  # the last working day, a Friday
    assert list(points.loc[str(SPIKE_MONDAY) :, "value"]) == [7, 4, 4, 3, 4]
    flagged = points[points["special_cause"]]
    assert [d.date() for d in flagged.index] == [SPIKE_MONDAY]
    assert bool(flagged["outside_limits"].iat[0]) and flagged["direction"].iat[0] == "high"
    assert report.referral_icons[("case_type", "da_standard")].variation == "common_cause"


def test_weekly_totals_keep_complete_iso_weeks_only():
    import numpy as np
    import pandas as pd

    days = pd.date_range("2025-06-04", "2025-06-24")  # Wed 4 Jun to Tue 24 Jun
    weeks = weekly_totals(days, np.ones(len(days)))
    assert [d.date() for d in weeks.index] == [date(2025, 6, 9), date(2025, 6, 16)]
    assert list(weeks) == [7.0, 7.0]
    level = weekly_totals(days, np.arange(len(days), dtype=float), level=True)
    assert list(level) == [11.0, 18.0]  # as it stood on each Sunday


def test_cli_week_json_and_console(folder, tmp_path):
    result = runner.invoke(app, ["variation", str(folder), "--period", "week", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["period"] == "week"
    chart = document["referrals"]["case_type"]["da_standard"]
    assert chart["icons"]["variation"] == "neither_high"
    assert chart["icons"]["variation_label"] == "special cause (high)"
    assert set(document["referrals"]["source"]) == {"police", "self"}
    assert document["referral_alerts"][-1]["date"] == "2025-10-20"
    result = runner.invoke(
        app,
        ["variation", str(folder), "--period", "week", "--chart", str(tmp_path / "spc.html")],
    )
    assert result.exit_code == 0, result.output
    assert "special cause (high)" in result.stdout
    assert "referrals da_standard" in result.stdout
    html = (tmp_path / "spc-referrals.html").read_text(encoding="utf-8")
    for text in ("da_standard · referrals", "source police · referrals", "special cause (high)"):
        assert json.dumps(text)[1:-1] in html


def test_a_target_gives_the_assurance_icon(folder, tmp_path):
    service = dict(SERVICE, spc_targets={"referrals da_standard": {"better": "lower", "week": 30}})
    target = write_folder(tmp_path / "target", service, referrals=referrals_csv())
    result = runner.invoke(app, ["variation", str(target), "--period", "week", "--json"])
    assert result.exit_code == 0, result.output
    icons = json.loads(result.stdout)["referrals"]["case_type"]["da_standard"]["icons"]
    # Lower is better and the spike is high: concerning; the limits (about 4 to 18) sit
    # under 30, so every ordinary week meets it: consistently passing.
    assert icons["variation"] == "concern_high"
    assert icons["assurance"] == "consistently_passing"
    assert icons["target"] == 30
    result = runner.invoke(app, ["variation", str(target), "--json"])  # no daily target
    icons = json.loads(result.stdout)["referrals"]["case_type"]["da_standard"]["icons"]
    assert icons["assurance"] is None and icons["improvement"] == "lower"


def test_spc_targets_are_validated_with_file_and_line(tmp_path):
    service = dict(
        SERVICE,
        spc_targets={
            "referrals da_standard": {"better": "lower", "week": 15},
            "referrals nonsense": {"better": "lower"},
            "triage waiting": {"better": "lower"},
            "source police": {"better": "sideways"},
        },
    )
    text = yaml.safe_dump(service, sort_keys=False)
    found = yaml_problems(tmp_path, text)
    lines = text.splitlines()
    line = {key: lines.index(f"  {key}:") + 1 for key in service["spc_targets"]}
    assert found == [
        f"service.yaml, row {line['referrals nonsense']}, column spc_targets.referrals "
        "nonsense: unknown case type 'nonsense' (case types: da_standard, burglary)",
        f"service.yaml, row {line['triage waiting']}, column spc_targets.triage waiting: "
        "'triage waiting' is not a chart: use 'RESOURCE MEASURE' (resources: triage, "
        "caseworker; measures: demand, activity, backlog), 'referrals', 'referrals "
        "CASE_TYPE' or 'source SOURCE'",
        f"service.yaml, row {line['source police'] + 1}, column spc_targets.source police."
        "better: Input should be 'higher' or 'lower'",
    ]
