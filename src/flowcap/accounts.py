"""Who may use the web app, and what they did: users, their role in each service, login
sessions, API tokens for scripts, and the audit log, all kept in the store.

A service manager is an ``admin`` of their service and adds their team: team leaders as
``editor`` (they upload, enter the day's figures and edit scenarios), a commissioner as
``viewer`` (reads only). Each role can do what the ones before it in :data:`ROLES` can.

OWASP ASVS level 2 is the yardstick:

- Passwords are 12 to 1,024 characters (Unicode, NFKC-normalised; no composition rules) and
  are kept only as Argon2id hashes (argon2-cffi's default parameters), rehashed at the next
  login when those parameters change.
- Session and API tokens are ``secrets.token_urlsafe(32)`` and kept only as SHA-256 hashes. A
  session ends after 8 hours without use or 24 hours after login, whichever comes first; at
  logout; when the password is set; and when the user is removed.
- Logins are throttled: 5 wrong passwords for one email within 15 minutes lock that email for
  15 minutes (an email with no account just the same, so a lockout does not tell whether it
  exists), and a client (the web app passes the remote address) with 50 wrong passwords in
  15 minutes is refused until it falls below that. An unknown email is checked against a
  dummy hash, so the time a refusal takes does not tell either. Attempts are kept a week.
- The audit log records logins, logouts, user and membership changes and API tokens made
  and revoked (the web app adds uploads, edits and runs through :meth:`Accounts.audit`). It
  never holds passwords, tokens or case ids.

Times given out are timezone-aware UTC; the store keeps naive UTC, as the rest of it does.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, insert, select, update

from flowcap.errors import FlowcapError
from flowcap.store import Store, schema

__all__ = [
    "ROLES",
    "AccountError",
    "Accounts",
    "LoginRefused",
    "User",
    "normal_email",
]

#: The roles in a service, least first: each can do what the ones before it can.
ROLES = ("viewer", "editor", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}

PASSWORD_MIN_CHARS = 12
PASSWORD_MAX_CHARS = 1024
#: A session ends after this long without a request ...
SESSION_IDLE = timedelta(hours=8)
#: ... or this long after login, whichever comes first.
SESSION_MAX = timedelta(hours=24)
#: Wrong passwords for one email within LOCK_WINDOW that lock it for LOCK_FOR.
LOCK_AFTER = 5
LOCK_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
#: Wrong passwords from one client within LOCK_WINDOW after which it is refused.
CLIENT_LIMIT = 50
#: How long login attempts are kept (throttling needs half an hour; the rest is for review).
ATTEMPTS_KEPT = timedelta(days=7)
#: A session's last use and an API token's are written at most this often.
TOUCH_EVERY = timedelta(minutes=1)

WRONG = "wrong email or password"
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_TOKEN_NAME_CHARS = 100


class AccountError(FlowcapError):
    """Bad input: an unknown user or service, a bad role, a weak password (the message says
    which)."""


class LoginRefused(FlowcapError):
    """A login refused: a wrong email or password (one message for both), or locked out
    (``locked_until``: when a new attempt may succeed, UTC)."""

    def __init__(self, message: str = WRONG, locked_until: datetime | None = None):
        super().__init__(message)
        self.locked_until = locked_until


@dataclass(frozen=True)
class User:
    """A user as the web app sees them: ``roles`` maps each service they belong to (by name)
    to their role there."""

    id: int
    email: str
    roles: dict[str, str] = field(default_factory=dict)

    def role_in(self, service: str) -> str | None:
        """Their role in ``service``; ``None`` when they do not belong to it."""
        return self.roles.get(service)

    def can(self, service: str, role: str) -> bool:
        """True when their role in ``service`` is ``role`` or above it."""
        _check_role(role)
        mine = self.roles.get(service)
        return mine is not None and _RANK[mine] >= _RANK[role]


class Accounts:
    """The accounts kept in a store (migrated: :meth:`flowcap.store.Store.open` does it).

    Parameters
    ----------
    store : Store
        The store whose engine every read and write goes through, each method one
        transaction.
    now : callable, optional
        The clock, returning a datetime (aware, or naive UTC); tests move it on instead of
        sleeping. By default the system's clock.
    hasher : argon2.PasswordHasher, optional
        By default argon2-cffi's defaults (Argon2id); tests pass cheaper parameters.

    Methods that change users take an optional ``actor``: who to name in the audit log (the
    admin in the web app; the command line names the system user).
    """

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], datetime] | None = None,
        hasher: PasswordHasher | None = None,
    ):
        self.store = store
        self._engine = store.engine
        self._clock = now or (lambda: datetime.now(UTC))
        self._hasher = hasher or PasswordHasher()

    # --- users and memberships -----------------------------------------------------------

    def add_user(
        self,
        email: str,
        password: str,
        *,
        role: str,
        service: str,
        actor: str | None = None,
        keep_admin: bool = False,
    ) -> User:
        """A new user with ``role`` in ``service``; for an existing user, that membership
        added or changed (``password`` is then ignored: :meth:`set_password` changes it;
        ``keep_admin`` as for :meth:`grant`)."""
        email = normal_email(email)
        _check_role(role)
        with self._engine.connect() as connection:
            self._service_id(connection, service)
            exists = self._user_row(connection, email) is not None
        if exists:
            return self.grant(email, service, role, actor=actor, keep_admin=keep_admin)
        hashed = self._hasher.hash(checked_password(password))
        now = self._now()
        with self._engine.begin() as connection:
            service_id = self._service_id(connection, service)
            user_id = connection.execute(
                insert(schema.users).values(
                    email=email, password_hash=hashed, created_at=now, password_changed_at=now
                )
            ).inserted_primary_key[0]
            connection.execute(
                insert(schema.memberships).values(user_id=user_id, service_id=service_id, role=role)
            )
            self._audit(connection, now, "user_added", actor, service, f"{email} as {role}")
            return self._load_user(connection, user_id)

    def set_password(self, email: str, password: str, *, actor: str | None = None) -> None:
        """Give the user a new password, ending every session they have (API tokens stay)."""
        email = normal_email(email)
        with self._engine.connect() as connection:
            self._require_user(connection, email)
        hashed = self._hasher.hash(checked_password(password))
        now = self._now()
        with self._engine.begin() as connection:
            row = self._require_user(connection, email)
            connection.execute(
                update(schema.users)
                .where(schema.users.c.id == row.id)
                .values(password_hash=hashed, password_changed_at=now)
            )
            connection.execute(
                delete(schema.user_sessions).where(schema.user_sessions.c.user_id == row.id)
            )
            self._audit(connection, now, "password_set", actor or email, None, email)

    def remove_user(self, email: str, *, actor: str | None = None) -> None:
        """Remove a user with their memberships, sessions and API tokens."""
        email = normal_email(email)
        now = self._now()
        with self._engine.begin() as connection:
            row = self._require_user(connection, email)
            services = sorted(self._roles(connection, row.id))
            for table in (schema.user_sessions, schema.api_tokens, schema.memberships):
                connection.execute(delete(table).where(table.c.user_id == row.id))
            connection.execute(delete(schema.users).where(schema.users.c.id == row.id))
            for service in services or [None]:
                self._audit(connection, now, "user_removed", actor, service, email)

    def grant(
        self,
        email: str,
        service: str,
        role: str,
        *,
        actor: str | None = None,
        keep_admin: bool = False,
    ) -> User:
        """Give an existing user ``role`` in ``service`` (replacing any role they had there).

        With ``keep_admin`` (the web app), an AccountError refuses to demote the service's
        last admin: a service must keep someone who can manage its users."""
        email = normal_email(email)
        _check_role(role)
        now = self._now()
        with self._engine.begin() as connection:
            service_id = self._service_id(connection, service)
            row = self._require_user(connection, email)
            membership = schema.memberships
            where = (membership.c.user_id == row.id, membership.c.service_id == service_id)
            before = connection.scalar(select(membership.c.role).where(*where))
            if before is None:
                connection.execute(
                    insert(membership).values(user_id=row.id, service_id=service_id, role=role)
                )
                self._audit(connection, now, "role_granted", actor, service, f"{email}: {role}")
            elif before != role:
                if keep_admin and before == "admin":
                    self._require_another_admin(connection, service, service_id, row)
                connection.execute(update(membership).where(*where).values(role=role))
                detail = f"{email}: {role} (was {before})"
                self._audit(connection, now, "role_changed", actor, service, detail)
            return self._load_user(connection, row.id)

    def revoke(
        self, email: str, service: str, *, actor: str | None = None, keep_admin: bool = False
    ) -> User:
        """Take away the user's role in ``service`` (they keep their account and other
        services; their sessions see the change at the next request). ``keep_admin`` as for
        :meth:`grant`: the last admin is not removed."""
        email = normal_email(email)
        now = self._now()
        with self._engine.begin() as connection:
            service_id = self._service_id(connection, service)
            row = self._require_user(connection, email)
            membership = schema.memberships
            if keep_admin:
                role = connection.scalar(
                    select(membership.c.role).where(
                        membership.c.user_id == row.id, membership.c.service_id == service_id
                    )
                )
                if role == "admin":
                    self._require_another_admin(connection, service, service_id, row)
            removed = connection.execute(
                delete(membership).where(
                    membership.c.user_id == row.id, membership.c.service_id == service_id
                )
            ).rowcount
            if not removed:
                raise AccountError(f"{email} has no role in {service!r}")
            self._audit(connection, now, "role_revoked", actor, service, email)
            return self._load_user(connection, row.id)

    def user(self, email: str) -> User | None:
        """The user with this email (any case, spaces around ignored), or ``None``."""
        try:
            email = normal_email(email)
        except AccountError:
            return None
        with self._engine.connect() as connection:
            row = self._user_row(connection, email)
            return None if row is None else self._load_user(connection, row.id)

    def users(self, service: str | None = None) -> list[User]:
        """Every user by email, or those with a role in ``service``."""
        users, memberships, services = schema.users, schema.memberships, schema.services
        with self._engine.connect() as connection:
            if service is not None:
                self._service_id(connection, service)
            rows = connection.execute(select(users.c.id, users.c.email).order_by(users.c.email))
            emails = dict(rows.all())
            roles: dict[int, dict[str, str]] = {user_id: {} for user_id in emails}
            query = select(memberships.c.user_id, services.c.name, memberships.c.role).join(
                services, services.c.id == memberships.c.service_id
            )
            for user_id, name, role in connection.execute(query.order_by(services.c.name)):
                if user_id in roles:  # not a user added since the first query
                    roles[user_id][name] = role
        return [
            User(user_id, email, roles[user_id])
            for user_id, email in emails.items()
            if service is None or service in roles[user_id]
        ]

    # --- logging in ----------------------------------------------------------------------

    def authenticate(self, email: str, password: str, *, client: str = "") -> User:
        """The user whose email and password these are.

        ``client`` names where the attempt comes from (the web app: the remote address;
        empty: not throttled by client).

        Raises
        ------
        LoginRefused
            For a wrong email or password (the same message for both), and while the email
            or the client is locked out (``locked_until`` set).
        """
        key = _attempt_key(email)
        client = (client or "")[:100]
        now = self._now()
        with self._engine.begin() as connection:
            connection.execute(
                delete(schema.login_attempts).where(
                    schema.login_attempts.c.at < now - ATTEMPTS_KEPT
                )
            )
            refusal = self._refusal(connection, key, client, now)
            if refusal is not None:
                self._attempt(connection, now, key, client, succeeded=False, counted=False)
        if refusal is not None:
            raise refusal
        with self._engine.connect() as connection:
            row = self._user_row(connection, key)
        password = unicodedata.normalize("NFKC", password or "")
        ok = self._verify(row.password_hash if row is not None else None, password)
        ok = ok and row is not None and len(password) <= PASSWORD_MAX_CHARS
        rehashed = None  # hashed before the transaction: it takes a while
        if ok and self._hasher.check_needs_rehash(row.password_hash):
            rehashed = self._hasher.hash(password)
        with self._engine.begin() as connection:
            self._attempt(connection, now, key, client, succeeded=ok, counted=not ok)
            if not ok:
                locked_until = self._email_lock(connection, key, now)
                if row is not None:
                    self._audit(connection, now, "login_failed", row.email, None, "")
                    if locked_until is not None:
                        detail = f"locked until {locked_until:%Y-%m-%d %H:%M} UTC"
                        self._audit(connection, now, "login_locked", row.email, None, detail)
            else:
                if rehashed is not None:
                    connection.execute(
                        update(schema.users)
                        .where(schema.users.c.id == row.id)
                        .values(password_hash=rehashed)
                    )
                self._audit(connection, now, "login", row.email, None, "")
                return self._load_user(connection, row.id)
        if locked_until is not None:
            raise LoginRefused(_locked_message(locked_until), _aware(locked_until))
        raise LoginRefused(WRONG)

    def _verify(self, hashed: str | None, password: str) -> bool:
        """Check the password against ``hashed``, or against a dummy hash (that no password
        matches) when there is none, so both take the same time."""
        if hashed is None:
            hashed = _dummy_hash(self._hasher)
        try:
            return self._hasher.verify(hashed, password[:PASSWORD_MAX_CHARS])
        except (VerificationError, InvalidHashError):
            return False

    def _refusal(self, connection, key: str, client: str, now: datetime) -> LoginRefused | None:
        """A LoginRefused when the email or the client is locked out now, else ``None``."""
        locked_until = self._email_lock(connection, key, now)
        if locked_until is not None:
            return LoginRefused(_locked_message(locked_until), _aware(locked_until))
        if not client:
            return None
        attempts = schema.login_attempts
        times = connection.scalars(
            select(attempts.c.at)
            .where(
                attempts.c.client == client,
                attempts.c.counted.is_(True),
                attempts.c.at > now - LOCK_WINDOW,
            )
            .order_by(attempts.c.at)
        ).all()
        if len(times) < CLIENT_LIMIT:
            return None
        until = times[len(times) - CLIENT_LIMIT] + LOCK_WINDOW
        message = f"too many failed logins from this address: try again after {until:%H:%M} UTC"
        return LoginRefused(message, _aware(until))

    def _email_lock(self, connection, key: str, now: datetime) -> datetime | None:
        """When the email's lock ends (naive UTC), or ``None`` when it is not locked: a lock
        follows LOCK_AFTER wrong passwords within LOCK_WINDOW, since the last good one."""
        attempts = schema.login_attempts
        since = now - LOCK_WINDOW - LOCK_FOR
        last_success = connection.scalar(
            select(attempts.c.id)
            .where(attempts.c.email == key, attempts.c.succeeded.is_(True), attempts.c.at > since)
            .order_by(attempts.c.id.desc())
            .limit(1)
        )
        times = connection.scalars(
            select(attempts.c.at)
            .where(
                attempts.c.email == key,
                attempts.c.counted.is_(True),
                attempts.c.at > since,
                attempts.c.id > (last_success or 0),
            )
            .order_by(attempts.c.at, attempts.c.id)
        ).all()
        ends = [
            times[i] + LOCK_FOR
            for i in range(LOCK_AFTER - 1, len(times))
            if times[i] - times[i - LOCK_AFTER + 1] <= LOCK_WINDOW
        ]
        if ends and ends[-1] > now:
            return ends[-1]
        return None

    def _attempt(self, connection, now, key, client, *, succeeded: bool, counted: bool) -> None:
        connection.execute(
            insert(schema.login_attempts).values(
                at=now, email=key, client=client, succeeded=succeeded, counted=counted
            )
        )

    # --- sessions ------------------------------------------------------------------------

    def start_session(self, user: User) -> tuple[str, str]:
        """A new login session for ``user``: ``(session token, CSRF token)``.

        Only the session token's SHA-256 is kept. The session ends after 8 hours without use
        or 24 hours after it started, whichever comes first (or at :meth:`end_session`)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._now()
        sessions = schema.user_sessions
        with self._engine.begin() as connection:
            self._require_same_user(connection, user)
            connection.execute(
                delete(sessions).where(
                    (sessions.c.last_seen_at <= now - SESSION_IDLE)
                    | (sessions.c.created_at <= now - SESSION_MAX)
                )
            )
            connection.execute(
                insert(sessions).values(
                    token_hash=_sha256(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return token, csrf

    def session(self, token: str) -> tuple[User, str] | None:
        """The user of a live session and its CSRF token; ``None`` for an unknown, ended or
        expired one (8 hours idle, 24 hours after login). Each use keeps it alive."""
        if not token or len(token) > 200:
            return None
        now = self._now()
        sessions = schema.user_sessions
        with self._engine.begin() as connection:
            row = connection.execute(_SESSION_BY_HASH, {"token_hash": _sha256(token)}).first()
            if row is None:
                return None
            if now - row.last_seen_at >= SESSION_IDLE or now - row.created_at >= SESSION_MAX:
                connection.execute(delete(sessions).where(sessions.c.id == row.id))
                return None
            if now - row.last_seen_at >= TOUCH_EVERY:
                connection.execute(
                    update(sessions).where(sessions.c.id == row.id).values(last_seen_at=now)
                )
            user = self._load_user(connection, row.user_id)
        return None if user is None else (user, row.csrf_token)

    def end_session(self, token: str) -> None:
        """Log out: the session ends (an unknown token is no error)."""
        if not token or len(token) > 200:
            return
        now = self._now()
        sessions = schema.user_sessions
        with self._engine.begin() as connection:
            row = connection.execute(
                select(sessions.c.id, schema.users.c.email)
                .join(schema.users, schema.users.c.id == sessions.c.user_id)
                .where(sessions.c.token_hash == _sha256(token))
            ).first()
            if row is None:
                return
            connection.execute(delete(sessions).where(sessions.c.id == row.id))
            self._audit(connection, now, "logout", row.email, None, "")

    # --- API tokens ----------------------------------------------------------------------

    def create_api_token(self, user: User, name: str) -> tuple[int, str]:
        """A new API token for scripts (``Authorization: Bearer``), named by the user:
        ``(id, token)``. The token is shown this once: only its SHA-256 is kept."""
        name = (name or "").strip()
        if not name or len(name) > _TOKEN_NAME_CHARS:
            raise AccountError(f"an API token needs a name of 1 to {_TOKEN_NAME_CHARS} characters")
        token = secrets.token_urlsafe(32)
        now = self._now()
        with self._engine.begin() as connection:
            self._require_same_user(connection, user)
            token_id = connection.execute(
                insert(schema.api_tokens).values(
                    token_hash=_sha256(token), user_id=user.id, name=name, created_at=now
                )
            ).inserted_primary_key[0]
            detail = f"{name!r} (id {token_id})"
            self._audit(connection, now, "api_token_created", user.email, None, detail)
        return token_id, token

    def api_tokens(self, user: User) -> list[dict]:
        """The user's API tokens, oldest first: ``id``, ``name``, ``created_at``,
        ``last_used_at`` (UTC; ``None`` if never used). Never the token."""
        tokens = schema.api_tokens
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(tokens.c.id, tokens.c.name, tokens.c.created_at, tokens.c.last_used_at)
                .where(tokens.c.user_id == user.id)
                .order_by(tokens.c.id)
            ).mappings()
            return [
                {
                    "id": row["id"],
                    "name": row["name"],
                    "created_at": _aware(row["created_at"]),
                    "last_used_at": _aware(row["last_used_at"]),
                }
                for row in rows
            ]

    def revoke_api_token(self, user: User, token_id: int) -> None:
        """Revoke one of the user's own API tokens.

        Raises
        ------
        AccountError
            When the user has no token with that id (another user's included).
        """
        tokens = schema.api_tokens
        now = self._now()
        with self._engine.begin() as connection:
            name = connection.scalar(
                select(tokens.c.name).where(tokens.c.id == token_id, tokens.c.user_id == user.id)
            )
            if name is None:
                raise AccountError(f"{user.email} has no API token {token_id}")
            connection.execute(delete(tokens).where(tokens.c.id == token_id))
            detail = f"{name!r} (id {token_id})"
            self._audit(connection, now, "api_token_revoked", user.email, None, detail)

    def token_user(self, token: str) -> User | None:
        """The user an API token belongs to, or ``None`` for an unknown or revoked one."""
        if not token or len(token) > 200:
            return None
        tokens = schema.api_tokens
        now = self._now()
        with self._engine.begin() as connection:
            row = connection.execute(_TOKEN_BY_HASH, {"token_hash": _sha256(token)}).first()
            if row is None:
                return None
            if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
                connection.execute(
                    update(tokens).where(tokens.c.id == row.id).values(last_used_at=now)
                )
            return self._load_user(connection, row.user_id)

    # --- the audit log -------------------------------------------------------------------

    def audit(
        self,
        action: str,
        *,
        actor: str | None = None,
        service: str | None = None,
        detail: str = "",
    ) -> None:
        """Record that ``actor`` (an email; ``None``: the system) did ``action`` (a short
        name such as ``upload``), in ``service`` if it concerns one. ``detail`` must never
        hold a password, a token or a case id."""
        action = (action or "").strip()
        if not action or len(action) > 50:
            raise AccountError("an audit action needs a name of 1 to 50 characters")
        with self._engine.begin() as connection:
            self._audit(connection, self._now(), action, actor, service, detail)

    def audit_log(
        self, service: str | None = None, limit: int = 200, offset: int = 0
    ) -> list[dict]:
        """The newest ``limit`` entries after skipping the ``offset`` newest, newest first
        (those about ``service`` when given): ``at`` (UTC), ``actor``, ``action``,
        ``service``, ``detail``."""
        if limit < 1:
            raise AccountError(f"limit must be at least 1, not {limit}")
        if offset < 0:
            raise AccountError(f"offset must be at least 0, not {offset}")
        log = schema.audit_log
        query = select(log.c.at, log.c.actor, log.c.action, log.c.service, log.c.detail)
        if service is not None:
            query = query.where(log.c.service == service)
        query = query.order_by(log.c.at.desc(), log.c.id.desc()).limit(limit).offset(offset)
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [{**row, "at": _aware(row["at"])} for row in rows]

    # --- helpers -------------------------------------------------------------------------

    def _now(self) -> datetime:
        """The clock's time as naive UTC (how the store keeps times)."""
        now = self._clock()
        return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now

    def _audit(self, connection, now, action, actor, service, detail) -> None:
        connection.execute(
            insert(schema.audit_log).values(
                at=now,
                actor=None if actor is None else str(actor)[:254],
                action=action[:50],
                service=None if service is None else str(service)[:200],
                detail=str(detail or "")[:1000],
            )
        )

    def _service_id(self, connection, name: str) -> int:
        """The service's id; AccountError naming the store's services when it is unknown."""
        found = connection.scalar(
            select(schema.services.c.id).where(schema.services.c.name == name)
        )
        if found is not None:
            return found
        names = connection.scalars(
            select(schema.services.c.name).order_by(schema.services.c.name)
        ).all()
        if not names:
            raise AccountError(
                f"there is no service {name!r}: the store holds no services yet (import one first)"
            )
        raise AccountError(
            f"there is no service {name!r} in the store; its services: "
            + ", ".join(repr(n) for n in names)
        )

    def _user_row(self, connection, email: str):
        users = schema.users
        return connection.execute(
            select(users.c.id, users.c.email, users.c.password_hash).where(users.c.email == email)
        ).first()

    def _require_user(self, connection, email: str):
        row = self._user_row(connection, email)
        if row is None:
            raise AccountError(f"there is no user {email}")
        return row

    def _require_same_user(self, connection, user: User) -> None:
        """AccountError unless ``user`` is still in the store under the same id and email."""
        found = connection.scalar(select(schema.users.c.email).where(schema.users.c.id == user.id))
        if found != user.email:
            raise AccountError(f"there is no user {user.email}")

    def _require_another_admin(self, connection, service: str, service_id: int, row) -> None:
        """AccountError unless ``service`` has an admin besides the user of ``row``. The
        admins' memberships are locked (PostgreSQL) so that two admins demoting each other
        at once cannot leave the service with none."""
        membership = schema.memberships
        admins = connection.scalars(
            select(membership.c.user_id)
            .where(membership.c.service_id == service_id, membership.c.role == "admin")
            .with_for_update()
        ).all()
        if not set(admins) - {row.id}:
            raise AccountError(
                f"{row.email} is the last admin of {service!r}: make someone else an admin "
                "first, so that someone can still manage its users and settings"
            )

    def _roles(self, connection, user_id: int) -> dict[str, str]:
        return dict(connection.execute(_ROLES_OF, {"user_id": user_id}).all())

    def _load_user(self, connection, user_id: int) -> User | None:
        email = connection.scalar(_EMAIL_OF, {"user_id": user_id})
        if email is None:
            return None
        return User(user_id, email, self._roles(connection, user_id))


# Every request asks these (its session or token, then the user's roles): built once, since
# building a statement took longer than running it (the web load benchmark).
_ROLES_OF = (
    select(schema.services.c.name, schema.memberships.c.role)
    .join(schema.services, schema.services.c.id == schema.memberships.c.service_id)
    .where(schema.memberships.c.user_id == bindparam("user_id"))
    .order_by(schema.services.c.name)
)
_EMAIL_OF = select(schema.users.c.email).where(schema.users.c.id == bindparam("user_id"))
_SESSION_BY_HASH = select(schema.user_sessions).where(
    schema.user_sessions.c.token_hash == bindparam("token_hash")
)
_TOKEN_BY_HASH = select(
    schema.api_tokens.c.id, schema.api_tokens.c.user_id, schema.api_tokens.c.last_used_at
).where(schema.api_tokens.c.token_hash == bindparam("token_hash"))


_DUMMIES: dict[tuple, str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash made with the hasher's parameters that no password matches, made once per set
    of parameters (the first unknown email of a process would otherwise take twice as long)."""
    parameters = (
        hasher.type,
        hasher.time_cost,
        hasher.memory_cost,
        hasher.parallelism,
        hasher.hash_len,
        hasher.salt_len,
    )
    if parameters not in _DUMMIES:
        _DUMMIES[parameters] = hasher.hash(secrets.token_urlsafe(32))
    return _DUMMIES[parameters]


def normal_email(email: str) -> str:
    """The email stripped and in lower case, as accounts keep it.

    Raises
    ------
    AccountError
        When it is not shaped like an email address (or is longer than 254 characters).
    """
    normal = (email or "").strip().lower()
    if len(normal) > 254 or not _EMAIL.fullmatch(normal):
        raise AccountError(f"{normal!r} is not an email address (name@example.org)")
    return normal


def _attempt_key(email: str) -> str:
    """What login attempts are counted under: the normalised email, or, when what was typed
    is not one (perhaps a password in the wrong box), a hash of it."""
    try:
        return normal_email(email)
    except AccountError:
        return "#" + _sha256((email or "").strip().lower())[:40]


def checked_password(password: str) -> str:
    """The password, NFKC-normalised, when it is long enough and not too long (else an
    :class:`AccountError` saying which): the one rule for every password, so a form can
    check a new one before anything else happens."""
    if not isinstance(password, str):
        raise AccountError("a password must be text")
    password = unicodedata.normalize("NFKC", password)
    if len(password) < PASSWORD_MIN_CHARS:
        raise AccountError(
            f"the password is too short: it needs at least {PASSWORD_MIN_CHARS} characters "
            "(a few words make a good one)"
        )
    if len(password) > PASSWORD_MAX_CHARS:
        raise AccountError(f"the password is too long: at most {PASSWORD_MAX_CHARS} characters")
    return password


def _check_role(role: str) -> None:
    if role not in _RANK:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _aware(stamp: datetime | None) -> datetime | None:
    return None if stamp is None else stamp.replace(tzinfo=UTC)


def _locked_message(until: datetime) -> str:
    return f"too many failed logins: try again after {until:%H:%M} UTC"
