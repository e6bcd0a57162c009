"""Preparing a deployment home for the service (``notary init``) and console-side
administration (``notary unit add/list``, the demo's seeding).

The three administrator keys (admin, security, audit) exist only here: the API issues
operator keys alone (docs/service.md, 三员分立).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from notary.crypto import SM2PublicKey
from notary.deployment import DESCRIPTOR, DeploymentError, init_deployment
from notary.network import NetworkDescriptor, UnitRequest
from transfer.db.migrate import upgrade
from transfer.db.models import Unit, UnitKind
from transfer.db.session import make_engine, write_sessionmaker
from transfer.fields import UnitCode, UnitName
from transfer.roles import Role
from transfer.security import blinding_secret, issue_api_key
from transfer.services.access_log import console_user, record_access
from transfer.services.private_home import private_umask
from transfer.services.transfer_units import give_chain_account, write_join_request
from transfer.settings import Settings

_UNIT_CODE: TypeAdapter[str] = TypeAdapter(UnitCode)
_UNIT_NAME: TypeAdapter[str] = TypeAdapter(UnitName)

SERVICE_FILE = "service.json"
# What `notary init` records for `notary serve` (environment variables still win).
_PERSISTED = ("database_url", "store", "replicas", "replica_acks")


def settings_for(home: Path, **overrides: Any) -> Settings:
    """Settings of the deployment at ``home``: NOTARY_* variables, then what init
    recorded in home/service.json, then the defaults."""
    stored: dict[str, Any] = {}
    path = home / SERVICE_FILE
    if path.exists():
        stored = json.loads(path.read_text("utf-8"))
    values = {
        k: v
        for k, v in stored.items()
        if k in _PERSISTED and f"NOTARY_{k.upper()}" not in os.environ
    }
    return Settings(home=home, **{**values, **overrides})


@dataclass(frozen=True, slots=True)
class IssuedKey:
    unit: str
    role: Role
    key: str


def is_initialised(home: Path) -> bool:
    return (home / DESCRIPTOR).exists()


@dataclass(frozen=True, slots=True)
class InitResult:
    keys: list[IssuedKey]
    # Joining a network: the request the network admin must admit before serving.
    join_request: Path | None
    centre_account: str
    unit_account: str


def init_home(
    home: Path,
    *,
    origin: str,
    centre_code: str,
    centre_name: str,
    chain: str = "embedded",
    store: str = "local",
    database_url: str = "",
    network: NetworkDescriptor | None = None,
) -> InitResult:
    """Create deployment, blinding secret and database; return the administrator keys
    (shown once: only their hashes are stored). Everything is private to the owner
    (transfer/services/private_home.py).

    With ``network`` the centre joins that network's contract over its JSON-RPC and
    a join request is written for the network admin. The home is built beside its
    final place and renamed into it at the end: a failure leaves no half-made home
    (a database outside the home keeps at most an empty, migrated schema)."""
    try:
        centre_code, centre_name = checked_unit_fields(centre_code, centre_name)
    except ValueError as e:  # before anything is created
        raise DeploymentError(str(e)) from None
    home = Path(home)
    if home.exists() and any(home.iterdir()):
        raise ValueError(f"{home} 已存在且非空，不是部署目录：请换一个目录")
    tmp = home.with_name(f".{home.name}.creating-{secrets.token_hex(4)}")
    with private_umask():
        try:
            result = _init_in(
                tmp, origin, centre_code, centre_name, chain, store, database_url, network
            )
            if home.exists():
                home.rmdir()
            os.replace(tmp, home)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if result.join_request is not None:
        result = replace(result, join_request=home / result.join_request.relative_to(tmp))
    return result


def _init_in(
    tmp: Path,
    origin: str,
    centre_code: str,
    centre_name: str,
    chain: str,
    store: str,
    database_url: str,
    network: NetworkDescriptor | None,
) -> InitResult:
    tmp.mkdir(parents=True, mode=0o700)
    (tmp / SERVICE_FILE).write_text(
        json.dumps({"store": store, "database_url": database_url}, indent=2), "utf-8"
    )
    settings = settings_for(tmp)
    engine = make_engine(settings.database_url_resolved)
    try:
        upgrade(engine)
        with init_deployment(
            tmp,
            origin=origin,
            centre_code=centre_code,
            chain=chain if network is None else network.rpc_url,
            contract=None if network is None else network.contract,
            store=settings.store,
            joining=network is not None,
        ) as dep:
            centre_key = dep.create_unit_key(centre_code).raw.hex()
            blinding_secret(settings, create=True)
            with write_sessionmaker(engine)() as s:
                unit = add_unit(s, centre_code, centre_name, UnitKind.ARCHIVE_CENTRE, centre_key)
                account = give_chain_account(s, dep, unit, request=False)
                keys = [
                    IssuedKey(unit.code, role, issue_console_key(s, unit, role, "notary init"))
                    for role in (Role.ADMIN, Role.SECURITY, Role.AUDIT)
                ]
                request = None
                if network is not None:
                    unit_req = UnitRequest(
                        centre_code, centre_name, account.account, SM2PublicKey.from_hex(centre_key)
                    )
                    request = write_join_request(
                        dep, [unit_req], centre_name, tmp / "join-request.json"
                    )
                s.commit()
            centre_account = dep.descriptor.chain_account
    finally:
        engine.dispose()
    return InitResult(keys, request, centre_account, account.account)


def checked_unit_fields(code: str, name: str) -> tuple[str, str]:
    """``code`` and ``name`` by the rules the API applies (transfer/fields.py);
    otherwise a ValueError whose message tells people what to fix."""
    try:
        code = _UNIT_CODE.validate_python(code)
    except ValidationError as e:
        raise ValueError(f"单位代码 {code!r} 无效：{e.errors()[0]['msg']}") from None
    try:
        name = _UNIT_NAME.validate_python(name)
    except ValidationError as e:
        raise ValueError(f"单位名称 {name!r} 无效：{e.errors()[0]['msg']}") from None
    return code, name


def add_unit(
    session: Session, code: str, name: str, kind: UnitKind, public_key_hex: str | None
) -> Unit:
    code, name = checked_unit_fields(code, name)
    if session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        raise ValueError(f"单位 {code} 已存在")
    fingerprint = (
        SM2PublicKey.from_hex(public_key_hex).fingerprint().hex() if public_key_hex else None
    )
    unit = Unit(
        code=code, name=name, kind=kind, public_key_hex=public_key_hex, key_fingerprint=fingerprint
    )
    session.add(unit)
    session.flush()
    # A server console change (三员分立): in the access log like an API one.
    record_access(session, "unit.create", unit, None, console=console_user())
    return unit


def issue_console_key(session: Session, unit: Unit, role: Role, label: str) -> str:
    """A key issued at the server console (works at once), logged as such; its text."""
    key, text = issue_api_key(session, unit, role, label)
    record_access(session, "key.issue", unit, None, key, console=console_user())
    return text


def list_units(engine: Engine) -> list[Unit]:
    with Session(engine) as s:
        return list(s.scalars(select(Unit).order_by(Unit.code)))
