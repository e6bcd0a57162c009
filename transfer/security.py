"""API keys and the deployment's blinding secret.

An API key is ``an_`` followed by 32 random bytes (base64url). It is shown once,
when issued; the database keeps only its SM3. Keys carry 256 bits of entropy, so
a plain hash cannot be brute-forced and a slow password hash would only slow every
request down.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from notary.crypto import sm3
from notary.entries import blind_id
from transfer.db.models import ApiKey, Unit, UnitStatus
from transfer.db.types import utcnow
from transfer.roles import Permission, Role, allows
from transfer.settings import Settings

KEY_PREFIX = "an_"
_KEY_BYTES = 32
_SHOWN_PREFIX_LEN = 10  # "an_" + 7 characters: enough to tell keys apart, useless to attack
_BLINDING_SECRET_BYTES = 32


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)


def hash_api_key(key: str) -> bytes:
    return sm3(key.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: one API key of one unit, with that key's role."""

    key_id: uuid.UUID
    unit_id: uuid.UUID
    unit_code: str
    role: Role
    unit_active: bool
    # 经办人: the name the key was issued for (``api_keys.label``); None for keys issued
    # without one (shown as 未登记). Recorded on the acts and steps this key makes.
    handler: str | None = None

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# The labels the setup commands give the keys they issue without a handler's name:
# they say where a key came from, not who holds it.
SETUP_LABEL = "notary unit add"
_SETUP_LABELS = frozenset({SETUP_LABEL, "notary init"})


def handler_name(label: str | None) -> str | None:
    """The 经办人 a key's label names, as acts carry it (one trimmed line, at most 200
    characters); None when the key was issued without a usable name (or by a setup
    command, whose label names the command)."""
    name = (label or "").strip()
    if not name or name in _SETUP_LABELS or len(name) > 200 or _CONTROL.search(name):
        return None
    return name


def presented_digest(presented: str) -> bytes | None:
    """The SM3 under which a presented key would be stored; None if it cannot be a key."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 128:
        return None
    return hash_api_key(presented)


# Columns, not entities: executed on a Connection (SQLAlchemy Core), the lookup that
# every API call makes skips the ORM's identity map and instance loading.
_BY_KEY_HASH = (
    select(
        ApiKey.id,
        ApiKey.key_hash,
        ApiKey.revoked_at,
        ApiKey.approved_at,
        ApiKey.role,
        ApiKey.label,
        Unit.id,
        Unit.code,
        Unit.status,
    )
    .join_from(ApiKey, Unit, ApiKey.unit_id == Unit.id)
    .where(ApiKey.key_hash == bindparam("digest"))
)


def principal_for_digest(conn: Connection, digest: bytes) -> Principal | None:
    """The principal whose key's SM3 is ``digest``; None if unknown or revoked."""
    row = conn.execute(_BY_KEY_HASH, {"digest": digest}).first()
    if row is None:
        return None
    (key_id, key_hash, revoked_at, approved_at, role, label, unit_id, unit_code, unit_status) = row
    # The index lookup already matched; compare again in constant time so that no
    # code path branches on a partial match of secret-derived bytes.
    if not hmac.compare_digest(key_hash, digest) or revoked_at is not None:
        return None
    if approved_at is None:  # issued over the API, not yet approved (三员分立)
        return None
    return Principal(
        key_id=key_id,
        unit_id=unit_id,
        unit_code=unit_code,
        role=role,
        unit_active=unit_status is UnitStatus.ACTIVE,
        handler=handler_name(label),
    )


def authenticate(session: Session, presented: str) -> Principal | None:
    """The principal for a presented key, or None if the key is unknown or revoked."""
    digest = presented_digest(presented)
    return None if digest is None else principal_for_digest(session.connection(), digest)


def issue_api_key(
    session: Session,
    unit: Unit,
    role: Role,
    label: str | None = None,
    *,
    issued_by: uuid.UUID | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``unit`` (flushed, not committed); return it and its text.
    ``issued_by``: the key of the administrator who issued it over the API — the new
    key then works only once another administrator approved it; None: the server
    console, approved at once."""
    text = generate_api_key()
    key = ApiKey(
        unit_id=unit.id,
        key_hash=hash_api_key(text),
        prefix=text[:_SHOWN_PREFIX_LEN],
        role=role,
        label=label,
        issued_by_key_id=issued_by,
        approved_at=utcnow() if issued_by is None else None,
    )
    session.add(key)
    session.flush()
    return key, text


def blind_cadre_id(secret: bytes, identifier: str) -> str:
    """The blinded id of a cadre identifier, after normalising how people type it.

    NFKC folds full-width input (１２３Ｘ, common with Chinese input methods) to
    ASCII, whitespace is dropped and letters upper-cased (a 身份证号 may end in x or
    X), so the same person always gets the same blinded id.
    """
    normalised = "".join(unicodedata.normalize("NFKC", identifier).split()).upper()
    if not normalised:
        raise ValueError("the cadre identifier is empty")
    return blind_id(secret, normalised)


def blinding_secret(settings: Settings, *, create: bool = False) -> bytes:
    """The deployment's HMAC-SM3 key for blinding cadre identifiers.

    From ``settings.blinding_secret`` if set, else the file home/secrets/blinding.key
    (created, mode 0600, only when ``create`` — ``notary init`` does that). Losing or
    changing it makes every existing blinded id unmatchable, so it is never
    regenerated silently.
    """
    if settings.blinding_secret is not None:
        secret = settings.blinding_secret.get_secret_value().encode("utf-8")
    else:
        path = settings.secrets_dir / "blinding.key"
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"blinding secret {path} is missing (run notary init)")
            _create_secret_file(path)
        secret = bytes.fromhex(path.read_text("ascii").strip())
    if len(secret) < 16:
        raise ValueError("the blinding secret must be at least 16 bytes")
    return secret


def _create_secret_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Written whole to a temporary name, then linked into place: link() fails if the
    # file exists, so two processes initialising at once agree on one secret and
    # neither ever reads a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(_BLINDING_SECRET_BYTES) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
