"""The role matrix's entries for the reports and alerts pages (tests/test_web_roles.py).

A viewer sees and builds reports (a report is read, not an edit of the service: a
commissioner asks for one), so ``POST /services/{name}/reports`` is a page every member may
use, with its CSRF token (the matrix's CSRF test covers every form POST); the matrix's posts
ask for the default period, queued once and then found as being built. Acknowledging an
alert needs an editor.

``PARAMS`` fills ``alert_id``: an alert of the service asked for (one recorded per store), or
an id no alert has for a service the store does not hold.
"""

from __future__ import annotations

from datetime import date

ROUTES = {
    ("GET", "/services/{name}/reports"): "service page",
    ("POST", "/services/{name}/reports"): "service page",
    ("GET", "/services/{name}/reports/download"): "service page",
    ("GET", "/services/{name}/alerts"): "service page",
    ("POST", "/services/{name}/alerts/{alert_id}/acknowledge"): "service write",
    ("GET", "/api/services/{name}/alerts"): "service api",
    ("POST", "/api/services/{name}/alerts/{alert_id}/acknowledge"): "service api write",
}

#: An id no alert has.
NO_ALERT = "987654321"
_made: dict[tuple[str, str], str] = {}


def alert_of(service: str, database_url: str) -> str:
    """The id of an alert of ``service`` in the store at ``database_url`` (recorded once);
    :data:`NO_ALERT` for a service the store does not hold."""
    from flowcap.errors import FlowcapError
    from flowcap.monitor.detect import Finding
    from flowcap.monitor.records import record
    from flowcap.store import Store

    key = (database_url, service)
    if key in _made:
        return _made[key]
    day = date(2025, 12, 31)
    finding = Finding(
        kind="risk",
        key="role-matrix:risk",
        episode="role-matrix:risk",
        day=day,
        last_seen=day,
        title="A risky day (role matrix)",
        message="Recorded by the role matrix's tests.",
    )
    store = Store.open(database_url)
    try:
        try:
            [alert] = record(store, service, [finding])
        except FlowcapError:
            _made[key] = NO_ALERT
            return NO_ALERT
    finally:
        store.close()
    _made[key] = str(alert.id)
    return _made[key]


PARAMS = {"alert_id": alert_of}
