"""``flowcap serve``: the web app under Uvicorn, on the store the other commands use."""

from __future__ import annotations

from typing import Annotated

import typer

from flowcap.cli.app import app, err, out, running
from flowcap.web import demo as web_demo


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")
    ] = web_demo.DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = (
        web_demo.DEFAULT_PORT
    ),
    workers: Annotated[
        int,
        typer.Option("--workers", help="Worker processes (PostgreSQL for more than one).", min=1),
    ] = 1,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="First import the bundled example and make the demo login "
            f"({web_demo.DEMO_EMAIL}); on 127.0.0.1 only.",
        ),
    ] = False,
) -> None:
    """Serve the web app: dashboards and an API over the store (FLOWCAP_DATABASE_URL, else
    the default store). Log in with an account from `flowcap user add`."""
    import uvicorn

    from flowcap.manage import UploadLimits
    from flowcap.store import Store, default_database_url

    with running() as progress:
        UploadLimits.from_environment()  # a bad FLOWCAP_MAX_* said here, not by each worker
        url = default_database_url()
        Store.open(url).close()  # migrated once here, before the workers start
        if demo:
            login = web_demo.prepare_demo(host, url, progress)
        web_demo.check_host(host, url)
    where = web_demo.address(host, port)
    if demo:
        out.print(
            f"Open {where} and log in as {login.email} with the password {login.password} "
            f"(the example: {login.service}).",
            markup=False,
            soft_wrap=True,
        )
    else:
        out.print(f"Serving on {where}", markup=False)
    err.print("Press Ctrl+C to stop.", markup=False)
    uvicorn.run(
        "flowcap.web:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        server_header=False,
        log_level="info",
    )
