"""A cadre's 姓名 on a volume, optional: ``volumes.cadre_name_blind`` (HMAC-SM3 under a
key derived from the blinding secret, indexed for the custodian's lookup by name) and
``volumes.cadre_name_sealed`` (the name, SM4-GCM; transfer/cadre_names.py). Volumes
registered before have neither until their custodian sets the name.

Revision ID: 0009_cadre_names
Revises: 0008
Create Date: 2026-12-05 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_cadre_names"
# 0008_console_access_events.py declares its revision id as "0008".
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("volumes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cadre_name_blind", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("cadre_name_sealed", sa.LargeBinary(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_volumes_cadre_name_blind"), ["cadre_name_blind"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("volumes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volumes_cadre_name_blind"))
        batch_op.drop_column("cadre_name_sealed")
        batch_op.drop_column("cadre_name_blind")
