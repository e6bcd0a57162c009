"""经办人 on acts: an optional ``handler`` field, signed with the body; acts signed
before the field existed parse, verify and re-serialise byte for byte."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest

from notary.crypto import SM2PublicKey, sm3
from tests._support.transfer_package import T0, Built, Parties, build
from transfer.workflow.acts import (
    ActKind,
    Reason,
    act_from_bytes,
    act_hash,
    parse_act,
    sign_dispatch,
    sign_rejection,
    verify_act,
)
from transfer.workflow.errors import ActFormatError, ForgedSignature

VECTORS = Path(__file__).parent / "vectors"
KEYS = json.loads((VECTORS / "act-v1-keys.json").read_text())


@pytest.mark.parametrize("name", ["dispatch", "receipt", "rejection"])
def test_acts_signed_before_the_field_still_verify_byte_for_byte(name: str) -> None:
    raw = (VECTORS / f"act-v1-{name}.json").read_bytes()
    act = act_from_bytes(raw)
    assert act.to_bytes() == raw
    assert act_hash(act).hex() == KEYS["hashes"][name] == sm3(raw).hex()
    assert act.handler is None and "handler" not in act.body
    signer = KEYS["sender_key" if name == "dispatch" else "receiver_key"]
    verify_act(
        act, kind=ActKind(f"transfer.{name}"), signer_key=SM2PublicKey(bytes.fromhex(signer)),
        unit=act.unit, transfer_id=act.transfer_id, package_root=act.package_root,
    )  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, parties: Parties) -> Built:
    return build(tmp_path_factory.mktemp("handler"), parties)


def test_an_act_without_a_handler_is_the_act_of_before(built: Built, parties: Parties) -> None:
    kw = {"notice": built.notice, "package_root": built.written.package_root,
          "deadline": T0 + timedelta(days=60), "now": T0, "nonce": "0" * 32}  # fmt: skip
    assert "handler" not in sign_dispatch(parties.sender, **kw).body  # type: ignore[arg-type]
    named = sign_dispatch(parties.sender, handler="张三", **kw)  # type: ignore[arg-type]
    assert named.body["handler"] == "张三" and named.handler == "张三"


def test_the_handler_is_signed_with_the_body(built: Built, parties: Parties) -> None:
    act = sign_rejection(
        parties.receiver, dispatch=built.dispatch, reasons=[Reason("x", "页数不符")],
        report=None, now=T0 + timedelta(days=1), handler="李四",
    )  # fmt: skip
    parsed = act_from_bytes(act.to_bytes())
    assert parsed.handler == "李四"
    args = {"kind": ActKind.REJECTION, "signer_key": parties.receiver.public_key,
            "unit": "unit-b", "transfer_id": "tr-0001",
            "package_root": built.written.package_root}  # fmt: skip
    verify_act(parsed, **args)  # type: ignore[arg-type]
    for change in ({"handler": "王五"}, {"handler": None}):
        doc = copy.deepcopy(act.to_json())
        doc["body"].update(change)
        if change["handler"] is None:
            del doc["body"]["handler"]
        with pytest.raises(ForgedSignature):
            verify_act(parse_act(doc), **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", " 张三", "张\n三", "x" * 201, 7])
def test_a_handler_must_be_one_trimmed_line(built: Built, bad: object) -> None:
    doc = copy.deepcopy(built.dispatch.to_json())
    doc["body"]["handler"] = bad
    with pytest.raises(ActFormatError):
        parse_act(doc)
