"""The alerts page and API (flowcap.web.alerts) through HTTP: a service's alerts newest first,
unacknowledged or all; an editor acknowledges one (CSRF, audited with their email, never the
alert's text), a viewer cannot, an alert of another service is a 404; the API lists them as
``flowcap monitor --json`` writes them. And the alert settings (``alerts:`` in service.yaml)
edited on the settings form, checked by service.yaml's own rules.

The alerts are recorded with :func:`flowcap.monitor.records.record` from findings written
here (day, kind and words known), so that every expectation is worked by hand.
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from conftest import worked_example
from flowcap.accounts import Accounts
from flowcap.documents import AlertRecord
from flowcap.io.service_yaml import read_service_yaml
from flowcap.manage import import_folder
from flowcap.monitor.detect import Finding
from flowcap.monitor.records import alerts_by_id, list_alerts, record
from flowcap.store import Store
from flowcap.web import create_app
from test_web_admin import (
    error_summary,
    form_fields,
    library_problems,
    post_form,
    set_field,
    value_of,
)

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
EXAMPLE = "Northshire Victim Support Hub"
OTHER = "Worked example"
PASSWORD = "correct horse battery staple"
VIEWER = "viewer@northshire.test"
EDITOR = "editor@northshire.test"
ADMIN = "admin@northshire.test"
OUTSIDER = "admin@worked.test"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
RAISED = datetime(2026, 1, 2, 7, 30)


def finding(kind: str, day: date, title: str, message: str) -> Finding:
    return Finding(
        kind=kind,
        key=f"{kind}:{day}",
        episode=f"{kind}:{day}",
        day=day,
        last_seen=day,
        title=title,
        message=message,
    )


#: The example's alerts, in the order recorded (oldest first).
FINDINGS = [
    finding(
        "spc",
        date(2025, 12, 22),
        "IDVA backlog: 6 days in a row above the mean",
        "The IDVA backlog has been above its mean for 6 working days: look at the roster.",
    ),
    finding(
        "risk",
        date(2026, 1, 2),
        "Triage: 87% chance of a bad day on Fri 2 Jan 2026",
        "Demand may pass 1.5 × capacity at triage on Fri 2 Jan 2026 <b>not bold</b>.",
    ),
    finding(
        "backlog",
        date(2026, 1, 9),
        "Caseworker backlog forecast over 2,400 minutes",
        "The caseworker backlog is forecast over its threshold from Fri 9 Jan 2026.",
    ),
]


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("alerts")
    url = f"sqlite:///{folder / 'flowcap.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY", KEY)
        import_folder(EXAMPLE_DIR, database_url=url)
        import_folder(worked_example(folder / "worked"), database_url=url)
    store = Store.open(url)
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    accounts = Accounts(store, hasher=cheap)
    for email, role in ((VIEWER, "viewer"), (EDITOR, "editor"), (ADMIN, "admin")):
        accounts.add_user(email, PASSWORD, role=role, service=EXAMPLE)
    accounts.add_user(OUTSIDER, PASSWORD, role="admin", service=OTHER)
    record(store, EXAMPLE, FINDINGS, now=RAISED)
    record(
        store,
        OTHER,
        [finding("first_contact", date(2025, 6, 3), "Worked: a first contact missed", "Late.")],
        now=RAISED,
    )
    store.close()
    return url


@pytest.fixture(scope="module")
def web(store_url):
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
    assert client.post("/login", data=data).status_code == 303
    return csrf_of(client.get("/services").text)


def path_of(name: str, suffix: str = "") -> str:
    return f"/services/{quote(name, safe='')}{suffix}"


def api_of(name: str, suffix: str = "") -> str:
    return f"/api/services/{quote(name, safe='')}{suffix}"


def bearer(web, email) -> dict:
    accounts = web.state.accounts
    _, secret = accounts.create_api_token(accounts.user(email), "alerts tests")
    return {"Authorization": f"Bearer {secret}"}


def ids_of(web, service=EXAMPLE) -> list[int]:
    """The service's alert ids, newest first (the store's own order)."""
    return [a.id for a in list_alerts(web.state.store, service, limit=None)]


def listed_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="alert-(\d+)">', page)]


def other_alert(web) -> int:
    [alert_id] = ids_of(web, OTHER)
    return alert_id


# --- the page ----------------------------------------------------------------------------------


def test_a_viewer_sees_the_alerts_newest_first_and_cannot_acknowledge(client, web):
    log_in(client, VIEWER)
    page = client.get(path_of(EXAMPLE, "/alerts"))
    assert page.status_code == 200
    newest_first = ids_of(web)
    assert len(newest_first) == 3
    assert listed_ids(page.text) == newest_first
    text = html.unescape(page.text)
    # the kind in words, the day, the title, the message (escaped: no markup gets through)
    assert "Backlog forecast over its threshold" in text and "Fri 09 Jan 2026" in text
    assert "Risky day ahead" in text and "Special cause (SPC)" in text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page.text and "<b>not bold" not in page.text
    assert "02 Jan 2026 at 07:30 UTC" in text  # raised
    assert "Not sent" in text
    assert "/acknowledge" not in page.text  # no buttons for a viewer
    assert "Worked: a first contact missed" not in text


def test_a_viewer_may_not_acknowledge(client, web):
    csrf = log_in(client, VIEWER)
    alert_id = ids_of(web)[0]
    response = client.post(
        path_of(EXAMPLE, f"/alerts/{alert_id}/acknowledge"), data={"csrf_token": csrf}
    )
    assert response.status_code == 403
    assert alerts_by_id(web.state.store, [alert_id])[0].acknowledged_at is None


def test_an_editor_acknowledges_an_alert_once_and_it_is_audited_without_its_text(client, web):
    csrf = log_in(client, EDITOR)
    page = client.get(path_of(EXAMPLE, "/alerts")).text
    spc = ids_of(web)[-1]  # the oldest: the SPC alert of 22 Dec 2025
    assert f'action="/services/{quote(EXAMPLE, safe="")}/alerts/{spc}/acknowledge"' in page
    no_csrf = client.post(path_of(EXAMPLE, f"/alerts/{spc}/acknowledge"), data={})
    assert no_csrf.status_code == 403
    assert alerts_by_id(web.state.store, [spc])[0].acknowledged_at is None
    response = client.post(
        path_of(EXAMPLE, f"/alerts/{spc}/acknowledge"),
        data={"csrf_token": csrf, "show": "unacknowledged"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == path_of(
        EXAMPLE, f"/alerts?show=unacknowledged&done={spc}"
    )
    [alert] = alerts_by_id(web.state.store, [spc])
    assert alert.acknowledged_by == EDITOR and alert.acknowledged_at is not None
    waiting = client.get(response.headers["location"]).text
    assert f"Alert {spc} is acknowledged." in waiting
    assert listed_ids(waiting) == [i for i in ids_of(web) if i != spc]
    everything = client.get(path_of(EXAMPLE, "/alerts?show=all")).text
    assert listed_ids(everything) == ids_of(web)
    row = re.search(rf'<tr id="alert-{spc}">.*?</tr>', everything, re.S).group(0)
    assert EDITOR in row and f"{alert.acknowledged_at:%d %b %Y at %H:%M} UTC" in row
    # again (another editor's stale page): the first acknowledgement stays, audited once
    client.post(path_of(EXAMPLE, f"/alerts/{spc}/acknowledge"), data={"csrf_token": csrf})
    assert alerts_by_id(web.state.store, [spc])[0].acknowledged_at == alert.acknowledged_at
    audited = [
        e for e in web.state.accounts.audit_log(EXAMPLE) if e["action"] == "alert acknowledge"
    ]
    mine = [e for e in audited if f"alert {spc} " in e["detail"]]
    assert len(mine) == 1
    assert mine[0]["actor"] == EDITOR
    assert mine[0]["detail"] == f"alert {spc} (spc, 2025-12-22) acknowledged"


def test_an_alert_of_another_service_is_a_404_and_stays_unacknowledged(client, web):
    csrf = log_in(client, EDITOR)
    foreign = other_alert(web)
    for alert_id in (foreign, 987654):
        response = client.post(
            path_of(EXAMPLE, f"/alerts/{alert_id}/acknowledge"), data={"csrf_token": csrf}
        )
        assert response.status_code == 404
        assert "Worked" not in response.text
    assert alerts_by_id(web.state.store, [foreign])[0].acknowledged_at is None


def test_someone_of_another_service_gets_the_not_found_page(client):
    log_in(client, OUTSIDER)
    response = client.get(path_of(EXAMPLE, "/alerts"))
    assert response.status_code == 404
    assert EXAMPLE not in response.text


# --- the API ----------------------------------------------------------------------------------


def test_the_api_lists_the_alerts_as_monitor_json_writes_them(client, web):
    response = client.get(api_of(EXAMPLE, "/alerts"), headers=bearer(web, VIEWER))
    assert response.status_code == 200
    body = response.json()
    expected = [a.as_json() for a in list_alerts(web.state.store, EXAMPLE, limit=None)]
    assert body == expected
    assert [AlertRecord.model_validate(a).id for a in body] == ids_of(web)
    waiting = client.get(
        api_of(EXAMPLE, "/alerts?show=unacknowledged"), headers=bearer(web, VIEWER)
    ).json()
    assert [a["id"] for a in waiting] == [
        a.id for a in list_alerts(web.state.store, EXAMPLE, unacknowledged=True)
    ]
    assert (
        client.get(api_of(EXAMPLE, "/alerts?limit=1"), headers=bearer(web, VIEWER)).json()
        == (expected[:1])
    )
    assert client.get(api_of(EXAMPLE, "/alerts")).status_code == 401
    outsider = client.get(api_of(EXAMPLE, "/alerts"), headers=bearer(web, OUTSIDER))
    assert outsider.status_code == 404


def test_the_api_acknowledges_for_an_editor_only_and_not_across_services(client, web):
    risk = ids_of(web)[1]
    url = api_of(EXAMPLE, f"/alerts/{risk}/acknowledge")
    assert client.post(url, headers=bearer(web, VIEWER)).status_code == 403
    foreign = api_of(EXAMPLE, f"/alerts/{other_alert(web)}/acknowledge")
    assert client.post(foreign, headers=bearer(web, EDITOR)).status_code == 404
    response = client.post(url, headers=bearer(web, EDITOR))
    assert response.status_code == 200
    alert = AlertRecord.model_validate(response.json())
    assert (alert.id, alert.kind, alert.acknowledged_by) == (risk, "risk", EDITOR)
    assert alerts_by_id(web.state.store, [risk])[0].acknowledged_by == EDITOR


# --- the alert settings ------------------------------------------------------------------------


def test_the_alert_settings_are_edited_on_the_settings_form_and_checked(client, web):
    settings = path_of(EXAMPLE, "/settings")
    log_in(client, ADMIN)
    fields = form_fields(client.get(settings).text, settings)
    shown = yaml.safe_load(value_of(fields, "alerts"))
    assert shown == {"k": 1.5, "risk_threshold": 0.2, "backlog_threshold_minutes": 2400}
    # out of its rules: the library's messages beside the alerts box, nothing saved
    before = web.state.store.settings(EXAMPLE)["service"]["version"]
    set_field(fields, "alerts", "risk_threshold: 1.5\nemail: [not-an-address]\n")
    refused = post_form(client, EXAMPLE, fields)
    assert refused.status_code == 200
    mapping = yaml.safe_load(web.state.store.settings(EXAMPLE)["service"]["content"])
    mapping["alerts"] = {"risk_threshold": 1.5, "email": ["not-an-address"]}
    expected = library_problems(mapping)  # service.yaml's own check of the same
    assert sorted(p.column for p in expected) == ["alerts.email", "alerts.risk_threshold"]
    # each beside the alerts box (it is one YAML part: the key is not named on the form)
    assert sorted(html.unescape(p) for p in error_summary(refused.text)) == sorted(
        f"f-alerts Alerts: {p.message}" for p in expected
    )
    assert web.state.store.settings(EXAMPLE)["service"]["version"] == before
    # within them: saved as a new version that service.yaml's reader reads back
    wanted = (
        "k: 2\nrisk_threshold: 0.3\nbacklog_threshold_minutes: 3000\n"
        "webhook: https://hooks.example.org/flowcap\nemail: [lead@northshire.test]\n"
    )
    set_field(fields, "alerts", wanted)
    saved = post_form(client, EXAMPLE, fields)
    assert saved.status_code == 303, error_summary(saved.text)
    row = web.state.store.settings(EXAMPLE)["service"]
    assert row["version"] == before + 1
    service = read_service_yaml(Path("service.yaml"), row["content"])
    assert service.alerts.k == 2 and service.alerts.risk_threshold == 0.3
    assert service.alerts.backlog_threshold_minutes == 3000
    assert service.alerts.webhook == "https://hooks.example.org/flowcap"
    assert service.alerts.email == ("lead@northshire.test",)
    again = form_fields(client.get(settings).text, settings)
    assert yaml.safe_load(value_of(again, "alerts")) == yaml.safe_load(wanted)
