"""The account and admin pages in a real browser (Debian's Chromium through Playwright;
``tests/web_server.py``): an admin adds a person to the service, who then logs in and sees
it; and axe-core on those pages with their error summaries showing (the accessibility test
checks each page as it first loads).

On SQLite and, when the run has a server (``scripts/test.sh``), on PostgreSQL.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest

from test_web_accessibility import axe_check
from web_server import EXAMPLE, OTHER, PEOPLE, Person, log_in, service_path

pytest_plugins = ["web_server"]
pytestmark = pytest.mark.usefixtures("site_key")


def submit(page, form: str) -> None:
    """Click the submit button of the form matched by ``form`` and wait for the next page."""
    with page.expect_navigation():
        page.locator(f"{form} [type=submit]").first.click()


def test_an_admin_adds_a_person_who_then_logs_in_and_sees_the_service(web_page, chromium):
    page = web_page
    log_in(page, PEOPLE["admin"])
    users = service_path(EXAMPLE, "/users")
    page.goto(users)
    assert page.locator("h1").inner_text() == "Users"

    email = f"new-{uuid.uuid4().hex[:8]}@northshire.test"
    password = "a long initial password"
    add_form = f"form[action='{users}']"
    page.fill("#email", email)
    page.select_option("#role", "viewer")
    page.fill("#password", password)
    page.fill("#confirm_password", password + " typo")
    submit(page, add_form)
    summary = page.locator("div.error-summary[role=alert]")
    assert summary.is_visible()
    assert "not the same" in summary.inner_text()
    summary.locator("a").first.click()
    assert page.evaluate("document.activeElement.id") == "confirm_password"
    assert page.locator("#password").input_value() == ""  # never echoed back
    axe_check(page, f"{users} with errors")

    page.fill("#password", password)
    page.fill("#confirm_password", password)
    submit(page, add_form)
    assert urlsplit(page.url).path == users
    assert page.locator("[role=status]").inner_text().startswith("The person was added")
    row = page.locator("table.people tr", has_text=email)
    assert row.locator("select").input_value() == "viewer"

    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()

    other = chromium.new_context(base_url=page.url.split("/login")[0], locale="en-GB")
    try:
        newcomer = other.new_page()
        log_in(newcomer, Person(email, "viewer", EXAMPLE), password=password)
        assert urlsplit(newcomer.url).path == "/services"
        assert newcomer.get_by_role("link", name=EXAMPLE).is_visible()
        newcomer.get_by_role("link", name=EXAMPLE).click()
        newcomer.wait_for_load_state()
        assert urlsplit(newcomer.url).path == service_path(EXAMPLE)
    finally:
        other.close()


def test_the_admin_and_account_pages_with_errors_pass_axe(web_page):
    page = web_page
    log_in(page, PEOPLE["admin"])
    settings = service_path(EXAMPLE, "/settings/yaml")
    page.goto(settings)
    text = page.locator("#content").input_value()
    assert text.startswith("#") or "name:" in text  # the stored service.yaml, as it is
    page.fill("#content", text.replace("staff: 4", "staff: lots", 1))
    submit(page, f"form[action='{settings}']")
    summary = page.locator("div.error-summary[role=alert]")
    assert "row" in summary.inner_text() and "staff" in summary.inner_text()
    axe_check(page, f"{settings} with errors")

    page.goto("/account")
    submit(page, "form[action='/account/password']")
    assert page.locator("div.error-summary").is_visible()
    axe_check(page, "/account with errors")
    page.fill("#token_name", "axe check")
    submit(page, "form[action='/account/tokens']")
    assert page.locator("h1").inner_text() == "Your new API token"
    assert page.locator("#token").input_value()
    axe_check(page, "the new token's page")
    page.goto("/account")
    submit(page, "tr:has-text('axe check') form[action='/account/tokens/revoke']")
    assert "revoked" in page.locator("[role=status]").inner_text()
    for suffix in ("/users", "/audit", "/settings", "/settings/versions"):
        page.goto(service_path(EXAMPLE, suffix))
        axe_check(page, service_path(EXAMPLE, suffix))


def field(page, name: str):
    """The settings form's input named by a setting's dotted path."""
    return page.locator(f'form.settings-form [name="{name}"]')


def test_an_admin_changes_a_resources_staff_through_the_settings_form(web_page):
    """On the other service (so the example's numbers stay as the other tests expect them),
    whose admin is the outsider; the service's first version is restored at the end."""
    page = web_page
    log_in(page, PEOPLE["outsider"])
    settings = service_path(OTHER, "/settings")
    page.goto(settings)
    assert page.locator("h1").inner_text() == "Settings"
    staff = "resources.witness_officer.staff"
    assert field(page, staff).input_value() == "2"
    assert page.get_by_label("Minutes per day").first.input_value() == "210"

    field(page, staff).fill("two")
    submit(page, "form.settings-form")
    summary = page.locator("div.error-summary[role=alert]")
    assert summary.is_visible()
    assert "Resource witness_officer, staff: Input should be a valid number" in summary.inner_text()
    summary.locator("a").first.click()
    assert page.evaluate("document.activeElement.name") == staff
    assert field(page, staff).input_value() == "two"  # kept as typed
    assert field(page, staff).get_attribute("aria-invalid") == "true"
    assert (
        "valid number"
        in page.locator('[id="f-resources.witness_officer.staff-error"]').inner_text()
    )
    axe_check(page, f"{settings} with errors")

    field(page, staff).fill("3")
    submit(page, "form.settings-form")
    assert urlsplit(page.url).path == settings
    assert page.locator("[role=status]").inner_text().startswith("The settings were saved")
    assert field(page, staff).input_value() == "3"
    version = int(page.locator("main p", has_text="of service.yaml, saved").inner_text().split()[1])

    with page.expect_navigation():
        page.get_by_role("link", name="See every version, or restore one").click()
    newest = page.locator("table.versions tbody tr").first
    assert newest.locator("td").nth(1).inner_text() == f"{version} (in use)"
    assert PEOPLE["outsider"].email in newest.inner_text()
    axe_check(page, "the settings' versions")

    with page.expect_navigation():
        page.get_by_role("link", name="See service.yaml version 1").click()
    assert page.locator("h1").inner_text() == "service.yaml version 1"
    diff = page.locator("pre.diff").inner_text()
    assert "-    staff: 3" in diff and "+    staff: 2" in diff
    axe_check(page, "a version of the settings")
    with page.expect_navigation():
        page.get_by_role("button", name="Restore version 1 as a new version").click()
    assert page.locator("[role=status]").inner_text().startswith("The version was saved again")
    newest = page.locator("table.versions tbody tr").first
    assert newest.locator("td").nth(1).inner_text() == f"{version + 1} (in use)"
    page.goto(settings)
    assert field(page, staff).input_value() == "2"
