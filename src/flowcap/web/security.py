"""Cookies, CSRF tokens and the security headers of every response.

- **The session** is a random token from :meth:`Accounts.start_session`, in the cookie
  :data:`SESSION_COOKIE`: HttpOnly (no script reads it), SameSite=Lax (other sites' forms do
  not send it), Secure when the request came over HTTPS, and with no expiry of its own: the
  store's session row decides when it ends, and logout ends it there.
- **CSRF, signed in:** every form that changes anything posts ``csrf_token``, compared in
  constant time with the token the store keeps for the session.
- **CSRF, the login form** (no session yet): the double-submit pattern. ``GET /login`` puts
  a random token both in the form and in the short-lived cookie :data:`LOGIN_CSRF_COOKIE`
  (HttpOnly, SameSite=Strict, ten minutes, path ``/login``); ``POST /login`` must bring the
  two equal. Another site can make a browser post the form but can neither read nor set
  that cookie, so it cannot log a victim into the attacker's account.
- **Headers:** a Content-Security-Policy allowing scripts, styles and fetches from this site
  only (no inline script or style: the dashboard's figure travels as JSON and a static script
  draws it) and no framing; ``nosniff``; ``Referrer-Policy: same-origin``; ``no-store`` on
  everything but the static files; HSTS over HTTPS.
- **Request bodies** (:class:`BodyLimit`): at most :data:`MAX_BODY_BYTES` but for the
  uploads (which have limits of their own, ``FLOWCAP_MAX_UPLOAD_MB``): a longer declared
  ``Content-Length`` is a 413 before any of it is read, and a chunked body is cut off with a
  413 once past the limit.
- **The API docs** (``/docs``, Swagger UI): a page we do not write, started by an inline
  script. It alone gets :func:`docs_content_security_policy`: that script allowed by its
  hash, and still nothing from another site (Swagger UI is served by the app).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

SESSION_COOKIE = "flowcap_session"
LOGIN_CSRF_COOKIE = "flowcap_login_csrf"
LOGIN_CSRF_SECONDS = 600

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


#: The largest request body but an upload's: a settings form holds service.yaml (at most
#: 1,000,000 bytes, ``flowcap.io.safe_yaml``), which URL-encoding can triple.
MAX_BODY_BYTES = 4_000_000
#: Paths whose bodies are uploads, limited by ``FLOWCAP_MAX_UPLOAD_MB`` instead.
UPLOAD_PATH = re.compile(r"^/(api/)?services/[^/]+/uploads?$")


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(given: str | None, expected: str | None) -> bool:
    """Constant-time equality of two tokens; false when either is missing or empty."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )


def set_login_csrf_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_SECONDS,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path="/login",
    )


def clear_login_csrf_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        LOGIN_CSRF_COOKIE, path="/login", httponly=True, samesite="strict", secure=is_https(request)
    )


def local_path(target: str | None, default: str = "/services") -> str:
    """``target`` when it is a path on this site (``/services/x?from=...``), else
    ``default``: a ``next`` parameter must never send a user to another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return default
    return target


class SecurityHeaders:
    """ASGI middleware giving every response the site's security headers (a route may set
    its own Content-Security-Policy first; ``no-store`` but for files under ``/static/``,
    which get a ``Cache-Control`` of ``static_max_age`` seconds; HSTS over HTTPS).

    A plain ASGI wrapper of ``send`` rather than ``@app.middleware("http")``: Starlette's
    ``BaseHTTPMiddleware`` streams each body through a task and a queue, which cost about a
    twentieth of the server's time under the load benchmark."""

    def __init__(self, app, static_max_age: int):
        self.app = app
        self.static_max_age = static_max_age

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if path.startswith("/static/"):
                    headers.setdefault("Cache-Control", f"public, max-age={self.static_max_age}")
                _set_headers(headers, path, https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """A request body past :data:`MAX_BODY_BYTES`, found while reading it (chunked)."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is over {limit:,} bytes, the most this accepts")


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` (uploads excepted:
    :data:`UPLOAD_PATH`) with 413: at once when ``Content-Length`` says so, before the body
    is read; while reading, for a chunked body (the route's read raises :class:`BodyTooLarge`,
    which the app answers as any HTTPException)."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or UPLOAD_PATH.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            too_large = BodyTooLarge(self.max_bytes)
            if scope.get("path", "").startswith("/api/"):
                answer = JSONResponse({"detail": too_large.detail}, status_code=413)
            else:
                answer = PlainTextResponse(too_large.detail, status_code=413)
            await answer(scope, receive, send)
            return
        read = 0

        async def counted():
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)


def _set_headers(headers: MutableHeaders, path: str, https: bool) -> None:
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    for name, value in HEADERS.items():
        headers.setdefault(name, value)
    if not path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")
    if https:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")


def inline_script_hashes(html: str) -> list[str]:
    """CSP ``'sha256-...'`` sources for the inline scripts of a page we do not write
    ourselves (the OpenAPI docs), so that only those scripts run."""
    sources = []
    for body in re.findall(r"<script>(.*?)</script>", html, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        sources.append(f"'sha256-{digest}'")
    return sources


def docs_content_security_policy(html: str) -> str:
    """The Content-Security-Policy of the API docs page ``html`` (``/docs``): the site's
    own policy (scripts, styles, images and fetches from this site only, no inline style),
    plus the page's inline scripts, allowed by their hash (Swagger UI starts from one). The
    page shows no data, only the API's description; it fetches ``/openapi.json`` and its
    "Try it out" calls the API (``connect-src 'self'``), and nothing elsewhere."""
    scripts = " ".join(["'self'", *inline_script_hashes(html)])
    return CONTENT_SECURITY_POLICY.replace("script-src 'self';", f"script-src {scripts};")
