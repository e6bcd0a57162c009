"""Small helpers both sides of a transfer use: units, their registered keys, act nonces."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.crypto import SM2PublicKey
from transfer.db.models import ActNonce, Unit
from transfer.services.errors import Conflict


def unit_of(s: Session, unit_id: uuid.UUID) -> Unit:
    unit = s.get(Unit, unit_id)
    assert unit is not None
    return unit


def unit_key_of(unit: Unit) -> SM2PublicKey:
    if unit.public_key_hex is None:
        raise Conflict(f"单位 {unit.code} 没有登记 SM2 公钥")
    return SM2PublicKey.from_hex(unit.public_key_hex)


def nonce_seen(s: Session, unit_code: str) -> Callable[[str], bool]:
    """Whether a nonce of this unit's acts was already accepted (replay protection)."""

    def seen(nonce: str) -> bool:
        return (
            s.scalar(
                select(ActNonce.id).where(ActNonce.unit_code == unit_code, ActNonce.nonce == nonce)
            )
            is not None
        )

    return seen
