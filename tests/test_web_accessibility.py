"""Accessibility of every page of the web app: axe-core (the copy bundled with
axe-playwright-python, nothing fetched) run in Debian's Chromium on the login page, the login
page with errors, and every page the app routes (``app.routes``: its GET pages, a service's
with the example's name), as an admin of the example, who sees them all.

WCAG 2.1 AA is the bar (UK public bodies must meet it): no ``serious`` or ``critical``
violation; the lesser ones are printed (``pytest -s``) but do not fail.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from web_server import EXAMPLE, PEOPLE, app_routes, log_in, service_path

pytest_plugins = ["web_server"]
pytestmark = pytest.mark.usefixtures("site_key")

#: The WCAG 2.0 / 2.1 A and AA rules, and axe's best practices.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
BLOCKING = ("serious", "critical")

#: GET routes that are not pages for people (or not the app's own pages).
NOT_PAGES = re.compile(r"^/(api|static|docs|redoc|openapi\.json|healthz)(/|$)")
#: Path parameters a page route may have, and what to put in them.
SERVICE_PARAMS = {"name", "service", "service_name"}
#: Other path parameters: a feature's tests/web_routes_FEATURE.py may fill them (its PARAMS:
#: param -> fill(service, database_url), as the role matrix does).
FILLS: dict = {}
for _extra in sorted(Path(__file__).parent.glob("web_routes_*.py")):
    _spec = importlib.util.spec_from_file_location(_extra.stem, _extra)
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    FILLS.update(getattr(_module, "PARAMS", {}))


def axe_check(page, label: str) -> None:
    """Run axe on the page; fail on serious or critical violations, print the rest."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS).response
    blocking, other = [], []
    for violation in results["violations"]:
        nodes = "; ".join(
            " ".join(node.get("target", [])) if isinstance(node.get("target"), list) else ""
            for node in violation["nodes"][:5]
        )
        line = (
            f"{label}: [{violation['impact']}] {violation['id']}: {violation['help']} "
            f"({len(violation['nodes'])} element(s): {nodes})"
        )
        (blocking if violation["impact"] in BLOCKING else other).append(line)
    for line in other:
        print(f"axe (not failing): {line}")
    assert not blocking, "axe found serious or critical violations:\n" + "\n".join(blocking)


def page_paths(app) -> list[str]:
    """The app's GET pages, a service's with the example's name; a parameter this test does
    not know fails it (add it to SERVICE_PARAMS or NOT_PAGES)."""
    paths, unknown = [], []
    for route in app_routes(app):
        if route.kind != "route" or "GET" not in route.methods:
            continue
        if NOT_PAGES.match(route.path) or route.path == "/login":
            continue
        if route.params - SERVICE_PARAMS - set(FILLS):
            unknown.append(route.path)
            continue
        path = route.path
        for param in route.params:
            value = FILLS[param](EXAMPLE, app.state.store.url) if param in FILLS else EXAMPLE
            path = re.sub(r"\{" + param + r"(:[^}]*)?\}", quote(str(value), safe=""), path)
        paths.append(path)
    assert not unknown, f"pages with parameters this test cannot fill: {unknown}"
    return sorted(set(paths))


def settle(page) -> None:
    """Wait for the page's scripts: the dashboard's chart, when it has one."""
    page.wait_for_load_state("networkidle")
    if page.locator("#measures-chart").count():
        page.wait_for_selector("#measures-chart .main-svg")


def test_the_login_page(web_page):
    web_page.goto("/login")
    axe_check(web_page, "/login")


def test_the_login_page_with_errors(web_page):
    page = web_page
    page.goto("/login")
    page.fill("input[name=email]", "nobody@northshire.test")
    page.fill("input[name=password]", "")
    with page.expect_navigation():
        page.locator("form:has(input[name=password]) [type=submit]").click()
    page.console_watch.forgive(r"status of 4\d\d")
    if page.locator("div.error-summary").count() == 0:  # the browser refused the empty field
        page.fill("input[name=password]", "not the password at all")
        with page.expect_navigation():
            page.locator("form:has(input[name=password]) [type=submit]").click()
        page.console_watch.forgive(r"status of 4\d\d")
    assert page.locator("div.error-summary[role=alert]").is_visible()
    axe_check(page, "/login with errors")


def test_every_page_of_an_admin(web_page, live_server):
    page = web_page
    paths = page_paths(live_server.app)
    assert "/services" in paths and service_path(EXAMPLE) in paths
    log_in(page, PEOPLE["admin"])
    failures, checked = [], set()
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        landed = urlsplit(page.url).path  # "/" may redirect to /services
        assert landed != "/login", f"{path} sent an admin to log in"
        if landed in checked:
            continue
        checked.add(landed)
        settle(page)
        try:
            axe_check(page, landed)
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "\n".join(failures)
