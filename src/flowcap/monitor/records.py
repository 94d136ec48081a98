"""The ``alerts`` table: each finding of :mod:`flowcap.monitor.detect` recorded once, then
marked as sent and as acknowledged.

**Once.** A finding whose ``key`` the service already holds is not new. Nor is one whose
``episode`` (the same chart's special causes in the same direction, the same resource's
backlog over its threshold) has an alert last seen no more than :data:`SAME_EPISODE_DAYS`
before the finding's day: the signal is going on, so that alert's ``last_seen`` moves on
instead. A signal that stops for longer and comes back is a new alert.

**Sending.** ``delivered`` names the channels an alert has reached; ``sent_at`` is set when
every channel the service has (webhook, email) has it. Until then :func:`unsent` gives it
again, so an alert is never lost to a receiver that was down: the next run sends it.

Times are naive UTC, as the store keeps them. No case ids are stored: an alert names a chart,
a resource or a day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, update

from flowcap.errors import FlowcapError
from flowcap.monitor.detect import Finding
from flowcap.store import Store, schema

#: An episode's alert is still the same signal when last seen this close before a finding.
SAME_EPISODE_DAYS = 7
#: The delivery channels, in the order they are tried.
CHANNELS = ("webhook", "email")


@dataclass(frozen=True)
class Alert:
    """An alert as the store keeps it (times naive UTC)."""

    id: int
    service: str
    kind: str
    key: str
    day: date
    last_seen: date
    title: str
    message: str
    created_at: datetime
    sent_at: datetime | None
    delivered: tuple[str, ...]
    send_attempts: int
    send_error: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "service": self.service,
            "kind": self.kind,
            "key": self.key,
            "day": self.day.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "title": self.title,
            "message": self.message,
            "created_at": _iso(self.created_at),
            "sent_at": _iso(self.sent_at),
            "delivered": list(self.delivered),
            "send_attempts": self.send_attempts,
            "send_error": self.send_error,
            "acknowledged_at": _iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
        }


def record(
    store: Store, service: str, findings: Iterable[Finding], now: datetime | None = None
) -> list[Alert]:
    """Record the findings that are new (see the module) in one transaction; the new alerts,
    in the findings' order. Findings already known move their episode's ``last_seen`` on."""
    alerts = schema.alerts
    now = now or _now()
    new_ids = []
    with store.engine.begin() as connection:
        service_id = store.service_id(connection, service)
        for finding in findings:
            known = connection.execute(
                select(alerts.c.id, alerts.c.last_seen).where(
                    alerts.c.service_id == service_id, alerts.c.key == finding.key
                )
            ).first()
            if known is None:
                known = connection.execute(
                    select(alerts.c.id, alerts.c.last_seen)
                    .where(
                        alerts.c.service_id == service_id,
                        alerts.c.episode == finding.episode,
                        alerts.c.last_seen >= finding.day - timedelta(days=SAME_EPISODE_DAYS),
                    )
                    .order_by(alerts.c.last_seen.desc())
                    .limit(1)
                ).first()
            if known is not None:
                if finding.last_seen > known.last_seen:
                    connection.execute(
                        update(alerts)
                        .where(alerts.c.id == known.id)
                        .values(last_seen=finding.last_seen)
                    )
                continue
            new_ids.append(
                connection.execute(
                    insert(alerts).values(
                        service_id=service_id,
                        kind=finding.kind,
                        key=finding.key[:300],
                        episode=finding.episode[:300],
                        day=finding.day,
                        last_seen=finding.last_seen,
                        title=finding.title[:300],
                        message=finding.message,
                        created_at=now,
                        delivered="",
                        send_attempts=0,
                    )
                ).inserted_primary_key[0]
            )
    return alerts_by_id(store, new_ids)


def list_alerts(
    store: Store,
    service: str,
    *,
    unacknowledged: bool = False,
    limit: int | None = 100,
) -> list[Alert]:
    """The service's alerts, newest first (``unacknowledged``: only those nobody has
    acknowledged yet)."""
    query = _select().where(schema.services.c.name == service)
    if unacknowledged:
        query = query.where(schema.alerts.c.acknowledged_at.is_(None))
    query = query.order_by(schema.alerts.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as connection:
        return [_alert(row) for row in connection.execute(query).mappings()]


def unsent(store: Store, service: str) -> list[Alert]:
    """The service's alerts not yet delivered to every channel, oldest first."""
    query = (
        _select()
        .where(schema.services.c.name == service, schema.alerts.c.sent_at.is_(None))
        .order_by(schema.alerts.c.id)
    )
    with store.engine.connect() as connection:
        return [_alert(row) for row in connection.execute(query).mappings()]


def alerts_by_id(store: Store, ids: Sequence[int]) -> list[Alert]:
    """The alerts with these ids, in this order."""
    if not ids:
        return []
    with store.engine.connect() as connection:
        rows = connection.execute(_select().where(schema.alerts.c.id.in_(list(ids)))).mappings()
        found = {row["id"]: _alert(row) for row in rows}
    return [found[i] for i in ids if i in found]


def mark_delivery(
    store: Store,
    ids: Sequence[int],
    channel: str,
    error: str | None,
    channels: Sequence[str],
    now: datetime | None = None,
) -> None:
    """Record one attempt to send the alerts ``ids`` on ``channel``: delivered when ``error``
    is ``None``, else the error kept (and the alerts left unsent). ``channels``: every
    channel the service has; an alert all of them have is sent (``sent_at``)."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    alerts = schema.alerts
    now = now or _now()
    with store.engine.begin() as connection:
        for alert_id in ids:
            row = connection.execute(
                select(alerts.c.delivered, alerts.c.send_attempts).where(alerts.c.id == alert_id)
            ).first()
            if row is None:
                continue
            delivered = {c for c in row.delivered.split(",") if c}
            values: dict = {"send_attempts": row.send_attempts + 1}
            if error is None:
                delivered.add(channel)
                values["delivered"] = ",".join(sorted(delivered))
                values["send_error"] = None
                if set(channels) <= delivered:
                    values["sent_at"] = now
            else:
                values["send_error"] = f"{channel}: {error}"[:500]
            connection.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))


def acknowledge(
    store: Store, service: str, alert_id: int, by: str, now: datetime | None = None
) -> Alert:
    """Mark the service's alert ``alert_id`` acknowledged by ``by`` (an email or a name) now;
    acknowledging it again keeps the first acknowledgement. Raises :class:`FlowcapError`
    for an alert the service does not have."""
    by = str(by or "").strip()[:254]
    if not by:
        raise FlowcapError("say who acknowledges the alert")
    alerts = schema.alerts
    with store.engine.begin() as connection:
        service_id = store.service_id(connection, service)
        found = connection.execute(
            update(alerts)
            .where(
                alerts.c.id == alert_id,
                alerts.c.service_id == service_id,
                alerts.c.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=now or _now(), acknowledged_by=by)
        ).rowcount
        if not found:
            exists = connection.scalar(
                select(alerts.c.id).where(
                    alerts.c.id == alert_id, alerts.c.service_id == service_id
                )
            )
            if exists is None:
                raise FlowcapError(f"service {service!r} has no alert {alert_id}")
    return alerts_by_id(store, [alert_id])[0]


# --- helpers ---------------------------------------------------------------------------------


def _select():
    alerts, services = schema.alerts, schema.services
    return select(*alerts.c, services.c.name.label("service")).join(
        services, services.c.id == alerts.c.service_id
    )


def _alert(row) -> Alert:
    return Alert(
        id=row["id"],
        service=row["service"],
        kind=row["kind"],
        key=row["key"],
        day=row["day"],
        last_seen=row["last_seen"],
        title=row["title"],
        message=row["message"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        delivered=tuple(c for c in row["delivered"].split(",") if c),
        send_attempts=row["send_attempts"],
        send_error=row["send_error"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(stamp: datetime | None) -> str | None:
    return None if stamp is None else stamp.replace(tzinfo=UTC).isoformat()
