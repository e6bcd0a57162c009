"""A cadre's 姓名 on a volume: sealed at rest, found through a blinded index.

A name is personal data, so the database never holds it in clear (SECURITY.md §1):

- ``volumes.cadre_name_blind`` — the lookup index: HMAC-SM3, as for the 身份证号, but
  under a key derived from the blinding secret with its own label. A name's blind is
  therefore an HMAC under another key than an identifier's and can never equal one,
  whatever the two normalise to. Without the secret the index cannot be tested against
  a list of common names (names have little entropy; a plain hash would fall to that).
- ``volumes.cadre_name_sealed`` — the name itself, SM4-GCM under a key derived from
  the same secret (its own label again), with the volume's id as associated data: a
  sealed name copied onto another volume's row does not open.

Both keys come from the blinding secret because it already is the deployment's
secret for cadre data: whoever holds it can test identifiers against the blinded ids
anyway, and a database dump, a replica or a SQL-level read without it yields neither
names nor identifiers. Only the volume routes open a name, for the volume's custodian.
"""

from __future__ import annotations

import re
import unicodedata
import uuid

from notary.crypto import sm4
from notary.crypto.errors import DecryptionError
from notary.crypto.sm3 import hmac_sm3
from notary.entries import blind_id

NAME_MAX = 64

# Separators between the parts of a transliterated name (买买提·艾力), folded to the
# one middle dot so that the way a clerk's input method types it does not matter.
_DOTS = re.compile(r"[•・‧∙⋅.]")
# Letters of any script (no digits, no underscore), parts joined by "·" or "-".
_NAME = re.compile(r"[^\W\d_]+(?:[·-][^\W\d_]+)*")
_BLIND_LABEL = b"archive-notary/cadre-name/blind/v1"
_SEAL_LABEL = b"archive-notary/cadre-name/seal/v1"


def normalise_cadre_name(raw: str) -> str:
    """The name as it is stored and compared: NFKC (full-width forms folded), every
    whitespace removed (张　三 is 张三), middle-dot variants as "·". Raises ValueError
    with a Chinese sentence for a clerk when it cannot be a name."""
    name = _DOTS.sub("·", "".join(unicodedata.normalize("NFKC", raw).split()))
    if not name:
        raise ValueError("去掉空格后为空")
    if len(name) > NAME_MAX:
        raise ValueError(f"最多 {NAME_MAX} 个字")
    if not _NAME.fullmatch(name):
        raise ValueError(
            "只能由文字组成，不能含数字、符号或控制字符；少数民族姓名各部分之间用间隔号“·”"
        )
    return name


def blind_cadre_name(secret: bytes, name: str) -> str:
    """The blinded index of a normalised name (hex)."""
    return blind_id(hmac_sm3(secret, _BLIND_LABEL), name)


def _seal_key(secret: bytes) -> bytes:
    return hmac_sm3(secret, _SEAL_LABEL)[: sm4.KEY_SIZE]


def _aad(volume_id: uuid.UUID) -> bytes:
    return b"cadre-name:" + str(volume_id).encode("ascii")


def seal_cadre_name(secret: bytes, volume_id: uuid.UUID, name: str) -> bytes:
    return sm4.encrypt(_seal_key(secret), _aad(volume_id), name.encode("utf-8"))


def open_cadre_name(secret: bytes, volume_id: uuid.UUID, sealed: bytes) -> str | None:
    """The name sealed for this volume; None if it does not open (the row was altered,
    or sealed for another volume or under another secret)."""
    try:
        return sm4.decrypt(_seal_key(secret), _aad(volume_id), sealed).decode("utf-8")
    except (DecryptionError, UnicodeDecodeError):
        return None
