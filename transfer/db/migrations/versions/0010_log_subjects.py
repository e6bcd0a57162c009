"""The log's subject index ``log_subjects`` (kind, subject, leaf_index): which leaves
are a volume's custody entries (by blinded volume reference), a material's reads (by
material id) and a transfer's steps (by transfer id), so that ``notary audit --volume``
reads one volume's entries instead of scanning the log. From now on written with each
leaf (``DbTreeStorage.put_entries``); an existing log is indexed here, from its leaves,
``BATCH`` leaves at a time.

The backfill's rule is a copy of ``notary.entries.entry_subject`` as of this revision
(a migration must not change when the code does); tests/transfer/service/test_migrations.py
checks that both index a log the same way.

Revision ID: 0010_log_subjects
Revises: 0009_cadre_names
Create Date: 2026-12-06 03:00:00.000000
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010_log_subjects"
down_revision: str | None = "0009_cadre_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Leaves read (and index rows written) per round trip.
BATCH = 5_000
_MARKS = (b'"type":"custody.event"', b'"type":"material.read"')


def _subject(entry: Any) -> tuple[str, str] | None:
    """notary.entries.entry_subject at this revision."""
    if not isinstance(entry, dict):
        return None
    kind = entry.get("type")
    if kind == "material.read":
        found = ("read", entry.get("material_id"))
    elif kind == "custody.event":
        event = entry.get("event")
        if isinstance(event, str) and event.startswith("transfer."):
            found = ("transfer", entry.get("transfer_id"))
        else:
            found = ("custody", entry.get("volume"))
    else:
        return None
    subject = found[1]
    if not isinstance(subject, str) or not 0 < len(subject) <= 64:
        return None
    return found[0], subject


def _backfill() -> None:
    bind = op.get_bind()
    leaves = sa.table("log_leaves", sa.column("idx", sa.BigInteger), sa.column("entry"))
    subjects = sa.table(
        "log_subjects",
        sa.column("kind", sa.String),
        sa.column("subject", sa.String),
        sa.column("leaf_index", sa.BigInteger),
    )
    top = bind.execute(sa.select(sa.func.max(leaves.c.idx))).scalar()
    if top is None:
        return
    for lo in range(0, int(top) + 1, BATCH):
        rows = []
        for idx, raw in bind.execute(
            sa.select(leaves.c.idx, leaves.c.entry).where(
                leaves.c.idx >= lo, leaves.c.idx < lo + BATCH
            )
        ):
            raw = bytes(raw)
            if not any(m in raw for m in _MARKS):
                continue
            try:
                found = _subject(json.loads(raw))
            except (ValueError, UnicodeDecodeError):
                continue  # a leaf that does not parse is the audit's finding, not indexed
            if found is not None:
                rows.append({"kind": found[0], "subject": found[1], "leaf_index": idx})
        if rows:
            bind.execute(sa.insert(subjects), rows)


def upgrade() -> None:
    op.create_table(
        "log_subjects",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject", "leaf_index", name=op.f("pk_log_subjects")),
    )
    _backfill()


def downgrade() -> None:
    op.drop_table("log_subjects")
