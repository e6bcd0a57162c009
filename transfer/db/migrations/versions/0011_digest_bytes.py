"""SM3 digests as 32 bytes: ``materials.sm3`` and ``material_keys.key_fingerprint``,
64 hex characters until now, become BYTEA / BLOB (``transfer.db.types.Digest``: hex in
the application, bytes in the database). At 16 M materials ``ix_materials_sm3`` was
1.9 GB as text and verify-by-SM3 slowed 20× once the database outgrew memory
(benches/results/city-16m.md, city-sm3bytes.md).

Only these two: they hold a row per material (and per wrapped key). The other 64-hex
columns stay text: ``units.key_fingerprint`` and the transfer hashes have a row per
unit or transfer; ``volumes.cadre_blind_id`` / ``cadre_name_blind`` are HMAC-SM3
blinded ids (a row per volume, in a partial unique index); ``log_subjects.subject``
mixes blinded references with material and transfer ids.

PostgreSQL converts in place (``ALTER COLUMN ... TYPE ... USING decode/encode``, which
rewrites the table and rebuilds its indexes: the service must be stopped). SQLite has
no ``unhex`` before 3.41: the values are converted by a function registered on the
connection, in place (a TEXT column keeps a BLOB as it is, and the other way round),
then batch mode recreates the table with the new column type (foreign keys off,
``transfer.db.migrate``).

Revision ID: 0011_digest_bytes
Revises: 0010_log_subjects
Create Date: 2026-12-06 18:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_digest_bytes"
down_revision: str | None = "0010_log_subjects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("materials", "sm3"), ("material_keys", "key_fingerprint"))
_UNHEX = "notary_0011_unhex"


def _unhex(value: str) -> bytes:
    return bytes.fromhex(value)


def _check_length(table: str, column: str) -> None:
    """Refuse what would not come back as the same hex: a short value fails the
    migration, which rolls back, instead of being stored as bytes that no lookup would
    find. Only the length is checked here on PostgreSQL, where ``decode`` refuses a
    non-hex digit itself (a regular expression over every row cost 15 s per 1.6 M);
    SQLite's conversion does not, so it checks the digits too."""
    bind = op.get_bind()
    bad = f"length({column}) != 64"
    if bind.dialect.name != "postgresql":
        bad += f" OR {column} GLOB '*[^0-9a-fA-F]*'"
    found = bind.execute(sa.text(f"SELECT {column} FROM {table} WHERE {bad} LIMIT 1")).first()
    if found is not None:
        raise RuntimeError(f"{table}.{column} holds {found[0]!r}: not an SM3 digest in hex")


def upgrade() -> None:
    bind = op.get_bind()
    for table, column in COLUMNS:
        _check_length(table, column)
    if bind.dialect.name == "postgresql":
        for table, column in COLUMNS:
            op.alter_column(
                table,
                column,
                type_=sa.LargeBinary(32),
                existing_type=sa.String(64),
                existing_nullable=False,
                postgresql_using=f"decode({column}, 'hex')",
            )
        return
    raw = bind.connection.driver_connection
    assert raw is not None
    raw.create_function(_UNHEX, 1, _unhex, deterministic=True)
    for table, column in COLUMNS:
        op.execute(f"UPDATE {table} SET {column} = {_UNHEX}({column})")
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                column, type_=sa.LargeBinary(32), existing_type=sa.String(64),
                existing_nullable=False,
            )  # fmt: skip


def downgrade() -> None:
    bind = op.get_bind()
    for table, column in COLUMNS:
        if bind.dialect.name == "postgresql":
            op.alter_column(
                table,
                column,
                type_=sa.String(64),
                existing_type=sa.LargeBinary(32),
                existing_nullable=False,
                postgresql_using=f"encode({column}, 'hex')",
            )
            continue
        op.execute(f"UPDATE {table} SET {column} = lower(hex({column}))")
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                column, type_=sa.String(64), existing_type=sa.LargeBinary(32),
                existing_nullable=False,
            )  # fmt: skip
