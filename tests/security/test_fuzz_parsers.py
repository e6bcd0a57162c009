"""Property-based fuzzing of the evidence-receipt and checkpoint parsers.

Whatever a receipt or checkpoint document is turned into — any field replaced by any
JSON value, deleted, added, a character of a string or a bit of a number changed —
parsing and offline verification either succeed or raise a
:class:`notary.errors.VerificationError` subclass naming the failed check. Never
another exception: a verifier that crashes on hostile input is a verifier an attacker
can switch off. (The bag and tar parsers are fuzzed in tests/transfer/workflow:
``test_mutated_tars_only_raise_typed_errors``, ``test_random_bytes_only_raise_typed_errors``,
``test_mutated_acts_only_raise_typed_errors``.)
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notary.checkpoint import parse_signed_checkpoint, sign_checkpoint
from notary.crypto import SM2PrivateKey, sm3
from notary.entries import encode_entry, material_registered
from notary.errors import VerificationError
from notary.log import MerkleLog
from notary.receipts import AnchorRef, build_receipt, parse_receipt, verify_offline

LOG_KEY = SM2PrivateKey.generate()
SM3_HEX = sm3(b"material").hex()


def _valid_receipt() -> dict[str, Any]:
    log = MerkleLog()
    entries = [
        material_registered(
            material_id=f"m{i}",
            sm3_hex=sm3(f"material {i}".encode()).hex(),
            cid="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
            size=10 + i,
            category="1",
            volume="ab" * 32,
            unit="U1",
            version=1,
            time_ms=1_763_798_401_000,
        )
        for i in range(5)
    ]
    entries[2]["sm3"] = SM3_HEX
    for e in entries:
        log.append(encode_entry(e))
    cp = sign_checkpoint(LOG_KEY, "fuzz/log", log.size, log.root(), 1_763_798_405_000)
    anchor = AnchorRef(20260001, "0x" + "ab" * 20, "0x" + "cd" * 32, 17)
    receipt = build_receipt(entries[2], 2, log.inclusion_proof(2), cp, LOG_KEY.public_key, anchor)
    return receipt.to_json()


VALID = _valid_receipt()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(VALID)


def _mutate_scalar(value: Any, data: st.DataObject) -> Any:
    if isinstance(value, bool) or value is None:
        return data.draw(json_values)
    if isinstance(value, int):
        return value ^ (1 << data.draw(st.integers(0, 70)))
    if isinstance(value, str) and value:
        i = data.draw(st.integers(0, len(value) - 1))
        return value[:i] + data.draw(st.characters()) + value[i + 1 :]
    return data.draw(json_values)


@st.composite
def mutated_receipts(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        if not path:
            return draw(json_values) if draw(st.booleans()) else doc
        parent: Any = doc
        try:
            for p in path[:-1]:
                parent = parent[p]
            last = path[-1]
            current = parent[last]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
        action = draw(st.sampled_from(["replace", "tweak", "delete", "add"]))
        if action == "replace":
            parent[last] = draw(json_values)
        elif action == "tweak":
            parent[last] = _mutate_scalar(current, draw(st.data()))
        elif action == "delete":
            del parent[last]
        elif isinstance(current, dict):
            current[draw(st.text(max_size=10))] = draw(json_values)
        elif isinstance(current, list):
            current.append(draw(json_values))
    return doc


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_unmutated_receipt_verifies() -> None:
    result = verify_offline(
        parse_receipt(VALID),
        material_sm3=bytes.fromhex(SM3_HEX),
        trusted_log_keys=[LOG_KEY.public_key],
    )
    assert result.leaf_index == 2


@FUZZ
@given(doc=mutated_receipts(), pin=st.booleans())
def test_mutated_receipts_raise_only_verification_errors(doc: Any, pin: bool) -> None:
    try:
        receipt = parse_receipt(doc)
        verify_offline(
            receipt,
            material_sm3=bytes.fromhex(SM3_HEX),
            trusted_log_keys=[LOG_KEY.public_key] if pin else None,
        )
    except VerificationError as e:
        assert e.check and str(e)
        return
    # What still verifies proves exactly the original statement (the signed checkpoint
    # and the inclusion bind entry, position and root).
    assert receipt.entry == VALID["entry"] and receipt.leaf_index == VALID["leaf_index"]
    assert receipt.checkpoint.to_json()["checkpoint"] == VALID["checkpoint"]["checkpoint"]


@FUZZ
@given(doc=json_values)
def test_arbitrary_json_is_never_a_receipt(doc: Any) -> None:
    try:
        parse_receipt(doc)
    except VerificationError:
        return
    raise AssertionError("random JSON parsed as a receipt")  # pragma: no cover


@st.composite
def mutated_checkpoints(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(VALID["checkpoint"])
    inner = doc["checkpoint"]
    field = draw(st.sampled_from([*inner, "signature", "extra"]))
    if field == "signature":
        doc["signature"] = _mutate_scalar(doc["signature"], draw(st.data()))
    elif field == "extra":
        inner[draw(st.text(max_size=8))] = draw(json_values)
    elif draw(st.booleans()):
        inner[field] = _mutate_scalar(inner[field], draw(st.data()))
    else:
        inner[field] = draw(json_values)
    return doc


@FUZZ
@given(doc=mutated_checkpoints())
def test_mutated_checkpoints_raise_only_verification_errors(doc: Any) -> None:
    try:
        parse_signed_checkpoint(doc).verify(LOG_KEY.public_key)
    except VerificationError as e:
        assert e.check
        return
    assert doc == VALID["checkpoint"]  # only a no-op mutation still verifies
