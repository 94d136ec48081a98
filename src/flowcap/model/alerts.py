"""What a service's daily monitoring watches and where its alerts go (``alerts:`` in
service.yaml): the IDVA team lead is emailed the morning the backlog is forecast to pass
2,400 minutes, rather than finding out at the month's end.

Every key is optional: with no ``alerts:`` section flowcap still watches (bad days past
1.5 × capacity with a chance above 20%, Making Data Count special causes, first-contact
misses) and records what it finds, but sends nothing and watches no backlog threshold.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from flowcap.model._frozen import _Frozen

#: A plain email address: something@domain.tld, no spaces, no display name.
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


class AlertSettings(_Frozen):
    """``alerts:`` in service.yaml: what ``flowcap monitor`` watches and whom it tells.

    ``k`` and ``risk_threshold``: alert on a working day in the next 14 whose chance of demand
    past ``k`` × that day's capacity is above ``risk_threshold``. ``backlog_threshold_minutes``:
    alert when a resource's backlog is forecast (the median of the simulated futures) to be
    over it in the next 14 days (``None``: not watched). ``webhook`` (an http(s) URL) and
    ``email`` (addresses) are where ``flowcap monitor --notify`` sends new alerts.
    """

    webhook: str | None = Field(default=None, max_length=2000)
    email: tuple[str, ...] = ()
    k: float = Field(default=1.5, gt=0, le=10)
    risk_threshold: float = Field(default=0.2, gt=0, lt=1)
    backlog_threshold_minutes: float | None = Field(default=None, gt=0, le=10_000_000)

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"webhook must be an http:// or https:// URL with a host, not {value[:80]!r}"
            )
        return value

    @field_validator("email", mode="before")
    @classmethod
    def _one_or_more(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not _EMAIL.match(address) or len(address) > 254:
                raise ValueError(f"{address[:80]!r} is not an email address (name@example.org)")
        if len(set(value)) != len(value):
            raise ValueError("email lists an address twice")
        return value
