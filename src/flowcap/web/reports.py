"""The reports page: the commissioner's report of ``flowcap report``, built in the background
(a ``report`` job, :mod:`flowcap.jobs`) and downloaded as HTML, PDF or Excel.

A service manager picks the month to report (the CLI's default: the month up to the last
day of data), asks for the report, watches it being built (a minute or so: the forecast and
the simulation run inside) and downloads the three files; a commissioner with a viewer's
role can do the same. The files are kept in the job's row in the store (see
:func:`flowcap.jobs.report_files` for why), so a reload, a restart or another app process
finds them.

- ``GET /services/{name}/reports`` (viewer): the period form, the reports built lately with
  their progress (the page polls itself with htmx while one is being built) and their
  download links, and the summary of the chosen period's report.
- ``POST /services/{name}/reports`` (viewer, CSRF): queue a report of the period, unless
  one of the same period is being built or is ready on the current data (then nothing new
  is queued); at most :data:`MAX_BUILDING` being built per service.
- ``GET /services/{name}/reports/download?format=html|pdf|xlsx&from=&to=`` (viewer): the
  newest report of that period built on the current data, as an attachment named as
  ``flowcap report`` names it; without one, back to the page, which says so.

A report is *current* when its job started after the service's data and settings last
changed: one built before an import is shown as out of date, never downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from flowcap import jobs
from flowcap.checks import ArgumentError
from flowcap.errors import FlowcapError
from flowcap.web import security
from flowcap.web.deps import AccountsDep, CacheDep, PageService, Visitor
from flowcap.web.render import FieldError, expired_form, render

router = APIRouter(include_in_schema=False)

#: Report jobs of one service that may be queued or running at once.
MAX_BUILDING = 2
#: Report jobs the page lists (and the download looks through).
LISTED = 20
#: Each format's media type and the name people know it by.
MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
LABELS = {"html": "Web page (HTML)", "pdf": "PDF", "xlsx": "Excel workbook"}
#: The library's names of the period's ends, as the form names its fields.
FIELDS = {"start": "from", "from": "from", "end": "to", "to": "to"}


# --- the period ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """The days a service has data for, and the report's default period over them."""

    first: date
    last: date
    default: tuple[date, date]


class _Measured:
    """What :func:`flowcap.report.commissioner.report_period` reads of a history: its
    measures (the app's cached ones, so that no page opens the history again)."""

    def __init__(self, measures):
        self.measures = measures

    def require_measures(self, purpose: str):
        return self.measures


def data_span(cache, name: str) -> Span:
    """The service's days of data and default period; a :class:`FlowcapError` for a service
    with no referrals."""
    from flowcap.report.commissioner import report_period

    measured = cache.measures(name)
    if measured is None:  # removed since the page's check
        raise FlowcapError(f"the store holds no service {name!r}")
    first, last = (stamp.date() for stamp in measured.result.period)
    start, end, _ = report_period(_Measured(measured.result), None, None)
    return Span(first, last, (start, end))


def chosen_period(cache, name: str, start: date | None, end: date | None) -> tuple[date, date]:
    """The period asked for, its ends left out taking the CLI's defaults, checked by the
    library's rule (:func:`~flowcap.report.commissioner.report_period`) and within the
    data; an :class:`ArgumentError` naming ``from`` or ``to`` otherwise."""
    from flowcap.report.commissioner import report_period

    measured = cache.measures(name)
    last = measured.result.period[1].date()
    if end is not None and end > last:
        raise ArgumentError("to", f"must be on or before {last:%d %b %Y}, the last day of data")
    start, end, _ = report_period(_Measured(measured.result), start, end)
    return start, end


def _parse(text: str | None, field_name: str, errors: list[FieldError]) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        which = "first" if field_name == "from" else "last"
        errors.append(FieldError(field_name, f"Enter the {which} day as a date, like 2025-12-01"))
        return None


# --- the reports built --------------------------------------------------------------------------


@dataclass
class Built:
    """One report job as the page lists it. ``state``: ``queued``, ``running``, ``failed``,
    ``ready`` (downloadable: the newest current report of its period), ``replaced`` (a
    newer one of the same period is ready), ``stale`` (built before the data last changed)
    or ``expired`` (its files are no longer kept)."""

    job: jobs.Job
    start: date
    end: date
    state: str
    files: list[dict] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    @property
    def period(self) -> tuple[date, date]:
        return (self.start, self.end)


def built_reports(store, cache, name: str, span: Span | None) -> list[Built]:
    """The service's newest report jobs, newest first, each with its state (see
    :class:`Built`)."""
    revision = cache.revision(name)
    changed = revision.last_change if revision is not None else None
    too_old = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=jobs.REPORT_FILES_DAYS)
    rows, ready = [], set()
    for job in jobs.report_jobs(store, name, limit=LISTED):
        if job.status == "done" and isinstance(job.result, dict):
            period = job.result["period"]
            start, end = date.fromisoformat(period["start"]), date.fromisoformat(period["end"])
        else:
            start, end = _asked_period(job, span)
        row = Built(job, start, end, job.status)
        if job.status == "done":
            current = job.started_at is not None and (changed is None or changed <= job.started_at)
            files = (job.result or {}).get("files", [])
            if not current:
                row.state = "stale"
            elif row.period in ready:
                row.state = "replaced"
            elif job.chart is None or not files or (job.finished_at or too_old) < too_old:
                row.state = "expired"
            else:
                row.state = "ready"
                row.files = files
                row.summary = job.result.get("summary", [])
                ready.add(row.period)
        rows.append(row)
    return rows


def _asked_period(job: jobs.Job, span: Span | None) -> tuple[date | None, date | None]:
    """A report job's period as asked for (its ends left out: the default period now)."""
    start, end = job.options.get("from"), job.options.get("to")
    default = span.default if span is not None else (None, None)
    return (
        date.fromisoformat(start) if start else default[0],
        date.fromisoformat(end) if end else default[1],
    )


# --- the page ----------------------------------------------------------------------------------


@router.get("/services/{name}/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    name: PageService,
    visitor: Visitor,
    cache: CacheDep,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
    missing: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    start = _parse(from_, "from", [])
    end = _parse(to, "to", [])
    return _page(request, name, visitor, cache, chosen=(start, end), missing=missing)


def _page(
    request: Request,
    name: str,
    visitor,
    cache,
    *,
    chosen: tuple[date | None, date | None] = (None, None),
    form: dict | None = None,
    errors: list[FieldError] | None = None,
    missing: str | None = None,
    status: int = 200,
) -> Response:
    store = request.app.state.store
    try:
        span, problem = data_span(cache, name), None
    except FlowcapError as error:  # no referrals yet: nothing to report
        span, problem = None, str(error)
    reports = built_reports(store, cache, name, span)
    period = None
    if span is not None:
        try:
            period = chosen_period(cache, name, *chosen)
        except ArgumentError:
            period = span.default
    shown = next((r for r in reports if r.state == "ready" and r.period == period), None)
    values = {
        "from": period[0].isoformat() if period else "",
        "to": period[1].isoformat() if period else "",
        **(form or {}),
    }
    context = {
        "title": f"Reports: {name}",
        "name": name,
        "visitor": visitor,
        "errors": errors or [],
        "span": span,
        "problem": problem,
        "period": period,
        "form": values,
        "reports": reports,
        "building": any(not r.job.finished for r in reports),
        "shown": shown,
        "missing": missing if missing in MEDIA else None,
        "labels": LABELS,
        "replications": jobs.OPTIONS["report"]["replications"][1],
        "query": urlencode({"from": values["from"], "to": values["to"]}),
    }
    return render(request, "reports.html", context, status=status)


@router.post("/services/{name}/reports")
def build(
    request: Request,
    name: PageService,
    visitor: Visitor,
    cache: CacheDep,
    accounts: AccountsDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    from_: Annotated[str, Form(alias="from", max_length=40)] = "",
    to: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    store = request.app.state.store
    errors: list[FieldError] = []
    form = {"from": from_, "to": to}
    start, end = _parse(from_, "from", errors), _parse(to, "to", errors)
    period = None
    if not errors:
        try:
            period = chosen_period(cache, name, start, end)
        except ArgumentError as error:
            field_name = FIELDS.get(error.parameter, "from")
            which = "First day" if field_name == "from" else "Last day"
            errors.append(FieldError(field_name, f"{which}: {error.rule}"))
        except FlowcapError as error:
            errors.append(FieldError("from", str(error)))
    if errors:
        return _page(request, name, visitor, cache, form=form, errors=errors, status=422)
    span = data_span(cache, name)
    reports = built_reports(store, cache, name, span)
    same = [r for r in reports if r.period == period and r.state in ("queued", "running", "ready")]
    if not same:
        if sum(not r.job.finished for r in reports) >= MAX_BUILDING:
            message = (
                f"{MAX_BUILDING} reports of this service are being built already: wait for "
                "one to finish, then ask again"
            )
            errors.append(FieldError("from", message))
            return _page(request, name, visitor, cache, form=form, errors=errors, status=422)
        options = {"from": period[0].isoformat(), "to": period[1].isoformat()}
        try:
            job = jobs.submit(store, name, "report", options, visitor.user)
        except ArgumentError as error:
            errors.append(FieldError(FIELDS.get(error.parameter, "from"), str(error)))
            return _page(request, name, visitor, cache, form=form, errors=errors, status=422)
        accounts.audit(
            "run",
            actor=visitor.user.email,
            service=name,
            detail=f"report job {job.id}: {period[0]:%Y-%m-%d} to {period[1]:%Y-%m-%d}",
        )
        pool = getattr(request.app.state, "jobs", None)
        if pool is not None:
            pool.wake()
    query = urlencode({"from": period[0].isoformat(), "to": period[1].isoformat()})
    return RedirectResponse(f"/services/{_q(name)}/reports?{query}#reports", status_code=303)


# --- the download ------------------------------------------------------------------------------


@router.get("/services/{name}/reports/download")
def download(
    request: Request,
    name: PageService,
    cache: CacheDep,
    format: Annotated[str | None, Query(max_length=10)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    page = f"/services/{_q(name)}/reports"
    errors: list[FieldError] = []
    start = _parse(from_, "from", errors)
    end = _parse(to, "to", errors)
    if format not in MEDIA or errors:
        return RedirectResponse(page, status_code=303)
    try:
        span = data_span(cache, name)
        period = chosen_period(cache, name, start, end)
    except FlowcapError:  # no data, or a period outside it: the page says what is wrong
        return RedirectResponse(page, status_code=303)
    store = request.app.state.store
    ready = next(
        (
            r
            for r in built_reports(store, cache, name, span)
            if r.state == "ready" and r.period == period
        ),
        None,
    )
    listed = {f["format"]: f for f in ready.files} if ready else {}
    files = jobs.report_files(store, ready.job.id) if format in listed else {}
    if format not in files:
        query = urlencode(
            {"from": period[0].isoformat(), "to": period[1].isoformat(), "missing": format}
        )
        return RedirectResponse(f"{page}?{query}", status_code=303)
    file_name = listed[format]["file_name"]
    return Response(
        files[format],
        media_type=MEDIA[format],
        headers={
            "Content-Disposition": f'attachment; filename="{file_name}"',
            "Cache-Control": "no-store",
        },
    )


def _q(name: str) -> str:
    return quote(name, safe="")
