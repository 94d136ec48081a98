"""The REST API under ``/api/``: a token for scripts, the services a user may see, and a
service's measures exactly as ``flowcap measures --json`` prints them. The bodies are the
documents of :mod:`flowcap.documents`, one set of models for the CLI and the API.

Every route but ``POST /api/token`` needs ``Authorization: Bearer TOKEN`` (401 without a
valid one); a service the token's user may not see is a 404, as an unknown one is.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BeforeValidator

from flowcap.accounts import AccountError, LoginRefused
from flowcap.checks import ArgumentError
from flowcap.documents import Detail as Problem
from flowcap.documents import MeasuresDay, Refused, ServiceSummary, Token
from flowcap.errors import FlowcapError
from flowcap.web.deps import AccountsDep, ApiService, ApiUser, CacheDep

router = APIRouter(prefix="/api", tags=["api"])


def _iso_day(value):
    """A day only as YYYY-MM-DD: pydantic would also take a number of seconds since 1970
    (``from=0`` as 1970-01-01), a quietly wrong start for a service's measures."""
    if isinstance(value, str) and not ISO_DAY.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
#: A query's day: YYYY-MM-DD, nothing else.
Day = Annotated[date, BeforeValidator(_iso_day)]

#: What a token made by POST /api/token is called in the user's list of tokens, unless the
#: form's ``client_id`` names it.
TOKEN_NAME = "POST /api/token"
UNAUTHORISED = {401: {"model": Problem, "description": "No valid API token"}}


@router.post(
    "/token",
    response_model=Token,
    responses={
        401: {"model": Problem, "description": "Wrong email or password"},
        413: {"model": Problem, "description": "A body over 4,000,000 bytes"},
        422: {"model": Refused, "description": "A field missing, or a token name refused"},
        429: {"model": Problem, "description": "Locked out after too many failed logins"},
    },
)
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    accounts: AccountsDep,
) -> Token:
    """An API token for scripts (OAuth2 password form: ``username`` is the email). It does
    not expire: the user revokes it. ``client_id``, when given, names it."""
    client = request.client.host if request.client else ""
    try:
        user = accounts.authenticate(form.username, form.password, client=client)
    except LoginRefused as refused:
        if refused.locked_until is not None:
            wait = (refused.locked_until - datetime.now(UTC)).total_seconds()
            raise HTTPException(
                status_code=429,
                detail=str(refused),
                headers={"Retry-After": str(max(1, int(wait) + 1))},
            ) from None
        raise HTTPException(
            status_code=401, detail=str(refused), headers={"WWW-Authenticate": "Bearer"}
        ) from None
    try:
        _, secret = accounts.create_api_token(user, (form.client_id or TOKEN_NAME).strip())
    except AccountError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    return Token(access_token=secret)


@router.get("/services", response_model=list[ServiceSummary], responses=UNAUTHORISED)
def services(user: ApiUser, cache: CacheDep) -> list[ServiceSummary]:
    """The services the token's user belongs to, with their role in each."""
    listing = []
    for name, role in sorted(user.roles.items()):
        revision = cache.revision(name)
        if revision is not None:
            stamp = revision.last_change
            listing.append(
                ServiceSummary(
                    name=name,
                    role=role,
                    last_updated=None if stamp is None else stamp.replace(tzinfo=UTC),
                )
            )
    return listing


@router.get(
    "/services/{name}/measures",
    response_model=list[MeasuresDay],
    responses={**UNAUTHORISED, 404: {"model": Problem}, 422: {"model": Refused}},
)
def measures(
    request: Request,
    name: ApiService,
    cache: CacheDep,
    from_: Annotated[Day | None, Query(alias="from", description="First day (YYYY-MM-DD)")] = None,
    to: Annotated[Day | None, Query(description="Last day (YYYY-MM-DD)")] = None,
) -> Response:
    """The daily measures per resource: the objects of ``flowcap measures --json`` for the
    same service and days (the backlog always counts from the first referral)."""
    try:
        measured = cache.measures(name, from_, to)
    except ArgumentError as error:
        flag = {"start": "from", "end": "to"}.get(error.parameter, error.parameter)
        raise HTTPException(status_code=422, detail=f"{flag}: {error.rule}") from None
    except FlowcapError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    if measured is None:
        raise HTTPException(status_code=404, detail="Not Found")
    if accepts_gzip(request):
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(measured.as_gzip(), media_type="application/json", headers=headers)
    return Response(
        measured.as_json(), media_type="application/json", headers={"Vary": "Accept-Encoding"}
    )


def accepts_gzip(request: Request) -> bool:
    """Whether the client takes a gzip body (``Accept-Encoding: gzip``, not refused with
    ``q=0``): the measures of a long history are megabytes of JSON, compressed once."""
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.replace(" ", "").lower()
            return q not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False
