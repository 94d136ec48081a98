"""The API docs (``/docs``, Swagger UI) in a real browser (Debian's Chromium through
Playwright; ``tests/web_server.py``): the page draws every operation of ``/openapi.json``
with no request leaving the server (Swagger UI's script and styles come from the app, so the
docs work offline), under the page's Content-Security-Policy, with no console error,
uncaught exception or CSP violation.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

pytest_plugins = ["web_server"]
pytestmark = pytest.mark.usefixtures("site_key")

METHODS = {"get", "post", "put", "patch", "delete"}


def test_the_docs_draw_every_operation_with_nothing_fetched_from_elsewhere(web_page, live_server):
    page = web_page
    server = urlsplit(live_server.url)
    requests: list[str] = []
    elsewhere: list[str] = []

    def watch(route):
        url = route.request.url
        requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or (
            parts.hostname == server.hostname and parts.port == server.port
        ):
            route.continue_()
        else:  # offline: nothing may be fetched from another host
            elsewhere.append(url)
            route.abort()

    page.route("**/*", watch)
    openapi = httpx.get(f"{live_server.url}/openapi.json").json()
    operations = {
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        for method in item
        if method in METHODS
    }
    assert len(operations) >= 7  # token, services, measures, uploads, daily, jobs (2)

    page.goto("/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("flowcap")
    drawn = set()
    for block in page.locator(".opblock .opblock-summary").all():
        method = block.locator(".opblock-summary-method").inner_text().strip()
        path = block.locator(".opblock-summary-path").get_attribute("data-path")
        drawn.add((method, path))
    assert drawn == operations
    assert not elsewhere, f"the docs fetched from other hosts: {elsewhere}"
    fetched = {urlsplit(url).path for url in requests}
    assert {"/docs", "/static/swagger-ui-bundle.js", "/static/swagger-ui.css"} <= fetched
    assert "/openapi.json" in fetched

    # an operation opens and shows its responses (its 200 schema is documented)
    page.locator(".opblock-summary-path[data-path='/api/services']").first.click()
    page.wait_for_selector(".opblock.is-open .responses-table")
    assert "200" in page.locator(".opblock.is-open .responses-table").inner_text()


def test_try_it_out_calls_the_api_from_the_docs(web_page):
    """Swagger UI's "Try it out" sends the request from the page (``connect-src 'self'``):
    without a token the API answers 401, and the page shows it."""
    page = web_page
    page.goto("/docs")
    page.locator(".opblock-summary-path[data-path='/api/services']").first.click()
    block = page.locator(".opblock.is-open").first
    block.get_by_role("button", name="Try it out").click()
    block.get_by_role("button", name="Execute").click()
    page.wait_for_selector(".opblock.is-open .live-responses-table")
    status = block.locator(".live-responses-table .response .response-col_status").first
    assert status.inner_text().strip().startswith("401")
    page.console_watch.forgive(r"401")  # the browser logs the refused request
