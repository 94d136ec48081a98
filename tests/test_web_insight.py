"""The dashboard's SPC alerts and days ahead, the services page's trend and alerts, and the
process map page, through HTTP (flowcap.web.pages, flowcap.web.processmap, flowcap.web.cache).

The numbers are the library's: :func:`flowcap.variation.describe_variation` and
:func:`flowcap.plan.risk.assess_risk` (``flowcap variation --json``, ``flowcap risk --horizon
28 --json``) on the stored service, and :func:`flowcap.processmap.process_map` of its stored
event log (``flowcap processmap --service NAME --json``). One store per module: the bundled
example and its event-log twin, a viewer of both and a viewer of the first only.
"""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from flowcap.accounts import Accounts
from flowcap.history import open_event_log, open_stored
from flowcap.manage import import_folder
from flowcap.plan.risk import DEFAULT_KS, assess_risk, format_every
from flowcap.processmap import process_map
from flowcap.report.process_map import format_hours
from flowcap.store import Store
from flowcap.variation import describe_variation
from flowcap.web import cache as cache_module
from flowcap.web import create_app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE = "Northshire Victim Support Hub"
LOGGED = "Northshire Victim Support Hub (event log)"
PASSWORD = "correct horse battery staple"
VIEWER = "viewer@northshire.test"
LOG_VIEWER = "log.viewer@northshire.test"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
WAIT_S = 180


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("insight")
    url = f"sqlite:///{folder / 'flowcap.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY", KEY)
        import_folder(EXAMPLES / "victim-support", database_url=url)
        import_folder(EXAMPLES / "victim-support-log", database_url=url)
    store = Store.open(url)
    accounts = Accounts(store)
    accounts.add_user(VIEWER, PASSWORD, role="viewer", service=EXAMPLE)
    accounts.add_user(LOG_VIEWER, PASSWORD, role="viewer", service=LOGGED)
    accounts.grant(LOG_VIEWER, EXAMPLE, "viewer")
    store.close()
    return url


@pytest.fixture(scope="module")
def library(store_url):
    """What the CLI's library calls give for both services (computed once)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY", KEY)
        found = {}
        for name in (EXAMPLE, LOGGED):
            history = open_stored(name, store_url)
            found[name] = {
                "variation": describe_variation(history),
                "risk": assess_risk(history, DEFAULT_KS, 28),
                "table": history.require_measures("test").table,
            }
        events = open_event_log(LOGGED, database_url=store_url, by_name=True)
        found["map"] = process_map(events.sorted_events())
    return found


@pytest.fixture
def counted(monkeypatch):
    """Counts of the cache's calls of the two slow library functions."""
    calls = {"variation": 0, "risk": 0}
    variation, risk = cache_module.describe_variation, cache_module.assess_risk

    def count_variation(*args, **kwargs):
        calls["variation"] += 1
        return variation(*args, **kwargs)

    def count_risk(*args, **kwargs):
        calls["risk"] += 1
        return risk(*args, **kwargs)

    monkeypatch.setattr(cache_module, "describe_variation", count_variation)
    monkeypatch.setattr(cache_module, "assess_risk", count_risk)
    return calls


@pytest.fixture
def client(store_url, monkeypatch):
    """A fresh app (an empty cache) on the module's store."""
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    with TestClient(create_app(store_url)) as client:
        yield client


def log_in(client, email=VIEWER):
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    data = {"email": email, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303


def path_of(name: str, suffix: str = "") -> str:
    return f"/services/{quote(name, safe='')}{suffix}"


def ready(client, name: str):
    state = client.app.state.cache.insight(name, wait=WAIT_S)
    assert state.status == "ready", state
    return state.insight


def text_of(page: str) -> str:
    """The page's text with its tags out and its entities read (for comparing sentences)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def percent(p: float) -> str:
    """As the dashboard writes a probability."""
    if p == 0:
        return "0%"
    if p < 0.001:
        return "under 0.1%"
    return f"{p * 100:.1f}%" if p < 0.1 else f"{p * 100:.0f}%"


# --- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_shows_the_alerts_and_risks_of_the_library_computed_once(
    client, library, counted
):
    log_in(client)
    first = client.get(path_of(EXAMPLE))
    assert first.status_code == 200
    # not computed in the request: the page says so and loads the fragment when ready
    assert "being calculated" in first.text
    assert f'hx-get="{path_of(EXAMPLE, "/insight")}"' in first.text
    insight = ready(client, EXAMPLE)

    fragment = client.get(path_of(EXAMPLE, "/insight"), headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "being calculated" not in fragment.text
    again = client.get(path_of(EXAMPLE))
    assert "being calculated" not in again.text  # warm: all of it in the page at once
    text = text_of(again.text)

    variation = library[EXAMPLE]["variation"]
    named = [{**a, "chart": f"{a['resource']} {a['measure']}"} for a in variation.alerts]
    alerts = sorted(
        named + variation.referral_alerts,
        key=lambda a: (a["date"], a["chart"], a["rule"]),
        reverse=True,
    )
    shown = text[text.index("Latest SPC alerts") : text.index("Each chart now")]
    at = 0
    for alert in alerts[:8]:  # newest first
        found = shown.find(alert["message"], at)
        assert found >= 0, alert
        at = found
    assert alerts[8]["message"] not in shown
    assert f"{len(alerts):,} special-cause points in all" in text
    for row in variation.chart_summaries():  # each chart's variation icon, in words
        assert re.search(rf"{re.escape(row['chart'])} .*? {re.escape(row['variation'])}", text)

    risks = [r for r in library[EXAMPLE]["risk"].risks if r.k == 1.5]
    assert {r.resource for r in risks} == {"triage", "idva", "caseworker"}
    for risk in risks:
        every = format_every(risk.once_every_working_days)
        riskiest = "; ".join(
            f"{day:%a %d %b %Y} ({percent(p)})" for day, p in risk.riskiest_dates[:3]
        )
        row = (
            f"{risk.resource} {percent(risk.p_per_working_day)} {every} working days "
            f"{percent(risk.p_empirical)}"
        )
        assert row in text
        assert riskiest in text
        assert risk.sentence() in text
    assert insight.risk.as_json() == library[EXAMPLE]["risk"].as_json()

    for _ in range(3):
        client.get(path_of(EXAMPLE))
        client.get(path_of(EXAMPLE, "/insight"), headers={"HX-Request": "true"})
        client.get("/services")
    assert counted == {"variation": 1, "risk": 1}


def test_the_insight_without_htmx_is_a_page_of_its_own(client):
    log_in(client)
    page = client.get(path_of(EXAMPLE, "/insight"))
    assert page.status_code == 200
    assert "<h1>" in page.text and "being calculated" in page.text
    ready(client, EXAMPLE)
    page = client.get(path_of(EXAMPLE, "/insight"))
    assert "<h1>" in page.text and "Latest SPC alerts" in page.text


def test_a_new_import_is_calculated_again(client, store_url, counted, monkeypatch):
    log_in(client)
    ready(client, EXAMPLE)
    assert counted["variation"] == 1
    cache = client.app.state.cache
    revision = cache.revision(EXAMPLE)
    # a new revision (as an import or settings change makes): the old result is not shown
    monkeypatch.setattr(
        type(cache), "revision", lambda self, name: type(revision)((*revision.key, 1), None)
    )
    assert cache.insight(EXAMPLE, start=False).status == "calculating"
    ready(client, EXAMPLE)
    assert counted["variation"] == 2


# --- the services page --------------------------------------------------------------------------


def test_the_services_page_gives_the_backlog_trend_and_the_recent_alerts(client, library):
    log_in(client)
    page = client.get("/services")
    assert "SPC alerts: still being calculated" in page.text
    ready(client, EXAMPLE)
    text = text_of(client.get("/services").text)

    table = library[EXAMPLE]["table"]
    last = table["date"].max()
    before = last - timedelta(days=28)
    for resource in ("triage", "idva", "caseworker"):
        rows = table[table["resource"] == resource].set_index("date")["backlog_minutes"]
        now, then = rows[last], rows[before]
        word = "up" if now > then * 1.05 else "down" if now < then * 0.95 else "about the same"
        assert (
            f"{resource} backlog {word}: {now:,.0f} minutes now, {then:,.0f} on "
            f"{before:%a %d %b %Y} (4 weeks before)"
        ) in text
    assert "idva backlog up" in text  # the example ends with its IDVAs behind

    variation = library[EXAMPLE]["variation"]
    since = (last - timedelta(days=27)).date().isoformat()
    recent = sum(a["date"] >= since for a in variation.alerts + variation.referral_alerts)
    assert recent > 0
    assert f"{recent:,} SPC alerts in the last 4 weeks of data" in text


# --- the process map ----------------------------------------------------------------------------


def test_the_process_map_page_draws_the_map_and_the_librarys_tables(client, library):
    log_in(client, LOG_VIEWER)
    page = client.get(path_of(LOGGED, "/processmap"))
    assert page.status_code == 200
    pmap = library["map"]
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    # inline SVG with no script: no script element, no event handler attribute, no link
    assert "<script" not in svg.lower() and "<a " not in svg
    assert not re.search(r"<[^>]*\son\w+\s*=", svg)
    assert "Content-Security-Policy" in page.headers
    text = text_of(page.text)
    assert f"{pmap.n_cases:,} cases, {pmap.n_events:,} events" in text

    def section(heading: str) -> str:
        start = text.index(heading)
        ends = [text.find(h, start + 1) for h in ("Longest delays", "Rework loops")]
        return text[start : min([e for e in ends if e > start] + [len(text)])]

    bottlenecks = section("Where the waiting accumulates")
    edges = pmap.edges.set_index(["from", "to"])
    at = 0
    for row in pmap.bottlenecks.head(10).itertuples(index=False):
        edge = edges.loc[(row[1], row.to)]
        cells = (
            f"{row.rank} {row[1]} {row.to} {int(edge['count']):,} {int(edge['cases']):,} "
            f"{format_hours(edge['median_wait_hours'])} {format_hours(edge['p90_wait_hours'])} "
            f"{row.share:.0%}"
        )
        found = bottlenecks.find(cells, at)
        assert found >= 0, cells  # in the library's order
        at = found
    delays = section("Longest delays")
    for row in pmap.longest_delays.head(10).itertuples(index=False):
        assert (
            f"{row[0]} {row.to} {int(row.count):,} {int(row.cases):,} "
            f"{format_hours(row.median_wait_hours)} {format_hours(row.p90_wait_hours)}"
        ) in delays
    rework = section("Rework loops")
    if pmap.rework.empty:
        assert "No rework loops" in rework
    for row in pmap.rework.head(10).itertuples(index=False):
        loop = f"{row[1]} ↺" if row.kind == "self-loop" else f"{row[1]} → {row.to} → {row[1]}"
        assert f"{row.kind} {loop} {int(row.count):,} {int(row.cases):,}" in rework


def test_a_service_without_an_event_log_says_so(client):
    log_in(client)
    page = client.get(path_of(EXAMPLE, "/processmap"))
    assert page.status_code == 200
    assert "This service has no event log" in page.text
    assert "<svg" not in page.text


def test_the_process_map_of_a_service_one_may_not_see_is_not_found(client):
    log_in(client)
    assert client.get(path_of(LOGGED, "/processmap")).status_code == 404
    assert client.get(path_of(LOGGED, "/insight")).status_code == 404


def test_the_process_map_is_drawn_once_per_revision(client, monkeypatch):
    log_in(client, LOG_VIEWER)
    calls = []
    real = cache_module.process_map
    monkeypatch.setattr(cache_module, "process_map", lambda e: calls.append(1) or real(e))
    for _ in range(3):
        assert client.get(path_of(LOGGED, "/processmap")).status_code == 200
    assert len(calls) == 1


# --- warming on start ---------------------------------------------------------------------------


def test_the_app_warms_every_service_when_it_starts(store_url, monkeypatch, counted):
    """With warming on (the default outside the tests), starting the app measures both
    services and computes their insight in the background: the first visitor's pages then
    measure nothing and say nothing is being calculated."""
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    monkeypatch.setenv("FLOWCAP_WARM_CACHE", "1")
    with TestClient(create_app(store_url)) as client:
        warmer = [t for t in threading.enumerate() if t.name == "flowcap-warm-cache"]
        assert len(warmer) == 1
        warmer[0].join(WAIT_S)
        assert not warmer[0].is_alive()
        cache = client.app.state.cache
        for name in (EXAMPLE, LOGGED):
            assert cache.insight(name, start=False).status == "ready"
        assert counted == {"variation": 2, "risk": 2}

        measured = []
        real_measure = cache_module.measure
        monkeypatch.setattr(
            cache_module, "measure", lambda *a, **k: measured.append(1) or real_measure(*a, **k)
        )
        log_in(client)
        page = client.get(path_of(EXAMPLE))
        assert page.status_code == 200 and "being calculated" not in page.text
        assert "SPC alerts: still being calculated" not in client.get("/services").text
        assert measured == [] and counted == {"variation": 2, "risk": 2}
