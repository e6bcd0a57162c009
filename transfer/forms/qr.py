"""The check reference a form's QR code carries, format version 1 (docs/qr-format.md).

A URL to the deployment's check page whose fragment holds the record as printed::

    <base>/console/check.html#v=1&t=transfer&id=T-1&c=31337&root=<hex64>&tx=0x<hex64>

It is self-contained: with the chain (``c``) and the transactions (``tx``) a third
party can check the printed values on chain without this service. Keys are fixed and
short; every value is ASCII, so the URL needs no percent-encoding except in ``id``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, quote, urlsplit

import segno

from notary.crypto import is_hex_digest

VERSION = "1"
CHECK_PAGE = "/console/check.html"
_TX = re.compile(r"^0x[0-9a-f]{64}$")
_DECIMAL = re.compile(r"^[0-9]{1,19}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_TX = 100  # a transfer carries at most 100 volumes (transfer.workflow.notice)


class RefKind(StrEnum):
    TRANSFER = "transfer"  # 转递通知单, 转递材料目录: the dispatch
    RECEIPT = "receipt"  # 回执
    REJECTION = "rejection"  # 退回单
    MATERIAL = "material"  # 存证证明


class RefError(ValueError):
    """A reference that is not a well-formed version-1 reference (message in Chinese)."""


@dataclass(frozen=True, slots=True)
class CheckRef:
    """What a printed form claims, in the order the fields are written."""

    kind: RefKind
    id: str
    chain_id: int | None = None
    root: str | None = None  # the package root (transfer, receipt, rejection)
    act: str | None = None  # SM3 of the signed receipt or rejection act
    sm3: str | None = None  # the material's SM3
    leaf: int | None = None  # the material's log position
    tx: tuple[str, ...] = ()  # dispatch / outcome txs per volume, or the anchoring tx

    def __post_init__(self) -> None:
        _validate(self)

    def params(self) -> list[tuple[str, str]]:
        out = [("v", VERSION), ("t", self.kind.value), ("id", self.id)]
        if self.chain_id is not None:
            out.append(("c", str(self.chain_id)))
        for key, value in (("root", self.root), ("h", self.act), ("sm3", self.sm3)):
            if value is not None:
                out.append((key, value))
        if self.leaf is not None:
            out.append(("n", str(self.leaf)))
        if self.tx:
            out.append(("tx", ",".join(self.tx)))
        return out

    def fragment(self) -> str:
        return "&".join(f"{k}={quote(v, safe=',')}" for k, v in self.params())

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}{CHECK_PAGE}#{self.fragment()}"


def _validate(ref: CheckRef) -> None:
    if not _ID.fullmatch(ref.id):
        raise RefError("编号（id）格式不正确")
    if ref.chain_id is not None and not 0 < ref.chain_id < 2**63:
        raise RefError("链 ID（c）格式不正确")
    for name, value in (("root", ref.root), ("h", ref.act), ("sm3", ref.sm3)):
        if value is not None and not is_hex_digest(value):
            raise RefError(f"{name} 须为 64 位小写十六进制")
    if len(ref.tx) > MAX_TX or any(not _TX.fullmatch(t) for t in ref.tx):
        raise RefError("交易哈希（tx）须为 0x 加 64 位小写十六进制，以逗号分隔")
    if ref.leaf is not None and ref.leaf < 0:
        raise RefError("日志位置（n）须为非负整数")
    material = ref.kind is RefKind.MATERIAL
    if material and (ref.root is not None or ref.act is not None):
        raise RefError("存证证明的参考不含 root 或 h")
    if not material and (ref.sm3 is not None or ref.leaf is not None):
        raise RefError("转递文书的参考不含 sm3 或 n")
    if ref.kind is RefKind.TRANSFER and ref.act is not None:
        raise RefError("转递通知单的参考不含 h")


_KEYS = {"v", "t", "id", "c", "root", "h", "sm3", "n", "tx"}


def parse_ref(text: str) -> CheckRef:
    """A reference from a scanned URL, its fragment, or a query string."""
    if "#" in text:
        text = text.split("#", 1)[1]
    elif "://" in text:
        text = urlsplit(text).query
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=len(_KEYS) + 1)
    except ValueError:
        raise RefError("字段过多") from None
    seen: dict[str, str] = {}
    for key, value in pairs:
        if key not in _KEYS:
            raise RefError(f"未知字段 {key[:20]!r}")
        if key in seen:
            raise RefError(f"字段 {key} 重复")
        seen[key] = value
    if seen.get("v") != VERSION:
        raise RefError(f"不支持的二维码格式版本 {seen.get('v', '（缺失）')[:8]!r}（应为 1）")
    try:
        kind = RefKind(seen.get("t", ""))
    except ValueError:
        raise RefError("文书类型（t）须为 transfer、receipt、rejection 或 material") from None
    if "id" not in seen:
        raise RefError("缺少编号（id）")
    return CheckRef(
        kind=kind,
        id=seen["id"],
        chain_id=_int(seen, "c"),
        root=seen.get("root"),
        act=seen.get("h"),
        sm3=seen.get("sm3"),
        leaf=_int(seen, "n"),
        tx=tuple(seen["tx"].split(",")) if seen.get("tx") else (),
    )


def _int(seen: dict[str, str], key: str) -> int | None:
    value = seen.get(key)
    if value is None:
        return None
    if not _DECIMAL.fullmatch(value):
        raise RefError(f"{key} 须为十进制整数")
    return int(value)


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR symbol's modules (True = dark), error correction M, quiet zone excluded."""
    code = segno.make_qr(text, error="m", boost_error=False)
    return [[bool(cell) for cell in row] for row in code.matrix]
