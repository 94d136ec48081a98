"""Tables of the store (SQLAlchemy Core). Alembic migrations in ``migrations/`` own the schema.

Case ids appear only as ``case_key``: the keyed hash from :mod:`flowcap.io.pseudonym`.
"""

from __future__ import annotations

from sqlalchemy import (
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
