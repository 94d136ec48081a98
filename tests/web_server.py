"""The web app's test site, as a pytest plugin: a store holding two services and their users,
the app served by Uvicorn on a loopback port, and Debian's Chromium driven by Playwright.

The web test modules load it with ``pytest_plugins = ["web_server"]`` (a plugin's fixtures are
global, so one site per backend serves every module) and use ``site_key`` through ``pytestmark``.

- ``web_site`` (session, per backend): a store — a temporary SQLite file, and a fresh
  PostgreSQL database when ``FLOWCAP_TEST_POSTGRES_URL`` is set (``scripts/test.sh`` starts a
  server; under ``CI=true`` its absence fails, as in ``tests/conftest.py``) — with the bundled
  ``examples/victim-support`` imported, a small second service (``OTHER``), and the users of
  :data:`PEOPLE` made with :class:`flowcap.accounts.Accounts`.
- ``live_server`` (session): ``flowcap.web.create_app(url)`` served by Uvicorn in a background
  thread on a free loopback port, up once ``/healthz`` answers.
- ``chromium`` (session): Debian's Chromium (``/usr/bin/chromium``; ``FLOWCAP_TEST_CHROMIUM``
  names another), headless, ``--no-sandbox`` as root; never Playwright's own download. Absent:
  the browser tests skip, saying why; under ``CI=true`` they fail (``scripts/test.sh`` installs
  it).
- ``web_page`` (test): a fresh browser context on the live server that records console errors,
  uncaught exceptions and CSP violations; the test fails on any (``ConsoleWatch``).

Imported by the test modules before pytest loads it as a plugin, so its asserts are left as
they are: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI") == "true"

#: The pseudonymisation key the site's data is imported under (the golden files' key).
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

#: The bundled example, and a second service that none of its users belongs to.
EXAMPLE = "Northshire Victim Support Hub"
OTHER = "Eastmoor Witness Care"
#: A service no store holds: its 404 is what a service one may not see must look like.
UNKNOWN = "Westvale Missing Service"
#: Words of OTHER's settings that must never reach a user of EXAMPLE (nor the reverse).
OTHER_WORDS = (OTHER, "witness_officer", "court_witness")
EXAMPLE_WORDS = (EXAMPLE, "da_high_risk", "caseworker")

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Person:
    email: str
    role: str
    service: str


#: The site's users: three roles of the example, and an admin of the other service only.
PEOPLE = {
    "admin": Person("admin@northshire.test", "admin", EXAMPLE),
    "editor": Person("editor@northshire.test", "editor", EXAMPLE),
    "viewer": Person("viewer@northshire.test", "viewer", EXAMPLE),
    "outsider": Person("admin@eastmoor.test", "admin", OTHER),
}


@dataclass
class Site:
    """A store ready for the app: where it is, and who may log in."""

    backend: str
    database_url: str
    folders: dict[str, Path] = field(default_factory=dict)


@dataclass
class LiveServer:
    """The app served on loopback: its address and the app object (for its routes)."""

    url: str
    app: object
    site: Site


def require_web():
    """``flowcap.web`` and ``flowcap.accounts``, or a skip naming the failed import (a failure
    under ``CI=true``: there the app must be there)."""
    import importlib

    try:
        importlib.import_module("flowcap.accounts")
        web = importlib.import_module("flowcap.web")
    except ImportError as error:
        message = f"the web app does not import yet ({error!r}): its tests cannot run"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return web


@dataclass(frozen=True)
class AppRoute:
    """One route of the app, flattened: ``kind`` is ``route`` or ``mount`` (or the class's
    name of anything else), ``params`` the names of its path parameters."""

    kind: str
    methods: frozenset[str]
    path: str
    params: frozenset[str]


def app_routes(app) -> list[AppRoute]:
    """Every route of ``app``, routers included (FastAPI may keep an included router as one
    lazy entry of ``app.routes``; ``fastapi.routing.iter_route_contexts`` opens it)."""
    from starlette.routing import Mount, Route

    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        contexts = [(route, route) for route in app.routes]
    else:
        contexts = [(c.original_route, c) for c in iter_route_contexts(app.routes)]
    routes = []
    for original, context in contexts:
        path = context.path
        if isinstance(original, Mount):
            kind = "mount"
        elif isinstance(original, Route):
            kind = "route"
        else:
            kind = type(original).__name__
        params = frozenset(re.findall(r"\{(\w+)(?::[^}]*)?\}", path or ""))
        routes.append(AppRoute(kind, frozenset(context.methods or ()), path, params))
    return routes


def service_path(name: str, suffix: str = "") -> str:
    """The dashboard path of a service (its name URL-quoted), plus ``suffix``."""
    return f"/services/{quote(name, safe='')}{suffix}"


def name_forms(name: str) -> set[str]:
    """The ways a name can appear in a page: as is, URL-quoted (both spaces), HTML-escaped."""
    import html

    return {name, quote(name, safe=""), quote(name, safe="").replace("%20", "+"), html.escape(name)}


# --- the second service ------------------------------------------------------------------------


OTHER_SERVICE = {
    "name": OTHER,
    "region": "GB-ENG",
    "working_days": ["mon", "tue", "wed", "thu", "fri"],
    "resources": {"witness_officer": {"staff": 2, "minutes_per_day": 210, "cost_per_hour": 23}},
    "case_types": {
        "court_witness": {"priority": 1, "resource": "witness_officer", "minutes": 45},
    },
}


def write_other_service(folder: Path) -> Path:
    """A small service with three months of referrals (its numbers unlike the example's)."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.yaml").write_text(yaml.safe_dump(OTHER_SERVICE, sort_keys=False))
    days = pd.bdate_range("2025-09-01", "2025-11-28")
    rows = ["case_id,referral_date,case_type"]
    for i, day in enumerate(days):
        for j in range(3 + (7 * i) % 5):
            rows.append(f"EW-{i:03d}-{j},{day.date()},court_witness")
    (folder / "referrals.csv").write_text("\n".join(rows) + "\n")
    (folder / "waiting.csv").write_text(
        "case_id,case_type,waiting_since\nEW-W1,court_witness,2025-08-20\n"
        "EW-W2,court_witness,2025-08-27\n"
    )
    return folder


# --- the store ---------------------------------------------------------------------------------


def _build_store(url: str, root: Path) -> Site:
    """Import the example and the other service into ``url`` and add :data:`PEOPLE`."""
    from argon2 import PasswordHasher

    from flowcap import manage
    from flowcap.accounts import Accounts
    from flowcap.store import Store

    site = Site(backend="", database_url=url)
    example = root / "victim-support"
    shutil.copytree(
        ROOT / "examples" / "victim-support", example, ignore=shutil.ignore_patterns(".flowcap")
    )
    site.folders[EXAMPLE] = example
    site.folders[OTHER] = write_other_service(root / "other-service")
    for folder in site.folders.values():
        manage.import_folder(folder, database_url=url)
    store = Store.open(url)
    try:
        # Cheap Argon2 parameters for making the users (the app verifies a hash with the
        # parameters it holds, and rehashes it with its own at the first login).
        cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
        accounts = Accounts(store, hasher=cheap)
        for person in PEOPLE.values():
            accounts.add_user(person.email, PASSWORD, role=person.role, service=person.service)
    finally:
        store.close()
    return site


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def web_site(request, tmp_path_factory):
    """A store for the app on each backend (see the module's docstring)."""
    require_web()
    root = tmp_path_factory.mktemp(f"web-{request.param}")
    patch = pytest.MonkeyPatch()
    patch.setenv("FLOWCAP_KEY", KEY)
    patch.setenv("FLOWCAP_KEY_FILE", str(root / "pseudonym.key"))
    patch.delenv("FLOWCAP_DATABASE_URL", raising=False)
    admin = None
    try:
        if request.param == "sqlite":
            url = f"sqlite:///{root / 'flowcap.db'}"
        else:
            from conftest import _postgres_database

            admin, database, url = _postgres_database()
        site = _build_store(url, root)
        site.backend = request.param
        yield site
    finally:
        patch.undo()
        if admin is not None:
            from sqlalchemy import text

            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture
def site_key(web_site, monkeypatch):
    """The site's key for the test (``tests/conftest.py`` gives every test a fresh one, and the
    app, in this process, reads the environment)."""
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    return KEY


# --- the server --------------------------------------------------------------------------------


def serve(app, timeout: float = 30.0):
    """Serve ``app`` with Uvicorn on a free loopback port in a daemon thread; returns
    ``(url, stop)`` once ``/healthz`` answers 200."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-test", daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"

    def stop():
        server.should_exit = True
        thread.join(15)
        sock.close()

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not thread.is_alive():
            stop()
            pytest.fail(f"the app's server stopped while starting ({last}): see the log above")
        try:
            response = httpx.get(f"{url}/healthz", timeout=2)
            if response.status_code == 200:
                return url, stop
            last = f"/healthz answered {response.status_code}"
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.05)
    stop()
    pytest.fail(f"the app's server did not answer /healthz within {timeout:.0f} s ({last})")


@pytest.fixture(scope="session")
def live_server(web_site):
    """The app on the site's store, served on loopback (see the module's docstring)."""
    web = require_web()
    patch = pytest.MonkeyPatch()
    patch.setenv("FLOWCAP_KEY", KEY)
    try:
        app = web.create_app(web_site.database_url)
        url, stop = serve(app)
    finally:
        patch.undo()
    yield LiveServer(url=url, app=app, site=web_site)
    stop()


# --- the browser -------------------------------------------------------------------------------


def chromium_executable() -> str | None:
    """The Chromium to drive: ``FLOWCAP_TEST_CHROMIUM`` when set (only it), else Debian's,
    ``chromium`` on the PATH or ``/usr/bin/chromium``; ``None`` when there is none."""
    chosen = os.environ.get("FLOWCAP_TEST_CHROMIUM")
    candidates = [chosen] if chosen else [shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, through Playwright's sync API."""
    executable = chromium_executable()
    if executable is None:
        chosen = os.environ.get("FLOWCAP_TEST_CHROMIUM")
        message = (
            f"FLOWCAP_TEST_CHROMIUM={chosen} is not an executable"
            if chosen
            else "Chromium is not installed (Debian's chromium package; scripts/test.sh installs "
            "it as root)"
        ) + ": the browser tests cannot run"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - a dev extra
        if IN_CI:
            pytest.fail(f"playwright does not import: {error!r}")
        pytest.skip(f"playwright does not import (pip install -e '.[dev]'): {error!r}")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()


#: Reports each CSP violation as a console error too (Chromium logs them; this names the URI).
CSP_WATCH = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`
    + ` at ${e.sourceFile}:${e.lineNumber}`);
});
"""


class ConsoleWatch:
    """The console errors, uncaught exceptions and CSP violations of a page."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.add_init_script(CSP_WATCH)

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.errors.append(f"console error: {message.text} ({where})")

    def forgive(self, pattern: str) -> list[str]:
        """Drop (and return) the errors matching ``pattern``, e.g. a 4xx the test expected."""
        matched = [e for e in self.errors if re.search(pattern, e)]
        self.errors = [e for e in self.errors if e not in matched]
        return matched

    def check(self) -> None:
        errors, self.errors = self.errors, []
        assert not errors, "the page logged errors:\n" + "\n".join(errors)


@pytest.fixture
def web_page(chromium, live_server, site_key):
    """A page in a fresh context (no cookies) on the live server; fails on console errors."""
    context = chromium.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(15_000)
    new_page = context.new_page()
    new_page.console_watch = ConsoleWatch(new_page)
    try:
        yield new_page
        new_page.console_watch.check()
    finally:
        context.close()


def log_in(page, person: Person, password: str = PASSWORD, next_path: str | None = None):
    """Fill and send the login form as ``person`` (``next_path``: the page to come back to)."""
    target = "/login" if next_path is None else f"/login?next={quote(next_path, safe='/')}"
    page.goto(target)
    page.fill("input[name=email]", person.email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("form:has(input[name=password]) [type=submit]").click()
