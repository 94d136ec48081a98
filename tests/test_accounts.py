"""Accounts of the web app (flowcap.accounts): Argon2id passwords, roles per service, login
throttling, sessions that expire, hashed tokens, and an audit log that holds no secrets. On
SQLite and PostgreSQL; a clock moved by hand instead of sleeping."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher
from sqlalchemy import delete, insert, select, text

from flowcap.accounts import ROLES, AccountError, Accounts, LoginRefused, User
from flowcap.store import Store, schema
from flowcap.store.repository import MIGRATIONS

PASSWORD = "correct horse battery staple"
ACCOUNT_TABLES = ("users", "memberships", "user_sessions", "api_tokens", "audit_log")
#: Cheap Argon2id parameters, so the tests do not spend seconds hashing.
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Clock:
    """A clock the test moves on by hand."""

    def __init__(self):
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def store(tmp_path, backend):
    url = os.environ.get("FLOWCAP_DATABASE_URL") or f"sqlite:///{tmp_path / 'store.db'}"
    store = Store.open(url)
    with store.engine.begin() as connection:
        for name in ("Hub", "Helpline"):
            connection.execute(insert(schema.services).values(name=name))
    yield store
    store.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def accounts(store, clock):
    return Accounts(store, now=clock, hasher=CHEAP)


def dump(store: Store, tables=ACCOUNT_TABLES + ("login_attempts",)) -> str:
    """Every row of the accounts' tables as one text, to search for secrets."""
    with store.engine.connect() as connection:
        return "\n".join(
            repr(tuple(row))
            for name in tables
            for row in connection.execute(select(schema.metadata.tables[name]))
        )


def password_hash(store: Store, email: str) -> str:
    with store.engine.connect() as connection:
        return connection.scalar(
            select(schema.users.c.password_hash).where(schema.users.c.email == email)
        )


def refusal(accounts: Accounts, email: str, password: str, client: str = "") -> LoginRefused:
    with pytest.raises(LoginRefused) as caught:
        accounts.authenticate(email, password, client=client)
    return caught.value


# --- the schema --------------------------------------------------------------------------------


def test_migration_0003_makes_the_tables_and_can_be_undone(store):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with store.engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == head
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    with store.engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0002"
    store.migrate()
    with store.engine.connect() as connection:
        for name in (*ACCOUNT_TABLES, "login_attempts"):
            assert connection.scalar(text(f"SELECT COUNT(*) FROM {name}")) == 0


# --- users, passwords and roles ----------------------------------------------------------------


def test_passwords_are_kept_as_argon2id_hashes_with_argon2s_defaults(store, clock):
    accounts = Accounts(store, now=clock)  # the default hasher
    user = accounts.add_user("alice@example.org", PASSWORD, role="admin", service="Hub")
    hashed = password_hash(store, "alice@example.org")
    defaults = PasswordHasher()
    assert hashed.startswith("$argon2id$")
    assert f"m={defaults.memory_cost},t={defaults.time_cost},p={defaults.parallelism}" in hashed
    assert PASSWORD not in dump(store)
    assert accounts.authenticate("alice@example.org", PASSWORD) == user


def test_a_login_rehashes_the_password_when_the_parameters_change(store, clock, accounts):
    accounts.add_user("alice@example.org", PASSWORD, role="viewer", service="Hub")
    cheap = password_hash(store, "alice@example.org")
    assert "m=1024,t=1,p=1" in cheap
    Accounts(store, now=clock).authenticate("alice@example.org", PASSWORD)
    renewed = password_hash(store, "alice@example.org")
    assert renewed != cheap and renewed.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(renewed)
    assert accounts.authenticate("alice@example.org", PASSWORD).email == "alice@example.org"


@pytest.mark.parametrize(
    ("password", "says"),
    [("", "too short"), ("eleven char", "too short"), ("x" * 1025, "too long")],
)
def test_passwords_must_be_12_to_1024_characters(accounts, password, says):
    with pytest.raises(AccountError, match=says):
        accounts.add_user("alice@example.org", password, role="viewer", service="Hub")
    assert accounts.user("alice@example.org") is None
    accounts.add_user("alice@example.org", "x" * 12, role="viewer", service="Hub")
    with pytest.raises(AccountError, match=says):
        accounts.set_password("alice@example.org", password)
    accounts.set_password("alice@example.org", "é" * 1024)
    assert accounts.authenticate("alice@example.org", "é" * 1024).email == "alice@example.org"


def test_emails_are_normalised_and_must_look_like_one(accounts):
    user = accounts.add_user("  Alice@Example.ORG ", PASSWORD, role="viewer", service="Hub")
    assert user.email == "alice@example.org"
    assert accounts.user("ALICE@example.org") == user
    assert accounts.authenticate(" alice@EXAMPLE.org", PASSWORD) == user
    for bad in ("alice", "alice@", "@example.org", "alice@example", "a b@example.org", ""):
        with pytest.raises(AccountError, match="not an email address"):
            accounts.add_user(bad, PASSWORD, role="viewer", service="Hub")
        assert accounts.user(bad) is None


def test_a_membership_needs_a_service_in_the_store(accounts):
    with pytest.raises(AccountError, match=r"no service 'Hbu'.*'Helpline', 'Hub'"):
        accounts.add_user("alice@example.org", PASSWORD, role="viewer", service="Hbu")
    assert accounts.users() == []
    with pytest.raises(AccountError, match="unknown role 'owner'; roles: viewer, editor, admin"):
        accounts.add_user("alice@example.org", PASSWORD, role="owner", service="Hub")


def test_adding_an_existing_user_changes_their_membership_not_their_password(store, accounts):
    accounts.add_user("alice@example.org", PASSWORD, role="viewer", service="Hub")
    hashed = password_hash(store, "alice@example.org")
    user = accounts.add_user("alice@example.org", "", role="editor", service="Helpline")
    assert user.roles == {"Helpline": "editor", "Hub": "viewer"}
    user = accounts.add_user("alice@example.org", "another password!", role="admin", service="Hub")
    assert user.roles == {"Helpline": "editor", "Hub": "admin"}
    assert password_hash(store, "alice@example.org") == hashed


def test_each_role_can_do_what_the_ones_before_it_can():
    assert ROLES == ("viewer", "editor", "admin")
    user = User(1, "a@example.org", {"Hub": "editor", "Helpline": "viewer"})
    assert user.role_in("Hub") == "editor" and user.role_in("Elsewhere") is None
    assert [user.can("Hub", role) for role in ROLES] == [True, True, False]
    assert [user.can("Helpline", role) for role in ROLES] == [True, False, False]
    assert [user.can("Elsewhere", role) for role in ROLES] == [False, False, False]
    assert User(2, "b@example.org", {"Hub": "admin"}).can("Hub", "editor")
    with pytest.raises(AccountError, match="unknown role"):
        user.can("Hub", "owner")


def test_grant_revoke_and_list_users_by_service(accounts):
    accounts.add_user("bob@example.org", PASSWORD, role="viewer", service="Hub")
    accounts.add_user("alice@example.org", PASSWORD, role="admin", service="Helpline")
    assert accounts.grant("bob@example.org", "Helpline", "editor").roles == {
        "Helpline": "editor",
        "Hub": "viewer",
    }
    assert [u.email for u in accounts.users()] == ["alice@example.org", "bob@example.org"]
    assert [u.email for u in accounts.users("Hub")] == ["bob@example.org"]
    assert accounts.revoke("bob@example.org", "Hub").roles == {"Helpline": "editor"}
    assert accounts.users("Hub") == []
    with pytest.raises(AccountError, match="bob@example.org has no role in 'Hub'"):
        accounts.revoke("bob@example.org", "Hub")
    with pytest.raises(AccountError, match="there is no user carol@example.org"):
        accounts.grant("carol@example.org", "Hub", "viewer")
    with pytest.raises(AccountError, match="no service 'Nowhere'"):
        accounts.users("Nowhere")


# --- logging in --------------------------------------------------------------------------------


class Spy(PasswordHasher):
    """A cheap hasher that notes each hash it verifies against."""

    verified: list[str] = []

    def verify(self, hash, password):
        self.verified.append(hash)
        return super().verify(hash, password)


def test_a_wrong_password_and_an_unknown_email_get_the_same_refusal(store, clock):
    spy = Spy(time_cost=1, memory_cost=1024, parallelism=1)
    accounts = Accounts(store, now=clock, hasher=spy)
    accounts.add_user("alice@example.org", PASSWORD, role="viewer", service="Hub")
    verified = spy.verified
    verified.clear()
    wrong = refusal(accounts, "alice@example.org", "not the password at all")
    unknown = refusal(accounts, "nobody@example.org", PASSWORD)
    not_an_email = refusal(accounts, "correct horse", PASSWORD)
    assert str(wrong) == str(unknown) == str(not_an_email) == "wrong email or password"
    assert wrong.locked_until is unknown.locked_until is None
    # An unknown email is checked against a dummy hash, so it takes as long as a known one.
    assert len(verified) == 3 and all(h.startswith("$argon2id$") for h in verified)


def test_five_wrong_passwords_lock_an_email_for_15_minutes(accounts, clock):
    accounts.add_user("alice@example.org", PASSWORD, role="viewer", service="Hub")
    for _ in range(4):
        assert refusal(accounts, "alice@example.org", "wrong password!").locked_until is None
        clock.advance(minutes=1)
    fifth = refusal(accounts, "alice@example.org", "wrong password!")
    until = clock.now + timedelta(minutes=15)
    assert fifth.locked_until == until and "too many failed logins" in str(fifth)
    clock.advance(minutes=14, seconds=59)
    locked = refusal(accounts, "alice@example.org", PASSWORD)  # the right password, refused
    assert locked.locked_until == until
    clock.advance(seconds=1)
    assert accounts.authenticate("alice@example.org", PASSWORD).email == "alice@example.org"


def test_an_unknown_email_is_locked_out_just_the_same(accounts, clock):
    refusals = [refusal(accounts, "nobody@example.org", "wrong password!") for _ in range(6)]
    assert [r.locked_until is None for r in refusals] == [True] * 4 + [False] * 2
    assert refusals[-1].locked_until == clock.now + timedelta(minutes=15)


def test_failures_spread_over_more_than_15_minutes_do_not_lock(accounts, clock):
    accounts.add_user("alice@example.org", PASSWORD, role="viewer", service="Hub")
    for _ in range(8):
        assert refusal(accounts, "alice@example.org", "wrong password!").locked_until is None
        clock.advance(minutes=4)
    assert accounts.authenticate("alice@example.org", PASSWORD)


def test_a_good_login_starts_the_count_again(accounts, clock):
    accounts.add_user("alice@example.org", PASSWORD, role="viewer", service="Hub")
    for _ in range(4):
        refusal(accounts, "alice@example.org", "wrong password!")
    accounts.authenticate("alice@example.org", PASSWORD)
    for _ in range(4):
        assert refusal(accounts, "alice@example.org", "wrong password!").locked_until is None
    assert accounts.authenticate("alice@example.org", PASSWORD)


def test_a_client_with_50_wrong_passwords_in_15_minutes_is_refused(accounts, clock):
    accounts.add_user("alice@example.org", PASSWORD, role="viewer", service="Hub")
    start = clock.now
    for i in range(50):  # 50 emails, each well under its own limit
        refused = refusal(accounts, f"user{i}@example.org", "wrong password!", "203.0.113.9")
        assert refused.locked_until is None
        clock.advance(seconds=6)
    refused = refusal(accounts, "alice@example.org", PASSWORD, client="203.0.113.9")
    assert "from this address" in str(refused)
    assert refused.locked_until == start + timedelta(minutes=15)
    assert accounts.authenticate("alice@example.org", PASSWORD, client="198.51.100.7")
    clock.now = start + timedelta(minutes=15, seconds=1)  # the first failure is out of the window
    assert accounts.authenticate("alice@example.org", PASSWORD, client="203.0.113.9")


def test_login_attempts_are_recorded_and_pruned_after_a_week(store, accounts, clock):
    accounts.add_user("alice@example.org", PASSWORD, role="viewer", service="Hub")
    accounts.authenticate("alice@example.org", PASSWORD, client="198.51.100.7")
    refusal(accounts, "alice@example.org", "wrong password!", client="198.51.100.7")
    refusal(accounts, PASSWORD, PASSWORD)  # a password typed in the email box
    attempts = schema.login_attempts
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(
                attempts.c.id, attempts.c.email, attempts.c.client, attempts.c.succeeded
            ).order_by(attempts.c.id)
        ).all()
    assert [tuple(r)[1:] for r in rows[:2]] == [
        ("alice@example.org", "198.51.100.7", True),
        ("alice@example.org", "198.51.100.7", False),
    ]
    assert rows[2].email.startswith("#") and PASSWORD not in dump(store)
    clock.advance(days=7, seconds=1)
    accounts.authenticate("alice@example.org", PASSWORD)
    with store.engine.connect() as connection:
        left = connection.execute(select(attempts.c.id, attempts.c.succeeded)).all()
    assert len(left) == 1 and left[0].succeeded and left[0].id > rows[-1].id


# --- sessions ----------------------------------------------------------------------------------


def test_a_session_ends_after_8_hours_idle(accounts, clock):
    user = accounts.add_user("alice@example.org", PASSWORD, role="editor", service="Hub")
    token, csrf = accounts.start_session(user)
    assert token != csrf and len(token) == len(csrf) == 43  # token_urlsafe(32)
    clock.advance(hours=7, minutes=59)
    assert accounts.session(token) == (user, csrf)
    clock.advance(hours=7, minutes=59)  # idle time counts from the last use
    assert accounts.session(token) == (user, csrf)
    clock.advance(hours=8)
    assert accounts.session(token) is None
    clock.advance(seconds=-1)
    assert accounts.session(token) is None  # an expired session is gone for good


def test_a_session_ends_24_hours_after_login_even_in_use(accounts, clock):
    user = accounts.add_user("alice@example.org", PASSWORD, role="editor", service="Hub")
    token, _ = accounts.start_session(user)
    for _ in range(3):
        clock.advance(hours=7, minutes=59)
        assert accounts.session(token) is not None
    clock.advance(minutes=3)  # 24 hours since login
    assert accounts.session(token) is None


def test_sessions_are_kept_only_as_hashes_and_end_at_logout(store, accounts):
    user = accounts.add_user("alice@example.org", PASSWORD, role="editor", service="Hub")
    token, csrf = accounts.start_session(user)
    other, _ = accounts.start_session(user)
    stored = dump(store)
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
    assert accounts.session("not a token") is None and accounts.session("") is None
    accounts.end_session(token)
    accounts.end_session(token)  # twice is no error
    assert accounts.session(token) is None
    assert accounts.session(other) is not None


def test_a_session_sees_role_changes_at_once(accounts):
    user = accounts.add_user("alice@example.org", PASSWORD, role="editor", service="Hub")
    token, _ = accounts.start_session(user)
    accounts.revoke("alice@example.org", "Hub")
    assert accounts.session(token)[0].roles == {}


def test_setting_the_password_ends_the_users_sessions(accounts):
    alice = accounts.add_user("alice@example.org", PASSWORD, role="editor", service="Hub")
    bob = accounts.add_user("bob@example.org", PASSWORD, role="editor", service="Hub")
    token, _ = accounts.start_session(alice)
    bobs, _ = accounts.start_session(bob)
    accounts.set_password("alice@example.org", "a brand new password")
    assert accounts.session(token) is None and accounts.session(bobs) is not None
    assert str(refusal(accounts, "alice@example.org", PASSWORD)) == "wrong email or password"
    assert accounts.authenticate("alice@example.org", "a brand new password")


# --- API tokens --------------------------------------------------------------------------------


def test_api_tokens_are_shown_once_kept_hashed_and_revoked_by_their_owner(store, accounts, clock):
    alice = accounts.add_user("alice@example.org", PASSWORD, role="editor", service="Hub")
    bob = accounts.add_user("bob@example.org", PASSWORD, role="viewer", service="Hub")
    token_id, token = accounts.create_api_token(alice, "nightly upload")
    assert len(token) == 43
    stored = dump(store)
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
    [listed] = accounts.api_tokens(alice)
    assert listed == {
        "id": token_id,
        "name": "nightly upload",
        "created_at": clock.now,
        "last_used_at": None,
    }
    clock.advance(minutes=5)
    assert accounts.token_user(token) == alice
    assert accounts.api_tokens(alice)[0]["last_used_at"] == clock.now
    assert accounts.api_tokens(bob) == []
    assert accounts.token_user("not a token") is None and accounts.token_user("") is None
    with pytest.raises(AccountError, match=f"bob@example.org has no API token {token_id}"):
        accounts.revoke_api_token(bob, token_id)  # not his
    assert accounts.token_user(token) == alice
    accounts.revoke_api_token(alice, token_id)
    assert accounts.token_user(token) is None and accounts.api_tokens(alice) == []
    with pytest.raises(AccountError, match="needs a name"):
        accounts.create_api_token(alice, "  ")


def test_removing_a_user_ends_their_sessions_and_tokens(store, accounts):
    alice = accounts.add_user("alice@example.org", PASSWORD, role="admin", service="Hub")
    accounts.grant("alice@example.org", "Helpline", "viewer")
    session, _ = accounts.start_session(alice)
    _, token = accounts.create_api_token(alice, "script")
    accounts.remove_user("ALICE@example.org")
    assert accounts.session(session) is None and accounts.token_user(token) is None
    assert accounts.user("alice@example.org") is None
    for table in ("users", "memberships", "user_sessions", "api_tokens"):
        assert dump(store, (table,)) == ""
    with pytest.raises(AccountError, match="there is no user alice@example.org"):
        accounts.remove_user("alice@example.org")
    with pytest.raises(AccountError, match="there is no user"):
        accounts.start_session(alice)
    # Her login rows stay until pruned; her audit entries stay.
    assert accounts.audit_log("Helpline")[0]["action"] == "user_removed"


# --- the audit log -----------------------------------------------------------------------------


def test_the_audit_log_records_changes_and_never_a_secret(store, accounts, clock):
    alice = accounts.add_user("alice@example.org", PASSWORD, role="admin", service="Hub")
    clock.advance(seconds=1)
    accounts.add_user(
        "bob@example.org", "bob's long password", role="viewer", service="Hub", actor=alice.email
    )
    clock.advance(seconds=1)
    accounts.grant("bob@example.org", "Hub", "editor", actor=alice.email)
    clock.advance(seconds=1)
    user = accounts.authenticate("alice@example.org", PASSWORD)
    token, csrf = accounts.start_session(user)
    refusal(accounts, "alice@example.org", "a mistyped password")
    token_id, api_token = accounts.create_api_token(user, "script")
    accounts.revoke_api_token(user, token_id)
    accounts.set_password("bob@example.org", "bob's new password", actor=alice.email)
    accounts.revoke("bob@example.org", "Hub", actor=alice.email)
    accounts.audit("upload", actor=alice.email, service="Hub", detail="referrals.csv: 12 rows")
    accounts.end_session(token)
    accounts.remove_user("bob@example.org")
    log = accounts.audit_log()
    assert [entry["action"] for entry in reversed(log)] == [
        "user_added",
        "user_added",
        "role_changed",
        "login",
        "login_failed",
        "api_token_created",
        "api_token_revoked",
        "password_set",
        "role_revoked",
        "upload",
        "logout",
        "user_removed",
    ]
    assert log[-2]["actor"] == "alice@example.org" and log[-2]["service"] == "Hub"
    assert log[-3]["detail"] == "bob@example.org: editor (was viewer)"
    assert log[0]["at"].tzinfo is not None
    everything = dump(store, ("audit_log",))
    for secret in (PASSWORD, "bob's long password", "bob's new password", token, csrf, api_token):
        assert secret not in everything
    assert [e["action"] for e in accounts.audit_log("Hub", limit=2)] == ["upload", "role_revoked"]
    with pytest.raises(AccountError):
        accounts.audit("")


def test_the_audit_log_is_newest_first_and_limited(accounts, clock):
    for i in range(5):
        accounts.audit("run", actor="a@example.org", service="Hub", detail=f"run {i}")
        clock.advance(minutes=1)
    assert [e["detail"] for e in accounts.audit_log("Hub", limit=3)] == ["run 4", "run 3", "run 2"]
    assert accounts.audit_log("Helpline") == []
    with pytest.raises(AccountError, match="limit"):
        accounts.audit_log(limit=0)


def test_a_naive_clock_is_taken_as_utc(store):
    clock = Clock()
    accounts = Accounts(store, now=lambda: clock.now.replace(tzinfo=None), hasher=CHEAP)
    accounts.audit("run")
    assert accounts.audit_log()[0]["at"] == clock.now
    with store.engine.begin() as connection:
        connection.execute(delete(schema.audit_log))
