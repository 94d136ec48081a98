"""The alerts page: what the daily monitoring (``flowcap monitor``) found for a service, and
who acknowledged each alert when.

The IDVA team lead opens it after the morning's email: the backlog is forecast past its
threshold next week. She reads why it matters, looks at the dashboard, and acknowledges it,
so that the rest of the team sees it is in hand.

- ``GET /services/{name}/alerts?show=unacknowledged|all`` (viewer): the service's alerts,
  newest first: kind, day, message, when raised and sent, who acknowledged it when.
- ``POST /services/{name}/alerts/{alert_id}/acknowledge`` (editor, CSRF): acknowledge one (again:
  the first acknowledgement stays); audited with the actor's email and the alert's id, kind
  and day (an alert never names a case).

API: ``GET /api/services/{name}/alerts`` (viewer) lists them as ``flowcap monitor --json``
writes them (:class:`~flowcap.documents.AlertRecord`); ``POST
/api/services/{name}/alerts/{alert_id}/acknowledge`` (editor) acknowledges one. An alert of
another service is a 404, as for no such alert.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from flowcap.documents import AlertRecord
from flowcap.errors import FlowcapError
from flowcap.monitor.records import acknowledge, alerts_by_id, list_alerts
from flowcap.web import security
from flowcap.web.deps import (
    AccountsDep,
    ApiService,
    ApiUser,
    NotFound,
    PageService,
    Visitor,
    api_service,
    page_service,
    row_id,
)
from flowcap.web.render import expired_form, render
from flowcap.web.schemas import Problem

router = APIRouter()
pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["alerts"])

EditorPage = Annotated[str, Depends(page_service("editor"))]
EditorApi = Annotated[str, Depends(api_service("editor"))]

#: Alerts the page lists (the newest).
LISTED = 200
#: The most alerts one API request gives.
MAX_API_ALERTS = 1000
#: Each kind of alert in words.
KINDS = {
    "spc": "Special cause (SPC)",
    "risk": "Risky day ahead",
    "backlog": "Backlog forecast over its threshold",
    "first_contact": "First contact missed",
}
SHOW = ("unacknowledged", "all")


# --- the page ----------------------------------------------------------------------------------


@pages.get("/services/{name}/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    name: PageService,
    visitor: Visitor,
    show: Annotated[str, Query(max_length=20)] = "unacknowledged",
    done: Annotated[int | None, Query()] = None,
) -> Response:
    if show not in SHOW:
        show = "unacknowledged"
    store = request.app.state.store
    found = list_alerts(store, name, unacknowledged=show == "unacknowledged", limit=LISTED + 1)
    waiting = len(list_alerts(store, name, unacknowledged=True, limit=LISTED + 1))
    context = {
        "title": f"Alerts: {name}",
        "name": name,
        "visitor": visitor,
        "alerts": found[:LISTED],
        "more": len(found) > LISTED,
        "listed": LISTED,
        "waiting": waiting,
        "show": show,
        "done": done,
        "kinds": KINDS,
        "can_acknowledge": visitor.user.can(name, "editor"),
    }
    return render(request, "alerts.html", context)


@pages.post("/services/{name}/alerts/{alert_id}/acknowledge")
def acknowledge_form(
    request: Request,
    name: EditorPage,
    visitor: Visitor,
    accounts: AccountsDep,
    alert_id: int,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    show: Annotated[str, Form(max_length=20)] = "unacknowledged",
) -> Response:
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    alert = _acknowledge(request, accounts, name, alert_id, visitor.user.email)
    if alert is None:
        raise NotFound
    back = show if show in SHOW else "unacknowledged"
    return RedirectResponse(
        f"/services/{_q(name)}/alerts?show={back}&done={alert.id}", status_code=303
    )


def _acknowledge(request: Request, accounts, name: str, alert_id: int, email: str):
    """Acknowledge the service's alert ``alert_id`` as ``email`` and audit it; ``None`` for
    an alert the service does not have."""
    store = request.app.state.store
    if not row_id(alert_id):
        return None
    before = alerts_by_id(store, [alert_id])
    if not before or before[0].service != name:
        return None
    try:
        alert = acknowledge(store, name, alert_id, by=email)
    except FlowcapError:
        return None
    if before[0].acknowledged_at is None:  # the first acknowledgement stays: audited once
        accounts.audit(
            "alert acknowledge",
            actor=email,
            service=name,
            detail=f"alert {alert.id} ({alert.kind}, {alert.day:%Y-%m-%d}) acknowledged",
        )
    return alert


# --- the API -----------------------------------------------------------------------------------


@api.get(
    "/services/{name}/alerts",
    response_model=list[AlertRecord],
    responses={401: {"model": Problem}, 404: {"model": Problem}},
)
def alerts_api(
    request: Request,
    name: ApiService,
    show: Annotated[
        Literal["unacknowledged", "all"],
        Query(description="unacknowledged: only those nobody has acknowledged yet"),
    ] = "all",
    limit: Annotated[int, Query(ge=1, le=MAX_API_ALERTS)] = 100,
) -> Response:
    """The service's alerts, newest first, as ``flowcap monitor --json`` writes them."""
    found = list_alerts(
        request.app.state.store, name, unacknowledged=show == "unacknowledged", limit=limit
    )
    # the CLI's bytes (times as +00:00), not pydantic's re-serialisation of them
    return JSONResponse([alert.as_json() for alert in found])


@api.post(
    "/services/{name}/alerts/{alert_id}/acknowledge",
    response_model=AlertRecord,
    responses={
        401: {"model": Problem},
        403: {"model": Problem},
        404: {"model": Problem, "description": "No such alert in this service"},
    },
)
def acknowledge_api(
    request: Request, name: EditorApi, user: ApiUser, accounts: AccountsDep, alert_id: int
) -> Response:
    """Acknowledge one of the service's alerts (again: the first acknowledgement stays)."""
    alert = _acknowledge(request, accounts, name, alert_id, user.email)
    if alert is None:
        raise HTTPException(status_code=404, detail="Not Found")
    return JSONResponse(alert.as_json())


def _q(name: str) -> str:
    return quote(name, safe="")


router.include_router(pages)
router.include_router(api)
