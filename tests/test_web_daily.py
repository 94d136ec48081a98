"""Daily figures through the web app (flowcap.web.daily): the page's day picker and form,
errors per field, the confirmation, the dashboard's measures after a save, the audit log,
and ``POST /api/services/{name}/daily``. A store of this module's own, with a service whose
data run to three days ago."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from flowcap.accounts import Accounts
from flowcap.store import Store
from flowcap.web import create_app
from test_daily import KEY, NAME, TODAY, recent_service

PASSWORD = "correct horse battery staple"
EDITOR, VIEWER = "editor@daily.test", "viewer@daily.test"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)


@pytest.fixture
def store_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'flowcap.db'}"
    recent_service(tmp_path / "folder", url)
    store = Store.open(url)
    accounts = Accounts(store)
    for email, role in ((EDITOR, "editor"), (VIEWER, "viewer")):
        accounts.add_user(email, PASSWORD, role=role, service=NAME)
    store.close()
    return url


@pytest.fixture
def web(store_url):
    return create_app(store_url)


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


def token(client, email=EDITOR) -> dict:
    response = client.post("/api/token", data={"username": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def form_of(client, day: date, **fields) -> dict:
    html = client.get(page(f"/daily?day={day}")).text
    return {"csrf_token": csrf_of(html), "day": day.isoformat()} | fields


def audit(url) -> list[dict]:
    store = Store.open(url)
    try:
        return [e for e in Accounts(store).audit_log(NAME) if e["action"] == "daily figures"]
    finally:
        store.close()


def test_the_form_offers_the_last_14_days_and_each_figure(web):
    with signed_in(web) as client:
        response = client.get(page("/daily"))
    assert response.status_code == 200
    body = response.text
    assert f'min="{TODAY - timedelta(days=13)}"' in body and f'max="{TODAY}"' in body
    for field in ("referrals.advocacy", "referrals.outreach", "staff.idva", "sessions.idva.count"):
        assert f'name="{field}"' in body
    assert '<label for="referrals-0">advocacy</label>' in body


def test_saving_a_day_confirms_audits_and_reaches_the_measures(web, store_url):
    day = TODAY - timedelta(days=1)
    with signed_in(web) as client:
        headers = token(client)
        data = form_of(
            client,
            day,
            **{
                "referrals.advocacy": "4",
                "staff.idva": "3",
                "sessions.idva.count": "2",
                "sessions.idva.minutes": "150",
            },
        )
        response = client.post(page("/daily"), data=data)
        assert response.status_code == 200
        assert "Figures saved" in response.text and "referrals advocacy 0 -&gt; 4" in response.text
        row = client.get(f"/api/services/{quote(NAME, safe='')}/measures", headers=headers).json()
        mine = {r["resource"]: r for r in row if r["date"] == day.isoformat()}["idva"]
        assert mine["demand_cases"] == 4 and mine["capacity_minutes"] == 720
        assert mine["activity_minutes"] == 150
        # The day shows its figures for editing.
        again = client.get(page(f"/daily?day={day}")).text
        assert 'name="referrals.advocacy" type="text"' in again
        assert re.search(r'name="referrals.advocacy"[^>]*value="4"', again)
        assert "(entered: correct it below)" in again
    [entry] = audit(store_url)
    assert entry["actor"] == EDITOR
    assert entry["detail"].startswith(f"{day}: referrals advocacy 0 -> 4; staff idva default -> 3")
    assert "daily figures|" not in entry["detail"]


def test_problems_are_listed_by_field_and_nothing_is_stored(web, store_url):
    day = TODAY
    with signed_in(web) as client:
        data = form_of(client, day, **{"referrals.advocacy": "-2", "sessions.idva.count": "x"})
        response = client.post(page("/daily"), data=data)
    assert response.status_code == 422
    body = response.text
    assert 'class="error-summary"' in body
    assert 'href="#referrals-0"' in body and 'href="#sessions-0-count"' in body
    assert 'id="referrals-0-error"' in body and 'aria-invalid="true"' in body
    assert 'value="-2"' in body  # what was typed is kept
    assert audit(store_url) == []


def test_a_day_outside_the_window_is_refused(web):
    old = TODAY - timedelta(days=14)
    with signed_in(web) as client:
        shown = client.get(page(f"/daily?day={old}"))
        assert shown.status_code == 200 and "choose one of the last 14 days" in shown.text
        data = form_of(client, TODAY, **{"referrals.advocacy": "1"}) | {"day": old.isoformat()}
        response = client.post(page("/daily"), data=data)
    assert response.status_code == 422 and "only the last 14 days" in response.text


def test_a_form_without_its_token_changes_nothing(web, store_url):
    with signed_in(web) as client:
        data = form_of(client, TODAY, **{"referrals.advocacy": "1"}) | {"csrf_token": "x"}
        assert client.post(page("/daily"), data=data).status_code == 403
    assert audit(store_url) == []


def test_a_viewer_sees_the_figures_but_no_form(web):
    with signed_in(web, VIEWER) as client:
        response = client.get(page("/daily"))
        assert response.status_code == 200
        assert 'name="referrals.advocacy"' not in response.text
        assert "needs the editor role" in response.text
        html = response.text
        data = {"csrf_token": csrf_of(html), "day": TODAY.isoformat()}
        assert client.post(page("/daily"), data=data).status_code == 403


def test_the_api_stores_a_day_and_answers_422_by_field(web, store_url):
    url = f"/api/services/{quote(NAME, safe='')}/daily"
    day = TODAY - timedelta(days=2)
    with TestClient(web) as client:
        headers = token(client)
        body = {
            "date": day.isoformat(),
            "referrals": {"advocacy": 2, "outreach": 1},
            "staff": {"idva": 1},
            "sessions": {"idva": {"count": 3, "minutes": 120}},
        }
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 200, response.text
        stored = response.json()
        assert stored["date"] == day.isoformat() and stored["entered"] is True
        assert stored["referrals"] == {"advocacy": 2, "outreach": 1}
        assert stored["staff"] == {"idva": 1}
        assert stored["sessions"] == {"idva": {"count": 3, "minutes": 120}}

        bad = {"date": "tomorrow", "referrals": {"burglary": 1}, "staff": {"idva": -1}}
        response = client.post(url, json=bad, headers=headers)
        assert response.status_code == 422
        fields = {p["field"] for p in response.json()["problems"]}
        assert fields == {"date", "referrals.burglary", "staff.idva"}
        assert client.post(url, content=b"{", headers=headers).status_code == 422

        viewer = token(client, VIEWER)
        assert client.post(url, json=body, headers=viewer).status_code == 403
    assert len(audit(store_url)) == 1
    assert json.dumps(stored)  # plain JSON
