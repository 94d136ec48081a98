"""Accounts of the web app: users, their roles per service, sessions, API tokens, audit log.

``users`` keep an Argon2id hash of the password, never the password; ``memberships`` give a
user a role (viewer, editor, admin) in a service; ``user_sessions`` and ``api_tokens`` keep
only SHA-256 hashes of their tokens (``sessions`` is already a service's sessions delivered);
``audit_log`` records who did what (never passwords, tokens or case ids); ``login_attempts``
feed login throttling and are pruned after a week.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("password_changed_at", sa.DateTime, nullable=False),
        sqlite_autoincrement=True,  # ids never reused
    )
    op.create_table(
        "memberships",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
        sa.Column("role", sa.String(10), nullable=False),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sqlite_autoincrement=True,  # ids never reused
    )
    op.create_index("ix_user_sessions_user", "user_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime, nullable=True),
        sqlite_autoincrement=True,  # ids never reused
    )
    op.create_index("ix_api_tokens_user", "api_tokens", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(254), nullable=True),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("service", sa.String(200), nullable=True),
        sa.Column("detail", sa.String(1000), nullable=False),
        sqlite_autoincrement=True,  # ids never reused
    )
    op.create_index("ix_audit_log_service_at", "audit_log", ["service", "at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("counted", sa.Boolean, nullable=False),
        sqlite_autoincrement=True,  # ids never reused
    )
    op.create_index("ix_login_attempts_email_at", "login_attempts", ["email", "at"])
    op.create_index("ix_login_attempts_client_at", "login_attempts", ["client", "at"])
    op.create_index("ix_login_attempts_at", "login_attempts", ["at"])


def downgrade() -> None:
    op.drop_table("login_attempts")
    op.drop_table("audit_log")
    op.drop_table("api_tokens")
    op.drop_table("user_sessions")
    op.drop_table("memberships")
    op.drop_table("users")
