"""Initial schema: units and keys, volumes, materials, the log, checkpoints, custody, reads, alerts.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "anchored",
                name="checkpoint_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("contract", sa.String(length=42), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoints")),
        sa.UniqueConstraint("tree_size", name=op.f("uq_checkpoints_tree_size")),
    )
    op.create_index(op.f("ix_checkpoints_status"), "checkpoints", ["status"], unique=False)

    op.create_table(
        "log_leaves",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_log_leaves")),
    )
    op.create_index(op.f("ix_log_leaves_leaf_hash"), "log_leaves", ["leaf_hash"], unique=False)

    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_log_nodes")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "archive_centre",
                "unit",
                "auditor",
                "admin",
                name="unit_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("public_key_hex", sa.String(length=128), nullable=True),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "suspended",
                name="unit_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("code", name=op.f("uq_units_code")),
    )
    op.create_index(op.f("ix_units_key_fingerprint"), "units", ["key_fingerprint"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "security",
                "audit",
                "operator",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_api_keys_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_unit_id"), "api_keys", ["unit_id"], unique=False)

    op.create_table(
        "volumes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cadre_blind_id", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "main",
                "copy",
                name="volume_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("custodian_unit_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "held",
                "in_transfer",
                "transferred_out",
                name="volume_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["custodian_unit_id"], ["units.id"], name=op.f("fk_volumes_custodian_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volumes")),
    )
    op.create_index(op.f("ix_volumes_cadre_blind_id"), "volumes", ["cadre_blind_id"], unique=False)
    op.create_index(
        op.f("ix_volumes_custodian_unit_id"), "volumes", ["custodian_unit_id"], unique=False
    )
    op.create_index(
        "uq_volumes_main_per_cadre",
        "volumes",
        ["cadre_blind_id"],
        unique=True,
        sqlite_where=sa.text("kind = 'main'"),
        postgresql_where=sa.text("kind = 'main'"),
    )

    op.create_table(
        "custody_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("volume_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "registered",
                "dispatched",
                "received",
                "rejected",
                "returned",
                name="custody_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("from_unit_id", sa.Uuid(), nullable=True),
        sa.Column("to_unit_id", sa.Uuid(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_unit_id"], ["units.id"], name=op.f("fk_custody_events_from_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["to_unit_id"], ["units.id"], name=op.f("fk_custody_events_to_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["volume_id"], ["volumes.id"], name=op.f("fk_custody_events_volume_id_volumes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_events")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_custody_events_leaf_index")),
    )
    op.create_index(
        op.f("ix_custody_events_volume_id"), "custody_events", ["volume_id"], unique=False
    )

    op.create_table(
        "materials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("volume_id", sa.Uuid(), nullable=False),
        sa.Column("lineage_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("formation_date", sa.Date(), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("cid", sa.String(length=128), nullable=False),
        sa.Column("sealed_size", sa.BigInteger(), nullable=False),
        sa.Column("registered_by_unit_id", sa.Uuid(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            # The ten categories as of this revision (frozen, not imported).
            "category IN ('1', '2', '3', '4-1', '4-2', '4-3', '4-4', '5', '6', '7', '8', "
            "'9-1', '9-2', '9-3', '9-4', '10')",
            name=op.f("ck_materials_category"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_materials_version_positive")),
        sa.ForeignKeyConstraint(
            ["registered_by_unit_id"],
            ["units.id"],
            name=op.f("fk_materials_registered_by_unit_id_units"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["materials.id"], name=op.f("fk_materials_supersedes_id_materials")
        ),
        sa.ForeignKeyConstraint(
            ["volume_id"], ["volumes.id"], name=op.f("fk_materials_volume_id_volumes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_materials")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_materials_leaf_index")),
        sa.UniqueConstraint("lineage_id", "version", name=op.f("uq_materials_lineage_id_version")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_materials_supersedes_id")),
    )
    op.create_index(op.f("ix_materials_lineage_id"), "materials", ["lineage_id"], unique=False)
    op.create_index(op.f("ix_materials_sm3"), "materials", ["sm3"], unique=False)
    op.create_index(
        "ix_materials_volume_order", "materials", ["volume_id", "category", "seq_no"], unique=False
    )

    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("material_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["material_id"], ["materials.id"], name=op.f("fk_alerts_material_id_materials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_kind"), "alerts", ["kind"], unique=False)
    op.create_index(op.f("ix_alerts_material_id"), "alerts", ["material_id"], unique=False)

    op.create_table(
        "material_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("material_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["material_id"], ["materials.id"], name=op.f("fk_material_keys_material_id_materials")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_material_keys_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material_keys")),
        sa.UniqueConstraint(
            "material_id",
            "unit_id",
            "key_fingerprint",
            name=op.f("uq_material_keys_material_id_unit_id_key_fingerprint"),
        ),
    )
    op.create_index(
        op.f("ix_material_keys_material_id"), "material_keys", ["material_id"], unique=False
    )

    op.create_table(
        "read_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("material_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_read_log_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["material_id"], ["materials.id"], name=op.f("fk_read_log_material_id_materials")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_read_log_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_log")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_read_log_leaf_index")),
    )
    op.create_index(op.f("ix_read_log_material_id"), "read_log", ["material_id"], unique=False)
    op.create_index("ix_read_log_unit_time", "read_log", ["unit_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_read_log_unit_time", table_name="read_log")
    op.drop_index(op.f("ix_read_log_material_id"), table_name="read_log")

    op.drop_table("read_log")
    op.drop_index(op.f("ix_material_keys_material_id"), table_name="material_keys")

    op.drop_table("material_keys")
    op.drop_index(op.f("ix_alerts_material_id"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_kind"), table_name="alerts")

    op.drop_table("alerts")
    op.drop_index("ix_materials_volume_order", table_name="materials")
    op.drop_index(op.f("ix_materials_sm3"), table_name="materials")
    op.drop_index(op.f("ix_materials_lineage_id"), table_name="materials")

    op.drop_table("materials")
    op.drop_index(op.f("ix_custody_events_volume_id"), table_name="custody_events")

    op.drop_table("custody_events")
    op.drop_index("uq_volumes_main_per_cadre", table_name="volumes")
    op.drop_index(op.f("ix_volumes_custodian_unit_id"), table_name="volumes")
    op.drop_index(op.f("ix_volumes_cadre_blind_id"), table_name="volumes")

    op.drop_table("volumes")
    op.drop_index(op.f("ix_api_keys_unit_id"), table_name="api_keys")

    op.drop_table("api_keys")
    op.drop_index(op.f("ix_units_key_fingerprint"), table_name="units")

    op.drop_table("units")
    op.drop_table("log_nodes")
    op.drop_index(op.f("ix_log_leaves_leaf_hash"), table_name="log_leaves")

    op.drop_table("log_leaves")
    op.drop_index(op.f("ix_checkpoints_status"), table_name="checkpoints")

    op.drop_table("checkpoints")
