"""Tables of the store (SQLAlchemy Core). Alembic migrations in ``migrations/`` own the schema.

Case ids appear only as ``case_key``: the keyed hash from :mod:`flowcap.io.pseudonym`.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

store_info = Table(
    "store_info",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
)

imports = Table(
    "imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("table_name", String(20), nullable=False),
    Column("file_name", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("imported_at", DateTime, nullable=False),
)

referrals = Table(
    "referrals",
    metadata,
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("case_key", String(32), primary_key=True),
    Column("referral_date", Date, nullable=False),
    Column("case_type", String(100), nullable=False),
    Column("source", String(60), nullable=False),
)

waiting = Table(
    "waiting",
    metadata,
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("case_key", String(32), primary_key=True),
    Column("case_type", String(100), nullable=False),
    Column("waiting_since", Date, nullable=False),
)

roster = Table(
    "roster",
    metadata,
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("resource", String(100), primary_key=True),
    Column("staff", Float, nullable=False),
    Column("minutes_per_staff", Float, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("case_key", String(32), nullable=False),
    Column("resource", String(100), nullable=False),
    Column("minutes", Float, nullable=False),
    Index("ix_sessions_service_case", "service_id", "case_key"),
)

erasures = Table(
    "erasures",
    metadata,
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("case_key", String(32), primary_key=True),
    Column("erased_at", DateTime, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("version", Integer, nullable=False),
    Column("file_name", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=True),  # None: the file was removed
    Column("saved_at", DateTime, nullable=False),
    Column("saved_by", String(200), nullable=False),
    UniqueConstraint("service_id", "kind", "version", name="uq_settings_version"),
)

events = Table(
    "events",
    metadata,
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("position", Integer, primary_key=True),  # the event's place in the log file
    Column("case_key", String(32), nullable=False),
    Column("case_rank", Integer, nullable=False),  # the case's place among the log's case ids
    Column("activity", String(200), nullable=False),
    Column("timestamp", DateTime, nullable=False),  # UTC
    Column("case_type", String(100), nullable=False),
    Column("lifecycle", String(50), nullable=False),
    Index("ix_events_service_case", "service_id", "case_key"),
)

#: Settings kept per service, each with the file it comes from in a service folder. The
#: pathway and the event-log mapping are sections of service.yaml.
SETTINGS = {
    "service": "service.yaml",
    "scenarios": "scenarios.yaml",
    "school_holidays": "school_holidays.csv",
}

#: The data tables an import fills, in the order they are written.
DATA_TABLES = {"referrals": referrals, "waiting": waiting, "roster": roster, "sessions": sessions}


# --- accounts of the web app (flowcap.accounts) ---------------------------------------------
# Passwords only as Argon2id hashes, session and API tokens only as SHA-256 hashes. The web
# app's login sessions are ``user_sessions``: ``sessions`` above is a service's sessions
# delivered.

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),  # normalised: lower-case
    Column("password_hash", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("password_changed_at", DateTime, nullable=False),
    sqlite_autoincrement=True,  # ids never reused
)

memberships = Table(
    "memberships",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("role", String(10), nullable=False),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Index("ix_user_sessions_user", "user_id"),
    sqlite_autoincrement=True,  # ids never reused
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_used_at", DateTime, nullable=True),
    Index("ix_api_tokens_user", "user_id"),
    sqlite_autoincrement=True,  # ids never reused
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(254), nullable=True),
    Column("action", String(50), nullable=False),
    Column("service", String(200), nullable=True),  # a name: the row outlives the service
    Column("detail", String(1000), nullable=False),
    Index("ix_audit_log_service_at", "service", "at"),
    Index("ix_audit_log_at", "at"),
    sqlite_autoincrement=True,  # ids never reused
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("email", String(254), nullable=False),  # or a hash of what was typed, if no email
    Column("client", String(100), nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("counted", Boolean, nullable=False),  # a wrong password (not one refused unchecked)
    Index("ix_login_attempts_email_at", "email", "at"),
    Index("ix_login_attempts_client_at", "client", "at"),
    Index("ix_login_attempts_at", "at"),
    sqlite_autoincrement=True,  # ids never reused
)


# --- background jobs of the web app (flowcap.jobs) --------------------------------------------
# A simulation or plan asked for in the web app: queued, claimed by one worker, its progress
# written as it runs, its result kept as the CLI's --json document. ``worker`` is the claim's
# random token (a late finish by a claim that was requeued writes nothing); ``heartbeat_at``
# is touched while the job runs, so a job left running by a dead process is requeued.

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("options", Text, nullable=False),  # JSON, as checked
    Column("status", String(10), nullable=False),  # queued, running, done, failed
    Column("progress", Float, nullable=True),  # 0 to 1 when the run knows it
    Column("message", String(500), nullable=False),
    Column("notes", Text, nullable=True),  # JSON list of the run's warnings
    Column("result", Text, nullable=True),  # JSON: the CLI's --json document
    Column("chart", Text, nullable=True),  # JSON: a Plotly figure (simulate's backlog fan)
    Column("error", Text, nullable=True),
    Column("created_by", String(254), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("started_at", DateTime, nullable=True),
    Column("finished_at", DateTime, nullable=True),
    Column("heartbeat_at", DateTime, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("worker", String(64), nullable=True),
    Index("ix_jobs_status_id", "status", "id"),
    Index("ix_jobs_service_id", "service_id", "id"),
    sqlite_autoincrement=True,  # ids never reused
)


# --- daily monitoring (flowcap.monitor) --------------------------------------------------------
# An alert ``flowcap monitor`` found, recorded once: ``key`` is what makes it the same alert
# again (unique per service); ``episode`` groups the keys of one continuing signal (the same
# chart's rule and direction, the same resource over its threshold), whose ``last_seen`` day is
# moved on while it lasts so that it is not raised again. ``delivered`` names the channels
# (webhook, email) it has reached; ``sent_at`` is set once every configured channel has.
# No case ids: an alert names a chart, a resource or a day.

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # spc, risk, backlog, first_contact
    Column("key", String(300), nullable=False),
    Column("episode", String(300), nullable=False),
    Column("day", Date, nullable=False),  # the day it is about
    Column("last_seen", Date, nullable=False),  # the last day of data it was seen on
    Column("title", String(300), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime, nullable=True),
    Column("delivered", String(50), nullable=False),  # "", "webhook", "email", "email,webhook"
    Column("send_attempts", Integer, nullable=False),
    Column("send_error", String(500), nullable=True),
    Column("acknowledged_at", DateTime, nullable=True),
    Column("acknowledged_by", String(254), nullable=True),
    UniqueConstraint("service_id", "key", name="uq_alerts_service_key"),
    Index("ix_alerts_service_episode", "service_id", "episode"),
    Index("ix_alerts_service_sent", "service_id", "sent_at"),
    sqlite_autoincrement=True,  # ids never reused
)


# --- keys and records (flowcap.records) --------------------------------------------------------
# ``erased_cases``: every erased pseudonym, for the whole store and not per service, so an
# import of any service (a renamed one, one deleted and imported again) leaves the case out. A
# pseudonym depends only on the key and the case id, so it is the same whatever the service is
# called. (``erasures`` above stays per service for the readers that already use it.) The same
# pseudonyms are also kept beside the key (:mod:`flowcap.io.pseudonym`'s erasure ledger), which
# outlives the store itself. ``key_rotations``: each rotation of the key, with the fingerprints
# before and after (no key: keys never enter the store).

erased_cases = Table(
    "erased_cases",
    metadata,
    Column("case_key", String(32), primary_key=True),
    Column("erased_at", DateTime, nullable=False),
)

key_rotations = Table(
    "key_rotations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rotated_at", DateTime, nullable=False),
    Column("old_fingerprint", String(64), nullable=False),
    Column("new_fingerprint", String(64), nullable=False),
    Column("rows", Integer, nullable=False),  # case keys rewritten
    sqlite_autoincrement=True,  # ids never reused
)

#: Every table holding a case key (a pseudonym) in its ``case_key`` column: what a key
#: rotation rewrites and an erasure searches.
CASE_KEY_TABLES = ("referrals", "waiting", "sessions", "events", "erasures", "erased_cases")
