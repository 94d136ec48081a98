"""The web app's defences, tried as an attacker would (issue #14, item 6), over HTTP on the live
server of ``tests/web_server.py`` (SQLite, and PostgreSQL when the run has a server).

- **Headers** on every page and API answer of the role matrix's routes (and on errors): a
  Content-Security-Policy whose scripts come from this site only (no ``'unsafe-inline'``, no
  ``'unsafe-eval'``; the API docs' one inline script allowed by its hash), no framing
  (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), ``nosniff``, a Referrer-Policy.
- **Sessions**: a session id planted before login (made up, or a live one of another
  account) is not the one after it, and stops working; logout ends the session in the store,
  so the old cookie no longer opens a page.
- **CSRF**: every form POST of the role matrix (``tests/test_web_roles.py``'s routes), sent by
  an admin without its token, with a made-up one and with another session's, is refused (403,
  the "form had expired" page) and the store is exactly as before (every table's rows but the
  sessions' last-seen times and the failed-login counts); the same post with the right token
  does change it, so the comparison can tell.
- **Sizes**: an upload declaring more than the upload limit is a 413 answered before its body
  is sent; a JSON or form body over 4,000,000 bytes is a 413 (declared or chunked) and
  stores nothing; a job over the replications or horizon limit is a 422 saying which, and no
  job is queued.
- **Names as text**: a service named ``<script>alert(1)</script>`` (a store of its own) shows
  escaped on every page that names it.
"""

# ruff: noqa: F811  (the role matrix's ``visitors`` fixture, imported, is a test's argument)
from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import socket
from datetime import date
from urllib.parse import quote, urlsplit

import httpx
import pytest
import yaml

from test_web_roles import (  # noqa: F401  (visitors: a fixture, used by name)
    API_KINDS,
    WRITES,
    client,
    csrf_of,
    endpoints_of,
    log_in,
    visitors,
)
from web_server import (
    EXAMPLE,
    KEY,
    PASSWORD,
    PEOPLE,
    ROOT,
    require_web,
    serve,
    service_path,
)

pytest_plugins = ["web_server"]
pytestmark = pytest.mark.usefixtures("site_key")

SESSION_COOKIE = "flowcap_session"
EXPIRED = "This form had expired"


# --- headers -----------------------------------------------------------------------------------


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as ``{directive: [sources]}``."""
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def header_problems(response: httpx.Response) -> list[str]:
    """What is missing or weak in ``response``'s security headers."""
    problems = []
    headers = response.headers
    csp = policy(headers.get("content-security-policy", ""))
    scripts = csp.get("script-src", csp.get("default-src"))
    if scripts is None:
        problems.append("no script-src (nor default-src) in the Content-Security-Policy")
    else:
        for weak in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
            if weak in scripts:
                problems.append(f"script-src allows {weak}")
    if csp.get("object-src") != ["'none'"]:
        problems.append(f"object-src {csp.get('object-src')}, not 'none'")
    framing = csp.get("frame-ancestors") == ["'none'"]
    if not framing and headers.get("x-frame-options", "").upper() != "DENY":
        problems.append("framing allowed (no frame-ancestors 'none', no X-Frame-Options DENY)")
    if headers.get("x-content-type-options", "").lower() != "nosniff":
        problems.append(f"X-Content-Type-Options {headers.get('x-content-type-options')!r}")
    referrer = headers.get("referrer-policy", "").lower()
    if referrer not in {"no-referrer", "same-origin", "strict-origin"}:
        problems.append(f"Referrer-Policy {referrer!r} may send the address to other sites")
    return problems


def test_every_page_and_api_answer_has_the_security_headers(visitors, live_server):
    admin = visitors["admin"]
    endpoints, _ = endpoints_of(live_server.app)
    answers = []
    for endpoint in endpoints:
        if endpoint.method != "GET" or endpoint.kind == "static":
            continue
        url = endpoint.url(EXAMPLE)
        if endpoint.kind in API_KINDS:
            bearer = {"Authorization": f"Bearer {admin.bearer}"}
            answers.append(httpx.get(live_server.url + url, headers=bearer, timeout=30))
        else:
            answers.append(admin.http.get(url))
    # errors too: a page not found, the login redirect, an API 401, 404 and 422, a static file
    anonymous = client(live_server)
    answers += [
        admin.http.get("/no/such/page"),
        anonymous.get(service_path(EXAMPLE)),
        anonymous.get("/api/services"),
        httpx.get(
            f"{live_server.url}/api/services/nobody/measures",
            headers={"Authorization": f"Bearer {admin.bearer}"},
        ),
        httpx.get(
            f"{live_server.url}/api/services/{quote(EXAMPLE)}/measures?from=nonsense",
            headers={"Authorization": f"Bearer {admin.bearer}"},
        ),
        anonymous.get("/static/plotly.min.js"),
    ]
    anonymous.close()
    assert len(answers) > 30
    problems = [
        f"{r.request.method} {r.request.url.path} ({r.status_code}): {p}"
        for r in answers
        for p in header_problems(r)
    ]
    assert not problems, "\n".join(problems)
    codes = {r.status_code for r in answers}
    assert {200, 303, 401, 404, 422} <= codes


def test_the_api_docs_allow_only_their_own_inline_script(live_server):
    """``/docs`` starts Swagger UI from one inline script: allowed by its hash, nothing else."""
    response = httpx.get(f"{live_server.url}/docs")
    assert response.status_code == 200 and not header_problems(response)
    scripts = policy(response.headers["content-security-policy"])["script-src"]
    hashes = [s for s in scripts if s.startswith("'sha256-")]
    inline = re.findall(r"<script>(.*?)</script>", response.text, flags=re.S)
    assert len(hashes) == len(inline) >= 1
    assert set(scripts) == {"'self'", *hashes}


def test_a_weak_policy_is_caught():
    """The header check itself: each weakness is named."""
    weak = httpx.Response(
        200,
        headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'",
            "Referrer-Policy": "unsafe-url",
        },
    )
    found = "\n".join(header_problems(weak))
    for words in ("unsafe-inline", "object-src", "framing", "X-Content-Type", "Referrer"):
        assert words in found


# --- sessions ----------------------------------------------------------------------------------


def session_of(response: httpx.Response) -> str | None:
    """The session cookie a response sets."""
    return response.cookies.get(SESSION_COOKIE)


def opens(live_server, token: str) -> bool:
    """Whether the session cookie ``token`` opens the services page (else: sent to log in)."""
    with client(live_server) as fresh:
        fresh.cookies.set(SESSION_COOKIE, token)
        response = fresh.get("/services")
    if response.status_code == 200:
        return True
    assert response.status_code == 303 and urlsplit(response.headers["location"]).path == "/login"
    return False


def test_a_made_up_session_id_planted_before_login_is_replaced(live_server):
    planted = "attacker-chosen-" + "a" * 40
    with client(live_server) as http:
        http.cookies.set(SESSION_COOKIE, planted)
        assert http.get("/services").status_code == 303  # it opens nothing
        response = log_in(http, PEOPLE["viewer"].email)
        assert response.status_code == 303
        after = session_of(response)
        assert after and after != planted
        assert f"{SESSION_COOKIE}={after}" in response.headers.get("set-cookie", "")
    assert opens(live_server, after)
    assert not opens(live_server, planted)


def test_a_live_session_planted_before_login_is_ended_by_the_login(live_server):
    """An attacker's own live session, planted in a victim's browser, neither becomes the
    victim's session nor outlives the victim's login."""
    with client(live_server) as attacker:
        planted = session_of(log_in(attacker, PEOPLE["viewer"].email))
    assert planted and opens(live_server, planted)
    with client(live_server) as victim:
        csrf = csrf_of(victim.get("/login").text)  # the login form, opened before the plant
        victim.cookies.set(SESSION_COOKIE, planted)
        form = {"email": PEOPLE["admin"].email, "password": PASSWORD, "csrf_token": csrf}
        response = victim.post("/login", data=form)
        assert response.status_code == 303
        after = session_of(response)
        assert after and after != planted
    assert not opens(live_server, planted), "the planted session still works after the login"
    assert opens(live_server, after)


def test_logout_ends_the_session_in_the_store(live_server):
    with client(live_server) as http:
        token = session_of(log_in(http, PEOPLE["editor"].email))
        csrf = csrf_of(http.get("/services").text)
        assert opens(live_server, token)
        assert http.post("/logout", data={"csrf_token": csrf}).status_code == 303
    # the old cookie, replayed from elsewhere (as a thief would), no longer opens anything
    assert not opens(live_server, token)
    with client(live_server) as thief:
        thief.cookies.set(SESSION_COOKIE, token)
        assert thief.get(service_path(EXAMPLE)).status_code == 303
        assert thief.post(f"/services/{quote(EXAMPLE)}/daily", data={}).status_code in (303, 403)


# --- CSRF --------------------------------------------------------------------------------------


#: Columns that change on their own (a session's last request, a token's last use, a job a
#: worker runs) and the table of failed logins: left out of the store's fingerprint.
VOLATILE = {
    "user_sessions": {"last_seen_at"},
    "api_tokens": {"last_used_at"},
    "jobs": {
        "status",
        "progress",
        "message",
        "notes",
        "result",
        "chart",
        "error",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "attempts",
        "worker",
    },
    "login_attempts": None,
}


def fingerprint(database_url: str) -> dict[str, str]:
    """A digest of every table of the store (but :data:`VOLATILE`'s columns)."""
    from sqlalchemy import select

    from flowcap.store import Store, schema

    store = Store.open(database_url)
    digests = {}
    try:
        with store.engine.connect() as connection:
            for table in schema.metadata.sorted_tables:
                skip = VOLATILE.get(table.name, set())
                if skip is None:
                    continue
                columns = [c for c in table.columns if c.name not in skip]
                rows = connection.execute(select(*columns)).all()
                text = json.dumps(sorted(map(repr, rows)))
                digests[table.name] = hashlib.sha256(text.encode()).hexdigest()
    finally:
        store.close()
    return digests


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )


def form_posts(app) -> list:
    """The role matrix's form POSTs that change something (login and logout apart)."""
    endpoints, _ = endpoints_of(app)
    posts = [
        e
        for e in endpoints
        if e.method in WRITES
        and e.kind not in API_KINDS
        and e.kind not in ("login", "logout", "token")
    ]
    assert len(posts) >= 10, [str(e) for e in posts]
    return posts


def test_every_form_post_without_its_right_csrf_token_is_refused_and_changes_nothing(
    visitors, live_server
):
    admin, editor = visitors["admin"], visitors["editor"]
    url = live_server.site.database_url
    # the addresses first: a job's or an alert's id is made the first time it is asked for
    posts = [(endpoint, endpoint.url(admin.service)) for endpoint in form_posts(live_server.app)]
    before = fingerprint(url)
    problems = []
    tokens = {
        "no token": None,
        "a made-up token": "x" * 43,
        "another session's token": editor.csrf,
    }
    for endpoint, path in posts:
        for what, token in tokens.items():
            data = {"csrf_token": token} if token else {}
            response = admin.http.post(path, data=data)
            if response.status_code != 403 or EXPIRED not in response.text:
                problems.append(f"{endpoint} with {what}: {response.status_code}")
    for what, token in tokens.items():  # logout, and the login form's own double-submit
        data = {"csrf_token": token} if token else {}
        if admin.http.post("/logout", data=data).status_code not in (400, 403):
            problems.append(f"POST /logout with {what} was not refused")
        with client(live_server) as http:
            http.get("/login")
            form = {"email": PEOPLE["viewer"].email, "password": PASSWORD} | data
            refused = http.post("/login", data=form)
            if session_of(refused):
                problems.append(f"POST /login with {what} logged in")
    assert not problems, "\n".join(problems)
    assert changed(before, fingerprint(url)) == []
    assert admin.http.get("/services").status_code == 200  # the logouts did not log out
    # the comparison can tell: the same kind of post with the right token changes the store
    made = admin.http.post(
        "/account/tokens", data={"csrf_token": admin.csrf, "token_name": "csrf control"}
    )
    assert made.status_code in (200, 303), made.status_code
    assert "api_tokens" in changed(before, fingerprint(url))


# --- sizes -------------------------------------------------------------------------------------


def raw_headers_only(live_server, path: str, headers: dict[str, str]) -> str:
    """Send a POST's request line and headers, none of the body it declares, and return the
    answer's status line: the server must answer without waiting for the body."""
    parts = urlsplit(live_server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)  # a socket.timeout here: the server waited for the body
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


def test_an_upload_over_the_limit_is_refused_before_its_body_is_read(visitors, live_server):
    admin = visitors["admin"]
    limits = live_server.app.state.upload_limits
    declared = str(limits.total_bytes * 2 + 10_000_000)
    form = {"Content-Type": "multipart/form-data; boundary=xyz", "Content-Length": declared}
    api = raw_headers_only(
        live_server,
        f"/api/services/{quote(EXAMPLE)}/uploads",
        form | {"Authorization": f"Bearer {admin.bearer}"},
    )
    page = raw_headers_only(
        live_server,
        f"/services/{quote(EXAMPLE)}/upload",
        form | {"Cookie": f"{SESSION_COOKIE}={admin.http.cookies[SESSION_COOKIE]}"},
    )
    assert api.split()[1] == "413", api
    assert page.split()[1] == "413", page


def padded_day_body(size: int) -> bytes:
    """A valid daily-figures body (one referral today) padded with spaces to ``size`` bytes:
    stored if the limit let it through."""
    body = json.dumps({"date": date.today().isoformat(), "referrals": {"da_high_risk": 1}})
    return body.encode() + b" " * (size - len(body))


def test_a_body_over_the_limit_is_refused_and_stores_nothing(visitors, live_server):
    from flowcap.web.security import MAX_BODY_BYTES

    admin = visitors["admin"]
    url = live_server.site.database_url
    before = fingerprint(url)
    bearer = {"Authorization": f"Bearer {admin.bearer}", "Content-Type": "application/json"}
    big = padded_day_body(MAX_BODY_BYTES + 1)
    service = quote(EXAMPLE)
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        declared = http.post(f"/api/services/{service}/daily", content=big, headers=bearer)
        chunked = http.post(
            f"/api/services/{service}/daily",
            content=(big[i : i + 65536] for i in range(0, len(big), 65536)),
            headers=bearer,
        )
        job = http.post(
            f"/api/services/{service}/jobs",
            content=b'{"kind": "simulate", "options": {}}' + b" " * MAX_BODY_BYTES,
            headers=bearer,
        )
    settings_form = admin.http.post(
        f"/services/{service}/settings/yaml",
        data={"csrf_token": admin.csrf, "content": "name: x\n" + "#" * MAX_BODY_BYTES},
    )
    for name, response in [
        ("declared", declared),
        ("chunked", chunked),
        ("job", job),
        ("settings form", settings_form),
    ]:
        assert response.status_code == 413, (name, response.status_code, response.text[:200])
        assert f"{MAX_BODY_BYTES:,} bytes" in response.text
    assert "transfer-encoding" in chunked.request.headers  # it went chunked, no length
    assert changed(before, fingerprint(url)) == []
    # just under the limit, the same body is read (and refused or stored on its merits)
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        small = padded_day_body(100_000)
        dry = http.post(f"/api/services/{service}/daily", content=small, headers=bearer)
    assert dry.status_code != 413


def jobs_of(database_url: str, service: str) -> int:
    from sqlalchemy import func, select

    from flowcap.store import Store, schema

    store = Store.open(database_url)
    try:
        with store.engine.connect() as connection:
            return connection.execute(
                select(func.count())
                .select_from(schema.jobs.join(schema.services))
                .where(schema.services.c.name == service)
            ).scalar_one()
    finally:
        store.close()


@pytest.mark.parametrize(
    "options, words",
    [
        ({"replications": 10_001}, ["replications", "at most 10,000"]),
        ({"horizon": 731}, ["horizon", "at most 730"]),
        ({"replications": 10**9, "horizon": 10**6}, ["horizon", "3,653 days"]),
    ],
)
def test_a_job_over_the_limits_is_a_422_saying_which_and_queues_nothing(
    options, words, visitors, live_server
):
    admin = visitors["admin"]
    url = live_server.site.database_url
    queued = jobs_of(url, EXAMPLE)
    response = httpx.post(
        f"{live_server.url}/api/services/{quote(EXAMPLE)}/jobs",
        json={"kind": "simulate", "options": options},
        headers={"Authorization": f"Bearer {admin.bearer}"},
        timeout=30,
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and all(w in detail for w in words), detail
    form = {"csrf_token": admin.csrf, "kind": "simulate"} | {k: str(v) for k, v in options.items()}
    page = admin.http.post(f"/services/{quote(EXAMPLE)}/planner/run", data=form)
    assert page.status_code == 422
    assert words[-1] in html.unescape(page.text)
    assert jobs_of(url, EXAMPLE) == queued


# --- names as text -----------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
#: Markup without a slash, the other service's name (a name with one has its pages too:
#: flowcap.web.paths).
IMG = "<img src=x onerror=alert(1)>"
#: The pages that name the service, by the brief's list; every other GET page of the role
#: matrix is checked for the raw name too.
NAMING_PAGES = ("", "/planner", "/settings", "/reports", "/alerts")


@pytest.fixture(scope="module")
def markup_site(tmp_path_factory):
    """The example imported twice, as services named :data:`SCRIPT` and :data:`IMG`, each
    with an admin (``admin@0.test``, ``admin@1.test``) and an alert; served from a store of
    its own: ``(url, app)``."""
    web = require_web()
    root = tmp_path_factory.mktemp("markup-names")
    patch = pytest.MonkeyPatch()
    patch.setenv("FLOWCAP_KEY", KEY)
    patch.setenv("FLOWCAP_KEY_FILE", str(root / "pseudonym.key"))
    patch.setenv("FLOWCAP_JOB_WORKERS", "0")
    patch.delenv("FLOWCAP_DATABASE_URL", raising=False)
    stop = None
    try:
        url = f"sqlite:///{root / 'flowcap.db'}"
        for i, name in enumerate((SCRIPT, IMG)):
            folder = root / f"service-{i}"
            shutil.copytree(
                ROOT / "examples" / "victim-support",
                folder,
                ignore=shutil.ignore_patterns(".flowcap"),
            )
            settings = yaml.safe_load((folder / "service.yaml").read_text())
            settings["name"] = name
            (folder / "service.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
            _import_with_admin_and_alert(folder, url, name, f"admin@{i}.test")
        app = web.create_app(url)
        base, stop = serve(app)
        yield base, app
    finally:
        if stop is not None:
            stop()
        patch.undo()


def _import_with_admin_and_alert(folder, url: str, name: str, email: str) -> None:
    from argon2 import PasswordHasher

    from flowcap import manage
    from flowcap.accounts import Accounts
    from flowcap.monitor.detect import Finding
    from flowcap.monitor.records import record
    from flowcap.store import Store

    manage.import_folder(folder, database_url=url)
    store = Store.open(url)
    try:
        cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
        Accounts(store, hasher=cheap).add_user(email, PASSWORD, role="admin", service=name)
        day = date(2025, 12, 31)
        finding = Finding(
            kind="risk",
            key="markup:risk",
            episode="markup:risk",
            day=day,
            last_seen=day,
            title=f"A risky day for {name}",
            message=f"{name} may fall behind.",
        )
        record(store, name, [finding])
    finally:
        store.close()


def as_markup(name: str, body: str) -> bool:
    """Whether ``name`` (or its markup up to ``alert``) is in ``body`` unescaped."""
    return name in body or name[: name.index("alert")] + "alert" in body


def test_a_service_named_as_a_script_shows_as_text_in_the_services_list(markup_site):
    base, _ = markup_site
    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as http:
        assert log_in(http, "admin@0.test").status_code == 303
        listing = http.get("/services")
        account = http.get("/account")
    assert listing.status_code == 200
    assert html.escape(SCRIPT, quote=False) in listing.text
    for response in (listing, account):
        assert not as_markup(SCRIPT, response.text), response.request.url.path


def test_a_service_named_as_markup_shows_as_text_on_every_page(markup_site):
    base, app = markup_site
    escaped = html.escape(IMG, quote=False)
    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as http:
        assert log_in(http, "admin@1.test").status_code == 303
        named = {"/services": http.get("/services")}
        for suffix in NAMING_PAGES:
            named[service_path(IMG, suffix)] = http.get(service_path(IMG, suffix))
        others = {}
        endpoints, _ = endpoints_of(app)
        for endpoint in endpoints:
            if endpoint.method == "GET" and endpoint.kind in ("service page", "admin page"):
                if set(endpoint.params) == {"name"}:
                    path = endpoint.url(IMG)
                    others.setdefault(path, http.get(path))
    problems = []
    for path, response in named.items():
        if response.status_code != 200:
            problems.append(f"{path}: {response.status_code}")
        elif escaped not in response.text and html.escape(IMG) not in response.text:
            problems.append(f"{path}: the name is not on the page as text")
    for path, response in {**named, **others}.items():
        if as_markup(IMG, response.text):
            problems.append(f"{path}: the name is in the page as markup")
    assert len(others) >= 8
    assert not problems, "\n".join(problems)


def test_a_service_whose_name_has_a_slash_has_its_pages(markup_site):
    base, _ = markup_site
    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as http:
        assert log_in(http, "admin@0.test").status_code == 303
        for suffix in (*NAMING_PAGES, "/chart", "/upload", "/daily"):
            page = http.get(service_path(SCRIPT, suffix))
            assert page.status_code == 200, suffix
            assert SCRIPT not in page.text, suffix  # shown as text, never as markup
        assert html.escape(SCRIPT) in http.get(service_path(SCRIPT)).text
        # another service's address with a slash is the same 404 as an unknown one
        assert http.get(service_path("North/South")).status_code == 404
