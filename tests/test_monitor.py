"""Daily monitoring (flowcap.monitor): what it finds on the bundled example, checked against a
pandas recount of the raw CSVs; each alert recorded once; delivery to a local webhook and a
local SMTP server, and alerts kept for the next run when a receiver is down."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import threading
from dataclasses import replace
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect

from flowcap.history import open_folder
from flowcap.io.service_yaml import check_service_yaml
from flowcap.model.alerts import AlertSettings
from flowcap.monitor import acknowledge, list_alerts, monitor, send_unsent
from flowcap.monitor.detect import Finding
from flowcap.monitor.notify import SIGNATURE_HEADER, post_webhook
from flowcap.monitor.records import record, unsent
from flowcap.store import Store, schema

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
#: A morning to replay: the data as they stood at the end of Tue 30 Dec 2025.
DAY = date(2025, 12, 30)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example imported once into its own store: (history, store URL)."""
    base = tmp_path_factory.mktemp("monitor")
    folder = base / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY_FILE", str(base / "key"))
        patch.delenv("FLOWCAP_DATABASE_URL", raising=False)
        history = open_folder(folder)
    return history, f"sqlite:///{folder / '.flowcap' / 'flowcap.db'}"


@pytest.fixture
def fresh_store(tmp_path, example):
    """An empty store holding the example's service name (alerts need a service row)."""
    history, _ = example
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    store = Store.open(url)
    with store.engine.begin() as connection:
        connection.execute(schema.services.insert().values(name=history.name))
    store.close()
    return url


def with_alerts(history, **settings):
    service = history.service.model_copy(update={"alerts": AlertSettings(**settings)})
    return replace(history, service=service)


# --- settings ---------------------------------------------------------------------------------


def test_alert_settings_default_to_watching_and_sending_nowhere():
    settings = AlertSettings()
    assert (settings.k, settings.risk_threshold) == (1.5, 0.2)
    assert settings.backlog_threshold_minutes is None
    assert settings.webhook is None and settings.email == ()


def test_the_example_watches_a_2400_minute_backlog_and_sends_nothing(example):
    history, _ = example
    alerts = history.service.alerts
    assert alerts.backlog_threshold_minutes == 2400
    assert alerts.webhook is None and alerts.email == ()


def test_bad_alert_settings_are_problems_at_their_line(tmp_path):
    text = (EXAMPLE / "service.yaml").read_text()
    text = text.replace("  risk_threshold: 0.2 ", "  risk_threshold: 1.2 ")
    text = text.replace("  # email: [manager@example.org]", "  email: [not-an-address]")
    path = tmp_path / "service.yaml"
    path.write_text(text)
    service, problems = check_service_yaml(path)
    assert service is None
    found = {p.column: (p.row, p.message) for p in problems}
    lines = text.splitlines()
    assert "risk_threshold: 1.2" in lines[found["alerts.risk_threshold"][0] - 1]
    assert "not-an-address" in found["alerts.email"][1]


# --- what it finds ----------------------------------------------------------------------------


def recount_first_contacts(
    referred: date, contact_by: date, data_end: date
) -> tuple[int, int, int]:
    """From the raw CSVs: the referrals of ``referred``, those with no session by the end of
    ``contact_by``, and of those, the ones with none by ``data_end``."""
    referrals = pd.read_csv(EXAMPLE / "referrals.csv", parse_dates=["referral_date"])
    sessions = pd.read_csv(EXAMPLE / "sessions.csv", parse_dates=["date"])
    day = referrals[referrals["referral_date"] == pd.Timestamp(referred)]
    mine = sessions[sessions["case_id"].isin(day["case_id"])]
    mine = mine[mine["date"] >= pd.Timestamp(referred)]
    first = mine.groupby("case_id")["date"].min().reindex(day["case_id"])
    late = first.isna() | (first > pd.Timestamp(contact_by))
    waiting = first.isna() | (first > pd.Timestamp(data_end))
    return len(day), int(late.sum()), int((late & waiting).sum())


def test_first_contact_misses_match_a_recount_of_the_csvs(example, fresh_store):
    history, _ = example
    run = monitor(history, day=DAY, checks=("first_contact",), database_url=fresh_store)
    by_key = {a.key: a for a in run.new}
    # Tue 23 Dec: its 2 working days are Wed 24 and Mon 29 (25, 26 Dec bank holidays).
    total, missed, waiting = recount_first_contacts(date(2025, 12, 23), date(2025, 12, 29), DAY)
    assert (total, missed) == (8, 4)
    alert = by_key["first_contact|2025-12-23"]
    assert alert.title == (
        f"first contact: {missed} of {total} referrals of Tue 23 Dec 2025 missed the "
        "2-working-day target"
    )
    assert f"{missed} of the {total} referrals of Tue 23 Dec 2025" in alert.message
    assert "by the end of Mon 29 Dec 2025" in alert.message
    assert f"{waiting} of them are still waiting" in alert.message
    # Every referral day whose deadline fell in the 7 days to 30 Dec, and only those.
    for key, alert in by_key.items():
        referred = date.fromisoformat(key.split("|")[1])
        assert date(2025, 12, 24) <= alert.last_seen <= DAY
        total, missed, _ = recount_first_contacts(referred, alert.last_seen, DAY)
        assert alert.title.startswith(f"first contact: {missed} of {total} referrals")


def test_special_causes_are_the_variation_reports_in_the_bad_direction(example, fresh_store):
    from flowcap.monitor import as_of
    from flowcap.variation import describe_variation

    history, _ = example
    run = monitor(history, day=DAY, checks=("spc",), database_url=fresh_store)
    report = describe_variation(as_of(history, DAY))
    flagged = {
        (f"{a['resource']} {a['measure']}", a["date"], a["direction"]) for a in report.alerts
    } | {(a["chart"], a["date"], a["direction"]) for a in report.referral_alerts}
    assert run.new, "the example's Christmas backlog must alert"
    for alert in run.new:
        _, chart, direction, start = alert.key.split("|")
        assert (chart, start, direction) in flagged
        assert (chart, alert.last_seen.isoformat(), direction) in flagged
        bad = {"backlog": "high", "demand": "high", "activity": "low"}.get(chart.split()[-1])
        assert direction == (bad or "high")
    # The caseworker backlog over its limit from Wed 24 Dec is one alert, told by its latest
    # point (Tue 30 Dec: 1,875 minutes, recounted from the measures).
    measures = as_of(history, DAY).measures.table
    latest = measures[(measures["resource"] == "caseworker") & (measures["date"] == "2025-12-30")]
    caseworker = [a for a in run.new if a.key == "spc|caseworker backlog|high|2025-12-24"]
    assert len(caseworker) == 1
    assert f"{latest['backlog_minutes'].iloc[0]:,.0f} minutes on Tue 30 Dec 2025" in (
        caseworker[0].message
    )


def test_risky_days_are_the_risk_reports_days_above_the_threshold(example, fresh_store):
    from flowcap.monitor import as_of
    from flowcap.plan.risk import assess_risk

    history, _ = example
    run = monitor(history, day=DAY, checks=("risk",), database_url=fresh_store)
    daily = assess_risk(as_of(history, DAY), ks=(1.5,), horizon=14).daily
    above = daily[daily["p"] > 0.2]
    expected = {f"risk|{r.resource}|1.5|{r.date:%Y-%m-%d}" for r in above.itertuples()}
    assert {a.key for a in run.new} == expected
    assert expected
    for alert in run.new:
        _, resource, _, day = alert.key.split("|")
        p = daily[(daily["resource"] == resource) & (daily["date"] == day)]["p"].iloc[0]
        assert f"is {p:.0%}, above the 20% this service alerts at" in alert.message


def test_the_backlog_forecast_alerts_the_resource_over_its_threshold(example, fresh_store):
    history, _ = example
    run = monitor(history, checks=("backlog",), database_url=fresh_store)
    # The caseworker backlog ends the data at 4,530 minutes, over 2,400; IDVA (900) and triage
    # (290) are far under it.
    table = history.measures.table
    end = table[table["date"] == table["date"].max()].set_index("resource")["backlog_minutes"]
    assert end["caseworker"] == 4530 and end["idva"] < 2400 and end["triage"] < 2400
    assert [a.key for a in run.new] == ["backlog|caseworker|2026-01-01"]
    assert "already 4,530 minutes at the end of Wed 31 Dec 2025" in run.new[0].message
    assert "threshold of 2,400 minutes" in run.new[0].message


# --- once -------------------------------------------------------------------------------------


def test_a_second_run_the_same_day_finds_nothing_new(example, fresh_store):
    history, _ = example
    checks = ("spc", "first_contact", "risk")
    first = monitor(history, day=DAY, checks=checks, database_url=fresh_store)
    again = monitor(history, day=DAY, checks=checks, database_url=fresh_store)
    assert first.new and again.new == []
    store = Store.open(fresh_store)
    assert len(list_alerts(store, history.name, limit=None)) == len(first.new)
    store.close()


@pytest.mark.slow
def test_day_by_day_over_the_last_month_raises_each_alert_once(example, fresh_store):
    """Every morning of December 2025, as the data stood: no key twice, a continuing special
    cause never raised again, and every first-contact miss of the month raised once."""
    from flowcap.monitor.detect import first_contact_findings

    history, _ = example
    raised: list = []
    day = date(2025, 12, 1)
    while day <= date(2025, 12, 31):
        run = monitor(history, day=day, checks=("spc", "first_contact"), database_url=fresh_store)
        assert all(a.created_at is not None and a.sent_at is None for a in run.new)
        raised += run.new
        day += timedelta(days=1)
    keys = [a.key for a in raised]
    assert len(keys) == len(set(keys))
    # An episode (chart and direction) is raised again only after a week without it.
    by_episode: dict[str, list] = {}
    for alert in raised:
        if alert.kind == "spc":
            by_episode.setdefault(alert.key.rsplit("|", 1)[0], []).append(alert)
    store = Store.open(fresh_store)
    stored = {a.key: a for a in list_alerts(store, history.name, limit=None)}
    store.close()
    for alerts in by_episode.values():
        for earlier, later in zip(alerts, alerts[1:], strict=False):
            assert later.day > stored[earlier.key].last_seen + timedelta(days=7)
    # Each referral day of the month whose target passed with misses: once, with the full
    # data's count (the misses are known by the deadline).
    final = first_contact_findings(
        history.measures, history.service, date(2025, 12, 31), window_days=31
    )
    assert sorted(f.key for f in final) == sorted(
        a.key for a in raised if a.kind == "first_contact"
    )


# --- delivery ---------------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    posts: list = []
    status = 204

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    handler = type("Hook", (Receiver,), {"posts": [], "status": 204})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Keep(Message):
        def handle_message(self, message):
            received.append(message)

    with socket.socket() as probe:  # a free port (the controller checks it can connect)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    yield received, f"smtp://127.0.0.1:{port}"
    controller.stop()


def findings(n: int = 2) -> list[Finding]:
    return [
        Finding(
            kind="spc",
            key=f"spc|idva backlog|high|2025-12-{10 + i}",
            episode=f"spc|idva backlog|high|{i}",
            day=date(2025, 12, 10 + i),
            last_seen=date(2025, 12, 10 + i),
            title=f"idva backlog: special cause {i}",
            message=f"Idva backlog of {100 * i} minutes is above the upper process limit.",
        )
        for i in range(n)
    ]


def test_the_webhook_gets_signed_json_and_the_email_arrives(
    example, fresh_store, webhook, smtp_server
):
    history, _ = example
    handler, url = webhook
    received, smtp_url = smtp_server
    store = Store.open(fresh_store)
    new = record(store, history.name, findings())
    service = with_alerts(history, webhook=url, email=["manager@example.org"])
    env = {
        "FLOWCAP_WEBHOOK_SECRET": "s3cret",
        "FLOWCAP_SMTP_URL": smtp_url,
        "FLOWCAP_SMTP_FROM": "flowcap@hub.example.org",
        "FLOWCAP_BASE_URL": "https://flowcap.example.org/",
    }
    deliveries = send_unsent(store, service, env=env)
    assert [(d.channel, d.ok) for d in deliveries] == [("webhook", True), ("email", True)]
    ((headers, body),) = handler.posts
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    document = json.loads(body)
    link = "https://flowcap.example.org/services/Northshire%20Victim%20Support%20Hub"
    assert document["dashboard"] == link
    assert [a["id"] for a in document["alerts"]] == [a.id for a in new]
    assert document["alerts"][1]["message"].endswith(f"Dashboard: {link}")
    (mail,) = received
    assert mail["To"] == "manager@example.org"
    assert mail["Subject"] == f"flowcap: 2 new alerts for {history.name}"
    text = mail.get_payload(decode=True).decode()
    assert "Idva backlog of 100 minutes is above the upper process limit." in text
    assert link in text
    assert unsent(store, history.name) == []
    sent = list_alerts(store, history.name)
    assert all(a.sent_at is not None and a.delivered == ("email", "webhook") for a in sent)
    # Nothing is sent twice.
    assert send_unsent(store, service, env=env) == []
    assert len(handler.posts) == 1 and len(received) == 1
    store.close()


def test_a_webhook_that_is_down_loses_nothing(example, fresh_store, webhook):
    history, _ = example
    handler, url = webhook
    store = Store.open(fresh_store)
    record(store, history.name, findings(1))
    service = with_alerts(history, webhook=url)
    handler.status = 503
    waits = []
    (delivery,) = send_unsent(store, service, env={}, sleep=waits.append)
    assert not delivery.ok and "HTTP 503" in delivery.error and "3 tries" in delivery.error
    assert waits == [0.5, 1.0]  # backoff, doubling
    (kept,) = unsent(store, history.name)
    assert kept.send_error.startswith("webhook: HTTP 503") and kept.send_attempts == 1
    # The next run: the receiver is back, and a new alert goes with the old one.
    record(store, history.name, findings(2)[1:])
    handler.status = 200
    (delivery,) = send_unsent(store, service, env={})
    assert delivery.ok
    bodies = [json.loads(body) for _, body in handler.posts]
    assert len(bodies[-1]["alerts"]) == 2
    assert SIGNATURE_HEADER not in handler.posts[-1][0]  # no secret set: unsigned
    assert unsent(store, history.name) == []
    store.close()


def test_an_unreachable_webhook_times_out_and_is_reported_not_raised():
    waits = []
    delivery = post_webhook(
        "http://127.0.0.1:9/", {"alerts": []}, None, timeout=1, sleep=waits.append
    )
    assert not delivery.ok and "ConnectError" in delivery.error
    assert len(waits) == 2


def test_email_without_an_smtp_url_is_reported_and_kept(example, fresh_store):
    history, _ = example
    store = Store.open(fresh_store)
    record(store, history.name, findings(1))
    (delivery,) = send_unsent(store, with_alerts(history, email=["a@example.org"]), env={})
    assert delivery.error == "FLOWCAP_SMTP_URL is not set"
    assert len(unsent(store, history.name)) == 1
    store.close()


def test_acknowledging_keeps_who_and_when(example, fresh_store):
    history, _ = example
    store = Store.open(fresh_store)
    (alert,) = record(store, history.name, findings(1))
    done = acknowledge(store, history.name, alert.id, "manager@example.org")
    assert done.acknowledged_by == "manager@example.org" and done.acknowledged_at is not None
    again = acknowledge(store, history.name, alert.id, "someone@example.org")
    assert again.acknowledged_by == "manager@example.org"
    assert list_alerts(store, history.name, unacknowledged=True) == []
    from flowcap.errors import FlowcapError

    with pytest.raises(FlowcapError, match="has no alert 999"):
        acknowledge(store, history.name, 999, "x")
    store.close()


def test_the_migration_makes_the_schemas_table(fresh_store):
    store = Store.open(fresh_store)
    columns = {c["name"] for c in inspect(store.engine).get_columns("alerts")}
    store.close()
    assert columns == {c.name for c in schema.alerts.c}
    assert {
        "id",
        "service_id",
        "kind",
        "key",
        "day",
        "message",
        "created_at",
        "sent_at",
        "acknowledged_at",
        "acknowledged_by",
    } <= columns
    assert not {c for c in columns if "case" in c}
