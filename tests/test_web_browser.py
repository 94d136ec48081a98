"""The web app in a real browser (Debian's Chromium through Playwright; ``tests/web_server.py``):
logging in (a wrong password first), the services a user may see, the dashboard's chart and its
date range, logging out. Every page must load without a console error, an uncaught exception
or a Content-Security-Policy violation, and fetch nothing from anywhere but the app.

On SQLite and, when the run has a server (``scripts/test.sh``), on PostgreSQL.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from web_server import EXAMPLE, OTHER, PASSWORD, PEOPLE, log_in, name_forms, service_path

pytest_plugins = ["web_server"]
pytestmark = pytest.mark.usefixtures("site_key")

CHART = "#measures-chart .main-svg"


def test_a_wrong_password_shows_the_error_summary_then_the_right_one_logs_in(web_page, live_server):
    page = web_page
    dashboard = service_path(EXAMPLE)
    page.goto(dashboard)
    assert urlsplit(page.url).path == "/login"  # not logged in: sent to the login page
    assert parse_qs(urlsplit(page.url).query).get("next") == [unquote(dashboard)]

    page.fill("input[name=email]", PEOPLE["viewer"].email)
    page.fill("input[name=password]", "not the password at all")
    with page.expect_navigation():
        page.locator("form:has(input[name=password]) [type=submit]").click()
    page.console_watch.forgive(r"status of 4\d\d")  # the refused login may answer 4xx

    summary = page.locator("div.error-summary[role=alert]")
    assert summary.is_visible()
    assert page.locator("div.error-summary").count() == 1
    before_form = page.evaluate(
        """() => {
            const form = document.querySelector('input[name=password]').form;
            const summary = document.querySelector('div.error-summary');
            return !!(summary.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING);
        }"""
    )
    assert before_form, "the error summary comes before the form, at the top"
    links = summary.locator("a[href^='#']")
    assert links.count() >= 1, "the error summary links to the fields in error"
    for i in range(links.count()):
        target = links.nth(i).get_attribute("href")[1:]
        field = page.locator(f"[id='{target}']")
        assert field.count() == 1, f"the error summary links to #{target}, which is not there"
    links.first.click()
    focused = page.evaluate("document.activeElement && document.activeElement.name")
    assert focused in ("email", "password"), "following the error link focuses its field"
    assert page.locator("input[name=password]").input_value() == ""  # never echoed back

    page.fill("input[name=email]", PEOPLE["viewer"].email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.locator("form:has(input[name=password]) [type=submit]").click()
    assert urlsplit(page.url).path == dashboard  # back where the user was going
    assert page.locator("div.error-summary").count() == 0

    cookies = page.context.cookies()
    assert cookies, "logging in sets a session cookie"
    for cookie in cookies:
        assert cookie["httpOnly"], f"cookie {cookie['name']} must be HttpOnly"
        assert cookie["sameSite"] in ("Lax", "Strict"), cookie
        assert not cookie["secure"] or live_server.url.startswith("https:")


@pytest.mark.parametrize(
    "who, sees, not_sees", [("viewer", EXAMPLE, OTHER), ("outsider", OTHER, EXAMPLE)]
)
def test_the_services_page_lists_only_the_users_services(web_page, who, sees, not_sees):
    page = web_page
    log_in(page, PEOPLE[who])
    assert urlsplit(page.url).path == "/services"
    hrefs = {
        urlsplit(href).path
        for href in page.locator("a[href^='/services/']").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
    }
    assert service_path(sees) in hrefs
    assert not any(h.startswith(service_path(not_sees)) for h in hrefs)
    html = page.content()
    assert sees in html
    for form in name_forms(not_sees):
        assert form not in html, f"the services page of {who} mentions {not_sees!r}"


def chart_dates(page) -> list[str]:
    """Every x value of the Plotly chart's date traces, as YYYY-MM-DD."""
    values = page.evaluate(
        """() => (document.getElementById('measures-chart').data || [])
              .flatMap(trace => Array.from(trace.x || []).map(String))"""
    )
    return [v[:10] for v in values if re.fullmatch(r"\d{4}-\d\d-\d\d.*", v)]


def test_the_dashboard_draws_the_chart_and_follows_the_date_range(web_page, live_server):
    page = web_page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    log_in(page, PEOPLE["viewer"], next_path=service_path(EXAMPLE))
    assert urlsplit(page.url).path == service_path(EXAMPLE)
    assert page.locator("h1").first.inner_text().strip() == EXAMPLE
    page.wait_for_selector(CHART)
    assert page.locator("script[src='/static/plotly.min.js']").count() == 1
    assert page.locator("script[src='/static/dashboard.js']").count() == 1
    dates = chart_dates(page)
    assert dates, "the chart has dates along its x axis"

    start, end = "2025-06-02", "2025-06-27"
    form = page.locator("form:has(input[name=from])")
    assert form.locator("input[name=to]").count() == 1
    form.locator("input[name=from]").fill(start)
    form.locator("input[name=to]").fill(end)
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("from") == [start] and query.get("to") == [end]
    assert urlsplit(page.url).path == service_path(EXAMPLE)
    page.wait_for_selector(CHART)
    assert form.locator("input[name=from]").input_value() == start  # the picker keeps the range
    narrowed = chart_dates(page)
    assert narrowed, "the chart still has data in June 2025"
    assert min(narrowed) >= start and max(narrowed) <= end, (min(narrowed), max(narrowed))
    assert len(set(narrowed)) < len(set(dates))

    outside = [url for url in requests if not url.startswith((live_server.url, "data:", "blob:"))]
    assert not outside, f"the dashboard fetched from elsewhere: {outside}"


def test_logging_out_ends_the_session(web_page):
    page = web_page
    dashboard = service_path(EXAMPLE)
    log_in(page, PEOPLE["editor"])
    assert urlsplit(page.url).path == "/services"
    logout = page.locator("form[action='/logout']")
    assert logout.locator("input[name=csrf_token]").count() == 1
    with page.expect_navigation():
        logout.locator("[type=submit]").click()
    assert urlsplit(page.url).path == "/login"
    page.goto(dashboard)
    assert urlsplit(page.url).path == "/login"
    assert parse_qs(urlsplit(page.url).query).get("next") == [unquote(dashboard)]
