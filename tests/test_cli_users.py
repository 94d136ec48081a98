"""``flowcap user`` end to end (flowcap.cli.users): accounts added, listed, reset, granted,
revoked and removed in the store FLOWCAP_DATABASE_URL names, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from flowcap.accounts import Accounts
from flowcap.cli import users as users_cli
from flowcap.cli.main import app
from flowcap.store import Store, schema

runner = CliRunner()
PASSWORD = "correct horse battery staple"


@pytest.fixture
def store(tmp_path, backend, monkeypatch):
    """A store holding the services Hub and Helpline, named by FLOWCAP_DATABASE_URL."""
    url = os.environ.get("FLOWCAP_DATABASE_URL") or f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", url)
    store = Store.open(url)
    with store.engine.begin() as connection:
        for name in ("Hub", "Helpline"):
            connection.execute(insert(schema.services).values(name=name))
    yield store
    store.close()


def user(*args: str, stdin: str | None = None):
    return runner.invoke(app, ["user", *args], input=stdin, env={"COLUMNS": "200"})


def add(email: str, role: str = "editor", service: str = "Hub", password: str = PASSWORD):
    result = user(
        "add",
        email,
        "--role",
        role,
        "--service",
        service,
        "--password-stdin",
        stdin=password + "\n",
    )
    assert result.exit_code == 0, result.output
    return result


def test_add_list_and_log_in(store):
    result = add("Alice@Example.org", role="admin")
    assert "Added alice@example.org: Hub: admin." in result.stdout
    add("bob@example.org", role="viewer", service="Helpline")
    with store.engine.connect() as connection:
        hashed = connection.scalar(select(schema.users.c.password_hash).limit(1))
    assert hashed.startswith("$argon2id$")
    assert Accounts(store).authenticate("alice@example.org", PASSWORD).roles == {"Hub": "admin"}
    listing = user("list")
    assert listing.exit_code == 0, listing.output
    assert "alice@example.org" in listing.stdout and "Helpline: viewer" in listing.stdout
    as_json = json.loads(user("list", "--json").stdout)
    assert as_json["users"] == [
        {"email": "alice@example.org", "roles": {"Hub": "admin"}},
        {"email": "bob@example.org", "roles": {"Helpline": "viewer"}},
    ]
    assert "store" in as_json and "password" not in json.dumps(as_json)
    hub = json.loads(user("list", "--service", "Hub", "--json").stdout)["users"]
    assert [u["email"] for u in hub] == ["alice@example.org"]
    log = Accounts(store).audit_log("Hub")
    assert log[-1]["action"] == "user_added" and log[-1]["actor"].endswith("(command line)")


def test_adding_an_existing_user_gives_them_a_role_and_keeps_their_password(store):
    add("alice@example.org")
    result = user("add", "alice@example.org", "--role", "viewer", "--service", "Helpline")
    assert result.exit_code == 0, result.output  # no password asked for
    assert "already had an account: now Helpline: viewer, Hub: editor" in result.stdout
    assert Accounts(store).authenticate("alice@example.org", PASSWORD)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "editor", "--service", "Nowhere"], PASSWORD, "no service 'Nowhere'"),
        (["--role", "editor", "--service", "Hub"], "too short", "too short"),
        (["--role", "editor", "--service", "Hub"], "", "stdin held no password"),
    ],
)
def test_add_refuses_bad_input_in_one_line(store, args, stdin, message):
    result = user("add", "alice@example.org", *args, "--password-stdin", stdin=stdin + "\n")
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert Accounts(store).users() == []


def test_a_bad_role_or_email_is_a_usage_error(store):
    result = user("add", "alice@example.org", "--role", "owner", "--service", "Hub")
    assert result.exit_code == 2 and "owner" in result.output
    result = user("add", "alice", "--role", "viewer", "--service", "Hub", "--password-stdin")
    assert result.exit_code == 1 and "not an email address" in result.stderr


def test_no_password_is_asked_for_when_stdin_is_not_a_terminal(store):
    result = user("add", "alice@example.org", "--role", "viewer", "--service", "Hub")
    assert result.exit_code == 2 and "--password-stdin" in result.output
    assert Accounts(store).users() == []


def test_the_password_is_asked_twice_on_a_terminal(store, monkeypatch):
    monkeypatch.setattr(users_cli, "_stdin_is_terminal", lambda: True)
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr(users_cli.getpass, "getpass", lambda prompt: next(answers))
    result = user("add", "alice@example.org", "--role", "viewer", "--service", "Hub")
    assert result.exit_code == 1 and "the two passwords differ" in result.stderr
    assert Accounts(store).users() == []
    answers = iter([PASSWORD, PASSWORD])
    result = user("add", "alice@example.org", "--role", "viewer", "--service", "Hub")
    assert result.exit_code == 0, result.output
    assert Accounts(store).authenticate("alice@example.org", PASSWORD)


def test_reset_sets_the_password_and_ends_sessions(store):
    add("alice@example.org")
    accounts = Accounts(store)
    token, _ = accounts.start_session(accounts.user("alice@example.org"))
    result = user("reset", "alice@example.org", "--password-stdin", stdin="a new long password\n")
    assert result.exit_code == 0, result.output
    assert accounts.session(token) is None
    assert accounts.authenticate("alice@example.org", "a new long password")
    result = user("reset", "carol@example.org", "--password-stdin", stdin="a new long password\n")
    assert result.exit_code == 1 and "there is no user carol@example.org" in result.stderr


def test_grant_revoke_and_remove(store):
    add("alice@example.org")
    result = user("grant", "alice@example.org", "--role", "admin", "--service", "Helpline")
    assert result.exit_code == 0 and "Helpline: admin, Hub: editor" in result.stdout
    result = user("revoke", "alice@example.org", "--service", "Hub")
    assert result.exit_code == 0 and "alice@example.org: Helpline: admin." in result.stdout
    result = user("revoke", "alice@example.org", "--service", "Hub")
    assert result.exit_code == 1 and "has no role in 'Hub'" in result.stderr
    accounts = Accounts(store)
    _, token = accounts.create_api_token(accounts.user("alice@example.org"), "script")
    result = user("remove", "alice@example.org")
    assert result.exit_code == 0 and "Removed alice@example.org" in result.stdout
    assert accounts.users() == [] and accounts.token_user(token) is None
    result = user("remove", "alice@example.org")
    assert result.exit_code == 1 and "there is no user" in result.stderr
    assert "No users yet" in user("list").stdout


def test_without_a_store_it_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    result = user("list")
    assert result.exit_code == 1 and "there is no store" in result.stderr
    assert not (tmp_path / "data" / "flowcap" / "flowcap.db").exists()
