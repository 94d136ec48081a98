"""Uploading files through the web app (flowcap.web.uploads): the page's check, preview and
confirmation, the pending upload bound to its user, the size limits, and
``POST /api/services/{name}/uploads``. A store of this module's own (uploads change it): the
worked example, its editors, a viewer, and an admin of the bundled example only."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from conftest import WORKED_SERVICE, worked_example
from flowcap.accounts import Accounts
from flowcap.manage import UploadLimits, import_folder
from flowcap.store import Store
from flowcap.web import create_app

NAME = WORKED_SERVICE["name"]
PASSWORD = "correct horse battery staple"
EDITOR, OTHER_EDITOR, VIEWER = "editor@worked.test", "second@worked.test", "viewer@worked.test"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
REFERRALS = "case_id,referral_date,case_type\n" + "".join(
    f"R{i:02d},2025-03-04,advocacy\n" for i in range(12)
)
#: Two more referrals on a second day, and one moved a day.
CLEAN = (
    REFERRALS.replace("R03,2025-03-04", "R03,2025-03-05")
    + "R12,2025-03-05,advocacy\nR13,2025-03-05,advocacy\n"
)
#: A bad date (row 3) and an unknown case type (row 7).
BAD = REFERRALS.replace("R01,2025-03-04", "R01,2025-13-04").replace(
    "R05,2025-03-04,advocacy", "R05,2025-03-04,burglary"
)


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)


@pytest.fixture
def store_url(tmp_path, monkeypatch):
    """A fresh store per test: the worked example (12 referrals, 20 waiting) and its people."""
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    monkeypatch.setenv("FLOWCAP_UPLOAD_DIR", str(tmp_path / "pending"))
    url = f"sqlite:///{tmp_path / 'flowcap.db'}"
    import_folder(worked_example(tmp_path / "worked"), database_url=url)
    store = Store.open(url)
    accounts = Accounts(store)
    for email, role in ((EDITOR, "editor"), (OTHER_EDITOR, "editor"), (VIEWER, "viewer")):
        accounts.add_user(email, PASSWORD, role=role, service=NAME)
    store.close()
    return url


@pytest.fixture
def web(store_url):
    return create_app(store_url)


def counts(url) -> dict[str, int]:
    store = Store.open(url)
    try:
        return store.counts(NAME)
    finally:
        store.close()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def signed_in(web, email=EDITOR) -> TestClient:
    client = TestClient(web)
    form = client.get("/login")
    data = {"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    return client


def page(suffix: str = "") -> str:
    return f"/services/{quote(NAME, safe='')}{suffix}"


def send(client, files: dict[str, str | bytes], csrf: str | None = None):
    """POST the upload form with ``files`` as the file input's parts."""
    csrf = csrf or csrf_of(client.get(page("/upload")).text)
    parts = [("files", (name, content, "text/csv")) for name, content in files.items()]
    return client.post(page("/upload"), data={"csrf_token": csrf}, files=parts)


def upload_id_of(html: str) -> str:
    return re.search(r'name="upload_id" value="([^"]+)"', html).group(1)


# --- the page ------------------------------------------------------------------------------------


def test_the_form_says_what_each_file_is_for(web):
    with signed_in(web) as client:
        response = client.get(page("/upload"))
    assert response.status_code == 200
    body = response.text
    assert (
        'type="file"' in body
        and "multiple" in body
        and 'accept=".csv,.xlsx,.xes,.gz,.yaml"' in body
    )
    assert 'enctype="multipart/form-data"' in body and '<label for="files">' in body
    for name in ("referrals.csv", "roster.csv", "sessions.csv", "scenarios.yaml", "service.yaml"):
        assert name in body


def test_a_viewer_sees_why_there_is_no_form_and_may_not_post(web, store_url):
    with signed_in(web, VIEWER) as client:
        form = client.get(page("/upload"))
        assert form.status_code == 200 and 'type="file"' not in form.text
        assert "needs the editor role" in form.text
        refused = send(client, {"referrals.csv": CLEAN}, csrf=csrf_of(form.text))
    assert refused.status_code == 403
    assert counts(store_url)["referrals"] == 12


def test_every_problem_is_listed_and_nothing_is_stored(web, store_url):
    before = counts(store_url)
    with signed_in(web) as client:
        response = send(client, {"referrals.csv": BAD})
    assert response.status_code == 200
    body = response.text
    assert '<div class="error-summary"' in body and 'href="#files"' in body
    assert "referrals.csv, row 3, column referral_date: not a date (use YYYY-MM-DD)" in body
    assert "referrals.csv, row 7, column case_type: unknown case type" in body
    assert 'aria-invalid="true"' in body and 'name="upload_id"' not in body
    assert counts(store_url) == before


def test_a_clean_file_is_previewed_then_imported_on_confirmation(web, store_url):
    with signed_in(web) as client:
        dashboard = client.get(page()).text
        preview = send(client, {"referrals.csv": CLEAN})
        assert preview.status_code == 200
        cells = re.findall(r'<td class="num">([\d,]+)</td>', preview.text)
        # rows now, after, added, replaced, removed, unchanged
        assert cells[:6] == ["12", "14", "2", "1", "0", "11"]
        assert counts(store_url)["referrals"] == 12  # nothing stored before confirmation
        done = client.post(
            page("/upload/confirm"),
            data={"csrf_token": csrf_of(preview.text), "upload_id": upload_id_of(preview.text)},
        )
        assert done.status_code == 200 and "Imported" in done.text
        assert counts(store_url)["referrals"] == 14
        after = client.get(page()).text
        assert after != dashboard  # the measures cache keys on the latest import
        measures = client.get(page()).text
        assert "Wed 05 Mar 2025" in measures  # the new last day of the data
        # The confirmation is used up.
        again = client.post(
            page("/upload/confirm"),
            data={"csrf_token": csrf_of(preview.text), "upload_id": upload_id_of(preview.text)},
        )
        assert again.status_code == 410
    store = Store.open(store_url)
    try:
        [entry] = [e for e in Accounts(store).audit_log(NAME) if e["action"] == "upload"]
    finally:
        store.close()
    assert entry["actor"] == EDITOR and "referrals.csv" in entry["detail"]
    assert "12 -> 14 rows" in entry["detail"] and "R12" not in entry["detail"]


def test_another_users_pending_upload_is_refused(web, store_url):
    with signed_in(web) as first:
        preview = send(first, {"referrals.csv": CLEAN})
        upload_id = upload_id_of(preview.text)
    with signed_in(web, OTHER_EDITOR) as second:
        csrf = csrf_of(second.get(page("/upload")).text)
        stolen = second.post(
            page("/upload/confirm"), data={"csrf_token": csrf, "upload_id": upload_id}
        )
        made_up = second.post(
            page("/upload/confirm"), data={"csrf_token": csrf, "upload_id": "../../etc"}
        )
    assert stolen.status_code == 410 and made_up.status_code == 410
    assert counts(store_url)["referrals"] == 12


def test_a_confirmation_needs_the_csrf_token(web, store_url):
    with signed_in(web) as client:
        preview = send(client, {"referrals.csv": CLEAN})
        refused = client.post(
            page("/upload/confirm"), data={"upload_id": upload_id_of(preview.text)}
        )
        unchecked = client.post(
            page("/upload"), files=[("files", ("referrals.csv", CLEAN, "text/csv"))]
        )
    assert refused.status_code == 403 and unchecked.status_code == 403
    assert counts(store_url)["referrals"] == 12


def test_an_upload_over_the_size_limit_is_refused(web, store_url, monkeypatch):
    monkeypatch.setenv("FLOWCAP_MAX_UPLOAD_MB", "0.0001")  # 100 bytes
    monkeypatch.setattr(web.state, "upload_limits", UploadLimits.from_environment())  # as at start
    with signed_in(web) as client:
        response = send(client, {"referrals.csv": CLEAN})
    assert response.status_code == 413
    assert "FLOWCAP_MAX_UPLOAD_MB" in response.text
    assert counts(store_url)["referrals"] == 12


def test_a_file_named_outside_a_service_folder_is_refused(web, store_url):
    with signed_in(web) as client:
        response = send(client, {"notes.csv": CLEAN, "referrals.csv": CLEAN})
    assert "notes.csv: not a file of a service folder" in response.text
    assert 'name="upload_id"' not in response.text
    assert counts(store_url)["referrals"] == 12


# --- the API ------------------------------------------------------------------------------------


def token_of(web, email=EDITOR) -> dict:
    with TestClient(web) as client:
        response = client.post("/api/token", data={"username": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def api_send(client, headers, files, **params):
    parts = [("files", (name, content, "text/csv")) for name, content in files.items()]
    return client.post(
        f"/api/services/{quote(NAME, safe='')}/uploads", headers=headers, files=parts, params=params
    )


def test_the_api_answers_422_with_every_problem(web, store_url):
    with TestClient(web) as client:
        response = api_send(client, token_of(web), {"referrals.csv": BAD})
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert {
        "file": "referrals.csv",
        "row": 3,
        "column": "referral_date",
        "message": "not a date (use YYYY-MM-DD): '2025-13-04'",
    } in problems
    assert any(p["row"] == 7 and p["column"] == "case_type" for p in problems)
    assert counts(store_url)["referrals"] == 12


def test_the_api_previews_with_dry_run_and_imports_without(web, store_url):
    headers = token_of(web)
    with TestClient(web) as client:
        dry = api_send(client, headers, {"referrals.csv": CLEAN}, dry_run="true")
        assert dry.status_code == 200
        body = dry.json()
        assert body["imported"] is False and body["changed"] is True
        assert body["tables"] == [
            {
                "table": "referrals",
                "file": "referrals.csv",
                "rows_now": 12,
                "rows_after": 14,
                "added": 2,
                "replaced": 1,
                "removed": 0,
                "unchanged": 11,
            }
        ]
        assert counts(store_url)["referrals"] == 12
        before = client.get(f"/api/services/{quote(NAME, safe='')}/measures", headers=headers)
        done = api_send(client, headers, {"referrals.csv": CLEAN})
        assert done.status_code == 200 and done.json()["imported"] is True
        assert counts(store_url)["referrals"] == 14
        after = client.get(f"/api/services/{quote(NAME, safe='')}/measures", headers=headers)
    demand = lambda r: sum(day["demand_cases"] for day in json.loads(r.text))  # noqa: E731
    assert demand(after) == demand(before) + 2


def test_the_api_refuses_an_upload_over_the_limit_with_413(web, store_url, monkeypatch):
    monkeypatch.setenv("FLOWCAP_MAX_UPLOAD_MB", "0.0001")
    monkeypatch.setattr(web.state, "upload_limits", UploadLimits.from_environment())
    with TestClient(web) as client:
        response = api_send(client, token_of(web), {"referrals.csv": CLEAN})
    assert response.status_code == 413 and response.json()["problems"]
    assert counts(store_url)["referrals"] == 12


def test_the_api_needs_an_editor_and_files(web):
    with TestClient(web) as client:
        viewer = api_send(client, token_of(web, VIEWER), {"referrals.csv": CLEAN})
        empty = client.post(
            f"/api/services/{quote(NAME, safe='')}/uploads", headers=token_of(web), json={}
        )
    assert viewer.status_code == 403
    assert empty.status_code == 422
    assert empty.json()["problems"][0]["message"].startswith("no files")
