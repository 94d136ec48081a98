"""Daily figures: the page (choose one of the last 14 days, enter or correct its referrals
per case type, staff on duty per resource and sessions delivered per resource) and
``POST /api/services/{name}/daily``.

The checking and storing are :mod:`flowcap.daily`'s (:func:`~flowcap.daily.save_day`): the
rows an import would store, one transaction, recorded as an import so that the dashboard's
measures are recomputed. Every save is in the audit log with the day and what changed, as
counts. A viewer sees the day's figures without the form.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from flowcap import daily
from flowcap.documents import DailyDay as DailyOut
from flowcap.documents import DailyProblems, Detail
from flowcap.errors import InputError, Problem, StoreError
from flowcap.web import security
from flowcap.web.deps import (
    AccountsDep,
    ApiUser,
    PageService,
    SignedIn,
    Visitor,
    api_service,
    may,
    page_service,
)
from flowcap.web.render import FieldError, expired_form, render

router = APIRouter()

EditorPage = Annotated[str, Depends(page_service("editor"))]
EditorApi = Annotated[str, Depends(api_service("editor"))]


BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["date"],
                    "properties": {
                        "date": {"type": "string", "format": "date"},
                        "referrals": {
                            "type": "object",
                            "additionalProperties": {"type": "integer", "minimum": 0},
                            "description": "Referrals per case type (omitted: 0)",
                        },
                        "staff": {
                            "type": "object",
                            "additionalProperties": {"type": ["integer", "null"], "minimum": 0},
                            "description": "Staff on duty per resource (omitted or null: no "
                            "roster row, the resource's default staffing)",
                        },
                        "sessions": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "properties": {
                                    "count": {"type": "integer", "minimum": 0},
                                    "minutes": {"type": "integer", "minimum": 0},
                                },
                            },
                            "description": "Sessions delivered per resource: count and "
                            "minutes in all, or either alone",
                        },
                    },
                },
                "example": {
                    "date": "2026-01-05",
                    "referrals": {"advocacy": 3},
                    "staff": {"idva": 2},
                    "sessions": {"idva": {"count": 4, "minutes": 240}},
                },
            }
        },
    }
}


# --- the page ----------------------------------------------------------------------------------


def _ids(service) -> dict[str, str]:
    """Each field's name -> its element id (ids by position: names may hold any character)."""
    ids = {"date": "day"}
    for i, name in enumerate(service.case_types):
        ids[f"referrals.{name}"] = f"referrals-{i}"
    for i, name in enumerate(service.resources):
        ids[f"staff.{name}"] = f"staff-{i}"
        ids[f"sessions.{name}"] = f"sessions-{i}-count"
        ids[f"sessions.{name}.count"] = f"sessions-{i}-count"
        ids[f"sessions.{name}.minutes"] = f"sessions-{i}-minutes"
    return ids


def _label(field: str) -> str:
    """The words the error summary starts a field's problem with."""
    section, _, rest = field.partition(".")
    if section == "referrals":
        return f"Referrals of {rest}"
    if section == "staff":
        return f"Staff on duty at {rest}"
    if section == "sessions":
        resource, _, part = rest.rpartition(".")
        if part == "minutes":
            return f"Minutes of the sessions at {resource}"
        return f"Sessions at {resource if part == 'count' else rest}"
    return "Day"


def _page(
    request: Request,
    name: str,
    visitor: SignedIn,
    day: date | None = None,
    values: dict | None = None,
    problems: list | None = None,
    status: int = 200,
) -> Response:
    url = request.app.state.store.url
    service = daily.stored_service(name, url)
    today = daily.service_today(service)
    days = daily.window(today)
    day = day if day in days else today
    stored = daily.read_day(name, day, database_url=url)
    ids = _ids(service)
    errors, by_field = [], {}
    for problem in problems or []:
        field = problem.column or "date"
        target = ids.get(field, "day")
        message = f"{_label(field)}: {problem.message}"
        errors.append(FieldError(target, message))
        by_field.setdefault(target, problem.message)
    entered = daily.entered_days(name, database_url=url)
    if values is None:
        values = _values(service, stored)
    return render(
        request,
        "daily.html",
        {
            "title": f"Daily figures: {name}",
            "name": name,
            "visitor": visitor,
            "errors": errors,
            "field_errors": by_field,
            "day": day,
            "today": today,
            "days": days,
            "entered": entered,
            "stored": stored,
            "values": values,
            "case_types": list(service.case_types),
            "resources": list(service.resources),
            "ids": ids,
            "defaults": {r: res.staff for r, res in service.resources.items()},
            "window_days": daily.WINDOW_DAYS,
            "can_edit": may(visitor.user, name, "editor"),
        },
        status=status,
    )


def _values(service, stored: daily.DayFigures) -> dict:
    """The form's boxes filled from the stored figures (text, as a form sends them)."""

    def text(value) -> str:
        if value is None:
            return ""
        return f"{value:g}" if isinstance(value, float) else str(value)

    values = {f"referrals.{n}": text(c) for n, c in stored.referrals.items()}
    values |= {f"staff.{r}": text(s) for r, s in stored.staff.items()}
    for resource, sessions in stored.sessions.items():
        values[f"sessions.{resource}.count"] = text(sessions.count) if sessions.count else ""
        values[f"sessions.{resource}.minutes"] = text(sessions.minutes) if sessions.count else ""
    return values


def _raw(service, form: dict) -> dict:
    """The form's fields in the API's shape, for :func:`flowcap.daily.save_day`."""
    return {
        "date": form.get("day", ""),
        "referrals": {n: form.get(f"referrals.{n}", "") for n in service.case_types},
        "staff": {r: form.get(f"staff.{r}", "") for r in service.resources},
        "sessions": {
            r: {
                "count": form.get(f"sessions.{r}.count", ""),
                "minutes": form.get(f"sessions.{r}.minutes", ""),
            }
            for r in service.resources
        },
    }


@router.get("/services/{name}/daily", response_class=HTMLResponse, include_in_schema=False)
def daily_form(
    request: Request,
    name: PageService,
    visitor: Visitor,
    day: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The date picker and, for the chosen day (today by default), its figures."""
    problems = []
    chosen = None
    if day:
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            chosen = None
        service = daily.stored_service(name, request.app.state.store.url)
        today = daily.service_today(service)
        if chosen is None or chosen not in daily.window(today):
            problems.append(
                Problem(
                    daily.FILE,
                    f"choose one of the last {daily.WINDOW_DAYS} days (today shown instead)",
                    None,
                    "date",
                )
            )
            chosen = None
    return _page(request, name, visitor, chosen, problems=problems)


@router.post("/services/{name}/daily", response_class=HTMLResponse, include_in_schema=False)
async def daily_save(
    request: Request, name: EditorPage, visitor: Visitor, accounts: AccountsDep
) -> Response:
    form = await request.form(max_files=0, max_fields=500)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not security.tokens_match(fields.get("csrf_token"), visitor.csrf_token):
        return expired_form(request, visitor)
    url = request.app.state.store.url
    service = daily.stored_service(name, url)
    try:
        day = date.fromisoformat(fields.get("day", ""))
    except ValueError:
        day = None
    try:
        saved = await run_in_threadpool(
            daily.save_day, name, _raw(service, fields), database_url=url
        )
    except InputError as error:
        return _page(request, name, visitor, day, fields, error.problems, status=422)
    except StoreError as error:
        return _page(
            request, name, visitor, day, fields, [Problem(daily.FILE, str(error))], status=409
        )
    accounts.audit(
        "daily figures", actor=visitor.user.email, service=name, detail=saved.audit_detail()
    )
    return render(
        request,
        "daily_done.html",
        {
            "title": f"Saved: {name}",
            "name": name,
            "visitor": visitor,
            "saved": saved,
            "case_types": list(service.case_types),
            "resources": list(service.resources),
        },
    )


# --- the API -----------------------------------------------------------------------------------


@router.post(
    "/api/services/{name}/daily",
    tags=["api"],
    response_model=DailyOut,
    openapi_extra=BODY,
    responses={
        401: {"description": "No valid API token"},
        403: {"description": "Needs the editor role"},
        404: {"description": "No such service, or not yours"},
        409: {"model": Detail, "description": "The store is busy or damaged (said why)"},
        413: {"model": Detail, "description": "A body over 4,000,000 bytes"},
        422: {"model": DailyProblems, "description": "Every problem, by field"},
    },
)
async def api_daily(
    request: Request, name: EditorApi, user: ApiUser, accounts: AccountsDep
) -> Response:
    """Enter or correct one of the last 14 days' figures: referrals per case type, staff on
    duty per resource, sessions delivered per resource. They replace what was entered for
    that day before, and are stored as an import's rows (see the README's Daily figures)."""
    try:
        raw = json.loads(await request.body() or b"null")
    except ValueError:
        return JSONResponse(
            {"problems": [{"field": "body", "message": "must be JSON"}]}, status_code=422
        )
    url = request.app.state.store.url
    try:
        saved = await run_in_threadpool(daily.save_day, name, raw, database_url=url)
    except InputError as error:
        problems = [{"field": p.column or "body", "message": p.message} for p in error.problems]
        return JSONResponse({"problems": problems}, status_code=422)
    except StoreError as error:
        return JSONResponse({"detail": str(error)}, status_code=409)
    accounts.audit("daily figures", actor=user.email, service=name, detail=saved.audit_detail())
    return JSONResponse(DailyOut(**saved.as_json()).model_dump(mode="json"))
