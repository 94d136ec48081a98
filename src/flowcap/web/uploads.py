"""Uploading files to a stored service: the page (choose files, see every problem or a
preview of what changes, confirm) and ``POST /api/services/{name}/uploads``.

The checking, the preview and the import are :mod:`flowcap.manage`'s
(:func:`~flowcap.manage.preview_upload`, :func:`~flowcap.manage.import_upload`): the same
readers and rules as ``flowcap validate`` and ``flowcap import``. Between the preview and the
confirmation the files wait on the server (:class:`PendingUploads`) under a random id bound
to the user and the service, for :data:`PENDING_SECONDS`; the browser only ever sends that id
back, never a path.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from flowcap import manage
from flowcap.documents import Detail, Invalid, UploadSummary, problems_document
from flowcap.documents import Problems as UploadProblems
from flowcap.errors import InputError, Problem, StoreError
from flowcap.manage import UploadLimits, UploadPreview, UploadTooLarge
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

#: How long a checked upload waits for its confirmation.
PENDING_SECONDS = 30 * 60
#: Room for the multipart framing and the other form fields around the files' bytes.
FORM_OVERHEAD_BYTES = 64 * 1024
#: What each file of a service folder is for, in the order the page lists them.
FILE_PURPOSES = (
    ("referrals.csv", "the referrals: case_id, referral_date, case_type (and source)"),
    ("waiting.csv", "the cases waiting when the data starts: case_id, case_type, waiting_since"),
    ("roster.csv", "staff on duty: date, resource, staff (and minutes_per_staff)"),
    ("sessions.csv", "the work done: date, case_id, resource, minutes"),
    ("school_holidays.csv", "school holidays: start, end, name"),
    ("scenarios.yaml", "the contingency options the planner compares"),
    ("service.yaml", "the service's settings: resources, case types, targets"),
)
ACCEPT = ".csv,.xlsx,.xes,.gz,.yaml"
#: Problems named in the error summary at the top (the page lists every one below it).
SUMMARY_PROBLEMS = 20


# --- the files waiting for confirmation --------------------------------------------------------


class PendingUploads:
    """Checked uploads waiting for their confirmation, in a private folder on the server
    (``FLOWCAP_UPLOAD_DIR``, else the system's temporary folder): one folder per upload,
    named by a random id, holding the files and who may confirm them for which service. The
    files' names are kept in the folder's record, never used as paths."""

    ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")

    def __init__(self, root: Path | None = None, seconds: int = PENDING_SECONDS):
        default = Path(tempfile.gettempdir()) / f"flowcap-uploads-{os.getuid()}"
        self.root = root or Path(os.environ.get("FLOWCAP_UPLOAD_DIR") or default)
        self.seconds = seconds

    def save(self, user: str, service: str, files: dict[str, bytes]) -> str:
        self.expire()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        upload_id = secrets.token_urlsafe(32)
        folder = self.root / upload_id
        folder.mkdir(mode=0o700)
        names = list(files)
        for index, name in enumerate(names):
            (folder / f"{index}.bin").write_bytes(files[name])
        record = {"user": user, "service": service, "at": time.time(), "files": names}
        (folder / "upload.json").write_text(json.dumps(record))
        return upload_id

    def load(self, upload_id: str, user: str, service: str) -> dict[str, bytes] | None:
        """The files of ``upload_id`` when it is ``user``'s, for ``service`` and not expired;
        ``None`` otherwise (one answer for all three)."""
        if not self.ID.match(upload_id or ""):
            return None
        folder = self.root / upload_id
        try:
            record = json.loads((folder / "upload.json").read_text())
        except (OSError, ValueError):
            return None
        if (
            record.get("user") != user
            or record.get("service") != service
            or time.time() - record.get("at", 0) > self.seconds
        ):
            return None
        return {
            name: (folder / f"{index}.bin").read_bytes()
            for index, name in enumerate(record["files"])
        }

    def discard(self, upload_id: str) -> None:
        if self.ID.match(upload_id or ""):
            shutil.rmtree(self.root / upload_id, ignore_errors=True)

    def expire(self) -> None:
        """Remove the uploads older than their time."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            try:
                at = json.loads((folder / "upload.json").read_text()).get("at", 0)
            except (OSError, ValueError):
                at = folder.stat().st_mtime
            if time.time() - at > self.seconds:
                shutil.rmtree(folder, ignore_errors=True)


def get_pending() -> PendingUploads:
    return PendingUploads()


PendingDep = Annotated[PendingUploads, Depends(get_pending)]
EditorPage = Annotated[str, Depends(page_service("editor"))]
EditorApi = Annotated[str, Depends(api_service("editor"))]


# --- reading the request ---------------------------------------------------------------------


class TooLarge(Exception):
    def __init__(self, error: UploadTooLarge):
        self.error = error


async def read_form(request: Request, limits: UploadLimits) -> tuple[dict[str, bytes], dict]:
    """The request's files (``files`` parts; empty file inputs left out) and its other
    fields; refuses, before reading it, a body longer than the limits allow (:class:`TooLarge`)
    and a file name sent twice (:class:`InputError`)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit():
        if int(length) > limits.total_bytes + FORM_OVERHEAD_BYTES:
            raise TooLarge(
                UploadTooLarge(
                    [
                        Problem(
                            "upload",
                            f"the request is {int(length):,} bytes; an upload may hold at most "
                            f"{limits.total_bytes:,} (FLOWCAP_MAX_UPLOAD_MB)",
                        )
                    ]
                )
            )
    try:
        form = await request.form(max_files=limits.files + 1, max_fields=20)
    except (StarletteHTTPException, MultiPartException) as error:
        # Starlette's 400 for a form it cannot read (too many parts, a malformed body): a
        # problem of the upload like any other, in the answer's documented shape.
        if getattr(error, "status_code", 400) != 400:
            raise
        message = getattr(error, "detail", None) or getattr(error, "message", str(error))
        raise InputError([Problem("upload", f"the form cannot be read: {message}")]) from None
    files: dict[str, bytes] = {}
    sizes: dict[str, int] = {}
    fields = {}
    try:
        for key, value in form.multi_items():
            if not isinstance(value, UploadFile):
                fields[key] = value
                continue
            if key != "files" or (not value.filename and not value.size):
                continue
            name = value.filename or ""
            sizes[name] = value.size or 0
            try:
                manage.check_upload_size(sizes, limits)
            except UploadTooLarge as error:
                raise TooLarge(error) from None
            if name in files:
                raise InputError([Problem(name, "sent twice: send each file once")])
            files[name] = await value.read()
    finally:
        await form.close()
    return files, fields


def _problems(error: InputError) -> list[dict]:
    return problems_document(error)["problems"]


def _audit_detail(preview: UploadPreview) -> str:
    """File names and rows, never case ids."""
    parts = [
        f"{change.file}: {change.table} {change.rows_now:,} -> {change.rows_after:,} rows "
        f"({change.added:,} added, {change.replaced:,} replaced, {change.removed:,} removed)"
        for change in preview.tables
    ]
    parts += [f"new {kind} settings" for kind in preview.settings]
    return "; ".join(parts) or "nothing changed: " + ", ".join(preview.files)


# --- the page --------------------------------------------------------------------------------


def _upload_page(
    request: Request,
    name: str,
    visitor: SignedIn,
    problems: list[dict] | None = None,
    status: int = 200,
    can_upload: bool = True,
) -> Response:
    problems = problems or []
    errors = [FieldError("files", _where(p) + p["message"]) for p in problems[:SUMMARY_PROBLEMS]]
    if len(problems) > SUMMARY_PROBLEMS:  # the table below the summary lists every one
        more = len(problems) - SUMMARY_PROBLEMS
        errors.append(FieldError("files", f"and {more:,} more problems: see the list below"))
    return render(
        request,
        "upload.html",
        {
            "title": f"Upload files: {name}",
            "name": name,
            "visitor": visitor,
            "errors": errors,
            "problems": problems,
            "purposes": FILE_PURPOSES,
            "accept": ACCEPT,
            "limits": request.app.state.upload_limits,
            "can_upload": can_upload,
        },
        status=status,
    )


def _where(problem: dict) -> str:
    where = [problem["file"]]
    if problem["row"] is not None:
        where.append(f"row {problem['row']}")
    if problem["column"]:
        where.append(f"column {problem['column']}")
    return ", ".join(where) + ": "


@router.get("/services/{name}/upload", response_class=HTMLResponse, include_in_schema=False)
def upload_form(request: Request, name: PageService, visitor: Visitor) -> Response:
    """The form; a viewer sees what it is for and that uploading needs the editor role."""
    return _upload_page(request, name, visitor, can_upload=may(visitor.user, name, "editor"))


@router.post("/services/{name}/upload", response_class=HTMLResponse, include_in_schema=False)
async def upload_check(
    request: Request, name: EditorPage, visitor: Visitor, pending: PendingDep
) -> Response:
    limits = request.app.state.upload_limits
    try:
        files, fields = await read_form(request, limits)
    except TooLarge as too_large:
        return _upload_page(request, name, visitor, _problems(too_large.error), status=413)
    except InputError as error:
        return _upload_page(request, name, visitor, _problems(error))
    csrf_token = fields.get("csrf_token")
    if not security.tokens_match(
        csrf_token if isinstance(csrf_token, str) else None, visitor.csrf_token
    ):
        return expired_form(request, visitor)
    url = request.app.state.store.url
    try:
        preview = await run_in_threadpool(
            manage.preview_upload, name, files, database_url=url, limits=limits
        )
    except InputError as error:
        return _upload_page(request, name, visitor, _problems(error))
    upload_id = pending.save(visitor.user.email, name, files)
    return render(
        request,
        "upload_preview.html",
        {
            "title": f"Check the changes: {name}",
            "name": name,
            "visitor": visitor,
            "preview": preview,
            "upload_id": upload_id,
            "minutes": PENDING_SECONDS // 60,
        },
    )


@router.post(
    "/services/{name}/upload/confirm", response_class=HTMLResponse, include_in_schema=False
)
async def upload_confirm(
    request: Request,
    name: EditorPage,
    visitor: Visitor,
    pending: PendingDep,
    accounts: AccountsDep,
) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    csrf_token, upload_id = form.get("csrf_token"), form.get("upload_id")
    if not security.tokens_match(
        csrf_token if isinstance(csrf_token, str) else None, visitor.csrf_token
    ):
        return expired_form(request, visitor)
    upload_id = upload_id if isinstance(upload_id, str) else ""
    files = pending.load(upload_id, visitor.user.email, name)
    if files is None:
        return render(
            request,
            "problem.html",
            {
                "title": "This upload is no longer waiting",
                "message": (
                    f"Nothing was imported: a checked upload waits {PENDING_SECONDS // 60} "
                    "minutes for its confirmation, and only for the person who sent it. "
                    "Upload the files again."
                ),
                "visitor": visitor,
            },
            status=410,
        )
    url = request.app.state.store.url
    try:
        preview = await run_in_threadpool(
            manage.import_upload, name, files, database_url=url, saved_by=visitor.user.email
        )
    except (InputError, StoreError) as error:
        problems = (
            _problems(error)
            if isinstance(error, InputError)
            else [{"file": "upload", "row": None, "column": None, "message": str(error)}]
        )
        pending.discard(upload_id)
        return _upload_page(request, name, visitor, problems)
    pending.discard(upload_id)
    accounts.audit("upload", actor=visitor.user.email, service=name, detail=_audit_detail(preview))
    return render(
        request,
        "upload_done.html",
        {"title": f"Imported: {name}", "name": name, "visitor": visitor, "preview": preview},
    )


# --- the API ---------------------------------------------------------------------------------

MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more files named as in a service folder "
                            "(referrals.csv, roster.xlsx, scenarios.yaml, ...)",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/api/services/{name}/uploads",
    tags=["api"],
    response_model=UploadSummary,
    openapi_extra=MULTIPART,
    responses={
        401: {"description": "No valid API token"},
        403: {"description": "Needs the editor role"},
        404: {"description": "No such service, or not yours"},
        409: {"model": Detail, "description": "The store is busy or damaged (said why)"},
        413: {"model": UploadProblems, "description": "Over the size limits"},
        422: {
            "model": UploadProblems | Invalid,
            "description": "Every problem of every file (or a query field that does not parse)",
        },
    },
)
async def api_upload(
    request: Request,
    name: EditorApi,
    user: ApiUser,
    accounts: AccountsDep,
    dry_run: Annotated[bool, Query(description="Check and preview only; store nothing")] = False,
) -> Response:
    """Check files for the service as ``flowcap validate`` does and, when all are clean,
    import them at once (``dry_run``: say what would change, store nothing). Each data
    file replaces its table as a whole; what is not uploaded stays as stored."""
    limits = request.app.state.upload_limits
    try:
        files, _ = await read_form(request, limits)
    except TooLarge as too_large:
        return JSONResponse({"problems": _problems(too_large.error)}, status_code=413)
    except InputError as error:
        return JSONResponse({"problems": _problems(error)}, status_code=422)
    url = request.app.state.store.url
    call = manage.preview_upload if dry_run else manage.import_upload
    extra = {} if dry_run else {"saved_by": user.email}
    try:
        preview = await run_in_threadpool(
            call, name, files, database_url=url, limits=limits, **extra
        )
    except InputError as error:
        return JSONResponse({"problems": _problems(error)}, status_code=422)
    except StoreError as error:
        return JSONResponse({"detail": str(error)}, status_code=409)
    if not dry_run:
        accounts.audit("upload", actor=user.email, service=name, detail=_audit_detail(preview))
    return JSONResponse(UploadSummary(**preview.as_json()).model_dump(mode="json"))
