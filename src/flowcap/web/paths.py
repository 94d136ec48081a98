"""Service names in addresses. A service's name may hold ``/`` (or ``%``): the pages quote it
(``North%2FSouth``), but a router matching the decoded path would read that ``/`` as a
separator, and the service would have no pages. :class:`EncodedSegments` (ASGI middleware)
decodes each segment of the raw path on its own and keeps ``%`` and ``/`` in it encoded, so a
name stays one segment; the routes' service dependency (:mod:`flowcap.web.deps`) decodes it
with :func:`service_name`.
"""

from __future__ import annotations

from urllib.parse import unquote, unquote_to_bytes


def segment(raw: bytes) -> str:
    """One segment of a raw path, decoded (UTF-8), with ``%`` and ``/`` encoded again."""
    text = unquote_to_bytes(raw).decode("utf-8", errors="replace")
    return text.replace("%", "%25").replace("/", "%2F")


def service_name(param: str) -> str:
    """The service's name from its path parameter (:func:`segment`'s inverse)."""
    return unquote(param)


class EncodedSegments:
    """ASGI middleware: the path the router matches, rebuilt from the raw path segment by
    segment (:func:`segment`). Without a raw path (a test client that gives none) the path
    is left as it is."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if raw:
            raw = raw.split(b"?", 1)[0]
            scope = dict(scope, path="/".join(segment(part) for part in raw.split(b"/")))
        await self.app(scope, receive, send)
