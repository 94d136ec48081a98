"""The commissioner's report (``flowcap report``): its sentences against the library's
numbers and an independent recount, and the HTML, PDF and Excel files read back."""

from __future__ import annotations

import re
import shutil
import zlib
from dataclasses import replace
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

import flowcap
from conftest import worked_example
from flowcap.cli.main import app
from flowcap.measures import measure
from flowcap.report.commissioner import Table, build_report, report_period, write_report
from flowcap.report.commissioner.excel import safe_text
from flowcap.report.commissioner.summary import minutes, period_sentence
from flowcap.variation import describe_variation

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
LOG_EXAMPLE = EXAMPLE.with_name("victim-support-log")
runner = CliRunner()


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The bundled example, opened from a copy (its store is made beside the copy), and its
    report for December 2025 (fewer simulated futures: the numbers are compared with the
    same objects, not with the CLI's)."""
    folder = tmp_path_factory.mktemp("report") / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY_FILE", str(folder.parent / "key"))
        history = flowcap.open(folder)
        report = build_report(history, replications=500)
    return history, report


def test_the_period_defaults_to_the_last_month_and_the_one_before(example):
    history, report = example
    assert (report.start, report.end) == (date(2025, 12, 1), date(2025, 12, 31))
    assert report.previous == (date(2025, 10, 31), date(2025, 11, 30))  # 31 days before
    # A period starting on the first day of data has nothing before it to compare.
    start, end, previous = report_period(history, date(2024, 1, 2), date(2024, 1, 31))
    assert previous is None
    sentence = period_sentence(replace(report, start=start, end=end, previous=previous))
    assert sentence.startswith("This report covers Tue 02 Jan 2024 to Wed 31 Jan 2024 (30 days);")
    assert "not compared with an earlier period" in sentence


def test_backlog_sentences_carry_the_measures_numbers(example):
    history, report = example
    now = measure(history, date(2025, 12, 1), date(2025, 12, 31)).table
    before = measure(history, date(2025, 10, 31), date(2025, 11, 30)).table
    for resource in history.service.resources:
        end = now[(now["resource"] == resource)].iloc[-1]
        old = before[(before["resource"] == resource)].iloc[-1]
        assert end["date"] == pd.Timestamp("2025-12-31")
        assert old["date"] == pd.Timestamp("2025-11-30")
        # Demand per working day, recounted: all demand over the period's working days.
        days = now[now["resource"] == resource]
        demand = days["demand_minutes"].sum() / days["is_working_day"].sum()
        sentence = next(s for s in report.summary if s.startswith(f"{resource}:"))
        assert f"{minutes(end['backlog_minutes'])} of work waiting" in sentence
        assert f"({int(end['backlog_cases']):,} case" in sentence
        assert f"from {minutes(old['backlog_minutes'])}" in sentence
        change = round(end["backlog_minutes"]) - round(old["backlog_minutes"])
        assert (f"up {minutes(change)}" if change > 0 else f"down {minutes(-change)}") in sentence
        assert f"Demand averaged {minutes(demand)} per working day" in sentence
    assert not any("nan" in s.lower() for s in report.summary)


def test_first_contacts_are_the_referrals_made_in_each_period(example):
    history, report = example
    raw = pd.read_csv(EXAMPLE / "referrals.csv", parse_dates=["referral_date"])
    table = report.table("first_contacts").frame.set_index("period")
    december = raw["referral_date"].between("2025-12-01", "2025-12-31")
    november = raw["referral_date"].between("2025-10-31", "2025-11-30")
    assert table.loc["this period", "referrals"] == december.sum()
    assert table.loc["period before", "referrals"] == november.sum()
    row = table.loc["this period"]
    assert row["met"] + row["missed"] + row["pending"] == december.sum()
    sentence = next(s for s in report.summary if s.startswith("First contact within 2"))
    decided = int(row["met"] + row["missed"])
    assert f"{row['met'] / decided:.0%} of {decided:,} referrals with an outcome" in sentence


def test_the_alerts_are_those_dated_in_the_period(example):
    history, report = example
    variation = describe_variation(history)
    expected = [a for a in variation.alerts if "2025-12-01" <= a["date"] <= "2025-12-31"]
    assert len(report.table("alerts").frame) == len(expected) > 0
    sentence = next(s for s in report.summary if "SPC alert" in s)
    assert sentence.startswith(f"{len(expected)} SPC alerts")
    assert expected[-1]["message"] in sentence


def test_the_options_sentence_is_the_simulations_recommendation(example):
    _, report = example
    options = report.section("options")
    assert options.data["simulation"].recommendation() in report.summary
    ranked = report.table("scenarios").frame
    assert len(ranked) == 1 + 5  # the baseline and the example's five options
    risky = next(s for s in report.summary if s.startswith("The riskiest working days"))
    days = report.table("risk_days").frame
    top = days[days["k"] == 1.5].sort_values(["p", "date"], ascending=[False, True]).iloc[0]
    assert f"{top['date']:%a %d %b %Y} at {top['resource']} ({top['p']:.0%})" in risky


def test_the_workbook_has_typed_cells_tables_and_charts(example, tmp_path):
    _, report = example
    path = write_report(report, tmp_path / "r.xlsx", "xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:3] == ["Summary", "Measures", "Weekly"]
    for name in ("SPC alerts", "Forecast", "Risk", "Scenarios", "Waiting list"):
        assert name in book.sheetnames
    sheet = book["Measures"]
    assert sheet.freeze_panes == "A2"
    assert sheet["A2"].is_date and isinstance(sheet["C2"].value, int | float)
    assert len(sheet.tables) == 1 and len(sheet._charts) == 3  # one chart per resource
    # straight lines between the days, not a smoothed curve that invents values between them
    assert all(series.smooth is False for chart in sheet._charts for series in chart.series)
    assert book["Summary"]["A7"].value == report.summary[0]
    # pandas reads back the library's numbers.
    daily = pd.read_excel(path, sheet_name="Measures")
    expected = report.table("daily").frame
    merged = daily.merge(expected, on=["date", "resource"], suffixes=("", "_lib"))
    assert len(merged) == len(expected) == len(daily)
    assert (merged["backlog_minutes"] == merged["backlog_minutes_lib"]).all()
    # Weekly totals, recounted from the daily sheet: Monday-to-Sunday sums.
    weekly = pd.read_excel(path, sheet_name="Weekly")
    caseworker = daily[daily["resource"] == "caseworker"].set_index("date")
    sums = caseworker["demand_minutes"].resample("W-SUN").agg(["sum", "size"])
    complete = sums[sums["size"] == 7]["sum"]
    got = weekly[weekly["resource"] == "caseworker"]["demand_minutes"].to_numpy()
    assert list(got) == list(complete.to_numpy())
    scenarios = pd.read_excel(path, sheet_name="Scenarios")
    assert list(scenarios["option"]) == list(report.table("scenarios").frame["option"])


def test_text_that_would_be_a_formula_stays_text(example, tmp_path):
    _, report = example
    assert safe_text("=1+1") == "'=1+1" and safe_text("a=b") == "a=b"
    evil = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain"]
    waiting = report.section("measures")
    frame = pd.DataFrame({"resource": evil, "cases_waiting": range(len(evil))})
    changed = replace(waiting, tables=[*waiting.tables[:4], Table("waiting", "W", frame)])
    sections = [changed if s.key == "measures" else s for s in report.sections]
    path = write_report(replace(report, sections=sections), tmp_path / "e.xlsx", "xlsx")
    sheet = openpyxl.load_workbook(path)["Waiting list"]
    values = [sheet.cell(row=i, column=1) for i in range(2, 2 + len(evil))]
    assert [c.value for c in values] == ["'" + e for e in evil[:-1]] + ["plain"]
    assert all(c.data_type == "s" for c in values)


def test_the_html_is_self_contained_and_escaped(example, tmp_path):
    _, report = example
    hostile = replace(report, service_name="<script>alert(1)</script> & Co")
    text = write_report(hostile, tmp_path / "r.html", "html").read_text()
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in text
    assert not re.search(r"""(src|href)=["']https?:""", text)  # nothing fetched
    figures = sum(len(section.figures) for section in report.sections)
    assert figures == 7  # measures, waiting list, SPC, forecast, risk, fan, options
    assert text.count('src="data:image/png;base64,') == figures
    for sentence in report.summary:
        assert sentence.replace("'", "&#39;") in text


def test_the_pdf_has_contents_page_numbers_and_the_summary(example, tmp_path):
    from weasyprint import HTML

    from flowcap.report.commissioner.html import render_html

    _, report = example
    data = write_report(report, tmp_path / "r.pdf", "pdf").read_bytes()
    assert data.startswith(b"%PDF-")
    assert b"/StructTreeRoot" in data + inflated(data)  # tagged (PDF/UA-1)
    document = HTML(string=render_html(report, for_print=True)).render()
    pages = [page_text(page._page_box) for page in document.pages]
    assert len(pages) >= 5
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert "Contents" in pages[0] and "Summary" in pages[0]
    whole = " ".join(" ".join(p.split()) for p in pages)
    for sentence in report.summary[:3]:
        assert " ".join(sentence.split()) in whole


def inflated(pdf: bytes) -> bytes:
    """The PDF's Flate streams decompressed (object streams hold the catalogue)."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            out.append(zlib.decompress(stream))
        except zlib.error:
            pass
    return b"".join(out)


def page_text(box) -> str:
    """The text of a laid-out WeasyPrint page (its boxes, margin boxes included)."""
    texts = []

    def walk(node):
        if hasattr(node, "text") and isinstance(node.text, str):
            texts.append(node.text)
        for child in getattr(node, "children", []) or []:
            walk(child)

    walk(box)
    return " ".join(texts)


def test_the_process_map_section_where_there_is_an_event_log(tmp_path, monkeypatch):
    folder = tmp_path / "log"
    shutil.copytree(LOG_EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    history = flowcap.open(folder)
    report = build_report(history, replications=200, figures=False)
    section = report.section("process_map")
    pmap = section.data["process_map"]
    top = pmap.bottlenecks.iloc[0]
    sentence = report.summary[-1]
    assert sentence.startswith(f"The event log holds {pmap.n_cases:,} cases")
    assert f"'{top['from']}' and '{top['to']}' ({top['share']:.0%}" in sentence


def test_cli_writes_by_service_name_with_the_default_name(tmp_path, monkeypatch):
    folder = worked_example(tmp_path / "svc")
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    assert runner.invoke(app, ["import", str(folder)]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report", "--service", "Worked example", "--format", "xlsx"])
    assert result.exit_code == 0, result.output
    written = tmp_path / "worked-example-report-2025-03-04.xlsx"
    assert f"report: {written.name}" in result.stderr
    summary = pd.read_excel(written, sheet_name="Summary", header=None)[0].dropna().tolist()
    # One day of data: no forecast, no earlier period, no options, said in words.
    assert any("each series needs at least 28 days of history" in s for s in summary)
    assert any("not compared with an earlier period" in s for s in summary)
    assert any(str(s).startswith("No contingency options were compared") for s in summary)
    forecast = openpyxl.load_workbook(written)["Forecast"]["A1"].value
    assert forecast.startswith("No forecast or risk ahead could be made")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-13-01"], "--from '2025-13-01' is not a date"),
        (["--format", "docx"], "--format must be one of html, pdf, xlsx, not 'docx'"),
        (["--format", "pdf", "--out", "r.xlsx"], "--format pdf does not match the file r.xlsx"),
        (["--from", "2025-03-05", "--to", "2025-03-01"], "--from"),
    ],
)
def test_cli_bad_arguments_are_messages(tmp_path, args, message):
    folder = worked_example(tmp_path / "svc")
    result = runner.invoke(app, ["report", str(folder), *args])
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
