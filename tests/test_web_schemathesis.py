"""The API against its own OpenAPI schema, fuzzed with Schemathesis (issue #14, item 6).

Every operation under ``/api/`` gets requests generated from ``/openapi.json`` (valid ones and,
Schemathesis's negative mode, invalid ones) on a live Uvicorn server, and every answer must
pass Schemathesis's checks: no 5xx, a documented status code, a documented content type, a
body matching its documented schema, and an invalid request refused (4xx).

- **As an admin of the example** (``Authorization: Bearer`` of a real token): path parameters
  ``name`` are the example's name most of the time (its data, its jobs and alerts), and
  generated names otherwise (each a 404).
- **Without a token**: every operation but ``POST /api/token`` answers 401.

The server is the app on a store of its own (the example and a second service, as
``tests/web_server.py`` builds them), so that what the fuzzer posts (daily figures, jobs,
uploads, acknowledgements, failed logins) never reaches the other web tests' store. Its job
workers are off (``FLOWCAP_JOB_WORKERS=0``): a queued job stays queued, costing no CPU; one
small finished simulation is made first so that ``GET /api/jobs/{id}`` answers a result too.
Failed logins are counted per client address: the fuzzer's go through ``X-Forwarded-For`` as
a documentation address (Uvicorn trusts the header from loopback), which locks nobody else out.

Bounded for CI: :data:`EXAMPLES` per operation (25; ``FLOWCAP_FUZZ_EXAMPLES`` sets more for a
long run), derandomised, so the same run repeats exactly.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import httpx
import pytest

from web_server import EXAMPLE, KEY, PEOPLE, _build_store, require_web, serve

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

pytest_plugins = ["web_server"]

#: Generated requests per operation and per run (the CI budget; a long run sets more).
EXAMPLES = int(os.environ.get("FLOWCAP_FUZZ_EXAMPLES", "25"))
#: The client address of the fuzzer's requests (TEST-NET-3, RFC 5737).
FUZZ_CLIENT = "203.0.113.14"

#: Requests sent per run and operation, for the README's figures (printed at the end).
SENT: Counter = Counter()


@dataclass(frozen=True)
class FuzzServer:
    url: str
    token: str  # an API token of the example's admin
    known: dict[str, str]  # path parameters of the example: its name, a job's and an alert's id


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def fuzz_server(request, tmp_path_factory):
    """The app on a store of its own (see the module's docstring)."""
    web = require_web()
    root = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    patch = pytest.MonkeyPatch()
    patch.setenv("FLOWCAP_KEY", KEY)
    patch.setenv("FLOWCAP_KEY_FILE", str(root / "pseudonym.key"))
    patch.setenv("FLOWCAP_JOB_WORKERS", "0")
    patch.delenv("FLOWCAP_DATABASE_URL", raising=False)
    admin = database = None
    stop = None
    try:
        if request.param == "sqlite":
            url = f"sqlite:///{root / 'flowcap.db'}"
        else:
            from conftest import _postgres_database

            admin, database, url = _postgres_database()
        _build_store(url, root)
        token, known = _a_token_a_job_and_an_alert(url)
        base, stop = serve(web.create_app(url))
        yield FuzzServer(base, token, known)
    finally:
        if stop is not None:
            stop()
        patch.undo()
        if admin is not None:
            from sqlalchemy import text

            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()


def _a_token_a_job_and_an_alert(url: str) -> tuple[str, dict[str, str]]:
    """A real API token of the example's admin; and, of the example, one tiny simulation run
    here (the server's workers are off) and one alert, so that a job with a result and an
    alert to acknowledge are there."""
    from flowcap import jobs
    from flowcap.accounts import Accounts
    from flowcap.monitor.detect import Finding
    from flowcap.monitor.records import record
    from flowcap.store import Store

    store = Store.open(url)
    try:
        accounts = Accounts(store)
        _, token = accounts.create_api_token(accounts.user(PEOPLE["admin"].email), "fuzz")
        job = jobs.submit(store, EXAMPLE, "simulate", {"horizon": 7, "replications": 10}, "fuzz")
        deadline = time.monotonic() + 120
        while not jobs.get_job(store, job.id).finished and time.monotonic() < deadline:
            jobs.work_once(store)
        assert jobs.get_job(store, job.id).status == "done"
        day = date(2025, 12, 31)
        finding = Finding(
            kind="risk",
            key="fuzz:risk",
            episode="fuzz:risk",
            day=day,
            last_seen=day,
            title="A risky day (fuzz)",
            message="Recorded by the API fuzz tests.",
        )
        [alert] = record(store, EXAMPLE, [finding])
    finally:
        store.close()
    return token, {"name": EXAMPLE, "id": str(job.id), "alert_id": str(alert.id)}


#: Every operation of the API (``/openapi.json``): a new one fails
#: :func:`test_the_schema_has_the_operations_fuzzed` until it is added here.
OPERATIONS = (
    "POST /api/token",
    "GET /api/services",
    "GET /api/services/{name}/measures",
    "POST /api/services/{name}/daily",
    "POST /api/services/{name}/jobs",
    "GET /api/jobs/{id}",
    "POST /api/services/{name}/uploads",
    "GET /api/services/{name}/alerts",
    "POST /api/services/{name}/alerts/{alert_id}/acknowledge",
)


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


def strategy(operation, known: dict[str, str]):
    """Requests for ``operation``: valid ones on the example (its name, its finished job, its
    alert), valid ones with every parameter generated, and invalid ones on the example."""
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    fixed = {k: v for k, v in known.items() if "{" + k + "}" in operation.path} or None
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed),
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed),
    )


def fuzz(operation, known: dict[str, str], headers: dict[str, str], who: str, check=None):
    """Send :data:`EXAMPLES` generated requests to ``operation``; each answer must pass
    Schemathesis's checks (and ``check``, when given). Hypothesis shrinks a failure to its
    smallest request and raises it."""
    from hypothesis import HealthCheck, given, settings

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy(operation, known))
    def run(case):
        SENT[(who, operation.label)] += 1
        response = case.call_and_validate(
            headers=headers | {"X-Forwarded-For": FUZZ_CLIENT},
            excluded_checks=[positive_data_acceptance],
            timeout=30,
        )
        if check is not None:
            check(case, response)

    run()


def test_the_schema_has_the_operations_fuzzed(api_schema):
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_as_an_admin_answers_as_its_schema_says(label, api_schema, fuzz_server):
    method, path = label.split(" ", 1)
    bearer = {"Authorization": f"Bearer {fuzz_server.token}"}
    fuzz(api_schema[path][method], fuzz_server.known, bearer, "admin")


def _needs_token(case, response) -> None:
    """Without a token: 401, but for the token itself; a body that does not parse may be
    refused first (400 or 422: FastAPI reads it before the route's dependencies run), the
    same answer for every service, so it tells nothing."""
    if case.operation.path == "/api/token":
        return
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    allowed = {400, 401, 422} if negative else {401}
    assert response.status_code in allowed, (case.operation.label, response.status_code)


@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_without_a_token_answers_as_its_schema_says(label, api_schema, fuzz_server):
    method, path = label.split(" ", 1)
    fuzz(api_schema[path][method], fuzz_server.known, {}, "anonymous", check=_needs_token)


def test_the_fuzzer_reached_every_api_operation():
    """Runs last in the file: every operation of both runs was sent requests (a schema that
    lost an operation, or a run that generated nothing, fails here)."""
    if not SENT:
        pytest.skip("the fuzz tests did not run (selected out)")
    for who in ("admin", "anonymous"):
        labels = {label for (w, label) in SENT if w == who}
        assert len(labels) == 9, (who, sorted(labels))
    total = sum(SENT.values())
    print(f"\nschemathesis: {total} requests, " + ", ".join(f"{k}: {v}" for k, v in SENT.items()))


# --- what the fuzzer found: one regression test each ---------------------------------------


def _admin(fuzz_server) -> httpx.Client:
    return httpx.Client(
        base_url=fuzz_server.url,
        headers={"Authorization": f"Bearer {fuzz_server.token}"},
        timeout=30,
    )


def test_an_id_past_64_bits_is_no_job_and_no_alert_not_a_server_error(fuzz_server):
    """``GET /api/jobs/-41816856440467701760`` was a 500 (SQLite's OverflowError), and
    ``GET /api/jobs/7106588288`` one on PostgreSQL (its ids are 32-bit: a DataError)."""
    service = quote(EXAMPLE, safe="")
    with _admin(fuzz_server) as http:
        for huge in (2**31, 7106588288, 2**63, -(2**70), 10**30):
            assert http.get(f"/api/jobs/{huge}").status_code == 404
            ack = http.post(f"/api/services/{service}/alerts/{huge}/acknowledge")
            assert ack.status_code == 404, ack.text
        assert http.get(f"/api/jobs/{fuzz_server.known['id']}").status_code == 200


def test_a_field_that_does_not_parse_is_a_documented_422(fuzz_server, api_schema):
    """``?to=`` and a body that is no JSON were 422s whose body (FastAPI's list of fields)
    the schema did not describe (it said ``{"detail": "one sentence"}``)."""
    from pydantic import TypeAdapter

    from flowcap.documents import Invalid, Refused

    service = quote(EXAMPLE, safe="")
    with _admin(fuzz_server) as http:
        empty = http.get(f"/api/services/{service}/measures?to=")
        not_json = http.post(
            f"/api/services/{service}/jobs",
            content=b"\x00",
            headers={"Content-Type": "application/json"},
        )
    for response in (empty, not_json):
        assert response.status_code == 422
        assert isinstance(TypeAdapter(Refused).validate_python(response.json()), Invalid)
    for path, method in (
        ("/api/services/{name}/measures", "GET"),
        ("/api/services/{name}/jobs", "POST"),
    ):
        operation = api_schema[path][method]
        operation.validate_response(not_json if method == "POST" else empty)


def test_from_0_is_not_1970(fuzz_server):
    """``?from=0`` was taken as 1970-01-01 (pydantic reads a number as seconds since 1970):
    a day must be written YYYY-MM-DD."""
    service = quote(EXAMPLE, safe="")
    with _admin(fuzz_server) as http:
        for bad in ("0", "0.0", "1700000000", "true"):
            response = http.get(f"/api/services/{service}/measures", params={"from": bad})
            assert response.status_code == 422, (bad, response.status_code)
            assert "YYYY-MM-DD" in response.text
        good = http.get(f"/api/services/{service}/measures", params={"from": "2025-11-01"})
        assert good.status_code == 200
        assert min(day["date"] for day in good.json()) == "2025-11-01"


def test_an_upload_form_that_cannot_be_read_is_a_422_with_its_problem(fuzz_server):
    """Too many parts was Starlette's 400 ``{"detail": ...}``, undocumented; now the
    upload's 422 ``{"problems": [...]}`` as for any other problem of an upload."""
    service = quote(EXAMPLE, safe="")
    files = [("files", (f"f{i}.csv", b"x\n")) for i in range(40)]
    with _admin(fuzz_server) as http:
        response = http.post(f"/api/services/{service}/uploads", files=files)
    assert response.status_code == 422, response.text
    [problem] = response.json()["problems"]
    assert problem["file"] == "upload" and "cannot be read" in problem["message"]


def test_the_answers_the_fuzzer_found_undocumented_are_documented(api_schema):
    """A store busy or damaged is a 409 on daily figures and uploads; a body that is not
    UTF-8 is FastAPI's 400 on a job; a body over the limit a 413."""
    documented = {
        ("/api/services/{name}/daily", "POST"): {"409", "413"},
        ("/api/services/{name}/uploads", "POST"): {"409", "413"},
        ("/api/services/{name}/jobs", "POST"): {"400", "413"},
        ("/api/token", "POST"): {"413"},
    }
    for (path, method), codes in documented.items():
        responses = api_schema[path][method].definition.raw["responses"]
        assert codes <= set(responses), (path, sorted(responses))
