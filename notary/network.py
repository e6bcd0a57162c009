"""The network of archive centres: its descriptor, join requests, admission.

Three kinds of party share one permissioned chain and one ``ArchiveNotary`` contract
(docs/federation.md):

- the **network admin** (组织部) deploys the contract and admits or suspends members;
  its home holds ``network.json`` and its keys, nothing else;
- an **archive centre** is a deployment of its own; it joins with a *join request*
  (its chain account and SM2 log key, and each hosted unit's chain account and SM2
  envelope key), signed with its log key;
- **hosted units** act on chain through accounts of their own.

Trust between centres is decided by the member registry on chain (an account, its
role, the SM3 fingerprint of its SM2 key, its unit id, whether it was active at a
block), never by a key copied by hand: :func:`check_member` is the one check.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.types import TxParams, Wei

from notary._internal import keyfiles
from notary._internal.keyfiles import write_secret
from notary.canonical import canonical_json, parse_json
from notary.chain import ChainClient, Role, account_address
from notary.chain.models import Member
from notary.chain.rpc import connect
from notary.crypto import KeyFormatError, SM2PrivateKey, SM2PublicKey
from notary.crypto.errors import CryptoError
from notary.errors import NotaryError

NETWORK_FORMAT = "archive-notary/network/v1"
JOIN_FORMAT = "archive-notary/join-request/v1"
NETWORK_FILE = "network.json"
# Enough gas for many thousands of transactions at a dev chain's prices; a permissioned
# network with free gas (Besu min-gas-price 0) needs none and gets none.
FUNDING_WEI = 10**21


class NetworkError(NotaryError):
    """A network descriptor or join request is malformed, or does not match the chain."""


class MembershipError(NetworkError):
    """The chain's member registry does not vouch for what a party presents."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


def unit_chain_id(code: str) -> bytes:
    """The opaque 32-byte unit id used on chain."""
    from notary.crypto import sm3

    return sm3(b"archive-notary/unit\x00" + code.encode("utf-8"))


# ---------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class NetworkDescriptor:
    """What a centre needs to join: the chain and the contract, and who governs it."""

    chain_id: int
    contract: str
    rpc_url: str
    admin_account: str
    name: str
    created_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "format": NETWORK_FORMAT,
            "name": self.name,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "rpc_url": self.rpc_url,
            "admin_account": self.admin_account,
            "created_ms": self.created_ms,
        }

    @classmethod
    def from_json(cls, doc: Any) -> NetworkDescriptor:
        fields = {
            "format",
            "name",
            "chain_id",
            "contract",
            "rpc_url",
            "admin_account",
            "created_ms",
        }
        if not isinstance(doc, dict) or doc.get("format") != NETWORK_FORMAT:
            raise NetworkError(f"不是网络描述文件（format 应为 {NETWORK_FORMAT}）")
        if set(doc) != fields:
            raise NetworkError(f"网络描述文件字段不符：应为 {sorted(fields)}")
        if not Web3.is_address(doc["contract"]) or not Web3.is_address(doc["admin_account"]):
            raise NetworkError("网络描述文件中的合约或管理员账户不是有效地址")
        if not isinstance(doc["chain_id"], int) or not isinstance(doc["rpc_url"], str):
            raise NetworkError("网络描述文件中的 chain_id 或 rpc_url 类型错误")
        return cls(
            chain_id=doc["chain_id"],
            contract=Web3.to_checksum_address(doc["contract"]),
            rpc_url=doc["rpc_url"],
            admin_account=Web3.to_checksum_address(doc["admin_account"]),
            name=str(doc["name"]),
            created_ms=int(doc["created_ms"]),
        )

    @classmethod
    def load(cls, path: Path) -> NetworkDescriptor:
        try:
            return cls.from_json(parse_json(path.read_bytes()))
        except OSError as e:
            raise NetworkError(f"无法读取网络描述文件 {path}：{e.strerror or e}") from None
        except ValueError as e:
            raise NetworkError(f"网络描述文件 {path} 不是有效 JSON：{e}") from None


@dataclass(frozen=True, slots=True)
class UnitRequest:
    code: str
    name: str
    chain_account: str
    public_key: SM2PublicKey


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """A centre asks to join (or to add hosted units). Signed with the centre's log key,
    so that the admin can check the request was made by the holder of that key; the
    admin still confirms the fingerprints with the centre out of band before admitting."""

    chain_id: int
    contract: str
    centre_code: str
    centre_name: str
    centre_account: str
    log_public_key: SM2PublicKey
    units: tuple[UnitRequest, ...]
    created_ms: int
    signature: bytes = b""

    def body(self) -> dict[str, Any]:
        return {
            "format": JOIN_FORMAT,
            "network": {"chain_id": self.chain_id, "contract": self.contract},
            "centre": {
                "code": self.centre_code,
                "name": self.centre_name,
                "chain_account": self.centre_account,
                "log_public_key": self.log_public_key.raw.hex(),
            },
            "units": [
                {
                    "code": u.code,
                    "name": u.name,
                    "chain_account": u.chain_account,
                    "public_key": u.public_key.raw.hex(),
                }
                for u in self.units
            ],
            "created_ms": self.created_ms,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "signature": self.signature.hex()}

    def signed(self, log_key: SM2PrivateKey) -> JoinRequest:
        sig = log_key.sign(canonical_json(self.body()))
        return JoinRequest(**{**_fields(self), "signature": sig})

    @classmethod
    def from_json(cls, doc: Any) -> JoinRequest:
        """Parse strictly and check the signature with the log key it carries."""
        try:
            if not isinstance(doc, dict) or doc.get("format") != JOIN_FORMAT:
                raise NetworkError(f"不是入网申请文件（format 应为 {JOIN_FORMAT}）")
            if set(doc) != {"format", "network", "centre", "units", "created_ms", "signature"}:
                raise NetworkError("入网申请文件字段不符")
            net, centre = doc["network"], doc["centre"]
            units = tuple(
                UnitRequest(
                    code=_code(u["code"]),
                    name=_name(u["name"]),
                    chain_account=_account(u["chain_account"]),
                    public_key=SM2PublicKey.from_hex(u["public_key"]),
                )
                for u in doc["units"]
            )
            req = cls(
                chain_id=int(net["chain_id"]),
                contract=_account(net["contract"]),
                centre_code=_code(centre["code"]),
                centre_name=_name(centre["name"]),
                centre_account=_account(centre["chain_account"]),
                log_public_key=SM2PublicKey.from_hex(centre["log_public_key"]),
                units=units,
                created_ms=int(doc["created_ms"]),
                signature=bytes.fromhex(doc["signature"]),
            )
        except (KeyError, TypeError, ValueError, KeyFormatError) as e:
            raise NetworkError(f"入网申请文件格式错误：{e}") from None
        try:
            req.log_public_key.verify(canonical_json(req.body()), req.signature)
        except CryptoError:
            raise NetworkError("入网申请的签名与其中的日志公钥不符：文件被改动过或不完整") from None
        return req

    @classmethod
    def load(cls, path: Path) -> JoinRequest:
        try:
            return cls.from_json(parse_json(path.read_bytes()))
        except OSError as e:
            raise NetworkError(f"无法读取入网申请 {path}：{e.strerror or e}") from None
        except ValueError as e:
            raise NetworkError(f"入网申请 {path} 不是有效 JSON：{e}") from None


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _account(value: Any) -> str:
    if not isinstance(value, str) or not Web3.is_address(value):
        raise ValueError(f"{value!r} 不是链上账户地址")
    return str(Web3.to_checksum_address(value))


_CODE = re.compile(r"[0-9A-Za-z_\-][0-9A-Za-z_.\-]{0,63}")


def _code(value: Any) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise ValueError(f"单位代码 {value!r} 须为 1–64 位字母、数字、-、_、.，且不以 . 开头")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValueError("名称须为 1–200 个字符")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("名称不得含换行或控制字符")
    return value


# ---------------------------------------------------------------- the admin's home


def _passphrase(home: Path, *, create: bool) -> str:
    found = keyfiles.passphrase(home, create=create)
    if found is None:
        path = keyfiles.passphrase_path(home)
        raise NetworkError(f"{path} 不存在，且未设置 NOTARY_KEY_PASSPHRASE")
    return found.decode("utf-8")


def _save_chain_key(home: Path, key: bytes, passphrase: str) -> None:
    from eth_account import Account

    keystore = Account.encrypt(key, passphrase)  # Web3 Secret Storage v3 (scrypt)
    write_secret(home / "keys" / "admin.json", json.dumps(keystore).encode("utf-8"))


def load_admin_key(home: Path) -> bytes:
    from eth_account import Account

    path = home / "keys" / "admin.json"
    try:
        keystore = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise NetworkError(f"{home} 不是网络管理员目录（缺少 keys/admin.json）") from None
    try:
        return bytes(Account.decrypt(keystore, _passphrase(home, create=False)))
    except ValueError:
        raise NetworkError("无法解开网络管理员密钥：口令不对") from None


def create_network(
    home: Path, rpc_url: str, *, admin_key: bytes | None = None, name: str = "档案公证网络"
) -> NetworkDescriptor:
    """Deploy the contract with the admin account and write the admin's home.

    ``admin_key`` is an account that can pay for gas on this chain (a genesis
    allocation); without one a new account is made, which works only where gas is free.
    The home is built beside its final place and renamed, so a failure leaves nothing.
    """
    home = Path(home)
    if home.exists() and any(home.iterdir()):
        raise NetworkError(f"{home} 已存在且非空：请换一个目录")
    tmp = home.with_name(f".{home.name}.creating-{secrets.token_hex(4)}")
    try:
        passphrase = _passphrase(tmp, create=True)
        key = admin_key or secrets.token_bytes(32)
        _save_chain_key(tmp, key, passphrase)
        admin_sm2 = SM2PrivateKey.generate()
        write_secret(tmp / "keys" / "admin-sm2.pem", admin_sm2.to_pem(passphrase.encode()))
        w3 = connect(rpc_url)
        client = ChainClient.deploy(
            w3,
            key,
            key_fingerprint=admin_sm2.public_key.fingerprint(),
            unit_id=unit_chain_id("network-admin"),
        )
        desc = NetworkDescriptor(
            chain_id=client.chain_id,
            contract=client.address,
            rpc_url=rpc_url,
            admin_account=account_address(key),
            name=name,
            created_ms=int(time.time() * 1000),
        )
        (tmp / NETWORK_FILE).write_text(json.dumps(desc.to_json(), indent=2), "utf-8")
        if home.exists():
            home.rmdir()
        os.replace(tmp, home)
    except BaseException:
        _remove_tree(tmp)
        raise
    return desc


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class Admission:
    code: str
    account: str
    role: Role
    key_fingerprint: str
    tx_hash: str | None  # None: already a member with this key (a re-run)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "account": self.account,
            "role": self.role.name.lower(),
            "key_fingerprint": self.key_fingerprint,
            "tx_hash": self.tx_hash,
        }


def admin_client(home: Path) -> tuple[NetworkDescriptor, ChainClient, bytes]:
    desc = NetworkDescriptor.load(Path(home) / NETWORK_FILE)
    key = load_admin_key(Path(home))
    client = ChainClient(connect(desc.rpc_url), desc.contract, key)
    if client.chain_id != desc.chain_id:
        raise NetworkError(
            f"链的 chain id 是 {client.chain_id}，网络描述文件写的是 {desc.chain_id}"
        )
    return desc, client, key


def admit(home: Path, request: JoinRequest) -> list[Admission]:
    """Register the centre (archive centre, log key) and its units (unit, envelope key).

    Safe to run again: a party already registered with the same key is skipped; one
    registered with another key is refused.
    """
    desc, admin, admin_key = admin_client(home)
    if request.chain_id != desc.chain_id or request.contract.lower() != desc.contract.lower():
        raise NetworkError("该入网申请是为另一个网络（链或合约不同）生成的")
    parties = [
        (request.centre_code, request.centre_account, Role.ARCHIVE_CENTRE, request.log_public_key)
    ] + [(u.code, u.chain_account, Role.UNIT, u.public_key) for u in request.units]
    done = []
    for code, account, role, key in parties:
        fp = key.fingerprint()
        existing = admin.member(account)
        if existing is not None:
            if existing.key_fingerprint != fp or existing.role != role:
                raise MembershipError(
                    "member-key",
                    f"账户 {account}（{code}）已以另一密钥或角色登记，不能重复接纳",
                )
            done.append(Admission(code, account, role, fp.hex(), None))
            continue
        fund_account(admin._w3, admin_key, account)
        ref = admin.add_member(account, role, fp, unit_chain_id(code))
        done.append(Admission(code, account, role, fp.hex(), ref.tx_hash))
    return done


def suspend(home: Path, account: str) -> str:
    _, admin, _ = admin_client(home)
    return admin.suspend_member(_account(account)).tx_hash


def fund_account(w3: Web3, funder_key: bytes, account: str) -> None:
    """Gas for a new member's account, paid by the admin, where gas is not free."""
    price = w3.eth.gas_price
    if price == 0 or w3.eth.get_balance(Web3.to_checksum_address(account)) > 0:
        return
    tx: TxParams = {
        "to": Web3.to_checksum_address(account),
        "value": Wei(FUNDING_WEI),
        "gas": 21_000,
        "gasPrice": price,
        "nonce": w3.eth.get_transaction_count(account_address(funder_key), "pending"),
        "chainId": w3.eth.chain_id,
    }
    signed = w3.eth.account.sign_transaction(tx, funder_key)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))


# ---------------------------------------------------------------- the one trust check


def check_member(
    chain: ChainClient,
    *,
    account: str,
    role: Role,
    code: str,
    public_key: SM2PublicKey,
    what: str,
) -> Member:
    """The chain vouches that ``account`` is an active ``role`` member for unit ``code``
    holding ``public_key``; otherwise raise :class:`MembershipError` naming the check."""
    member = chain.member(account)
    if member is None:
        raise MembershipError("member-registered", f"{what}的账户 {account} 不是链上成员")
    if member.role != role:
        raise MembershipError(
            "member-role",
            f"{what}的账户 {account} 在链上的角色是 {member.role.name}，不是 {role.name}",
        )
    if not member.active:
        raise MembershipError("member-active", f"{what}的账户 {account} 在链上已被暂停")
    if member.unit_id != unit_chain_id(code):
        raise MembershipError("member-unit", f"{what}的账户 {account} 在链上登记的单位不是 {code}")
    if member.key_fingerprint != public_key.fingerprint():
        raise MembershipError(
            "member-key",
            f"{what}出示的公钥（指纹 {public_key.fingerprint().hex()[:16]}…）"
            f"不是链上为账户 {account} 登记的公钥（指纹 {member.key_fingerprint.hex()[:16]}…）",
        )
    return member


__all__ = [
    "JOIN_FORMAT",
    "NETWORK_FILE",
    "NETWORK_FORMAT",
    "Admission",
    "JoinRequest",
    "MembershipError",
    "NetworkDescriptor",
    "NetworkError",
    "UnitRequest",
    "admin_client",
    "admit",
    "check_member",
    "create_network",
    "fund_account",
    "load_admin_key",
    "suspend",
    "unit_chain_id",
]
