"""The API's answers against the models of :mod:`flowcap.documents` (the CLI's ``--json``
documents, ``tests/test_documents.py``), the OpenAPI document's schemas, and the API docs
page's policy, on the live test site (``tests/web_server.py``; SQLite, and PostgreSQL when
the run has a server).

- every ``/api/`` operation of ``/openapi.json`` documents a 2xx body with a schema;
- ``GET /api/services``, ``.../measures`` (equal to ``flowcap measures --service --json``),
  ``GET /api/jobs/{id}`` (a finished simulation), an upload's 422 and the daily figures'
  422 validate against the models with ``extra="forbid"``;
- ``/docs`` loads Swagger UI from this server only, its one inline script allowed by hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import quote

import httpx
import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

from flowcap import documents
from web_routes_planner import job_of
from web_server import EXAMPLE, KEY, PEOPLE, service_path

pytest_plugins = ["web_server"]
pytestmark = pytest.mark.usefixtures("site_key")

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(live_server) -> dict[str, str]:
    from flowcap.accounts import Accounts
    from flowcap.store import Store

    store = Store.open(live_server.site.database_url)
    try:
        accounts = Accounts(store)
        return {
            who: accounts.create_api_token(accounts.user(PEOPLE[who].email), "documents")[1]
            for who in ("viewer", "editor")
        }
    finally:
        store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the OpenAPI document ---------------------------------------------------------------------


def resolve(schema: dict, openapi: dict) -> dict:
    while "$ref" in schema:
        *_, name = schema["$ref"].split("/")
        schema = openapi["components"]["schemas"][name]
    return schema


def test_every_api_operation_documents_its_success_body(http):
    openapi = http.get("/openapi.json").json()
    operations = [
        (method.upper(), path, operation)
        for path, item in openapi["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(operations) >= 7
    missing = []
    for method, path, operation in operations:
        schemas = [
            resolve(media["schema"], openapi)
            for status, response in operation["responses"].items()
            if status.startswith("2")
            for media in response.get("content", {}).values()
            if "schema" in media
        ]
        if not schemas or not all(schema for schema in schemas):
            missing.append(f"{method} {path}")
    assert not missing, f"API operations with no 2xx body schema: {missing}"


def test_the_openapi_schemas_are_the_documents_models(http):
    schemas = http.get("/openapi.json").json()["components"]["schemas"]
    for model in (documents.MeasuresDay, documents.JobStatus, documents.SimulationDocument):
        assert schemas[model.__name__]["properties"].keys() == model.model_fields.keys()
        assert schemas[model.__name__]["additionalProperties"] is False


# --- the answers --------------------------------------------------------------------------------


def test_the_services_answer_validates(http, tokens):
    response = http.get("/api/services", headers=bearer(tokens["viewer"]))
    assert response.status_code == 200
    listing = TypeAdapter(list[documents.ServiceSummary]).validate_python(response.json())
    assert [s.name for s in listing] == [EXAMPLE]


def test_the_measures_answer_is_the_cli_document(http, tokens, live_server, monkeypatch):
    days = {"from": "2025-10-01", "to": "2025-10-14"}
    response = http.get(
        f"/api/services/{quote(EXAMPLE, safe='')}/measures",
        params=days,
        headers=bearer(tokens["viewer"]),
    )
    assert response.status_code == 200
    answer = response.json()
    TypeAdapter(list[documents.MeasuresDay]).validate_python(answer)
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", live_server.site.database_url)
    from flowcap.cli.main import app

    printed = CliRunner().invoke(
        app,
        ["measures", "--service", EXAMPLE, "--from", days["from"], "--to", days["to"], "--json"],
    )
    assert printed.exit_code == 0, printed.output
    assert answer == json.loads(printed.stdout)


def test_a_finished_jobs_answer_validates(http, tokens, live_server):
    job_id = job_of(EXAMPLE, live_server.site.database_url)
    response = http.get(f"/api/jobs/{job_id}", headers=bearer(tokens["viewer"]))
    assert response.status_code == 200
    status = documents.JobStatus.model_validate(response.json())
    assert status.status == "done" and status.kind == "simulate"
    assert isinstance(status.result, documents.SimulationDocument)
    assert "baseline" in status.result.scenarios


def test_an_uploads_problems_validate(http, tokens):
    bad = "case_id,referral_date,case_type\nX-1,not a date,da_standard\n"
    response = http.post(
        f"/api/services/{quote(EXAMPLE, safe='')}/uploads",
        params={"dry_run": "true"},
        files={"files": ("referrals.csv", bad.encode(), "text/csv")},
        headers=bearer(tokens["editor"]),
    )
    assert response.status_code == 422, response.text
    problems = documents.Problems.model_validate(response.json()).problems
    assert any(p.row == 2 and p.column == "referral_date" for p in problems), problems


def test_the_daily_figures_problems_validate(http, tokens):
    response = http.post(
        f"/api/services/{quote(EXAMPLE, safe='')}/daily",
        json={"date": "not a date"},
        headers=bearer(tokens["editor"]),
    )
    assert response.status_code == 422, response.text
    documents.DailyProblems.model_validate(response.json())


# --- the API docs page --------------------------------------------------------------------------


def test_the_docs_page_loads_swagger_ui_from_this_server(http):
    response = http.get("/docs")
    assert response.status_code == 200
    page = response.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "cdn" not in page.lower()
    policy = response.headers["content-security-policy"]
    [inline] = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert "frame-ancestors 'none'" in policy
    for path, kind in (
        ("/static/swagger-ui-bundle.js", "text/javascript"),
        ("/static/swagger-ui.css", "text/css"),
    ):
        asset = http.get(path)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert len(asset.content) > 100_000


def test_other_pages_keep_the_strict_policy(http):
    policy = http.get("/login").headers["content-security-policy"]
    assert "script-src 'self';" in policy and "sha256" not in policy
    assert http.get("/redoc").status_code == 404  # ReDoc is off (it would need a CDN)
    assert http.get(service_path(EXAMPLE)).status_code in (200, 303)
