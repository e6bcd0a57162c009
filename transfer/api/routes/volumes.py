"""Volumes (卷): one cadre's archive, 正本 or 副本, held by a custodian unit.

A unit sees only the volumes it holds; anyone else's volume is "not found", so
that the API does not reveal which units hold whose archive.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from transfer.api.deps import DbSession, Notary, StateDep, WriteSession, require
from transfer.api.errors import TooManyRequests, problem_responses
from transfer.api.materials_view import list_volume_materials
from transfer.api.pagination import Paging, page_of
from transfer.api.routes import API_V1
from transfer.api.schemas import (
    MaterialOut,
    Page,
    VolumeCreate,
    VolumeLookup,
    VolumeNameSet,
    VolumeOut,
)
from transfer.cadre_names import blind_cadre_name, open_cadre_name, seal_cadre_name
from transfer.db.models import Alert, CustodyEvent, CustodyEventKind, Volume, VolumeKind
from transfer.db.types import utcnow
from transfer.roles import Permission
from transfer.security import Principal, blind_cadre_id
from transfer.services.access import held_volume
from transfer.services.custody import append_custody
from transfer.services.errors import Conflict
from transfer.services.problems_zh import field_problem
from transfer.services.provenance import Keys, volume_timeline

router = APIRouter(
    prefix=f"{API_V1}/volumes", tags=["volumes"], responses=problem_responses(401, 403, 422)
)

VolumeReader = Annotated[Principal, Depends(require(Permission.VOLUMES_READ))]
VolumeWriter = Annotated[Principal, Depends(require(Permission.VOLUMES_WRITE))]
MaterialReader = Annotated[Principal, Depends(require(Permission.MATERIALS_READ))]


def _blinded(secret: bytes, identifier: SecretStr) -> str:
    try:
        return blind_cadre_id(secret, identifier.get_secret_value())
    except ValueError:  # nothing left after normalising (only whitespace): a field error
        raise field_problem(
            [
                {
                    "loc": ["cadre_identifier"],
                    "msg": "Value error, 去掉空格后为空",
                    "type": "value_error",
                }
            ]
        ) from None


def volume_out(secret: bytes, volume: Volume) -> VolumeOut:
    """A volume as its custodian sees it: with the cadre's name opened. Every caller
    of this holds the volume (the routes below check), so no other unit learns a name."""
    out = VolumeOut.model_validate(volume)
    if volume.cadre_name_sealed is not None:
        out.cadre_name = open_cadre_name(secret, volume.id, volume.cadre_name_sealed)
    return out


def _set_name(secret: bytes, volume: Volume, name: str | None) -> None:
    volume.cadre_name_blind = None if name is None else blind_cadre_name(secret, name)
    volume.cadre_name_sealed = None if name is None else seal_cadre_name(secret, volume.id, name)


PROBE_ALERT = "cadre-main-volume-elsewhere"
MAIN_EXISTS = "该干部已有正本档案，不能再登记正本"
_PROBE_WINDOW = timedelta(hours=1)


def _check_probe_budget(db: Session, caller: Principal, per_hour: int) -> None:
    """429 for every main-volume registration by a key that was refused ``per_hour``
    times in the last hour for cadres another unit holds — whether or not this cadre
    has a 正本, so the limit tells nothing itself."""
    since = utcnow() - _PROBE_WINDOW
    rows = db.execute(
        select(Alert.created_at, Alert.detail).where(
            Alert.kind == PROBE_ALERT, Alert.created_at >= since
        )
    ).all()
    mine = sorted(at for at, detail in rows if detail.get("key") == str(caller.key_id))
    if len(mine) >= per_hour:
        oldest = mine[-per_hour]
        wait = max(1, math.ceil((oldest + _PROBE_WINDOW - utcnow()).total_seconds()))
        raise TooManyRequests(
            wait,
            "本密钥一小时内多次登记其他单位已有正本的干部，暂停登记正本："
            f"请 {wait} 秒后再试，或联系安全保密管理员",
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=VolumeOut,
    responses=problem_responses(409, 429),
    summary="Register a volume held by the caller's unit",
)
def create_volume(
    body: VolumeCreate, db: WriteSession, state: StateDep, caller: VolumeWriter
) -> VolumeOut:
    if body.kind is VolumeKind.MAIN:
        _check_probe_budget(db, caller, state.settings.main_volume_probes_per_hour)
    blinded = _blinded(state.blinding_secret, body.cadre_identifier)
    holder = (
        db.scalar(
            select(Volume.custodian_unit_id).where(
                Volume.cadre_blind_id == blinded, Volume.kind == VolumeKind.MAIN
            )
        )
        if body.kind is VolumeKind.MAIN
        else None
    )
    if holder is not None:
        # One 正本 per cadre in the deployment: the refusal necessarily tells that one
        # exists (SECURITY.md §7). It is the same answer whoever holds it (never where),
        # a refusal for a volume another unit holds is an alert for the security
        # administrator (probing a 身份证号 across units leaves a trace), and a key
        # gets only main_volume_probes_per_hour of those (_check_probe_budget).
        if holder != caller.unit_id:
            db.add(
                Alert(
                    kind=PROBE_ALERT,
                    detail={
                        "unit": caller.unit_code,
                        "key": str(caller.key_id),
                        "cadre_blind_id": blinded,
                    },
                )
            )
            db.commit()
        raise Conflict(MAIN_EXISTS)
    volume = Volume(
        id=uuid.uuid4(), cadre_blind_id=blinded, kind=body.kind, custodian_unit_id=caller.unit_id
    )
    _set_name(state.blinding_secret, volume, body.cadre_name)  # sealed with the volume's id
    db.add(volume)
    db.flush()
    # The first custody fact of the volume, committed with its log entry. Its on-chain
    # registration (tx_hash) belongs to the transfer workflow.
    row = CustodyEvent(
        volume_id=volume.id,
        kind=CustodyEventKind.REGISTERED,
        to_unit_id=caller.unit_id,
        detail={"kind": str(body.kind)},
        created_at=utcnow(),
    )
    append_custody(db, state.blinding_secret, row, {caller.unit_id: caller.unit_code}.__getitem__)
    db.commit()
    return volume_out(state.blinding_secret, volume)


@router.get("", response_model=Page[VolumeOut], summary="List the volumes the caller's unit holds")
def list_volumes(
    db: DbSession,
    state: StateDep,
    caller: VolumeReader,
    paging: Paging,
    kind: Annotated[VolumeKind | None, Query(description="Only 正本 or only 副本.")] = None,
) -> Page[VolumeOut]:
    query = select(Volume).where(Volume.custodian_unit_id == caller.unit_id)
    if kind is not None:
        query = query.where(Volume.kind == kind)
    rows = db.scalars(
        query.order_by(Volume.created_at, Volume.id).limit(paging.limit + 1).offset(paging.offset)
    ).all()
    return page_of([volume_out(state.blinding_secret, v) for v in rows], paging)


@router.post(
    "/lookup",
    response_model=list[VolumeOut],
    summary="Find the caller's volumes of one cadre, by identifier or by 姓名",
    description="Exactly one of `cadre_identifier` and `cadre_name`. A POST so that "
    "either travels in the body, never in a URL (URLs end up in access logs). Only "
    "the caller's unit's volumes are searched; a name may match several cadres.",
)
def lookup_volumes(
    body: VolumeLookup, db: DbSession, state: StateDep, caller: VolumeReader
) -> list[VolumeOut]:
    secret = state.blinding_secret
    if body.cadre_identifier is not None:
        match = Volume.cadre_blind_id == _blinded(secret, body.cadre_identifier)
    else:
        assert body.cadre_name is not None  # VolumeLookup: exactly one is given
        match = Volume.cadre_name_blind == blind_cadre_name(secret, body.cadre_name)
    rows = db.scalars(
        select(Volume)
        .where(match, Volume.custodian_unit_id == caller.unit_id)
        .order_by(Volume.kind, Volume.created_at)
    )
    return [volume_out(secret, v) for v in rows]


@router.get(
    "/{volume_id}",
    response_model=VolumeOut,
    responses=problem_responses(404),
    summary="Get a volume",
)
def get_volume(
    volume_id: uuid.UUID, db: DbSession, state: StateDep, caller: VolumeReader
) -> VolumeOut:
    return volume_out(state.blinding_secret, held_volume(db, volume_id, caller.unit_id))


@router.put(
    "/{volume_id}/cadre-name",
    response_model=VolumeOut,
    responses=problem_responses(404),
    summary="Set, correct or remove the cadre's 姓名 of a volume the caller's unit holds",
    description="For volumes registered without a name, received by transfer (notices "
    "carry no names) or registered with a wrong one. `null` removes it.",
)
def set_cadre_name(
    volume_id: uuid.UUID,
    body: VolumeNameSet,
    db: WriteSession,
    state: StateDep,
    caller: VolumeWriter,
) -> VolumeOut:
    volume = held_volume(db, volume_id, caller.unit_id)
    _set_name(state.blinding_secret, volume, body.cadre_name)
    db.commit()
    return volume_out(state.blinding_secret, volume)


@router.get(
    "/{volume_id}/materials",
    response_model=list[MaterialOut],
    responses=problem_responses(404),
    summary="A volume's materials in archive order",
    description="Ordered by category (1 … 10), formation date, then 顺序号. Only current "
    "versions unless `all_versions=true`.",
)
def volume_materials(
    volume_id: uuid.UUID,
    db: DbSession,
    caller: MaterialReader,
    all_versions: bool = False,
) -> list[MaterialOut]:
    volume = held_volume(db, volume_id, caller.unit_id)
    return list_volume_materials(db, volume.id, all_versions=all_versions)


@router.get(
    "/{volume_id}/provenance",
    responses=problem_responses(404),
    summary="The volume's timeline: custody events, material versions and reads, with proofs",
)
def volume_provenance(
    volume_id: uuid.UUID, db: DbSession, state: StateDep, notary: Notary, caller: MaterialReader
) -> dict[str, Any]:
    volume = held_volume(db, volume_id, caller.unit_id)
    keys = Keys(state.blinding_secret, notary.log_public_key)
    return {"volume_id": str(volume.id), "items": volume_timeline(db, volume.id, keys)}
