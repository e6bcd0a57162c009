"""Signed acts: every body binds transfer, package and dispatch; forgery and replay are named."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notary.canonical import canonical_json
from notary.crypto import sm3
from tests._support.transfer_package import T0, Built, FakeChain, Parties, build
from transfer.workflow.acts import (
    ActKind,
    Reason,
    SignedAct,
    act_from_bytes,
    act_hash,
    parse_act,
    reasons_from_report,
    sign_dispatch,
    sign_receipt,
    sign_rejection,
    verify_act,
)
from transfer.workflow.bag_reader import open_bag
from transfer.workflow.errors import (
    ActError,
    ActFormatError,
    CrossTransferAct,
    ForgedSignature,
    ReplayedAct,
)
from transfer.workflow.results import Property, VerificationReport
from transfer.workflow.verify import verify_package


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, parties: Parties) -> Built:
    return build(tmp_path_factory.mktemp("acts"), parties)


@pytest.fixture(scope="module")
def report(built: Built, parties: Parties) -> VerificationReport:
    chain = FakeChain(list(built.evidence.values()), parties.log)
    return verify_package(
        open_bag(built.path), holder=parties.receiver, dispatch=built.dispatch,
        sender_key=parties.sender.public_key, chain=chain,
    )  # fmt: skip


@pytest.fixture(scope="module")
def receipt(built: Built, parties: Parties, report: VerificationReport) -> SignedAct:
    return sign_receipt(
        parties.receiver, dispatch=built.dispatch, report=report, now=T0 + timedelta(days=3)
    )


def _verify_receipt(act: SignedAct, built: Built, parties: Parties, **kw: Any) -> SignedAct:
    args: dict[str, Any] = {
        "kind": ActKind.RECEIPT, "signer_key": parties.receiver.public_key, "unit": "unit-b",
        "transfer_id": "tr-0001", "package_root": built.written.package_root,
        "dispatch_hash": act_hash(built.dispatch), "not_before": T0,
    }  # fmt: skip
    return verify_act(act, **(args | kw))


def test_dispatch_binds_notice_root_deadline(built: Built, parties: Parties) -> None:
    d = built.dispatch
    assert d.kind is ActKind.DISPATCH
    assert d.notice() == built.notice
    assert d.package_root == built.written.package_root
    assert set(d.body) >= {
        "notice",
        "package_root",
        "transfer_id",
        "deadline",
        "nonce",
        "signed_at",
    }
    verify_act(
        d, kind=ActKind.DISPATCH, signer_key=parties.sender.public_key, unit="unit-a",
        transfer_id="tr-0001", package_root=built.written.package_root,
    )  # fmt: skip


def test_receipt_round_trip_and_hash(receipt: SignedAct, built: Built, parties: Parties) -> None:
    parsed = act_from_bytes(receipt.to_bytes())
    assert parsed == receipt
    assert act_hash(parsed) == sm3(canonical_json(receipt.to_json()))
    assert parsed.accepted is True
    assert parsed.report() is not None
    _verify_receipt(parsed, built, parties)


def test_forged_wrong_key(receipt: SignedAct, built: Built, parties: Parties) -> None:
    forged = sign_receipt(parties.other, dispatch=built.dispatch, report=receipt.report(), now=T0)  # type: ignore[arg-type]
    with pytest.raises(ForgedSignature, match="not by unit unit-b's registered key"):
        _verify_receipt(forged, built, parties)


def test_forged_key_substitution(receipt: SignedAct, built: Built, parties: Parties) -> None:
    # The receiver's key is claimed, but another key signed.
    forged = sign_receipt(parties.other, dispatch=built.dispatch, report=receipt.report(), now=T0)  # type: ignore[arg-type]
    forged = replace(forged, signer_key=parties.receiver.public_key)
    with pytest.raises(ForgedSignature):
        _verify_receipt(forged, built, parties)


def test_forged_altered_body(receipt: SignedAct, built: Built, parties: Parties) -> None:
    body = copy.deepcopy(receipt.body)
    body["signed_at"] = "2025-03-05T00:00:00Z"
    with pytest.raises(ForgedSignature, match="does not verify"):
        _verify_receipt(replace(receipt, body=body), built, parties)


def test_signature_transplanted_onto_another_act(
    receipt: SignedAct, built: Built, parties: Parties
) -> None:
    other = sign_receipt(parties.receiver, dispatch=built.dispatch, report=receipt.report(), now=T0)  # type: ignore[arg-type]
    with pytest.raises(ForgedSignature):
        _verify_receipt(replace(other, signature=receipt.signature), built, parties)


def test_cross_transfer(receipt: SignedAct, built: Built, parties: Parties) -> None:
    with pytest.raises(CrossTransferAct, match="signed for transfer tr-0001, not tr-0002"):
        _verify_receipt(receipt, built, parties, transfer_id="tr-0002")


def test_replay_on_another_package_root(receipt: SignedAct, built: Built, parties: Parties) -> None:
    with pytest.raises(ReplayedAct, match="package root"):
        _verify_receipt(receipt, built, parties, package_root=b"\x01" * 32)


def test_replay_against_another_dispatch(
    receipt: SignedAct, built: Built, parties: Parties
) -> None:
    redispatch = sign_dispatch(
        parties.sender, notice=built.notice, package_root=built.written.package_root,
        deadline=T0 + timedelta(days=60), now=T0 + timedelta(days=10),
    )  # fmt: skip
    with pytest.raises(ReplayedAct, match="another dispatch"):
        _verify_receipt(receipt, built, parties, dispatch_hash=act_hash(redispatch))


def test_replay_nonce_and_window(receipt: SignedAct, built: Built, parties: Parties) -> None:
    with pytest.raises(ReplayedAct, match="nonce"):
        _verify_receipt(receipt, built, parties, nonce_seen=lambda n: n == receipt.nonce)
    with pytest.raises(ReplayedAct, match="before"):
        _verify_receipt(receipt, built, parties, not_before=T0 + timedelta(days=30))
    with pytest.raises(ReplayedAct, match="after"):
        _verify_receipt(receipt, built, parties, not_after=T0)


def test_kind_confusion(built: Built, parties: Parties) -> None:
    with pytest.raises(ActFormatError, match=r"presented as a transfer\.receipt"):
        _verify_receipt(built.dispatch, built, parties)


def test_rejection_names_material_and_property(
    built: Built, parties: Parties, report: VerificationReport
) -> None:
    reasons = [Reason("usability.opens", "PNG CRC mismatch", "m001", Property.USABILITY)]
    act = sign_rejection(
        parties.receiver, dispatch=built.dispatch, reasons=reasons, report=None, now=T0
    )
    parsed = parse_act(act.to_json())
    assert parsed.reasons() == reasons
    verify_act(
        parsed, kind=ActKind.REJECTION, signer_key=parties.receiver.public_key, unit="unit-b",
        transfer_id="tr-0001", package_root=built.written.package_root,
        dispatch_hash=act_hash(built.dispatch),
    )  # fmt: skip
    with pytest.raises(ActFormatError, match="at least one reason"):
        sign_rejection(parties.receiver, dispatch=built.dispatch, reasons=[], report=None, now=T0)
    assert reasons_from_report(report) == []


def test_receipt_claiming_acceptance_against_its_results_is_malformed(receipt: SignedAct) -> None:
    doc = copy.deepcopy(receipt.to_json())
    doc["body"]["results"]["materials"][0]["usability"] = "fail"
    with pytest.raises(ActFormatError, match="failures disagree"):
        parse_act(doc)
    doc = copy.deepcopy(receipt.to_json())
    doc["body"]["accepted"] = False
    with pytest.raises(ActFormatError, match="accepted is False"):
        parse_act(doc)


def test_dispatch_signed_by_receiver_unit_is_malformed(built: Built, parties: Parties) -> None:
    doc = copy.deepcopy(built.dispatch.to_json())
    doc["body"]["unit"] = "unit-b"
    with pytest.raises(ActFormatError, match="sending unit"):
        parse_act(doc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_acts_only_raise_typed_errors(receipt: SignedAct, data: st.DataObject) -> None:
    doc = copy.deepcopy(receipt.to_json())
    body = doc["body"]
    target = data.draw(st.sampled_from(["doc", "body", "results", "material"]))
    obj = {
        "doc": doc, "body": body, "results": body["results"],
        "material": body["results"]["materials"][0],
    }[target]  # fmt: skip
    key = data.draw(st.sampled_from(sorted(obj)) | st.text(max_size=6))
    obj[key] = data.draw(json_values)
    try:
        act = parse_act(doc)
        act.report()
    except ActError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=500))
def test_random_bytes_only_raise_act_format_error(raw: bytes) -> None:
    with pytest.raises(ActFormatError):
        act_from_bytes(raw)
