"""The reports page (flowcap.web.reports) through HTTP: the period form and its defaults (the
CLI's: the month up to the last day of data), a report built as a background job and
watched to the end, the three files downloaded as attachments named as ``flowcap report``
names them and read back (the workbook's daily measures against the measures API for the
same days), a second request for the same period building nothing, the form's errors, the
API's ``report`` job, and a report gone out of date when the data change.

One report is built for the whole module (a report runs the forecast and the simulation:
about half a minute of CPU), with 50 simulated futures; the app runs no worker threads here
(``FLOWCAP_JOB_WORKERS=0``): the tests run the queued jobs themselves
(:func:`flowcap.jobs.work_once`), so nothing builds in the background.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pandas as pd
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from conftest import worked_example
from flowcap import jobs
from flowcap.accounts import Accounts
from flowcap.documents import JobStatus, ReportDocument
from flowcap.manage import import_folder, save_settings
from flowcap.store import Store
from flowcap.web import create_app

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
EXAMPLE = "Northshire Victim Support Hub"
OTHER = "Worked example"
PASSWORD = "correct horse battery staple"
VIEWER = "viewer@northshire.test"
EDITOR = "editor@northshire.test"
OUTSIDER = "admin@worked.test"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#: The example's data run to Wed 31 Dec 2025: the default period is that month.
DEFAULT = ("2025-12-01", "2025-12-31")
FILE_STEM = "northshire-victim-support-hub-report-2025-12-31"
REPLICATIONS = 50


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    url = f"sqlite:///{folder / 'flowcap.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY", KEY)
        import_folder(EXAMPLE_DIR, database_url=url)
        import_folder(worked_example(folder / "worked"), database_url=url)
    store = Store.open(url)
    accounts = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    accounts.add_user(VIEWER, PASSWORD, role="viewer", service=EXAMPLE)
    accounts.add_user(EDITOR, PASSWORD, role="editor", service=EXAMPLE)
    accounts.add_user(OUTSIDER, PASSWORD, role="admin", service=OTHER)
    store.close()
    return url


@pytest.fixture(scope="module")
def small_reports():
    """Reports with 50 simulated futures (the page asks for the default)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(jobs.OPTIONS["report"], "replications", (int, REPLICATIONS))
        yield


@pytest.fixture(scope="module")
def web(store_url, small_reports):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_JOB_WORKERS", "0")
        patch.setenv("FLOWCAP_WARM_CACHE", "0")
        yield create_app(store_url)


@pytest.fixture
def client(web, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    with TestClient(web, follow_redirects=False) as client:
        yield client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, email) -> str:
    form = client.get("/login")
    data = {"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    response = client.post("/login", data=data)
    assert response.status_code == 303
    return csrf_of(client.get("/services").text)


def path_of(name: str, suffix: str = "") -> str:
    return f"/services/{quote(name, safe='')}{suffix}"


def bearer(web, email) -> dict:
    accounts = web.state.accounts
    _, secret = accounts.create_api_token(accounts.user(email), "reports tests")
    return {"Authorization": f"Bearer {secret}"}


def form_value(page: str, field: str) -> str:
    return re.search(rf'<input id="{field}" name="{field}" type="date" value="([^"]*)"', page)[1]


def error_summary(page: str) -> list[str]:
    summary = re.search(r'<div class="error-summary".*?</div>', page, flags=re.S)
    if summary is None:
        return []
    return [
        f"{target} {re.sub(r'<[^>]+>', '', text).strip()}"
        for target, text in re.findall(r'<a href="#([^"]+)">(.*?)</a>', summary.group(0), re.S)
    ]


def report_jobs(web) -> list[jobs.Job]:
    return jobs.report_jobs(web.state.store, EXAMPLE, limit=50)


@pytest.fixture(scope="module")
def built(web, store_url):
    """The viewer asks for the default period's report from the page; it is queued (the
    page polls), then run: the job and the page as the viewer then sees it."""
    with TestClient(web, follow_redirects=False) as client, pytest.MonkeyPatch.context() as p:
        p.setenv("FLOWCAP_KEY", KEY)
        csrf = log_in(client, VIEWER)
        page = client.get(path_of(EXAMPLE, "/reports")).text
        form = {"csrf_token": csrf, "from": form_value(page, "from"), "to": form_value(page, "to")}
        response = client.post(path_of(EXAMPLE, "/reports"), data=form)
        assert response.status_code == 303, error_summary(response.text)
        queued_page = client.get(response.headers["location"]).text
        [job] = report_jobs(web)
        assert job.status == "queued"
        ran = jobs.work_once(web.state.store)
        assert ran.id == job.id and ran.status == "done", ran.error
        ready_page = client.get(response.headers["location"]).text
    return {
        "job": jobs.get_job(web.state.store, job.id),
        "form": form,
        "location": response.headers["location"],
        "queued_page": queued_page,
        "ready_page": ready_page,
    }


# --- the form -----------------------------------------------------------------------------------


def test_the_form_defaults_to_the_month_up_to_the_last_day_of_data(client):
    log_in(client, VIEWER)
    page = client.get(path_of(EXAMPLE, "/reports"))
    assert page.status_code == 200
    assert (form_value(page.text, "from"), form_value(page.text, "to")) == DEFAULT
    assert 'min="2025-01-01"' in page.text or "The data run from" in page.text
    assert "Build the report" in page.text


def test_the_page_and_the_download_are_a_404_for_a_service_one_does_not_belong_to(client):
    log_in(client, OUTSIDER)
    for suffix in ("/reports", "/reports/download?format=pdf"):
        response = client.get(path_of(EXAMPLE, suffix))
        assert response.status_code == 404
        assert EXAMPLE not in response.text


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2025-12-31", "2025-12-01", "from First day: 2025-12-31 is after the last day"),
        ("2026-01-01", "2026-01-31", "to Last day: must be on or before 31 Dec 2025"),
        ("1 Dec", "2025-12-31", "from Enter the first day as a date, like 2025-12-01"),
        ("2019-01-01", "2025-12-31", "from First day: 2019-01-01 is before the first day"),
    ],
)
def test_a_bad_period_is_named_in_the_error_summary_and_nothing_is_queued(
    client, web, start, end, expected
):
    csrf = log_in(client, VIEWER)
    before = len(report_jobs(web))
    response = client.post(
        path_of(EXAMPLE, "/reports"), data={"csrf_token": csrf, "from": start, "to": end}
    )
    assert response.status_code == 422
    [problem] = error_summary(response.text)
    assert problem.startswith(expected), problem
    assert len(report_jobs(web)) == before


def test_a_form_without_its_csrf_token_queues_nothing(client, web):
    log_in(client, VIEWER)
    before = len(report_jobs(web))
    response = client.post(path_of(EXAMPLE, "/reports"), data={"from": DEFAULT[0]})
    assert response.status_code == 403
    assert len(report_jobs(web)) == before


# --- building and downloading -------------------------------------------------------------------


def test_the_page_shows_the_report_being_built_then_its_downloads(built):
    queued = built["queued_page"]
    assert "Waiting to start" in queued
    assert 'id="reports-status" hx-get=' in queued  # polls itself while it is built
    ready = built["ready_page"]
    assert 'id="reports-status" hx-get=' not in ready
    assert "Ready" in ready
    for fmt in ("html", "pdf", "xlsx"):
        link = f"/reports/download?format={fmt}&amp;from={DEFAULT[0]}&amp;to={DEFAULT[1]}"
        assert link in ready


def test_the_job_keeps_the_report_document_and_its_options(built):
    job = built["job"]
    assert job.options == {
        "from": DEFAULT[0],
        "to": DEFAULT[1],
        "replications": REPLICATIONS,
        "seed": 0,
    }
    document = ReportDocument.model_validate(job.result)
    assert (str(document.period.start), str(document.period.end)) == DEFAULT
    # the 31 days before the period: 31 Oct to 30 Nov 2025
    assert (str(document.previous.start), str(document.previous.end)) == (
        "2025-10-31",
        "2025-11-30",
    )
    assert str(document.data_end) == DEFAULT[1]
    assert [f.format for f in document.files] == ["html", "pdf", "xlsx"]
    assert [f.file_name for f in document.files] == [
        f"{FILE_STEM}.{fmt}" for fmt in ("html", "pdf", "xlsx")
    ]
    assert document.summary[0].startswith(
        "This report covers Mon 01 Dec 2025 to Wed 31 Dec 2025 (31 days)"
    )
    # the page shows the summary as the report says it
    page = html.unescape(built["ready_page"])
    for sentence in document.summary:
        assert sentence in page


@pytest.mark.parametrize(
    ("fmt", "media"),
    [
        ("html", "text/html; charset=utf-8"),
        ("pdf", "application/pdf"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
def test_each_format_downloads_as_an_attachment_named_as_the_cli_names_it(
    client, built, fmt, media
):
    log_in(client, VIEWER)
    response = client.get(
        path_of(EXAMPLE, f"/reports/download?format={fmt}&from={DEFAULT[0]}&to={DEFAULT[1]}")
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == media
    assert response.headers["content-disposition"] == (f'attachment; filename="{FILE_STEM}.{fmt}"')
    assert response.headers["cache-control"] == "no-store"
    listed = {f["format"]: f for f in built["job"].result["files"]}[fmt]
    assert len(response.content) == listed["size_bytes"]
    assert hashlib.sha256(response.content).hexdigest() == listed["sha256"]
    start = {"html": b"<!doctype html>", "pdf": b"%PDF-", "xlsx": b"PK\x03\x04"}[fmt]
    assert response.content[:20].lower().startswith(start.lower())
    # without the period: the default one, the same file
    default = client.get(path_of(EXAMPLE, f"/reports/download?format={fmt}"))
    assert default.content == response.content


def test_the_html_holds_the_summary_and_its_charts_inline(client, built):
    log_in(client, VIEWER)
    page = client.get(path_of(EXAMPLE, "/reports/download?format=html")).text
    for sentence in built["job"].result["summary"]:
        assert sentence in html.unescape(page)
    assert page.count("data:image/") >= 3  # the charts, inline: it opens offline
    assert "<script" not in page


def test_the_workbooks_daily_measures_are_the_measures_apis_for_the_period(web, client, built):
    log_in(client, VIEWER)
    data = client.get(path_of(EXAMPLE, "/reports/download?format=xlsx")).content
    book = openpyxl.load_workbook(io.BytesIO(data))
    summary = [row[0] for row in book["Summary"].iter_rows(values_only=True) if row[0]]
    for sentence in built["job"].result["summary"]:
        assert sentence in summary
    sheet = book["Measures"]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(i for i, row in enumerate(rows) if row and row[0] == "date")
    daily = pd.DataFrame(rows[header + 1 :], columns=rows[header]).dropna(subset=["date"])
    api = client.get(
        path_of(EXAMPLE, f"/measures?from={DEFAULT[0]}&to={DEFAULT[1]}").replace(
            "/services", "/api/services"
        ),
        headers=bearer(web, VIEWER),
    ).json()
    expected = pd.DataFrame(api)
    assert len(daily) == len(expected) == 31 * 3  # 31 days × triage, idva, caseworker
    daily["date"] = pd.to_datetime(daily["date"]).dt.strftime("%Y-%m-%d")
    key = ["date", "resource"]
    merged = expected.merge(daily, on=key, suffixes=("", "_xlsx"))
    assert len(merged) == len(expected)
    for column in ("demand_minutes", "capacity_minutes", "activity_minutes", "backlog_minutes"):
        assert merged[column].to_numpy() == pytest.approx(
            merged[f"{column}_xlsx"].astype(float).to_numpy()
        ), column


def test_asking_again_for_the_same_period_builds_nothing(client, web, built):
    csrf = log_in(client, EDITOR)
    before = [job.id for job in report_jobs(web)]
    response = client.post(path_of(EXAMPLE, "/reports"), data={**built["form"], "csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == built["location"]
    assert [job.id for job in report_jobs(web)] == before


def test_a_period_with_no_report_sends_the_download_back_to_the_page(client, built):
    log_in(client, VIEWER)
    response = client.get(
        path_of(EXAMPLE, "/reports/download?format=pdf&from=2025-11-01&to=2025-11-30")
    )
    assert response.status_code == 303
    target = response.headers["location"]
    assert target == path_of(EXAMPLE, "/reports?from=2025-11-01&to=2025-11-30&missing=pdf")
    page = client.get(target).text
    assert "There is no report of Sat 01 Nov 2025 to Sun 30 Nov 2025" in page
    assert form_value(page, "from") == "2025-11-01"
    # no format, or an unknown one: the page
    for query in ("", "?format=docx"):
        response = client.get(path_of(EXAMPLE, f"/reports/download{query}"))
        assert response.status_code == 303
        assert response.headers["location"] == path_of(EXAMPLE, "/reports")


def test_the_run_is_audited_with_the_viewers_email(web, built):
    entries = [e for e in web.state.accounts.audit_log(EXAMPLE) if e["action"] == "run"]
    job = built["job"]
    assert any(
        e["actor"] == VIEWER and e["detail"] == f"report job {job.id}: {DEFAULT[0]} to {DEFAULT[1]}"
        for e in entries
    )


# --- the API -----------------------------------------------------------------------------------


def test_the_jobs_api_gives_the_report_document_without_the_files(client, web, built):
    job = built["job"]
    response = client.get(f"/api/jobs/{job.id}", headers=bearer(web, VIEWER))
    assert response.status_code == 200
    status = JobStatus.model_validate(response.json())
    assert status.kind == "report" and isinstance(status.result, ReportDocument)
    assert len(response.content) < 20_000  # the summary and the file list, not the files


def test_an_editor_queues_a_report_through_the_api_and_bad_options_are_named(client, web, built):
    headers = bearer(web, EDITOR)
    url = f"/api/services/{quote(EXAMPLE, safe='')}/jobs"
    bad = client.post(
        url, json={"kind": "report", "options": {"from": "December"}}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == "from must be a day as YYYY-MM-DD, not 'December'"
    unknown = client.post(url, json={"kind": "report", "options": {"k": 2}}, headers=headers)
    assert (
        unknown.status_code == 422
        and "its options: from, to, replications, seed" in (unknown.json()["detail"])
    )
    viewer = client.post(url, json={"kind": "report", "options": {}}, headers=bearer(web, VIEWER))
    assert viewer.status_code == 403
    accepted = client.post(
        url,
        json={"kind": "report", "options": {"from": "2025-11-01", "to": "2025-11-30"}},
        headers=headers,
    )
    assert accepted.status_code == 202
    queued = client.get(f"/api/jobs/{accepted.json()['id']}", headers=headers).json()
    assert JobStatus.model_validate(queued).options == {
        "from": "2025-11-01",
        "to": "2025-11-30",
        "replications": REPLICATIONS,
        "seed": 0,
    }
    # the page lists it as waiting, for its period
    log_in(client, VIEWER)
    page = client.get(path_of(EXAMPLE, "/reports")).text
    assert "Sat 01 Nov 2025 to Sun 30 Nov 2025" in page and "Waiting to start" in page


# --- out of date ---------------------------------------------------------------------------------


def test_a_report_built_before_the_data_changed_is_out_of_date_and_not_downloaded(
    client, web, store_url, built, monkeypatch
):
    """Last: it changes the example's settings."""
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    stored = web.state.store.settings(EXAMPLE)["scenarios"]["content"]
    version = save_settings(
        EXAMPLE,
        "scenarios",
        stored + b"\n# reviewed\n",
        database_url=store_url,
        saved_by="someone@northshire.test",
    )
    assert version is not None
    log_in(client, VIEWER)
    page = client.get(path_of(EXAMPLE, "/reports")).text
    assert "Out of date" in page
    assert "/reports/download?format=pdf" not in page
    response = client.get(path_of(EXAMPLE, "/reports/download?format=pdf"))
    assert response.status_code == 303
    assert "missing=pdf" in response.headers["location"]


def test_a_report_job_is_not_a_planner_run(client, built):
    """The planner lists simulations and plans only; a report job's address leads to the
    reports page (its page of its own would have read the report as a plan)."""
    job = built["job"]
    log_in(client, EDITOR)
    planner = client.get(path_of(EXAMPLE, "/planner"))
    assert f'/jobs/{job.id}"' not in planner.text
    answer = client.get(path_of(EXAMPLE, f"/jobs/{job.id}"), follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == path_of(EXAMPLE, "/reports")
