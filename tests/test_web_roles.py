"""The role matrix: every route of the web app (``app.routes``, so a route added later is
covered, or fails here until it is added to :data:`ROUTES`) × anonymous, a viewer, an editor
and an admin of the example, and an admin of another service only; over HTTP with httpx, no
browser.

- Not logged in: a page sends to ``/login?next=...`` (303); the API answers 401.
- A service the user does not belong to answers 404, with the very body of a service that does
  not exist: nothing of it (its name, settings or numbers) in the body.
- Writes (POST, PUT, PATCH, DELETE other than login, logout and the token) need an editor (an
  admin for the admin's routes): a viewer gets 403. A form POST without its CSRF token is
  refused, and so is an API write authenticated by the session cookie alone.

On SQLite and, when the run has a server (``scripts/test.sh``), on PostgreSQL.
"""

from __future__ import annotations

import html
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import pytest

from web_server import (
    EXAMPLE,
    EXAMPLE_WORDS,
    OTHER,
    OTHER_WORDS,
    PASSWORD,
    PEOPLE,
    UNKNOWN,
    app_routes,
    name_forms,
)

pytest_plugins = ["web_server"]
pytestmark = pytest.mark.usefixtures("site_key")

WHO = ("anonymous", "viewer", "editor", "admin", "outsider")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}

# --- the matrix --------------------------------------------------------------------------------

#: Every route of the app: (method, path) -> its kind. A route missing here fails the test.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "public",
    ("GET", "/favicon.ico"): "public",
    ("GET", "/login"): "public",
    ("POST", "/login"): "login",
    ("POST", "/logout"): "logout",
    ("POST", "/api/token"): "token",
    ("GET", "/"): "home",
    ("GET", "/services"): "page",
    ("GET", "/services/{name}"): "service page",
    ("GET", "/services/{name}/chart"): "service page",
    ("GET", "/api/services"): "api",
    ("GET", "/api/services/{name}/measures"): "service api",
    # FastAPI's own documentation pages
    ("GET", "/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/redoc"): "public",
    ("GET", "/openapi.json"): "public",
    # the vendored scripts and styles
    ("GET", "/static/plotly.min.js"): "public",
    ("GET", "/static/plotly.css"): "public",
    # mounted folders: (MOUNT, path)
    ("MOUNT", "/static"): "static",
}

# Each feature's routes may also sit in a file of their own, tests/web_routes_FEATURE.py,
# with a ROUTES dict of the same shape (so features added side by side do not edit one table).
# A file may also give PARAMS = {param: fill} for a path parameter that is not the service's
# name: fill(service, database_url) gives a value belonging to that service (a job's id), or
# one nobody has for a service the store does not hold; the route's kind is then the kind of
# the service it belongs to ("service page", "service api"...).
#: Path parameters other than the service's, and how to fill them.
FILLS: dict = {}
for _extra in sorted(Path(__file__).parent.glob("web_routes_*.py")):
    _spec = importlib.util.spec_from_file_location(_extra.stem, _extra)
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    ROUTES.update(_module.ROUTES)
    FILLS.update(getattr(_module, "PARAMS", {}))

#: Path parameters naming a service (they get the example's name, the other's, an unknown).
SERVICE_PARAMS = {"name", "service", "service_name"}

OK = "2xx"  # a success (or a redirect within the app, not to the login page)
LOGIN = "to login"  # 303 to /login?next=<the path>
ACCEPTED = "accepted"  # not refused (not 401/403/404) and no server error: the body was empty
HOME = "to /services"  # 303 to the services page (which sends anonymous users on to log in)
REFUSED = "refused"  # a write without a session: 303 to /login, 401 or 403 (CSRF first)

#: kind -> who -> what a member of the example gets on the example. A user on a service they
#: do not belong to gets 404 on every kind that names a service (checked separately).
EXPECT: dict[str, dict[str, str | int]] = {
    "public": dict.fromkeys(WHO, OK),
    "home": dict.fromkeys(WHO, HOME),
    "static": dict.fromkeys(WHO, OK),
    "page": {"anonymous": LOGIN} | dict.fromkeys(WHO[1:], OK),
    "service page": {"anonymous": LOGIN} | dict.fromkeys(WHO[1:], OK),
    "admin page": {"anonymous": LOGIN, "viewer": 403, "editor": 403, "admin": OK},
    "service write": {"anonymous": REFUSED, "viewer": 403, "editor": ACCEPTED, "admin": ACCEPTED},
    "admin write": {"anonymous": REFUSED, "viewer": 403, "editor": 403, "admin": ACCEPTED},
    "api": {"anonymous": 401} | dict.fromkeys(WHO[1:], OK),
    "service api": {"anonymous": 401} | dict.fromkeys(WHO[1:], OK),
    "service api write": {"anonymous": 401, "viewer": 403, "editor": ACCEPTED, "admin": ACCEPTED},
    "admin api write": {"anonymous": 401, "viewer": 403, "editor": 403, "admin": ACCEPTED},
    # login, logout and the token have tests of their own below
    "login": {},
    "logout": {},
    "token": {},
}
#: Kinds whose routes name a service, and kinds that are API routes.
SERVICE_KINDS = {k for k in EXPECT if k.startswith(("service", "admin"))}
API_KINDS = {k for k in EXPECT if "api" in k}
assert set(ROUTES.values()) <= set(EXPECT)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    kind: str
    params: frozenset[str]
    database_url: str = ""  # the app's store, for FILLS

    def url(self, service: str) -> str:
        path = self.path
        for param in self.params:
            if param in FILLS:
                value = str(FILLS[param](service, self.database_url))
            else:
                value = service
            path = re.sub(r"\{" + param + r"(:[^}]*)?\}", quote(value, safe=""), path)
        return path

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.kind})"


def endpoints_of(app) -> tuple[list[Endpoint], list[str]]:
    """The app's routes as :class:`Endpoint`, and those the matrix does not know."""
    endpoints, unknown = [], []
    database_url = app.state.store.url
    for route in app_routes(app):
        if route.kind == "mount":
            kind = ROUTES.get(("MOUNT", route.path))
            if kind is None:
                unknown.append(f"MOUNT {route.path}")
            else:
                endpoints.append(Endpoint("GET", route.path, kind, frozenset()))
            continue
        if route.kind != "route":
            unknown.append(f"{route.kind} {route.path}")
            continue
        for method in sorted(route.methods):
            if method in ("HEAD", "OPTIONS"):
                continue
            kind = ROUTES.get((method, route.path))
            fits = not (route.params - SERVICE_PARAMS - set(FILLS)) and bool(route.params) == (
                kind in SERVICE_KINDS
            )
            if kind is None or not fits:
                unknown.append(f"{method} {route.path}")
                continue
            endpoints.append(Endpoint(method, route.path, kind, route.params, database_url))
    return endpoints, unknown


def test_every_route_is_in_the_matrix(live_server):
    endpoints, unknown = endpoints_of(live_server.app)
    assert not unknown, (
        "routes the role matrix does not know (add them to ROUTES in tests/test_web_roles.py, "
        "with a kind of EXPECT; a parameter other than the service's needs the test taught): "
        + ", ".join(unknown)
    )
    kinds = {e.kind for e in endpoints}
    assert {"page", "service page", "api", "service api", "login", "logout", "token"} <= kinds


# --- the users -------------------------------------------------------------------------------


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_of(page: str) -> str | None:
    match = CSRF.search(page)
    return html.unescape(match.group(1) or match.group(2)) if match else None


@dataclass
class Visitor:
    """A person's browser-like client (session cookie, the session's CSRF token) and their
    API token; anonymous has neither."""

    who: str
    http: httpx.Client
    csrf: str | None = None
    bearer: str | None = None

    @property
    def service(self) -> str | None:
        return PEOPLE[self.who].service if self.who in PEOPLE else None


def client(live_server) -> httpx.Client:
    return httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=30)


def log_in(http: httpx.Client, email: str, password: str = PASSWORD, csrf: bool = True):
    """Send the login form as a browser would (its CSRF token from GET /login)."""
    form = {"email": email, "password": password}
    if csrf:
        token = csrf_of(http.get("/login").text)
        assert token, "GET /login has a csrf_token field"
        form["csrf_token"] = token
    return http.post("/login", data=form)


def api_tokens(database_url: str) -> dict[str, str]:
    """An API token for each of :data:`PEOPLE`, made in the store (``POST /api/token`` has
    tests of its own; this saves an Argon2 check each)."""
    from flowcap.accounts import Accounts
    from flowcap.store import Store

    store = Store.open(database_url)
    try:
        accounts = Accounts(store)
        return {
            who: accounts.create_api_token(accounts.user(person.email), "role matrix")[1]
            for who, person in PEOPLE.items()
        }
    finally:
        store.close()


@pytest.fixture(scope="module")
def visitors(live_server):
    """Everyone of :data:`WHO`, logged in through the form (pages) and holding an API token."""
    tokens = api_tokens(live_server.site.database_url)
    visitors = {"anonymous": Visitor("anonymous", client(live_server))}
    for who, person in PEOPLE.items():
        http = client(live_server)
        response = log_in(http, person.email)
        assert response.status_code == 303, (who, response.status_code, response.text[:500])
        csrf = csrf_of(http.get("/services").text)
        assert csrf, f"the services page of {who} has no csrf_token (its logout form)"
        visitors[who] = Visitor(who, http, csrf, tokens[who])
    yield visitors
    for visitor in visitors.values():
        visitor.http.close()


def send(visitor: Visitor, endpoint: Endpoint, service: str, *, csrf: bool = True, bearer=None):
    """The endpoint's request for ``service`` as ``visitor``: pages with the session cookie
    (and, for a write, the CSRF token), API routes with the bearer token."""
    api = endpoint.kind in API_KINDS
    headers = {}
    use_bearer = visitor.bearer if bearer is None else bearer
    if api and use_bearer:
        headers["Authorization"] = f"Bearer {use_bearer}"
    request = dict(headers=headers)
    if endpoint.method in WRITES:
        if api:
            request["json"] = {}
        else:
            request["data"] = {"csrf_token": visitor.csrf} if csrf and visitor.csrf else {}
    if api:  # the API is for scripts: no session cookie goes with it
        with httpx.Client(base_url=visitor.http.base_url, follow_redirects=False) as bare:
            return bare.request(endpoint.method, endpoint.url(service), **request)
    return visitor.http.request(endpoint.method, endpoint.url(service), **request)


def verdict(response: httpx.Response, expected, path: str) -> str | None:
    """What is wrong with ``response`` against ``expected`` (``None``: nothing)."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if expected == OK:
        if status == 303 and urlsplit(response.headers.get("location", "")).path == "/login":
            return "sent to log in"
        return None if 200 <= status < 400 else f"{status}, expected a success"
    if expected == LOGIN:
        location = response.headers.get("location", "")
        if status != 303 or urlsplit(location).path != "/login":
            return f"{status} {location!r}, expected 303 to /login"
        wanted = unquote(path.split("?")[0])
        got = parse_qs(urlsplit(location).query).get("next", [None])[0]
        return None if got == wanted else f"next={got!r}, expected {wanted!r}"
    if expected == HOME:
        location = response.headers.get("location", "")
        if status in (302, 303, 307) and urlsplit(location).path == "/services":
            return None
        return f"{status} {location!r}, expected a redirect to /services"
    if expected == REFUSED:
        location = urlsplit(response.headers.get("location", "")).path
        if status in (401, 403) or (status == 303 and location == "/login"):
            return None
        return f"{status}, expected it refused (303 to /login, 401 or 403)"
    if expected == ACCEPTED:
        return None if status not in (401, 403, 404) else f"{status}, expected it accepted"
    return None if status == expected else f"{status}, expected {expected}"


LEAKS = {EXAMPLE: EXAMPLE_WORDS, OTHER: OTHER_WORDS}


def leaked(body: str, service: str) -> list[str]:
    """The words of ``service`` that appear in ``body``."""
    return sorted(w for word in LEAKS[service] for w in name_forms(word) if w in body)


def normalised(body: str, service: str) -> str:
    """A 404 body with the requested name and any CSRF token taken out, for comparing."""
    for form in sorted(name_forms(service), key=len, reverse=True):
        body = body.replace(form, "{service}")
    return CSRF.sub("csrf_token", body)


# --- the matrix's tests ------------------------------------------------------------------------


@pytest.mark.parametrize("who", WHO)
def test_the_role_matrix(who, visitors, live_server):
    """Each route as ``who``: on their own service, on one they do not belong to, unknown."""
    visitor = visitors[who]
    endpoints, _ = endpoints_of(live_server.app)
    own = visitor.service or EXAMPLE
    foreign = OTHER if own == EXAMPLE else EXAMPLE
    problems = []
    for endpoint in endpoints:
        expected = EXPECT[endpoint.kind].get("admin" if who == "outsider" else who)
        if expected is None:
            continue  # login, logout, token: below
        if endpoint.kind == "static":
            continue  # the mount itself; its files are the browser tests' business
        response = send(visitor, endpoint, own)
        wrong = verdict(response, expected, endpoint.url(own))
        if wrong:
            problems.append(f"{endpoint} on {own!r}: {wrong}")
        if endpoint.kind not in SERVICE_KINDS:
            continue
        if who == "anonymous":
            for service in (EXAMPLE, OTHER):
                if words := leaked(send(visitor, endpoint, service).text, service):
                    problems.append(f"{endpoint}: anonymous sees {words}")
            continue
        unknown = send(visitor, endpoint, UNKNOWN)
        response = send(visitor, endpoint, foreign)
        if unknown.status_code != 404:
            problems.append(f"{endpoint} on an unknown service: {unknown.status_code}, not 404")
        if response.status_code != 404:
            problems.append(f"{endpoint} on {foreign!r}: {response.status_code}, not 404")
        if words := leaked(response.text, foreign):
            problems.append(f"{endpoint} on {foreign!r}: the body has {words}")
        elif normalised(response.text, foreign) != normalised(unknown.text, UNKNOWN):
            problems.append(
                f"{endpoint} on {foreign!r}: the 404 differs from an unknown service's:\n"
                f"  {response.text[:300]!r}\n  {unknown.text[:300]!r}"
            )
    assert not problems, f"{who}:\n" + "\n".join(problems)


@pytest.mark.parametrize("who", ["editor", "admin"])
def test_a_form_post_without_its_csrf_token_is_refused(who, visitors, live_server):
    visitor = visitors[who]
    endpoints, _ = endpoints_of(live_server.app)
    problems = []
    for endpoint in endpoints:
        if endpoint.method not in WRITES or endpoint.kind in API_KINDS:
            continue
        if endpoint.kind in ("login", "logout", "token"):
            continue
        response = send(visitor, endpoint, visitor.service, csrf=False)
        if response.status_code not in (400, 403):
            problems.append(f"{endpoint}: {response.status_code} without a CSRF token")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("who", ["editor", "admin"])
def test_an_api_write_needs_its_bearer_token_not_the_session_cookie(who, visitors, live_server):
    visitor = visitors[who]
    endpoints, _ = endpoints_of(live_server.app)
    problems = []
    for endpoint in endpoints:
        if endpoint.method not in WRITES or endpoint.kind not in API_KINDS:
            continue
        if endpoint.kind == "token":
            continue
        response = visitor.http.request(
            endpoint.method, endpoint.url(visitor.service), json={}
        )  # the session cookie only, as a cross-site form or fetch would send it
        if response.status_code not in (401, 403):
            problems.append(f"{endpoint}: {response.status_code} with the session cookie only")
    assert not problems, "\n".join(problems)


# --- login, logout and the token ---------------------------------------------------------------


def test_a_login_without_its_csrf_token_is_refused(live_server):
    with client(live_server) as http:
        response = log_in(http, PEOPLE["admin"].email, csrf=False)
        assert not (
            response.status_code == 303
            and urlsplit(response.headers.get("location", "")).path != "/login"
        ), "a CSRF-less login was let in"
        assert http.get("/services").status_code == 303  # no session


def test_logout_needs_its_csrf_token_and_ends_the_session(live_server):
    with client(live_server) as http:
        assert log_in(http, PEOPLE["viewer"].email).status_code == 303
        page = http.get("/services")
        assert page.status_code == 200
        csrf = csrf_of(page.text)
        refused = http.post("/logout", data={})
        assert refused.status_code in (400, 403), refused.status_code
        assert http.get("/services").status_code == 200, "a CSRF-less logout ended the session"
        done = http.post("/logout", data={"csrf_token": csrf})
        assert done.status_code == 303 and urlsplit(done.headers["location"]).path == "/login"
        after = http.get("/services")
        assert after.status_code == 303 and urlsplit(after.headers["location"]).path == "/login"


def test_an_anonymous_logout_changes_nothing(live_server):
    with client(live_server) as http:
        response = http.post("/logout", data={})
        assert response.status_code in (303, 400, 401, 403), response.status_code


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_the_api_token_sees_only_the_users_services(who, live_server):
    person = PEOPLE[who]
    with client(live_server) as http:
        token = http.post("/api/token", data={"username": person.email, "password": PASSWORD})
        assert token.status_code == 200
        body = token.json()
        assert body["token_type"] == "bearer" and body["access_token"]
        listing = http.get(
            "/api/services", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert listing.status_code == 200
        assert [entry["name"] for entry in listing.json()] == [person.service]
        foreign = OTHER if person.service == EXAMPLE else EXAMPLE
        assert not leaked(listing.text, foreign)
        bad = http.get("/api/services", headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401


def test_a_wrong_password_gets_no_api_token(live_server):
    with client(live_server) as http:
        response = http.post(
            "/api/token", data={"username": PEOPLE["editor"].email, "password": "wrong" * 4}
        )
        assert response.status_code in (400, 401), response.status_code
        assert "access_token" not in response.text
