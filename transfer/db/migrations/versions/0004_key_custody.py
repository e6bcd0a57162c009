"""API keys: who issued, approved and revoked each (三员分立), approval, and the
access log (``access_events``: each change of who may do what, a log entry).

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
    op.create_table(
        "access_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("actor_key_id", sa.Uuid(), nullable=True),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_access_events_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_events")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_access_events_leaf_index")),
    )
    op.create_index(op.f("ix_access_events_unit_id"), "access_events", ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_access_events_unit_id"), table_name="access_events")
    op.drop_table("access_events")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("revoked_by_key_id")
        batch_op.drop_column("approved_by_key_id")
        batch_op.drop_column("issued_by_key_id")
        batch_op.drop_column("approved_at")
