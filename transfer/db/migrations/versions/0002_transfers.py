"""Transfers (转递): transfers, their volumes, append-only events, 四性 results, act nonces, peers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:36:11.463730
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transfer_peers",
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("chain_account", sa.String(length=42), nullable=False),
        sa.Column("log_public_key_hex", sa.String(length=128), nullable=True),
        sa.Column("hosted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_transfer_peers_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_transfer_peers")),
        sa.UniqueConstraint("chain_account", name=op.f("uq_transfer_peers_chain_account")),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("transfer_no", sa.String(length=64), nullable=False),
        sa.Column(
            "direction",
            sa.Enum(
                "outgoing",
                "incoming",
                "internal",
                name="transfer_direction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "created",
                "packaged",
                "dispatched",
                "delivered",
                "verified",
                "received",
                "rejected",
                "returned",
                name="transfer_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("sender_unit_id", sa.Uuid(), nullable=False),
        sa.Column("receiver_unit_id", sa.Uuid(), nullable=False),
        sa.Column("notice", sa.JSON(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("package_root", sa.String(length=64), nullable=True),
        sa.Column("package_cid", sa.String(length=128), nullable=True),
        sa.Column("dispatch_act", sa.JSON(), nullable=True),
        sa.Column("dispatch_hash", sa.String(length=64), nullable=True),
        sa.Column("outcome_act", sa.JSON(), nullable=True),
        sa.Column("outcome_hash", sa.String(length=64), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["receiver_unit_id"], ["units.id"], name=op.f("fk_transfers_receiver_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["sender_unit_id"], ["units.id"], name=op.f("fk_transfers_sender_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_transfers_transfer_id")),
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfers_receiver_unit_id"), ["receiver_unit_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfers_sender_unit_id"), ["sender_unit_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transfers_state"), ["state"], unique=False)

    op.create_table(
        "act_nonces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("transfer_pk", sa.Uuid(), nullable=False),
        sa.Column("act_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transfer_pk"], ["transfers.id"], name=op.f("fk_act_nonces_transfer_pk_transfers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_act_nonces")),
        sa.UniqueConstraint("unit_code", "nonce", name=op.f("uq_act_nonces_unit_code_nonce")),
    )
    op.create_table(
        "transfer_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transfer_pk", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("tx_hashes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transfer_pk"], ["transfers.id"], name=op.f("fk_transfer_events_transfer_pk_transfers")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_transfer_events_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_events")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_transfer_events_leaf_index")),
    )
    with op.batch_alter_table("transfer_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_events_transfer_pk"), ["transfer_pk"], unique=False
        )

    op.create_table(
        "transfer_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transfer_pk", sa.Uuid(), nullable=False),
        sa.Column("material_id", sa.String(length=64), nullable=False),
        sa.Column("authenticity", sa.String(length=8), nullable=False),
        sa.Column("completeness", sa.String(length=8), nullable=False),
        sa.Column("usability", sa.String(length=8), nullable=False),
        sa.Column("security", sa.String(length=8), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transfer_pk"],
            ["transfers.id"],
            name=op.f("fk_transfer_results_transfer_pk_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_results")),
        sa.UniqueConstraint(
            "transfer_pk", "material_id", name=op.f("uq_transfer_results_transfer_pk_material_id")
        ),
    )
    with op.batch_alter_table("transfer_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_results_transfer_pk"), ["transfer_pk"], unique=False
        )

    op.create_table(
        "transfer_volumes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transfer_pk", sa.Uuid(), nullable=False),
        sa.Column("notice_volume_id", sa.String(length=64), nullable=False),
        sa.Column("volume_id", sa.Uuid(), nullable=True),
        sa.Column("chain_volume_id", sa.String(length=64), nullable=False),
        sa.Column("chain_transfer_no", sa.Integer(), nullable=True),
        sa.Column("dispatch_tx", sa.String(length=66), nullable=True),
        sa.Column("outcome_tx", sa.String(length=66), nullable=True),
        sa.ForeignKeyConstraint(
            ["transfer_pk"],
            ["transfers.id"],
            name=op.f("fk_transfer_volumes_transfer_pk_transfers"),
        ),
        sa.ForeignKeyConstraint(
            ["volume_id"], ["volumes.id"], name=op.f("fk_transfer_volumes_volume_id_volumes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_volumes")),
        sa.UniqueConstraint(
            "transfer_pk",
            "notice_volume_id",
            name=op.f("uq_transfer_volumes_transfer_pk_notice_volume_id"),
        ),
    )
    with op.batch_alter_table("transfer_volumes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_volumes_chain_volume_id"), ["chain_volume_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfer_volumes_transfer_pk"), ["transfer_pk"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfer_volumes_volume_id"), ["volume_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transfer_volumes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_volumes_volume_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_volumes_transfer_pk"))
        batch_op.drop_index(batch_op.f("ix_transfer_volumes_chain_volume_id"))

    op.drop_table("transfer_volumes")
    with op.batch_alter_table("transfer_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_results_transfer_pk"))

    op.drop_table("transfer_results")
    with op.batch_alter_table("transfer_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_events_transfer_pk"))

    op.drop_table("transfer_events")
    op.drop_table("act_nonces")
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfers_state"))
        batch_op.drop_index(batch_op.f("ix_transfers_sender_unit_id"))
        batch_op.drop_index(batch_op.f("ix_transfers_receiver_unit_id"))

    op.drop_table("transfers")
    op.drop_table("transfer_peers")
