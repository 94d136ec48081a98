"""Keys and records: ``erased_cases`` (every erased pseudonym, store-wide, so an erasure holds
whatever the service is called) filled from the per-service ``erasures``, and
``key_rotations`` (the fingerprints before and after each key rotation).

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erased_cases",
        sa.Column("case_key", sa.String(32), primary_key=True),
        sa.Column("erased_at", sa.DateTime, nullable=False),
    )
    op.execute(
        "INSERT INTO erased_cases (case_key, erased_at) "
        "SELECT case_key, MIN(erased_at) FROM erasures GROUP BY case_key"
    )
    op.create_table(
        "key_rotations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rotated_at", sa.DateTime, nullable=False),
        sa.Column("old_fingerprint", sa.String(64), nullable=False),
        sa.Column("new_fingerprint", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("key_rotations")
    op.drop_table("erased_cases")
