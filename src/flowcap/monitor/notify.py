"""Telling people: new alerts posted to a webhook and emailed, without ever holding up the
morning's run.

**Webhook.** A JSON ``POST`` (``application/json``) of ``{"service", "dashboard", "sent_at",
"alerts": [...]}``. With ``FLOWCAP_WEBHOOK_SECRET`` set, the body is signed with HMAC-SHA256
under it, in the header ``X-Flowcap-Signature: sha256=HEX`` (the receiver recomputes it over
the raw body and compares in constant time). Each try has a :data:`TIMEOUT_SECONDS` limit;
a connection failure, a timeout, a 408, a 429 or a 5xx is tried again after
:data:`BACKOFF_SECONDS` (doubling), :data:`TRIES` tries in all; another 4xx is not retried.

**Email.** One plain-text message to the service's addresses through the SMTP server in
``FLOWCAP_SMTP_URL``: ``smtp://[user:password@]host[:port]`` (plain, port 25),
``smtp+starttls://...`` (STARTTLS, port 587) or ``smtps://...`` (TLS from the start, port
465); the sender is ``FLOWCAP_SMTP_FROM`` (by default ``flowcap@`` the server's host).

A failure is returned as a :class:`Delivery` with its error, never raised: the alerts stay
unsent and the next run tries again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import quote, unquote, urlsplit

import httpx

from flowcap.monitor.records import Alert

#: Tries per webhook post, the first wait between them (doubling), and each try's time limit.
TRIES = 3
BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = 10.0
SIGNATURE_HEADER = "X-Flowcap-Signature"
SMTP_SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True)
class Delivery:
    """One channel's attempt: ``error`` is ``None`` when it was delivered."""

    channel: str
    target: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def dashboard_url(service: str, env: Mapping[str, str] | None = None) -> str | None:
    """The service's page in the web app, when ``FLOWCAP_BASE_URL`` says where it is."""
    base = (env if env is not None else os.environ).get("FLOWCAP_BASE_URL", "").strip()
    if not base:
        return None
    return f"{base.rstrip('/')}/services/{quote(service, safe='')}"


def with_link(message: str, link: str | None) -> str:
    """The message with the dashboard link at its end, when there is one."""
    return message if link is None else f"{message} Dashboard: {link}"


def payload(service: str, alerts: Sequence[Alert], link: str | None) -> dict:
    """The webhook's JSON document."""
    return {
        "service": service,
        "dashboard": link,
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "alerts": [
            {
                "id": a.id,
                "kind": a.kind,
                "key": a.key,
                "day": a.day.isoformat(),
                "title": a.title,
                "message": with_link(a.message, link),
                "created_at": a.as_json()["created_at"],
            }
            for a in alerts
        ],
    }


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: ``sha256=`` and the HMAC-SHA256 of ``body``, in hex."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_webhook(
    url: str,
    document: dict,
    secret: str | None,
    *,
    tries: int = TRIES,
    backoff: float = BACKOFF_SECONDS,
    timeout: float = TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST ``document`` as JSON to ``url``, signed when ``secret`` is given; tried again
    with backoff on failures worth retrying (see the module)."""
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "flowcap-monitor"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    where = _safe_url(url)
    error = "not tried"
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for attempt in range(tries):
            if attempt:
                sleep(backoff * 2 ** (attempt - 1))
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
                continue
            if 200 <= response.status_code < 300:
                return Delivery("webhook", where)
            error = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code not in (408, 429):
                break
    return Delivery(
        "webhook", where, f"{error} (after {attempt + 1} tr{'y' if attempt == 0 else 'ies'})"
    )


def email_message(
    service: str, alerts: Sequence[Alert], link: str | None, sender: str, to: Sequence[str]
) -> EmailMessage:
    """The plain-text email: one paragraph per alert."""
    message = EmailMessage()
    count = len(alerts)
    message["Subject"] = (
        f"flowcap: {alerts[0].title} ({service})"
        if count == 1
        else f"flowcap: {count} new alerts for {service}"
    )
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    lines = [
        f"flowcap's daily monitoring found {count} new alert{'s' if count > 1 else ''} "
        f"for {service}.",
        "",
    ]
    for alert in alerts:
        lines += [alert.title, alert.message, ""]
    if link:
        lines += [f"Dashboard: {link}", ""]
    lines.append("Sent by flowcap monitor. Acknowledge alerts in the web app.")
    message.set_content("\n".join(lines))
    return message


def send_email(
    smtp_url: str,
    message: EmailMessage,
    *,
    timeout: float = TIMEOUT_SECONDS,
) -> Delivery:
    """Send ``message`` through the server in ``smtp_url`` (see the module)."""
    to = message["To"]
    try:
        parts = urlsplit(smtp_url)
        scheme = parts.scheme.lower()
        if scheme not in SMTP_SCHEMES or not parts.hostname:
            return Delivery(
                "email",
                to,
                "FLOWCAP_SMTP_URL must be smtp://, smtp+starttls:// or smtps:// with a host",
            )
        port = parts.port or SMTP_SCHEMES[scheme]
        if scheme == "smtps":
            client = smtplib.SMTP_SSL(
                parts.hostname, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(parts.hostname, port, timeout=timeout)
        with client:
            if scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        return Delivery("email", to, f"{type(exc).__name__}: {exc}"[:300])
    return Delivery("email", to)


def smtp_sender(smtp_url: str, env: Mapping[str, str]) -> str:
    """``FLOWCAP_SMTP_FROM``, else ``flowcap@`` the SMTP server's host."""
    configured = env.get("FLOWCAP_SMTP_FROM", "").strip()
    if configured:
        return configured
    host = urlsplit(smtp_url).hostname or "localhost"
    return f"flowcap@{host}"


def _safe_url(url: str) -> str:
    """The URL without its query string or credentials, for messages (a webhook URL may
    carry a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
