"""经办人: the name of the handler whose key made a content read (利用登记).

Transfer steps keep the handler in their event's detail, and acts sign it; a read has
no detail, so the read log gets a column. Rows from before stay NULL (未登记).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 13:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("read_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handler", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("read_log", schema=None) as batch_op:
        batch_op.drop_column("handler")
