"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Enum, LargeBinary
from sqlalchemy.types import TypeDecorator

from notary.crypto import is_hex_digest


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored as UTC.

    SQLite has no timezone-aware type and returns naive values; PostgreSQL returns
    values in the session's time zone. Either way the application sees aware UTC,
    and a naive value is refused rather than silently guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        # SQLite would store the offset text of whatever zone came in; keep it uniform.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class DigestError(ValueError):
    """A value for a :class:`Digest` column that is not 64 lower-case hex digits."""


class Digest(TypeDecorator[str]):
    """An SM3 digest: 32 bytes in the database, 64 lower-case hex digits in the application.

    As text the digest took 65 bytes per row plus as much again in its index, and the
    index of ``materials.sm3`` outgrew memory at a city's scale (benches/results/
    city-sm3bytes.md). Everything outside the database (API, receipts, entries)
    speaks hex, so the conversion lives here, at the one place values cross. Only the
    canonical form is accepted: an upper-case or short value would otherwise be
    stored as the same 32 bytes as its canonical twin, or fail deep inside a query.
    """

    impl = LargeBinary(32)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if not is_hex_digest(value):
            raise DigestError(f"an SM3 digest is 64 lower-case hex digits, got {_describe(value)}")
        return bytes.fromhex(value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if len(value) != 32:
            # Only a hand-edited row gets here; say so rather than return a short hex.
            raise DigestError(f"a stored SM3 digest is {len(value)} bytes, not 32")
        return bytes(value).hex()


def _describe(value: object) -> str:
    if not isinstance(value, str):
        return type(value).__name__
    shown = value if len(value) <= 20 else value[:16] + "…"
    return f"{len(value)} characters {shown!r}"


def str_enum(enum_cls: type[enum.StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint, storing the values.

    Not a native PostgreSQL ENUM: adding a value later is then an ordinary
    migration on both databases instead of ``ALTER TYPE`` on one of them.
    """

    def values(cls: Any) -> list[str]:
        return [member.value for member in cls]

    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=values,
        validate_strings=True,
    )
