"""Daily monitoring's alerts: each special cause, risky day, backlog forecast over its
threshold or first-contact miss that ``flowcap monitor`` found, recorded once, with when it
was sent and acknowledged (see :mod:`flowcap.monitor`). No case ids: an alert is about a
chart, a resource or a day.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-14
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("episode", sa.String(300), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("last_seen", sa.Date, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=True),
        sa.Column("delivered", sa.String(50), nullable=False),
        sa.Column("send_attempts", sa.Integer, nullable=False),
        sa.Column("send_error", sa.String(500), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime, nullable=True),
        sa.Column("acknowledged_by", sa.String(254), nullable=True),
        sa.UniqueConstraint("service_id", "key", name="uq_alerts_service_key"),
        sqlite_autoincrement=True,  # ids never reused
    )
    op.create_index("ix_alerts_service_episode", "alerts", ["service_id", "episode"])
    op.create_index("ix_alerts_service_sent", "alerts", ["service_id", "sent_at"])


def downgrade() -> None:
    op.drop_table("alerts")
