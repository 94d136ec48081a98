"""Daily figures in a real browser (Debian's Chromium through Playwright;
``tests/web_server.py``): an editor enters today's figures with a mistake, sees the error
summary, corrects it, saves, and finds today on the dashboard's chart. On a service of its
own in the site's store (data up to three days ago, its own editor), so that the example's
numbers stay as the other browser tests expect them."""

from __future__ import annotations

import pytest

from test_daily import NAME, TODAY, recent_service
from test_web_accessibility import axe_check
from web_server import PASSWORD, Person, log_in, service_path

pytestmark = pytest.mark.usefixtures("site_key")
pytest_plugins = ["web_server"]

EDITOR = Person("editor@daily-figures.test", "editor", NAME)


@pytest.fixture
def daily_service(live_server, tmp_path):
    """The service and its editor in the live site's store (once per store)."""
    from flowcap.accounts import Accounts
    from flowcap.store import Store

    url = live_server.site.database_url
    store = Store.open(url)
    try:
        if NAME not in {entry["name"] for entry in store.services()}:
            recent_service(tmp_path / "daily-folder", url)
            Accounts(store).add_user(EDITOR.email, PASSWORD, role="editor", service=NAME)
    finally:
        store.close()
    return NAME


def test_enter_a_days_figures_and_see_the_chart_include_it(web_page, daily_service):
    page = web_page
    log_in(page, EDITOR)
    page.goto(service_path(NAME, "/daily"))
    assert page.locator("h1").inner_text() == "Daily figures"
    axe_check(page, "the daily figures form")

    page.fill("#referrals-0", "three")
    page.fill("#staff-0", "2")
    with page.expect_navigation():
        page.get_by_role("button", name="Save the figures").click()
    assert page.console_watch.forgive(r"status of 422")  # the form's answer with problems
    summary = page.locator("div.error-summary[role=alert]")
    assert summary.is_visible() and "Referrals of advocacy" in summary.inner_text()
    summary.locator("a[href='#referrals-0']").click()
    assert page.evaluate("document.activeElement.id") == "referrals-0"
    axe_check(page, "the daily figures form with a problem")

    page.fill("#referrals-0", "3")
    page.fill("#sessions-0-count", "2")
    page.fill("#sessions-0-minutes", "120")
    with page.expect_navigation():
        page.get_by_role("button", name="Save the figures").click()
    assert page.locator("h1").inner_text() == "Figures saved"
    axe_check(page, "the daily figures saved")

    with page.expect_navigation():
        page.get_by_role("link", name="Go to the dashboard").click()
    assert page.locator("h1").inner_text() == NAME
    page.locator("#measures-chart .main-svg").first.wait_for()
    traces = page.evaluate("() => document.getElementById('measures-chart').data")
    days = {str(x)[:10] for trace in traces for x in (trace.get("x") or [])}
    assert TODAY.isoformat() in days
