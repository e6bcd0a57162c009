"""在线阅档: read grants (查阅申请 → 审批 → a time-limited grant), the reader role, the
grant a read was made under, and the grant an access event is about.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 13:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_ROLES = ("admin", "security", "audit", "operator")
_NEW_ROLES = (*_OLD_ROLES, "reader")


def _roles_check(roles: tuple[str, ...]) -> str:
    return "role IN (" + ", ".join(f"'{r}'" for r in roles) + ")"


def upgrade() -> None:
    # The role column is VARCHAR + CHECK (transfer/db/types.py::str_enum): a new role is
    # a new CHECK, on SQLite by batch mode's table copy.
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_api_keys_role"), type_="check")
        batch_op.create_check_constraint("role", _roles_check(_NEW_ROLES))
    op.create_table(
        "read_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reader_key_id", sa.Uuid(), nullable=False),
        sa.Column("reader_unit_id", sa.Uuid(), nullable=False),
        sa.Column("holder_unit_id", sa.Uuid(), nullable=False),
        sa.Column("volume_ids", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "refused",
                "revoked",
                name="read_grant_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("decided_by_key_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("revoked_by_key_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reader_key_id"], ["api_keys.id"], name=op.f("fk_read_grants_reader_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["reader_unit_id"], ["units.id"], name=op.f("fk_read_grants_reader_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["holder_unit_id"], ["units.id"], name=op.f("fk_read_grants_holder_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_grants")),
    )
    op.create_index(
        op.f("ix_read_grants_reader_key_id"), "read_grants", ["reader_key_id"], unique=False
    )
    op.create_index(
        op.f("ix_read_grants_holder_unit_id"), "read_grants", ["holder_unit_id"], unique=False
    )
    with op.batch_alter_table("read_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grant_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_read_log_grant_id"), ["grant_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_read_log_grant_id_read_grants"), "read_grants", ["grant_id"], ["id"]
        )
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grant_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.drop_column("grant_id")
    with op.batch_alter_table("read_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_read_log_grant_id_read_grants"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_read_log_grant_id"))
        batch_op.drop_column("grant_id")
    op.drop_index(op.f("ix_read_grants_holder_unit_id"), table_name="read_grants")
    op.drop_index(op.f("ix_read_grants_reader_key_id"), table_name="read_grants")
    op.drop_table("read_grants")
    # With reader keys present the old CHECK fails and the downgrade stops: a reader key
    # is not silently turned into another role.
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_api_keys_role"), type_="check")
        batch_op.create_check_constraint("role", _roles_check(_OLD_ROLES))
