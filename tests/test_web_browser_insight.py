"""The dashboard's SPC alerts and days ahead, and the process map page, in a real browser
(Debian's Chromium through Playwright; ``tests/web_server.py``): the dashboard says they are
being calculated and fills them in by itself (htmx) once they are there; the process map page
shows the map as inline SVG and its bottleneck tables. No console error, uncaught exception or
CSP violation on the way.

The site's services have no event log: this module imports the example's event-log twin into
the site's store, with a user of its own who belongs to it alone (no other test sees it).
"""

from __future__ import annotations

import shutil

import pytest

from test_web_accessibility import axe_check
from web_server import EXAMPLE, KEY, PASSWORD, PEOPLE, ROOT, Person, log_in, service_path

pytest_plugins = ["web_server"]
pytestmark = pytest.mark.usefixtures("site_key")

LOGGED = "Northshire Victim Support Hub (event log)"
LOG_VIEWER = Person("log.viewer@northshire.test", "viewer", LOGGED)


@pytest.fixture(scope="session")
def log_service(web_site, tmp_path_factory):
    """The event-log example in the site's store, and its viewer."""
    from argon2 import PasswordHasher

    from flowcap import manage
    from flowcap.accounts import Accounts
    from flowcap.store import Store

    folder = tmp_path_factory.mktemp("log-service") / "victim-support-log"
    shutil.copytree(
        ROOT / "examples" / "victim-support-log", folder, ignore=shutil.ignore_patterns(".flowcap")
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY", KEY)
        manage.import_folder(folder, database_url=web_site.database_url)
    store = Store.open(web_site.database_url)
    try:
        cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
        Accounts(store, hasher=cheap).add_user(
            LOG_VIEWER.email, PASSWORD, role="viewer", service=LOGGED
        )
    finally:
        store.close()
    return LOGGED


def test_the_dashboard_fills_in_its_alerts_and_days_ahead(web_page):
    page = web_page
    log_in(page, PEOPLE["viewer"], next_path=service_path(EXAMPLE))
    page.wait_for_selector("#measures-chart .main-svg")
    # computed in the background: the page fills the section in by itself when it is there
    page.wait_for_selector("#spc-alerts", timeout=180_000)
    alerts = page.locator("table.alerts tbody tr")
    assert alerts.count() == 8
    assert "special cause" in page.locator("table.icons").inner_text()
    risk = page.locator("table.risk")
    assert risk.locator("caption").inner_text().startswith("The chance of a working day")
    assert {r.split("\t")[0] for r in risk.locator("tbody").inner_text().splitlines()} == {
        "triage",
        "idva",
        "caseworker",
    }
    assert page.locator("ul.sentences li").count() == 3
    axe_check(page, "dashboard with its alerts and days ahead")
    page.goto("/services")
    assert page.get_by_text("SPC alerts in the last 4 weeks of data").count() == 1


def test_the_process_map_page_shows_the_map_and_its_tables(web_page, log_service):
    page = web_page
    log_in(page, LOG_VIEWER, next_path=service_path(log_service, "/processmap"))
    assert page.locator("h1").inner_text().startswith(log_service)
    svg = page.locator(".map-scroll svg")
    assert svg.count() == 1 and svg.is_visible()
    assert svg.locator("g.node").count() >= 5
    for heading in ("Where the waiting accumulates", "Longest delays", "Rework loops"):
        assert page.get_by_role("heading", name=heading).count() == 1
    assert page.locator("#bottlenecks + .table-scroll tbody tr").count() >= 3
    axe_check(page, "process map")


def test_a_service_without_an_event_log_says_so_in_the_browser(web_page):
    page = web_page
    log_in(page, PEOPLE["viewer"], next_path=service_path(EXAMPLE, "/processmap"))
    assert page.get_by_text("This service has no event log").count() == 1
