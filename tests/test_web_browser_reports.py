"""The reports and alerts pages in a real browser (Debian's Chromium through Playwright;
``tests/web_server.py``): a viewer asks for the month's report, watches it being built (the
page polls itself with htmx), and downloads the PDF and the workbook; an editor acknowledges
an alert and sees who did it and when; axe finds no serious or critical problem on either
page, in either state. No console error, uncaught exception or CSP violation on the way.

The report is built once, by the app's own workers, with 50 simulated futures (the app runs
in this process: the module lowers the report jobs' default). On SQLite and, when the run has
a server (``scripts/test.sh``), on PostgreSQL.
"""

from __future__ import annotations

from datetime import date

import openpyxl
import pytest

from flowcap import jobs
from test_web_accessibility import axe_check
from web_server import EXAMPLE, PEOPLE, log_in, service_path

pytest_plugins = ["web_server"]
pytestmark = pytest.mark.usefixtures("site_key")

FILE_STEM = "northshire-victim-support-hub-report-2025-12-31"


@pytest.fixture(scope="module", autouse=True)
def small_reports():
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(jobs.OPTIONS["report"], "replications", (int, 50))
        yield


def test_a_viewer_builds_the_months_report_and_downloads_it(web_page, tmp_path):
    page = web_page
    reports = service_path(EXAMPLE, "/reports")
    log_in(page, PEOPLE["viewer"], next_path=reports)
    assert page.locator("h1").inner_text().startswith("Reports")
    assert page.input_value("#from") == "2025-12-01"
    assert page.input_value("#to") == "2025-12-31"
    axe_check(page, reports)

    with page.expect_navigation():
        page.get_by_role("button", name="Build the report").click()
    # the page polls itself until the report is built (no reload by the test)
    pdf = page.get_by_role("link", name="PDF of the report of Mon 01 Dec 2025 to Wed 31 Dec 2025")
    pdf.wait_for(timeout=240_000)
    axe_check(page, f"{reports} with a report ready")
    summary = page.locator("ul.summary-sentences li").first.inner_text()
    assert summary.startswith("This report covers Mon 01 Dec 2025 to Wed 31 Dec 2025")

    with page.expect_download() as caught:
        pdf.click()
    download = caught.value
    assert download.suggested_filename == f"{FILE_STEM}.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")

    with page.expect_download() as caught:
        page.get_by_role("link", name="Excel workbook of the report").first.click()
    assert caught.value.suggested_filename == f"{FILE_STEM}.xlsx"
    workbook = tmp_path / "report.xlsx"
    caught.value.save_as(workbook)
    book = openpyxl.load_workbook(workbook)
    assert book.sheetnames[0] == "Summary"
    assert summary in [row[0] for row in book["Summary"].iter_rows(values_only=True)]


def test_an_editor_acknowledges_an_alert(web_page, live_server):
    from flowcap.monitor.detect import Finding
    from flowcap.monitor.records import record
    from flowcap.store import Store

    day = date(2025, 12, 30)
    finding = Finding(
        kind="backlog",
        key="browser:backlog",
        episode="browser:backlog",
        day=day,
        last_seen=day,
        title="Caseworker backlog forecast over 2,400 minutes (browser test)",
        message="The caseworker backlog is forecast over its threshold.",
    )
    store = Store.open(live_server.site.database_url)
    try:
        [alert] = record(store, EXAMPLE, [finding]) or [None]
    finally:
        store.close()
    assert alert is not None, "the alert was recorded before: a site is made once a session"

    page = web_page
    alerts = service_path(EXAMPLE, "/alerts")
    log_in(page, PEOPLE["editor"], next_path=alerts)
    row = page.locator(f"#alert-{alert.id}")
    assert "Backlog forecast over its threshold" in row.inner_text()
    axe_check(page, alerts)
    with page.expect_navigation():
        row.get_by_role("button", name=f"Acknowledge alert {alert.id}").click()
    assert page.locator("#done").inner_text().strip() == f"Alert {alert.id} is acknowledged."
    assert page.locator(f"#alert-{alert.id}").count() == 0  # no longer waiting
    page.get_by_role("link", name="All alerts", exact=True).click()
    page.wait_for_selector(f"#alert-{alert.id}")
    acknowledged = page.locator(f"#alert-{alert.id}").inner_text()
    assert PEOPLE["editor"].email in acknowledged and "UTC" in acknowledged
    axe_check(page, f"{alerts}?show=all")


def test_a_viewer_sees_the_alerts_without_buttons(web_page):
    page = web_page
    log_in(page, PEOPLE["viewer"], next_path=service_path(EXAMPLE, "/alerts?show=all"))
    assert page.locator("table#alerts tbody tr").count() >= 1
    assert page.get_by_role("button", name="Acknowledge").count() == 0
