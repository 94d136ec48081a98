"""The web app: :func:`create_app` builds it on a store (``FLOWCAP_DATABASE_URL``, else the
CLI's default store), migrated before the first request.

``flowcap serve`` runs it under Uvicorn; tests call ``create_app(url)`` with a temporary
store. Pages are server-rendered (:mod:`flowcap.web.pages`), the API is under ``/api/``
(:mod:`flowcap.web.api`), OpenAPI docs at ``/docs`` (Swagger UI, served by the app itself: no
CDN); see :mod:`flowcap.web.security` for the session, CSRF and header rules.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import flowcap
from flowcap.accounts import Accounts
from flowcap.manage import UploadLimits
from flowcap.store import Store, default_database_url
from flowcap.web import (
    admin,
    alerts,
    api,
    daily,
    pages,
    planner,
    processmap,
    reports,
    security,
    uploads,
)
from flowcap.web.assets import PLOTLY_JS, STATIC, plotly_css
from flowcap.web.cache import MeasuresCache, warming
from flowcap.web.deps import Forbidden, LoginRequired, NotFound
from flowcap.web.paths import EncodedSegments
from flowcap.web.render import environment, render

STATIC_MAX_AGE = 3600
#: Swagger UI (5.x, Apache-2.0) for the API docs at /docs, from the installed
#: ``fastapi-offline`` package, which ships its two files: no CDN, so /docs works offline.
#: ReDoc stays off (``redoc_url=None``).
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"


def create_app(database_url: str | None = None) -> FastAPI:
    """The web app on the store at ``database_url`` (default: ``FLOWCAP_DATABASE_URL``, else
    the user's default store, as the CLI's ``--service``), its schema brought up to date."""
    store = Store.open(database_url or default_database_url())
    app = FastAPI(
        title="flowcap",
        version=flowcap.__version__,
        summary="Demand, capacity, activity and backlog of the services you belong to.",
        docs_url=None,
        redoc_url=None,
        lifespan=warming,
    )
    app.state.store = store
    # Read once, at the start: a bad FLOWCAP_MAX_* refuses to start (flowcap serve checks it
    # first and says so) rather than failing each upload.
    app.state.upload_limits = UploadLimits.from_environment()
    app.state.accounts = Accounts(store)
    app.state.cache = MeasuresCache(store)
    app.state.templates = environment()

    app.add_middleware(security.BodyLimit)
    app.add_middleware(security.SecurityHeaders, static_max_age=STATIC_MAX_AGE)
    app.add_middleware(EncodedSegments)  # a service's name may hold "/": see web.paths

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return _not_found_page(request)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden):
        return render(
            request, "forbidden.html", {"title": "You do not have permission"}, status=403
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404 and not request.url.path.startswith("/api/"):
            return _not_found_page(request)
        return await http_exception_handler(request, exc)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # What a browser asks for on a page that names no icon (a JSON answer opened in it).
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    @app.get("/static/plotly.css", include_in_schema=False)
    def plotly_stylesheet() -> Response:
        return Response(plotly_css(), media_type="text/css")

    @app.get("/static/swagger-ui-bundle.js", include_in_schema=False)
    def swagger_ui_js() -> FileResponse:
        return FileResponse(SWAGGER_UI / "swagger-ui-bundle.js", media_type="text/javascript")

    @app.get("/static/swagger-ui.css", include_in_schema=False)
    def swagger_ui_css() -> FileResponse:
        return FileResponse(SWAGGER_UI / "swagger-ui.css", media_type="text/css")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="flowcap API",
            swagger_js_url="/static/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            # no badge fetched from swagger.io's validator: nothing leaves this server
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = security.docs_content_security_policy(
            page.body.decode()
        )
        return page

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(daily.router)
    app.include_router(planner.router)
    app.include_router(uploads.router)
    app.include_router(admin.router)
    app.include_router(processmap.router)
    app.include_router(reports.router)
    app.include_router(alerts.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _not_found_page(request: Request) -> Response:
    """One page for an unknown address, an unknown service and a service the user may not
    see, so that none can be told from the others."""
    return render(request, "not_found.html", {"title": "Page not found"}, status=404)
