"""Drop ``ix_material_keys_material_id``: the unique index on (material_id, unit_id,
key_fingerprint) starts with ``material_id`` and serves every lookup of a material's
wrapped keys on both databases. The single-column index cost a write per wrapped key and
64 MB at 1.6 M materials (~0.6 GB at 16 M; benches/results/city-sm3bytes.md).

Revision ID: 0012_material_keys_index
Revises: 0011_digest_bytes
Create Date: 2026-12-06 20:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_material_keys_index"
down_revision: str | None = "0011_digest_bytes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_material_keys_material_id", table_name="material_keys")


def downgrade() -> None:
    op.create_index("ix_material_keys_material_id", "material_keys", ["material_id"])
