"""Federation: peer archive centres (checked against the chain's member registry), the
centre each peer unit belongs to, and whether a dispatch reached a peer centre.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peer_centres",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("chain_account", sa.String(42), nullable=False, unique=True),
        sa.Column("log_public_key_hex", sa.String(128), nullable=False),
        sa.Column("ipfs_addresses", sa.JSON(), nullable=False),
        sa.Column("checked_block", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("transfer_peers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("centre_code", sa.String(64), nullable=True))
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("peer_notified_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_column("peer_notified_at")
    with op.batch_alter_table("transfer_peers", schema=None) as batch_op:
        batch_op.drop_column("centre_code")
    op.drop_table("peer_centres")
