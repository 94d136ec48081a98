"""Rendering pages: the Jinja2 environment (autoescaped), the filters that format numbers
and times for people, and the error-summary entries of a form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from flowcap.web.assets import TEMPLATES, plotly_style_blocks


@dataclass(frozen=True)
class FieldError:
    """One problem with a form: the field's id (the error summary links to it) and what to do."""

    field: str
    message: str


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value, places: int = 0) -> str:
    """``1,234`` (a dash for none)."""
    return "–" if _missing(value) else f"{value:,.{places}f}"


def share(value) -> str:
    """``94%`` (a dash for none)."""
    return "–" if _missing(value) else f"{value:.0%}"


def day(value) -> str:
    """``Wed 31 Dec 2025``."""
    return "–" if value is None or value != value else f"{value:%a %d %b %Y}"


def when(value: datetime | None) -> str:
    """A stored time (naive UTC) as ``31 Dec 2025 at 14:05 UTC``."""
    if value is None:
        return "never"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value:%d %b %Y at %H:%M} UTC"


def iso(value) -> str:
    return "" if value is None else f"{value:%Y-%m-%d}"


def urlquote(value: str) -> str:
    """A path segment: ``/services/{{ name | urlquote }}`` (spaces and slashes encoded)."""
    return quote(str(value), safe="")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates are installed files: no check of their modification time on every
        # page (a stat per template and include, measured under load).
        auto_reload=False,
    )
    env.filters |= {
        "number": number,
        "share": share,
        "day": day,
        "when": when,
        "iso": iso,
        "urlquote": urlquote,
    }
    env.globals["plotly_style_ids"] = [ident for ident, _ in plotly_style_blocks()]
    return env


def render(request: Request, template: str, context: dict, status: int = 200) -> HTMLResponse:
    """The page ``template`` with ``context`` (plus ``visitor``: ``None`` unless given, and
    ``errors``: none unless given)."""
    env: jinja2.Environment = request.app.state.templates
    page = env.get_template(template).render(
        {"visitor": None, "errors": [], "request_path": request.url.path, **context}
    )
    return HTMLResponse(page, status_code=status)


__all__ = ["FieldError", "date", "environment", "render"]


def expired_form(request: Request, visitor) -> HTMLResponse:
    """The answer to a form posted without the session's CSRF token: 403, nothing changed.
    The one page every form route gives (``visitor`` keeps the header's account links)."""
    return render(
        request,
        "problem.html",
        {
            "title": "This form had expired",
            "message": "Nothing was changed. Go back, reload the page and try again.",
            "visitor": visitor,
        },
        status=403,
    )
