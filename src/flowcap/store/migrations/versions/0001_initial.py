"""Initial store: services, imports, referrals, waiting, roster, sessions, erasures.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_info",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False),
        sa.Column("table_name", sa.String(20), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "referrals",
        sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
        sa.Column("case_key", sa.String(32), primary_key=True),
        sa.Column("referral_date", sa.Date, nullable=False),
        sa.Column("case_type", sa.String(100), nullable=False),
        sa.Column("source", sa.String(60), nullable=False),
    )
    op.create_table(
        "waiting",
        sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
        sa.Column("case_key", sa.String(32), primary_key=True),
        sa.Column("case_type", sa.String(100), nullable=False),
        sa.Column("waiting_since", sa.Date, nullable=False),
    )
    op.create_table(
        "roster",
        sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("resource", sa.String(100), primary_key=True),
        sa.Column("staff", sa.Float, nullable=False),
        sa.Column("minutes_per_staff", sa.Float, nullable=True),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("case_key", sa.String(32), nullable=False),
        sa.Column("resource", sa.String(100), nullable=False),
        sa.Column("minutes", sa.Float, nullable=False),
    )
    op.create_index("ix_sessions_service_case", "sessions", ["service_id", "case_key"])
    op.create_table(
        "erasures",
        sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
        sa.Column("case_key", sa.String(32), primary_key=True),
        sa.Column("erased_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "erasures",
        "sessions",
        "roster",
        "waiting",
        "referrals",
        "imports",
        "services",
        "store_info",
    ):
        op.drop_table(table)
