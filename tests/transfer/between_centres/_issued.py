"""Every receipt a centre's log issues, checked against docs/receipt.schema.json and the
strict reader (issue 21)."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from notary.receipts import verify_offline
from tests._support.centres import Centre
from tests.notary.receipts.schema import checked_receipt
from transfer.db.models import Checkpoint, CheckpointStatus
from transfer.db.treestore import DbTreeStorage
from transfer.services.receipts import anchored_receipts


def every_issued_receipt(c: Centre, timeout: float = 30) -> set[tuple[str, str | None]]:
    """Check the receipt of every leaf of ``c``'s log once it is anchored; the kinds of
    entry (type, event) seen."""
    state = c.client.app.state.notary  # type: ignore[attr-defined]
    log_key = state.notary.log_public_key
    deadline = time.monotonic() + timeout
    while True:
        with state.sessions() as s:
            size = DbTreeStorage(s).size()
            anchored = s.scalar(
                select(func.max(Checkpoint.tree_size)).where(
                    Checkpoint.status == CheckpointStatus.ANCHORED
                )
            )
            if (anchored or 0) >= size:
                receipts = anchored_receipts(s, range(size), log_key)
                break
        assert time.monotonic() < deadline, "the log was not anchored in time"
        time.sleep(0.1)
    kinds = set()
    for leaf, receipt in receipts.items():
        assert receipt is not None, leaf
        parsed = checked_receipt(receipt.to_json())
        verify_offline(parsed, trusted_log_keys=[log_key])
        kinds.add((str(parsed.entry["type"]), parsed.entry.get("event")))
    return kinds
