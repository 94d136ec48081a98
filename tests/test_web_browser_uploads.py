"""Uploading in a real browser (Debian's Chromium through Playwright; ``tests/web_server.py``):
a file with an error shows the error summary and stores nothing; the corrected file shows
what will change; importing it updates the dashboard. On the small second service (its admin
uploads), so that the example's numbers stay as the other browser tests expect them.
"""

from __future__ import annotations

import pytest

from test_web_accessibility import axe_check
from web_server import OTHER, PEOPLE, log_in, service_path

pytestmark = pytest.mark.usefixtures("site_key")
pytest_plugins = ["web_server"]

#: The second service's opening waiting list, one case more; and with a bad date in row 3.
WAITING = (
    "case_id,case_type,waiting_since\nEW-W1,court_witness,2025-08-20\n"
    "EW-W2,court_witness,2025-08-27\nEW-W3,court_witness,2025-08-29\n"
)
BAD = WAITING.replace("2025-08-27", "27 August")


def choose(page, name: str, text: str) -> None:
    page.set_input_files(
        "#files", files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}]
    )


def test_upload_a_file_with_an_error_fix_it_confirm_and_see_the_dashboard(web_page, live_server):
    page = web_page
    log_in(page, PEOPLE["outsider"])
    page.goto(service_path(OTHER, "/upload"))
    assert page.locator("h1").inner_text() == "Upload files"
    axe_check(page, "the upload form")

    choose(page, "waiting.csv", BAD)
    with page.expect_navigation():
        page.get_by_role("button", name="Check the files").click()
    summary = page.locator("div.error-summary[role=alert]")
    assert summary.is_visible()
    assert "waiting.csv, row 3, column waiting_since" in summary.inner_text()
    summary.locator("a[href='#files']").first.click()
    assert page.evaluate("document.activeElement.id") == "files"
    assert page.locator("[name=upload_id]").count() == 0  # nothing to confirm
    axe_check(page, "the upload form with its problems")

    choose(page, "waiting.csv", WAITING)
    with page.expect_navigation():
        page.get_by_role("button", name="Check the files").click()
    assert page.locator("h1").inner_text() == "Check the changes"
    row = page.locator("tr:has(th:text-is('waiting'))")
    assert row.locator("td.num").all_inner_texts()[:3] == ["2", "3", "1"]  # now, after, added
    axe_check(page, "the upload's preview")

    with page.expect_navigation():
        page.get_by_role("button", name="Import these changes").click()
    assert page.locator("h1").inner_text() == "Imported"
    axe_check(page, "the imported upload")
    with page.expect_navigation():
        page.get_by_role("link", name="Go to the dashboard").click()
    assert page.locator("h1").inner_text() == OTHER
    page.locator("#measures-chart .main-svg").first.wait_for()
