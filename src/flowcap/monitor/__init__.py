"""Daily monitoring: what is new in a service's data since the last run, recorded once and,
when asked, sent to the people who should act on it (``flowcap monitor``).

Meant to run each morning after the day's import::

    from flowcap.monitor import monitor
    run = monitor(history, notify=True)        # history: flowcap.open(...)
    run.new                                    # the alerts first found by this run

:func:`monitor` runs the checks of :mod:`flowcap.monitor.detect` on the library's own results
(:func:`flowcap.variation.describe_variation`, :func:`flowcap.plan.risk.assess_risk`, the
daily Monte Carlo, the measures' first contacts), records what is new in the store's
``alerts`` table (:mod:`flowcap.monitor.records`: each alert once) and, with ``notify``,
sends every alert not yet delivered to the service's webhook and email addresses
(:mod:`flowcap.monitor.notify`): this run's and any an earlier run could not send.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from flowcap.errors import FlowcapError
from flowcap.monitor.detect import (
    CHECKS,
    HORIZON_DAYS,
    Finding,
    backlog_findings,
    first_contact_findings,
    risk_findings,
    spc_findings,
)
from flowcap.monitor.notify import (
    Delivery,
    dashboard_url,
    email_message,
    payload,
    post_webhook,
    send_email,
    smtp_sender,
)
from flowcap.monitor.records import (
    Alert,
    acknowledge,
    list_alerts,
    mark_delivery,
    record,
    unsent,
)
from flowcap.progress import Progress, quiet
from flowcap.store import Store

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory

__all__ = [
    "CHECKS",
    "Alert",
    "Delivery",
    "Finding",
    "MonitorRun",
    "ServiceOutcome",
    "acknowledge",
    "find",
    "list_alerts",
    "monitor",
    "monitor_all",
    "open_alert_store",
    "send_unsent",
]


@dataclass
class MonitorRun:
    """What one run did: the service, the last day of its data, the alerts it found first
    (``new``), and with ``notify`` each channel's delivery and the alerts still unsent."""

    service: str
    data_end: date
    new: list[Alert]
    deliveries: list[Delivery] = field(default_factory=list)
    unsent: list[Alert] = field(default_factory=list)
    notified: bool = False

    def as_json(self) -> dict:
        return {
            "service": self.service,
            "data_end": self.data_end.isoformat(),
            "new": [alert.as_json() for alert in self.new],
            "notified": self.notified,
            "deliveries": [
                {"channel": d.channel, "to": d.target, "delivered": d.ok, "error": d.error}
                for d in self.deliveries
            ],
            "unsent": [alert.id for alert in self.unsent],
        }


def find(
    history: ServiceHistory,
    checks: Sequence[str] = CHECKS,
    progress: Progress = quiet,
) -> list[Finding]:
    """Every finding of the ``checks`` on ``history`` (see :mod:`flowcap.monitor.detect`)."""
    from flowcap.plan.risk import assess_risk
    from flowcap.variation import describe_variation

    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise FlowcapError(f"unknown check {unknown[0]!r}; the checks are: {', '.join(CHECKS)}")
    service = history.service
    settings = service.alerts
    measures = history.require_measures("monitoring")
    data_end = measures.table["date"].max().date()
    found: list[Finding] = []
    if "spc" in checks:
        progress("Looking for special causes")
        found += spc_findings(describe_variation(history), service, data_end)
    if "risk" in checks:
        progress("Assessing the risk of bad days ahead")
        report = assess_risk(history, ks=(settings.k,), horizon=HORIZON_DAYS)
        found += risk_findings(report, settings.k, settings.risk_threshold)
    if "backlog" in checks and settings.backlog_threshold_minutes is not None:
        found += backlog_findings(history, settings.backlog_threshold_minutes, progress=progress)
    if "first_contact" in checks:
        found += first_contact_findings(measures, service, data_end)
    return found


def as_of(history: ServiceHistory, day: date) -> ServiceHistory:
    """The history as it stood at the end of ``day``: referrals and sessions after it left out
    (the roster, which plans the days ahead, and the opening waiting list kept). For replaying
    past mornings."""
    import pandas as pd

    tables = history.tables
    end = pd.Timestamp(day)
    cut = replace(
        tables,
        referrals=tables.referrals[tables.referrals["referral_date"] <= end],
        sessions=None
        if tables.sessions is None
        else tables.sessions[tables.sessions["date"] <= end],
    )
    return replace(history, tables=cut)


def open_alert_store(history: ServiceHistory, database_url: str | None = None) -> Store:
    """The store holding the service's alerts: ``database_url``, else the folder's store
    (``FLOWCAP_DATABASE_URL`` or its ``.flowcap/``), else the default store."""
    from flowcap.store import database_url as folder_url
    from flowcap.store import default_database_url

    if database_url is None:
        database_url = (
            folder_url(history.folder)
            if history.folder is not None
            else default_database_url(create=False)
        )
    return Store.open(database_url, existing=True)


def monitor(
    history: ServiceHistory,
    *,
    notify: bool = False,
    day: date | None = None,
    checks: Sequence[str] = CHECKS,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    progress: Progress = quiet,
) -> MonitorRun:
    """Run the checks on ``history`` (as it stood at the end of ``day``, when given), record
    the new alerts and, with ``notify``, send every alert not yet delivered.

    ``env`` holds ``FLOWCAP_WEBHOOK_SECRET``, ``FLOWCAP_SMTP_URL``, ``FLOWCAP_SMTP_FROM`` and
    ``FLOWCAP_BASE_URL`` (by default the process's environment). Delivery failures are in
    the run's ``deliveries``, never raised.
    """
    env = os.environ if env is None else env
    if day is not None:
        history = as_of(history, day)
    findings = find(history, checks, progress)
    data_end = history.require_measures("monitoring").table["date"].max().date()
    store = open_alert_store(history, database_url)
    try:
        progress("Recording alerts")
        new = record(store, history.name, findings, now=now)
        run = MonitorRun(history.name, data_end, new)
        if notify:
            run.deliveries = send_unsent(store, history, env=env, now=now)
            run.notified = True
            run.unsent = unsent(store, history.name)
    finally:
        store.close()
    return run


def send_unsent(
    store: Store,
    history: ServiceHistory,
    *,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    sleep=None,
) -> list[Delivery]:
    """Send the service's alerts not yet delivered to each of its channels; one delivery per
    channel tried (none when nothing is waiting or the service has no channel)."""
    env = os.environ if env is None else env
    settings = history.service.alerts
    channels = [c for c, on in (("webhook", settings.webhook), ("email", settings.email)) if on]
    waiting = unsent(store, history.name)
    if not channels or not waiting:
        return []
    link = dashboard_url(history.name, env)
    deliveries = []
    for channel in channels:
        pending = [a for a in waiting if channel not in a.delivered]
        if not pending:
            continue
        if channel == "webhook":
            keywords = {} if sleep is None else {"sleep": sleep}
            delivery = post_webhook(
                settings.webhook,
                payload(history.name, pending, link),
                env.get("FLOWCAP_WEBHOOK_SECRET") or None,
                **keywords,
            )
        else:
            smtp_url = env.get("FLOWCAP_SMTP_URL", "").strip()
            to = ", ".join(settings.email)
            if not smtp_url:
                delivery = Delivery("email", to, "FLOWCAP_SMTP_URL is not set")
            else:
                sender = smtp_sender(smtp_url, env)
                delivery = send_email(
                    smtp_url, email_message(history.name, pending, link, sender, settings.email)
                )
        mark_delivery(store, [a.id for a in pending], channel, delivery.error, channels, now)
        deliveries.append(delivery)
    return deliveries


@dataclass
class ServiceOutcome:
    """One service of :func:`monitor_all`: its run, or the error that stopped it."""

    service: str
    run: MonitorRun | None = None
    error: str | None = None


def monitor_all(
    *,
    notify: bool = False,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress = quiet,
) -> list[ServiceOutcome]:
    """:func:`monitor` on every service in the store (``database_url``, else
    ``FLOWCAP_DATABASE_URL`` or the default store); a service that fails (no referrals, a
    setting that no longer holds) is reported and the others still run."""
    from flowcap.history import open_stored
    from flowcap.store import default_database_url

    url = database_url or default_database_url(create=False)
    store = Store.open(url, existing=True)
    try:
        names = [entry["name"] for entry in store.services()]
    finally:
        store.close()
    outcomes = []
    for name in names:
        progress(f"Monitoring {name}")
        try:
            history = open_stored(name, url)
            run = monitor(history, notify=notify, database_url=url, env=env, progress=progress)
        except FlowcapError as exc:
            outcomes.append(ServiceOutcome(name, error=str(exc)))
            continue
        outcomes.append(ServiceOutcome(name, run=run))
    return outcomes
