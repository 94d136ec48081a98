"""``flowcap serve --demo``: the bundled example in the app's store and a demo login, so that a
new user sees a dashboard a minute after installing.

The demo account has a fixed, documented password (:data:`DEMO_PASSWORD`), so ``flowcap
demo`` can print the login before the server has run. That is safe only where nobody else can
reach the server: the demo is refused for any host but loopback, and :func:`check_host`
refuses to serve on any other host while the demo account exists in the store.

Imports no web framework: ``flowcap demo`` reads the login from here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from flowcap.errors import FlowcapError
from flowcap.progress import Progress, quiet

DEMO_EMAIL = "demo@example.org"
DEMO_PASSWORD = "flowcap-demo-only"
DEMO_ROLE = "admin"
#: The one command that serves the example (``make serve`` runs it too).
SERVE_COMMAND = "flowcap serve --demo"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass(frozen=True)
class DemoLogin:
    """What the demo prints: the service, where to log in, and as whom."""

    service: str
    email: str
    password: str
    folder: Path


def is_loopback(host: str) -> bool:
    """True for a host only this machine can reach (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def demo_folder() -> Path:
    """The example's folder, as ``flowcap demo`` picks it: ``examples/victim-support`` when
    it is here, else ``./flowcap-demo`` (written on first use)."""
    bundled = Path("examples/victim-support")
    return bundled if (bundled / "service.yaml").is_file() else Path("flowcap-demo")


def prepare_demo(host: str, database_url: str, progress: Progress = quiet) -> DemoLogin:
    """Import the example into the store (what changed only) and make the demo account, an
    admin of the example, unless it exists.

    Raises
    ------
    FlowcapError
        When ``host`` is not loopback: a fixed password must never face a network.
    """
    from flowcap.accounts import Accounts
    from flowcap.examples import generate_victim_support
    from flowcap.manage import import_folder
    from flowcap.store import Store

    if not is_loopback(host):
        raise FlowcapError(
            f"--demo serves a fixed, published password, so only on this machine "
            f"(--host {DEFAULT_HOST}), not on {host}"
        )
    folder = demo_folder()
    if not (folder / "service.yaml").is_file():
        progress("Writing the example service")
        generate_victim_support(folder)
    progress("Importing the example")
    report = import_folder(folder, database_url=database_url, progress=progress)
    store = Store.open(database_url)
    try:
        accounts = Accounts(store)
        if accounts.user(DEMO_EMAIL) is None:
            accounts.add_user(
                DEMO_EMAIL, DEMO_PASSWORD, role=DEMO_ROLE, service=report.service, actor="demo"
            )
    finally:
        store.close()
    return DemoLogin(report.service, DEMO_EMAIL, DEMO_PASSWORD, folder)


def check_host(host: str, database_url: str) -> None:
    """Refuse to serve on a host other machines can reach while the store holds the demo
    account (its password is published).

    Raises
    ------
    FlowcapError
        Saying how to remove the account.
    """
    from flowcap.accounts import Accounts
    from flowcap.store import Store

    if is_loopback(host):
        return
    store = Store.open(database_url)
    try:
        demo = Accounts(store).user(DEMO_EMAIL)
    finally:
        store.close()
    if demo is not None:
        raise FlowcapError(
            f"the store holds the demo account {DEMO_EMAIL}, whose password is published: "
            f"remove it (flowcap user remove {DEMO_EMAIL}) before serving on {host}"
        )


def address(host: str, port: int) -> str:
    """The address to open in a browser."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"
