"""The scenario planner in a real browser (Debian's Chromium through Playwright;
``tests/web_server.py``): an editor runs a small simulation from the planner page, watches its
progress update itself (htmx), and sees the ranking of the options, the recommendation and
the backlog fan chart; a viewer sees the options but no forms. No console error, uncaught
exception or CSP violation on the way.

On SQLite and, when the run has a server (``scripts/test.sh``), on PostgreSQL.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from web_server import EXAMPLE, PEOPLE, log_in, service_path

pytest_plugins = ["web_server"]
pytestmark = pytest.mark.usefixtures("site_key")


def test_an_editor_runs_a_simulation_and_sees_the_ranking(web_page):
    page = web_page
    log_in(page, PEOPLE["editor"], next_path=service_path(EXAMPLE, "/planner"))
    assert urlsplit(page.url).path.endswith("/planner")
    assert page.locator("h1").inner_text().startswith("Scenario planner")
    assert page.get_by_text("agency IDVA for six weeks over summer").count() >= 1

    page.fill("#sim-horizon", "30")
    page.fill("#sim-replications", "100")
    page.fill("#sim-risk", "0.05")
    with page.expect_navigation():
        page.get_by_role("button", name="Run the simulation").click()
    assert re.search(r"/jobs/\d+$", urlsplit(page.url).path), page.url

    # the page polls itself until the run is done (no reload by the test)
    page.wait_for_selector("#ranking", timeout=120_000)
    ranking = page.locator("#ranking")
    assert ranking.locator("caption").inner_text().startswith("Each option against the baseline")
    rows = ranking.locator("tbody tr")
    assert rows.count() >= 3
    assert "shorter needs assessments" in ranking.inner_text()
    assert page.locator("#recommendation").inner_text().strip()
    page.wait_for_selector("#fan-chart .main-svg")  # planner.js drew the backlog fan

    page.goto(service_path(EXAMPLE, "/planner"))
    runs = page.locator("table:has(caption:text('runs, newest first'))")
    assert runs.locator("a").first.inner_text().startswith("Simulation")


def test_a_viewer_sees_the_options_but_cannot_run(web_page):
    page = web_page
    log_in(page, PEOPLE["viewer"], next_path=service_path(EXAMPLE, "/planner"))
    assert page.get_by_text("transfer a caseworker to IDVA in August").count() >= 1
    assert page.get_by_role("button", name="Run the simulation").count() == 0
    assert page.locator("textarea").count() == 0
