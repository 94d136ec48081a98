"""The scenario planner: a service's contingency options (its scenarios.yaml), runs of
``simulate`` and ``plan`` as background jobs (:mod:`flowcap.jobs`), their progress and their
results; and the API's jobs routes.

Pages (server-rendered; a job's page polls itself with htmx while the job runs):

- ``GET /services/{name}/planner`` (viewer): the options as stored, the last runs; for an
  editor, the forms to run and to edit the options.
- ``POST /services/{name}/planner/run`` (editor, CSRF): queue a run, then its page.
- ``POST /services/{name}/planner/options`` (editor, CSRF): save scenarios.yaml through
  :func:`flowcap.manage.save_settings` (checked as an import checks it).
- ``GET /services/{name}/jobs/{id}`` (viewer): a run's progress, then its result.

API: ``POST /api/services/{name}/jobs`` (editor; 202) and ``GET /api/jobs/{id}``.

The app's worker threads start and stop with the app: this router's lifespan, which FastAPI
merges into the app's when the router is included.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from flowcap import jobs, manage
from flowcap.checks import ArgumentError
from flowcap.errors import FlowcapError, InputError
from flowcap.web import planner_view, security
from flowcap.web.deps import (
    AccountsDep,
    ApiUser,
    NotFound,
    PageService,
    Visitor,
    api_service,
    page_service,
    row_id,
)
from flowcap.web.render import FieldError, expired_form, render
from flowcap.web.schemas import JobAccepted, JobRequest, JobStatus, Problem, Refused

#: Worker threads the app runs (``FLOWCAP_JOB_WORKERS``; 0 runs none: another process does).
DEFAULT_WORKERS = 2


@asynccontextmanager
async def _workers(app):
    count = int(os.environ.get("FLOWCAP_JOB_WORKERS", DEFAULT_WORKERS))
    pool = jobs.WorkerPool(app.state.store, workers=count)
    app.state.jobs = pool
    pool.start()
    try:
        yield
    finally:
        pool.stop()


router = APIRouter(lifespan=_workers)
pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["jobs"])

EditorPage = Annotated[str, Depends(page_service("editor"))]
EditorApi = Annotated[str, Depends(api_service("editor"))]

#: The form field of each option, per kind (the error summary links to it).
FIELDS = {
    "simulate": {"horizon": "sim-horizon", "replications": "sim-replications", "risk": "sim-risk"},
    "plan": {
        "target_backlog_minutes": "plan-target",
        "target_backlog_cases": "plan-target",
        "target_wait_weeks": "plan-target",
        "risk": "plan-risk",
        "horizon": "plan-horizon",
        "replications": "plan-horizon",
    },
}
#: The plan form's target units, as the library names the target.
TARGETS = {
    "minutes": "target_backlog_minutes",
    "cases": "target_backlog_cases",
    "weeks": "target_wait_weeks",
}
LABELS = {
    "sim-horizon": "Days ahead",
    "sim-replications": "Simulated futures",
    "sim-risk": "Accepted risk",
    "plan-target": "Target",
    "plan-risk": "Accepted risk",
    "plan-horizon": "Days ahead",
}


# --- the planner page ----------------------------------------------------------------------------


@pages.get("/services/{name}/planner", response_class=HTMLResponse)
def planner(request: Request, name: PageService, visitor: Visitor, saved: int | None = None):
    return _planner_page(request, name, visitor, saved=saved)


def _planner_page(
    request: Request,
    name: str,
    visitor,
    *,
    errors: list[FieldError] | None = None,
    form: dict | None = None,
    content: str | None = None,
    saved: int | None = None,
    status: int = 200,
) -> Response:
    store = request.app.state.store
    try:
        settings = jobs.scenario_settings(store, name)
        settings_problem = None
    except FlowcapError as error:  # stored options that no longer read: shown, editable
        settings, settings_problem = None, str(error)
    stored_text = settings.content if settings else ""
    context = {
        "title": f"Scenario planner: {name}",
        "name": name,
        "visitor": visitor,
        "errors": errors or [],
        "settings": settings,
        "settings_problem": settings_problem,
        "content": stored_text if content is None else content,
        "runs": jobs.jobs_of(store, name, limit=10, kinds=("simulate", "plan")),
        "change_in_words": planner_view.change_in_words,
        "can_edit": visitor.user.can(name, "editor"),
        "form": {
            "sim-horizon": "90",
            "sim-replications": "1000",
            "sim-risk": "0.05",
            "plan-target": "",
            "plan-unit": "minutes",
            "plan-risk": "0.05",
            "plan-horizon": "90",
            **(form or {}),
        },
        "saved": saved,
        "max_replications": jobs.MAX_JOB_REPLICATIONS,
        "max_horizon": jobs.MAX_JOB_HORIZON_DAYS,
    }
    return render(request, "planner.html", context, status=status)


@pages.post("/services/{name}/planner/run")
def run_form(
    request: Request,
    name: EditorPage,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=20)] = "",
    horizon: Annotated[str, Form(max_length=40)] = "",
    replications: Annotated[str, Form(max_length=40)] = "",
    risk: Annotated[str, Form(max_length=40)] = "",
    target: Annotated[str, Form(max_length=40)] = "",
    unit: Annotated[str, Form(max_length=20)] = "minutes",
) -> Response:
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    errors: list[FieldError] = []
    options: dict[str, Any] = {}
    if kind == "simulate":
        form = {"sim-horizon": horizon, "sim-replications": replications, "sim-risk": risk}
        options["horizon"] = _number(horizon, "sim-horizon", int, errors)
        options["replications"] = _number(replications, "sim-replications", int, errors)
        options["risk"] = _number(risk, "sim-risk", float, errors)
    elif kind == "plan":
        form = {
            "plan-target": target,
            "plan-unit": unit,
            "plan-risk": risk,
            "plan-horizon": horizon,
        }
        if unit not in TARGETS:
            errors.append(FieldError("plan-unit", "Choose what the target counts"))
        elif target.strip():
            options[TARGETS[unit]] = _number(target, "plan-target", float, errors)
        options["risk"] = _number(risk, "plan-risk", float, errors)
        options["horizon"] = _number(horizon, "plan-horizon", int, errors)
    else:
        form = {}
        errors.append(FieldError("sim-horizon", "Choose what to run: a simulation or a plan"))
    options = {key: value for key, value in options.items() if value is not None}
    if not errors:
        try:
            job = jobs.submit(request.app.state.store, name, kind, options, visitor.user)
        except ArgumentError as error:
            field = FIELDS[kind].get(error.parameter, next(iter(FIELDS[kind].values())))
            errors.append(FieldError(field, f"{LABELS.get(field, 'This')}: {error}"))
        else:
            _queued(request, accounts, visitor.user.email, job)
            return RedirectResponse(f"/services/{_q(name)}/jobs/{job.id}", status_code=303)
    return _planner_page(request, name, visitor, errors=errors, form=form, status=422)


def _number(text: str, field: str, kind: type, errors: list[FieldError]):
    """The form's ``text`` as a ``kind`` number; empty is ``None`` (the option's default)."""
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        errors.append(FieldError(field, f"{LABELS[field]}: enter {what}, like 90"))
        return None


@pages.post("/services/{name}/planner/options")
def options_form(
    request: Request,
    name: EditorPage,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    scenarios: Annotated[str | None, Form(max_length=200_000)] = None,
) -> Response:
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    if scenarios is None:
        problem = FieldError("scenarios", "Enter the options (the text of scenarios.yaml)")
        return _planner_page(request, name, visitor, errors=[problem], status=422)
    content = scenarios.replace("\r\n", "\n")
    try:
        version = manage.save_settings(
            name,
            "scenarios",
            content.encode("utf-8"),
            database_url=request.app.state.store.url,
            saved_by=visitor.user.email,
        )
    except InputError as error:
        problems = [FieldError("scenarios", _problem_text(p)) for p in error.problems]
        return _planner_page(request, name, visitor, errors=problems, content=scenarios, status=422)
    except FlowcapError as error:
        problem = FieldError("scenarios", str(error))
        return _planner_page(
            request, name, visitor, errors=[problem], content=scenarios, status=422
        )
    if version is not None:
        accounts.audit(
            "scenarios edit",
            actor=visitor.user.email,
            service=name,
            detail=f"scenarios.yaml saved as version {version}",
        )
    return RedirectResponse(f"/services/{_q(name)}/planner?saved={version or 0}", status_code=303)


def _problem_text(problem) -> str:
    where = f"line {problem.row}: " if problem.row is not None else ""
    return f"scenarios.yaml {where}{problem.message}"


# --- a job's page ----------------------------------------------------------------------------


@pages.get("/services/{name}/jobs/{id}", response_class=HTMLResponse)
def job_page(request: Request, name: PageService, visitor: Visitor, id: int) -> Response:
    job = jobs.get_job(request.app.state.store, id) if row_id(id) else None
    if job is None or job.service != name:
        raise NotFound
    if job.kind == "report":  # built and downloaded on the reports page
        return RedirectResponse(f"/services/{_q(name)}/reports", status_code=303)
    title = f"{'Simulation' if job.kind == 'simulate' else 'Plan'} {job.id}: {name}"
    view = None
    if job.status == "done" and job.result is not None:
        if job.kind == "simulate":
            view = planner_view.simulation_view(job.result)
        else:
            view = planner_view.plan_view(job.result)
    context = {
        "title": title,
        "name": name,
        "visitor": visitor,
        "job": job,
        "asked_for": planner_view.options_in_words(job.kind, job.options),
        "view": view,
    }
    return render(request, "planner_job.html", context)


# --- the API -----------------------------------------------------------------------------------


@api.post(
    "/services/{name}/jobs",
    status_code=202,
    response_model=JobAccepted,
    responses={
        401: {"model": Problem},
        403: {"model": Problem},
        400: {"model": Problem, "description": "A body that cannot be read (not UTF-8)"},
        404: {"model": Problem},
        413: {"model": Problem, "description": "A body over 4,000,000 bytes"},
        422: {"model": Refused, "description": "An option outside its rule (named)"},
    },
)
def submit_job(
    request: Request, body: JobRequest, name: EditorApi, user: ApiUser, accounts: AccountsDep
) -> JobAccepted:
    """Queue a simulation or a plan of the service; poll ``GET /api/jobs/{id}`` for it."""
    try:
        job = jobs.submit(request.app.state.store, name, body.kind, body.options, user)
    except ArgumentError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    _queued(request, accounts, user.email, job)
    return JobAccepted(id=job.id, status=job.status)


@api.get(
    "/jobs/{id}",
    response_model=JobStatus,
    responses={401: {"model": Problem}, 404: {"model": Problem}},
)
def job_status(request: Request, id: int, user: ApiUser) -> Response:
    """A job of a service the user belongs to (404 otherwise, as for no such job)."""
    job = jobs.get_job(request.app.state.store, id) if row_id(id) else None
    if job is None or user.role_in(job.service) is None:
        raise HTTPException(status_code=404, detail="Not Found")
    return JSONResponse(job.as_json())


# --- shared ------------------------------------------------------------------------------------


def _queued(request: Request, accounts, email: str, job: jobs.Job) -> None:
    options = ", ".join(f"{key} {value}" for key, value in job.options.items() if value is not None)
    accounts.audit(
        "run", actor=email, service=job.service, detail=f"{job.kind} job {job.id}: {options}"
    )
    pool = getattr(request.app.state, "jobs", None)
    if pool is not None:
        pool.wake()


def _q(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


router.include_router(pages)
router.include_router(api)
