"""The web app through its HTTP interface (flowcap.web): logging in and out, CSRF, the
services a user may see, the dashboard, the API against `flowcap measures --json`, and the
security headers. One store per module: the bundled example and a second small service,
imported once."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import worked_example
from flowcap.accounts import Accounts
from flowcap.cli.main import app as cli
from flowcap.manage import import_folder
from flowcap.store import Store
from flowcap.web import create_app
from flowcap.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
EXAMPLE = "Northshire Victim Support Hub"
OTHER = "Worked example"
PASSWORD = "correct horse battery staple"
VIEWER = "viewer@northshire.test"
OUTSIDER = "admin@worked.test"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    """A store with the example and the worked example, a viewer of the first and an admin
    of the second."""
    folder = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{folder / 'flowcap.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY", KEY)
        import_folder(EXAMPLE_DIR, database_url=url)
        import_folder(worked_example(folder / "worked"), database_url=url)
    store = Store.open(url)
    accounts = Accounts(store)
    accounts.add_user(VIEWER, PASSWORD, role="viewer", service=EXAMPLE)
    accounts.add_user(OUTSIDER, PASSWORD, role="admin", service=OTHER)
    store.close()
    return url


@pytest.fixture(scope="module")
def web(store_url):
    return create_app(store_url)


@pytest.fixture
def client(web):
    with TestClient(web) as client:
        yield client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, email=VIEWER, password=PASSWORD, **extra):
    form = client.get("/login")
    data = {"email": email, "password": password, "csrf_token": csrf_of(form.text), **extra}
    return client.post("/login", data=data, follow_redirects=False)


def path_of(name: str, suffix: str = "") -> str:
    return f"/services/{quote(name, safe='')}{suffix}"


# --- logging in and out ------------------------------------------------------------------------


def test_logging_in_sets_an_httponly_lax_session_cookie_and_goes_to_the_services(client):
    response = log_in(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/services"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain HTTP here; Secure over HTTPS
    assert client.get("/services").status_code == 200


def test_a_wrong_password_shows_the_error_summary_linking_to_the_field(client):
    response = log_in(client, password="not the password at all")
    assert response.status_code == 200
    assert '<div class="error-summary" role="alert"' in response.text
    assert 'href="#email"' in response.text
    assert "Enter a correct email address and password" in response.text
    assert response.text.count('id="email"') == 1
    assert SESSION_COOKIE not in client.cookies


def test_empty_fields_are_each_named(client):
    response = log_in(client, email="", password="")
    assert 'href="#email"' in response.text and 'href="#password"' in response.text
    assert 'aria-describedby="password-error"' in response.text


def test_the_login_form_is_refused_without_its_csrf_token(client):
    client.get("/login")
    data = {"email": VIEWER, "password": PASSWORD, "csrf_token": "forged"}
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies
    client.cookies.delete(LOGIN_CSRF_COOKIE, path="/login")
    response = client.post("/login", data={"email": VIEWER, "password": PASSWORD})
    assert response.status_code == 403


def test_login_goes_on_to_a_local_next_path_only(client):
    response = log_in(client, next=path_of(EXAMPLE))
    assert response.headers["location"] == path_of(EXAMPLE)
    client.cookies.clear()
    response = log_in(client, next="//evil.example/x")
    assert response.headers["location"] == "/services"


def test_a_page_without_a_session_sends_to_the_login_with_next(client):
    response = client.get(path_of(EXAMPLE, "?from=2025-01-01"), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/services/")
    assert "from%3D2025-01-01" in response.headers["location"]
    assert client.get("/services", follow_redirects=False).status_code == 303


def test_logout_needs_the_csrf_token_then_ends_the_session(client):
    log_in(client)
    page = client.get("/services").text
    refused = client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/services", follow_redirects=False).status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert client.get("/services", follow_redirects=False).status_code == 303


def test_a_stolen_session_cookie_is_dead_after_logout(client, web):
    log_in(client)
    token = client.cookies[SESSION_COOKIE]
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/services").text)})
    with TestClient(web, cookies={SESSION_COOKIE: token}) as thief:
        assert thief.get("/services", follow_redirects=False).status_code == 303


# --- services and dashboards -------------------------------------------------------------------


def test_the_services_page_lists_only_the_users_services_with_their_backlog(client):
    log_in(client)
    page = client.get("/services").text
    assert f'href="{path_of(EXAMPLE)}"' in page
    assert OTHER not in page
    assert "Backlog at the end of Wed 31 Dec 2025" in page
    assert "4,530" in page  # the caseworkers' backlog now, as the demo prints it
    assert "Data last updated" in page


def test_the_dashboard_carries_the_measures_figure_for_the_chart(client):
    log_in(client)
    response = client.get(path_of(EXAMPLE))
    assert response.status_code == 200
    page = response.text
    assert f"<h1>{EXAMPLE}</h1>" in page
    chart = path_of(EXAMPLE, "/chart")
    assert f'<div id="measures-chart" data-figure="{chart}"></div>' in page
    assert len(response.content) < 100_000  # the figure is fetched, not in the page
    figure = client.get(chart).json()
    assert {trace["name"] for trace in figure["data"]} >= {"Demand", "Capacity", "Activity"}
    assert '<script src="/static/dashboard.js" defer></script>' in page
    assert "First contact" in page and "94%" in page  # as the demo prints it
    assert "Who is waiting, by age" in page


def test_the_chart_is_the_days_asked_for_and_kept_by_the_browser_until_it_changes(client):
    """The dashboard's figure comes from /chart with the page's days; an ETag of the service's
    revision and the days lets the browser keep it (304), compressed for a browser that takes
    gzip; bad dates are a 422 (the page names them)."""
    log_in(client)
    page = client.get(path_of(EXAMPLE, "?from=2025-06-01&to=2025-06-30")).text
    url = html.unescape(re.search(r'data-figure="([^"]+)"', page).group(1))
    assert url == path_of(EXAMPLE, "/chart?from=2025-06-01&to=2025-06-30")
    first = client.get(url)
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
    assert first.headers["cache-control"] == "private, no-cache"
    days = {x[:10] for trace in first.json()["data"] for x in trace.get("x") or []}
    assert min(days) == "2025-06-01" and max(days) == "2025-06-30"
    tag = first.headers["etag"]
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    whole = client.get(path_of(EXAMPLE, "/chart"), headers={"If-None-Match": tag})
    assert whole.status_code == 200 and whole.headers["etag"] != tag
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == first.json()
    assert client.get(path_of(EXAMPLE, "/chart?from=2025-07-01&to=2025-06-30")).status_code == 422
    assert client.get(path_of(EXAMPLE, "/chart?from=31/02/2025")).status_code == 422


def test_the_date_range_cuts_the_days_and_a_bad_date_is_named(client):
    log_in(client)
    page = client.get(path_of(EXAMPLE, "?from=2025-06-01&to=2025-06-30")).text
    assert "At the end of Mon 30 Jun 2025" in page
    page = client.get(path_of(EXAMPLE, "?from=2025-07-01&to=2025-06-30")).text
    assert '<div class="error-summary" role="alert"' in page and 'href="#from"' in page
    page = client.get(path_of(EXAMPLE, "?from=31/02/2025")).text
    assert 'href="#from"' in page and "real date" in page


def test_another_service_is_the_same_404_as_an_unknown_one(client):
    log_in(client)
    other = client.get(path_of(OTHER))
    unknown = client.get(path_of("Westvale Missing Service"))
    assert other.status_code == unknown.status_code == 404
    assert other.text == unknown.text
    assert OTHER not in other.text


def test_static_files_are_served_from_the_package(client):
    assert client.get("/static/htmx.min.js").status_code == 200
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and plotly.text.startswith("/**\n* plotly.js v")
    css = client.get("/static/plotly.css")
    assert css.headers["content-type"].startswith("text/css")
    assert ".js-plotly-plot .plotly .modebar" in css.text


def test_healthz_needs_no_login(client):
    assert client.get("/healthz").json() == {"status": "ok"}


# --- the API -----------------------------------------------------------------------------------


def api_token(client, email=VIEWER, password=PASSWORD) -> str:
    response = client.post("/api/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    return body["access_token"]


def test_the_api_lists_the_users_services(client):
    token = api_token(client)
    response = client.get("/api/services", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    [service] = response.json()
    assert (service["name"], service["role"]) == (EXAMPLE, "viewer")
    assert service["last_updated"] is not None


def test_the_api_measures_are_exactly_the_cli_json(client, store_url, monkeypatch):
    token = api_token(client)
    headers = {"Authorization": f"Bearer {token}"}
    query = {"from": "2025-06-01", "to": "2025-06-30"}
    response = client.get(
        path_of(EXAMPLE, "/measures").replace("/services", "/api/services"),
        params=query,
        headers=headers,
    )
    assert response.status_code == 200
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", store_url)
    result = CliRunner().invoke(
        cli,
        ["measures", "--service", EXAMPLE, "--json", "--from", query["from"], "--to", query["to"]],
    )
    assert result.exit_code == 0, result.output
    assert response.json() == json.loads(result.stdout)
    assert response.text == result.stdout.rstrip("\n")


def test_the_api_measures_are_sent_compressed_to_a_client_that_takes_gzip(client):
    """The same bytes either way: gzip when asked for (compressed once per range), plain
    when gzip is not accepted or refused with q=0."""
    url = path_of(EXAMPLE, "/measures").replace("/services", "/api/services")
    bearer = {"Authorization": f"Bearer {api_token(client)}"}
    plain = client.get(url, headers={**bearer, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    for accepted in ("gzip", "br, gzip;q=0.5", "*"):
        raw = client.get(url, headers={**bearer, "Accept-Encoding": accepted})
        assert raw.headers["content-encoding"] == "gzip"
        assert raw.headers["vary"] == "Accept-Encoding"
        assert raw.content == plain.content  # httpx decoded it
        assert int(raw.headers["content-length"]) < len(plain.content) / 5
    refused = client.get(url, headers={**bearer, "Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers and refused.content == plain.content


def test_the_api_needs_a_valid_bearer_token(client):
    url = "/api/services"
    assert client.get(url).status_code == 401
    response = client.get(url, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_api_refuses_a_wrong_password(client):
    response = client.post("/api/token", data={"username": VIEWER, "password": "wrong one!"})
    assert response.status_code == 401


def test_the_api_gives_404_for_a_service_the_user_may_not_see(client):
    headers = {"Authorization": f"Bearer {api_token(client)}"}
    for name in (OTHER, "Westvale Missing Service"):
        response = client.get(f"/api/services/{quote(name, safe='')}/measures", headers=headers)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}


def test_the_openapi_document_describes_the_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/token", "/api/services", "/api/services/{name}/measures"} <= set(paths)


# --- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/site.css", "/nowhere"])
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_pages_have_no_inline_script(client):
    log_in(client)
    for path in ("/login", "/services", path_of(EXAMPLE)):
        page = client.get(path).text
        for tag in re.findall(r"<script[^>]*>", page):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert " style=" not in page and "<style" not in page


def test_a_lower_role_is_403_and_no_membership_404_as_an_unknown_service():
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from flowcap.accounts import User
    from flowcap.web.deps import api_service, api_user

    app = FastAPI()

    @app.post("/api/services/{name}/edit")
    def edit(name: str = Depends(api_service("editor"))) -> dict:
        return {"service": name}

    roles = {"Hub": "viewer", "Other": "editor"}
    app.dependency_overrides[api_user] = lambda: User(id=1, email="v@example.org", roles=roles)
    client = TestClient(app)
    assert client.post("/api/services/Hub/edit").status_code == 403
    assert client.post("/api/services/Other/edit").json() == {"service": "Other"}
    unknown, not_member = (client.post(f"/api/services/{n}/edit") for n in ("Nowhere", "Third"))
    assert unknown.status_code == not_member.status_code == 404
    assert unknown.content == not_member.content


def test_the_lock_of_a_range_is_forgotten_once_measured(client):
    """Every date range asked for gets a lock while it is measured (fifty users asking for
    one new range measure it once); the locks do not pile up with the ranges asked for."""
    log_in(client)
    cache = client.app.state.cache
    for day in range(1, 29):
        page = client.get(path_of(EXAMPLE, f"?from=2025-02-{day:02d}&to=2025-03-31"))
        assert page.status_code == 200
    assert cache._range_locks == {}
