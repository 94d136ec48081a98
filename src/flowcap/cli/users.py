"""``flowcap user``: the web app's accounts, managed from the command line (add, list, remove,
reset a password, grant and revoke a role in a service).

The store is FLOWCAP_DATABASE_URL, else the default store, as for ``--service``. Passwords
are read twice with hidden input, or once from stdin with ``--password-stdin``; never from
an argument, where they would sit in the shell's history and the process list.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowcap.cli.app import AsJson, _errors_to_exit, app, out
from flowcap.errors import FlowcapError

if TYPE_CHECKING:
    from flowcap.accounts import Accounts, User

user_app = typer.Typer(
    name="user",
    help="Accounts of the web app: add, list, remove, reset, grant, revoke.",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")


class Role(StrEnum):
    viewer = "viewer"
    editor = "editor"
    admin = "admin"


Email = Annotated[
    str, typer.Argument(metavar="EMAIL", help="The user's email address.", show_default=False)
]
RoleOption = Annotated[
    Role,
    typer.Option(
        "--role",
        help="viewer reads; editor also uploads, enters figures and edits scenarios; admin "
        "also manages users and the service's settings.",
        show_default=False,
        case_sensitive=False,
    ),
]
ServiceOption = Annotated[
    str,
    typer.Option(
        "--service",
        help="The service, by name, in the store (see `flowcap services`).",
        show_default=False,
    ),
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of stdin instead of asking for it.",
    ),
]


@contextmanager
def _accounts() -> Iterator[tuple[Accounts, str]]:
    """The accounts in the store (FLOWCAP_DATABASE_URL, else the default store, which must
    exist already: a user belongs to a service imported there) and the store's address."""
    from flowcap.accounts import Accounts
    from flowcap.store import Store, default_database_url

    with _errors_to_exit():
        store = Store.open(default_database_url(create=False), existing=True)
        try:
            yield Accounts(store), store.where()
        finally:
            store.close()


def _actor() -> str:
    """Who the audit log names for changes made here: the system user, on the command line."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        name = "unknown"
    return f"{name} (command line)"


def _password(from_stdin: bool) -> str:
    """The new password: stdin's first line with --password-stdin, else asked twice, hidden."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise FlowcapError("--password-stdin: stdin held no password")
        return password
    if not _stdin_is_terminal():
        raise typer.BadParameter(
            "stdin is not a terminal, so the password cannot be asked for: pipe it in with "
            "--password-stdin",
            param_hint="--password-stdin",
        )
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("The same password again: ") != first:
        raise FlowcapError("the two passwords differ; nothing was changed")
    return first


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _roles(user: User) -> str:
    return ", ".join(f"{service}: {role}" for service, role in user.roles.items()) or "-"


@user_app.command("add")
def add(
    email: Email,
    role: RoleOption,
    service: ServiceOption,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user with a role in a service (or give an existing user a role there)."""
    from flowcap.accounts import normal_email

    with _accounts() as (accounts, _):
        email = normal_email(email)
        accounts.users(service)  # an unknown service is refused before a password is asked
        if accounts.user(email) is not None:
            user = accounts.add_user(email, "", role=role.value, service=service, actor=_actor())
            out.print(f"{escape(user.email)} already had an account: now {escape(_roles(user))}.")
            return
        password = _password(password_stdin)
        user = accounts.add_user(email, password, role=role.value, service=service, actor=_actor())
    out.print(f"Added {escape(user.email)}: {escape(_roles(user))}.")


@user_app.command("list")
def list_(
    service: Annotated[
        str | None,
        typer.Option("--service", help="Only the users of this service.", show_default=False),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """The users and their roles (of one service with --service)."""
    with _accounts() as (accounts, where):
        users = accounts.users(service)
    if as_json:
        listing = [{"email": u.email, "roles": u.roles} for u in users]
        sys.stdout.write(json.dumps({"store": where, "users": listing}) + "\n")
        return
    if not users:
        scope = f" in {service!r}" if service else ""
        out.print(
            f"No users{scope} yet: `flowcap user add EMAIL --role admin --service NAME`.",
            markup=False,
        )
        return
    table = Table(
        title="Users" + (f" of {escape(service)}" if service else ""), caption=escape(where)
    )
    table.add_column("email")
    table.add_column("roles (service: role)")
    for user in users:
        table.add_row(escape(user.email), escape(_roles(user)))
    out.print(table)


@user_app.command("remove")
def remove(email: Email) -> None:
    """Remove a user, with their roles, sessions and API tokens."""
    from flowcap.accounts import normal_email

    with _accounts() as (accounts, _):
        accounts.remove_user(email, actor=_actor())
    out.print(f"Removed {escape(normal_email(email))}; their sessions and API tokens ended.")


@user_app.command("reset")
def reset(email: Email, password_stdin: PasswordStdin = False) -> None:
    """Set a user's password (ending their sessions)."""
    from flowcap.accounts import AccountError, normal_email

    with _accounts() as (accounts, _):
        email = normal_email(email)
        if accounts.user(email) is None:
            raise AccountError(f"there is no user {email}")
        password = _password(password_stdin)
        accounts.set_password(email, password, actor=_actor())
    out.print(f"Set the password of {escape(email)}; their sessions ended.")


@user_app.command("grant")
def grant(email: Email, role: RoleOption, service: ServiceOption) -> None:
    """Give a user a role in a service (replacing the role they had there)."""
    with _accounts() as (accounts, _):
        user = accounts.grant(email, service, role.value, actor=_actor())
    out.print(f"{escape(user.email)}: {escape(_roles(user))}.")


@user_app.command("revoke")
def revoke(email: Email, service: ServiceOption) -> None:
    """Take away a user's role in a service (the account stays)."""
    with _accounts() as (accounts, _):
        user = accounts.revoke(email, service, actor=_actor())
    out.print(f"{escape(user.email)}: {escape(_roles(user))}.")
