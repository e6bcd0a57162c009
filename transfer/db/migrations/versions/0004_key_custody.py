"""API keys: who issued, approved and revoked each (三员分立), and approval.

A key issued over the API by the system administrator works only once the security
administrator has approved it (two people for any key that reads archive content);
keys issued at the server console, and every key that existed before this revision,
are approved when created.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 08:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_at", _UTC, nullable=True))
        batch_op.add_column(sa.Column("issued_by_key_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("approved_by_key_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("revoked_by_key_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE api_keys SET approved_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("revoked_by_key_id")
        batch_op.drop_column("approved_by_key_id")
        batch_op.drop_column("issued_by_key_id")
        batch_op.drop_column("approved_at")
