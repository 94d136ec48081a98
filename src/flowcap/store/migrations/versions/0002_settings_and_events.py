"""A service lives in the store: its settings as versioned rows, its event log's events.

``settings`` keeps every version of service.yaml, scenarios.yaml and school_holidays.csv
(the pathway and the event-log mapping are sections of service.yaml), each with its SHA-256,
when it was saved and by whom; a removed file is a version with no content. ``events`` keeps
an event-log service's events (case pseudonyms, activity, time, case type and lifecycle; not
who did them), so the process map, calibration and the pathway's arrival hours need no folder.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=True),
        sa.Column("saved_at", sa.DateTime, nullable=False),
        sa.Column("saved_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("service_id", "kind", "version", name="uq_settings_version"),
    )
    op.create_table(
        "events",
        sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("case_key", sa.String(32), nullable=False),
        sa.Column("case_rank", sa.Integer, nullable=False),
        sa.Column("activity", sa.String(200), nullable=False),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("case_type", sa.String(100), nullable=False),
        sa.Column("lifecycle", sa.String(50), nullable=False),
    )
    op.create_index("ix_events_service_case", "events", ["service_id", "case_key"])


def downgrade() -> None:
    # The events go, so does the record of their import (else they would count as current).
    op.execute("DELETE FROM imports WHERE table_name = 'events'")
    op.drop_index("ix_events_service_case", table_name="events")
    op.drop_table("events")
    op.drop_table("settings")
