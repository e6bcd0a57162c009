"""The access log names the server console's operator: ``access_events.console_user``
(the OS user who ran ``notary init`` / ``notary unit add``; null for API changes, which
name the administrator key instead).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 13:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("console_user", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.drop_column("console_user")
