"""variation, forecast, risk and processmap through the CLI: the JSON shapes the issue fixes,
charts, and the process map of a log file or of a service folder's event log."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import LOG, log_folder, write_folder
from flowcap.cli.main import app
from flowcap.errors import FlowcapError
from flowcap.history import open_event_log

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
RESOURCES = {"triage", "idva", "caseworker"}


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """A copy of the bundled example, imported once for the module."""
    folder = tmp_path_factory.mktemp("analysis") / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    return folder


def run_json(*args):
    result = runner.invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_variation_json_has_the_issue_shape(example, tmp_path):
    document = run_json("variation", example, "--json", "--chart", tmp_path / "spc.html")
    assert set(document) == {"resources", "alerts", "period", "referrals", "referral_alerts"}
    assert document["period"] == "day"
    assert set(document["resources"]) == RESOURCES
    for item in document["resources"].values():
        assert set(item) == {"stats", "spc", "icons"}
        assert set(item["spc"]) == set(item["icons"]) == {"demand", "activity", "backlog"}
        assert all(i["variation"] for i in item["icons"].values())
        for segments in item["spc"].values():
            assert segments and all(
                set(s) == {"from", "to", "mean", "lower_limit", "upper_limit"} for s in segments
            )
        assert {
            "demand_minutes",
            "demand_cases",
            "case_count_fit",
            "weekday_profile",
            "month_profile",
            "school_holiday_effect",
            "trend",
        } <= set(item["stats"])
    for segments in (i["spc"]["demand"] for i in document["resources"].values()):
        for segment in segments:
            date.fromisoformat(segment["from"]), date.fromisoformat(segment["to"])
            assert isinstance(segment["mean"], float)
            assert isinstance(segment["upper_limit"], float)
    points = {(a["date"], a["resource"], a["measure"]) for a in document["alerts"]}
    assert len(points) == len(document["alerts"])  # one alert for each flagged point
    alert = document["alerts"][0]
    date.fromisoformat(alert["date"])
    assert set(alert) == {"date", "resource", "measure", "rule", "direction", "message"}
    assert {a["rule"] for a in document["alerts"]} <= {
        "outside_limits",
        "shift",
        "trend",
        "two_of_three",
    }
    assert {a["direction"] for a in document["alerts"]} <= {"high", "low"}
    assert (tmp_path / "spc.html").exists() and (tmp_path / "spc-profile.html").exists()
    assert (tmp_path / "spc-referrals.html").exists()
    referrals = document["referrals"]
    assert set(referrals) == {"all", "case_type", "source"}
    assert set(referrals["source"]) == {"police", "partner_agency", "self"}
    assert set(referrals["all"]) == {"spc", "icons"}


@pytest.mark.slow
def test_variation_by_week_uses_complete_iso_weeks(example):
    document = run_json("variation", example, "--json", "--period", "week")
    assert document["period"] == "week"
    segment = document["resources"]["idva"]["spc"]["demand"][0]
    first, last = date.fromisoformat(segment["from"]), date.fromisoformat(segment["to"])
    assert first.weekday() == last.weekday() == 0  # weeks dated by their Mondays
    assert last + timedelta(days=6) <= date(2025, 12, 31)  # complete weeks only
    result = runner.invoke(app, ["variation", str(example), "--period", "month"])
    assert result.exit_code != 0 and "use day or week" in result.output


def test_variation_recalculates_limits_from_a_date(example):
    document = run_json("variation", example, "--json", "--recalculate-from", "2025-01-06")
    segments = document["resources"]["idva"]["spc"]["demand"]
    assert [s["from"] for s in segments][1] == "2025-01-06"
    assert len(segments) == 2


@pytest.mark.slow
def test_forecast_json_has_the_issue_shape(example, tmp_path):
    document = run_json(
        "forecast", example, "--horizon", 14, "--json", "--chart", tmp_path / "fan.png"
    )
    assert set(document) == {"forecast", "backtest"}
    rows = document["forecast"]
    assert len(rows) == 14 * len(RESOURCES)
    assert all(
        set(r) == {"date", "resource", "demand_minutes", "lo80", "hi80", "lo95", "hi95"}
        for r in rows
    )
    assert all(
        r["lo95"] <= r["lo80"] <= r["demand_minutes"] <= r["hi80"] <= r["hi95"] for r in rows
    )
    assert all(isinstance(r["demand_minutes"], float) for r in rows)
    assert {date.fromisoformat(r["date"]) for r in rows} == {
        date(2026, 1, 1) + timedelta(days=d) for d in range(14)
    }
    assert (tmp_path / "fan.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def six_months(tmp_path_factory):
    """The example service generated for six months only (Jun-Nov 2025), as in issue #10."""
    from flowcap.examples.victim_support import generate_victim_support

    folder = tmp_path_factory.mktemp("six-months") / "victim-support"
    generate_victim_support(folder, start=date(2025, 6, 1), days=183)
    return folder


@pytest.mark.slow
def test_forecast_of_six_months_keeps_its_days_and_backtests(six_months):
    # Issue #10: a day's forecast changed with --horizon (IDVA on 12 Dec: 602 with 14, 358
    # with 35), and --backtest failed with "use fewer windows" and no option for windows.
    long = run_json("forecast", six_months, "--horizon", 35, "--json")["forecast"]
    result = runner.invoke(
        app, ["forecast", str(six_months), "--horizon", "14", "--windows", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    short = json.loads(result.stdout)
    first = {(r["resource"], r["date"]): r for r in short["forecast"]}
    assert len(first) == 14 * len(RESOURCES)
    assert [r for r in long if (r["resource"], r["date"]) in first] == list(first.values())
    assert set(short["backtest"]) == RESOURCES  # --windows implies --backtest
    # The IDVA's weekly sessions repeat: six months are not enough to beat last week's.
    assert "note: idva: the forecast lost to the weekly seasonal naive" in result.stderr
    refused = runner.invoke(app, ["forecast", str(six_months), "--windows", "0"])
    assert refused.exit_code == 1 and "--windows must be at least 1, not 0" in refused.stderr


@pytest.mark.slow
def test_risk_json_has_the_issue_shape(example, tmp_path):
    items = run_json(
        "risk",
        example,
        "--k",
        1,
        "--k",
        2,
        "--horizon",
        30,
        "--json",
        "--chart",
        tmp_path / "risk.html",
    )
    assert {(i["resource"], i["k"]) for i in items} == {
        (r, k) for r in RESOURCES for k in (1.0, 2.0)
    }
    for item in items:
        assert set(item) == {
            "resource",
            "k",
            "p_per_working_day",
            "once_every_working_days",
            "p_empirical",
            "ci_low",
            "ci_high",
            "riskiest_dates",
        }
        assert 0 <= item["ci_low"] <= item["ci_high"] <= 1
        assert isinstance(item["p_per_working_day"], float)
        for day in item["riskiest_dates"]:
            date.fromisoformat(day["date"])
        ps = [d["p"] for d in item["riskiest_dates"]]
        assert ps == sorted(ps, reverse=True)
    by_k = {(i["resource"], i["k"]): i["p_per_working_day"] for i in items}
    assert all(by_k[(r, 1.0)] >= by_k[(r, 2.0)] for r in RESOURCES)
    assert (tmp_path / "risk.html").exists()


@pytest.mark.slow
def test_human_output_reads_as_sentences(example):
    result = runner.invoke(app, ["risk", str(example), "--k", "1.5", "--horizon", "30"])
    assert result.exit_code == 0, result.output
    assert "idva: demand above 1.5 × capacity about once every" in result.stdout


def test_risk_table_and_sentence_round_the_same_figure_alike(monkeypatch, tmp_path):
    """The table printed 575 working days and the sentence 570 (issue 10, item 11)."""
    import pandas as pd

    import flowcap.cli.analysis as analysis
    import flowcap.plan.risk
    from flowcap.plan.risk import BadDayRisk, RiskReport

    risk = BadDayRisk("idva", 1.5, 1 / 574.6, 0.002, 1 / 1234.5, 1 / 304.6, 500)
    report = RiskReport("Northshire", [risk], pd.DataFrame(columns=["date", "resource", "k", "p"]))
    monkeypatch.setattr(analysis, "open_history", lambda *args, **kwargs: None)
    # The command imports the library when it runs (a quick `flowcap --help`): patch it there.
    monkeypatch.setattr(flowcap.plan.risk, "assess_risk", lambda *args, **kwargs: report)
    result = runner.invoke(app, ["risk", str(tmp_path)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ idva"))
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells[2:4] == ["570 working days", "300–1,230"]
    assert "about once every 570 working days (95% CI once every 300 to 1,230;" in result.stdout
    assert "575" not in result.stdout


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is not checked out")
def test_processmap_json_of_the_sepsis_log(tmp_path):
    document = run_json(
        "processmap",
        REAL / "sepsis.csv",
        "--delimiter",
        ";",
        "--timezone",
        "UTC",
        "--json",
        "--chart",
        tmp_path / "sepsis.svg",
    )
    assert set(document) == {
        "activities",
        "edges",
        "bottlenecks",
        "longest_delays",
        "rework",
        "times",
        "left_out_events",
    }
    assert document["left_out_events"] == {}  # the sepsis log has complete events only
    assert len(document["activities"]) == 16
    assert sum(a["events"] for a in document["activities"]) == 15_214
    starts = [e for e in document["edges"] if e["from"] == "__start__"]
    assert sum(e["count"] for e in starts) == 1_050  # every case starts once, "NA" included
    assert all(
        set(e) == {"from", "to", "count", "cases", "median_wait_hours", "p90_wait_hours"}
        for e in document["edges"]
    )
    assert abs(sum(b["share"] for b in document["bottlenecks"]) - 1) < 1e-6
    assert (tmp_path / "sepsis.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


# --- the process map of a service folder's event log ------------------------------------------


def test_processmap_of_a_service_folder_uses_its_event_log(tmp_path):
    folder = log_folder(tmp_path)
    result = runner.invoke(app, ["processmap", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    # A's risk assessment started and completed: one visit, its start left out.
    assert sum(a["events"] for a in document["activities"]) == 8
    assert document["left_out_events"] == {"start": 1}
    assert document["times"].startswith("Complete events only (1 start events left out)")
    assert not [e for e in document["edges"] if e["from"] == e["to"]]
    starts = {e["to"]: e["count"] for e in document["edges"] if e["from"] == "__start__"}
    assert starts == {"Referral received": 3}  # A's first event by time, not by file order
    # A column option reads the folder's log file again, with the folder's other settings.
    log = open_event_log(folder, timezone="UTC")
    assert (log.source, log.timezone, log.n_events) == ("events.csv", "UTC", 9)


def test_processmap_takes_every_column_from_the_command_line(tmp_path):
    log = tmp_path / "events.csv"
    log.write_text(LOG)
    columns = ["--case-id", "Ref", "--activity", "Event", "--timestamp", "When"]
    result = runner.invoke(app, ["processmap", str(log), *columns, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # no lifecycle column named: every event mapped
    assert document["left_out_events"] == {} and "no start events" in document["times"]
    loops = {(e["from"], e["to"]): e["count"] for e in document["edges"] if e["from"] == e["to"]}
    assert loops == {("Risk assessment", "Risk assessment"): 1}
    lifecycle = ["--lifecycle", "Status", "--case-type", "Kind"]
    result = runner.invoke(app, ["processmap", str(log), *columns, *lifecycle, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["left_out_events"] == {"start": 1}
    assert sum(a["events"] for a in document["activities"]) == 8
    # The options reach the reader: a column the file lacks is named in the error.
    for option in ("--resource", "--case-type", "--lifecycle"):
        result = runner.invoke(app, ["processmap", str(log), *columns, option, "Nope"])
        assert result.exit_code == 1
        assert "missing column 'Nope'" in result.stderr, (option, result.stderr)
    # A folder's event_log: settings are overridden by the options.
    folder = log_folder(tmp_path / "folder", lifecycle=None)
    result = runner.invoke(app, ["processmap", str(folder), "--lifecycle", "Status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["left_out_events"] == {"start": 1}


def test_processmap_prints_its_rankings_and_checks_its_filters(tmp_path):
    folder = log_folder(tmp_path)
    result = runner.invoke(app, ["processmap", str(folder)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "3 cases, 8 events" in text and "1 start events left out" in text
    for title in ("Where the waiting accumulates", "Longest delays (90th percentile)"):
        assert title in text
    assert "No rework loops" in text
    for option in ("--top-edges", "--top-variants"):
        result = runner.invoke(app, ["processmap", str(folder), option, "0"])
        assert result.exit_code == 1
        assert f"{option} must be at least 1, not 0" in result.stderr


def test_processmap_prints_its_tables_before_it_draws(tmp_path, monkeypatch):
    """The tables came only after the chart, so a chart that failed printed none (issue 10,
    item 10): the console output now comes first."""
    import flowcap.cli.analysis as analysis
    import flowcap.report.process_map as drawing

    calls = []
    printed = analysis._print_process_map
    monkeypatch.setattr(
        analysis, "_print_process_map", lambda *a: calls.append("tables") or printed(*a)
    )
    monkeypatch.setattr(
        drawing, "write_process_map", lambda pmap, path, *a, **k: calls.append("chart") or path
    )
    folder = log_folder(tmp_path)
    result = runner.invoke(app, ["processmap", str(folder), "--chart", str(tmp_path / "m.html")])
    assert result.exit_code == 0, result.output
    assert calls == ["tables", "chart"]


def test_processmap_without_graphviz_prints_tables_and_draws_html(tmp_path, monkeypatch):
    """No `dot` on the PATH: the HTML map is still drawn (flowcap's own layout); SVG fails with
    how to install Graphviz, after the tables are printed (issue 10, item 10)."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    folder = log_folder(tmp_path)
    page = tmp_path / "map.html"
    result = runner.invoke(app, ["processmap", str(folder), "--chart", str(page)])
    assert result.exit_code == 0, result.output
    assert "Where the waiting accumulates" in result.stdout
    assert "<svg" in page.read_text() and f"chart: {page}" in result.stderr
    picture = tmp_path / "map.svg"
    result = runner.invoke(app, ["processmap", str(folder), "--chart", str(picture)])
    assert result.exit_code == 1
    assert "Where the waiting accumulates" in result.stdout
    assert "Graphviz" in result.stderr and "apt-get install graphviz" in result.stderr
    assert not picture.exists()


def test_processmap_help_keeps_its_defaults():
    result = runner.invoke(app, ["processmap", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for text in ("(default: the folder's, or case_id)", "(default: the folder's, or timestamp)"):
        assert text in result.stdout
    assert "--top-variants" in result.stdout and "--lifecycle" in result.stdout
    assert "case id ." not in result.stdout


def test_processmap_of_a_folder_without_an_event_log_says_so(tmp_path):
    folder = write_folder(tmp_path)
    with pytest.raises(FlowcapError, match="has no event_log: section"):
        open_event_log(folder)
    result = runner.invoke(app, ["processmap", str(folder)])
    assert result.exit_code == 1 and "has no event_log: section" in result.stderr
    result = runner.invoke(app, ["processmap", str(tmp_path / "x.csv"), "--timezone", "Mars/Base"])
    assert result.exit_code == 1 and "--timezone unknown time zone" in result.stderr


@pytest.mark.slow
def test_measures_reads_step_targets_and_caseloads_as_sentences(example):
    """Issue #10 items 2 and 5 on the bundled example: the IDVA risk assessment (step 2 of
    da_high_risk, within 1 working day) and the IDVAs' caseload against 22 per FTE. Checked
    by hand from the CSV files: 456 assessments fell due, 323 done within a working day; on
    31 Dec 2025, 37 high-risk cases were open (about 4.4 referrals a week, each open at
    least the 57 days until its last weekly contact falls due) for 4 IDVAs."""
    result = runner.invoke(app, ["measures", str(example)])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Steps with a target: work due 02 Jan 2024 to 31 Dec 2025" in text
    assert "Steps with a target: 71% of 456 done in time (0 still inside the target)." in text
    assert "│ 2024-08 │ da_high_risk │    2 │   0 │     27 │       0 │    0% │" in text
    assert "Caseloads at the end of Wed 31 Dec 2025" in text
    assert (
        "idva: 37 open da_high_risk cases, 9.2 per FTE (4 FTE in post) against a standard "
        "of 22 (42%)."
    ) in text
    assert "not those on duty that day" in text


@pytest.mark.slow
def test_measures_json_rows_carry_step_targets_and_caseloads(example):
    rows = run_json("measures", example, "--json")
    idva = [row for row in rows if row["resource"] == "idva"]
    triage = [row for row in rows if row["resource"] == "triage"]
    totals = {
        status: sum(row[f"step_targets_{status}"] for row in idva)
        for status in ("met", "missed", "pending")
    }
    assert totals == {"met": 323, "missed": 133, "pending": 0}
    assert {row["step_targets_met"] for row in triage} == {None}
    assert {row["open_cases"] for row in triage} == {None}
    last = idva[-1]
    assert (last["date"], last["open_cases"]) == ("2025-12-31", 37)
    assert (last["open_cases_per_fte"], last["caseload_share"]) == (9.25, 0.4205)
    assert max(row["open_cases"] for row in idva) == 52
    june = run_json("measures", example, "--json", "--from", "2025-06-01", "--to", "2025-06-30")
    june_idva = [row for row in june if row["resource"] == "idva"]
    assert sum(row["step_targets_met"] for row in june_idva) == 19
    assert sum(row["step_targets_missed"] for row in june_idva) == 0
