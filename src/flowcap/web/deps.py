"""What the routes declare: the store's accounts, the measures cache, the signed-in user (a
page's session cookie or the API's bearer token) and the one rule of who may see a service.

Routes take the ``Annotated`` aliases below (``Visitor``, ``ApiUser``, ``PageService``,
``ApiService``) and never look at cookies, headers or roles themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from flowcap.accounts import ROLES, Accounts, User
from flowcap.web.cache import MeasuresCache
from flowcap.web.paths import service_name
from flowcap.web.security import SESSION_COOKIE

# The dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency
# in its thread pool, a hop each that cost more than the work under the load benchmark.


async def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts


async def get_cache(request: Request) -> MeasuresCache:
    return request.app.state.cache


AccountsDep = Annotated[Accounts, Depends(get_accounts)]
CacheDep = Annotated[MeasuresCache, Depends(get_cache)]


class LoginRequired(Exception):
    """A page asked for without a live session: the app answers 303 to ``/login?next=``."""

    def __init__(self, next_path: str):
        self.next_path = next_path


class NotFound(Exception):
    """A page for a service that does not exist or that the user may not see: one answer for
    both, so that nothing tells them apart."""


class Forbidden(Exception):
    """A page of a service the user belongs to, asking for a higher role than theirs (a viewer
    on an editor's page): 403. They know the service exists, so nothing leaks by saying so."""


@dataclass(frozen=True)
class SignedIn:
    """A page's visitor: the user, their session token and the session's CSRF token."""

    user: User
    session_token: str
    csrf_token: str


def signed_in(request: Request, accounts: AccountsDep) -> SignedIn:
    token = request.cookies.get(SESSION_COOKIE)
    found = accounts.session(token) if token else None
    if found is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    user, csrf = found
    return SignedIn(user, token, csrf)


Visitor = Annotated[SignedIn, Depends(signed_in)]

bearer = OAuth2PasswordBearer(tokenUrl="/api/token", auto_error=False)


def api_user(accounts: AccountsDep, token: Annotated[str | None, Depends(bearer)]) -> User:
    user = accounts.token_user(token) if token else None
    if user is None:
        raise HTTPException(
            status_code=401,
            detail="a valid API token is needed: Authorization: Bearer TOKEN (POST /api/token)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


ApiUser = Annotated[User, Depends(api_user)]


def may(user: User, service: str, role: str) -> bool:
    """The one rule: ``user`` holds ``role`` or a higher one in ``service``
    (:data:`~flowcap.accounts.ROLES` ascending: a viewer reads, an editor also changes the
    data, an admin also manages users and settings)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return user.can(service, role)


def page_service(role: str):
    """A dependency giving the path's service name when the signed-in user holds ``role`` in
    it; the not-found page when they do not belong to it (as for an unknown service), 403
    when they belong with a lower role."""

    async def check(name: str, visitor: Visitor) -> str:
        name = service_name(name)
        if visitor.user.role_in(name) is None:
            raise NotFound
        if not may(visitor.user, name, role):
            raise Forbidden
        return name

    return check


def api_service(role: str):
    """As :func:`page_service`, for the API: 404 ``{"detail": "Not Found"}``, or 403."""

    async def check(name: str, user: ApiUser) -> str:
        name = service_name(name)
        if user.role_in(name) is None:
            raise HTTPException(status_code=404, detail="Not Found")
        if not may(user, name, role):
            raise HTTPException(status_code=403, detail=f"this needs the {role} role or above")
        return name

    return check


#: The largest id a row of the store can have (the ids are ``Integer`` columns: 32-bit on
#: PostgreSQL, 64-bit on SQLite; the smaller holds): a path's id beyond it names no job or
#: alert, and must not reach the driver (which refuses it with a DataError on PostgreSQL, an
#: OverflowError on SQLite: a 500).
MAX_ROW_ID = 2**31 - 1


def row_id(id: int) -> bool:
    """Whether ``id`` can be a row's id at all (1 to :data:`MAX_ROW_ID`)."""
    return 1 <= id <= MAX_ROW_ID


#: The path's service, readable by the signed-in user (page) or the token's user (API).
PageService = Annotated[str, Depends(page_service("viewer"))]
ApiService = Annotated[str, Depends(api_service("viewer"))]
