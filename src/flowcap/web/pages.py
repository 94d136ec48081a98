"""The pages: log in and out, the user's services, and a service's dashboard.

Each route reads its form or query, calls the accounts or the measures cache, and renders a
template; the numbers come from :mod:`flowcap.measures` as the CLI prints them. The SPC alerts
and the risk of bad days ahead (``flowcap variation`` and ``flowcap risk``) take seconds: the
cache computes them in the background, and the dashboard loads them with htmx from
``/services/{name}/insight`` (a page of its own without JavaScript) once they are there.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from flowcap.accounts import LoginRefused
from flowcap.checks import ArgumentError
from flowcap.errors import FlowcapError
from flowcap.measures.waiting import BAND_COLUMNS, BAND_LABELS
from flowcap.web import cache as insight_rules
from flowcap.web import security
from flowcap.web.api import accepts_gzip
from flowcap.web.deps import AccountsDep, CacheDep, NotFound, PageService, Visitor
from flowcap.web.render import FieldError, expired_form, render

router = APIRouter(include_in_schema=False)

#: The form field of each library parameter a page passes on.
FIELDS = {"start": "from", "end": "to"}


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/services", status_code=303)


# --- logging in and out ------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, accounts: AccountsDep, next: str | None = None) -> Response:
    token = request.cookies.get(security.SESSION_COOKIE)
    if token and accounts.session(token) is not None:
        return RedirectResponse(security.local_path(next), status_code=303)
    return _login_page(request, next=next)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    accounts: AccountsDep,
    email: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    expected = request.cookies.get(security.LOGIN_CSRF_COOKIE)
    if not security.tokens_match(csrf_token, expected):
        problem = FieldError(
            "email", "This form had expired. Enter your email address and password again."
        )
        return _login_page(request, email=email, next=next, errors=[problem], status=403)
    errors = []
    if not email.strip():
        errors.append(FieldError("email", "Enter your email address"))
    if not password:
        errors.append(FieldError("password", "Enter your password"))
    if errors:
        return _login_page(request, email=email, next=next, errors=errors)
    client = request.client.host if request.client else ""
    try:
        user = accounts.authenticate(email, password, client=client)
    except LoginRefused as refused:
        if refused.locked_until is not None:
            until = refused.locked_until
            message = (
                f"Too many failed logins: you can try again after {until:%H:%M} UTC on "
                f"{until:%d %B %Y}"
            )
        else:
            message = "Enter a correct email address and password"
        problem = FieldError("email", message)
        return _login_page(request, email=email, next=next, errors=[problem])
    old = request.cookies.get(security.SESSION_COOKIE)
    if old:
        accounts.end_session(old)  # a new session token at every login: no fixation
    session_token, _ = accounts.start_session(user)
    response = RedirectResponse(security.local_path(next), status_code=303)
    security.set_session_cookie(response, request, session_token)
    security.clear_login_csrf_cookie(response, request)
    return response


def _login_page(
    request: Request,
    *,
    email: str = "",
    next: str | None = None,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> Response:
    token = security.new_token()
    response = render(
        request,
        "login.html",
        {
            "title": "Log in",
            "email": email,
            "next": security.local_path(next, default=""),
            "csrf_token": token,
            "errors": errors or [],
        },
        status=status,
    )
    security.set_login_csrf_cookie(response, request, token)
    return response


@router.post("/logout")
def logout(
    request: Request,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    accounts.end_session(visitor.session_token)
    response = RedirectResponse("/login", status_code=303)
    security.clear_session_cookie(response, request)
    return response


# --- services and their dashboards -------------------------------------------------------------


@router.get("/services", response_class=HTMLResponse)
def services(
    request: Request, visitor: Visitor, cache: CacheDep, background: BackgroundTasks
) -> Response:
    listing = []
    for name, role in sorted(visitor.user.roles.items()):
        revision = cache.revision(name)
        if revision is None:
            continue
        try:
            measured = cache.measures(name)
        except FlowcapError:
            measured = None  # no referrals stored yet
        # Never computed here: started after the response when missing.
        state = cache.insight(name, start=False) if measured is not None else None
        if state is not None and state.status == "calculating":
            background.add_task(cache.start_insight, name)
        listing.append(
            {
                "name": name,
                "role": role,
                "last_change": revision.last_change,
                "summary": [] if measured is None else measured.tables()["summary"],
                "period": None if measured is None else measured.result.period,
                "trend": [] if measured is None else measured.backlog_trend(),
                "insight": state,
            }
        )
    return render(
        request,
        "services.html",
        {
            "title": "Your services",
            "services": listing,
            "visitor": visitor,
            "look_back_days": insight_rules.LOOK_BACK_DAYS,
        },
    )


@router.get("/services/{name}", response_class=HTMLResponse)
def dashboard(
    request: Request,
    name: PageService,
    visitor: Visitor,
    cache: CacheDep,
    background: BackgroundTasks,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    revision = cache.revision(name)
    if revision is None:
        raise NotFound
    errors: list[FieldError] = []
    start, end = _day(from_, "from", errors), _day(to, "to", errors)
    whole = measured = None
    note = None
    try:
        whole = cache.measures(name)
    except FlowcapError as error:
        note = str(error)  # no referrals stored: nothing to measure yet
    if whole is not None:
        measured = whole
        if not errors and (start or end):
            try:
                measured = cache.measures(name, start, end)
            except ArgumentError as error:
                field = FIELDS.get(error.parameter, "from")
                label = "Start" if field == "from" else "End"
                errors.append(FieldError(field, f"{label} date: {error.rule}"))
            except FlowcapError as error:
                errors.append(FieldError("from", _sentence(str(error))))
    context = {
        "title": name,
        "name": name,
        "visitor": visitor,
        "errors": errors,
        "from_value": from_ or "",
        "to_value": to or "",
        "last_change": revision.last_change,
        "note": note,
        "band_labels": BAND_LABELS,
        # What is there already is shown at once; otherwise the page loads it when ready.
        "insight": None if whole is None else cache.insight(name, start=False),
    } | _insight_words()
    if whole is not None and context["insight"].status == "calculating":
        background.add_task(cache.start_insight, name)
    if measured is not None:
        result, tables = measured.result, measured.tables()
        first, last = whole.result.period
        context |= {
            "first_day": first,
            "last_day": last,
            "period": result.period,
            "recorded": result.recorded,
            "chart_url": chart_url(name, start, end),
            "summary": tables["summary"],
            "waiting": [
                {**row, "bands": [row[column] for column in BAND_COLUMNS]}
                for row in tables["waiting"]
            ],
            "first_contact": tables["first_contact"],
        }
    return render(request, "dashboard.html", context)


@router.get("/services/{name}/chart", include_in_schema=False)
def chart(
    request: Request,
    name: PageService,
    cache: CacheDep,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The dashboard chart's Plotly figure (JSON) for the days asked for: fetched by the
    page's script, so that the page itself is a few kilobytes; the browser keeps it and asks
    again with its ETag (the service's revision and the days), answered 304 while unchanged."""
    errors: list[FieldError] = []
    start, end = _day(from_, "from", errors), _day(to, "to", errors)
    if errors:
        return Response(status_code=422)
    try:
        measured = cache.measures(name, start, end)
    except FlowcapError:
        return Response(status_code=422)  # the dashboard says why, beside its date fields
    if measured is None:
        raise NotFound
    tag = measured.etag()
    headers = {"ETag": tag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if tag in request.headers.get("if-none-match", "").replace(" ", "").split(","):
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(measured.figure_gzip(), media_type="application/json", headers=headers)
    return Response(measured.figure_json(), media_type="application/json", headers=headers)


@router.get("/services/{name}/insight", response_class=HTMLResponse)
def insight(request: Request, name: PageService, visitor: Visitor, cache: CacheDep) -> Response:
    """The dashboard's SPC alerts and risk of bad days ahead: the fragment htmx swaps in
    (``HX-Request``), else a page of its own; "being calculated" until they are there."""
    state = cache.insight(name)
    if state is None:
        raise NotFound
    context = {"title": f"{name}: SPC alerts and the days ahead", "name": name}
    context |= {"visitor": visitor, "insight": state} | _insight_words()
    fragment = request.headers.get("HX-Request") == "true"
    return render(
        request, "dashboard_insight.html" if fragment else "dashboard_insight_page.html", context
    )


def _insight_words() -> dict:
    return {
        "bad_day_ratio": insight_rules.BAD_DAY_RATIO,
        "risk_horizon_days": insight_rules.RISK_HORIZON_DAYS,
    }


def chart_url(name: str, start: date | None, end: date | None) -> str:
    """Where the dashboard's script fetches the chart of these days."""
    query = urlencode({k: v.isoformat() for k, v in (("from", start), ("to", end)) if v})
    return f"/services/{quote(name, safe='')}/chart" + (f"?{query}" if query else "")


def _day(value: str | None, field: str, errors: list[FieldError]) -> date | None:
    """A date field (YYYY-MM-DD, as a date input sends it); empty is none."""
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        label = "start" if field == "from" else "end"
        errors.append(FieldError(field, f"Enter the {label} date as a real date, like 2025-03-31"))
        return None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
